//! A blocking 9P client over TCP, in either dialect: enough to list, read,
//! write, make and remove files by path, which is what `u9p` and the
//! interop tests need.

use super::read_frame;
use crate::codec::{decode, dirents, encode};
use crate::error::Error;
use crate::msg::*;
use std::io::Write;
use std::net::TcpStream;
use std::string::{String, ToString};
use std::vec::Vec;
use std::{fmt, format, io};

#[derive(Debug)]
pub enum ClientError {
    Io(io::Error),
    /// The server answered with an error.
    Server(String),
    /// The server answered with something that is not the reply.
    Protocol(String),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Io(e) => write!(f, "{e}"),
            ClientError::Server(e) => write!(f, "server: {e}"),
            ClientError::Protocol(e) => write!(f, "protocol: {e}"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<io::Error> for ClientError {
    fn from(e: io::Error) -> Self {
        ClientError::Io(e)
    }
}

pub struct Client {
    stream: TcpStream,
    dialect: Dialect,
    msize: u32,
    root: u32,
    next_fid: u32,
    out: Vec<u8>,
    reply: Vec<u8>,
}

/// Owned parts of a reply the caller needs.
enum Answer {
    Qids(usize),
    Data(Vec<u8>),
    Count(u32),
    Done,
}

impl Client {
    /// Connects, negotiates `dialect` and `msize`, attaches to `aname` as
    /// `uname` (with `n_uname` for 9P2000.L).
    pub fn connect(addr: &str, dialect: Dialect, msize: u32, uname: &str, aname: &str) -> Result<Client, ClientError> {
        let stream = TcpStream::connect(addr)?;
        let mut c = Client {
            stream,
            dialect,
            msize,
            root: 0,
            next_fid: 1,
            out: std::vec![0; msize as usize],
            reply: Vec::new(),
        };
        let version = dialect.version();
        let agreed = match c.rpc_frame(NOTAG, Msg::Tversion { msize, version })? {
            (Msg::Rversion { msize: m, version: v }, _) if v == version => m.min(msize),
            (other, _) => return Err(ClientError::Protocol(format!("version refused: {other:?}"))),
        };
        c.msize = agreed;
        let n_uname = (dialect == Dialect::L).then_some(0);
        c.call(Msg::Tattach { fid: 0, afid: NOFID, uname, aname, n_uname })?;
        Ok(c)
    }

    pub fn msize(&self) -> u32 {
        self.msize
    }

    /// Sends one request and waits for its reply.
    fn rpc_frame(&mut self, tag: u16, msg: Msg) -> Result<(Msg<'_>, usize), ClientError> {
        let n = encode(&Frame { tag, msg }, &mut self.out).map_err(|e| ClientError::Protocol(format!("{e:?}")))?;
        self.stream.write_all(&self.out[..n])?;
        read_frame(&mut self.stream, &mut self.reply, self.msize.max(8192))?;
        let frame = decode(&self.reply, self.dialect).map_err(|e| ClientError::Protocol(format!("{e:?}")))?;
        if frame.tag != tag {
            return Err(ClientError::Protocol(format!("reply tag {} for request tag {tag}", frame.tag)));
        }
        match frame.msg {
            Msg::Rerror { ename } => Err(ClientError::Server(ename.to_string())),
            Msg::Rlerror { ecode } => Err(ClientError::Server(Error::from_errno(ecode).message().to_string())),
            m => Ok((m, n)),
        }
    }

    fn call(&mut self, msg: Msg) -> Result<Answer, ClientError> {
        let (reply, _) = self.rpc_frame(1, msg)?;
        Ok(match reply {
            Msg::Rwalk { wqids } => Answer::Qids(wqids.len()),
            Msg::Rread { data } | Msg::Rreaddir { data } => Answer::Data(data.to_vec()),
            Msg::Rwrite { count } => Answer::Count(count),
            _ => Answer::Done,
        })
    }

    fn fid(&mut self) -> u32 {
        self.next_fid += 1;
        self.next_fid
    }

    /// A new fid for `path` (relative to the attach point, `/`-separated).
    pub fn walk(&mut self, path: &str) -> Result<u32, ClientError> {
        let names: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        let fid = self.fid();
        let mut from = self.root;
        // At most MAXWELEM names per Twalk.
        for (i, chunk) in names.chunks(MAXWELEM).enumerate() {
            let wnames = chunk.iter().copied().collect();
            let n = match self.call(Msg::Twalk { fid: from, newfid: fid, wnames })? {
                Answer::Qids(n) => n,
                _ => 0,
            };
            if n != chunk.len() {
                if i > 0 {
                    let _ = self.clunk(fid);
                }
                return Err(ClientError::Server(format!("{path}: {}", Error::NotFound)));
            }
            from = fid;
        }
        if names.is_empty() {
            self.call(Msg::Twalk { fid: self.root, newfid: fid, wnames: heapless::Vec::new() })?;
        }
        Ok(fid)
    }

    pub fn clunk(&mut self, fid: u32) -> Result<(), ClientError> {
        self.call(Msg::Tclunk { fid }).map(drop)
    }

    fn open(&mut self, fid: u32, write: bool, truncate: bool) -> Result<(), ClientError> {
        match self.dialect {
            Dialect::P2000 => self.call(Msg::Topen { fid, mode: u8::from(write) | if truncate { 0x10 } else { 0 } }),
            Dialect::L => self.call(Msg::Tlopen { fid, flags: u32::from(write) | if truncate { 0o1000 } else { 0 } }),
        }
        .map(drop)
    }

    fn read_fid(&mut self, fid: u32, offset: u64) -> Result<Vec<u8>, ClientError> {
        let count = self.msize - 24;
        match self.call(Msg::Tread { fid, offset, count })? {
            Answer::Data(d) => Ok(d),
            _ => Err(ClientError::Protocol("no data in Rread".into())),
        }
    }

    /// The whole contents of the file at `path`.
    pub fn read_file(&mut self, path: &str) -> Result<Vec<u8>, ClientError> {
        let fid = self.walk(path)?;
        let result = (|| {
            self.open(fid, false, false)?;
            let mut all = Vec::new();
            loop {
                let chunk = self.read_fid(fid, all.len() as u64)?;
                if chunk.is_empty() {
                    return Ok(all);
                }
                all.extend_from_slice(&chunk);
            }
        })();
        let _ = self.clunk(fid);
        result
    }

    /// Creates (or truncates) the file at `path` and writes `data` to it.
    pub fn write_file(&mut self, path: &str, data: &[u8]) -> Result<(), ClientError> {
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        let fid = match self.walk(path) {
            Ok(fid) => {
                self.open(fid, true, true)?;
                fid
            }
            Err(ClientError::Server(_)) => {
                let fid = self.walk(dir)?;
                match self.dialect {
                    Dialect::P2000 => self.call(Msg::Tcreate { fid, name, perm: 0o644, mode: 1 })?,
                    Dialect::L => self.call(Msg::Tlcreate { fid, name, flags: 1, mode: 0o644, gid: 0 })?,
                };
                fid
            }
            Err(e) => return Err(e),
        };
        let result = (|| {
            let step = (self.msize - 24) as usize;
            for (i, chunk) in data.chunks(step).enumerate() {
                let offset = (i * step) as u64;
                match self.call(Msg::Twrite { fid, offset, data: chunk })? {
                    Answer::Count(n) if n as usize == chunk.len() => {}
                    _ => return Err(ClientError::Protocol("short write".into())),
                }
            }
            Ok(())
        })();
        let _ = self.clunk(fid);
        result
    }

    /// The names in the directory at `path` (without `.` and `..`).
    pub fn list(&mut self, path: &str) -> Result<Vec<String>, ClientError> {
        let fid = self.walk(path)?;
        let result = (|| {
            self.open(fid, false, false)?;
            let mut names = Vec::new();
            match self.dialect {
                Dialect::L => {
                    let mut offset = 0;
                    loop {
                        let count = self.msize - 24;
                        let Answer::Data(data) = self.call(Msg::Treaddir { fid, offset, count })? else {
                            return Err(ClientError::Protocol("no data in Rreaddir".into()));
                        };
                        if data.is_empty() {
                            break;
                        }
                        for d in dirents(&data) {
                            let d = d.map_err(|e| ClientError::Protocol(format!("{e:?}")))?;
                            offset = d.offset;
                            if d.name != "." && d.name != ".." {
                                names.push(d.name.to_string());
                            }
                        }
                    }
                }
                Dialect::P2000 => {
                    let mut offset = 0;
                    loop {
                        let data = self.read_fid(fid, offset)?;
                        if data.is_empty() {
                            break;
                        }
                        offset += data.len() as u64;
                        let mut at = 0;
                        while at + 2 <= data.len() {
                            let size = u16::from_le_bytes([data[at], data[at + 1]]) as usize;
                            // A stat: name follows the fixed 41 bytes after size.
                            let entry = data
                                .get(at + 2..at + 2 + size)
                                .ok_or_else(|| ClientError::Protocol("stat runs past the read".into()))?;
                            let name_len = u16::from_le_bytes([entry[39], entry[40]]) as usize;
                            let name = entry
                                .get(41..41 + name_len)
                                .ok_or_else(|| ClientError::Protocol("stat name runs past the stat".into()))?;
                            names.push(String::from_utf8_lossy(name).into_owned());
                            at += 2 + size;
                        }
                    }
                }
            }
            Ok(names)
        })();
        let _ = self.clunk(fid);
        result
    }

    pub fn mkdir(&mut self, path: &str) -> Result<(), ClientError> {
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        let fid = self.walk(dir)?;
        let result = match self.dialect {
            Dialect::L => self.call(Msg::Tmkdir { dfid: fid, name, mode: 0o755, gid: 0 }).map(drop),
            Dialect::P2000 => {
                self.call(Msg::Tcreate { fid, name, perm: crate::server::DMDIR | 0o755, mode: 0 }).map(drop)
            }
        };
        let _ = self.clunk(fid);
        result
    }

    pub fn remove(&mut self, path: &str) -> Result<(), ClientError> {
        let fid = self.walk(path)?;
        // Tremove clunks the fid whatever happens.
        self.call(Msg::Tremove { fid }).map(drop)
    }
}

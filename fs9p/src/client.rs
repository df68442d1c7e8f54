//! The 9P client, generic over a [`Transport`] (a byte stream): version
//! and attach, fid allocation, requests and their replies matched by tag,
//! walks of whole paths, and the file operations on top. Defined once for
//! every client: the host's (`host::Client`, over TCP) and the OS's
//! `mount9p` (over the `/net` files). It never touches a transport beyond
//! `send` and `recv`.
//!
//! One request is outstanding at a time, except reads sent ahead
//! ([`Client::read_ahead`]): up to [`AHEAD_MAX`] Treads wait on the wire
//! while the caller works, and the `read` that asks for exactly one of
//! them takes its reply; any other call first takes their replies off the
//! stream (keeping the data, in whatever order the server answers them);
//! clunks sent without waiting ([`Client::clunk_later`]), whose answers
//! a later call takes off the stream; and, on a server known to take
//! walks and opens in order ([`Client::set_ordered`]), an open's walk
//! and open. A transport failure, a reply
//! that does not decode or does not answer the request leaves the client
//! **broken**: every later call fails at once with [`ClientError::Lost`],
//! so a dead connection gives errors, never a hang.

use crate::codec::{decode, dirents, encode, frame_len, stats};
use crate::error::Error;
use crate::msg::*;
use crate::server::DMDIR;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

/// A byte stream to a server.
pub trait Transport {
    type Error;
    /// Sends all of `bytes`.
    fn send(&mut self, bytes: &[u8]) -> core::result::Result<(), Self::Error>;
    /// Receives what is there (at least a byte, waiting for it), at most
    /// `buf.len()`; 0 when the stream has ended.
    fn recv(&mut self, buf: &mut [u8]) -> core::result::Result<usize, Self::Error>;
}

/// Entries `list` takes from one directory at most.
pub const MAX_LIST: usize = 1 << 16;

#[derive(Debug)]
pub enum ClientError<E> {
    /// The transport failed (this call broke the connection).
    Transport(E),
    /// The server answered with an error.
    Server(Error),
    /// The server broke the protocol (this call broke the connection).
    Protocol(&'static str),
    /// The connection broke earlier.
    Lost,
}

impl<E: core::fmt::Display> core::fmt::Display for ClientError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ClientError::Transport(e) => write!(f, "{e}"),
            ClientError::Server(e) => write!(f, "server: {e}"),
            ClientError::Protocol(e) => write!(f, "protocol: {e}"),
            ClientError::Lost => f.write_str("connection lost"),
        }
    }
}

pub type Result<T, E> = core::result::Result<T, ClientError<E>>;

/// What a file's metadata says, in either dialect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Info {
    /// Empty from 9P2000.L's Rgetattr (it carries no name).
    pub name: String,
    pub is_dir: bool,
    pub size: u64,
    pub version: u32,
    /// What 9P2000.L's Rgetattr says besides (mode, owners, times); none
    /// from a 9P2000 stat, whose owners are names.
    pub attr: Option<Attr>,
}

/// A directory entry; `size` is known in 9P2000 only (its directory reads
/// are whole stats).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub is_dir: bool,
    pub size: Option<u64>,
}

/// Where a directory read goes on (an entry cookie in 9P2000.L, a byte
/// offset in 9P2000); start at 0.
pub type DirCursor = u64;

/// The owned part of a reply a caller uses.
enum Reply {
    Qids(usize),
    /// Ropen, Rlopen, Rcreate, Rlcreate: the file's qid path.
    Opened(u64),
    Data(usize),
    Count(u32),
    Info(Info),
    Done,
}

/// Bytes of Tread/Twrite/Rread headers around the data (size, type, tag,
/// fid, offset, count).
pub const IO_HEADER: u32 = 24;

/// Reads sent ahead at most.
pub const AHEAD_MAX: usize = 2;

/// Clunks a client leaves unanswered at most ([`Client::clunk_later`]).
pub const CLUNKING_MAX: usize = 8;

/// A Tread sent before its data is wanted.
struct Ahead {
    tag: u16,
    fid: u32,
    offset: u64,
    count: u32,
    /// Its answer, once taken off the stream to let a later reply through.
    answer: Option<core::result::Result<Vec<u8>, Error>>,
}

/// The tags and fids a client gives out. Clients that share one
/// connection (one per thread, the replies handed to each by tag) each
/// take their own share, so that no two ever use the same tag, nor make
/// the same new fid; a fid once made is the connection's, and any of them
/// may use or clunk it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ids {
    pub tags: core::ops::Range<u16>,
    /// New fids (fid 0 is the root every share walks from).
    pub fids: core::ops::Range<u32>,
}

impl Ids {
    /// Every tag and fid: a client that has the connection to itself.
    pub const ALL: Ids = Ids { tags: 0..NOTAG, fids: 1..NOFID };

    /// Share `k` of `n` equal ones.
    pub fn share(k: u16, n: u16) -> Ids {
        assert!(k < n, "share {k} of {n}");
        let tags = NOTAG / n;
        let fids = (NOFID - 1) / n as u32;
        Ids { tags: k * tags..(k + 1) * tags, fids: 1 + k as u32 * fids..1 + (k as u32 + 1) * fids }
    }

    /// Which of `n` shares `tag` is of.
    pub fn owner(tag: u16, n: u16) -> Option<u16> {
        let k = tag / (NOTAG / n);
        (k < n).then_some(k)
    }
}

/// How [`Client::open_path`] opens.
#[derive(Clone, Copy, Debug, Default)]
pub struct OpenHow {
    pub read: bool,
    pub write: bool,
    /// Empty it (with `write`).
    pub truncate: bool,
    /// Make it when it does not exist (then open for writing).
    pub create: bool,
    /// With `create`: an existing file is an error.
    pub exclusive: bool,
}

pub struct Client<T: Transport> {
    t: T,
    dialect: Dialect,
    msize: u32,
    root: u32,
    ids: Ids,
    /// The last fid made (fids made before are below it, in `ids.fids`).
    next_fid: u32,
    free_fids: Vec<u32>,
    tag: u16,
    out: Vec<u8>,
    /// Received bytes: a reply, and whatever came after it.
    inbuf: Vec<u8>,
    have: usize,
    /// Where the data of the last Rread/Rreaddir lies in `inbuf`.
    data_at: usize,
    /// Reads sent ahead, oldest first.
    ahead: VecDeque<Ahead>,
    /// Open fids and the file (qid path) each stands for: a write drops
    /// only what was read ahead of the file it changes.
    files: BTreeMap<u32, u64>,
    broken: bool,
    /// The server takes a connection's walks and opens in the order they
    /// came (see [`Client::set_ordered`]).
    ordered: bool,
    /// Clunks sent and not answered yet (tag, fid), oldest first: a fid
    /// is given out again only once its clunk is answered.
    clunking: VecDeque<(u16, u32)>,
}

impl<T: Transport> Client<T> {
    /// Negotiates `dialect` and at most `msize` over `t` and attaches to
    /// `aname` as `uname`.
    pub fn connect(t: T, dialect: Dialect, msize: u32, uname: &str, aname: &str) -> Result<Self, T::Error> {
        Self::connect_with(t, dialect, msize, uname, aname, Ids::ALL)
    }

    /// [`Client::connect`] with only the tags and fids of `ids`.
    pub fn connect_with(
        t: T,
        dialect: Dialect,
        msize: u32,
        uname: &str,
        aname: &str,
        ids: Ids,
    ) -> Result<Self, T::Error> {
        let mut c = Self::versioned(t, dialect, msize, ids)?;
        let n_uname = (dialect == Dialect::L).then_some(0);
        c.call(Msg::Tattach { fid: c.root, afid: NOFID, uname, aname, n_uname })?;
        Ok(c)
    }

    /// [`Client::connect_with`] to a server that asks for proof: `prove`
    /// answers the challenge the server gives on an auth fid (Tauth, then
    /// a read of the challenge and a write of the answer), and the attach
    /// names that fid.
    pub fn connect_proving(
        t: T,
        dialect: Dialect,
        msize: u32,
        uname: &str,
        aname: &str,
        ids: Ids,
        prove: impl FnOnce(&[u8]) -> Vec<u8>,
    ) -> Result<Self, T::Error> {
        let mut c = Self::versioned(t, dialect, msize, ids)?;
        let n_uname = (dialect == Dialect::L).then_some(0);
        let afid = c.new_fid();
        c.call(Msg::Tauth { afid, uname, aname, n_uname })?;
        let mut challenge = vec![0u8; 256];
        let n = c.read(afid, 0, &mut challenge)?;
        let answer = prove(&challenge[..n]);
        c.write(afid, 0, &answer)?;
        let attached = c.call(Msg::Tattach { fid: c.root, afid, uname, aname, n_uname });
        let _ = c.clunk(afid);
        attached?;
        Ok(c)
    }

    /// Negotiates `dialect` and at most `msize` over `t`: not attached.
    fn versioned(t: T, dialect: Dialect, msize: u32, ids: Ids) -> Result<Self, T::Error> {
        let msize = msize.max(256);
        let mut c = Self::attached(t, dialect, msize, ids);
        let version = dialect.version();
        c.send(NOTAG, &Msg::Tversion { msize, version })?;
        let (_, len) = c.receive(&[NOTAG])?;
        let agreed = match decode(&c.inbuf[..len], dialect) {
            Ok(Frame { msg: Msg::Rversion { msize: m, version: v }, .. }) if v == version && m >= 256 => {
                Ok(m.min(msize))
            }
            Ok(Frame { msg: Msg::Rversion { .. }, .. }) => Err(ClientError::Server(Error::NotSupported)),
            _ => Err(ClientError::Protocol("no Rversion")),
        };
        let agreed = agreed.inspect_err(|_| c.broken = true)?;
        c.consume(len);
        c.msize = agreed;
        Ok(c)
    }

    /// Another client of a connection a client of `ids`' sibling share
    /// connected and attached (version `dialect`, agreed `msize`).
    pub fn attached(t: T, dialect: Dialect, msize: u32, ids: Ids) -> Self {
        Client {
            t,
            dialect,
            msize,
            root: 0,
            next_fid: ids.fids.start - 1,
            tag: ids.tags.end - 1,
            ids,
            free_fids: Vec::new(),
            out: vec![0; msize as usize],
            inbuf: vec![0; msize as usize],
            have: 0,
            data_at: 0,
            ahead: VecDeque::new(),
            files: BTreeMap::new(),
            broken: false,
            ordered: false,
            clunking: VecDeque::new(),
        }
    }

    /// Tells the client that the server carries out this connection's
    /// requests on one fid in the order they came, as fs9p's does
    /// ([`crate::server::Session::handle_apart`] runs reads, writes and
    /// opens apart, and what names their fid after them waits for them).
    /// [`Client::open_path`] then sends the walk and the
    /// open together, one round trip instead of two. 9P promises no such
    /// order (a server may answer concurrently, as diod does), so it is
    /// for servers known to be ours.
    pub fn set_ordered(&mut self, ordered: bool) {
        self.ordered = ordered;
    }

    pub fn msize(&self) -> u32 {
        self.msize
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Data bytes one read or write carries at most.
    pub fn iounit(&self) -> u32 {
        self.msize - IO_HEADER
    }

    /// The transport underneath.
    pub fn transport(&self) -> &T {
        &self.t
    }

    /// The transport underneath (to look at or close it).
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.t
    }

    /// Whether the connection has broken (every call now fails).
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    fn broke(&mut self, why: &'static str) -> ClientError<T::Error> {
        self.broken = true;
        self.ahead.clear();
        self.clunking.clear();
        ClientError::Protocol(why)
    }

    fn send(&mut self, tag: u16, msg: &Msg) -> Result<(), T::Error> {
        if self.broken {
            return Err(ClientError::Lost);
        }
        let Ok(n) = encode(&Frame { tag, msg: msg.clone() }, &mut self.out) else {
            // Ours to get right (a name too long for the msize): not the
            // connection's fault.
            return Err(ClientError::Server(Error::NameTooLong));
        };
        self.t.send(&self.out[..n]).map_err(|e| {
            self.broken = true;
            ClientError::Transport(e)
        })
    }

    /// Reads until a whole reply to one of `tags` is first in `inbuf`: its
    /// tag and length. A server may answer reads sent ahead in any order:
    /// their replies are kept with them on the way.
    fn receive(&mut self, tags: &[u16]) -> Result<(u16, usize), T::Error> {
        if self.broken {
            return Err(ClientError::Lost);
        }
        loop {
            match frame_len(&self.inbuf[..self.have], self.msize) {
                Ok(Some(len)) if len <= self.have => {
                    let got = u16::from_le_bytes([self.inbuf[5], self.inbuf[6]]);
                    if len >= HEADER && tags.contains(&got) {
                        return Ok((got, len));
                    }
                    match self.ahead.iter().position(|a| a.tag == got && a.answer.is_none()) {
                        Some(i) if len >= HEADER => self.keep_ahead(i, len)?,
                        _ if len >= HEADER && self.clunking.iter().any(|c| c.0 == got) => self.clunked(got, len)?,
                        _ => return Err(self.broke("a reply that answers no request")),
                    }
                    continue;
                }
                Ok(_) => {}
                Err(_) => return Err(self.broke("a reply larger than the msize")),
            }
            let n = self.t.recv(&mut self.inbuf[self.have..]).map_err(|e| {
                self.broken = true;
                ClientError::Transport(e)
            })?;
            if n == 0 {
                self.broken = true;
                return Err(ClientError::Lost);
            }
            self.have += n;
        }
    }

    /// Keeps the reply of `len` bytes at the start of `inbuf` with the read
    /// sent ahead `i` it answers.
    fn keep_ahead(&mut self, i: usize, len: usize) -> Result<(), T::Error> {
        let answer = match decode(&self.inbuf[..len], self.dialect) {
            Ok(frame) => classify::<T::Error>(frame.msg, rread()),
            Err(_) => Err(ClientError::Protocol("a reply that does not decode")),
        };
        let answer = match answer {
            Ok(Reply::Data(n)) if n <= self.ahead[i].count as usize => Ok(self.inbuf[len - n..len].to_vec()),
            Ok(_) => return Err(self.broke("more data than asked")),
            Err(ClientError::Server(e)) => Err(e),
            Err(_) => return Err(self.broke("a reply that does not decode")),
        };
        self.ahead[i].answer = Some(answer);
        self.consume(len);
        Ok(())
    }

    /// Drops the first `len` received bytes (a reply that was used).
    fn consume(&mut self, len: usize) {
        self.inbuf.copy_within(len..self.have, 0);
        self.have -= len;
    }

    fn next_tag(&mut self) -> u16 {
        loop {
            self.tag = if self.tag + 1 >= self.ids.tags.end { self.ids.tags.start } else { self.tag + 1 };
            // (Not one whose clunk is still out.)
            if !self.clunking.iter().any(|c| c.0 == self.tag) {
                return self.tag;
            }
        }
    }

    /// Sends one request and waits for its reply.
    fn call(&mut self, msg: Msg) -> Result<Reply, T::Error> {
        self.settle()?;
        // What was read ahead may be stale after this.
        match stale_after(&msg) {
            Stale::Nothing => {}
            Stale::FileOf(fid) if self.files.contains_key(&fid) => {
                let Client { ahead, files, .. } = self;
                let file = files.get(&fid);
                ahead.retain(|a| files.get(&a.fid) != file);
            }
            Stale::FileOf(_) | Stale::Everything => self.ahead.clear(),
        }
        let tag = self.next_tag();
        self.send(tag, &msg)?;
        self.answer(tag, crate::codec::type_code(&msg) + 1)
    }

    /// Receives the reply `tag`, of type `expected`.
    fn answer(&mut self, tag: u16, expected: u8) -> Result<Reply, T::Error> {
        self.answer_any(&[(tag, expected)]).1
    }

    /// Receives the first reply to come of the requests `wanted` (tag, and
    /// the reply type expected): its tag and what it says.
    fn answer_any(&mut self, wanted: &[(u16, u8)]) -> (u16, Result<Reply, T::Error>) {
        let tags: Vec<u16> = wanted.iter().map(|w| w.0).collect();
        let (tag, len) = match self.receive(&tags) {
            Ok(got) => got,
            Err(e) => return (tags[0], Err(e)),
        };
        let expected = wanted.iter().find(|w| w.0 == tag).map_or(0, |w| w.1);
        let out = match decode(&self.inbuf[..len], self.dialect) {
            Ok(frame) => classify(frame.msg, expected),
            Err(_) => Err(ClientError::Protocol("a reply that does not decode")),
        };
        if let Ok(Reply::Data(n)) = out {
            // The data is the reply's tail: header and count before it.
            self.data_at = len - n;
        }
        if matches!(out, Err(ClientError::Protocol(_))) {
            self.broken = true;
        }
        // Read data stays until the caller has copied it (see `read`).
        if !matches!(out, Ok(Reply::Data(_))) {
            self.consume(len);
        }
        (tag, out)
    }

    /// A fid nobody uses. (A share holds hundreds of millions: a fid is
    /// made again only once clunked.)
    fn new_fid(&mut self) -> u32 {
        self.free_fids.pop().unwrap_or_else(|| {
            self.next_fid = (self.next_fid + 1).min(self.ids.fids.end - 1);
            self.next_fid
        })
    }

    /// Gives up request `oldtag` (of this client or a sibling sharing the
    /// connection): when this returns, its reply has come or never will.
    pub fn flush(&mut self, oldtag: u16) -> Result<(), T::Error> {
        self.call(Msg::Tflush { oldtag }).map(drop)
    }

    /// A new fid for `path` (relative to the attach point, `/`-separated;
    /// empty or `/` is the root).
    pub fn walk(&mut self, path: &str) -> Result<u32, T::Error> {
        let names: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        let fid = self.new_fid();
        let mut from = self.root;
        let mut first = true;
        // At most MAXWELEM names per Twalk; an empty walk clones the root.
        let chunks: Vec<&[&str]> = if names.is_empty() { vec![&[][..]] } else { names.chunks(MAXWELEM).collect() };
        for chunk in chunks {
            let wnames = chunk.iter().copied().collect();
            let r = self.call(Msg::Twalk { fid: from, newfid: fid, wnames });
            match r {
                Ok(Reply::Qids(n)) if n == chunk.len() => {}
                Ok(_) | Err(_) => {
                    // A short walk makes no newfid; a later chunk's failure
                    // leaves the fid of the earlier ones.
                    if !first {
                        let _ = self.clunk(fid);
                    } else {
                        self.free_fids.push(fid);
                    }
                    return match r {
                        Err(e) => Err(e),
                        Ok(_) => Err(ClientError::Server(Error::NotFound)),
                    };
                }
            }
            from = fid;
            first = false;
        }
        Ok(fid)
    }

    pub fn clunk(&mut self, fid: u32) -> Result<(), T::Error> {
        let r = self.call(Msg::Tclunk { fid });
        // Its number will be given out again: its reads ahead go with it.
        self.ahead.retain(|a| a.fid != fid);
        self.files.remove(&fid);
        // The fid is gone whatever the answer (intro(5)); a broken
        // connection has no fids at all.
        self.free_fids.push(fid);
        r.map(drop)
    }

    /// Clunks `fid` without waiting for the answer, which a later call
    /// takes off the stream; the fid is given out again only then. At most
    /// [`CLUNKING_MAX`] wait: one more first takes the oldest's answer.
    pub fn clunk_later(&mut self, fid: u32) -> Result<(), T::Error> {
        if self.clunking.len() >= CLUNKING_MAX {
            let (tag, _) = self.clunking[0];
            let (_, len) = self.receive(&[tag])?;
            self.clunked(tag, len)?;
        }
        self.ahead.retain(|a| a.fid != fid);
        self.files.remove(&fid);
        let tag = self.next_tag();
        self.send(tag, &Msg::Tclunk { fid })?;
        self.clunking.push_back((tag, fid));
        Ok(())
    }

    /// Takes the answer to the clunk `tag` (`len` bytes at the start of
    /// `inbuf`) off the stream: its fid is free, whatever the answer
    /// (intro(5)), but it must answer a clunk.
    fn clunked(&mut self, tag: u16, len: usize) -> Result<(), T::Error> {
        let answers_a_clunk = matches!(
            decode(&self.inbuf[..len], self.dialect),
            Ok(Frame { msg: Msg::Rclunk | Msg::Rerror { .. } | Msg::Rlerror { .. }, .. })
        );
        if !answers_a_clunk {
            return Err(self.broke("a clunk answered with another reply"));
        }
        self.consume(len);
        if let Some(i) = self.clunking.iter().position(|c| c.0 == tag) {
            let (_, fid) = self.clunking.remove(i).expect("found");
            self.free_fids.push(fid);
        }
        Ok(())
    }

    /// Opens `fid` as `mode` says.
    pub fn open(&mut self, fid: u32, mode: OpenMode) -> Result<(), T::Error> {
        let msg = match self.dialect {
            Dialect::P2000 => Msg::Topen { fid, mode: mode.p2000() },
            Dialect::L => Msg::Tlopen { fid, flags: mode.l() },
        };
        self.opened(fid, msg)
    }

    /// Sends an open or create of `fid`, and keeps which file it opened.
    fn opened(&mut self, fid: u32, msg: Msg) -> Result<(), T::Error> {
        if let Reply::Opened(file) = self.call(msg)? {
            self.files.insert(fid, file);
        }
        Ok(())
    }

    /// The file (qid path) the open `fid` stands for.
    pub fn file_of(&self, fid: u32) -> Option<u64> {
        self.files.get(&fid).copied()
    }

    /// Makes file `name` in the directory `fid` is; `fid` then stands for
    /// the new file, open for reading and writing.
    pub fn create(&mut self, fid: u32, name: &str) -> Result<(), T::Error> {
        let msg = match self.dialect {
            Dialect::P2000 => Msg::Tcreate { fid, name, perm: 0o644, mode: 2 },
            Dialect::L => Msg::Tlcreate { fid, name, flags: 2, mode: 0o644, gid: 0 },
        };
        self.opened(fid, msg)
    }

    /// Reads at most `buf.len()` bytes (and the iounit) at `offset`. A
    /// read sent ahead for exactly this answers it (and those sent before
    /// it are dropped).
    pub fn read(&mut self, fid: u32, offset: u64, buf: &mut [u8]) -> Result<usize, T::Error> {
        while let Some(a) = self.ahead.pop_front() {
            if a.fid == fid && a.offset == offset && a.count as usize <= buf.len() {
                return match a.answer {
                    Some(Ok(d)) => {
                        buf[..d.len()].copy_from_slice(&d);
                        Ok(d.len())
                    }
                    Some(Err(e)) => Err(ClientError::Server(e)),
                    None => self.read_reply(a.tag, &mut buf[..a.count as usize]),
                };
            }
            if a.answer.is_none() {
                match self.read_reply(a.tag, &mut vec![0u8; a.count as usize]) {
                    Ok(_) | Err(ClientError::Server(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let count = (buf.len() as u32).min(self.iounit());
        let tag = self.next_tag();
        self.send(tag, &Msg::Tread { fid, offset, count })?;
        self.read_reply(tag, &mut buf[..count as usize])
    }

    /// Sends a read of `count` bytes at `offset` now, for the `read` that
    /// will ask for exactly that; nothing if `AHEAD_MAX` are out already.
    pub fn read_ahead(&mut self, fid: u32, offset: u64, count: u32) -> Result<(), T::Error> {
        if self.ahead.len() >= AHEAD_MAX {
            return Ok(());
        }
        let count = count.min(self.iounit());
        let tag = self.next_tag();
        self.send(tag, &Msg::Tread { fid, offset, count })?;
        self.ahead.push_back(Ahead { tag, fid, offset, count, answer: None });
        Ok(())
    }

    /// Forgets the reads sent ahead (after their replies came): for when
    /// the file may have changed.
    pub fn cancel_ahead(&mut self) -> Result<(), T::Error> {
        self.settle()?;
        self.ahead.clear();
        Ok(())
    }

    /// Takes the replies to reads sent ahead off the stream, keeping their
    /// data, so that the next reply is the next request's.
    fn settle(&mut self) -> Result<(), T::Error> {
        for i in 0..self.ahead.len() {
            if self.ahead[i].answer.is_none() {
                let mut data = vec![0u8; self.ahead[i].count as usize];
                let answer = match self.read_reply(self.ahead[i].tag, &mut data) {
                    Ok(n) => Ok(data[..n].to_vec()),
                    Err(ClientError::Server(e)) => Err(e),
                    Err(e) => return Err(e),
                };
                self.ahead[i].answer = Some(answer);
            }
        }
        Ok(())
    }

    /// Receives the Rread `tag` into `buf` (as large as the count asked).
    fn read_reply(&mut self, tag: u16, buf: &mut [u8]) -> Result<usize, T::Error> {
        let n = match self.answer(tag, rread())? {
            Reply::Data(n) => n,
            _ => unreachable!("Rread carries data"),
        };
        let len = self.data_at + n;
        let r = if n > buf.len() {
            Err(self.broke("more data than asked"))
        } else {
            buf[..n].copy_from_slice(&self.inbuf[self.data_at..len]);
            Ok(n)
        };
        self.consume(len);
        r
    }

    /// Writes at most the iounit of `data` at `offset`; the count taken.
    pub fn write(&mut self, fid: u32, offset: u64, data: &[u8]) -> Result<usize, T::Error> {
        let data = &data[..data.len().min(self.iounit() as usize)];
        match self.call(Msg::Twrite { fid, offset, data })? {
            Reply::Count(n) if n as usize <= data.len() => Ok(n as usize),
            _ => Err(self.broke("more written than sent")),
        }
    }

    /// What `fid`'s file is.
    pub fn stat(&mut self, fid: u32) -> Result<Info, T::Error> {
        let msg = match self.dialect {
            Dialect::P2000 => Msg::Tstat { fid },
            Dialect::L => Msg::Tgetattr { fid, request_mask: 0x7ff },
        };
        match self.call(msg)? {
            Reply::Info(i) => Ok(i),
            _ => unreachable!("Rstat and Rgetattr carry metadata"),
        }
    }

    /// The next entries of the open directory `fid` from `cursor` (which
    /// moves on); none at the end. `.` and `..` are left out.
    pub fn read_dir(&mut self, fid: u32, cursor: &mut DirCursor) -> Result<Vec<Entry>, T::Error> {
        let count = self.iounit();
        let msg = match self.dialect {
            Dialect::L => Msg::Treaddir { fid, offset: *cursor, count },
            Dialect::P2000 => Msg::Tread { fid, offset: *cursor, count },
        };
        let n = match self.call(msg)? {
            Reply::Data(n) => n,
            _ => unreachable!("reads carry data"),
        };
        let (from, to) = (self.data_at, self.data_at + n);
        let before = *cursor;
        let parsed = match self.dialect {
            // Entries whose cookies do not move the cursor on would be
            // read again and again.
            Dialect::L => parse_dirents(&self.inbuf[from..to], cursor).filter(|_| n == 0 || *cursor != before),
            Dialect::P2000 => {
                *cursor += n as u64;
                parse_stats(&self.inbuf[from..to])
            }
        };
        self.consume(to);
        parsed.ok_or_else(|| self.broke("a directory read that does not decode"))
    }

    /// Removes `fid`'s file; the fid is clunked either way.
    pub fn remove(&mut self, fid: u32) -> Result<(), T::Error> {
        // (`call` drops every read ahead: a remove changes files.)
        let r = self.call(Msg::Tremove { fid });
        self.files.remove(&fid);
        self.free_fids.push(fid);
        r.map(drop)
    }

    pub fn truncate(&mut self, fid: u32, size: u64) -> Result<(), T::Error> {
        let msg = match self.dialect {
            // P9_SETATTR_SIZE
            Dialect::L => Msg::Tsetattr { fid, attr: SetAttr { valid: 0x8, size, ..SetAttr::default() } },
            Dialect::P2000 => Msg::Twstat { fid, stat: Stat { length: size, ..keep_stat() } },
        };
        self.call(msg).map(drop)
    }

    /// Renames `fid`'s file to `name` in the directory `dir` is (9P2000
    /// renames only within a directory: `dir` must be its own).
    pub fn rename(&mut self, fid: u32, dir: u32, name: &str) -> Result<(), T::Error> {
        let msg = match self.dialect {
            Dialect::L => Msg::Trename { fid, dfid: dir, name },
            Dialect::P2000 => Msg::Twstat { fid, stat: Stat { name, ..keep_stat() } },
        };
        self.call(msg).map(drop)
    }

    /// Makes directory `name` in the directory `fid` is (`fid` is kept).
    pub fn mkdir(&mut self, fid: u32, name: &str) -> Result<(), T::Error> {
        match self.dialect {
            Dialect::L => self.call(Msg::Tmkdir { dfid: fid, name, mode: 0o755, gid: 0 }).map(drop),
            Dialect::P2000 => {
                // Tcreate moves the fid to the new directory: use a copy.
                let copy = self.walk_from(fid)?;
                let r = self.call(Msg::Tcreate { fid: copy, name, perm: DMDIR | 0o755, mode: 0 });
                let _ = self.clunk(copy);
                r.map(drop)
            }
        }
    }

    /// A new fid for the same file as `fid`.
    fn walk_from(&mut self, fid: u32) -> Result<u32, T::Error> {
        let newfid = self.new_fid();
        match self.call(Msg::Twalk { fid, newfid, wnames: heapless::Vec::new() }) {
            Ok(_) => Ok(newfid),
            Err(e) => {
                self.free_fids.push(newfid);
                Err(e)
            }
        }
    }

    // Whole-path operations.

    /// Runs `op` on a fresh fid for `path` and clunks it after.
    fn with_fid<R>(
        &mut self,
        path: &str,
        op: impl FnOnce(&mut Self, u32) -> Result<R, T::Error>,
    ) -> Result<R, T::Error> {
        let fid = self.walk(path)?;
        let r = op(self, fid);
        let _ = self.clunk(fid);
        r
    }

    /// The whole contents of the file at `path`.
    pub fn read_file(&mut self, path: &str) -> Result<Vec<u8>, T::Error> {
        self.with_fid(path, |c, fid| {
            c.open(fid, OpenMode::READ)?;
            let mut all = Vec::new();
            let count = c.iounit();
            let mut chunk = vec![0u8; count as usize];
            // Only a file with a size honours offsets: reads sent ahead of
            // a stream would take bytes that are then dropped.
            let ahead = if c.stat(fid)?.size > 0 { AHEAD_MAX } else { 0 };
            // The next reads are on the wire while this one is copied
            // (and the server reads the file while the network carries
            // the last reply).
            let mut next = 0;
            loop {
                while c.ahead.len() < ahead {
                    c.read_ahead(fid, next, count)?;
                    next += count as u64;
                }
                let n = c.read(fid, all.len() as u64, &mut chunk)?;
                if n == 0 {
                    return Ok(all);
                }
                all.extend_from_slice(&chunk[..n]);
                if n < count as usize {
                    // A short read: what went ahead asked for the wrong
                    // places.
                    next = all.len() as u64;
                }
            }
        })
    }

    /// A fid open on `path` as `how` says.
    pub fn open_path(&mut self, path: &str, how: OpenHow) -> Result<u32, T::Error> {
        let names: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        if self.ordered && !how.create && names.len() <= MAXWELEM {
            let mode = OpenMode { read: how.read, write: how.write, truncate: how.truncate };
            return self.walk_open(names, mode);
        }
        let (fid, made) = match self.walk(path) {
            Ok(fid) if how.create && how.exclusive => {
                let _ = self.clunk(fid);
                return Err(ClientError::Server(Error::Exists));
            }
            Ok(fid) => {
                let mode = OpenMode { read: how.read, write: how.write, truncate: how.truncate };
                (fid, self.open(fid, mode))
            }
            Err(ClientError::Server(Error::NotFound)) if how.create => {
                let (dir, name) = split(path);
                let fid = self.walk(dir)?;
                match self.create(fid, name) {
                    // Made meanwhile by another client (two nodes' `>>` of
                    // one new file at once): opened as it is, since this
                    // open need not be the one that makes it.
                    Err(ClientError::Server(Error::Exists)) if !how.exclusive => {
                        let _ = self.clunk(fid);
                        let fid = self.walk(path)?;
                        let mode = OpenMode { read: how.read, write: how.write, truncate: how.truncate };
                        (fid, self.open(fid, mode))
                    }
                    made => (fid, made),
                }
            }
            Err(e) => return Err(e),
        };
        match made {
            Ok(()) => Ok(fid),
            Err(e) => {
                let _ = self.clunk(fid);
                Err(e)
            }
        }
    }

    /// A new fid for the path `names`, opened as `mode` says: the walk and
    /// the open sent together, for a server that takes them in order.
    fn walk_open(&mut self, names: Vec<&str>, mode: OpenMode) -> Result<u32, T::Error> {
        self.settle()?;
        if mode.truncate {
            self.ahead.clear();
        }
        let fid = self.new_fid();
        let walked_all = names.len();
        let walk = Msg::Twalk { fid: self.root, newfid: fid, wnames: names.into_iter().collect() };
        let open = match self.dialect {
            Dialect::P2000 => Msg::Topen { fid, mode: mode.p2000() },
            Dialect::L => Msg::Tlopen { fid, flags: mode.l() },
        };
        let reply_of = |m: &Msg| crate::codec::type_code(m) + 1;
        let (wtag, otag) = (self.next_tag(), self.next_tag());
        let mut wanted = vec![(wtag, reply_of(&walk)), (otag, reply_of(&open))];
        if let Err(e) = self.send(wtag, &walk) {
            self.free_fids.push(fid);
            return Err(e);
        }
        self.send(otag, &open)?;
        // The replies may come in either order.
        let (mut walked, mut opened) = (None, None);
        while !wanted.is_empty() {
            let (tag, reply) = self.answer_any(&wanted);
            if self.broken {
                return Err(reply.err().unwrap_or(ClientError::Lost));
            }
            wanted.retain(|w| w.0 != tag);
            if tag == wtag {
                walked = Some(reply);
            } else {
                opened = Some(reply);
            }
        }
        match (walked, opened) {
            (Some(Ok(Reply::Qids(n))), Some(opened)) if n == walked_all => match opened {
                Ok(reply) => {
                    if let Reply::Opened(file) = reply {
                        self.files.insert(fid, file);
                    }
                    Ok(fid)
                }
                Err(e) => {
                    let _ = self.clunk(fid);
                    Err(e)
                }
            },
            // A walk that fails, or stops short, makes no fid (and the
            // open of it failed).
            (walked, _) => {
                self.free_fids.push(fid);
                match walked {
                    Some(Err(e)) => Err(e),
                    _ => Err(ClientError::Server(Error::NotFound)),
                }
            }
        }
    }

    /// Writes `data` at `offset` in as many Twrites as it takes; the bytes
    /// written, fewer only when the server took none.
    pub fn write_all(&mut self, fid: u32, offset: u64, data: &[u8]) -> Result<usize, T::Error> {
        let mut done = 0;
        while done < data.len() {
            let at = offset.checked_add(done as u64).ok_or(ClientError::Server(Error::Invalid))?;
            match self.write(fid, at, &data[done..])? {
                0 => break,
                n => done += n,
            }
        }
        Ok(done)
    }

    /// Makes (or empties) the file at `path` and writes `data` to it.
    pub fn write_file(&mut self, path: &str, data: &[u8]) -> Result<(), T::Error> {
        let how = OpenHow { read: false, write: true, truncate: true, create: true, exclusive: false };
        let fid = self.open_path(path, how)?;
        let r = match self.write_all(fid, 0, data) {
            Ok(n) if n < data.len() => Err(ClientError::Server(Error::NoSpace)),
            r => r.map(drop),
        };
        let _ = self.clunk(fid);
        r
    }

    /// The entries of the directory at `path`.
    pub fn list(&mut self, path: &str) -> Result<Vec<Entry>, T::Error> {
        self.with_fid(path, |c, fid| {
            c.open(fid, OpenMode::READ)?;
            let (mut all, mut cursor) = (Vec::new(), 0);
            loop {
                let more = c.read_dir(fid, &mut cursor)?;
                if more.is_empty() {
                    return Ok(all);
                }
                all.extend(more);
                // A server whose directory never ends cannot fill our
                // memory.
                if all.len() > MAX_LIST {
                    return Err(ClientError::Server(Error::NoSpace));
                }
            }
        })
    }

    /// Metadata of the file at `path`.
    pub fn stat_path(&mut self, path: &str) -> Result<Info, T::Error> {
        self.with_fid(path, |c, fid| c.stat(fid))
    }

    pub fn mkdir_path(&mut self, path: &str) -> Result<(), T::Error> {
        let (dir, name) = split(path);
        self.with_fid(dir, |c, fid| c.mkdir(fid, name))
    }

    pub fn remove_path(&mut self, path: &str) -> Result<(), T::Error> {
        let fid = self.walk(path)?;
        self.remove(fid)
    }
}

/// The directory and the last name of a path.
pub fn split(path: &str) -> (&str, &str) {
    path.trim_end_matches('/').rsplit_once('/').unwrap_or(("", path))
}

/// The owned part of reply `msg` to a request whose reply type is
/// `expected`.
/// What a request may make stale of what was read ahead.
enum Stale {
    Nothing,
    /// The contents of the file an open fid stands for.
    FileOf(u32),
    /// Any file's contents, or which file a name is.
    Everything,
}

fn stale_after(msg: &Msg) -> Stale {
    match msg {
        Msg::Twrite { fid, .. } | Msg::Tsetattr { fid, .. } => Stale::FileOf(*fid),
        m if changes_files(m) => Stale::Everything,
        _ => Stale::Nothing,
    }
}

/// Whether a request may change what a file holds (or which file a name
/// is).
fn changes_files(msg: &Msg) -> bool {
    !matches!(
        msg,
        Msg::Twalk { .. }
            | Msg::Tread { .. }
            | Msg::Treaddir { .. }
            | Msg::Tstat { .. }
            | Msg::Tgetattr { .. }
            | Msg::Tclunk { .. }
            | Msg::Tattach { .. }
            | Msg::Tflush { .. }
    ) && !matches!(msg, Msg::Topen { mode, .. } if !OpenMode::from_p2000(*mode).truncate)
        && !matches!(msg, Msg::Tlopen { flags, .. } if !OpenMode::from_l(*flags).truncate)
}

fn rread() -> u8 {
    crate::codec::type_code(&Msg::Rread { data: &[] })
}

fn classify<E>(msg: Msg, expected: u8) -> Result<Reply, E> {
    match msg {
        Msg::Rerror { ename } => Err(ClientError::Server(Error::from_message(ename))),
        Msg::Rlerror { ecode } => Err(ClientError::Server(Error::from_errno(ecode))),
        ref m if crate::codec::type_code(m) != expected => Err(ClientError::Protocol("a reply of the wrong type")),
        Msg::Rwalk { wqids } => Ok(Reply::Qids(wqids.len())),
        Msg::Ropen { qid, .. } | Msg::Rlopen { qid, .. } | Msg::Rcreate { qid, .. } | Msg::Rlcreate { qid, .. } => {
            Ok(Reply::Opened(qid.path))
        }
        Msg::Rread { data } | Msg::Rreaddir { data } => Ok(Reply::Data(data.len())),
        Msg::Rwrite { count } => Ok(Reply::Count(count)),
        Msg::Rgetattr(a) => Ok(Reply::Info(Info {
            name: String::new(),
            is_dir: a.qid.ty & Qid::DIR != 0,
            size: a.size,
            version: a.qid.version,
            attr: Some(a),
        })),
        Msg::Rstat { stat } => Ok(Reply::Info(info_of(&stat))),
        _ => Ok(Reply::Done),
    }
}

/// A 9P2000 stat that changes nothing in Twstat (all "don't touch").
fn keep_stat() -> Stat<'static> {
    Stat {
        ty: u16::MAX,
        dev: u32::MAX,
        qid: Qid { ty: u8::MAX, version: u32::MAX, path: u64::MAX },
        mode: u32::MAX,
        atime: u32::MAX,
        mtime: u32::MAX,
        length: u64::MAX,
        name: "",
        uid: "",
        gid: "",
        muid: "",
    }
}

fn info_of(s: &Stat) -> Info {
    Info { name: String::from(s.name), is_dir: s.mode & DMDIR != 0, size: s.length, version: s.qid.version, attr: None }
}

fn parse_dirents(data: &[u8], cursor: &mut DirCursor) -> Option<Vec<Entry>> {
    let mut out = Vec::new();
    for d in dirents(data) {
        let d = d.ok()?;
        *cursor = d.offset;
        if d.name != "." && d.name != ".." {
            out.push(Entry { name: String::from(d.name), is_dir: d.qid.ty & Qid::DIR != 0, size: None });
        }
    }
    Some(out)
}

/// 9P2000 directory data: whole stats.
fn parse_stats(data: &[u8]) -> Option<Vec<Entry>> {
    let mut out = Vec::new();
    for stat in stats(data) {
        let stat = stat.ok()?;
        if stat.name != "." && stat.name != ".." {
            let i = info_of(&stat);
            out.push(Entry { name: i.name, is_dir: i.is_dir, size: Some(i.size) });
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_of_tags_and_fids_never_overlap_nor_hold_the_reserved_ones() {
        for n in [1u16, 2, 3, 16, 100] {
            let shares: Vec<Ids> = (0..n).map(|k| Ids::share(k, n)).collect();
            for (k, s) in shares.iter().enumerate() {
                assert!(!s.tags.is_empty() && !s.fids.is_empty(), "{n}: {s:?}");
                assert!(!s.tags.contains(&NOTAG) && !s.fids.contains(&0) && !s.fids.contains(&NOFID));
                for t in &shares[k + 1..] {
                    assert!(s.tags.end <= t.tags.start && s.fids.end <= t.fids.start, "{s:?} {t:?}");
                }
            }
        }
    }
}

//! A remote 9P export answering the OS file protocol, for `mount9p`:
//! each `FsRequest` becomes 9P requests through `fs9p::client` (which
//! owns the protocol: fids, tags, walks), each client's open file one
//! fid. A broken connection makes every call an I/O error until
//! `mount9p` gives a new one ([`Remote::reconnected`]); the files open
//! before stay I/O errors until closed.
//!
//! Reads through the I/O window (64 KiB) are read ahead: one 9P read asks
//! for the whole iounit (about the msize), and the next window reads of
//! that file at the following offsets are answered from it, so that a
//! sequential read costs a round trip per msize, not per window. What was
//! read ahead is dropped on any call that may change it: a write, only
//! when it is to the same file (by qid).

use crate::errors::to_os;
use crate::stream::Stream;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;
use fs9p::client::{split, Client, ClientError, Entry, OpenHow};
use fs9p::Dialect;
use libux::fs::server::{Answer, Entry as OsEntry};
use libux::fs::{flags, list_page, FsRequest, IO_MAX};
use libux::rpc::{Errno, Pid};

/// Open files at once, all clients together.
const MAX_OPEN: usize = 1024;

fn errno(e: ClientError<Errno>) -> Errno {
    match e {
        ClientError::Server(e) => to_os(e),
        // The connection is gone: what the transport said does not matter
        // to the caller, whose file is as good as gone.
        ClientError::Transport(_) | ClientError::Protocol(_) | ClientError::Lost => Errno::Io,
    }
}

pub struct Remote {
    pub c: Client<Stream>,
    /// (client, handle) → its fid, and whether its reads may go ahead.
    open: BTreeMap<(Pid, u32), OpenFid>,
    /// Handles opened on a connection that broke.
    stale: BTreeSet<(Pid, u32)>,
    next_handle: u32,
    /// The last directory listed, for the `List` calls that page it.
    listing: Option<(Pid, String, Vec<OsEntry>)>,
    ahead: Ahead,
}

/// A client's open file.
struct OpenFid {
    fid: u32,
    /// Whether its reads may go ahead of the caller: only for a file
    /// with a size (devices, streams and synthetic files say 0, and
    /// bytes read ahead of them could be lost). Learnt at its first
    /// window read.
    sized: Option<bool>,
}

/// Bytes of one open file from `offset`, read ahead.
#[derive(Default)]
struct Ahead {
    key: Option<(Pid, u32)>,
    offset: u64,
    data: Vec<u8>,
}

impl Ahead {
    /// The bytes held for `key` at `offset`, if any.
    fn at(&self, key: (Pid, u32), offset: u64) -> Option<&[u8]> {
        let from = offset.checked_sub(self.offset)? as usize;
        (self.key == Some(key) && from < self.data.len()).then(|| &self.data[from..])
    }
}

impl Remote {
    pub fn new(c: Client<Stream>) -> Remote {
        Remote {
            c,
            open: BTreeMap::new(),
            stale: BTreeSet::new(),
            next_handle: 0,
            listing: None,
            ahead: Ahead::default(),
        }
    }

    fn fid(&self, pid: Pid, handle: u32) -> Result<u32, Errno> {
        let stale = || if self.stale.contains(&(pid, handle)) { Errno::Io } else { Errno::BadHandle };
        self.open.get(&(pid, handle)).map(|o| o.fid).ok_or_else(stale)
    }

    /// Goes on with `c`, a new connection to the same export: what was
    /// open is gone with the old one.
    pub fn reconnected(&mut self, c: Client<Stream>) {
        self.c = c;
        self.stale.extend(core::mem::take(&mut self.open).into_keys());
        self.listing = None;
        self.ahead = Ahead::default();
    }

    /// Whether what we read ahead is of a file other than the one
    /// `pid`'s `handle` has open (both known to the client).
    fn ahead_is_of_another_file(&self, pid: Pid, handle: u32) -> bool {
        let file = |key| self.open.get(&key).and_then(|o| self.c.file_of(o.fid));
        match (self.ahead.key.and_then(file), file((pid, handle))) {
            (Some(ahead), Some(written)) => ahead != written,
            _ => self.ahead.key.is_none(),
        }
    }

    /// Answers one call of `pid`'s (whose I/O window we may use).
    pub fn request(&mut self, pid: Pid, req: FsRequest) -> Result<Answer, Errno> {
        // What we read ahead goes when the call may change it: a write
        // only when it is to the same file (a copy from one file of a
        // mount to another keeps reading ahead). The client drops what it
        // has on the wire by the same rule.
        let keeps = match req {
            FsRequest::ReadWindow { .. } | FsRequest::Stat { .. } | FsRequest::List { .. } => true,
            FsRequest::Write { handle, .. }
            | FsRequest::WriteWindow { handle, .. }
            | FsRequest::Truncate { handle, .. } => self.ahead_is_of_another_file(pid, handle),
            _ => false,
        };
        if !keeps {
            self.ahead.key = None;
        }
        match req {
            FsRequest::Open { path, flags: f } => {
                if self.open.len() + self.stale.len() >= MAX_OPEN {
                    return Err(Errno::NoMemory);
                }
                let how = OpenHow {
                    read: f & flags::READ != 0,
                    write: f & flags::WRITE != 0,
                    truncate: f & flags::TRUNCATE != 0,
                    create: f & flags::CREATE != 0,
                    exclusive: f & flags::EXCLUSIVE != 0,
                };
                let fid = self.c.open_path(path, how).map_err(errno)?;
                self.next_handle = self.next_handle.wrapping_add(1);
                self.open.insert((pid, self.next_handle), OpenFid { fid, sized: None });
                Ok(Answer::Handle(self.next_handle))
            }
            FsRequest::Close { handle } if self.stale.remove(&(pid, handle)) => Ok(Answer::Done),
            FsRequest::Close { handle } => {
                let open = self.open.remove(&(pid, handle)).ok_or(Errno::BadHandle)?;
                let _ = self.c.clunk(open.fid);
                Ok(Answer::Done)
            }
            FsRequest::Read { handle, offset, count } => {
                let fid = self.fid(pid, handle)?;
                let mut buf = alloc::vec![0u8; (count as usize).min(IO_MAX)];
                let n = self.c.read(fid, offset, &mut buf).map_err(errno)?;
                buf.truncate(n);
                Ok(Answer::Data(buf))
            }
            FsRequest::ReadWindow { handle, offset, count } => {
                let fid = self.fid(pid, handle)?;
                // SAFETY: answering `pid`'s call.
                let window = unsafe { libux::fs::client_window(pid) };
                let count = (count as usize).min(window.len());
                let open = self.open.get_mut(&(pid, handle)).expect("its fid was found");
                let sized = match open.sized {
                    Some(s) => s,
                    None => {
                        let info = self.c.stat(fid).map_err(errno)?;
                        *open.sized.insert(!info.is_dir && info.size > 0)
                    }
                };
                if !sized {
                    let n = self.c.read(fid, offset, &mut window[..count]).map_err(errno)?;
                    return Ok(Answer::Count(n as u32));
                }
                if self.ahead.at((pid, handle), offset).is_none() {
                    self.ahead.key = None;
                    self.ahead.data.resize(self.c.iounit() as usize, 0);
                    let n = self.c.read(fid, offset, &mut self.ahead.data).map_err(errno)?;
                    self.ahead.data.truncate(n);
                    self.ahead.key = Some((pid, handle));
                    self.ahead.offset = offset;
                    // The next part is on its way while this one is used.
                    if let Some(next) = offset.checked_add(n as u64).filter(|_| n > 0) {
                        let _ = self.c.read_ahead(fid, next, self.c.iounit());
                    }
                }
                let held = self.ahead.at((pid, handle), offset).unwrap_or(&[]);
                let n = held.len().min(count);
                window[..n].copy_from_slice(&held[..n]);
                Ok(Answer::Count(n as u32))
            }
            FsRequest::Write { handle, offset, data } => {
                let fid = self.fid(pid, handle)?;
                self.write_all(fid, offset, data)
            }
            FsRequest::WriteWindow { handle, offset, count } => {
                let fid = self.fid(pid, handle)?;
                // SAFETY: answering `pid`'s call.
                let window = unsafe { libux::fs::client_window(pid) };
                let data = window.get(..count as usize).ok_or(Errno::InvalidArgument)?;
                self.write_all(fid, offset, data)
            }
            FsRequest::Truncate { handle, size } => {
                let fid = self.fid(pid, handle)?;
                self.c.truncate(fid, size).map_err(errno).map(|()| Answer::Done)
            }
            FsRequest::Stat { path } => {
                let info = self.c.stat_path(path).map_err(errno)?;
                let name = libux::path::last_name(path);
                Ok(Answer::Stat((String::from(name), info.is_dir, info.size)))
            }
            FsRequest::List { path, from } => self.list(pid, path, from),
            FsRequest::Mkdir { path } => self.c.mkdir_path(path).map_err(errno).map(|()| Answer::Done),
            FsRequest::Remove { path } => self.c.remove_path(path).map_err(errno).map(|()| Answer::Done),
            FsRequest::Rename { from, to } => self.rename(from, to).map_err(errno).map(|()| Answer::Done),
            // Calls are answered one at a time here: none waits to be given up.
            FsRequest::Cancel { handle } => self.fid(pid, handle).map(|_| Answer::Count(0)),
        }
    }

    fn write_all(&mut self, fid: u32, offset: u64, data: &[u8]) -> Result<Answer, Errno> {
        match self.c.write_all(fid, offset, data).map_err(errno)? {
            0 if !data.is_empty() => Err(Errno::NoSpace),
            done => Ok(Answer::Count(done as u32)),
        }
    }

    fn list(&mut self, pid: Pid, path: &str, from: u32) -> Result<Answer, Errno> {
        let cached = matches!(&self.listing, Some((p, at, _)) if *p == pid && at == path);
        if from == 0 || !cached {
            let entries = self.c.list(path).map_err(errno)?;
            let mut all = Vec::with_capacity(entries.len());
            for Entry { name, is_dir, size } in entries {
                // 9P2000.L directory entries carry no size: ask.
                let size = match size {
                    Some(s) => s,
                    None if is_dir => 0,
                    None => {
                        let at = libux::path::join(path, &name);
                        self.c.stat_path(&at).map_or(0, |i| i.size)
                    }
                };
                all.push((name, is_dir, size));
            }
            self.listing = Some((pid, String::from(path), all));
        }
        let all = &self.listing.as_ref().expect("just listed").2;
        let (page, more) = list_page(all, from, |(name, _, _)| name);
        if page.is_empty() && more {
            // A remote name too long for one reply on its own.
            return Err(Errno::NameTooLong);
        }
        Ok(Answer::Entries(page.to_vec(), more))
    }

    fn rename(&mut self, from: &str, to: &str) -> Result<(), ClientError<Errno>> {
        let ((from_dir, _), (to_dir, name)) = (split(from), split(to));
        // 9P2000 renames only within the directory (Twstat of the name).
        if self.c.dialect() == Dialect::P2000 && from_dir != to_dir {
            return Err(ClientError::Server(fs9p::Error::NotSupported));
        }
        let fid = self.c.walk(from)?;
        let r = self.c.walk(to_dir).and_then(|dir| {
            let r = self.c.rename(fid, dir, name);
            let _ = self.c.clunk(dir);
            r
        });
        let _ = self.c.clunk(fid);
        r
    }

    /// Processes that ended lose their open files.
    pub fn ended(&mut self, pids: &[Pid]) {
        let gone: Vec<(Pid, u32)> = self.open.keys().filter(|(p, _)| pids.contains(p)).copied().collect();
        for k in gone {
            if let Some(open) = self.open.remove(&k) {
                let _ = self.c.clunk(open.fid);
            }
        }
        self.stale.retain(|(p, _)| !pids.contains(p));
        if self.listing.as_ref().is_some_and(|(p, _, _)| pids.contains(p)) {
            self.listing = None;
        }
    }

    /// Processes holding files here.
    pub fn holders(&self) -> Vec<Pid> {
        self.open.keys().chain(&self.stale).map(|(p, _)| *p).collect()
    }
}

//! A remote 9P export answering the OS file protocol, for `mount9p`:
//! each `FsRequest` becomes 9P requests through `fs9p::client` (which
//! owns the protocol: fids, tags, walks), each client's open file one
//! fid.
//!
//! Many calls are answered at once: each of `mount9p`'s threads is a
//! [`Worker`] with its own 9P client on the one shared connection
//! ([`crate::wire`]), and what the calls share (open files, the listing
//! being paged, what was read ahead) is a [`Remote`] behind a lock that
//! is never held across a 9P request. A call that waits at the server (a
//! read of `/proc/N/wait`, a pipe) holds up only its own thread;
//! `FsRequest::Cancel` of it sends a Tflush.
//!
//! A broken connection makes every call an I/O error until `mount9p`
//! dials again ([`Remote::reconnected`]); the files open before stay I/O
//! errors until closed.
//!
//! Reads through the I/O window (64 KiB) of a file with a size are read
//! ahead: one 9P read asks for the whole iounit (about the msize), the
//! next window reads of that file at the following offsets are answered
//! from it, and the read of the next iounit is sent at once, its reply
//! kept by the wire for whichever thread answers the call that needs it.
//! So a sequential read streams. What was read ahead is dropped on any
//! call that may change it (a write, only when it is to the same file, by
//! qid).

use crate::errors::to_os;
use crate::wire::Port;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;
use core::ops::Range;
use fs9p::client::{split, Client, ClientError, Entry, OpenHow};
use fs9p::{Dialect, Frame, Msg};
use libux::fs::handles::Handles;
use libux::fs::server::{Answer, Entry as OsEntry, Windows};
use libux::fs::{entry_bytes, flags, list_page, window_part, window_room, Attrs, FsRequest, Time, IO_MAX};
use libux::rpc::{Errno, Pid};
use libux::sync::Mutex;

/// Open files at once, all clients together (and so at most for one).
const MAX_OPEN: usize = 1024;

fn errno(e: ClientError<Errno>) -> Errno {
    match e {
        ClientError::Server(e) => to_os(e),
        // The connection is gone: what the transport said does not matter
        // to the caller, whose file is as good as gone.
        ClientError::Transport(_) | ClientError::Protocol(_) | ClientError::Lost => Errno::Io,
    }
}

/// A client's open file, by the process and its handle.
type Key = (Pid, u32);

/// What the calls share.
pub struct Remote {
    /// Bumped by each new connection: a worker whose client is of an
    /// older one takes a new client.
    pub generation: u32,
    /// A call found the connection broken (and failed): the next dials.
    pub found_broken: bool,
    open: Handles<OpenFid>,
    /// Handles opened on a connection that broke.
    stale: BTreeSet<Key>,
    /// The last directory listed, for the `List` calls that page it.
    listing: Option<(Pid, String, Vec<OsEntry>)>,
    ahead: Ahead,
    /// Calls that dropped what was read ahead so far: a read ahead that
    /// a write overtook is not kept.
    drops: u64,
    /// Calls being answered, by the file they are on, and the worker
    /// (share) answering each: whom a `Cancel` concerns.
    busy: BTreeMap<Key, u16>,
    /// Tags of reads sent ahead (no client's share has them), and the
    /// next one.
    ahead_tags: Range<u16>,
    next_ahead_tag: u16,
    /// The clients whose I/O windows onto us exist (asked once each).
    windows: Windows,
}

/// A client's open file.
struct OpenFid {
    fid: u32,
    /// The file (qid path): a write to it drops what was read ahead of it.
    file: Option<u64>,
    /// Whether its reads may go ahead of the caller: only for a file
    /// with a size (devices, streams and synthetic files say 0, and
    /// bytes read ahead of them could be lost). Learnt at its first
    /// window read.
    sized: Option<bool>,
}

/// Bytes of one open file from `offset`, read ahead, and the read on its
/// way for the bytes after them.
#[derive(Default)]
struct Ahead {
    key: Option<Key>,
    offset: u64,
    data: Held,
    next: Option<Pending>,
}

/// Bytes read: `bytes[from..]` (a whole Rread frame, as it came, or
/// the data alone).
#[derive(Default)]
struct Held {
    bytes: Vec<u8>,
    from: usize,
}

impl Held {
    fn data(&self) -> &[u8] {
        &self.bytes[self.from..]
    }
}

/// A read sent ahead, its reply kept by the wire for whoever takes it.
#[derive(Clone, Copy)]
struct Pending {
    tag: u16,
    offset: u64,
}

impl Ahead {
    /// The bytes held for `key` at `offset`, if any.
    fn at(&self, key: Key, offset: u64) -> Option<&[u8]> {
        let from = offset.checked_sub(self.offset)? as usize;
        let data = self.data.data();
        (self.key == Some(key) && from < data.len()).then(|| &data[from..])
    }
}

impl Remote {
    /// Reads ahead take their tags from `ahead_tags`.
    pub fn new(ahead_tags: Range<u16>) -> Remote {
        Remote {
            generation: 0,
            found_broken: false,
            open: Handles::new(MAX_OPEN),
            stale: BTreeSet::new(),
            listing: None,
            ahead: Ahead::default(),
            drops: 0,
            busy: BTreeMap::new(),
            next_ahead_tag: ahead_tags.start,
            ahead_tags,
            windows: Windows::default(),
        }
    }

    /// Runs `f` on client `pid`'s I/O window onto us, while its call is
    /// answered; `BadRequest` if it never asked for one. Under our lock,
    /// which the thread that hears endings holds while the process server
    /// unmaps the windows of clients that ended (`forget_windows`).
    fn with_window<T>(&mut self, pid: Pid, f: impl FnOnce(&mut [u8]) -> T) -> Result<T, Errno> {
        self.windows.get(pid).map(f).ok_or(Errno::BadRequest)
    }

    /// One page of the processes that ended (`Windows::ended_page`),
    /// under our lock: no worker copies into a window meanwhile.
    pub fn ended_page(&mut self, cursor: &mut u64) -> Result<libux::process::EndedPage, Errno> {
        let holders = self.holders();
        self.windows.ended_page(cursor, || holders)
    }

    /// Drops what was read ahead: the tag of the read on its way, whose
    /// reply the wire is to drop.
    fn forget_ahead(&mut self) -> Option<u16> {
        let next = self.ahead.next.map(|p| p.tag);
        self.ahead = Ahead::default();
        next
    }

    fn ahead_tag(&mut self) -> u16 {
        let tag = self.next_ahead_tag;
        self.next_ahead_tag = if tag + 1 >= self.ahead_tags.end { self.ahead_tags.start } else { tag + 1 };
        tag
    }

    fn fid(&self, key: Key) -> Result<u32, Errno> {
        let stale = || if self.stale.contains(&key) { Errno::Io } else { Errno::BadHandle };
        self.open.get(key.0, key.1).map(|o| o.fid).map_err(|_| stale())
    }

    /// Goes on with a new connection to the same export: what was open is
    /// gone with the old one.
    pub fn reconnected(&mut self) {
        self.generation += 1;
        self.found_broken = false;
        self.stale.extend(self.open.take_all().into_iter().map(|(k, _)| k));
        self.listing = None;
        self.ahead = Ahead::default();
    }

    /// Whether what we read ahead is of a file other than the one `key`
    /// has open (both known).
    fn ahead_is_of_another_file(&self, key: Key) -> bool {
        let file = |(p, h): Key| self.open.get(p, h).ok().and_then(|o| o.file);
        match (self.ahead.key.and_then(file), file(key)) {
            (Some(ahead), Some(written)) => ahead != written,
            _ => self.ahead.key.is_none(),
        }
    }

    /// Processes that ended lose their open files: their fids (to clunk)
    /// and the workers answering their calls (whose requests to flush).
    pub fn ended(&mut self, pids: &[Pid]) -> (Vec<u32>, Vec<u16>) {
        let fids = self.open.take_clients(pids).into_iter().map(|o| o.fid).collect();
        self.stale.retain(|(p, _)| !pids.contains(p));
        if self.listing.as_ref().is_some_and(|(p, _, _)| pids.contains(p)) {
            self.listing = None;
        }
        let stuck = self.busy.iter().filter(|((p, _), _)| pids.contains(p)).map(|(_, s)| *s).collect();
        (fids, stuck)
    }

    /// Processes holding files or windows here.
    pub fn holders(&self) -> Vec<Pid> {
        let mut all = self.open.holders();
        all.extend(self.stale.iter().map(|(p, _)| *p));
        all.extend(self.windows.clients());
        all
    }
}

/// A thread answering calls: its own 9P client on the shared connection.
pub struct Worker {
    pub c: Client<Port>,
    pub share: u16,
    /// Of the connection `c` speaks on.
    pub generation: u32,
}

/// Marks a call on `key` as answered by `share` while it lasts.
struct Busy<'a> {
    shared: &'a Mutex<Remote>,
    key: Key,
}

impl<'a> Busy<'a> {
    fn new(shared: &'a Mutex<Remote>, key: Key, share: u16) -> Busy<'a> {
        shared.lock().busy.insert(key, share);
        Busy { shared, key }
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.shared.lock().busy.remove(&self.key);
    }
}

impl Worker {
    /// Answers one call of `pid`'s (whose I/O window we may use).
    pub fn request(&mut self, shared: &Mutex<Remote>, pid: Pid, req: FsRequest) -> Result<Answer, Errno> {
        {
            // What we read ahead goes when the call may change it: a
            // write only when it is to the same file (a copy from one file
            // of a mount to another keeps reading ahead).
            let mut r = shared.lock();
            let keeps = match req {
                FsRequest::ReadWindow { .. } | FsRequest::Read { .. } | FsRequest::Stat { .. } => true,
                FsRequest::List { .. } | FsRequest::Close { .. } | FsRequest::Cancel { .. } => true,
                FsRequest::Write { handle, .. }
                | FsRequest::WriteWindow { handle, .. }
                | FsRequest::Truncate { handle, .. } => r.ahead_is_of_another_file((pid, handle)),
                _ => false,
            };
            if !keeps {
                r.drops += 1;
                if let Some(tag) = r.forget_ahead() {
                    self.c.transport().wire().abandon(tag);
                }
            }
        }
        match req {
            FsRequest::Open { path, flags: f } => {
                {
                    let r = shared.lock();
                    if r.open.len() + r.stale.len() >= MAX_OPEN {
                        return Err(Errno::NoMemory);
                    }
                }
                let how = OpenHow {
                    read: f & flags::READ != 0,
                    write: f & flags::WRITE != 0,
                    truncate: f & flags::TRUNCATE != 0,
                    create: f & flags::CREATE != 0,
                    exclusive: f & flags::EXCLUSIVE != 0,
                };
                let fid = self.c.open_path(path, how).map_err(errno)?;
                let file = self.c.file_of(fid);
                let inserted = shared.lock().open.insert(pid, OpenFid { fid, file, sized: None });
                if inserted.is_err() {
                    let _ = self.c.clunk(fid);
                }
                inserted.map(Answer::Handle)
            }
            FsRequest::Close { handle } => {
                let open = {
                    let mut r = shared.lock();
                    if r.stale.remove(&(pid, handle)) {
                        return Ok(Answer::Done);
                    }
                    if r.ahead.key == Some((pid, handle)) {
                        if let Some(tag) = r.forget_ahead() {
                            self.c.transport().wire().abandon(tag);
                        }
                    }
                    r.open.remove(pid, handle)?
                };
                // Answered without waiting for the export's: the closer
                // goes on a round trip sooner.
                let _ = self.c.clunk_later(open.fid);
                Ok(Answer::Done)
            }
            FsRequest::Read { handle, offset, count } => {
                let fid = shared.lock().fid((pid, handle))?;
                let _busy = Busy::new(shared, (pid, handle), self.share);
                let mut buf = alloc::vec![0u8; (count as usize).min(IO_MAX)];
                let n = self.c.read(fid, offset, &mut buf).map_err(errno)?;
                buf.truncate(n);
                Ok(Answer::Data(buf))
            }
            FsRequest::ReadWindow { handle, offset, count, at } => {
                self.read_window(shared, (pid, handle), offset, count, at)
            }
            FsRequest::Write { handle, offset, data } => {
                let fid = shared.lock().fid((pid, handle))?;
                let _busy = Busy::new(shared, (pid, handle), self.share);
                self.write_all(fid, offset, data)
            }
            FsRequest::WriteWindow { handle, offset, count, at } => {
                let fid = shared.lock().fid((pid, handle))?;
                let _busy = Busy::new(shared, (pid, handle), self.share);
                let data = shared.lock().with_window(pid, |w| window_part(w, at, count).map(|p| p.to_vec()))?;
                self.write_all(fid, offset, &data.ok_or(Errno::InvalidArgument)?)
            }
            FsRequest::Truncate { handle, size } => {
                let fid = shared.lock().fid((pid, handle))?;
                self.c.truncate(fid, size).map_err(errno).map(|()| Answer::Done)
            }
            FsRequest::Stat { path } => {
                let info = self.c.stat_path(path).map_err(errno)?;
                Ok(Answer::Stat(entry_of(libux::path::last_name(path), &info)))
            }
            FsRequest::List { path, from } => self.list(shared, pid, path, from),
            FsRequest::Mkdir { path } => self.c.mkdir_path(path).map_err(errno).map(|()| Answer::Done),
            FsRequest::Remove { path } => self.c.remove_path(path).map_err(errno).map(|()| Answer::Done),
            FsRequest::Rename { from, to } => self.rename(from, to).map_err(errno).map(|()| Answer::Done),
            // What the remote keeps is not carried across (yet).
            FsRequest::SetAttrs { .. } => Err(Errno::NotSupported),
            FsRequest::Cancel { handle } => {
                let share = {
                    let r = shared.lock();
                    r.fid((pid, handle))?;
                    r.busy.get(&(pid, handle)).copied()
                };
                Ok(Answer::Count(share.map_or(0, |s| self.flush_share(s))))
            }
        }
    }

    /// Gives up the requests worker `share` waits for; how many.
    pub fn flush_share(&mut self, share: u16) -> u32 {
        let wire = self.c.transport().wire().clone();
        let tags = wire.outstanding_of(share);
        for &tag in &tags {
            if self.c.flush(tag).is_ok() {
                wire.interrupt(tag);
            }
        }
        tags.len() as u32
    }

    fn read_window(
        &mut self,
        shared: &Mutex<Remote>,
        key: Key,
        offset: u64,
        count: u32,
        at: u32,
    ) -> Result<Answer, Errno> {
        let count = shared.lock().with_window(key.0, |w| window_room(w, at, count).map(|p| p.len()))?;
        let count = count.ok_or(Errno::InvalidArgument)?;
        // Copied in under the lock: the window is not held across a read.
        let give = |bytes: &[u8]| {
            let put = |w: &mut [u8]| window_part(w, at, bytes.len() as u32).map(|p| p.copy_from_slice(bytes));
            shared.lock().with_window(key.0, put)?.ok_or(Errno::InvalidArgument)
        };
        let wire = self.c.transport().wire().clone();
        // What is held, or the read sent ahead for exactly this.
        let (fid, sized, drops, pending) = {
            let mut r = shared.lock();
            let Remote { ahead, windows, .. } = &mut *r;
            if let Some(held) = ahead.at(key, offset) {
                let n = held.len().min(count);
                let window = windows.get(key.0).ok_or(Errno::BadRequest)?;
                window_part(window, at, n as u32).ok_or(Errno::InvalidArgument)?.copy_from_slice(&held[..n]);
                return Ok(Answer::Count(n as u32));
            }
            let ours = r.ahead.key == Some(key) && r.ahead.next.is_some_and(|p| p.offset == offset);
            let pending = if ours { r.ahead.next.take() } else { None };
            (r.fid(key)?, r.open.get(key.0, key.1).ok().and_then(|o| o.sized), r.drops, pending)
        };
        let _busy = Busy::new(shared, key, self.share);
        let sized = match sized {
            Some(s) => s,
            None => {
                let info = self.c.stat(fid).map_err(errno)?;
                let s = !info.is_dir && info.size > 0;
                if let Ok(o) = shared.lock().open.get_mut(key.0, key.1) {
                    o.sized = Some(s);
                }
                s
            }
        };
        if !sized {
            let mut data = alloc::vec![0u8; count];
            let n = self.c.read(fid, offset, &mut data).map_err(errno)?;
            give(&data[..n])?;
            return Ok(Answer::Count(n as u32));
        }
        let unit = self.c.iounit();
        let sent_ahead = pending.and_then(|p| wire.wait_kept(p.tag, self.share).ok());
        let data = match sent_ahead.and_then(|frame| rread_data(frame, self.c.dialect())) {
            Some(data) => data,
            // Nothing on its way (or an error, which a read of our own
            // gives again, to the caller).
            None => {
                let mut data = alloc::vec![0u8; unit as usize];
                let n = self.c.read(fid, offset, &mut data).map_err(errno)?;
                data.truncate(n);
                Held { bytes: data, from: 0 }
            }
        };
        let n = data.data().len().min(count);
        give(&data.data()[..n])?;
        // Kept, and the next part asked for while this one is used: unless
        // the file was closed or written meanwhile, or this part was short.
        let mut r = shared.lock();
        if r.open.get(key.0, key.1).is_err() || r.drops != drops {
            return Ok(Answer::Count(n as u32));
        }
        if let Some(tag) = r.forget_ahead() {
            wire.abandon(tag);
        }
        let full = data.data().len() == unit as usize;
        let next =
            offset.checked_add(unit as u64).filter(|_| full).map(|at| Pending { tag: r.ahead_tag(), offset: at });
        r.ahead = Ahead { key: Some(key), offset, data, next };
        drop(r);
        if let Some(p) = next {
            let mut frame = [0u8; 32];
            let read = Frame { tag: p.tag, msg: Msg::Tread { fid, offset: p.offset, count: unit } };
            let len = fs9p::encode(&read, &mut frame).expect("a Tread fits 32 bytes");
            // A failure breaks the connection: whoever waits for it hears.
            let _ = wire.send_kept(&frame[..len]);
        }
        Ok(Answer::Count(n as u32))
    }

    fn write_all(&mut self, fid: u32, offset: u64, data: &[u8]) -> Result<Answer, Errno> {
        match self.c.write_all(fid, offset, data).map_err(errno)? {
            0 if !data.is_empty() => Err(Errno::NoSpace),
            done => Ok(Answer::Count(done as u32)),
        }
    }

    fn list(&mut self, shared: &Mutex<Remote>, pid: Pid, path: &str, from: u32) -> Result<Answer, Errno> {
        let cached = |r: &Remote| matches!(&r.listing, Some((p, at, _)) if *p == pid && at == path);
        if from == 0 || !cached(&shared.lock()) {
            let entries = self.c.list(path).map_err(errno)?;
            let mut all = Vec::with_capacity(entries.len());
            for Entry { name, is_dir, size } in entries {
                // 9P2000.L directory entries carry no size: a file's is
                // asked for, and its attributes come with it (a
                // directory's are not: a listing of `/proc` would cost a
                // round trip per process).
                let entry = match size {
                    Some(s) => OsEntry::new(name, is_dir, s),
                    None if is_dir => OsEntry::new(name, is_dir, 0),
                    None => {
                        let at = libux::path::join(path, &name);
                        match self.c.stat_path(&at) {
                            Ok(info) => entry_of(&name, &info),
                            Err(_) => OsEntry::new(name, false, 0),
                        }
                    }
                };
                all.push(entry);
            }
            shared.lock().listing = Some((pid, String::from(path), all));
        }
        let r = shared.lock();
        // Another call of the same process may have listed meanwhile.
        let Some((_, _, all)) = r.listing.as_ref().filter(|_| cached(&r)) else { return Err(Errno::Busy) };
        let (page, more) = list_page(all, from, |e| entry_bytes(&e.name, e.attrs.is_some()));
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
}

/// The data of an Rread frame, left in place; none for an error (or
/// anything else).
fn rread_data(frame: Vec<u8>, dialect: Dialect) -> Option<Held> {
    let from = match fs9p::decode(&frame, dialect) {
        // The data is the frame's tail.
        Ok(Frame { msg: Msg::Rread { data }, .. }) => frame.len() - data.len(),
        _ => return None,
    };
    Some(Held { bytes: frame, from })
}

/// What a remote's stat of the file `name` says, as the file protocol
/// carries it.
fn entry_of(name: &str, info: &fs9p::client::Info) -> OsEntry {
    OsEntry { version: info.version, attrs: info.attr.and_then(attrs_of), ..OsEntry::new(name, info.is_dir, info.size) }
}

/// The attributes a remote's Rgetattr gives, as the file protocol carries
/// them (`ls -l` through a mount shows the remote file's mode, owners and
/// times); none unless it gave all of them (P9_GETATTR_BASIC).
fn attrs_of(a: fs9p::Attr) -> Option<Attrs> {
    const BASIC: u64 = 0x7ff;
    let time = |sec: u64, nsec: u64| Time { sec, nsec: nsec.min(999_999_999) as u32 };
    (a.valid & BASIC == BASIC).then(|| Attrs {
        id: a.qid.path,
        mode: a.mode & 0o7777,
        uid: a.uid,
        gid: a.gid,
        stored: a.blocks.saturating_mul(512),
        atime: time(a.atime_sec, a.atime_nsec),
        mtime: time(a.mtime_sec, a.mtime_nsec),
        ctime: time(a.ctime_sec, a.ctime_nsec),
    })
}

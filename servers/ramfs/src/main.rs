//! The ramfs server: mounts itself at `/` (with an empty `/tmp`) and
//! answers the file protocol (`libux::fs`) from any process, which it
//! tells apart by the badge of its connection. `ramfs [BUDGET]`: bytes it
//! may hold (default 8 MiB). Files a process holds open are closed when it
//! ends (the process server tells daemons).
#![no_std]
#![no_main]

extern crate alloc;

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use libux::fs::{
    self as proto, entry_bytes, flags, list_page, FileStat, FsReply, FsRequest, FsResponse, SetTime, IO_MAX,
};
use libux::layout::{event, slot};
use libux::process::WallClock;
use libux::rpc::client::{recv_raw, reply_recv_raw};
use libux::rpc::frame::{self, Place};
use libux::rpc::{Errno, Pid, MSG_CALL};
use libux::sel4::syscall::ipc_buffer;
use ramfs::{Changes, Error, NodeId, Ramfs, Stat, Time, ROOT};

const EP: u64 = slot::FIRST_FREE;
/// Open files one client may hold.
const MAX_OPEN: usize = 256;

libux::entry!(main);

struct Open {
    node: NodeId,
    flags: u32,
}

fn errno(e: Error) -> Errno {
    match e {
        Error::NotFound => Errno::NotFound,
        Error::Exists => Errno::Exists,
        Error::NotDir => Errno::NotDir,
        Error::IsDir => Errno::IsDir,
        Error::NotEmpty => Errno::NotEmpty,
        Error::NoSpace => Errno::NoSpace,
        Error::Invalid => Errno::InvalidArgument,
        Error::NameTooLong => Errno::NameTooLong,
    }
}

/// Parent directory and last name of an absolute path.
fn parent_and_name<'p>(fs: &Ramfs, path: &'p str) -> Result<(NodeId, &'p str), Errno> {
    let trimmed = path.trim_end_matches('/');
    let (dir, name) = trimmed.rsplit_once('/').ok_or(Errno::InvalidArgument)?;
    Ok((fs.walk(dir).map_err(errno)?, name))
}

struct Server {
    fs: Ramfs,
    open: BTreeMap<(u64, u32), Open>,
    next_handle: u32,
    clock: WallClock,
}

impl Server {
    /// Tells the file system what time it is now, and answers it.
    fn tick(&mut self) -> Time {
        let now = ours(self.clock.now());
        self.fs.set_now(now);
        now
    }

    /// Answers one request. Read data is returned in `buf`, names in
    /// `scratch`: the reply borrows both until it is encoded.
    fn handle<'s>(
        &mut self,
        client: u64,
        req: FsRequest,
        buf: &'s mut [u8; IO_MAX],
        scratch: &'s mut Vec<Stat>,
    ) -> FsReply<'s> {
        let now = self.tick();
        let fs = &mut self.fs;
        let stat = |fs: &Ramfs, n: NodeId| fs.stat(n).map_err(errno);
        match req {
            FsRequest::Open { path, flags: f } => {
                if self.open.range((client, 0)..=(client, u32::MAX)).count() >= MAX_OPEN {
                    return Err(Errno::NoMemory);
                }
                let node = match fs.walk(path) {
                    Ok(_) if f & flags::CREATE != 0 && f & flags::EXCLUSIVE != 0 => return Err(Errno::Exists),
                    Ok(n) => n,
                    Err(Error::NotFound) if f & flags::CREATE != 0 => {
                        let (dir, name) = parent_and_name(fs, path)?;
                        fs.create(dir, name, false).map_err(errno)?
                    }
                    Err(e) => return Err(errno(e)),
                };
                if stat(fs, node)?.is_dir && f & flags::WRITE != 0 {
                    return Err(Errno::IsDir);
                }
                if f & flags::TRUNCATE != 0 {
                    if f & flags::WRITE == 0 {
                        return Err(Errno::InvalidArgument);
                    }
                    fs.truncate(node, 0).map_err(errno)?;
                }
                self.next_handle = self.next_handle.wrapping_add(1);
                self.open.insert((client, self.next_handle), Open { node, flags: f });
                Ok(FsResponse::Handle(self.next_handle))
            }
            FsRequest::Read { handle, offset, count } => {
                let o = self.open.get(&(client, handle)).ok_or(Errno::BadHandle)?;
                if o.flags & flags::READ == 0 {
                    return Err(Errno::BadHandle);
                }
                let n = fs.read(o.node, offset, &mut buf[..(count as usize).min(IO_MAX)]).map_err(errno)?;
                let buf: &'s [u8; IO_MAX] = buf;
                Ok(FsResponse::Data(&buf[..n]))
            }
            FsRequest::Write { handle, offset, data } => {
                let o = self.open.get(&(client, handle)).ok_or(Errno::BadHandle)?;
                if o.flags & flags::WRITE == 0 {
                    return Err(Errno::BadHandle);
                }
                Ok(FsResponse::Count(fs.write(o.node, offset, data).map_err(errno)? as u32))
            }
            FsRequest::ReadWindow { handle, offset, count } => {
                let o = self.open.get(&(client, handle)).ok_or(Errno::BadHandle)?;
                if o.flags & flags::READ == 0 {
                    return Err(Errno::BadHandle);
                }
                // SAFETY: answering `client`'s call.
                let window = unsafe { libux::fs::client_window(client as Pid) };
                let count = (count as usize).min(window.len());
                Ok(FsResponse::Count(fs.read(o.node, offset, &mut window[..count]).map_err(errno)? as u32))
            }
            FsRequest::WriteWindow { handle, offset, count } => {
                let o = self.open.get(&(client, handle)).ok_or(Errno::BadHandle)?;
                if o.flags & flags::WRITE == 0 {
                    return Err(Errno::BadHandle);
                }
                // SAFETY: answering `client`'s call.
                let window = unsafe { libux::fs::client_window(client as Pid) };
                let data = window.get(..count as usize).ok_or(Errno::InvalidArgument)?;
                Ok(FsResponse::Count(fs.write(o.node, offset, data).map_err(errno)? as u32))
            }
            FsRequest::Truncate { handle, size } => {
                let o = self.open.get(&(client, handle)).ok_or(Errno::BadHandle)?;
                if o.flags & flags::WRITE == 0 {
                    return Err(Errno::BadHandle);
                }
                fs.truncate(o.node, size).map_err(errno).map(|()| FsResponse::Done)
            }
            FsRequest::Close { handle } => {
                self.open.remove(&(client, handle)).ok_or(Errno::BadHandle)?;
                Ok(FsResponse::Done)
            }
            FsRequest::Stat { path } => {
                scratch.push(stat(fs, fs.walk(path).map_err(errno)?)?);
                let scratch: &'s Vec<Stat> = scratch;
                Ok(FsResponse::Stat(file_stat(&scratch[0])))
            }
            FsRequest::List { path, from } => {
                let dir = fs.walk(path).map_err(errno)?;
                let all = fs.list(dir).map_err(errno)?;
                let (page, more) = list_page(&all, from, |s| entry_bytes(&s.name, true));
                scratch.extend_from_slice(page);
                let scratch: &'s Vec<Stat> = scratch;
                Ok(FsResponse::Entries { entries: scratch.iter().map(file_stat).collect(), more })
            }
            FsRequest::Mkdir { path } => {
                let (dir, name) = parent_and_name(fs, path)?;
                fs.create(dir, name, true).map_err(errno).map(|_| FsResponse::Done)
            }
            FsRequest::Remove { path } => {
                let node = fs.walk(path).map_err(errno)?;
                fs.remove(node).map_err(errno)?;
                // Handles to a removed node must not reach the node that
                // reuses its slot.
                self.open.retain(|_, o| o.node != node);
                Ok(FsResponse::Done)
            }
            FsRequest::Rename { from, to } => {
                let node = fs.walk(from).map_err(errno)?;
                let (dir, name) = parent_and_name(fs, to)?;
                let replaced = fs.lookup(dir, name).ok().filter(|&old| old != node);
                fs.rename(node, dir, name).map_err(errno)?;
                // Handles to a file the rename replaced go, as on Remove.
                if let Some(old) = replaced {
                    self.open.retain(|_, o| o.node != old);
                }
                Ok(FsResponse::Done)
            }
            FsRequest::SetAttrs { path, changes: c } => {
                let node = fs.walk(path).map_err(errno)?;
                let time = |t: Option<SetTime>| {
                    t.map(|t| match t {
                        SetTime::Now => now,
                        SetTime::At(t) => ours(t),
                    })
                };
                let changes =
                    Changes { mode: c.mode, uid: c.uid, gid: c.gid, atime: time(c.atime), mtime: time(c.mtime) };
                fs.set_attrs(node, &changes).map_err(errno).map(|()| FsResponse::Done)
            }
            // Nothing here waits.
            FsRequest::Cancel { handle } => {
                self.open.get(&(client, handle)).ok_or(Errno::BadHandle)?;
                Ok(FsResponse::Count(0))
            }
        }
    }
}

/// The file protocol's time as ramfs keeps it, and back (ramfs's logic
/// knows nothing of libux).
fn ours(t: proto::Time) -> Time {
    Time { sec: t.sec, nsec: t.nsec }
}

fn theirs(t: Time) -> proto::Time {
    proto::Time { sec: t.sec, nsec: t.nsec }
}

fn file_stat(s: &Stat) -> FileStat<'_> {
    let a = &s.attrs;
    let attrs = proto::Attrs {
        id: s.ino,
        mode: a.mode,
        uid: a.uid,
        gid: a.gid,
        stored: s.stored,
        atime: theirs(a.atime),
        mtime: theirs(a.mtime),
        ctime: theirs(a.ctime),
    };
    FileStat { name: &s.name, is_dir: s.is_dir, size: s.size, version: s.version, attrs: Some(attrs) }
}

fn main() -> i32 {
    let budget = libux::rt::args().get(1).and_then(|s| s.parse().ok()).unwrap_or(8 << 20);
    let mut server = Server { fs: Ramfs::new(budget), open: BTreeMap::new(), next_handle: 0, clock: WallClock::new() };
    let now = server.tick();
    // The root was made before the clock was known.
    let _ = server.fs.set_attrs(ROOT, &Changes { atime: Some(now), mtime: Some(now), ..Changes::default() });
    let setup = libux::process::create_endpoint(EP)
        .and_then(|()| server.fs.create(ROOT, "tmp", true).map(drop).map_err(errno))
        .and_then(|()| libux::process::mount("/", EP));
    if let Err(e) = setup {
        libux::println!("ramfs: cannot start: {e}");
        return 1;
    }
    let mut buf = [0u8; IO_MAX];
    let mut scratch = Vec::new();
    let mut ended_cursor = 0;
    let mut m = recv_raw(EP);
    loop {
        if m.badge & event::FLAG != 0 {
            // A process ended: what it held here goes.
            if m.badge & event::ENDED != 0 {
                let held = || server.open.keys().map(|(c, _)| *c as Pid).collect();
                match libux::process::ended_among(&mut ended_cursor, held) {
                    Ok(pids) => server.open.retain(|(client, _), _| !pids.contains(&(*client as Pid))),
                    Err(e) => libux::println!("ramfs: cannot learn which processes ended: {e}"),
                }
            }
            m = recv_raw(EP);
            continue;
        }
        let msg = &ipc_buffer().msg;
        let reply: FsReply = match frame::header(msg, m.words) {
            Ok(h) if m.label == MSG_CALL && h.place == Place::Inline => {
                match libux::fs::decode_request(&frame::inline_bytes(msg)[..h.len]) {
                    Ok(req) => server.handle(m.badge, req, &mut buf, &mut scratch),
                    Err(e) => Err(e),
                }
            }
            Ok(_) => Err(Errno::BadRequest),
            Err(e) => Err(e),
        };
        let words = frame::encode(&reply, &mut ipc_buffer().msg, None, 0)
            .unwrap_or_else(|e| frame::encode(&FsReply::Err(e), &mut ipc_buffer().msg, None, 0).unwrap());
        scratch.clear();
        m = reply_recv_raw(EP, words);
    }
}

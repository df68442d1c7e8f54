//! The ramfs server: mounts itself at `/` (with an empty `/tmp`) and
//! answers the file protocol (`libux::fs`) from any process, which it
//! tells apart by the badge of its connection. `ramfs [BUDGET [AT]]`:
//! bytes it may hold (default 8 MiB), and where it mounts itself if not
//! at `/` (a scratch tree; a test's server to kill). Files a process
//! holds open are closed when it ends (the process server tells
//! daemons).
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;
use libux::fs::serve::{Done, Files, Held, Io};
use libux::fs::server::Entry;
use libux::fs::{self as proto, flags, AttrChanges, SetTime};
use libux::layout::slot;
use libux::process::WallClock;
use libux::rpc::{Errno, Pid};
use ramfs::{Changes, Error, NodeId, Ramfs, Stat, Time, ROOT};

const EP: u64 = slot::FIRST_FREE;

libux::entry!(main);

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
    clock: WallClock,
    now: Time,
}

impl Server {
    /// Tells the file system what time it is now.
    fn tick(&mut self) {
        self.now = ours(self.clock.now());
        self.fs.set_now(self.now);
    }

    fn walk(&self, path: &str) -> Result<NodeId, Errno> {
        self.fs.walk(path).map_err(errno)
    }
}

/// Nothing here waits.
enum Never {}

impl Files for Server {
    type Node = NodeId;
    type Wait = Never;
    const MAX_OPEN: usize = 256;

    fn open(&mut self, _: &Held<Self>, _: Pid, path: &str, f: u32) -> Result<Io<NodeId, Never>, Errno> {
        let fs = &mut self.fs;
        let node = match fs.walk(path) {
            Ok(_) if f & flags::CREATE != 0 && f & flags::EXCLUSIVE != 0 => return Err(Errno::Exists),
            Ok(n) => n,
            Err(Error::NotFound) if f & flags::CREATE != 0 => {
                let (dir, name) = parent_and_name(fs, path)?;
                fs.create(dir, name, false).map_err(errno)?
            }
            Err(e) => return Err(errno(e)),
        };
        if fs.stat(node).map_err(errno)?.is_dir && f & flags::WRITE != 0 {
            return Err(Errno::IsDir);
        }
        if f & flags::TRUNCATE != 0 {
            if f & flags::WRITE == 0 {
                return Err(Errno::InvalidArgument);
            }
            fs.truncate(node, 0).map_err(errno)?;
        }
        Ok(Io::Now(node))
    }

    fn read(
        &mut self,
        _: &Held<Self>,
        _: Pid,
        node: NodeId,
        offset: u64,
        into: &mut [u8],
    ) -> Result<Io<usize, Never>, Errno> {
        self.fs.read(node, offset, into).map(Io::Now).map_err(errno)
    }

    fn write(&mut self, _: Pid, node: NodeId, offset: u64, data: &[u8]) -> Result<Io<u32, Never>, Errno> {
        self.fs.write(node, offset, data).map(|n| Io::Now(n as u32)).map_err(errno)
    }

    fn truncate(&mut self, node: NodeId, size: u64) -> Result<(), Errno> {
        self.fs.truncate(node, size).map_err(errno)
    }

    fn stat(&mut self, path: &str) -> Result<Entry, Errno> {
        self.fs.stat(self.walk(path)?).map(|s| entry(&s)).map_err(errno)
    }

    fn list(&mut self, path: &str) -> Result<Vec<Entry>, Errno> {
        let all = self.fs.list(self.walk(path)?).map_err(errno)?;
        Ok(all.iter().map(entry).collect())
    }

    fn mkdir(&mut self, path: &str) -> Result<(), Errno> {
        let (dir, name) = parent_and_name(&self.fs, path)?;
        self.fs.create(dir, name, true).map(drop).map_err(errno)
    }

    fn remove(&mut self, path: &str) -> Result<Option<NodeId>, Errno> {
        let node = self.walk(path)?;
        self.fs.remove(node).map_err(errno)?;
        Ok(Some(node))
    }

    fn rename(&mut self, from: &str, to: &str) -> Result<Option<NodeId>, Errno> {
        let node = self.walk(from)?;
        let (dir, name) = parent_and_name(&self.fs, to)?;
        let replaced = self.fs.lookup(dir, name).ok().filter(|&old| old != node);
        self.fs.rename(node, dir, name).map_err(errno)?;
        Ok(replaced)
    }

    fn set_attrs(&mut self, path: &str, c: &AttrChanges) -> Result<(), Errno> {
        let node = self.walk(path)?;
        let now = self.now;
        let time = |t: Option<SetTime>| {
            t.map(|t| match t {
                SetTime::Now => now,
                SetTime::At(t) => ours(t),
            })
        };
        let changes = Changes { mode: c.mode, uid: c.uid, gid: c.gid, atime: time(c.atime), mtime: time(c.mtime) };
        self.fs.set_attrs(node, &changes).map_err(errno)
    }

    fn retry(&mut self, _: Pid, never: &mut Never, _: &mut [u8]) -> Option<Result<Done<NodeId>, Errno>> {
        match *never {}
    }

    fn run(&mut self, _: &Held<Self>) {
        self.tick();
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

fn entry(s: &Stat) -> Entry {
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
    Entry { name: s.name.clone(), is_dir: s.is_dir, size: s.size, version: s.version, attrs: Some(attrs) }
}

fn main() -> i32 {
    let args = libux::rt::args();
    let budget = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(8 << 20);
    let at = args.get(2).copied().unwrap_or("/");
    let mut server = Server { fs: Ramfs::new(budget), clock: WallClock::new(), now: Time::default() };
    server.tick();
    // The root was made before the clock was known.
    let now = Some(server.now);
    let _ = server.fs.set_attrs(ROOT, &Changes { atime: now, mtime: now, ..Changes::default() });
    let setup =
        libux::process::create_endpoint(EP).and_then(|()| server.fs.create(ROOT, "tmp", true).map(drop).map_err(errno));
    if let Err(e) = setup {
        libux::println!("ramfs: cannot start: {e}");
        return 1;
    }
    libux::fs::serve::run(EP, at, server)
}

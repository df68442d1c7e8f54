//! The node's namespace as a 9P file system: `fs9p::server::Filesystem`
//! over `libux::fs::client`, for `exportfs`. A node is an absolute path;
//! an open file is an open `File` (so a fid holds what a process would:
//! a `/net` connection stays up while a fid has it open). Every read and
//! write of a file may block (a device, a pipe, a connection, a `wait`
//! file), so all run apart ([`OsIo`]), sharing the `File`.
//!
//! The console (`/dev/cons`, `/dev/consctl`) is exported only to the
//! cluster's nodes (clients that proved the cluster's secret): it belongs
//! to the person at the node, whose typed lines another reader would take
//! and whose screen another writer would forge; the cluster's nodes run
//! that person's programs (the home model: a program `crun` starts on
//! another node reads and writes its starter's console).

use crate::errors::to_9p;
use alloc::collections::BTreeSet;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use fs9p::server::{kind, Changes, Filesystem, Make, Meta, SetTime, Time, User};
use fs9p::{Error, OpenMode};
use libux::fs::client::{self, File, Metadata};
use libux::fs::{self as proto, flags, AttrChanges};
use libux::layout::IO_WINDOW;
use libux::path::{join, last_name, split_last};
use libux::rpc::Errno;

/// Files of the node that only the cluster's nodes see.
const CONSOLE: [&str; 2] = ["/dev/cons", "/dev/consctl"];

/// Whether a lookup of `path` may wait long: a `listen` file's open waits
/// for a caller; under `/n` are nodes mounted at their first use and
/// other machines' files, under `/proc/cluster` other nodes' processes.
/// Only those run apart: handing a lookup to a worker costs a thread's
/// hand-over (every stat through the export took 2.3 x as long).
fn may_wait(path: &str) -> bool {
    let under = |dir: &str| path == dir || path.strip_prefix(dir).is_some_and(|rest| rest.starts_with('/'));
    under("/n") || under(libux::cluster::TREE) || path.ends_with("/listen")
}

/// A qid path for `path`, for files whose server keeps no identity of
/// theirs (synthetic ones): FNV-1a of the path, so two paths of one file
/// get two qids; clients only cache by it.
fn qid_path(path: &str) -> u64 {
    path.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
}

fn time(t: proto::Time) -> Time {
    Time { sec: t.sec, nsec: t.nsec }
}

/// What 9P says of a file: what its server keeps (`ramfs`: identity,
/// mode, owners, times, stored bytes), or for synthetic files a mode by
/// kind and times of 1970.
fn meta(path: &str, m: &Metadata) -> Meta {
    let mut meta = if m.is_dir {
        Meta::dir(qid_path(path), m.version, 0o755, last_name(path))
    } else {
        Meta::file(qid_path(path), m.version, 0o644, m.size, last_name(path))
    };
    if let Some(a) = m.attrs {
        meta.qid.path = a.id;
        meta.mode = (meta.mode & kind::MASK) | (a.mode & 0o7777);
        (meta.uid, meta.gid) = (a.uid, a.gid);
        meta.blocks = a.stored.div_ceil(512);
        (meta.atime, meta.mtime, meta.ctime) = (time(a.atime), time(a.mtime), time(a.ctime));
    }
    meta
}

/// A file of the namespace, and the user who attached the tree it is in
/// (whose id files made through it get, when a client gave one).
#[derive(Clone, Debug)]
pub struct OsNode {
    path: String,
    owner: Option<u32>,
}

#[derive(Default, Clone)]
pub struct OsFs {
    /// The trees clients attached: `..` of one is itself, as 9P has it.
    roots: BTreeSet<String>,
    /// The client proved the cluster's secret. Others see neither the
    /// console nor the cluster's mounts of other nodes (`/n/nodeN`): they
    /// must not reach the other nodes through ours, which proved it.
    cluster: bool,
}

impl OsFs {
    /// The namespace as a client sees it: all of it if it is one of the
    /// `cluster`'s nodes.
    pub fn for_client(cluster: bool) -> OsFs {
        OsFs { cluster, ..OsFs::default() }
    }

    fn exported(&self, path: &str) -> bool {
        self.cluster || !(CONSOLE.contains(&path) || libux::cluster::is_cluster_mount(path))
    }

    /// Where a walk's step from `dir` through `name` leads (`..` of a
    /// root, one an attach named, stays there).
    fn step(&self, dir: &str, name: &str) -> Result<String, Error> {
        Ok(if name == ".." && self.roots.contains(dir) {
            String::from(dir)
        } else if name == ".." {
            String::from(split_last(dir).map_or("/", |(p, _)| p))
        } else if name.is_empty() || name.contains('/') || name.contains('\0') {
            return Err(Error::Invalid);
        } else {
            join(dir, name)
        })
    }

    /// The path of a new file `name` in `dir`, if a client may make it.
    fn new_path(&self, dir: &str, name: &str) -> Result<String, Error> {
        if name.contains('\0') {
            return Err(Error::Invalid);
        }
        let path = join(dir, name);
        if !self.exported(&path) {
            return Err(Error::Permission);
        }
        Ok(path)
    }
}

pub enum OsFile {
    /// Directories are read by listing them.
    Dir,
    File(OsIo),
}

/// An open file's reads and writes, on whichever thread runs them.
#[derive(Clone)]
pub struct OsIo {
    pub file: Arc<File>,
    /// As opened: reads of a file go on past a window's worth only within
    /// it, since a device may never send more.
    size: u64,
}

impl OsIo {
    pub fn read(&self, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        let mut total = 0;
        loop {
            let want = (buf.len() - total).min(IO_WINDOW as usize);
            let n = self.file.pread(offset + total as u64, &mut buf[total..total + want])?;
            total += n;
            if n < want || total == buf.len() || offset + total as u64 >= self.size {
                return Ok(total);
            }
        }
    }

    pub fn write(&self, offset: u64, data: &[u8]) -> Result<usize, Errno> {
        self.file.pwrite(offset, data)
    }
}

fn proto_time(t: SetTime) -> proto::SetTime {
    match t {
        SetTime::Now => proto::SetTime::Now,
        SetTime::At(t) => proto::SetTime::At(proto::Time { sec: t.sec, nsec: t.nsec }),
    }
}

impl Filesystem for OsFs {
    type Node = OsNode;
    type File = OsFile;
    type Io = OsIo;

    /// A `listen` waits for a caller, and what is under `/n` or
    /// `/proc/cluster` may be another machine's.
    fn may_wait(&self, node: &OsNode) -> bool {
        may_wait(&node.path)
    }

    /// A walk into `/n` (a node mounted at its first use, another
    /// machine's files) or `/proc/cluster` (other nodes' processes).
    fn walk_may_wait(&self, from: &OsNode, names: &[&str]) -> bool {
        let mut path = from.path.clone();
        for &name in names {
            if name != "." {
                // (A step that fails ends the walk there, at once.)
                match self.step(&path, name) {
                    Ok(next) => path = next,
                    Err(_) => return false,
                }
            }
            if may_wait(&path) {
                return true;
            }
        }
        false
    }

    fn io(&mut self, file: &OsFile) -> Option<OsIo> {
        match file {
            OsFile::File(io) => Some(io.clone()),
            OsFile::Dir => None,
        }
    }

    fn attach(&mut self, user: User, aname: &str) -> Result<(OsNode, Meta), Error> {
        let path =
            libux::path::normalize("/", if aname.is_empty() { "/" } else { aname }).map_err(|_| Error::Invalid)?;
        if !self.exported(&path) {
            return Err(Error::NotFound);
        }
        let m = client::stat(&path).map_err(to_9p)?;
        if !m.is_dir {
            return Err(Error::NotDir);
        }
        self.roots.insert(path.clone());
        let meta = meta(&path, &m);
        Ok((OsNode { path, owner: user.id }, meta))
    }

    fn walk(&mut self, dir: &OsNode, name: &str) -> Result<(OsNode, Meta), Error> {
        let path = self.step(&dir.path, name)?;
        if !self.exported(&path) {
            return Err(Error::NotFound);
        }
        let m = client::stat(&path).map_err(to_9p)?;
        let meta = meta(&path, &m);
        Ok((OsNode { path, owner: dir.owner }, meta))
    }

    fn meta(&mut self, node: &OsNode) -> Result<Meta, Error> {
        Ok(meta(&node.path, &client::stat(&node.path).map_err(to_9p)?))
    }

    fn open(&mut self, node: &OsNode, mode: OpenMode) -> Result<(OsFile, Meta), Error> {
        let m = client::stat(&node.path).map_err(to_9p)?;
        if m.is_dir {
            return Ok((OsFile::Dir, meta(&node.path, &m)));
        }
        // As the client asked: a control file may refuse readers.
        let mut f = 0;
        for (asked, flag) in [(mode.read, flags::READ), (mode.write, flags::WRITE), (mode.truncate, flags::TRUNCATE)] {
            if asked {
                f |= flag;
            }
        }
        let file = Arc::new(client::open(&node.path, f).map_err(to_9p)?);
        let size = if mode.truncate { 0 } else { m.size };
        let meta = meta(&node.path, &Metadata { size, ..m });
        Ok((OsFile::File(OsIo { file, size }), meta))
    }

    fn read(&mut self, file: &mut OsFile, offset: u64, buf: &mut [u8]) -> Result<usize, Error> {
        let OsFile::File(io) = file else { return Err(Error::IsDir) };
        io.read(offset, buf).map_err(to_9p)
    }

    fn write(&mut self, file: &mut OsFile, offset: u64, data: &[u8]) -> Result<usize, Error> {
        let OsFile::File(io) = file else { return Err(Error::IsDir) };
        let n = io.write(offset, data).map_err(to_9p)?;
        io.size = io.size.max(offset + n as u64);
        Ok(n)
    }

    /// A file made as asked: with the mode, owner and group the client
    /// asked for where its file server keeps them (`ramfs`); with the
    /// server's own where it keeps none.
    fn create(
        &mut self,
        dir: &OsNode,
        name: &str,
        perm: u32,
        gid: Option<u32>,
        mode: OpenMode,
    ) -> Result<(OsNode, OsFile, Meta), Error> {
        let path = self.new_path(&dir.path, name)?;
        let mut f = flags::CREATE | flags::EXCLUSIVE;
        for (asked, flag) in [(mode.read, flags::READ), (mode.write, flags::WRITE)] {
            if asked {
                f |= flag;
            }
        }
        let file = Arc::new(client::open(&path, f).map_err(to_9p)?);
        let meta = self.made(&path, perm, dir.owner, gid)?;
        Ok((OsNode { path, owner: dir.owner }, OsFile::File(OsIo { file, size: 0 }), meta))
    }

    /// Directories only: the file protocol has no links or special files.
    fn make(
        &mut self,
        dir: &OsNode,
        name: &str,
        what: Make,
        perm: u32,
        gid: Option<u32>,
    ) -> Result<(OsNode, Meta), Error> {
        if what != Make::Dir {
            return Err(Error::NotSupported);
        }
        let path = self.new_path(&dir.path, name)?;
        client::mkdir(&path).map_err(to_9p)?;
        let meta = self.made(&path, perm, dir.owner, gid)?;
        Ok((OsNode { path, owner: dir.owner }, meta))
    }

    fn remove(&mut self, node: &OsNode) -> Result<(), Error> {
        client::remove(&node.path).map_err(to_9p)
    }

    fn list(&mut self, dir: &OsNode) -> Result<Vec<Meta>, Error> {
        let all = client::list(&dir.path).map_err(to_9p)?;
        let shown = all.iter().map(|m| (join(&dir.path, &m.name), m)).filter(|(p, _)| self.exported(p));
        Ok(shown.map(|(p, m)| meta(&p, m)).collect())
    }

    fn rename(&mut self, node: &OsNode, to: &OsNode, name: &str) -> Result<(), Error> {
        client::rename(&node.path, &join(&to.path, name)).map_err(to_9p)
    }

    /// A size, and what the file's server keeps (mode, owners, times); a
    /// server that keeps none refuses those: "not supported".
    fn setattr(&mut self, node: &OsNode, c: &Changes) -> Result<(), Error> {
        let kept = AttrChanges {
            mode: c.mode,
            uid: c.uid,
            gid: c.gid,
            atime: c.atime.map(proto_time),
            mtime: c.mtime.map(proto_time),
        };
        // The size first: it may fail (no space), and then nothing of the
        // rest is changed.
        if let Some(size) = c.size {
            client::open(&node.path, flags::WRITE).and_then(|mut f| f.truncate(size)).map_err(to_9p)?;
        }
        if kept != AttrChanges::default() {
            client::set_attrs(&node.path, kept).map_err(to_9p)?;
        }
        Ok(())
    }
}

impl OsFs {
    /// A new file's metadata, once it has the mode and owners asked for
    /// where its server keeps them.
    fn made(&self, path: &str, perm: u32, owner: Option<u32>, gid: Option<u32>) -> Result<Meta, Error> {
        let asked =
            AttrChanges { mode: Some(perm), uid: owner, gid: gid.filter(|&g| g != u32::MAX), ..AttrChanges::default() };
        match client::set_attrs(path, asked) {
            Ok(()) | Err(Errno::NotSupported) => {}
            Err(e) => return Err(to_9p(e)),
        }
        Ok(meta(path, &client::stat(path).map_err(to_9p)?))
    }
}

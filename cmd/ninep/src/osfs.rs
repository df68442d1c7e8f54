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
use fs9p::server::{Changes, Filesystem, Make, Meta, User};
use fs9p::{Error, OpenMode};
use libux::fs::client::{self, File, Metadata};
use libux::fs::flags;
use libux::layout::IO_WINDOW;
use libux::path::{join, last_name, split_last};
use libux::rpc::Errno;

/// Files of the node that only the cluster's nodes see.
const CONSOLE: [&str; 2] = ["/dev/cons", "/dev/consctl"];

/// A qid path for `path`: FNV-1a, since the file protocol has no inode
/// numbers (two paths of one file get two qids; clients only cache by it).
fn qid_path(path: &str) -> u64 {
    path.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
}

fn meta(path: &str, m: &Metadata) -> Meta {
    if m.is_dir {
        Meta::dir(qid_path(path), m.version, 0o755, last_name(path))
    } else {
        Meta::file(qid_path(path), m.version, 0o644, m.size, last_name(path))
    }
}

#[derive(Default)]
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

impl Filesystem for OsFs {
    type Node = String;
    type File = OsFile;
    type Io = OsIo;

    fn io(&mut self, file: &OsFile) -> Option<OsIo> {
        match file {
            OsFile::File(io) => Some(io.clone()),
            OsFile::Dir => None,
        }
    }

    fn attach(&mut self, _: User, aname: &str) -> Result<(String, Meta), Error> {
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
        Ok((path.clone(), meta(&path, &m)))
    }

    fn walk(&mut self, dir: &String, name: &str) -> Result<(String, Meta), Error> {
        let path = if name == ".." && self.roots.contains(dir) {
            dir.clone()
        } else if name == ".." {
            String::from(split_last(dir).map_or("/", |(p, _)| p))
        } else if name.is_empty() || name.contains('/') || name.contains('\0') {
            return Err(Error::Invalid);
        } else {
            join(dir, name)
        };
        if !self.exported(&path) {
            return Err(Error::NotFound);
        }
        let m = client::stat(&path).map_err(to_9p)?;
        Ok((path.clone(), meta(&path, &m)))
    }

    fn meta(&mut self, node: &String) -> Result<Meta, Error> {
        Ok(meta(node, &client::stat(node).map_err(to_9p)?))
    }

    fn open(&mut self, node: &String, mode: OpenMode) -> Result<(OsFile, Meta), Error> {
        let m = client::stat(node).map_err(to_9p)?;
        if m.is_dir {
            return Ok((OsFile::Dir, meta(node, &m)));
        }
        // As the client asked: a control file may refuse readers.
        let mut f = 0;
        for (asked, flag) in [(mode.read, flags::READ), (mode.write, flags::WRITE), (mode.truncate, flags::TRUNCATE)] {
            if asked {
                f |= flag;
            }
        }
        let file = Arc::new(client::open(node, f).map_err(to_9p)?);
        let size = if mode.truncate { 0 } else { m.size };
        Ok((OsFile::File(OsIo { file, size }), meta(node, &Metadata { size, ..m })))
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

    /// Files keep no modes, owners or times here (yet): a file is made
    /// with the file server's, whatever the client asked.
    fn create(
        &mut self,
        dir: &String,
        name: &str,
        _perm: u32,
        _gid: Option<u32>,
        mode: OpenMode,
    ) -> Result<(String, OsFile, Meta), Error> {
        let path = self.new_path(dir, name)?;
        let mut f = flags::CREATE | flags::EXCLUSIVE;
        for (asked, flag) in [(mode.read, flags::READ), (mode.write, flags::WRITE)] {
            if asked {
                f |= flag;
            }
        }
        let file = Arc::new(client::open(&path, f).map_err(to_9p)?);
        let meta = meta(&path, &Metadata { name: String::new(), is_dir: false, size: 0, version: 0 });
        Ok((path, OsFile::File(OsIo { file, size: 0 }), meta))
    }

    /// Directories only: the file protocol has no links or special files.
    fn make(
        &mut self,
        dir: &String,
        name: &str,
        what: Make,
        _perm: u32,
        _gid: Option<u32>,
    ) -> Result<(String, Meta), Error> {
        if what != Make::Dir {
            return Err(Error::NotSupported);
        }
        let path = self.new_path(dir, name)?;
        client::mkdir(&path).map_err(to_9p)?;
        let meta = meta(&path, &Metadata { name: String::new(), is_dir: true, size: 0, version: 0 });
        Ok((path, meta))
    }

    fn remove(&mut self, node: &String) -> Result<(), Error> {
        client::remove(node).map_err(to_9p)
    }

    fn list(&mut self, dir: &String) -> Result<Vec<Meta>, Error> {
        let all = client::list(dir).map_err(to_9p)?;
        let shown = all.iter().map(|m| (join(dir, &m.name), m)).filter(|(p, _)| self.exported(p));
        Ok(shown.map(|(p, m)| meta(&p, m)).collect())
    }

    fn rename(&mut self, node: &String, to: &String, name: &str) -> Result<(), Error> {
        client::rename(node, &join(to, name)).map_err(to_9p)
    }

    /// A size only: modes, owners and times are not kept (yet), and a
    /// change of them is refused rather than dropped.
    fn setattr(&mut self, node: &String, changes: &Changes) -> Result<(), Error> {
        let Some(size) = changes.size else { return Err(Error::NotSupported) };
        if *changes != (Changes { size: Some(size), ..Changes::default() }) {
            return Err(Error::NotSupported);
        }
        client::open(node, flags::WRITE).and_then(|mut f| f.truncate(size)).map_err(to_9p)
    }
}

//! What a 9P server exports: the [`Filesystem`] trait and the types its
//! operations take and give. Each operation touches the backing store
//! once: a walk, an open or a create returns the file's [`Meta`] with
//! it, so the session never asks again.

use crate::error::Error;
use crate::msg::{Lock, OpenMode, Qid, SetAttr, StatFs};
use alloc::string::String;
use alloc::vec::Vec;

/// The kind bits of a POSIX `st_mode` (`S_IFMT` and its values).
pub mod kind {
    pub const MASK: u32 = 0o170000;
    pub const SOCKET: u32 = 0o140000;
    pub const SYMLINK: u32 = 0o120000;
    pub const FILE: u32 = 0o100000;
    pub const BLOCK: u32 = 0o060000;
    pub const DIR: u32 = 0o040000;
    pub const CHAR: u32 = 0o020000;
    pub const FIFO: u32 = 0o010000;
}

/// A point in time: seconds and nanoseconds since 1970 (UTC).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Time {
    pub sec: u64,
    pub nsec: u32,
}

impl Time {
    pub const fn from_secs(sec: u64) -> Time {
        Time { sec, nsec: 0 }
    }
}

/// File metadata, as a file system reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Meta {
    pub qid: Qid,
    /// A POSIX `st_mode`: the file's [`kind`] and its permissions (07777).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u64,
    /// The device a character or block special file stands for.
    pub rdev: u64,
    pub size: u64,
    /// 512-byte blocks the file takes (less than `size` says when sparse).
    pub blocks: u64,
    pub atime: Time,
    pub mtime: Time,
    pub ctime: Time,
    pub name: String,
}

impl Meta {
    /// A directory of permissions `perm`, for file systems that keep no more.
    pub fn dir(path: u64, version: u32, perm: u32, name: &str) -> Meta {
        Meta {
            qid: Qid { ty: Qid::DIR, version, path },
            mode: kind::DIR | perm,
            nlink: 2,
            name: name.into(),
            ..Meta::default()
        }
    }

    /// A plain file of `size` bytes, for file systems that keep no more.
    pub fn file(path: u64, version: u32, perm: u32, size: u64, name: &str) -> Meta {
        Meta {
            qid: Qid { ty: Qid::FILE, version, path },
            mode: kind::FILE | perm,
            nlink: 1,
            size,
            blocks: size.div_ceil(512),
            name: name.into(),
            ..Meta::default()
        }
    }

    pub fn is_dir(&self) -> bool {
        self.qid.ty & Qid::DIR != 0
    }

    pub fn kind(&self) -> u32 {
        self.mode & kind::MASK
    }
}

/// Who attaches: 9P2000's user name, and 9P2000.L's numeric id when the
/// client gave one (which then decides).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct User<'a> {
    pub name: &'a str,
    pub id: Option<u32>,
}

/// What [`Filesystem::make`] makes besides plain files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Make<'a> {
    Dir,
    Symlink { target: &'a str },
    Fifo,
    Socket,
    Char { major: u32, minor: u32 },
    Block { major: u32, minor: u32 },
}

/// A time a change sets: the server's now, or one the client names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetTime {
    Now,
    At(Time),
}

/// The changes of a Tsetattr (or Twstat): each one that is `Some`. A file
/// system applies them all or refuses; it never drops one silently.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Permissions (07777).
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub size: Option<u64>,
    pub atime: Option<SetTime>,
    pub mtime: Option<SetTime>,
}

impl Changes {
    /// Tsetattr's `valid` bits (Linux's `P9_ATTR_*`). A change of ctime
    /// alone asks for nothing the others do not already do.
    pub fn from_setattr(a: &SetAttr) -> Changes {
        let has = |bit: u32| a.valid & bit != 0;
        let time = |bit, set, sec, nsec: u64| {
            has(bit).then(|| {
                if has(set) {
                    SetTime::At(Time { sec, nsec: nsec.min(999_999_999) as u32 })
                } else {
                    SetTime::Now
                }
            })
        };
        Changes {
            mode: has(0x1).then_some(a.mode & 0o7777),
            uid: has(0x2).then_some(a.uid),
            gid: has(0x4).then_some(a.gid),
            size: has(0x8).then_some(a.size),
            atime: time(0x10, 0x80, a.atime_sec, a.atime_nsec),
            mtime: time(0x20, 0x100, a.mtime_sec, a.mtime_nsec),
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Changes::default()
    }
}

/// What a lock request came to (`Rlock`'s status).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockStatus {
    Granted = 0,
    /// Held by another: a blocking client asks again later.
    Blocked = 1,
}

/// The lock types of `Tlock` and `Tgetlock` (Linux's `F_RDLCK`, `F_WRLCK`,
/// `F_UNLCK`).
pub mod lock {
    pub const READ: u8 = 0;
    pub const WRITE: u8 = 1;
    pub const UNLOCK: u8 = 2;
}

/// What a server exports. `Node` names a file (a path, an inode number);
/// `File` is an open file, held by its fid until the fid is clunked
/// (dropping it closes it). Operations a file system does not have keep
/// their default: a clear "not supported".
pub trait Filesystem {
    type Node: Clone;
    type File;
    /// What a read or write of an open file needs to run apart from the
    /// session (see [`Filesystem::io`]).
    type Io: Clone;

    /// `Some` for an open file whose reads and writes may block and should
    /// run apart (with [`Session::handle_apart`](super::Session::handle_apart));
    /// `None` runs them in the session, through `read` and `write`.
    fn io(&mut self, _file: &Self::File) -> Option<Self::Io> {
        None
    }

    /// Whether an open, a getattr, a listing or a change (remove, rename,
    /// setattr; of the directory for an unlink) of `node` may wait long (a `listen`
    /// file's open waits for a caller; another machine's file answers
    /// late, or never): [`Session::handle_apart`](super::Session::handle_apart)
    /// then hands it out to run apart, with the requests on an opened fid
    /// waiting behind it. Handing out costs a thread's hand-over, so only
    /// what may wait should be.
    fn may_wait(&self, _node: &Self::Node) -> bool {
        false
    }

    /// Whether a walk from `from` through `names` may wait long (into a
    /// tree mounted at its first use, or served by another machine), as
    /// [`Filesystem::may_wait`] for opens.
    fn walk_may_wait(&self, _from: &Self::Node, _names: &[&str]) -> bool {
        false
    }

    /// The root of the tree `aname` names, for `user`, and its metadata.
    fn attach(&mut self, user: User, aname: &str) -> Result<(Self::Node, Meta), Error>;
    /// The child `name` of directory `dir` (`..` of the root is the root).
    fn walk(&mut self, dir: &Self::Node, name: &str) -> Result<(Self::Node, Meta), Error>;
    fn meta(&mut self, node: &Self::Node) -> Result<Meta, Error>;
    /// Opens `node` as `mode` asks (truncating it if asked). Directories
    /// are opened for reading only; they are read by `list`.
    fn open(&mut self, node: &Self::Node, mode: OpenMode) -> Result<(Self::File, Meta), Error>;
    fn read(&mut self, file: &mut Self::File, offset: u64, buf: &mut [u8]) -> Result<usize, Error>;
    fn write(&mut self, file: &mut Self::File, offset: u64, data: &[u8]) -> Result<usize, Error>;
    /// Makes the plain file `name` in `dir` with permissions `perm` (and
    /// group `gid`, when the client names one) and opens it as `mode`.
    fn create(
        &mut self,
        dir: &Self::Node,
        name: &str,
        perm: u32,
        gid: Option<u32>,
        mode: OpenMode,
    ) -> Result<(Self::Node, Self::File, Meta), Error>;
    /// Makes a directory, a symbolic link or a special file.
    fn make(
        &mut self,
        dir: &Self::Node,
        name: &str,
        what: Make,
        perm: u32,
        gid: Option<u32>,
    ) -> Result<(Self::Node, Meta), Error>;
    fn remove(&mut self, node: &Self::Node) -> Result<(), Error>;
    /// The entries of a directory, without `.` and `..`.
    fn list(&mut self, dir: &Self::Node) -> Result<Vec<Meta>, Error>;
    /// Renames `node` to `name` in directory `to`.
    fn rename(&mut self, node: &Self::Node, to: &Self::Node, name: &str) -> Result<(), Error>;
    /// Applies all of `changes`, or none and says why.
    fn setattr(&mut self, node: &Self::Node, changes: &Changes) -> Result<(), Error>;

    /// What a symbolic link points to.
    fn readlink(&mut self, _node: &Self::Node) -> Result<String, Error> {
        Err(Error::NotSupported)
    }
    /// Gives `target` a second name, `name` in `dir`.
    fn link(&mut self, _dir: &Self::Node, _name: &str, _target: &Self::Node) -> Result<(), Error> {
        Err(Error::NotSupported)
    }
    /// The file system's size and use. The default knows nothing of it.
    fn statfs(&mut self, _node: &Self::Node) -> Result<StatFs, Error> {
        Ok(StatFs { ty: 0x0102_1997, bsize: 4096, namelen: 255, ..StatFs::default() })
    }
    /// Puts what was written to `file` on stable storage.
    fn fsync(&mut self, _file: &mut Self::File, _data_only: bool) -> Result<(), Error> {
        Ok(())
    }
    /// Takes or gives back a lock on `file`, without waiting.
    fn lock(&mut self, _file: &mut Self::File, _lock: &Lock) -> Result<LockStatus, Error> {
        Err(Error::NotSupported)
    }
    /// A lock that would stop `lock` being taken, or `lock` with type
    /// [`lock::UNLOCK`] if none would.
    fn getlock<'a>(&mut self, _file: &mut Self::File, _lock: &Lock<'a>) -> Result<Lock<'a>, Error> {
        Err(Error::NotSupported)
    }
}

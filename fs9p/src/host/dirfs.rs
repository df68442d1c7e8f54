//! Exporting a host directory with POSIX semantics: files, directories,
//! symbolic links, hard links, special files, modes, owners, nanosecond
//! times, locks.
//!
//! Nodes are paths below the export root, and every system call names
//! one by its parent directory, opened with `openat2` and
//! `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`, and its last name, never
//! followed: a symbolic link is a file like any other (the client reads it
//! and resolves it itself), and no path a client makes, nor one another
//! program swaps in meanwhile, leads outside the export. Only plain files
//! and directories are opened: a FIFO or a device made through the export
//! is the client's to use, not the server's (opening one would block the
//! server, or reach the host's devices).
//!
//! With [`Users::Attaching`] (the server runs as root) each operation
//! runs as the attaching user ([`acting`](super::acting)), so the host's
//! permission checks are the answer; [`Users::Me`] does everything as the
//! server's own user (diod's "squash" mode).

use super::acting::{act, Acting, Cred, Own};
use crate::error::Error;
use crate::msg::{Lock, OpenMode, Qid, StatFs};
use crate::server::{kind, lock, Changes, Filesystem, LockStatus, Make, Meta, SetTime, Time, User};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{self as rfs, AtFlags, FileType, FlockOperation, Mode, OFlags, ResolveFlags, Timespec, Timestamps};
use rustix::io::Errno;
use std::ffi::OsStr;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::string::{String, ToString};
use std::sync::Arc;
use std::vec::Vec;

/// Whose rights an export's operations have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Users {
    /// Each client's attaching user's (9P2000.L's `n_uname`, else the
    /// user name): needs a server running as root. A user the host does
    /// not know is refused.
    Attaching,
    /// The server's own, whoever attaches.
    Me,
}

pub struct DirFs {
    root: OwnedFd,
    users: Users,
    own: Own,
}

/// A file of the export: its path below the root, and who walked to it.
#[derive(Clone, Debug)]
pub struct DirNode {
    path: PathBuf,
    user: Option<Arc<Cred>>,
}

/// An open file or directory.
pub struct DirFile {
    file: File,
    user: Option<Arc<Cred>>,
}

const BENEATH: ResolveFlags = ResolveFlags::BENEATH.union(ResolveFlags::NO_SYMLINKS).union(ResolveFlags::NO_MAGICLINKS);

fn errno(e: Errno) -> Error {
    match e {
        Errno::NOENT => Error::NotFound,
        Errno::ACCESS => Error::Permission,
        Errno::PERM => Error::NotPermitted,
        Errno::EXIST => Error::Exists,
        Errno::NOTEMPTY => Error::NotEmpty,
        Errno::NOTDIR => Error::NotDir,
        Errno::ISDIR => Error::IsDir,
        Errno::NOSPC | Errno::DQUOT => Error::NoSpace,
        Errno::ROFS => Error::ReadOnly,
        Errno::NAMETOOLONG => Error::NameTooLong,
        Errno::LOOP => Error::Loop,
        Errno::XDEV => Error::CrossDevice,
        Errno::MLINK => Error::TooManyLinks,
        Errno::FBIG => Error::TooBig,
        Errno::INVAL => Error::Invalid,
        Errno::OPNOTSUPP | Errno::NOSYS => Error::NotSupported,
        Errno::AGAIN => Error::Busy,
        Errno::INTR => Error::Interrupted,
        Errno::BADF => Error::BadFid,
        _ => Error::Io,
    }
}

fn io(e: std::io::Error) -> Error {
    e.raw_os_error().map_or(Error::Io, |n| errno(Errno::from_raw_os_error(n)))
}

fn time(sec: i64, nsec: u64) -> Time {
    Time { sec: sec.max(0) as u64, nsec: nsec.min(999_999_999) as u32 }
}

fn meta_of(st: &rfs::Stat, name: String) -> Meta {
    let ty = match st.st_mode & kind::MASK {
        kind::DIR => Qid::DIR,
        kind::SYMLINK => Qid::SYMLINK,
        _ => Qid::FILE,
    };
    // The version changes with each modification the host records.
    let version = (st.st_mtime as u64).wrapping_mul(1_000_000_000).wrapping_add(st.st_mtime_nsec) as u32;
    Meta {
        qid: Qid { ty, version, path: st.st_ino },
        mode: st.st_mode,
        uid: st.st_uid,
        gid: st.st_gid,
        nlink: st.st_nlink,
        rdev: st.st_rdev,
        size: st.st_size.max(0) as u64,
        blocks: st.st_blocks.max(0) as u64,
        atime: time(st.st_atime, st.st_atime_nsec),
        mtime: time(st.st_mtime, st.st_mtime_nsec),
        ctime: time(st.st_ctime, st.st_ctime_nsec),
        name,
    }
}

fn name_of(path: &Path) -> String {
    path.file_name().map_or_else(|| "/".to_string(), |n| n.to_string_lossy().into_owned())
}

fn timespec(t: Option<SetTime>) -> Timespec {
    match t {
        None => Timespec { tv_sec: 0, tv_nsec: rfs::UTIME_OMIT },
        Some(SetTime::Now) => Timespec { tv_sec: 0, tv_nsec: rfs::UTIME_NOW },
        Some(SetTime::At(t)) => Timespec { tv_sec: t.sec.min(i64::MAX as u64) as i64, tv_nsec: t.nsec.into() },
    }
}

impl DirFs {
    pub fn new(root: impl AsRef<Path>, users: Users) -> std::io::Result<DirFs> {
        let root = rfs::open(root.as_ref(), OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
        if users == Users::Attaching && !rustix::process::geteuid().is_root() {
            return Err(std::io::Error::other("acting as each attaching user needs root; export as one user instead"));
        }
        Ok(DirFs { root, users, own: Own::now()? })
    }

    /// Acts as `user` until the guard is dropped (nothing to do as `Me`).
    fn act(&self, user: &Option<Arc<Cred>>) -> Result<Option<Acting<'_>>, Error> {
        Ok(user.as_ref().map(|c| act(c, &self.own)).transpose()?.flatten())
    }

    /// A directory of the export, opened to name things in it.
    fn dir(&self, path: &Path) -> Result<OwnedFd, Error> {
        let path = if path.as_os_str().is_empty() { Path::new(".") } else { path };
        rfs::openat2(&self.root, path, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty(), BENEATH)
            .map_err(errno)
    }

    /// The directory holding `path` and its last name (`.` for the root).
    fn parent<'p>(&self, path: &'p Path) -> Result<(OwnedFd, &'p OsStr), Error> {
        match (path.parent(), path.file_name()) {
            (Some(parent), Some(name)) => Ok((self.dir(parent)?, name)),
            _ => Ok((self.dir(Path::new(""))?, OsStr::new("."))),
        }
    }

    fn stat_at(dir: BorrowedFd, name: &OsStr) -> Result<rfs::Stat, Error> {
        rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).map_err(errno)
    }

    fn stat(&self, path: &Path) -> Result<Meta, Error> {
        let (dir, name) = self.parent(path)?;
        Ok(meta_of(&Self::stat_at(dir.as_fd(), name)?, name_of(path)))
    }

    /// Opens a plain file or a directory, never following a link, never
    /// waiting (a FIFO swapped in is refused, not waited on).
    fn open_file(&self, path: &Path, flags: OFlags) -> Result<(File, rfs::Stat), Error> {
        let path = if path.as_os_str().is_empty() { Path::new(".") } else { path };
        let fd = rfs::openat2(
            &self.root,
            path,
            flags | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
            BENEATH,
        )
        .map_err(errno)?;
        let st = rfs::fstat(&fd).map_err(errno)?;
        if !matches!(st.st_mode & kind::MASK, kind::FILE | kind::DIR) {
            return Err(Error::NotSupported);
        }
        Ok((File::from(fd), st))
    }

    /// Sets permissions without following a link: through an `O_PATH`
    /// descriptor of the file itself, as `fchmodat` cannot.
    fn chmod(&self, path: &Path, mode: u32) -> Result<(), Error> {
        let path = if path.as_os_str().is_empty() { Path::new(".") } else { path };
        let fd =
            rfs::openat2(&self.root, path, OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty(), BENEATH)
                .map_err(errno)?;
        if rfs::fstat(&fd).map_err(errno)?.st_mode & kind::MASK == kind::SYMLINK {
            return Err(Error::NotSupported); // a link's own mode means nothing
        }
        let by_fd = std::format!("/proc/thread-self/fd/{}", rustix::fd::AsRawFd::as_raw_fd(&fd));
        rfs::chmod(by_fd.as_str(), Mode::from_raw_mode(mode)).map_err(errno)
    }

    /// Gives a new file the group the client asked for, if not its own.
    fn regroup(&self, dir: BorrowedFd, name: &str, st: &rfs::Stat, gid: Option<u32>) -> Result<(), Error> {
        match gid {
            Some(g) if g != st.st_gid && g != u32::MAX => {
                rfs::chownat(dir, name, None, Some(rfs::Gid::from_raw_unchecked(g)), AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(errno)
            }
            _ => Ok(()),
        }
    }
}

impl Filesystem for DirFs {
    type Node = DirNode;
    type File = DirFile;
    type Io = ();

    fn attach(&mut self, user: User, aname: &str) -> Result<(DirNode, Meta), Error> {
        let cred = match self.users {
            Users::Me => None,
            Users::Attaching => Some(Arc::new(Cred::lookup(user.id, user.name).ok_or(Error::Permission)?)),
        };
        // The export is one tree; an aname may name a directory in it.
        let mut node = DirNode { path: PathBuf::new(), user: cred };
        let mut meta = self.meta(&node)?;
        for part in aname.split('/').filter(|p| !p.is_empty()) {
            (node, meta) = self.walk(&node, part)?;
        }
        Ok((node, meta))
    }

    fn walk(&mut self, dir: &DirNode, name: &str) -> Result<(DirNode, Meta), Error> {
        let _as = self.act(&dir.user)?;
        let path = if name == ".." {
            dir.path.parent().map(Path::to_path_buf).unwrap_or_default()
        } else if name.is_empty() || name == "." || name.contains('/') || name.contains('\0') {
            return Err(Error::Invalid);
        } else {
            dir.path.join(name)
        };
        let meta = self.stat(&path)?;
        Ok((DirNode { path, user: dir.user.clone() }, meta))
    }

    fn meta(&mut self, node: &DirNode) -> Result<Meta, Error> {
        let _as = self.act(&node.user)?;
        self.stat(&node.path)
    }

    fn open(&mut self, node: &DirNode, mode: OpenMode) -> Result<(DirFile, Meta), Error> {
        let _as = self.act(&node.user)?;
        let access = match (mode.read, mode.write) {
            (_, false) => OFlags::RDONLY,
            (false, true) => OFlags::WRONLY,
            (true, true) => OFlags::RDWR,
        };
        let trunc = if mode.truncate { OFlags::TRUNC } else { OFlags::empty() };
        let (file, st) = self.open_file(&node.path, access | trunc)?;
        Ok((DirFile { file, user: node.user.clone() }, meta_of(&st, name_of(&node.path))))
    }

    fn read(&mut self, file: &mut DirFile, offset: u64, buf: &mut [u8]) -> Result<usize, Error> {
        file.file.read_at(buf, offset).map_err(io)
    }

    fn write(&mut self, file: &mut DirFile, offset: u64, data: &[u8]) -> Result<usize, Error> {
        // As the user: the host clears set-id bits on a write by another.
        let _as = self.act(&file.user)?;
        file.file.write_all_at(data, offset).map_err(io)?;
        Ok(data.len())
    }

    fn create(
        &mut self,
        dir: &DirNode,
        name: &str,
        perm: u32,
        gid: Option<u32>,
        mode: OpenMode,
    ) -> Result<(DirNode, DirFile, Meta), Error> {
        let _as = self.act(&dir.user)?;
        let parent = self.dir(&dir.path)?;
        let access = if mode.read && mode.write {
            OFlags::RDWR
        } else if mode.write {
            OFlags::WRONLY
        } else {
            OFlags::RDONLY
        };
        let flags = access | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rfs::openat(&parent, name, flags, Mode::from_raw_mode(perm & 0o7777)).map_err(errno)?;
        // The mode asked for, whatever the server's umask.
        rfs::fchmod(&fd, Mode::from_raw_mode(perm & 0o7777)).map_err(errno)?;
        let st = rfs::fstat(&fd).map_err(errno)?;
        self.regroup(parent.as_fd(), name, &st, gid)?;
        let st = rfs::fstat(&fd).map_err(errno)?;
        let node = DirNode { path: dir.path.join(name), user: dir.user.clone() };
        Ok((node, DirFile { file: File::from(fd), user: dir.user.clone() }, meta_of(&st, name.to_string())))
    }

    fn make(
        &mut self,
        dir: &DirNode,
        name: &str,
        what: Make,
        perm: u32,
        gid: Option<u32>,
    ) -> Result<(DirNode, Meta), Error> {
        let _as = self.act(&dir.user)?;
        let parent = self.dir(&dir.path)?;
        let path = dir.path.join(name);
        let perm = Mode::from_raw_mode(perm & 0o7777);
        let dev = |major, minor| rustix::fs::makedev(major, minor);
        match what {
            Make::Dir => rfs::mkdirat(&parent, name, perm),
            Make::Symlink { target } => rfs::symlinkat(target, &parent, name),
            Make::Fifo => rfs::mknodat(&parent, name, FileType::Fifo, perm, 0),
            Make::Socket => rfs::mknodat(&parent, name, FileType::Socket, perm, 0),
            Make::Char { major, minor } => {
                rfs::mknodat(&parent, name, FileType::CharacterDevice, perm, dev(major, minor))
            }
            Make::Block { major, minor } => rfs::mknodat(&parent, name, FileType::BlockDevice, perm, dev(major, minor)),
        }
        .map_err(errno)?;
        if !matches!(what, Make::Symlink { .. }) {
            self.chmod(&path, perm.bits())?; // what was asked, whatever the umask
        }
        let st = Self::stat_at(parent.as_fd(), OsStr::new(name))?;
        self.regroup(parent.as_fd(), name, &st, gid)?;
        let st = Self::stat_at(parent.as_fd(), OsStr::new(name))?;
        Ok((DirNode { path, user: dir.user.clone() }, meta_of(&st, name.to_string())))
    }

    fn remove(&mut self, node: &DirNode) -> Result<(), Error> {
        if node.path.as_os_str().is_empty() {
            return Err(Error::Permission); // the export root stays
        }
        let _as = self.act(&node.user)?;
        let (dir, name) = self.parent(&node.path)?;
        let is_dir = Self::stat_at(dir.as_fd(), name)?.st_mode & kind::MASK == kind::DIR;
        rfs::unlinkat(&dir, name, if is_dir { AtFlags::REMOVEDIR } else { AtFlags::empty() }).map_err(errno)
    }

    fn list(&mut self, dir: &DirNode) -> Result<Vec<Meta>, Error> {
        let _as = self.act(&dir.user)?;
        let path = if dir.path.as_os_str().is_empty() { Path::new(".") } else { dir.path.as_path() };
        let fd = rfs::openat2(
            &self.root,
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            BENEATH,
        )
        .map_err(errno)?;
        let mut out = Vec::new();
        for entry in rfs::Dir::read_from(&fd).map_err(errno)? {
            let entry = entry.map_err(errno)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == "." || name == ".." {
                continue;
            }
            // An entry that vanished meanwhile is left out.
            if let Ok(st) = Self::stat_at(fd.as_fd(), OsStr::new(&name)) {
                out.push(meta_of(&st, name));
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn rename(&mut self, node: &DirNode, to: &DirNode, name: &str) -> Result<(), Error> {
        if node.path.as_os_str().is_empty() {
            return Err(Error::Permission);
        }
        let _as = self.act(&node.user)?;
        let (from, old) = self.parent(&node.path)?;
        let to = self.dir(&to.path)?;
        rfs::renameat(&from, old, &to, name).map_err(errno)
    }

    fn setattr(&mut self, node: &DirNode, c: &Changes) -> Result<(), Error> {
        let _as = self.act(&node.user)?;
        let (dir, name) = self.parent(&node.path)?;
        if c.uid.is_some() || c.gid.is_some() {
            let uid = c.uid.map(rfs::Uid::from_raw_unchecked);
            let gid = c.gid.map(rfs::Gid::from_raw_unchecked);
            rfs::chownat(&dir, name, uid, gid, AtFlags::SYMLINK_NOFOLLOW).map_err(errno)?;
        }
        if let Some(mode) = c.mode {
            self.chmod(&node.path, mode)?;
        }
        if let Some(size) = c.size {
            let (file, _) = self.open_file(&node.path, OFlags::WRONLY)?;
            file.set_len(size).map_err(io)?;
        }
        if c.atime.is_some() || c.mtime.is_some() {
            let times = Timestamps { last_access: timespec(c.atime), last_modification: timespec(c.mtime) };
            rfs::utimensat(&dir, name, &times, AtFlags::SYMLINK_NOFOLLOW).map_err(errno)?;
        }
        Ok(())
    }

    fn readlink(&mut self, node: &DirNode) -> Result<String, Error> {
        let _as = self.act(&node.user)?;
        let (dir, name) = self.parent(&node.path)?;
        let target = rfs::readlinkat(&dir, name, Vec::new()).map_err(errno)?;
        target.into_string().map_err(|_| Error::Invalid) // 9P strings are UTF-8
    }

    fn link(&mut self, dir: &DirNode, name: &str, target: &DirNode) -> Result<(), Error> {
        let _as = self.act(&dir.user)?;
        let (from, old) = self.parent(&target.path)?;
        let to = self.dir(&dir.path)?;
        rfs::linkat(&from, old, &to, name, AtFlags::empty()).map_err(errno)
    }

    fn statfs(&mut self, node: &DirNode) -> Result<StatFs, Error> {
        let _as = self.act(&node.user)?;
        let (dir, _) = self.parent(&node.path)?;
        let s = rfs::fstatfs(&dir).map_err(errno)?;
        Ok(StatFs {
            ty: s.f_type as u32,
            bsize: s.f_bsize as u32,
            blocks: s.f_blocks,
            bfree: s.f_bfree,
            bavail: s.f_bavail,
            files: s.f_files,
            ffree: s.f_ffree,
            fsid: 0,
            namelen: s.f_namelen as u32,
        })
    }

    fn fsync(&mut self, file: &mut DirFile, data_only: bool) -> Result<(), Error> {
        if data_only { rfs::fdatasync(&file.file) } else { rfs::fsync(&file.file) }.map_err(errno)
    }

    /// Whole-file locks on the fid's own open file, as diod takes them: a
    /// range is widened to the file, which may refuse more than asked but
    /// never grants a conflicting lock.
    fn lock(&mut self, file: &mut DirFile, l: &Lock) -> Result<LockStatus, Error> {
        let op = match l.ty {
            lock::READ => FlockOperation::NonBlockingLockShared,
            lock::WRITE => FlockOperation::NonBlockingLockExclusive,
            _ => FlockOperation::NonBlockingUnlock,
        };
        match rfs::flock(&file.file, op) {
            Ok(()) => Ok(LockStatus::Granted),
            Err(Errno::WOULDBLOCK) => Ok(LockStatus::Blocked),
            Err(e) => Err(errno(e)),
        }
    }

    fn getlock<'a>(&mut self, file: &mut DirFile, l: &Lock<'a>) -> Result<Lock<'a>, Error> {
        if l.ty == lock::UNLOCK {
            return Ok(*l);
        }
        // Another holds a conflicting lock if we cannot take this one.
        let want = if l.ty == lock::READ {
            FlockOperation::NonBlockingLockShared
        } else {
            FlockOperation::NonBlockingLockExclusive
        };
        match rfs::flock(&file.file, want) {
            Ok(()) => {
                rfs::flock(&file.file, FlockOperation::NonBlockingUnlock).map_err(errno)?;
                Ok(Lock { ty: lock::UNLOCK, ..*l })
            }
            Err(Errno::WOULDBLOCK) => Ok(Lock { ty: lock::WRITE, start: 0, length: 0, proc_id: 0, ..*l }),
            Err(e) => Err(errno(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_too_long_for_the_host_says_so() {
        let dir = std::env::temp_dir().join(std::format!("fs9p-dirfs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut d = DirFs::new(&dir, Users::Me).unwrap();
        let (root, _) = d.attach(User { name: "u", id: None }, "").unwrap();
        let long = "n".repeat(300);
        assert_eq!(d.create(&root, &long, 0o644, None, OpenMode::WRITE).err(), Some(Error::NameTooLong));
        assert!(d.create(&root, "short", 0o644, None, OpenMode::WRITE).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

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
//! server's own user (diod's "squash" mode). The attaching user is who
//! the client says it is (as NFS's AUTH_SYS): export only to clients
//! trusted to say so. Root is squashed to `nobody` unless allowed, as an
//! NFS export's `root_squash` does.
//!
//! Each serving thread has its own umask, 0 (`unshare(CLONE_FS)`), so a
//! file is made with exactly the mode asked, and its group is set by
//! making it as that group: nothing is changed by name afterwards, which
//! another program could race. Locks are open-file-description locks
//! (`F_OFD_SETLK`) on the fid's own open file, with their ranges.

use super::acting::{act, Acting, Cred, Own};
use crate::error::Error;
use crate::msg::{Lock, OpenMode, Qid, StatFs};
use crate::server::{kind, lock, Changes, Filesystem, LockStatus, Make, Meta, SetTime, Time, User};
use nix::fcntl::{fcntl, FcntlArg};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, ResolveFlags, Timespec, Timestamps};
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
    /// not know is refused; root is `nobody` unless `allow_root`.
    Attaching { allow_root: bool },
    /// The server's own, whoever attaches.
    Me,
}

/// An export. Clones share the directory: one per connection, so that
/// connections' operations run at once.
#[derive(Clone)]
pub struct DirFs {
    root: Arc<OwnedFd>,
    users: Users,
    own: Arc<Own>,
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
        if users != Users::Me && !rustix::process::geteuid().is_root() {
            return Err(std::io::Error::other("acting as each attaching user needs root; export as one user instead"));
        }
        Ok(DirFs { root: Arc::new(root), users, own: Arc::new(Own::now()?) })
    }

    /// Acts as `user` until the guard is dropped (nothing to do as `Me`).
    fn act(&self, user: &Option<Arc<Cred>>) -> Result<Option<Acting<'_>>, Error> {
        Ok(user.as_ref().map(|c| act(c, &self.own)).transpose()?.flatten())
    }

    /// Acts as `user` making a file of group `gid` (one of the user's):
    /// what the new file's group is, with no change after it is made.
    fn act_making(&self, user: &Option<Arc<Cred>>, gid: Option<u32>) -> Result<Option<Acting<'_>>, Error> {
        own_umask()?;
        match (user, gid.filter(|&g| g != u32::MAX)) {
            (Some(c), Some(g)) => act(&c.with_group(g)?, &self.own),
            _ => self.act(user),
        }
    }

    /// A directory of the export, opened to name things in it.
    fn dir(&self, path: &Path) -> Result<OwnedFd, Error> {
        let path = if path.as_os_str().is_empty() { Path::new(".") } else { path };
        rfs::openat2(&*self.root, path, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty(), BENEATH)
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

    /// The file at `path` itself (`O_PATH`, never a link followed).
    fn pin(&self, path: &Path) -> Result<(OwnedFd, rfs::Stat), Error> {
        let path = if path.as_os_str().is_empty() { Path::new(".") } else { path };
        let flags = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rfs::openat2(&*self.root, path, flags, Mode::empty(), BENEATH).map_err(errno)?;
        let st = rfs::fstat(&fd).map_err(errno)?;
        Ok((fd, st))
    }

    /// Opens a plain file or a directory. The file is pinned and its kind
    /// checked first, then it is opened through the pin: a device's or a
    /// FIFO's open (which may act, or wait) never runs, and one swapped in
    /// meanwhile is not reached.
    fn open_file(&self, path: &Path, flags: OFlags) -> Result<(File, rfs::Stat), Error> {
        let (pin, st) = self.pin(path)?;
        match st.st_mode & kind::MASK {
            kind::FILE | kind::DIR => {}
            kind::SYMLINK => return Err(Error::Loop), // as open(O_NOFOLLOW) says
            _ => return Err(Error::NotSupported),
        }
        let flags = flags | OFlags::NOCTTY | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let fd = rfs::open(by_fd(&pin).as_str(), flags, Mode::empty()).map_err(errno)?;
        Ok((File::from(fd), st))
    }

    /// Sets permissions without following a link: through the pinned file
    /// itself, as `fchmodat` cannot.
    fn chmod(&self, path: &Path, mode: u32) -> Result<(), Error> {
        let (pin, st) = self.pin(path)?;
        if st.st_mode & kind::MASK == kind::SYMLINK {
            return Err(Error::NotSupported); // a link's own mode means nothing
        }
        rfs::chmod(by_fd(&pin).as_str(), Mode::from_raw_mode(mode)).map_err(errno)
    }
}

/// The path that reaches a pinned file itself (the magic link, which
/// names the file, not a path to it).
fn by_fd(pin: &OwnedFd) -> String {
    std::format!("/proc/thread-self/fd/{}", rustix::fd::AsRawFd::as_raw_fd(pin))
}

impl Filesystem for DirFs {
    type Node = DirNode;
    type File = DirFile;
    type Io = ();

    fn attach(&mut self, user: User, aname: &str) -> Result<(DirNode, Meta), Error> {
        let cred = match self.users {
            Users::Me => None,
            Users::Attaching { allow_root } => {
                let cred = Cred::lookup(user.id, user.name).ok_or(Error::Permission)?;
                let squashed = cred.uid == 0 && !allow_root;
                let cred = match squashed {
                    true => Cred { squashed: true, ..Cred::lookup(None, "nobody").ok_or(Error::Permission)? },
                    false => cred,
                };
                Some(Arc::new(cred))
            }
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
        let _as = self.act_making(&dir.user, gid)?;
        let parent = self.dir(&dir.path)?;
        let access = if mode.read && mode.write {
            OFlags::RDWR
        } else if mode.write {
            OFlags::WRONLY
        } else {
            OFlags::RDONLY
        };
        let flags = access | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::NOCTTY | OFlags::CLOEXEC;
        let fd = rfs::openat(&parent, name, flags, Mode::from_raw_mode(perm & 0o7777)).map_err(errno)?;
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
        let _as = self.act_making(&dir.user, gid)?;
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
            &*self.root,
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
        // The size before the mode: a truncate by the owner clears set-id
        // bits, and a mode without write permission would refuse it.
        if let Some(size) = c.size {
            let (file, _) = self.open_file(&node.path, OFlags::WRONLY)?;
            file.set_len(size).map_err(io)?;
        }
        if let Some(mode) = c.mode {
            self.chmod(&node.path, mode)?;
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

    /// Open-file-description locks on the fid's own open file, with the
    /// client's range: another fid's (another client's) conflict; the
    /// fid's own are replaced, as fcntl's are.
    fn lock(&mut self, file: &mut DirFile, l: &Lock) -> Result<LockStatus, Error> {
        match fcntl(&file.file, FcntlArg::F_OFD_SETLK(&flock_of(l))) {
            Ok(_) => Ok(LockStatus::Granted),
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EACCES) => Ok(LockStatus::Blocked),
            Err(e) => Err(errno(Errno::from_raw_os_error(e as i32))),
        }
    }

    fn getlock<'a>(&mut self, file: &mut DirFile, l: &Lock<'a>) -> Result<Lock<'a>, Error> {
        let mut fl = flock_of(l);
        fcntl(&file.file, FcntlArg::F_OFD_GETLK(&mut fl)).map_err(|e| errno(Errno::from_raw_os_error(e as i32)))?;
        let ty = match i32::from(fl.l_type) {
            libc::F_RDLCK => lock::READ,
            libc::F_WRLCK => lock::WRITE,
            _ => lock::UNLOCK,
        };
        // Another open file's lock belongs to no process of the client's.
        Ok(Lock { ty, start: fl.l_start.max(0) as u64, length: fl.l_len.max(0) as u64, proc_id: 0, ..*l })
    }
}

/// A 9P lock as `fcntl` takes it (length 0: to the end, in both).
fn flock_of(l: &Lock) -> libc::flock {
    // SAFETY: `flock` is plain old data, for which all zeros is valid.
    let mut fl: libc::flock = unsafe { core::mem::zeroed() };
    fl.l_type = match l.ty {
        lock::READ => libc::F_RDLCK,
        lock::WRITE => libc::F_WRLCK,
        _ => libc::F_UNLCK,
    } as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = l.start.min(i64::MAX as u64) as i64;
    fl.l_len = l.length.min(i64::MAX as u64) as i64;
    fl
}

/// Gives the calling thread its own umask, 0, once: new files get exactly
/// the mode a client asks for (the client applied its user's umask).
fn own_umask() -> Result<(), Error> {
    std::thread_local!(static DONE: core::cell::Cell<bool> = const { core::cell::Cell::new(false) });
    if !DONE.get() {
        // SAFETY: only CLONE_FS: this thread gets its own root, working
        // directory and umask; the file descriptor table stays shared.
        unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::FS) }.map_err(errno)?;
        rustix::process::umask(Mode::empty());
        DONE.set(true);
    }
    Ok(())
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

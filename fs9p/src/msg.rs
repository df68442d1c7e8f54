//! The messages of 9P2000 (Plan 9 `intro(5)`) and 9P2000.L (the Linux
//! dialect of v9fs/diod), as borrowed views of their bytes.

use heapless::Vec;

/// The tag of Tversion/Rversion.
pub const NOTAG: u16 = 0xffff;
/// "No fid" in Tauth/Tattach `afid`.
pub const NOFID: u32 = 0xffff_ffff;
/// "No numeric user" in 9P2000.L's Tauth/Tattach `n_uname`: the name decides.
pub const NONUNAME: u32 = 0xffff_ffff;
/// Names a walk may take at most (MAXWELEM).
pub const MAXWELEM: usize = 16;
/// Bytes of the header: size[4] type[1] tag[2].
pub const HEADER: usize = 7;

/// Which protocol a connection speaks, as negotiated by Tversion. Only
/// Tauth, Tattach and error replies are spelled differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// Plain 9P2000.
    P2000,
    /// 9P2000.L.
    L,
}

impl Dialect {
    pub const fn version(self) -> &'static str {
        match self {
            Dialect::P2000 => "9P2000",
            Dialect::L => "9P2000.L",
        }
    }

    pub fn from_version(v: &str) -> Option<Dialect> {
        match v {
            "9P2000" => Some(Dialect::P2000),
            "9P2000.L" => Some(Dialect::L),
            _ => None,
        }
    }

    /// What a server answers a client's Tversion `v` with (version(5)):
    /// 9P2000.L as asked; otherwise the version before any `.suffix` is
    /// `9Pnnnn`, and a server may answer any 9Pnnnn up to it: 9P2000 for
    /// `9P2000.u` or a later 9P. None: answer "unknown".
    pub fn negotiate(v: &str) -> Option<Dialect> {
        if v == "9P2000.L" {
            return Some(Dialect::L);
        }
        let digits = v.split('.').next()?.strip_prefix("9P")?;
        let n: u32 = digits.parse().ok().filter(|_| digits.bytes().all(|b| b.is_ascii_digit()))?;
        (n >= 2000).then_some(Dialect::P2000)
    }
}

/// How a fid is opened: Topen's mode (Plan 9 `open(5)`: OREAD 0, OWRITE
/// 1, ORDWR 2, OEXEC 3, OTRUNC 0x10) or Tlopen's and Tlcreate's flags
/// (Linux: O_RDONLY 0, O_WRONLY 1, O_RDWR 2, O_TRUNC 0o1000), told to the
/// file server as the client asked: a control file may refuse readers, so
/// "write" must not become "read and write" on the way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenMode {
    pub read: bool,
    pub write: bool,
    /// Empty the file first.
    pub truncate: bool,
}

impl OpenMode {
    pub const READ: OpenMode = OpenMode { read: true, write: false, truncate: false };
    pub const WRITE: OpenMode = OpenMode { read: false, write: true, truncate: false };
    pub const READ_WRITE: OpenMode = OpenMode { read: true, write: true, truncate: false };

    pub const fn truncated(self) -> OpenMode {
        OpenMode { truncate: true, ..self }
    }

    /// Topen's mode; OEXEC reads.
    pub fn from_p2000(mode: u8) -> OpenMode {
        let (read, write) = match mode & 3 {
            0 | 3 => (true, false),
            1 => (false, true),
            _ => (true, true),
        };
        OpenMode { read, write, truncate: mode & 0x10 != 0 }
    }

    /// Tlopen's flags; the access mode 3 (which Linux does not define)
    /// reads and writes.
    pub fn from_l(flags: u32) -> OpenMode {
        let (read, write) = match flags & 3 {
            0 => (true, false),
            1 => (false, true),
            _ => (true, true),
        };
        OpenMode { read, write, truncate: flags & 0o1000 != 0 }
    }

    pub fn p2000(self) -> u8 {
        self.access() | if self.truncate { 0x10 } else { 0 }
    }

    pub fn l(self) -> u32 {
        u32::from(self.access()) | if self.truncate { 0o1000 } else { 0 }
    }

    /// The access bits, which both dialects number alike (read 0, write
    /// 1, both 2).
    fn access(self) -> u8 {
        match (self.read, self.write) {
            (true, true) => 2,
            (false, true) => 1,
            _ => 0,
        }
    }
}

/// A file's server-wide identity: type bits, version, path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Qid {
    pub ty: u8,
    pub version: u32,
    pub path: u64,
}

impl Qid {
    pub const DIR: u8 = 0x80;
    pub const APPEND: u8 = 0x40;
    pub const EXCL: u8 = 0x20;
    pub const AUTH: u8 = 0x08;
    pub const SYMLINK: u8 = 0x02;
    pub const FILE: u8 = 0x00;
}

/// A 9P2000 `stat` structure (without its leading size, which the codec
/// computes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stat<'a> {
    pub ty: u16,
    pub dev: u32,
    pub qid: Qid,
    pub mode: u32,
    pub atime: u32,
    pub mtime: u32,
    pub length: u64,
    pub name: &'a str,
    pub uid: &'a str,
    pub gid: &'a str,
    pub muid: &'a str,
}

/// `Rgetattr`'s attributes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Attr {
    pub valid: u64,
    pub qid: Qid,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u64,
    pub rdev: u64,
    pub size: u64,
    pub blksize: u64,
    pub blocks: u64,
    pub atime_sec: u64,
    pub atime_nsec: u64,
    pub mtime_sec: u64,
    pub mtime_nsec: u64,
    pub ctime_sec: u64,
    pub ctime_nsec: u64,
    pub btime_sec: u64,
    pub btime_nsec: u64,
    pub gen: u64,
    pub data_version: u64,
}

/// `Tsetattr`'s changes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SetAttr {
    pub valid: u32,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub atime_sec: u64,
    pub atime_nsec: u64,
    pub mtime_sec: u64,
    pub mtime_nsec: u64,
}

/// `Rstatfs`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatFs {
    pub ty: u32,
    pub bsize: u32,
    pub blocks: u64,
    pub bfree: u64,
    pub bavail: u64,
    pub files: u64,
    pub ffree: u64,
    pub fsid: u64,
    pub namelen: u32,
}

/// A byte-range lock (`Tlock`, `Tgetlock`, `Rgetlock`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lock<'a> {
    pub ty: u8,
    pub start: u64,
    pub length: u64,
    pub proc_id: u32,
    pub client_id: &'a str,
}

/// One message. Field names follow the protocol documents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Msg<'a> {
    Tversion {
        msize: u32,
        version: &'a str,
    },
    Rversion {
        msize: u32,
        version: &'a str,
    },
    /// `n_uname` is present in 9P2000.L only.
    Tauth {
        afid: u32,
        uname: &'a str,
        aname: &'a str,
        n_uname: Option<u32>,
    },
    Rauth {
        aqid: Qid,
    },
    Tattach {
        fid: u32,
        afid: u32,
        uname: &'a str,
        aname: &'a str,
        n_uname: Option<u32>,
    },
    Rattach {
        qid: Qid,
    },
    /// 9P2000 errors.
    Rerror {
        ename: &'a str,
    },
    /// 9P2000.L errors: a Linux errno.
    Rlerror {
        ecode: u32,
    },
    Tflush {
        oldtag: u16,
    },
    Rflush,
    Twalk {
        fid: u32,
        newfid: u32,
        wnames: Vec<&'a str, MAXWELEM>,
    },
    Rwalk {
        wqids: Vec<Qid, MAXWELEM>,
    },
    Topen {
        fid: u32,
        mode: u8,
    },
    Ropen {
        qid: Qid,
        iounit: u32,
    },
    Tcreate {
        fid: u32,
        name: &'a str,
        perm: u32,
        mode: u8,
    },
    Rcreate {
        qid: Qid,
        iounit: u32,
    },
    Tread {
        fid: u32,
        offset: u64,
        count: u32,
    },
    Rread {
        data: &'a [u8],
    },
    Twrite {
        fid: u32,
        offset: u64,
        data: &'a [u8],
    },
    Rwrite {
        count: u32,
    },
    Tclunk {
        fid: u32,
    },
    Rclunk,
    Tremove {
        fid: u32,
    },
    Rremove,
    Tstat {
        fid: u32,
    },
    Rstat {
        stat: Stat<'a>,
    },
    Twstat {
        fid: u32,
        stat: Stat<'a>,
    },
    Rwstat,
    // 9P2000.L
    Tstatfs {
        fid: u32,
    },
    Rstatfs(StatFs),
    Tlopen {
        fid: u32,
        flags: u32,
    },
    Rlopen {
        qid: Qid,
        iounit: u32,
    },
    Tlcreate {
        fid: u32,
        name: &'a str,
        flags: u32,
        mode: u32,
        gid: u32,
    },
    Rlcreate {
        qid: Qid,
        iounit: u32,
    },
    Tsymlink {
        fid: u32,
        name: &'a str,
        symtgt: &'a str,
        gid: u32,
    },
    Rsymlink {
        qid: Qid,
    },
    Tmknod {
        dfid: u32,
        name: &'a str,
        mode: u32,
        major: u32,
        minor: u32,
        gid: u32,
    },
    Rmknod {
        qid: Qid,
    },
    Trename {
        fid: u32,
        dfid: u32,
        name: &'a str,
    },
    Rrename,
    Treadlink {
        fid: u32,
    },
    Rreadlink {
        target: &'a str,
    },
    Tgetattr {
        fid: u32,
        request_mask: u64,
    },
    Rgetattr(Attr),
    Tsetattr {
        fid: u32,
        attr: SetAttr,
    },
    Rsetattr,
    Txattrwalk {
        fid: u32,
        newfid: u32,
        name: &'a str,
    },
    Rxattrwalk {
        size: u64,
    },
    Txattrcreate {
        fid: u32,
        name: &'a str,
        attr_size: u64,
        flags: u32,
    },
    Rxattrcreate,
    /// `data` holds directory entries; read them with [`crate::codec::dirents`].
    Treaddir {
        fid: u32,
        offset: u64,
        count: u32,
    },
    Rreaddir {
        data: &'a [u8],
    },
    Tfsync {
        fid: u32,
        datasync: u32,
    },
    Rfsync,
    Tlock {
        fid: u32,
        lock: Lock<'a>,
        flags: u32,
    },
    Rlock {
        status: u8,
    },
    Tgetlock {
        fid: u32,
        lock: Lock<'a>,
    },
    Rgetlock {
        lock: Lock<'a>,
    },
    Tlink {
        dfid: u32,
        fid: u32,
        name: &'a str,
    },
    Rlink,
    Tmkdir {
        dfid: u32,
        name: &'a str,
        mode: u32,
        gid: u32,
    },
    Rmkdir {
        qid: Qid,
    },
    Trenameat {
        olddirfid: u32,
        oldname: &'a str,
        newdirfid: u32,
        newname: &'a str,
    },
    Rrenameat,
    Tunlinkat {
        dirfd: u32,
        name: &'a str,
        flags: u32,
    },
    Runlinkat,
}

/// A message with its tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    pub tag: u16,
    pub msg: Msg<'a>,
}

/// A 9P2000.L directory entry (in `Rreaddir` data).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dirent<'a> {
    pub qid: Qid,
    /// Where the next `Treaddir` continues after this entry.
    pub offset: u64,
    pub ty: u8,
    pub name: &'a str,
}

#[cfg(test)]
mod tests {
    use super::Dialect;

    #[test]
    fn versions_are_negotiated_as_version5_says() {
        assert_eq!(Dialect::negotiate("9P2000.L"), Some(Dialect::L));
        assert_eq!(Dialect::negotiate("9P2000"), Some(Dialect::P2000));
        // Linux's 9p2000.u, a later 9P, a suffix: 9P2000.
        for v in ["9P2000.u", "9P2001", "9P2000.x.y"] {
            assert_eq!(Dialect::negotiate(v), Some(Dialect::P2000), "{v}");
        }
        for v in ["", "9P", "9P1999", "8P2000", "9P2000x", "9P+2000", "unknown"] {
            assert_eq!(Dialect::negotiate(v), None, "{v}");
        }
    }
}

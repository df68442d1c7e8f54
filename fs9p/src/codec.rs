//! Decoding and encoding 9P messages.
//!
//! Wire format (little-endian): `size[4] type[1] tag[2] body`, `size`
//! counting the whole message. Strings are `len[2]` + UTF-8 bytes; a qid
//! is `type[1] version[4] path[8]`. [`decode`] takes exactly one message
//! (find its end in a stream with [`frame_len`]) and refuses anything that
//! does not match the layout exactly: no trailing bytes, no lengths that
//! run past the message.

use crate::msg::*;
use core::str;

/// Why bytes are not a valid message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The message ends before a field does.
    Truncated,
    /// The size field disagrees with the bytes given.
    SizeMismatch {
        declared: u32,
        actual: usize,
    },
    /// A size field below the header's 7 bytes or above the limit.
    BadSize(u32),
    UnknownType(u8),
    /// A string that is not UTF-8.
    BadString,
    /// A walk of more than MAXWELEM names or qids.
    TooManyWalkElements(u16),
    /// A stat whose own size field disagrees with its contents.
    BadStat,
    /// Bytes left over after the last field.
    TrailingBytes(usize),
}

/// Why a message could not be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// The output buffer is too small.
    BufferTooSmall,
    /// A string or data longer than its length field can say.
    TooLong,
}

/// Type codes (a message's fifth byte).
pub mod ty {
    pub const RLERROR: u8 = 7;
    pub const TSTATFS: u8 = 8;
    pub const RSTATFS: u8 = 9;
    pub const TLOPEN: u8 = 12;
    pub const RLOPEN: u8 = 13;
    pub const TLCREATE: u8 = 14;
    pub const RLCREATE: u8 = 15;
    pub const TSYMLINK: u8 = 16;
    pub const RSYMLINK: u8 = 17;
    pub const TMKNOD: u8 = 18;
    pub const RMKNOD: u8 = 19;
    pub const TRENAME: u8 = 20;
    pub const RRENAME: u8 = 21;
    pub const TREADLINK: u8 = 22;
    pub const RREADLINK: u8 = 23;
    pub const TGETATTR: u8 = 24;
    pub const RGETATTR: u8 = 25;
    pub const TSETATTR: u8 = 26;
    pub const RSETATTR: u8 = 27;
    pub const TXATTRWALK: u8 = 30;
    pub const RXATTRWALK: u8 = 31;
    pub const TXATTRCREATE: u8 = 32;
    pub const RXATTRCREATE: u8 = 33;
    pub const TREADDIR: u8 = 40;
    pub const RREADDIR: u8 = 41;
    pub const TFSYNC: u8 = 50;
    pub const RFSYNC: u8 = 51;
    pub const TLOCK: u8 = 52;
    pub const RLOCK: u8 = 53;
    pub const TGETLOCK: u8 = 54;
    pub const RGETLOCK: u8 = 55;
    pub const TLINK: u8 = 70;
    pub const RLINK: u8 = 71;
    pub const TMKDIR: u8 = 72;
    pub const RMKDIR: u8 = 73;
    pub const TRENAMEAT: u8 = 74;
    pub const RRENAMEAT: u8 = 75;
    pub const TUNLINKAT: u8 = 76;
    pub const RUNLINKAT: u8 = 77;
    pub const TVERSION: u8 = 100;
    pub const RVERSION: u8 = 101;
    pub const TAUTH: u8 = 102;
    pub const RAUTH: u8 = 103;
    pub const TATTACH: u8 = 104;
    pub const RATTACH: u8 = 105;
    pub const RERROR: u8 = 107;
    pub const TFLUSH: u8 = 108;
    pub const RFLUSH: u8 = 109;
    pub const TWALK: u8 = 110;
    pub const RWALK: u8 = 111;
    pub const TOPEN: u8 = 112;
    pub const ROPEN: u8 = 113;
    pub const TCREATE: u8 = 114;
    pub const RCREATE: u8 = 115;
    pub const TREAD: u8 = 116;
    pub const RREAD: u8 = 117;
    pub const TWRITE: u8 = 118;
    pub const RWRITE: u8 = 119;
    pub const TCLUNK: u8 = 120;
    pub const RCLUNK: u8 = 121;
    pub const TREMOVE: u8 = 122;
    pub const RREMOVE: u8 = 123;
    pub const TSTAT: u8 = 124;
    pub const RSTAT: u8 = 125;
    pub const TWSTAT: u8 = 126;
    pub const RWSTAT: u8 = 127;
}

/// The size of the message starting at `buf`, once its four size bytes
/// have arrived; `max` is the negotiated msize.
pub fn frame_len(buf: &[u8], max: u32) -> Result<Option<usize>, DecodeError> {
    let Some(b) = buf.get(..4) else { return Ok(None) };
    let size = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    if (size as usize) < HEADER || size > max {
        return Err(DecodeError::BadSize(size));
    }
    Ok(Some(size as usize))
}

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or(DecodeError::Truncated)?;
        let s = &self.buf[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, DecodeError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        let b = self.take(8)?;
        let mut w = [0; 8];
        w.copy_from_slice(b);
        Ok(u64::from_le_bytes(w))
    }
    fn str(&mut self) -> Result<&'a str, DecodeError> {
        let n = self.u16()? as usize;
        str::from_utf8(self.take(n)?).map_err(|_| DecodeError::BadString)
    }
    fn qid(&mut self) -> Result<Qid, DecodeError> {
        Ok(Qid { ty: self.u8()?, version: self.u32()?, path: self.u64()? })
    }
    /// `count[4]` then that many bytes.
    fn data(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn stat(&mut self) -> Result<Stat<'a>, DecodeError> {
        let size = self.u16()? as usize;
        let start = self.at;
        let stat = Stat {
            ty: self.u16()?,
            dev: self.u32()?,
            qid: self.qid()?,
            mode: self.u32()?,
            atime: self.u32()?,
            mtime: self.u32()?,
            length: self.u64()?,
            name: self.str()?,
            uid: self.str()?,
            gid: self.str()?,
            muid: self.str()?,
        };
        if self.at - start != size {
            return Err(DecodeError::BadStat);
        }
        Ok(stat)
    }
    /// `n[2]` then a stat of `n` bytes (Rstat, Twstat).
    fn sized_stat(&mut self) -> Result<Stat<'a>, DecodeError> {
        let n = self.u16()? as usize;
        let start = self.at;
        let stat = self.stat()?;
        if self.at - start != n {
            return Err(DecodeError::BadStat);
        }
        Ok(stat)
    }
    fn lock(&mut self) -> Result<Lock<'a>, DecodeError> {
        Ok(Lock {
            ty: self.u8()?,
            start: self.u64()?,
            length: self.u64()?,
            proc_id: self.u32()?,
            client_id: self.str()?,
        })
    }
}

/// Decodes exactly one message, spoken in `dialect`.
pub fn decode(buf: &[u8], dialect: Dialect) -> Result<Frame<'_>, DecodeError> {
    if buf.len() < HEADER {
        return Err(DecodeError::Truncated);
    }
    let declared = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
    if declared as usize != buf.len() {
        return Err(DecodeError::SizeMismatch { declared, actual: buf.len() });
    }
    let code = buf[4];
    let tag = u16::from_le_bytes([buf[5], buf[6]]);
    let mut r = Reader { buf, at: HEADER };
    let linux = dialect == Dialect::L;
    // Every 9P2000.L-only type code is below 100, the 9P2000 ones above.
    if code < ty::TVERSION && !linux {
        return Err(DecodeError::UnknownType(code));
    }
    let msg = match code {
        ty::TVERSION => Msg::Tversion { msize: r.u32()?, version: r.str()? },
        ty::RVERSION => Msg::Rversion { msize: r.u32()?, version: r.str()? },
        ty::TAUTH => {
            let (afid, uname, aname) = (r.u32()?, r.str()?, r.str()?);
            Msg::Tauth { afid, uname, aname, n_uname: if linux { Some(r.u32()?) } else { None } }
        }
        ty::RAUTH => Msg::Rauth { aqid: r.qid()? },
        ty::TATTACH => {
            let (fid, afid, uname, aname) = (r.u32()?, r.u32()?, r.str()?, r.str()?);
            Msg::Tattach { fid, afid, uname, aname, n_uname: if linux { Some(r.u32()?) } else { None } }
        }
        ty::RATTACH => Msg::Rattach { qid: r.qid()? },
        ty::RERROR => Msg::Rerror { ename: r.str()? },
        ty::TFLUSH => Msg::Tflush { oldtag: r.u16()? },
        ty::RFLUSH => Msg::Rflush,
        ty::TWALK => {
            let (fid, newfid, n) = (r.u32()?, r.u32()?, r.u16()?);
            if n as usize > MAXWELEM {
                return Err(DecodeError::TooManyWalkElements(n));
            }
            let mut wnames = heapless::Vec::new();
            for _ in 0..n {
                let _ = wnames.push(r.str()?);
            }
            Msg::Twalk { fid, newfid, wnames }
        }
        ty::RWALK => {
            let n = r.u16()?;
            if n as usize > MAXWELEM {
                return Err(DecodeError::TooManyWalkElements(n));
            }
            let mut wqids = heapless::Vec::new();
            for _ in 0..n {
                let _ = wqids.push(r.qid()?);
            }
            Msg::Rwalk { wqids }
        }
        ty::TOPEN => Msg::Topen { fid: r.u32()?, mode: r.u8()? },
        ty::ROPEN => Msg::Ropen { qid: r.qid()?, iounit: r.u32()? },
        ty::TCREATE => Msg::Tcreate { fid: r.u32()?, name: r.str()?, perm: r.u32()?, mode: r.u8()? },
        ty::RCREATE => Msg::Rcreate { qid: r.qid()?, iounit: r.u32()? },
        ty::TREAD => Msg::Tread { fid: r.u32()?, offset: r.u64()?, count: r.u32()? },
        ty::RREAD => Msg::Rread { data: r.data()? },
        ty::TWRITE => Msg::Twrite { fid: r.u32()?, offset: r.u64()?, data: r.data()? },
        ty::RWRITE => Msg::Rwrite { count: r.u32()? },
        ty::TCLUNK => Msg::Tclunk { fid: r.u32()? },
        ty::RCLUNK => Msg::Rclunk,
        ty::TREMOVE => Msg::Tremove { fid: r.u32()? },
        ty::RREMOVE => Msg::Rremove,
        ty::TSTAT => Msg::Tstat { fid: r.u32()? },
        ty::RSTAT => Msg::Rstat { stat: r.sized_stat()? },
        ty::TWSTAT => Msg::Twstat { fid: r.u32()?, stat: r.sized_stat()? },
        ty::RWSTAT => Msg::Rwstat,
        ty::RLERROR => Msg::Rlerror { ecode: r.u32()? },
        ty::TSTATFS => Msg::Tstatfs { fid: r.u32()? },
        ty::RSTATFS => Msg::Rstatfs(StatFs {
            ty: r.u32()?,
            bsize: r.u32()?,
            blocks: r.u64()?,
            bfree: r.u64()?,
            bavail: r.u64()?,
            files: r.u64()?,
            ffree: r.u64()?,
            fsid: r.u64()?,
            namelen: r.u32()?,
        }),
        ty::TLOPEN => Msg::Tlopen { fid: r.u32()?, flags: r.u32()? },
        ty::RLOPEN => Msg::Rlopen { qid: r.qid()?, iounit: r.u32()? },
        ty::TLCREATE => Msg::Tlcreate { fid: r.u32()?, name: r.str()?, flags: r.u32()?, mode: r.u32()?, gid: r.u32()? },
        ty::RLCREATE => Msg::Rlcreate { qid: r.qid()?, iounit: r.u32()? },
        ty::TSYMLINK => Msg::Tsymlink { fid: r.u32()?, name: r.str()?, symtgt: r.str()?, gid: r.u32()? },
        ty::RSYMLINK => Msg::Rsymlink { qid: r.qid()? },
        ty::TMKNOD => Msg::Tmknod {
            dfid: r.u32()?,
            name: r.str()?,
            mode: r.u32()?,
            major: r.u32()?,
            minor: r.u32()?,
            gid: r.u32()?,
        },
        ty::RMKNOD => Msg::Rmknod { qid: r.qid()? },
        ty::TRENAME => Msg::Trename { fid: r.u32()?, dfid: r.u32()?, name: r.str()? },
        ty::RRENAME => Msg::Rrename,
        ty::TREADLINK => Msg::Treadlink { fid: r.u32()? },
        ty::RREADLINK => Msg::Rreadlink { target: r.str()? },
        ty::TGETATTR => Msg::Tgetattr { fid: r.u32()?, request_mask: r.u64()? },
        ty::RGETATTR => Msg::Rgetattr(Attr {
            valid: r.u64()?,
            qid: r.qid()?,
            mode: r.u32()?,
            uid: r.u32()?,
            gid: r.u32()?,
            nlink: r.u64()?,
            rdev: r.u64()?,
            size: r.u64()?,
            blksize: r.u64()?,
            blocks: r.u64()?,
            atime_sec: r.u64()?,
            atime_nsec: r.u64()?,
            mtime_sec: r.u64()?,
            mtime_nsec: r.u64()?,
            ctime_sec: r.u64()?,
            ctime_nsec: r.u64()?,
            btime_sec: r.u64()?,
            btime_nsec: r.u64()?,
            gen: r.u64()?,
            data_version: r.u64()?,
        }),
        ty::TSETATTR => Msg::Tsetattr {
            fid: r.u32()?,
            attr: SetAttr {
                valid: r.u32()?,
                mode: r.u32()?,
                uid: r.u32()?,
                gid: r.u32()?,
                size: r.u64()?,
                atime_sec: r.u64()?,
                atime_nsec: r.u64()?,
                mtime_sec: r.u64()?,
                mtime_nsec: r.u64()?,
            },
        },
        ty::RSETATTR => Msg::Rsetattr,
        ty::TXATTRWALK => Msg::Txattrwalk { fid: r.u32()?, newfid: r.u32()?, name: r.str()? },
        ty::RXATTRWALK => Msg::Rxattrwalk { size: r.u64()? },
        ty::TXATTRCREATE => Msg::Txattrcreate { fid: r.u32()?, name: r.str()?, attr_size: r.u64()?, flags: r.u32()? },
        ty::RXATTRCREATE => Msg::Rxattrcreate,
        ty::TREADDIR => Msg::Treaddir { fid: r.u32()?, offset: r.u64()?, count: r.u32()? },
        ty::RREADDIR => Msg::Rreaddir { data: r.data()? },
        ty::TFSYNC => Msg::Tfsync { fid: r.u32()?, datasync: r.u32()? },
        ty::RFSYNC => Msg::Rfsync,
        ty::TLOCK => {
            let fid = r.u32()?;
            let (lty, flags) = (r.u8()?, r.u32()?);
            let lock = Lock { ty: lty, start: r.u64()?, length: r.u64()?, proc_id: r.u32()?, client_id: r.str()? };
            Msg::Tlock { fid, lock, flags }
        }
        ty::RLOCK => Msg::Rlock { status: r.u8()? },
        ty::TGETLOCK => Msg::Tgetlock { fid: r.u32()?, lock: r.lock()? },
        ty::RGETLOCK => Msg::Rgetlock { lock: r.lock()? },
        ty::TLINK => Msg::Tlink { dfid: r.u32()?, fid: r.u32()?, name: r.str()? },
        ty::RLINK => Msg::Rlink,
        ty::TMKDIR => Msg::Tmkdir { dfid: r.u32()?, name: r.str()?, mode: r.u32()?, gid: r.u32()? },
        ty::RMKDIR => Msg::Rmkdir { qid: r.qid()? },
        ty::TRENAMEAT => {
            Msg::Trenameat { olddirfid: r.u32()?, oldname: r.str()?, newdirfid: r.u32()?, newname: r.str()? }
        }
        ty::RRENAMEAT => Msg::Rrenameat,
        ty::TUNLINKAT => Msg::Tunlinkat { dirfd: r.u32()?, name: r.str()?, flags: r.u32()? },
        ty::RUNLINKAT => Msg::Runlinkat,
        other => return Err(DecodeError::UnknownType(other)),
    };
    if r.at != buf.len() {
        return Err(DecodeError::TrailingBytes(buf.len() - r.at));
    }
    Ok(Frame { tag, msg })
}

struct Writer<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        let end =
            self.at.checked_add(bytes.len()).filter(|&e| e <= self.buf.len()).ok_or(EncodeError::BufferTooSmall)?;
        self.buf[self.at..end].copy_from_slice(bytes);
        self.at = end;
        Ok(())
    }
    fn u8(&mut self, v: u8) -> Result<(), EncodeError> {
        self.put(&[v])
    }
    fn u16(&mut self, v: u16) -> Result<(), EncodeError> {
        self.put(&v.to_le_bytes())
    }
    fn u32(&mut self, v: u32) -> Result<(), EncodeError> {
        self.put(&v.to_le_bytes())
    }
    fn u64(&mut self, v: u64) -> Result<(), EncodeError> {
        self.put(&v.to_le_bytes())
    }
    fn str(&mut self, s: &str) -> Result<(), EncodeError> {
        self.u16(u16::try_from(s.len()).map_err(|_| EncodeError::TooLong)?)?;
        self.put(s.as_bytes())
    }
    fn qid(&mut self, q: &Qid) -> Result<(), EncodeError> {
        self.u8(q.ty)?;
        self.u32(q.version)?;
        self.u64(q.path)
    }
    fn data(&mut self, d: &[u8]) -> Result<(), EncodeError> {
        self.u32(u32::try_from(d.len()).map_err(|_| EncodeError::TooLong)?)?;
        self.put(d)
    }
    /// The stat's size field (everything after it).
    fn stat_size(s: &Stat) -> usize {
        2 + 4 + 13 + 4 + 4 + 4 + 8 + 8 + s.name.len() + s.uid.len() + s.gid.len() + s.muid.len()
    }
    fn stat(&mut self, s: &Stat) -> Result<(), EncodeError> {
        self.u16(u16::try_from(Self::stat_size(s)).map_err(|_| EncodeError::TooLong)?)?;
        self.u16(s.ty)?;
        self.u32(s.dev)?;
        self.qid(&s.qid)?;
        self.u32(s.mode)?;
        self.u32(s.atime)?;
        self.u32(s.mtime)?;
        self.u64(s.length)?;
        self.str(s.name)?;
        self.str(s.uid)?;
        self.str(s.gid)?;
        self.str(s.muid)
    }
    fn sized_stat(&mut self, s: &Stat) -> Result<(), EncodeError> {
        self.u16(u16::try_from(Self::stat_size(s) + 2).map_err(|_| EncodeError::TooLong)?)?;
        self.stat(s)
    }
    fn lock(&mut self, l: &Lock) -> Result<(), EncodeError> {
        self.u8(l.ty)?;
        self.u64(l.start)?;
        self.u64(l.length)?;
        self.u32(l.proc_id)?;
        self.str(l.client_id)
    }
}

/// The type code of a message.
pub fn type_code(msg: &Msg) -> u8 {
    use Msg::*;
    match msg {
        Tversion { .. } => ty::TVERSION,
        Rversion { .. } => ty::RVERSION,
        Tauth { .. } => ty::TAUTH,
        Rauth { .. } => ty::RAUTH,
        Tattach { .. } => ty::TATTACH,
        Rattach { .. } => ty::RATTACH,
        Rerror { .. } => ty::RERROR,
        Rlerror { .. } => ty::RLERROR,
        Tflush { .. } => ty::TFLUSH,
        Rflush => ty::RFLUSH,
        Twalk { .. } => ty::TWALK,
        Rwalk { .. } => ty::RWALK,
        Topen { .. } => ty::TOPEN,
        Ropen { .. } => ty::ROPEN,
        Tcreate { .. } => ty::TCREATE,
        Rcreate { .. } => ty::RCREATE,
        Tread { .. } => ty::TREAD,
        Rread { .. } => ty::RREAD,
        Twrite { .. } => ty::TWRITE,
        Rwrite { .. } => ty::RWRITE,
        Tclunk { .. } => ty::TCLUNK,
        Rclunk => ty::RCLUNK,
        Tremove { .. } => ty::TREMOVE,
        Rremove => ty::RREMOVE,
        Tstat { .. } => ty::TSTAT,
        Rstat { .. } => ty::RSTAT,
        Twstat { .. } => ty::TWSTAT,
        Rwstat => ty::RWSTAT,
        Tstatfs { .. } => ty::TSTATFS,
        Rstatfs(_) => ty::RSTATFS,
        Tlopen { .. } => ty::TLOPEN,
        Rlopen { .. } => ty::RLOPEN,
        Tlcreate { .. } => ty::TLCREATE,
        Rlcreate { .. } => ty::RLCREATE,
        Tsymlink { .. } => ty::TSYMLINK,
        Rsymlink { .. } => ty::RSYMLINK,
        Tmknod { .. } => ty::TMKNOD,
        Rmknod { .. } => ty::RMKNOD,
        Trename { .. } => ty::TRENAME,
        Rrename => ty::RRENAME,
        Treadlink { .. } => ty::TREADLINK,
        Rreadlink { .. } => ty::RREADLINK,
        Tgetattr { .. } => ty::TGETATTR,
        Rgetattr(_) => ty::RGETATTR,
        Tsetattr { .. } => ty::TSETATTR,
        Rsetattr => ty::RSETATTR,
        Txattrwalk { .. } => ty::TXATTRWALK,
        Rxattrwalk { .. } => ty::RXATTRWALK,
        Txattrcreate { .. } => ty::TXATTRCREATE,
        Rxattrcreate => ty::RXATTRCREATE,
        Treaddir { .. } => ty::TREADDIR,
        Rreaddir { .. } => ty::RREADDIR,
        Tfsync { .. } => ty::TFSYNC,
        Rfsync => ty::RFSYNC,
        Tlock { .. } => ty::TLOCK,
        Rlock { .. } => ty::RLOCK,
        Tgetlock { .. } => ty::TGETLOCK,
        Rgetlock { .. } => ty::RGETLOCK,
        Tlink { .. } => ty::TLINK,
        Rlink => ty::RLINK,
        Tmkdir { .. } => ty::TMKDIR,
        Rmkdir { .. } => ty::RMKDIR,
        Trenameat { .. } => ty::TRENAMEAT,
        Rrenameat => ty::RRENAMEAT,
        Tunlinkat { .. } => ty::TUNLINKAT,
        Runlinkat => ty::RUNLINKAT,
    }
}

/// Encodes `frame` into `out`; returns the message's length.
pub fn encode(frame: &Frame, out: &mut [u8]) -> Result<usize, EncodeError> {
    use Msg::*;
    let mut w = Writer { buf: out, at: 0 };
    w.u32(0)?;
    w.u8(type_code(&frame.msg))?;
    w.u16(frame.tag)?;
    match &frame.msg {
        Tversion { msize, version } | Rversion { msize, version } => {
            w.u32(*msize)?;
            w.str(version)?;
        }
        Tauth { afid, uname, aname, n_uname } => {
            w.u32(*afid)?;
            w.str(uname)?;
            w.str(aname)?;
            if let Some(n) = n_uname {
                w.u32(*n)?;
            }
        }
        Rauth { aqid: q } | Rattach { qid: q } | Rsymlink { qid: q } | Rmknod { qid: q } | Rmkdir { qid: q } => {
            w.qid(q)?
        }
        Tattach { fid, afid, uname, aname, n_uname } => {
            w.u32(*fid)?;
            w.u32(*afid)?;
            w.str(uname)?;
            w.str(aname)?;
            if let Some(n) = n_uname {
                w.u32(*n)?;
            }
        }
        Rerror { ename } => w.str(ename)?,
        Rlerror { ecode } => w.u32(*ecode)?,
        Tflush { oldtag } => w.u16(*oldtag)?,
        Rflush | Rclunk | Rremove | Rwstat | Rrename | Rsetattr | Rxattrcreate | Rfsync | Rlink | Rrenameat
        | Runlinkat => {}
        Twalk { fid, newfid, wnames } => {
            w.u32(*fid)?;
            w.u32(*newfid)?;
            w.u16(wnames.len() as u16)?;
            for n in wnames {
                w.str(n)?;
            }
        }
        Rwalk { wqids } => {
            w.u16(wqids.len() as u16)?;
            for q in wqids {
                w.qid(q)?;
            }
        }
        Topen { fid, mode } => {
            w.u32(*fid)?;
            w.u8(*mode)?;
        }
        Ropen { qid, iounit } | Rcreate { qid, iounit } | Rlopen { qid, iounit } | Rlcreate { qid, iounit } => {
            w.qid(qid)?;
            w.u32(*iounit)?;
        }
        Tcreate { fid, name, perm, mode } => {
            w.u32(*fid)?;
            w.str(name)?;
            w.u32(*perm)?;
            w.u8(*mode)?;
        }
        Tread { fid, offset, count } | Treaddir { fid, offset, count } => {
            w.u32(*fid)?;
            w.u64(*offset)?;
            w.u32(*count)?;
        }
        Rread { data } | Rreaddir { data } => w.data(data)?,
        Twrite { fid, offset, data } => {
            w.u32(*fid)?;
            w.u64(*offset)?;
            w.data(data)?;
        }
        Rwrite { count } => w.u32(*count)?,
        Tclunk { fid } | Tremove { fid } | Tstat { fid } | Tstatfs { fid } | Treadlink { fid } => w.u32(*fid)?,
        Rstat { stat } => w.sized_stat(stat)?,
        Twstat { fid, stat } => {
            w.u32(*fid)?;
            w.sized_stat(stat)?;
        }
        Rstatfs(s) => {
            w.u32(s.ty)?;
            w.u32(s.bsize)?;
            for v in [s.blocks, s.bfree, s.bavail, s.files, s.ffree, s.fsid] {
                w.u64(v)?;
            }
            w.u32(s.namelen)?;
        }
        Tlopen { fid, flags } => {
            w.u32(*fid)?;
            w.u32(*flags)?;
        }
        Tlcreate { fid, name, flags, mode, gid } => {
            w.u32(*fid)?;
            w.str(name)?;
            w.u32(*flags)?;
            w.u32(*mode)?;
            w.u32(*gid)?;
        }
        Tsymlink { fid, name, symtgt, gid } => {
            w.u32(*fid)?;
            w.str(name)?;
            w.str(symtgt)?;
            w.u32(*gid)?;
        }
        Tmknod { dfid, name, mode, major, minor, gid } => {
            w.u32(*dfid)?;
            w.str(name)?;
            for v in [*mode, *major, *minor, *gid] {
                w.u32(v)?;
            }
        }
        Trename { fid, dfid, name } => {
            w.u32(*fid)?;
            w.u32(*dfid)?;
            w.str(name)?;
        }
        Rreadlink { target } => w.str(target)?,
        Tgetattr { fid, request_mask } => {
            w.u32(*fid)?;
            w.u64(*request_mask)?;
        }
        Rgetattr(a) => {
            w.u64(a.valid)?;
            w.qid(&a.qid)?;
            w.u32(a.mode)?;
            w.u32(a.uid)?;
            w.u32(a.gid)?;
            for v in [
                a.nlink,
                a.rdev,
                a.size,
                a.blksize,
                a.blocks,
                a.atime_sec,
                a.atime_nsec,
                a.mtime_sec,
                a.mtime_nsec,
                a.ctime_sec,
                a.ctime_nsec,
                a.btime_sec,
                a.btime_nsec,
                a.gen,
                a.data_version,
            ] {
                w.u64(v)?;
            }
        }
        Tsetattr { fid, attr: a } => {
            w.u32(*fid)?;
            for v in [a.valid, a.mode, a.uid, a.gid] {
                w.u32(v)?;
            }
            for v in [a.size, a.atime_sec, a.atime_nsec, a.mtime_sec, a.mtime_nsec] {
                w.u64(v)?;
            }
        }
        Txattrwalk { fid, newfid, name } => {
            w.u32(*fid)?;
            w.u32(*newfid)?;
            w.str(name)?;
        }
        Rxattrwalk { size } => w.u64(*size)?,
        Txattrcreate { fid, name, attr_size, flags } => {
            w.u32(*fid)?;
            w.str(name)?;
            w.u64(*attr_size)?;
            w.u32(*flags)?;
        }
        Tfsync { fid, datasync } => {
            w.u32(*fid)?;
            w.u32(*datasync)?;
        }
        Tlock { fid, lock, flags } => {
            w.u32(*fid)?;
            w.u8(lock.ty)?;
            w.u32(*flags)?;
            w.u64(lock.start)?;
            w.u64(lock.length)?;
            w.u32(lock.proc_id)?;
            w.str(lock.client_id)?;
        }
        Rlock { status } => w.u8(*status)?,
        Tgetlock { fid, lock } => {
            w.u32(*fid)?;
            w.lock(lock)?;
        }
        Rgetlock { lock } => w.lock(lock)?,
        Tlink { dfid, fid, name } => {
            w.u32(*dfid)?;
            w.u32(*fid)?;
            w.str(name)?;
        }
        Tmkdir { dfid, name, mode, gid } => {
            w.u32(*dfid)?;
            w.str(name)?;
            w.u32(*mode)?;
            w.u32(*gid)?;
        }
        Trenameat { olddirfid, oldname, newdirfid, newname } => {
            w.u32(*olddirfid)?;
            w.str(oldname)?;
            w.u32(*newdirfid)?;
            w.str(newname)?;
        }
        Tunlinkat { dirfd, name, flags } => {
            w.u32(*dirfd)?;
            w.str(name)?;
            w.u32(*flags)?;
        }
    }
    let len = w.at;
    w.buf[..4].copy_from_slice(&(len as u32).to_le_bytes());
    Ok(len)
}

/// The directory entries in `Rreaddir` data: each qid, offset, type,
/// name. A malformed entry ends the iteration with an error.
pub fn dirents(data: &[u8]) -> impl Iterator<Item = Result<Dirent<'_>, DecodeError>> {
    let mut r = Reader { buf: data, at: 0 };
    let mut failed = false;
    core::iter::from_fn(move || {
        if failed || r.at == r.buf.len() {
            return None;
        }
        let entry = (|| Ok(Dirent { qid: r.qid()?, offset: r.u64()?, ty: r.u8()?, name: r.str()? }))();
        failed = entry.is_err();
        Some(entry)
    })
}

/// The stats in 9P2000 directory-read data (each with its size first).
/// A malformed stat ends the iteration with an error.
pub fn stats(data: &[u8]) -> impl Iterator<Item = Result<Stat<'_>, DecodeError>> {
    let mut r = Reader { buf: data, at: 0 };
    let mut failed = false;
    core::iter::from_fn(move || {
        if failed || r.at == r.buf.len() {
            return None;
        }
        let stat = r.stat();
        failed = stat.is_err();
        Some(stat)
    })
}

/// Appends a directory entry to `out` at `at`; returns the new end, or
/// `None` when it does not fit (Treaddir's count is a hard limit).
pub fn put_dirent(out: &mut [u8], at: usize, d: &Dirent) -> Option<usize> {
    let mut w = Writer { buf: out, at };
    w.qid(&d.qid).ok()?;
    w.u64(d.offset).ok()?;
    w.u8(d.ty).ok()?;
    w.str(d.name).ok()?;
    Some(w.at)
}

//! The 9P server, generic over a [`Filesystem`]: one [`Session`] per
//! client connection turns request bytes into reply bytes. The transport
//! (TCP on the host, the OS's `/net` later) only moves whole messages.
//!
//! A session speaks 9P2000 or 9P2000.L, as the client's Tversion asks,
//! keeps a bounded fid table, and answers every request, malformed ones
//! with an error. [`Session::handle`] answers each request before the
//! next. [`Session::handle_apart`] instead hands out the reads and writes
//! of files that may block (a device, a pipe, a connection: those
//! [`Filesystem::io`] names) as [`IoJob`]s to run apart, on other
//! threads, so one slow read never stalls the connection; replies then go
//! out in any order, and a Tflush of a job still running asks the caller
//! to cancel it and is answered once the job ends (Plan 9's exportfs does
//! the same with slave processes); so, for a file system that says so,
//! are opens and walks, which may wait (`lookups.rs`). Authentication goes through
//! [`Filesystem::auth`]: the hook later issues use for the cluster secret.

use crate::codec::{self, put_dirent, DecodeError};
use crate::error::Error;
use crate::msg::*;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;

mod changes;
mod filesystem;
mod lookups;
pub use filesystem::*;
pub use lookups::{Looked, LookupJob, MAX_LOOKUPS_APART, MAX_WAITING, MAX_WAITING_BYTES};

/// The 9P2000 directory bit in `mode`.
pub const DMDIR: u32 = 0x8000_0000;

/// Tunlinkat's flag for removing a directory (Linux's `AT_REMOVEDIR`).
pub const AT_REMOVEDIR: u32 = 0x200;

struct Fid<N, H> {
    node: N,
    /// The open file, once opened.
    file: Option<H>,
    /// What it was opened as (reads of a directory list it).
    is_dir: bool,
    /// What it was opened for (Tread and Twrite are refused otherwise).
    mode: OpenMode,
    /// A 9P2000 directory read: the stat bytes not yet returned, and the
    /// offset the next read must ask for.
    dir: Option<(Vec<u8>, u64)>,
    /// A 9P2000.L directory read: the entries listed when it began at
    /// offset 0 (`.` and `..` first); a Treaddir's offset indexes them.
    entries: Option<Vec<Meta>>,
}

/// The largest message size we agree to.
pub const MAX_MSIZE: u32 = 1 << 20;

/// Requests of one connection running apart at once; more are refused
/// (`Error::Busy`).
pub const MAX_IN_FLIGHT: usize = 64;

/// What proves a client before it attaches, when a session asks for
/// proof: the server gives a challenge on the client's auth fid (read
/// it), the client writes its answer there, and a Tattach names the fid.
/// fs9p knows no crypto: the guard decides (the cluster's answers the
/// challenge with HMAC-SHA-256 over its secret).
pub trait Guard {
    /// A fresh challenge, for one auth fid.
    fn challenge(&mut self) -> Vec<u8>;
    /// Whether `answer` proves the client, for `challenge`.
    fn verify(&self, challenge: &[u8], answer: &[u8]) -> bool;
}

/// An auth fid: its challenge, and whether the answer came and held.
struct AuthFid {
    challenge: Vec<u8>,
    proven: bool,
}

/// The qid type bit of an auth file.
pub const QTAUTH: u8 = 0x08;

/// One client connection's state, over a file system whose nodes are `N`,
/// open files `H` and reads and writes run apart `J`.
pub struct Session<N, H, J = ()> {
    dialect: Option<Dialect>,
    msize: u32,
    fids: BTreeMap<u32, Fid<N, H>>,
    max_fids: usize,
    /// With a guard, attaches need a proven auth fid.
    guard: Option<alloc::boxed::Box<dyn Guard + Send>>,
    afids: BTreeMap<u32, AuthFid>,
    /// Jobs handed out and not finished: their I/O (to cancel them) and
    /// the tags of the Tflushes waiting for them.
    in_flight: BTreeMap<u16, (J, Vec<u16>)>,
    /// Lookups handed out (`lookups.rs`): by tag, their id and busy fid;
    /// the busy fids, by the lookup's id; lookups flushed (or of an
    /// earlier version) and still running.
    lookups: BTreeMap<u16, (u64, u32)>,
    busy: BTreeMap<u32, u64>,
    cancelled: alloc::collections::BTreeSet<u64>,
    next_lookup: u64,
    /// Requests waiting behind busy fids, in arrival order.
    waiting: Vec<lookups::Waiting>,
}

/// A read or write handed out by [`Session::handle_apart`]: run it, put
/// its reply in a buffer with [`IoJob::reply`], send that, then
/// [`Session::finish`] it.
#[derive(Debug)]
pub struct IoJob<J> {
    pub tag: u16,
    pub io: J,
    pub offset: u64,
    pub op: IoOp,
    dialect: Dialect,
}

#[derive(Debug, PartialEq, Eq)]
pub enum IoOp {
    /// Read up to `count` bytes (into [`IoJob::read_area`]).
    Read {
        count: usize,
    },
    Write {
        data: Vec<u8>,
    },
}

/// What [`Session::handle_apart`] made of a request.
#[derive(Debug)]
pub enum Handled<J, N = ()> {
    /// The reply, of this many bytes, is in the output buffer.
    Reply(usize),
    /// Nothing to send yet: run the job.
    Io(IoJob<J>),
    /// Nothing to send yet: run the lookup, then [`Session::lookup_done`].
    Lookup(LookupJob<N>),
    /// Nothing to send yet: the request waits behind a fid being looked up
    /// ([`Session::resume`] hands it back).
    Waits,
    /// A Tflush of a job still running: cancel `io` (a read that blocks
    /// gives up); the Rflush goes out when the job is finished.
    Cancel { oldtag: u16, io: J },
}

impl<J> IoJob<J> {
    /// Where a read puts its data: `out` must hold `msize` bytes.
    pub fn read_area<'a>(&self, out: &'a mut [u8]) -> &'a mut [u8] {
        let count = match self.op {
            IoOp::Read { count } => count,
            IoOp::Write { .. } => 0,
        };
        &mut out[HEADER + 4..HEADER + 4 + count]
    }

    /// Writes the job's reply into `out`: `result` is the bytes read (in
    /// the read area already) or written; returns the reply's length.
    pub fn reply(&self, out: &mut [u8], result: Result<usize, Error>) -> usize {
        let len = match (result, &self.op) {
            (Ok(n), IoOp::Read { count }) => finish_data(out, codec::ty::RREAD, n.min(*count)),
            (Ok(n), IoOp::Write { .. }) => {
                codec::encode(&Frame { tag: 0, msg: Msg::Rwrite { count: n as u32 } }, out).expect("Rwrite fits")
            }
            (Err(e), _) => error_reply(Some(self.dialect), self.tag, e, out),
        };
        out[5..7].copy_from_slice(&self.tag.to_le_bytes());
        len
    }
}

/// An Rflush for the Tflush `tag`, in `out`; returns its length.
pub fn rflush(tag: u16, out: &mut [u8]) -> usize {
    codec::encode(&Frame { tag, msg: Msg::Rflush }, out).expect("Rflush fits")
}

fn error_reply(dialect: Option<Dialect>, tag: u16, e: Error, out: &mut [u8]) -> usize {
    let msg = match dialect {
        Some(Dialect::L) => Msg::Rlerror { ecode: e.errno() },
        _ => Msg::Rerror { ename: e.message() },
    };
    codec::encode(&Frame { tag, msg }, out).expect("an error reply fits any msize")
}

/// A directory entry's type (Linux's `DT_*`: the kind bits shifted down).
fn dirent_type(m: &Meta) -> u8 {
    (m.kind() >> 12) as u8
}

fn valid_name(name: &str) -> Result<(), Error> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        return Err(Error::Invalid);
    }
    if name.len() > 255 {
        return Err(Error::NameTooLong);
    }
    Ok(())
}

impl<N: Clone, H, J: Clone> Session<N, H, J> {
    /// A session allowing `max_fids` fids at once.
    pub fn new(max_fids: usize) -> Self {
        Session {
            dialect: None,
            msize: 8192,
            fids: BTreeMap::new(),
            max_fids,
            guard: None,
            afids: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            lookups: BTreeMap::new(),
            busy: BTreeMap::new(),
            cancelled: alloc::collections::BTreeSet::new(),
            next_lookup: 0,
            waiting: Vec::new(),
        }
    }

    /// A session whose clients must prove themselves to `guard` (Tauth)
    /// before they attach.
    pub fn guarded(max_fids: usize, guard: alloc::boxed::Box<dyn Guard + Send>) -> Self {
        Session { guard: Some(guard), ..Self::new(max_fids) }
    }

    /// Like [`Session::handle`], but a read or write of a file the file
    /// system runs apart ([`Filesystem::io`]) becomes a job, and a Tflush
    /// of a job still running asks for its cancelling; so do the lookups
    /// and changes the file system runs apart (`lookups.rs`).
    pub fn handle_apart<F: Filesystem<Node = N, File = H, Io = J>>(
        &mut self,
        fs: &mut F,
        request: &[u8],
        out: &mut [u8],
    ) -> Handled<J, N> {
        self.handled(fs, request, out, true)
    }

    /// [`Session::handle_apart`]; `may_wait`: a request named by those
    /// waiting makes it wait (not for one [`Session::resume`] hands back).
    fn handled<F: Filesystem<Node = N, File = H, Io = J>>(
        &mut self,
        fs: &mut F,
        request: &[u8],
        out: &mut [u8],
        may_wait: bool,
    ) -> Handled<J, N> {
        if let (Some(dialect), true) = (self.dialect, request.len() <= self.msize as usize) {
            if let Ok(frame) = codec::decode(request, dialect) {
                if let Some(h) = self.before(fs, &frame, request, out, may_wait) {
                    return h;
                }
                if let Some(h) = self.apart(fs, frame, dialect, out) {
                    return h;
                }
            }
        }
        Handled::Reply(self.handle(fs, request, out))
    }

    /// The requests `handle_apart` does not leave to `handle`.
    fn apart<F: Filesystem<Node = N, File = H, Io = J>>(
        &mut self,
        fs: &mut F,
        frame: Frame,
        dialect: Dialect,
        out: &mut [u8],
    ) -> Option<Handled<J, N>> {
        let tag = frame.tag;
        let (fid, offset, op) = match frame.msg {
            Msg::Tflush { oldtag } => {
                let (io, flushes) = self.in_flight.get_mut(&oldtag)?;
                flushes.push(tag);
                return Some(Handled::Cancel { oldtag, io: io.clone() });
            }
            Msg::Tread { fid, offset, count } => {
                let count = count.min(self.iounit()) as usize;
                (fid, offset, IoOp::Read { count })
            }
            Msg::Twrite { fid, offset, data } => (fid, offset, IoOp::Write { data: data.to_vec() }),
            _ => return None,
        };
        let f = self.fids.get(&fid).filter(|f| !f.is_dir)?;
        let allowed = match op {
            IoOp::Read { .. } => f.mode.read,
            IoOp::Write { .. } => f.mode.write,
        };
        let io = f.file.as_ref().filter(|_| allowed).and_then(|file| fs.io(file))?;
        let refuse = if self.in_flight.contains_key(&tag) {
            Some(Error::Invalid)
        } else if self.in_flight.len() >= MAX_IN_FLIGHT {
            Some(Error::Busy)
        } else {
            None
        };
        if let Some(e) = refuse {
            return Some(Handled::Reply(error_reply(Some(dialect), tag, e, out)));
        }
        self.in_flight.insert(tag, (io.clone(), Vec::new()));
        Some(Handled::Io(IoJob { tag, io, offset, op, dialect }))
    }

    /// The job `tag` is over (its reply sent, or left out because it was
    /// cancelled): the tags of the Tflushes waiting for it, each to be
    /// answered with [`rflush`] now.
    pub fn finish(&mut self, tag: u16) -> Vec<u16> {
        self.in_flight.remove(&tag).map(|(_, flushes)| flushes).unwrap_or_default()
    }

    /// Jobs handed out and not finished.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// The negotiated message size: the largest request and reply.
    pub fn msize(&self) -> u32 {
        self.msize
    }

    /// Handles one request (exactly one message's bytes) and writes the
    /// reply into `out` (at least `msize` bytes); returns its length.
    pub fn handle<F: Filesystem<Node = N, File = H>>(&mut self, fs: &mut F, request: &[u8], out: &mut [u8]) -> usize {
        // Before Tversion only Tversion is understood; decode as 9P2000.L,
        // the superset, until then.
        let dialect = self.dialect.unwrap_or(Dialect::L);
        let decoded = if request.len() > self.msize as usize && self.dialect.is_some() {
            Err(DecodeError::BadSize(request.len() as u32))
        } else {
            codec::decode(request, dialect)
        };
        let (tag, result) = match decoded {
            Ok(frame) => (frame.tag, self.dispatch(fs, frame.msg, out)),
            Err(e) => {
                let tag = request.get(5..7).map_or(NOTAG, |t| u16::from_le_bytes([t[0], t[1]]));
                (tag, Err(decode_error(e)))
            }
        };
        match result {
            Ok(len) => {
                out[5..7].copy_from_slice(&tag.to_le_bytes());
                len
            }
            Err(e) => error_reply(self.dialect, tag, e, out),
        }
    }

    /// Handles a decoded request; the reply's tag is patched in by the caller.
    fn dispatch<F: Filesystem<Node = N, File = H>>(
        &mut self,
        fs: &mut F,
        msg: Msg,
        out: &mut [u8],
    ) -> Result<usize, Error> {
        let reply = |m: Msg, out: &mut [u8]| codec::encode(&Frame { tag: 0, msg: m }, out).map_err(|_| Error::Invalid);
        if self.dialect.is_none() && !matches!(msg, Msg::Tversion { .. }) {
            return Err(Error::Invalid);
        }
        if let Some(made) = self.change_of(&msg) {
            self.clunk_if_remove(&msg);
            let change = made?;
            change.apply(fs)?;
            return reply(change.done(), out);
        }
        match msg {
            Msg::Tversion { msize, version } => {
                // A new version aborts everything outstanding.
                self.fids.clear();
                self.afids.clear();
                self.drop_lookups();
                self.msize = msize.clamp(256, MAX_MSIZE);
                let dialect = Dialect::negotiate(version);
                self.dialect = dialect.or(self.dialect);
                let version = dialect.map_or("unknown", |d| d.version());
                reply(Msg::Rversion { msize: self.msize, version }, out)
            }
            Msg::Tauth { afid, .. } => {
                let guard = self.guard.as_mut().ok_or(Error::NoAuthRequired)?;
                let challenge = guard.challenge();
                self.check_new(afid)?;
                self.afids.insert(afid, AuthFid { challenge, proven: false });
                reply(Msg::Rauth { aqid: Qid { ty: QTAUTH, version: 0, path: u64::from(afid) } }, out)
            }
            Msg::Tread { fid, offset, count } if self.afids.contains_key(&fid) => {
                let challenge = &self.afids[&fid].challenge;
                let from = challenge.len().min(offset.min(usize::MAX as u64) as usize);
                let n = (challenge.len() - from).min(count as usize);
                let data = challenge[from..from + n].to_vec();
                reply(Msg::Rread { data: &data }, out)
            }
            Msg::Twrite { fid, data, .. } if self.afids.contains_key(&fid) => {
                let guard = self.guard.as_ref().ok_or(Error::BadFid)?;
                let a = self.afids.get_mut(&fid).expect("just found");
                a.proven = guard.verify(&a.challenge, data);
                if !a.proven {
                    return Err(Error::Permission);
                }
                reply(Msg::Rwrite { count: data.len() as u32 }, out)
            }
            Msg::Tclunk { fid } if self.afids.contains_key(&fid) => {
                self.afids.remove(&fid);
                reply(Msg::Rclunk, out)
            }
            Msg::Tattach { fid, afid, uname, aname, n_uname } => {
                if self.guard.is_some() && !self.afids.get(&afid).is_some_and(|a| a.proven) {
                    return Err(Error::Permission);
                }
                self.check_new(fid)?;
                let user = User { name: uname, id: n_uname.filter(|&n| n != NONUNAME) };
                let (node, meta) = fs.attach(user, aname)?;
                self.fids.insert(fid, Fid::new(node));
                reply(Msg::Rattach { qid: meta.qid }, out)
            }
            Msg::Tflush { .. } => reply(Msg::Rflush, out),
            Msg::Twalk { fid, newfid, wnames } => {
                let start = self.fid(fid)?;
                // Walking from an open fid is allowed (diod's tools do it)
                // as long as the open fid itself is not replaced.
                if start.file.is_some() && newfid == fid {
                    return Err(Error::Invalid);
                }
                if newfid != fid {
                    self.check_new(newfid)?;
                }
                let from = start.node.clone();
                let (mut steps, ended) = walk_steps(fs, &from, &wnames);
                let wqids = steps.iter().map(|(_, m)| m.qid).collect();
                match ended {
                    // The first element failing is an error; later ones
                    // end the walk short, and newfid is not made.
                    Err(e) if steps.is_empty() => return Err(e),
                    Err(_) => return reply(Msg::Rwalk { wqids }, out),
                    Ok(()) => {}
                }
                let node = steps.pop().map_or(from, |(n, _)| n);
                self.fids.insert(newfid, Fid::new(node));
                reply(Msg::Rwalk { wqids }, out)
            }
            Msg::Topen { fid, mode } => {
                let qid = self.open(fs, fid, OpenMode::from_p2000(mode))?;
                reply(Msg::Ropen { qid, iounit: self.iounit() }, out)
            }
            Msg::Tlopen { fid, flags } => {
                let qid = self.open(fs, fid, OpenMode::from_l(flags))?;
                reply(Msg::Rlopen { qid, iounit: self.iounit() }, out)
            }
            Msg::Tcreate { fid, name, perm, mode } => {
                let is_dir = perm & DMDIR != 0;
                let qid = self.create(fs, fid, name, is_dir, perm & 0o777, None, OpenMode::from_p2000(mode))?;
                reply(Msg::Rcreate { qid, iounit: self.iounit() }, out)
            }
            Msg::Tlcreate { fid, name, flags, mode, gid } => {
                let qid = self.create(fs, fid, name, false, mode & 0o7777, Some(gid), OpenMode::from_l(flags))?;
                reply(Msg::Rlcreate { qid, iounit: self.iounit() }, out)
            }
            Msg::Tmkdir { dfid, name, mode, gid } => {
                let qid = self.make(fs, dfid, name, Make::Dir, mode & 0o7777, gid)?;
                reply(Msg::Rmkdir { qid }, out)
            }
            Msg::Tsymlink { fid, name, symtgt, gid } => {
                if symtgt.is_empty() || symtgt.contains('\0') {
                    return Err(Error::Invalid);
                }
                let qid = self.make(fs, fid, name, Make::Symlink { target: symtgt }, 0o777, gid)?;
                reply(Msg::Rsymlink { qid }, out)
            }
            Msg::Tmknod { dfid, name, mode, major, minor, gid } => {
                let what = match mode & kind::MASK {
                    kind::FIFO => Make::Fifo,
                    kind::SOCKET => Make::Socket,
                    kind::CHAR => Make::Char { major, minor },
                    kind::BLOCK => Make::Block { major, minor },
                    _ => return Err(Error::Invalid),
                };
                let qid = self.make(fs, dfid, name, what, mode & 0o7777, gid)?;
                reply(Msg::Rmknod { qid }, out)
            }
            Msg::Treadlink { fid } => {
                let node = self.fid(fid)?.node.clone();
                let target = fs.readlink(&node)?;
                reply(Msg::Rreadlink { target: &target }, out)
            }
            Msg::Tlink { dfid, fid, name } => {
                valid_name(name)?;
                let dir = self.fid(dfid)?.node.clone();
                let target = self.fid(fid)?.node.clone();
                fs.link(&dir, name, &target)?;
                reply(Msg::Rlink, out)
            }
            Msg::Tread { fid, offset, count } => self.read(fs, fid, offset, count, out),
            Msg::Twrite { fid, offset, data } => {
                let f = self.open_fid(fid)?;
                if !f.mode.write {
                    return Err(Error::BadFid);
                }
                let file = f.file.as_mut().ok_or(Error::BadFid)?;
                let n = fs.write(file, offset, data)?;
                reply(Msg::Rwrite { count: n as u32 }, out)
            }
            Msg::Treaddir { fid, offset, count } => self.readdir(fs, fid, offset, count, out),
            Msg::Tclunk { fid } => {
                self.fids.remove(&fid).ok_or(Error::BadFid)?;
                reply(Msg::Rclunk, out)
            }
            Msg::Tstat { fid } => {
                let node = self.fid(fid)?.node.clone();
                let meta = fs.meta(&node)?;
                reply(Msg::Rstat { stat: stat_of(&meta) }, out)
            }
            Msg::Tgetattr { fid, .. } => {
                let node = self.fid(fid)?.node.clone();
                reply(Msg::Rgetattr(attr_of(&fs.meta(&node)?)), out)
            }
            Msg::Tstatfs { fid } => {
                let node = self.fid(fid)?.node.clone();
                reply(Msg::Rstatfs(fs.statfs(&node)?), out)
            }
            Msg::Tfsync { fid, datasync } => {
                let file = self.open_fid(fid)?.file.as_mut().ok_or(Error::BadFid)?;
                fs.fsync(file, datasync != 0)?;
                reply(Msg::Rfsync, out)
            }
            Msg::Tlock { fid, lock, .. } => {
                if lock.ty > lock::UNLOCK {
                    return Err(Error::Invalid);
                }
                let file = self.open_fid(fid)?.file.as_mut().ok_or(Error::BadFid)?;
                let status = fs.lock(file, &lock)?;
                reply(Msg::Rlock { status: status as u8 }, out)
            }
            Msg::Tgetlock { fid, lock } => {
                if lock.ty > lock::UNLOCK {
                    return Err(Error::Invalid);
                }
                let file = self.open_fid(fid)?.file.as_mut().ok_or(Error::BadFid)?;
                let lock = fs.getlock(file, &lock)?;
                reply(Msg::Rgetlock { lock }, out)
            }
            // Extended attributes: none are kept.
            Msg::Txattrwalk { .. } | Msg::Txattrcreate { .. } => Err(Error::NotSupported),
            // Replies are not requests.
            _ => Err(Error::Invalid),
        }
    }

    fn fid(&self, fid: u32) -> Result<&Fid<N, H>, Error> {
        self.fids.get(&fid).ok_or(Error::BadFid)
    }

    /// A fid that has been opened (reads, writes, directory reads).
    fn open_fid(&mut self, fid: u32) -> Result<&mut Fid<N, H>, Error> {
        self.fids.get_mut(&fid).filter(|f| f.file.is_some()).ok_or(Error::BadFid)
    }

    fn check_new(&self, fid: u32) -> Result<(), Error> {
        if self.fids.contains_key(&fid) || self.afids.contains_key(&fid) {
            return Err(Error::FidInUse);
        }
        if self.fids.len() + self.afids.len() >= self.max_fids {
            return Err(Error::TooManyFids);
        }
        Ok(())
    }

    /// Bytes of data an Rread/Rreaddir may carry: what was asked, within
    /// the iounit and the output buffer.
    fn data_room(&self, count: u32, out: &[u8]) -> usize {
        (count.min(self.iounit()) as usize).min(out.len().saturating_sub(HEADER + 4))
    }

    /// Bytes a read or write may move in one message.
    fn iounit(&self) -> u32 {
        self.msize - 24
    }

    fn open<F: Filesystem<Node = N, File = H>>(&mut self, fs: &mut F, fid: u32, mode: OpenMode) -> Result<Qid, Error> {
        let f = self.fids.get_mut(&fid).ok_or(Error::BadFid)?;
        if f.file.is_some() {
            return Err(Error::Invalid);
        }
        let (file, meta) = fs.open(&f.node, mode)?;
        f.install(file, &meta, mode)
    }

    #[allow(clippy::too_many_arguments)]
    fn create<F: Filesystem<Node = N, File = H>>(
        &mut self,
        fs: &mut F,
        fid: u32,
        name: &str,
        is_dir: bool,
        perm: u32,
        gid: Option<u32>,
        mode: OpenMode,
    ) -> Result<Qid, Error> {
        valid_name(name)?;
        let f = self.fids.get_mut(&fid).ok_or(Error::BadFid)?;
        if f.file.is_some() {
            return Err(Error::Invalid);
        }
        // The fid now stands for the new file, open as asked (a new
        // directory for reading).
        let mode = if is_dir { OpenMode::READ } else { OpenMode { truncate: false, ..mode } };
        let (node, file, meta) = if is_dir {
            let (node, _) = fs.make(&f.node, name, Make::Dir, perm, gid)?;
            let (file, meta) = fs.open(&node, mode)?;
            (node, file, meta)
        } else {
            fs.create(&f.node, name, perm, gid, mode)?
        };
        *f = Fid { file: Some(file), is_dir, mode, ..Fid::new(node) };
        Ok(meta.qid)
    }

    /// Makes a directory, a symbolic link or a special file in `dfid`'s.
    fn make<F: Filesystem<Node = N, File = H>>(
        &mut self,
        fs: &mut F,
        dfid: u32,
        name: &str,
        what: Make,
        perm: u32,
        gid: u32,
    ) -> Result<Qid, Error> {
        valid_name(name)?;
        let dir = self.fid(dfid)?.node.clone();
        Ok(fs.make(&dir, name, what, perm, Some(gid))?.1.qid)
    }

    fn read<F: Filesystem<Node = N, File = H>>(
        &mut self,
        fs: &mut F,
        fid: u32,
        offset: u64,
        count: u32,
        out: &mut [u8],
    ) -> Result<usize, Error> {
        let max = self.data_room(count, out);
        let f = self.open_fid(fid)?;
        // Rread: header, count[4], data: fill the data in place.
        let data_at = HEADER + 4;
        let n = if f.is_dir {
            // 9P2000 directory reads: whole stat entries; offset 0 starts
            // over, otherwise it must continue where the last read ended.
            if offset == 0 || f.dir.is_none() {
                f.dir = Some((stat_bytes(&fs.list(&f.node)?)?, 0));
            }
            f.dir_page(offset, max, out)?
        } else if !f.mode.read {
            return Err(Error::BadFid);
        } else {
            let file = f.file.as_mut().ok_or(Error::BadFid)?;
            fs.read(file, offset, &mut out[data_at..data_at + max])?
        };
        Ok(finish_data(out, codec::ty::RREAD, n))
    }

    fn readdir<F: Filesystem<Node = N, File = H>>(
        &mut self,
        fs: &mut F,
        fid: u32,
        offset: u64,
        count: u32,
        out: &mut [u8],
    ) -> Result<usize, Error> {
        let max = self.data_room(count, out);
        let f = self.open_fid(fid)?;
        if !f.is_dir {
            return Err(Error::NotDir);
        }
        // The offset cookie is the index of the next entry; . and .. first.
        // The directory is listed once, when a read starts at 0.
        if offset == 0 || f.entries.is_none() {
            f.entries = Some(listing(fs, &f.node)?);
        }
        readdir_reply(f.entries.as_deref().expect("just listed"), offset, max, out)
    }
}

/// A walk's steps (each node and its metadata), and the error that ended
/// it early.
type Steps<N> = (Vec<(N, Meta)>, Result<(), Error>);

/// The steps of a walk from `from` through `names`: each node and its
/// metadata, and the error that ended it early (`.` stays put: Plan 9
/// never sends it; Linux tools do).
fn walk_steps<F: Filesystem>(fs: &mut F, from: &F::Node, names: &[impl AsRef<str>]) -> Steps<F::Node> {
    let mut node = from.clone();
    let mut steps = Vec::new();
    for name in names.iter().map(AsRef::as_ref) {
        let step = if name == "." { fs.meta(&node).map(|m| (node.clone(), m)) } else { fs.walk(&node, name) };
        match step {
            Ok((next, meta)) => {
                node = next.clone();
                steps.push((next, meta));
            }
            Err(e) => return (steps, Err(e)),
        }
    }
    (steps, Ok(()))
}

/// A directory's entries as a 9P2000.L listing has them: `.` and `..`
/// first.
fn listing<F: Filesystem>(fs: &mut F, dir: &F::Node) -> Result<Vec<Meta>, Error> {
    let me = fs.meta(dir)?;
    let (_, parent) = fs.walk(dir, "..")?;
    let mut entries = alloc::vec![Meta { name: ".".into(), ..me }, Meta { name: "..".into(), ..parent }];
    entries.extend(fs.list(dir)?);
    Ok(entries)
}

/// An Rreaddir (in `out`, its length) of `entries` from index `offset`,
/// at most `max` bytes of them.
fn readdir_reply(entries: &[Meta], offset: u64, max: usize, out: &mut [u8]) -> Result<usize, Error> {
    let data_at = HEADER + 4;
    let area = &mut out[data_at..data_at + max];
    let mut at = 0;
    for (i, m) in entries.iter().enumerate().skip(offset as usize) {
        let d = Dirent { qid: m.qid, offset: i as u64 + 1, ty: dirent_type(m), name: &m.name };
        match put_dirent(area, at, &d) {
            Some(end) => at = end,
            None if at == 0 => return Err(Error::Invalid), // count too small for one entry
            None => break,
        }
    }
    Ok(finish_data(out, codec::ty::RREADDIR, at))
}

/// A 9P2000 directory's entries as its reads return them: stats back to
/// back.
fn stat_bytes(entries: &[Meta]) -> Result<Vec<u8>, Error> {
    let mut all = Vec::new();
    for m in entries {
        let mut buf = [0u8; 1024];
        let len = codec::encode(&Frame { tag: 0, msg: Msg::Rstat { stat: stat_of(m) } }, &mut buf)
            .map_err(|_| Error::NameTooLong)?;
        // Skip the header and Rstat's extra size: the stat itself.
        all.extend_from_slice(&buf[HEADER + 2..len]);
    }
    Ok(all)
}

impl<N, H> Fid<N, H> {
    /// The next page of a 9P2000 directory read (whole stats, at most
    /// `max` bytes) put in `out` as an Rread's data; how many bytes.
    fn dir_page(&mut self, offset: u64, max: usize, out: &mut [u8]) -> Result<usize, Error> {
        let (pending, next) = self.dir.as_mut().ok_or(Error::Invalid)?;
        if offset != *next {
            return Err(Error::Invalid);
        }
        let mut n = 0;
        while n < pending.len() {
            let size = u16::from_le_bytes([pending[n], pending[n + 1]]) as usize + 2;
            if n + size > max {
                break;
            }
            n += size;
        }
        out[HEADER + 4..HEADER + 4 + n].copy_from_slice(&pending[..n]);
        pending.drain(..n);
        *next += n as u64;
        Ok(n)
    }

    /// Makes the fid the open `file` (of `meta`, opened as `mode`): a
    /// directory opens for reading only (else the file goes, closed).
    fn install(&mut self, file: H, meta: &Meta, mode: OpenMode) -> Result<Qid, Error> {
        if meta.is_dir() && mode != OpenMode::READ {
            return Err(Error::IsDir);
        }
        self.file = Some(file);
        self.is_dir = meta.is_dir();
        self.mode = mode;
        Ok(meta.qid)
    }

    fn new(node: N) -> Self {
        Fid { node, file: None, is_dir: false, mode: OpenMode::default(), dir: None, entries: None }
    }
}

/// Writes the header and count of an Rread/Rreaddir whose `n` data bytes
/// are already in place; returns the message length.
fn finish_data(out: &mut [u8], code: u8, n: usize) -> usize {
    let len = HEADER + 4 + n;
    out[..4].copy_from_slice(&(len as u32).to_le_bytes());
    out[4] = code;
    out[HEADER..HEADER + 4].copy_from_slice(&(n as u32).to_le_bytes());
    len
}

fn stat_of(m: &Meta) -> Stat<'_> {
    Stat {
        qid: m.qid,
        mode: (m.mode & 0o777) | if m.is_dir() { DMDIR } else { 0 },
        atime: m.atime.sec as u32,
        mtime: m.mtime.sec as u32,
        length: if m.is_dir() { 0 } else { m.size },
        name: &m.name,
        uid: "ux",
        gid: "ux",
        muid: "ux",
        ..Stat::default()
    }
}

fn attr_of(m: &Meta) -> Attr {
    Attr {
        valid: 0x7ff, // P9_GETATTR_BASIC
        qid: m.qid,
        mode: m.mode,
        uid: m.uid,
        gid: m.gid,
        nlink: m.nlink,
        rdev: m.rdev,
        size: m.size,
        blksize: 4096,
        blocks: m.blocks,
        atime_sec: m.atime.sec,
        atime_nsec: m.atime.nsec.into(),
        mtime_sec: m.mtime.sec,
        mtime_nsec: m.mtime.nsec.into(),
        ctime_sec: m.ctime.sec,
        ctime_nsec: m.ctime.nsec.into(),
        ..Attr::default()
    }
}

/// A Twstat's changes: every field not "don't touch" (all ones, or an
/// empty string). Owners are named, not numbered, in 9P2000: changing
/// them is refused rather than guessed at.
fn wstat_changes(stat: &Stat) -> Result<Changes, Error> {
    if !stat.uid.is_empty() || !stat.gid.is_empty() {
        return Err(Error::NotSupported);
    }
    let time = |t: u32| (t != u32::MAX).then_some(SetTime::At(Time::from_secs(t.into())));
    Ok(Changes {
        mode: (stat.mode != u32::MAX).then_some(stat.mode & 0o777),
        size: (stat.length != u64::MAX).then_some(stat.length),
        atime: time(stat.atime),
        mtime: time(stat.mtime),
        ..Changes::default()
    })
}

fn decode_error(e: DecodeError) -> Error {
    match e {
        DecodeError::UnknownType(_) => Error::NotSupported,
        _ => Error::Invalid,
    }
}

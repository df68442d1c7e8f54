//! Lookups that may wait, run apart (those a file system's
//! [`Filesystem::may_wait`] and [`Filesystem::walk_may_wait`]
//! name; the others stay in the session, since a hand-over to another
//! thread costs every lookup): an open of a `listen` file waits for a
//! caller, a walk into a node's tree mounted at its first use waits for
//! the mount, and either on the session's thread stalled every other
//! request of the connection until then, and could not be flushed.
//!
//! [`Session::handle_apart`] hands such a Topen, Tlopen, Twalk, Tgetattr,
//! Tstat, a directory read that lists (Treaddir, or 9P2000's Tread), or a
//! change (`changes.rs`: a remove, rename or setattr) out as a
//! [`LookupJob`]; the caller runs it on another thread
//! ([`LookupJob::run`], no session needed) and gives the result to
//! [`Session::lookup_done`], which installs the file or the new fid and
//! writes the reply. Meanwhile the fid opened, the fid a walk makes, or
//! the directory listed is busy (a getattr leaves its fid free): a later request that names it,
//! or names a fid an earlier waiting request names, waits in arrival
//! order (so a walk and an open sent together, or an open and a read,
//! keep their order), and [`Session::resume`] hands the waiting ones
//! back once nothing blocks them. Everything else goes on.
//!
//! A Tflush of a waiting lookup is answered at once: it counts as never
//! answered (its result, when it comes, is dropped and not answered; a
//! file it opened is closed), as is a Tflush of a request still waiting,
//! which is never made. A change already running is not undone: as
//! flush(5) has it, the client cannot tell whether a flushed request
//! was carried out. A Tversion drops them all.

use super::changes::Change;
use super::{Fid, Filesystem, Handled, Meta, Session};
use crate::codec;
use crate::error::Error;
use crate::msg::*;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// Requests that may wait behind busy fids at once (more: `Busy`).
pub const MAX_WAITING: usize = 64;
/// Bytes they may hold in all (a write's data waits with it).
pub const MAX_WAITING_BYTES: usize = 1 << 20;
/// Lookups of one session running apart at once, flushed ones still
/// running included (more: `Busy`): an open may wait for ever (a
/// `listen` nobody calls), and the caller's threads must stay free for
/// the connection's other requests.
pub const MAX_LOOKUPS_APART: usize = 8;

/// A lookup handed out by [`Session::handle_apart`].
#[derive(Debug)]
pub struct LookupJob<N> {
    pub tag: u16,
    id: u64,
    /// The fid busy while it runs: the one opened, or the one a walk
    /// makes.
    fid: u32,
    what: What<N>,
}

#[derive(Debug)]
enum What<N> {
    Open {
        node: N,
        mode: OpenMode,
        /// A 9P2000 Topen (answered with Ropen), or a Tlopen.
        p2000: bool,
    },
    Walk {
        from: N,
        names: Vec<String>,
        /// The walk replaces its own fid (newfid = fid).
        in_place: bool,
    },
    /// A Tgetattr, or a 9P2000 Tstat (`p2000`): the fid stays free.
    Meta { node: N, p2000: bool },
    /// A Treaddir that lists the directory (one from offset 0), or a
    /// Tread of it (`stats`: 9P2000's whole stat entries).
    List { node: N, offset: u64, count: u32, stats: bool },
    /// A remove, rename or setattr.
    Change(Change<N>),
}

/// What a lookup found: the file opened, or a walk's steps (each node
/// and its metadata) and the error that ended it early.
pub enum Looked<N, H> {
    Opened(Result<(H, Meta), Error>),
    Walked(Vec<(N, Meta)>, Result<(), Error>),
    Meta(Result<Meta, Error>),
    /// A directory's entries (for a Treaddir `.` and `..` first).
    Listed(Result<Vec<Meta>, Error>),
    Changed(Result<(), Error>),
}

impl<N: Clone> LookupJob<N> {
    /// Looks up, on any thread (the session is not touched), in `fs` as
    /// the session's file system was when the job was made.
    pub fn run<F: Filesystem<Node = N>>(&self, fs: &mut F) -> Looked<N, F::File> {
        match &self.what {
            What::Open { node, mode, .. } => Looked::Opened(fs.open(node, *mode)),
            What::Walk { from, names, .. } => {
                let (steps, ended) = super::walk_steps(fs, from, names);
                Looked::Walked(steps, ended)
            }
            What::Meta { node, .. } => Looked::Meta(fs.meta(node)),
            What::List { node, stats: false, .. } => Looked::Listed(super::listing(fs, node)),
            What::List { node, stats: true, .. } => Looked::Listed(fs.list(node)),
            What::Change(change) => Looked::Changed(change.apply(fs)),
        }
    }

    /// A lookup whose result cannot come (its job was dropped unrun).
    pub fn failed<H>(&self) -> Looked<N, H> {
        match self.what {
            What::Open { .. } => Looked::Opened(Err(Error::Invalid)),
            What::Walk { .. } => Looked::Walked(Vec::new(), Err(Error::Invalid)),
            What::Meta { .. } => Looked::Meta(Err(Error::Invalid)),
            What::List { .. } => Looked::Listed(Err(Error::Invalid)),
            What::Change(_) => Looked::Changed(Err(Error::Invalid)),
        }
    }
}

/// A request waiting behind a busy fid: its tag, the fids it names (none:
/// all of them), and its bytes.
pub(super) struct Waiting {
    tag: u16,
    fids: Option<[Option<u32>; 2]>,
    bytes: Vec<u8>,
}

/// The fids `msg` names: `None` for a request that names fids in ways not
/// listed here (it waits while any open does).
fn fids_of(msg: &Msg) -> Option<[Option<u32>; 2]> {
    let one = |f: u32| Some([Some(f), None]);
    match *msg {
        Msg::Twalk { fid, newfid, .. } => Some([Some(fid), Some(newfid)]),
        Msg::Tattach { fid, afid, .. } => Some([Some(fid), Some(afid)]),
        Msg::Topen { fid, .. }
        | Msg::Tlopen { fid, .. }
        | Msg::Tcreate { fid, .. }
        | Msg::Tlcreate { fid, .. }
        | Msg::Tread { fid, .. }
        | Msg::Twrite { fid, .. }
        | Msg::Tclunk { fid }
        | Msg::Tremove { fid }
        | Msg::Tstat { fid }
        | Msg::Twstat { fid, .. }
        | Msg::Tstatfs { fid }
        | Msg::Tgetattr { fid, .. }
        | Msg::Tsetattr { fid, .. }
        | Msg::Treaddir { fid, .. }
        | Msg::Treadlink { fid }
        | Msg::Tfsync { fid, .. }
        | Msg::Tlock { fid, .. }
        | Msg::Tgetlock { fid, .. } => one(fid),
        Msg::Tauth { afid, .. } => one(afid),
        Msg::Txattrwalk { fid, newfid, .. } => Some([Some(fid), Some(newfid)]),
        Msg::Trename { fid, dfid, .. } | Msg::Tlink { dfid, fid, .. } => Some([Some(fid), Some(dfid)]),
        Msg::Trenameat { olddirfid, newdirfid, .. } => Some([Some(olddirfid), Some(newdirfid)]),
        Msg::Tmkdir { dfid, .. } | Msg::Tmknod { dfid, .. } => one(dfid),
        Msg::Tsymlink { fid, .. } | Msg::Txattrcreate { fid, .. } => one(fid),
        Msg::Tunlinkat { dirfd, .. } => one(dirfd),
        Msg::Tflush { .. } | Msg::Tversion { .. } => Some([None, None]),
        _ => None,
    }
}

impl<N: Clone, H, J: Clone> Session<N, H, J> {
    /// Whether a request naming `fids` must wait: one of them is busy (a
    /// lookup runs for it), or is named by a request waiting already.
    fn must_wait(&self, fids: Option<[Option<u32>; 2]>) -> bool {
        let Some(fids) = fids else { return !self.busy.is_empty() || !self.waiting.is_empty() };
        let named = |f: &u32| {
            self.busy.contains_key(f) || self.waiting.iter().any(|w| w.fids.is_none_or(|ws| ws.contains(&Some(*f))))
        };
        fids.iter().flatten().any(named)
    }

    /// Before `handle_apart` looks at a request: one that must wait is
    /// kept (`Handled::Waits`; `Busy` when too many wait), a Tflush of a
    /// waiting lookup or request is answered now; else `None`.
    pub(super) fn before<F: Filesystem<Node = N, File = H, Io = J>>(
        &mut self,
        fs: &mut F,
        frame: &Frame,
        request: &[u8],
        out: &mut [u8],
        may_wait: bool,
    ) -> Option<Handled<J, N>> {
        let dialect = self.dialect?;
        let tag = frame.tag;
        // A tag still in use (its request waits, or its lookup runs) is the
        // client's mistake: two answers would carry it.
        if self.waiting.iter().any(|w| w.tag == tag) || self.lookups.contains_key(&tag) {
            return Some(self.refuse(&frame.msg, dialect, tag, Error::Invalid, out));
        }
        if let Msg::Tflush { oldtag } = frame.msg {
            let waited = self.waiting.iter().position(|w| w.tag == oldtag);
            let running = self.lookups.remove(&oldtag);
            if waited.is_none() && running.is_none() {
                return None;
            }
            if let Some(i) = waited {
                self.waiting.remove(i);
            }
            if let Some((id, fid)) = running {
                self.cancelled.insert(id);
                if self.busy.get(&fid) == Some(&id) {
                    self.busy.remove(&fid);
                }
            }
            return Some(Handled::Reply(super::rflush(tag, out)));
        }
        let fids = fids_of(&frame.msg);
        if may_wait && self.must_wait(fids) {
            let bytes: usize = self.waiting.iter().map(|w| w.bytes.len()).sum();
            if self.waiting.len() >= MAX_WAITING || bytes + request.len() > MAX_WAITING_BYTES {
                return Some(self.refuse(&frame.msg, dialect, tag, Error::Busy, out));
            }
            self.waiting.push(Waiting { tag, fids, bytes: request.to_vec() });
            return Some(Handled::Waits);
        }
        // A fid that cannot be opened or walked gets its error from
        // `handle`, as does a lookup that does not wait.
        let (fid, what) = match &frame.msg {
            Msg::Topen { fid, mode } => (*fid, self.open_of(fs, *fid, OpenMode::from_p2000(*mode), true)?),
            Msg::Tlopen { fid, flags } => (*fid, self.open_of(fs, *fid, OpenMode::from_l(*flags), false)?),
            Msg::Twalk { fid, newfid, wnames } => {
                let start: &Fid<N, H> = self.fids.get(fid)?;
                if (start.file.is_some() && newfid == fid) || (newfid != fid && self.check_new(*newfid).is_err()) {
                    return None;
                }
                if !fs.walk_may_wait(&start.node, wnames) {
                    return None;
                }
                let names = wnames.iter().map(|n| n.to_string()).collect();
                (*newfid, What::Walk { from: start.node.clone(), names, in_place: newfid == fid })
            }
            Msg::Treaddir { fid, offset, count } | Msg::Tread { fid, offset, count } => {
                // Only a directory read that lists (as `readdir` does) may
                // wait: a Treaddir, or a 9P2000 Tread of whole stats.
                let stats = matches!(frame.msg, Msg::Tread { .. });
                let f: &Fid<N, H> = self.fids.get(fid)?;
                let listed = if stats { f.dir.is_some() } else { f.entries.is_some() };
                if f.file.is_none() || !f.is_dir || (*offset != 0 && listed) || !fs.may_wait(&f.node) {
                    return None;
                }
                (*fid, What::List { node: f.node.clone(), offset: *offset, count: *count, stats })
            }
            Msg::Tgetattr { fid, .. } | Msg::Tstat { fid } => {
                let f: &Fid<N, H> = self.fids.get(fid).filter(|f| fs.may_wait(&f.node))?;
                let p2000 = matches!(frame.msg, Msg::Tstat { .. });
                (*fid, What::Meta { node: f.node.clone(), p2000 })
            }
            msg => {
                let change = self.change_of(msg)?.ok()?;
                if !change.nodes().any(|n| fs.may_wait(n)) {
                    return None;
                }
                // (The fid named first: the one removed, or the one kept
                // busy so that what names it next comes after.)
                let fid = fids_of(msg).and_then(|[f, _]| f)?;
                (fid, What::Change(change))
            }
        };
        let running = self.lookups.len() + self.cancelled.len();
        if self.in_flight.len() + self.lookups.len() >= super::MAX_IN_FLIGHT || running >= MAX_LOOKUPS_APART {
            return Some(self.refuse(&frame.msg, dialect, tag, Error::Busy, out));
        }
        if self.in_flight.contains_key(&tag) {
            return Some(self.refuse(&frame.msg, dialect, tag, Error::Invalid, out));
        }
        self.next_lookup += 1;
        let id = self.next_lookup;
        self.lookups.insert(tag, (id, fid));
        match what {
            // (A getattr changes nothing of its fid: others may use it.)
            What::Meta { .. } => {}
            // A Tremove's fid is clunked, whatever the remove's outcome.
            What::Change(Change::Remove(_)) => drop(self.fids.remove(&fid)),
            _ => drop(self.busy.insert(fid, id)),
        }
        Some(Handled::Lookup(LookupJob { tag, id, fid, what }))
    }

    /// `msg` refused with `e` (a Tremove's fid clunked all the same, as
    /// 9P has it whatever the outcome).
    fn refuse(&mut self, msg: &Msg, dialect: Dialect, tag: u16, e: Error, out: &mut [u8]) -> Handled<J, N> {
        self.clunk_if_remove(msg);
        Handled::Reply(super::error_reply(Some(dialect), tag, e, out))
    }

    /// A Tremove's fid is clunked whatever the remove's outcome (9P).
    pub(super) fn clunk_if_remove(&mut self, msg: &Msg) {
        if let Msg::Tremove { fid } = *msg {
            self.fids.remove(&fid);
        }
    }

    /// The open of `fid` as `mode` asks, if the fid may be opened and the
    /// open may wait.
    fn open_of<F: Filesystem<Node = N>>(&self, fs: &F, fid: u32, mode: OpenMode, p2000: bool) -> Option<What<N>> {
        let f: &Fid<N, H> = self.fids.get(&fid).filter(|f| f.file.is_none() && fs.may_wait(&f.node))?;
        Some(What::Open { node: f.node.clone(), mode, p2000 })
    }

    /// Whether the lookup `job` is to be dropped without running (it was
    /// flushed, or the session began again): give it to
    /// [`Session::lookup_done`] with [`LookupJob::failed`].
    pub fn lookup_dropped(&self, job: &LookupJob<N>) -> bool {
        self.cancelled.contains(&job.id)
    }

    /// A lookup handed out is done: installs the file in its fid, or the
    /// fid a walk made, and writes the reply into `out` (its length),
    /// unless the lookup was flushed or the session began again meanwhile
    /// (then what it found is dropped, a file closed, and nothing is
    /// answered). Call [`Session::resume`] after it.
    pub fn lookup_done(&mut self, job: LookupJob<N>, looked: Looked<N, H>, out: &mut [u8]) -> Option<usize> {
        if self.lookups.get(&job.tag).is_some_and(|&(id, _)| id == job.id) {
            self.lookups.remove(&job.tag);
        }
        if self.busy.get(&job.fid) == Some(&job.id) {
            self.busy.remove(&job.fid);
        }
        if self.cancelled.remove(&job.id) {
            return None;
        }
        let dialect = self.dialect?;
        let iounit = self.iounit();
        let reply = match (job.what, looked) {
            (What::Open { mode, p2000, .. }, Looked::Opened(result)) => result.and_then(|(file, meta)| {
                // (Requests naming the fid waited: it is as it was.)
                let f = self.fids.get_mut(&job.fid).filter(|f| f.file.is_none()).ok_or(Error::BadFid)?;
                let qid = f.install(file, &meta, mode)?;
                Ok(if p2000 { Msg::Ropen { qid, iounit } } else { Msg::Rlopen { qid, iounit } })
            }),
            (What::Walk { from, names, in_place }, Looked::Walked(mut steps, ended)) => {
                let wqids = steps.iter().map(|(_, m)| m.qid).collect();
                match (ended, steps.is_empty()) {
                    // The first element failing is an error; later ones end
                    // the walk short, and the new fid is not made.
                    (Err(e), true) if !names.is_empty() => Err(e),
                    (Err(_), _) => Ok(Msg::Rwalk { wqids }),
                    (Ok(()), _) => {
                        let node = steps.pop().map_or(from, |(n, _)| n);
                        // (Requests naming the fid waited: it is as it was;
                        // another may have taken the last place meanwhile.)
                        let room = match in_place {
                            true => self.fids.get(&job.fid).filter(|f| f.file.is_none()).map(drop).ok_or(Error::BadFid),
                            false => self.check_new(job.fid),
                        };
                        room.map(|()| {
                            self.fids.insert(job.fid, Fid::new(node));
                            Msg::Rwalk { wqids }
                        })
                    }
                }
            }
            (What::List { offset, count, stats, .. }, Looked::Listed(listed)) => {
                let max = self.data_room(count, out);
                // (Requests naming the fid waited: it is open as it was.)
                let len = listed.and_then(|entries| {
                    let f =
                        self.fids.get_mut(&job.fid).filter(|f| f.file.is_some() && f.is_dir).ok_or(Error::BadFid)?;
                    if stats {
                        f.dir = Some((super::stat_bytes(&entries)?, 0));
                        let n = f.dir_page(offset, max, out)?;
                        return Ok(super::finish_data(out, codec::ty::RREAD, n));
                    }
                    let entries = f.entries.insert(entries);
                    super::readdir_reply(entries, offset, max, out)
                });
                let len = len.unwrap_or_else(|e| super::error_reply(Some(dialect), job.tag, e, out));
                out[5..7].copy_from_slice(&job.tag.to_le_bytes());
                return Some(len);
            }
            (What::Meta { p2000, .. }, Looked::Meta(meta)) => {
                // (Its reply borrows the metadata: encoded here.)
                let len = meta.and_then(|m| {
                    let msg =
                        if p2000 { Msg::Rstat { stat: super::stat_of(&m) } } else { Msg::Rgetattr(super::attr_of(&m)) };
                    codec::encode(&Frame { tag: job.tag, msg }, out).map_err(|_| Error::Invalid)
                });
                return Some(len.unwrap_or_else(|e| super::error_reply(Some(dialect), job.tag, e, out)));
            }
            (What::Change(change), Looked::Changed(result)) => result.map(|()| change.done()),
            _ => Err(Error::Invalid),
        };
        let len = reply.and_then(|msg| codec::encode(&Frame { tag: job.tag, msg }, out).map_err(|_| Error::Invalid));
        Some(len.unwrap_or_else(|e| super::error_reply(Some(dialect), job.tag, e, out)))
    }

    /// Whether requests wait behind busy fids (then [`Session::resume`]
    /// may have some to hand back).
    pub fn waiting(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// The next waiting request that nothing blocks any more, handled as
    /// `handle_apart` does (its reply in `out`); `None` when none is.
    pub fn resume<F: Filesystem<Node = N, File = H, Io = J>>(
        &mut self,
        fs: &mut F,
        out: &mut [u8],
    ) -> Option<Handled<J, N>> {
        let free = |s: &Self, i: usize| {
            let w = &s.waiting[i];
            let busy = |f: &u32| {
                s.busy.contains_key(f) || s.waiting[..i].iter().any(|e| e.fids.is_none_or(|ws| ws.contains(&Some(*f))))
            };
            match w.fids {
                Some(fids) => !fids.iter().flatten().any(busy),
                None => s.busy.is_empty() && i == 0,
            }
        };
        let i = (0..self.waiting.len()).find(|&i| free(self, i))?;
        let w = self.waiting.remove(i);
        // (Those after it that name its fids wait on: it goes first.)
        Some(self.handled(fs, &w.bytes, out, false))
    }

    /// A new version: lookups under way and waiting requests are dropped.
    /// The lookups still count against `MAX_LOOKUPS_APART` until they end (a
    /// client beginning again does not get more of the caller's threads).
    pub(super) fn drop_lookups(&mut self) {
        let running = core::mem::take(&mut self.lookups);
        self.cancelled.extend(running.into_values().map(|(id, _)| id));
        self.busy.clear();
        self.waiting.clear();
    }
}

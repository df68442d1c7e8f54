//! Opens that may wait, run apart (a file system's
//! [`Filesystem::opens_apart`]): an open of a `listen` file waits for a
//! caller, and one on the session's thread stalled every other request
//! of the connection until then, and could not be flushed.
//!
//! [`Session::handle_apart`] hands such a Topen or Tlopen out as an
//! [`OpenJob`]; the caller runs it on another thread
//! ([`OpenJob::run`], no session needed) and gives the result to
//! [`Session::opened`], which installs the file in the fid and writes
//! the reply. Meanwhile the fid is busy: a later request that names it,
//! or names a fid an earlier waiting request names, waits in arrival
//! order (so a walk and an open sent together, or an open and a read,
//! keep their order), and [`Session::resume`] hands the waiting ones
//! back once nothing blocks them. Everything else goes on.
//!
//! A Tflush of a waiting open is answered at once: the open counts as
//! never made (its result, when it comes, is closed and not answered),
//! as is a Tflush of a request still waiting. A Tversion drops them all.

use super::{Fid, Filesystem, Handled, Meta, Session};
use crate::codec;
use crate::error::Error;
use crate::msg::*;
use alloc::vec::Vec;

/// Requests that may wait behind busy fids at once (more: `Busy`).
pub const MAX_WAITING: usize = 64;
/// Bytes they may hold in all (a write's data waits with it).
pub const MAX_WAITING_BYTES: usize = 1 << 20;
/// Opens of one session running apart at once, flushed ones still
/// running included (more: `Busy`): an open may wait for ever (a
/// `listen` nobody calls), and the caller's threads must stay free for
/// the connection's other requests.
pub const MAX_OPENS_APART: usize = 8;

/// An open handed out by [`Session::handle_apart`].
#[derive(Debug)]
pub struct OpenJob<N> {
    pub tag: u16,
    id: u64,
    fid: u32,
    node: N,
    mode: OpenMode,
    /// A 9P2000 Topen (answered with Ropen), or a Tlopen.
    p2000: bool,
    /// The session's version epoch it was made in.
    epoch: u64,
}

impl<N> OpenJob<N> {
    /// Opens the file, on any thread (the session is not touched).
    pub fn run<F: Filesystem<Node = N>>(&self, fs: &mut F) -> Result<(F::File, Meta), Error> {
        fs.open(&self.node, self.mode)
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
    /// Whether a request naming `fids` must wait: one of them is being
    /// opened, or is named by a request waiting already.
    fn must_wait(&self, fids: Option<[Option<u32>; 2]>) -> bool {
        let Some(fids) = fids else { return !self.opening.is_empty() || !self.waiting.is_empty() };
        let named = |f: &u32| {
            self.opening.contains_key(f) || self.waiting.iter().any(|w| w.fids.is_none_or(|ws| ws.contains(&Some(*f))))
        };
        fids.iter().flatten().any(named)
    }

    /// Before `handle_apart` looks at a request: one that must wait is
    /// kept (`Handled::Waits`; `Busy` when too many wait), a Tflush of a
    /// waiting open or request is answered now; else `None`.
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
        // A tag still in use (its request waits, or its open runs) is the
        // client's mistake: two answers would carry it.
        if self.waiting.iter().any(|w| w.tag == tag) || self.opens.contains_key(&tag) {
            return Some(Handled::Reply(super::error_reply(Some(dialect), tag, Error::Invalid, out)));
        }
        if let Msg::Tflush { oldtag } = frame.msg {
            let waited = self.waiting.iter().position(|w| w.tag == oldtag);
            let opening = self.opens.remove(&oldtag);
            if waited.is_none() && opening.is_none() {
                return None;
            }
            if let Some(i) = waited {
                self.waiting.remove(i);
            }
            if let Some((id, fid)) = opening {
                self.cancelled.insert(id);
                self.opening.remove(&fid);
            }
            return Some(Handled::Reply(super::rflush(tag, out)));
        }
        let fids = fids_of(&frame.msg);
        if may_wait && self.must_wait(fids) {
            let bytes: usize = self.waiting.iter().map(|w| w.bytes.len()).sum();
            if self.waiting.len() >= MAX_WAITING || bytes + request.len() > MAX_WAITING_BYTES {
                return Some(Handled::Reply(super::error_reply(Some(dialect), tag, Error::Busy, out)));
            }
            self.waiting.push(Waiting { tag, fids, bytes: request.to_vec() });
            return Some(Handled::Waits);
        }
        let (fid, mode, p2000) = match frame.msg {
            Msg::Topen { fid, mode } => (fid, OpenMode::from_p2000(mode), true),
            Msg::Tlopen { fid, flags } => (fid, OpenMode::from_l(flags), false),
            _ => return None,
        };
        if !fs.opens_apart() {
            return None;
        }
        // A fid that cannot be opened gets its error from `handle`.
        let f: &Fid<N, H> = self.fids.get(&fid).filter(|f| f.file.is_none())?;
        let opens = self.opens.len() + self.cancelled.len();
        if self.in_flight.len() + self.opens.len() >= super::MAX_IN_FLIGHT || opens >= MAX_OPENS_APART {
            return Some(Handled::Reply(super::error_reply(Some(dialect), tag, Error::Busy, out)));
        }
        if self.in_flight.contains_key(&tag) {
            return Some(Handled::Reply(super::error_reply(Some(dialect), tag, Error::Invalid, out)));
        }
        self.next_open += 1;
        let id = self.next_open;
        self.opens.insert(tag, (id, fid));
        self.opening.insert(fid, id);
        let job = OpenJob { tag, id, fid, node: f.node.clone(), mode, p2000, epoch: self.epoch };
        Some(Handled::Open(job))
    }

    /// Whether the open `job` is to be dropped without running (it was
    /// flushed, or the session began again): give it to
    /// [`Session::opened`] with any error.
    pub fn open_dropped(&self, job: &OpenJob<N>) -> bool {
        self.cancelled.contains(&job.id) || job.epoch != self.epoch
    }

    /// An open handed out is done: installs the file in its fid and writes
    /// the reply into `out` (its length), unless the open was flushed or
    /// the session began again meanwhile (then the file is closed, and
    /// nothing is answered). Call [`Session::resume`] after it.
    pub fn opened(&mut self, job: OpenJob<N>, result: Result<(H, Meta), Error>, out: &mut [u8]) -> Option<usize> {
        if self.opens.get(&job.tag).is_some_and(|&(id, _)| id == job.id) {
            self.opens.remove(&job.tag);
        }
        if self.opening.get(&job.fid) == Some(&job.id) {
            self.opening.remove(&job.fid);
        }
        if self.cancelled.remove(&job.id) || job.epoch != self.epoch {
            return None;
        }
        let dialect = self.dialect?;
        let iounit = self.iounit();
        let installed = result.and_then(|(file, meta)| {
            if meta.is_dir() && job.mode != OpenMode::READ {
                return Err(Error::IsDir);
            }
            // (Requests naming the fid waited: it is as it was.)
            let f = self.fids.get_mut(&job.fid).filter(|f| f.file.is_none()).ok_or(Error::BadFid)?;
            f.file = Some(file);
            f.is_dir = meta.is_dir();
            f.mode = job.mode;
            Ok(meta.qid)
        });
        let len = match installed {
            Ok(qid) => {
                let msg = if job.p2000 { Msg::Ropen { qid, iounit } } else { Msg::Rlopen { qid, iounit } };
                codec::encode(&Frame { tag: job.tag, msg }, out).map_err(|_| Error::Invalid)
            }
            Err(e) => Err(e),
        };
        Some(len.unwrap_or_else(|e| super::error_reply(Some(dialect), job.tag, e, out)))
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
                s.opening.contains_key(f)
                    || s.waiting[..i].iter().any(|e| e.fids.is_none_or(|ws| ws.contains(&Some(*f))))
            };
            match w.fids {
                Some(fids) => !fids.iter().flatten().any(busy),
                None => s.opening.is_empty() && i == 0,
            }
        };
        let i = (0..self.waiting.len()).find(|&i| free(self, i))?;
        let w = self.waiting.remove(i);
        // (Those after it that name its fids wait on: it goes first.)
        Some(self.handled(fs, &w.bytes, out, false))
    }

    /// A new version: opens under way and waiting requests are dropped.
    /// The opens still count against `MAX_OPENS_APART` until they end (a
    /// client beginning again does not get more of the caller's threads).
    pub(super) fn drop_opens(&mut self) {
        self.epoch += 1;
        let running = core::mem::take(&mut self.opens);
        self.cancelled.extend(running.into_values().map(|(id, _)| id));
        self.opening.clear();
        self.waiting.clear();
    }
}

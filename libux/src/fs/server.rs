//! What file servers share: answers owned until they are encoded, and
//! calls answered later (their reply capabilities saved in slots of the
//! server's own CNode, `layout::slot::CNODE`, which daemons hold).

use super::{Attrs, FsReply};
use crate::layout::slot;
use crate::rpc::client::call;
use crate::rpc::frame;
use crate::rpc::{Errno, Pid, Request, Response, MSG_REPLY};
use crate::sel4::syscall::{self, ipc_buffer, Msg};
use crate::sel4::{CNode, MessageInfo};
use alloc::collections::BTreeSet;
use alloc::string::String;
use alloc::vec::Vec;

/// A directory entry, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub is_dir: bool,
    /// Bytes of a file, entries of a directory.
    pub size: u64,
    pub version: u32,
    pub attrs: Option<Attrs>,
}

impl Entry {
    /// An entry of a synthetic file: no version, no attributes.
    pub fn new(name: impl Into<String>, is_dir: bool, size: u64) -> Entry {
        Entry { name: name.into(), is_dir, size, version: 0, attrs: None }
    }
}

/// An answer, owned until it is encoded.
pub enum Answer {
    Done,
    Handle(u32),
    Data(Vec<u8>),
    Count(u32),
    Stat(Entry),
    /// Entries, and whether more follow.
    Entries(Vec<Entry>, bool),
}

/// Encodes an answer into the IPC buffer; its length in words.
pub fn encode(reply: &Result<Answer, Errno>) -> usize {
    encode_reply(&reply.as_ref().map(super::serve::response).map_err(|e| *e))
}

/// Encodes a reply into the IPC buffer; its length in words.
pub fn encode_reply(r: &FsReply) -> usize {
    let msg = &mut ipc_buffer().msg;
    frame::encode(r, msg, None, 0).unwrap_or_else(|e| frame::encode(&FsReply::Err(e), msg, None, 0).unwrap())
}

/// The file protocol request of the call `m` just received, copied out of
/// the IPC buffer (the server's own calls reuse it), to decode with
/// `fs::decode_request`. Only a Call with the request inline is one.
pub fn request_bytes(m: &crate::rpc::client::Received) -> Result<Vec<u8>, Errno> {
    let mut buf = [0; crate::rpc::INLINE_MAX];
    request_into(m, &mut buf).map(<[u8]>::to_vec)
}

/// [`request_bytes`] into `buf`, without allocating.
pub fn request_into<'b>(
    m: &crate::rpc::client::Received,
    buf: &'b mut [u8; crate::rpc::INLINE_MAX],
) -> Result<&'b [u8], Errno> {
    let msg = &ipc_buffer().msg;
    match frame::header(msg, m.words) {
        Ok(h) if m.label == crate::rpc::MSG_CALL && h.place == frame::Place::Inline => {
            buf[..h.len].copy_from_slice(&frame::inline_bytes(msg)[..h.len]);
            Ok(&buf[..h.len])
        }
        Ok(_) => Err(Errno::BadRequest),
        Err(e) => Err(e),
    }
}

/// The clients whose I/O windows onto us the process server made, as
/// far as we asked it (`Request::HasWindow`, once per client): a call
/// naming a window its client never asked for is refused, never a read
/// or write of memory not mapped (whose fault would end the server) or
/// of an ended client's window. Clients that ended are forgotten. A
/// server with threads uses a window only under the lock that guards
/// its `Windows`, which the thread that asks `Ended` holds across that
/// call (in which the process server unmaps the windows of clients that
/// ended) until it has forgotten them.
#[derive(Default)]
pub struct Windows {
    known: BTreeSet<Pid>,
}

impl Windows {
    /// Client `pid`'s window, if it has one; only while answering or
    /// keeping a call of `pid`'s (see `fs::client_window`).
    pub fn get(&mut self, pid: Pid) -> Option<&'static mut [u8]> {
        if !self.known.contains(&pid) {
            if call(slot::PROC_CONN, &Request::HasWindow { client: pid }) != Ok(Response::Done) {
                return None;
            }
            self.known.insert(pid);
        }
        // SAFETY: the process server made it, and keeps it while `pid`
        // lives (an `Exec` too); we forget `pid` when we hear it ended.
        Some(unsafe { super::client_window(pid) })
    }

    /// The clients known to have windows: a server that missed endings
    /// (more than the process server keeps) asks which of these are gone.
    pub fn clients(&self) -> impl Iterator<Item = Pid> + '_ {
        self.known.iter().copied()
    }

    /// Processes that ended.
    pub fn forget(&mut self, pids: &[Pid]) {
        for pid in pids {
            self.known.remove(pid);
        }
    }

    /// One page of the processes that ended since `cursor` (which moves
    /// on), their windows forgotten: the process server unmaps them in
    /// this very call, so a server with threads holds the lock of its
    /// `Windows` across it. When endings were lost, the page has those
    /// of `holders` (and of our windows' clients) that are gone too; if
    /// that cannot be learnt, every window is forgotten, to be asked for
    /// afresh.
    pub fn ended_page(
        &mut self,
        cursor: &mut u64,
        holders: impl FnOnce() -> Vec<Pid>,
    ) -> Result<crate::process::EndedPage, Errno> {
        let mut page = crate::process::ended_page(cursor)?;
        if page.lost {
            let mut known = holders();
            known.extend(self.clients());
            match crate::process::gone_among(known) {
                Ok(gone) => page.pids.extend(gone),
                Err(_) => self.known.clear(),
            }
        }
        self.forget(&page.pids);
        Ok(page)
    }
}

/// Slots `first..first + count` of our CNode for saved reply capabilities.
pub struct ReplySlots {
    free: Vec<u64>,
}

impl ReplySlots {
    pub fn new(first: u64, count: u64) -> Self {
        ReplySlots { free: (first..first + count).rev().collect() }
    }

    /// Keeps the reply capability of the call just received; `Busy` when
    /// every slot holds one.
    pub fn save(&mut self) -> Result<u64, Errno> {
        let slot = self.free.pop().ok_or(Errno::Busy)?;
        let cnode = CNode(slot::CNODE);
        // Whatever an earlier answer left (nothing, normally) goes first.
        let _ = cnode.delete(slot, 64);
        if cnode.save_caller(slot, 64).is_err() {
            self.free.push(slot);
            return Err(Errno::BadRequest);
        }
        Ok(slot)
    }

    /// Answers the call saved in `slot` (non-blocking: a caller that has
    /// gone meanwhile costs nothing) and frees the slot.
    pub fn answer(&mut self, slot: u64, reply: &Result<Answer, Errno>) {
        self.answer_reply(slot, &reply.as_ref().map(super::serve::response).map_err(|e| *e));
    }

    /// [`answer`](Self::answer) with a reply in the protocol's form.
    pub fn answer_reply(&mut self, slot: u64, reply: &FsReply) {
        self.send(slot, encode_reply(reply));
    }

    /// Answers the call saved in `slot` with the `words`-word reply in
    /// the IPC buffer (of any protocol: the cluster server answers
    /// process API calls so), and frees the slot.
    pub fn send(&mut self, slot: u64, words: usize) {
        let m = &ipc_buffer().msg;
        let info = MessageInfo::new(MSG_REPLY, 0, 0, words as u64);
        syscall::nb_send(slot, Msg { info, mr: [m[0], m[1], m[2], m[3]] });
        self.free.push(slot);
    }

    /// Drops the call saved in `slot` unanswered.
    pub fn drop_call(&mut self, slot: u64) {
        let _ = CNode(slot::CNODE).delete(slot, 64);
        self.free.push(slot);
    }

    /// Takes the calls `which` picks out of `kept` (whose slot `slot_of`
    /// gives) and answers them `Interrupted`; how many.
    pub fn interrupt<P>(&mut self, kept: &mut Vec<P>, slot_of: impl Fn(&P) -> u64, which: impl Fn(&P) -> bool) -> u32 {
        let gone = take_out(kept, which);
        for p in &gone {
            self.answer(slot_of(p), &Err(Errno::Interrupted));
        }
        gone.len() as u32
    }

    /// Takes the calls `which` picks out of `kept` and drops them
    /// unanswered (their callers ended).
    pub fn forget<P>(&mut self, kept: &mut Vec<P>, slot_of: impl Fn(&P) -> u64, which: impl Fn(&P) -> bool) {
        for p in take_out(kept, which) {
            self.drop_call(slot_of(&p));
        }
    }
}

/// The elements of `all` that `which` picks, in order; the rest stay.
pub fn take_out<P>(all: &mut Vec<P>, which: impl Fn(&P) -> bool) -> Vec<P> {
    let (gone, kept) = all.drain(..).partition(|p| which(p));
    *all = kept;
    gone
}

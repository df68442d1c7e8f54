//! What file servers share: answers owned until they are encoded, and
//! calls answered later (their reply capabilities saved in slots of the
//! server's own CNode, `layout::slot::CNODE`, which daemons hold).

use super::{FileStat, FsReply, FsResponse};
use crate::layout::slot;
use crate::rpc::frame;
use crate::rpc::{Errno, MSG_REPLY};
use crate::sel4::syscall::{self, ipc_buffer, Msg};
use crate::sel4::{CNode, MessageInfo};
use alloc::string::String;
use alloc::vec::Vec;

/// A directory entry: name, directory or not, size.
pub type Entry = (String, bool, u64);

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

fn stat((name, is_dir, size): &Entry) -> FileStat<'_> {
    FileStat { name, is_dir: *is_dir, size: *size, version: 0, attrs: None }
}

/// Encodes an answer into the IPC buffer; its length in words.
pub fn encode(reply: &Result<Answer, Errno>) -> usize {
    let r: FsReply = match reply {
        Err(e) => Err(*e),
        Ok(Answer::Done) => Ok(FsResponse::Done),
        Ok(Answer::Handle(h)) => Ok(FsResponse::Handle(*h)),
        Ok(Answer::Data(d)) => Ok(FsResponse::Data(d)),
        Ok(Answer::Count(n)) => Ok(FsResponse::Count(*n)),
        Ok(Answer::Stat(entry)) => Ok(FsResponse::Stat(stat(entry))),
        Ok(Answer::Entries(e, more)) => Ok(FsResponse::Entries { entries: e.iter().map(stat).collect(), more: *more }),
    };
    let msg = &mut ipc_buffer().msg;
    frame::encode(&r, msg, None, 0).unwrap_or_else(|e| frame::encode(&FsReply::Err(e), msg, None, 0).unwrap())
}

/// The file protocol request of the call `m` just received, copied out of
/// the IPC buffer (the server's own calls reuse it), to decode with
/// `fs::decode_request`. Only a Call with the request inline is one.
pub fn request_bytes(m: &crate::rpc::client::Received) -> Result<Vec<u8>, Errno> {
    let msg = &ipc_buffer().msg;
    match frame::header(msg, m.words) {
        Ok(h) if m.label == crate::rpc::MSG_CALL && h.place == frame::Place::Inline => {
            Ok(frame::inline_bytes(msg)[..h.len].to_vec())
        }
        Ok(_) => Err(Errno::BadRequest),
        Err(e) => Err(e),
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
        let words = encode(reply);
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

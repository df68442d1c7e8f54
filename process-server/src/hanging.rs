//! `Wait { hang: true }` calls no ended child could answer yet. Each keeps
//! its reply capability in a root slot until a child of the waiting parent
//! ends (then it is answered with a non-blocking send, after the current
//! call, like a `/proc/<pid>/wait` read), the parent ends, or the caller
//! (the parent, or the intermediary that relayed the call) is stopped or
//! ends, which cancels the call and so the reply capability.

use crate::mem::{ROOT_CNODE, ROOT_DEPTH};
use crate::process::State;
use crate::server::Server;
use alloc::vec::Vec;
use libux::rpc::{Errno, Pid, Reply, Response, Waited};

/// Hanging waits at once, in all (each holds a root slot). A process has
/// at most `layout::MAX_THREADS` of its own; intermediaries relay more.
const MAX_HANGING: usize = 1024;

pub struct Hanging {
    /// The process that waits for a child.
    parent: Pid,
    which: Option<Pid>,
    /// Who made the call: the parent, or its intermediary.
    caller: Pid,
    slot: u64,
}

impl Server {
    /// Keeps the reply capability of the current call, a `Wait` of
    /// `parent`'s that no ended child answers yet.
    pub fn hang(&mut self, caller: Pid, parent: Pid, which: Option<Pid>) -> Result<(), Errno> {
        if self.hanging.len() >= MAX_HANGING {
            return Err(Errno::NoMemory);
        }
        let slot = self.kernel.mem.slot()?;
        if ROOT_CNODE.save_caller(slot, ROOT_DEPTH).is_err() {
            self.kernel.mem.free_slot(slot);
            return Err(Errno::BadRequest);
        }
        self.hanging.push(Hanging { parent, which, caller, slot });
        Ok(())
    }

    /// `child` ended and is a zombie: the first wait of its parent's that
    /// it matches reaps it and is answered.
    pub fn answer_hanging(&mut self, child: Pid) {
        let Some(State::Zombie(end)) = self.procs.get(&child).map(|p| &p.state) else {
            return;
        };
        let (end, parent) = (*end, self.procs[&child].ppid);
        let Some(i) = self.hanging.iter().position(|h| h.parent == parent && h.which.is_none_or(|w| w == child)) else {
            return;
        };
        let h = self.hanging.remove(i);
        self.procs.remove(&child);
        self.send_later(h.slot, &Ok(Response::Waited(Some(Waited { pid: self.procs.gpid(child), end }))));
    }

    /// `pid` ended: its own waits get `NoSuchProcess` (for an intermediary
    /// that relayed them), the waits it relayed are dropped.
    pub fn hanging_after_end(&mut self, pid: Pid) {
        // In place: the others stay where they are, and most ends touch
        // none.
        let mut mine = Vec::new();
        let mut i = 0;
        while i < self.hanging.len() {
            if self.hanging[i].parent == pid || self.hanging[i].caller == pid {
                mine.push(self.hanging.remove(i));
            } else {
                i += 1;
            }
        }
        for h in mine {
            if h.caller == pid {
                self.kernel.delete_root(h.slot);
            } else {
                self.send_later(h.slot, &Err(Errno::NoSuchProcess));
            }
        }
    }

    /// `caller` was stopped: the calls it was blocked in are cancelled.
    pub fn forget_hanging(&mut self, caller: Pid) {
        let (gone, rest): (Vec<_>, Vec<_>) = self.hanging.drain(..).partition(|h| h.caller == caller);
        self.hanging = rest;
        for h in gone {
            self.kernel.delete_root(h.slot);
        }
    }

    /// Queues `reply` for the kept reply capability in `slot` (sent, and
    /// the slot freed, by `send_ready`).
    fn send_later(&mut self, slot: u64, reply: &Reply) {
        let bytes = postcard::to_allocvec(reply).expect("a reply encodes");
        self.files.ready.push((slot, bytes));
    }
}

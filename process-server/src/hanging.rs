//! `Wait { hang: true }` calls no ended child could answer yet. Each keeps
//! its reply capability in a root slot until a child of the waiting
//! parent ends, here or on another node (`placed.rs`); then it is
//! answered with a non-blocking send, after the current call, like a
//! `/proc/<pid>/wait` read. The parent's end, or the caller's (the parent,
//! or the intermediary that relayed the call) being stopped or ending,
//! cancels the call and so the reply capability.

use crate::kernel::Kernel;
use crate::mem::{ROOT_CNODE, ROOT_DEPTH};
use crate::process::State;
use crate::procs::Procs;
use alloc::vec::Vec;
use libux::cluster::Gpid;
use libux::rpc::{Errno, Pid, Reply, Response, Waited};

/// Hanging waits at once, in all (each holds a root slot). A process has
/// at most `layout::MAX_THREADS` of its own; intermediaries relay more.
const MAX_HANGING: usize = 1024;

/// The waits kept, oldest first.
#[derive(Default)]
pub struct Hanging(Vec<Hang>);

/// An answer to send: the kept reply capability's slot, and the reply.
pub type Later = (u64, Reply);

struct Hang {
    /// The process that waits for a child.
    parent: Pid,
    which: Option<Pid>,
    /// Who made the call: the parent, or its intermediary.
    caller: Pid,
    slot: u64,
}

impl Hanging {
    /// Keeps the reply capability of the current call, a `Wait` of
    /// `parent`'s that no ended child answers yet.
    pub fn hang(&mut self, kernel: &mut Kernel, caller: Pid, parent: Pid, which: Option<Pid>) -> Result<(), Errno> {
        if self.0.len() >= MAX_HANGING {
            return Err(Errno::NoMemory);
        }
        let slot = kernel.mem.slot()?;
        if ROOT_CNODE.save_caller(slot, ROOT_DEPTH).is_err() {
            kernel.mem.free_slot(slot);
            return Err(Errno::BadRequest);
        }
        self.0.push(Hang { parent, which, caller, slot });
        Ok(())
    }

    /// `child` ended and is a zombie: the first wait of its parent's that
    /// it matches reaps it and is to be answered.
    pub fn answer(&mut self, procs: &mut Procs, child: Pid) -> Option<Later> {
        let Some(State::Zombie(end)) = procs.get(&child).map(|p| &p.state) else {
            return None;
        };
        let (end, parent) = (*end, procs[&child].ppid);
        let i = self.0.iter().position(|h| h.parent == parent && h.which.is_none_or(|w| w == child))?;
        let h = self.0.remove(i);
        procs.remove(&child);
        Some((h.slot, Ok(Response::Waited(Some(Waited { pid: procs.gpid(child), end })))))
    }

    /// `parent`'s `child` on another node ended (told so just now): the
    /// first wait of `parent`'s that it matches reaps it and is to be
    /// answered.
    pub fn answer_placed(&mut self, procs: &mut Procs, parent: Pid, child: Gpid) -> Option<Later> {
        let i = self.0.iter().position(|h| h.parent == parent && h.which.is_none_or(|w| w == child.0))?;
        let waited = procs.live_mut(parent).ok()?.placed.reap(Some(child))?;
        let h = self.0.remove(i);
        Some((h.slot, Ok(Response::Waited(Some(waited)))))
    }

    /// `pid` ended: its own waits get `NoSuchProcess` (for an intermediary
    /// that relayed them: answers returned), the waits it relayed are
    /// dropped.
    pub fn after_end(&mut self, kernel: &mut Kernel, pid: Pid) -> Vec<Later> {
        // In place: the others stay where they are, and most ends touch
        // none.
        let mut mine = Vec::new();
        let mut i = 0;
        while i < self.0.len() {
            if self.0[i].parent == pid || self.0[i].caller == pid {
                mine.push(self.0.remove(i));
            } else {
                i += 1;
            }
        }
        let mut answers = Vec::new();
        for h in mine {
            if h.caller == pid {
                kernel.delete_root(h.slot);
            } else {
                answers.push((h.slot, Err(Errno::NoSuchProcess)));
            }
        }
        answers
    }

    /// `caller` was stopped or ended: the calls it was blocked in are
    /// cancelled.
    pub fn forget(&mut self, kernel: &mut Kernel, caller: Pid) {
        let (gone, rest): (Vec<_>, Vec<_>) = self.0.drain(..).partition(|h| h.caller == caller);
        self.0 = rest;
        for h in gone {
            kernel.delete_root(h.slot);
        }
    }
}

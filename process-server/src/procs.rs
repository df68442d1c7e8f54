//! The process table: every process by pid, live or zombie; which pid
//! comes next; and the log of endings daemons read (`Request::Ended`).
//! It holds records only: what a process's objects are and how they are
//! made or taken down is `process`'s.

use crate::process::{Live, Process};
use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use libux::rpc::{Errno, Pid, Response, ENDED_KEPT, ENDED_PER_REPLY, PID_MAX};

/// Records (live and zombie) the table holds at most: bounds our heap.
pub const MAX_PROCESSES: usize = 4096;

pub struct Procs {
    map: BTreeMap<Pid, Process>,
    next_pid: Pid,
    /// The last `ENDED_KEPT` processes that ended, and how many ended in
    /// all.
    ended: VecDeque<Pid>,
    ended_count: u64,
}

impl Default for Procs {
    fn default() -> Procs {
        Procs { map: BTreeMap::new(), next_pid: 1, ended: VecDeque::new(), ended_count: 0 }
    }
}

impl Procs {
    /// What live process `pid` holds.
    pub fn live(&self, pid: Pid) -> Result<&Live, Errno> {
        self.map.get(&pid).and_then(Process::live).ok_or(Errno::NoSuchProcess)
    }

    pub fn live_mut(&mut self, pid: Pid) -> Result<&mut Live, Errno> {
        self.map.get_mut(&pid).and_then(Process::live_mut).ok_or(Errno::NoSuchProcess)
    }

    /// A pid for a new process: handed out in turn below 2^16, never one
    /// a record (a zombie's too) still has.
    pub fn new_pid(&mut self) -> Result<Pid, Errno> {
        // Zombies cost only a record, but records live in our fixed heap.
        if self.map.len() >= MAX_PROCESSES {
            return Err(Errno::NoMemory);
        }
        for _ in 0..=PID_MAX {
            let pid = self.next_pid;
            self.next_pid = if pid >= PID_MAX { 1 } else { pid + 1 };
            if !self.map.contains_key(&pid) {
                return Ok(pid);
            }
        }
        Err(Errno::NoMemory)
    }

    /// Logs that `pid` ended, for the daemons to read.
    pub fn log_end(&mut self, pid: Pid) {
        if self.ended.len() == ENDED_KEPT {
            self.ended.pop_front();
        }
        self.ended.push_back(pid);
        self.ended_count += 1;
    }

    /// `Request::Ended`: the endings logged after the `after`th.
    pub fn ended_since(&self, after: u64) -> Response {
        let first = self.ended_count - self.ended.len() as u64;
        let lost = after < first;
        let skip = after.saturating_sub(first) as usize;
        let pids: Vec<Pid> = self.ended.iter().skip(skip).take(ENDED_PER_REPLY).copied().collect();
        let upto = after.max(first) + pids.len() as u64;
        Response::Ended { more: upto < self.ended_count, upto, pids, lost }
    }
}

impl core::ops::Deref for Procs {
    type Target = BTreeMap<Pid, Process>;
    fn deref(&self) -> &Self::Target {
        &self.map
    }
}

impl core::ops::DerefMut for Procs {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.map
    }
}

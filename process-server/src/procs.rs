//! The process table: every process by pid, live or zombie; which pid
//! comes next; and the log of endings daemons read (`Request::Ended`).
//! It holds records only: what a process's objects are and how they are
//! made or taken down is `process`'s. What a record is called outside
//! (its gpid), who may act on whom, and its status line are read from
//! here.

use crate::process::{Live, Process, State};
use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;
use libux::cluster::{Gpid, NodeId};
use libux::procfs;
use libux::rpc::{Errno, Pid, Response, ENDED_KEPT, ENDED_PER_REPLY, PID_MAX};

/// Records (live and zombie) the table holds at most: bounds our heap.
pub const MAX_PROCESSES: usize = 4096;

pub struct Procs {
    /// This node's number in its cluster (1, a cluster of one, without
    /// one): the gpids that name our own processes.
    pub node: NodeId,
    map: BTreeMap<Pid, Process>,
    next_pid: Pid,
    /// The last `ENDED_KEPT` processes that ended, and how many ended in
    /// all.
    ended: VecDeque<Pid>,
    ended_count: u64,
}

impl Default for Procs {
    fn default() -> Procs {
        Procs { node: NodeId(1), map: BTreeMap::new(), next_pid: 1, ended: VecDeque::new(), ended_count: 0 }
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

impl Procs {
    /// A process a call names: a gpid of this node's (its local pid), or
    /// the local pid itself (the short form this node's own servers know
    /// from badges); another node's gpid is `Elsewhere` (the caller's
    /// library asks the cluster server instead).
    pub fn local_pid(&self, pid: Pid) -> Result<Pid, Errno> {
        if pid <= PID_MAX {
            return Ok(pid);
        }
        match Gpid(pid).node() {
            Some(n) if n == self.node => Ok(Gpid(pid).pid()),
            Some(_) => Err(Errno::Elsewhere),
            None => Err(Errno::NoSuchProcess),
        }
    }

    /// What a process is called outside the process server: its gpid
    /// (`libux::cluster`), so that every answer speaks one kind of pid on
    /// every node; 0 (no process: an orphan's parent) stays 0.
    pub fn gpid(&self, pid: Pid) -> Pid {
        Gpid::new(self.node, pid).map_or(pid, |g| g.0)
    }

    /// The parent a process is told of and `/proc` names: the process of
    /// another node it was started for, or its parent here.
    pub fn parent_gpid(&self, p: &Process) -> Pid {
        p.home_parent.unwrap_or_else(|| self.gpid(p.ppid))
    }

    /// Whether `actor` may kill, stop or continue `target` (see "Who may
    /// act on whom" in ARCHITECTURE): itself always; a process the
    /// process server started (the system description's servers, the
    /// console's program) only if it is of the console; and if it is
    /// restricted (`Request::Restrict`), only its descendants.
    pub fn may_act_on(&self, actor: Pid, target: Pid) -> Result<(), Errno> {
        if actor == target {
            return Ok(());
        }
        let a = self.map.get(&actor);
        if self.map.get(&target).is_some_and(|t| t.system) && !a.is_some_and(|a| a.console) {
            return Err(Errno::NotPermitted);
        }
        if !a.is_some_and(|p| p.restricted) {
            return Ok(());
        }
        let parent = |p: &Pid| self.map.get(p).map(|p| p.ppid).filter(|&pp| pp != 0);
        // Parents are older than their children: the chain ends; the bound
        // only keeps a mistake from looping.
        let mut line = core::iter::successors(Some(target), parent).take(MAX_PROCESSES);
        if line.any(|p| p == actor) {
            Ok(())
        } else {
            Err(Errno::NotPermitted)
        }
    }

    /// `/proc/<pid>/status`'s line.
    pub fn status_line(&self, pid: Pid) -> Option<String> {
        let p = self.map.get(&pid)?;
        let (state, memory) = match &p.state {
            State::Live(l) => {
                let memory = l.arena.bytes() + crate::blocks::bytes(&l.blocks);
                (String::from(if l.stopped { "stopped" } else { "running" }), memory)
            }
            State::Zombie(end) => (procfs::ended_state(end), 0),
        };
        Some(procfs::status_line(self.gpid(pid), self.parent_gpid(p), &state, &p.name, memory))
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

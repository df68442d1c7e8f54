//! The process server's loop: receive a call on the process server
//! endpoint, find out who it is from (the badge, or the process an
//! intermediary relays for), decode it, act on `Life`, reply. It never
//! blocks on behalf of a caller: a call that cannot be answered yet (a
//! hanging `Wait`, a read of a `wait` file) keeps its reply capability
//! and is answered when a process ends (`Server::end`).

mod proc_files;

pub use proc_files::FileOutcome;

use crate::buffers::buffer_address;
use crate::files::ProcFiles;
use crate::hanging::Hanging;
use crate::life::Life;
use crate::process::{Ended, Grants, Process, State};
use crate::procs::MAX_PROCESSES;
use alloc::vec::Vec;
use libux::cluster::{self, Gpid};
use libux::rpc::frame::{self, Place};
use libux::rpc::{
    Badge, End, Errno, Fault, FaultKind, Pid, Reply, Request, Resources, Response, Stats, Waited, BUFFER_MAX, MSG_CALL,
    MSG_RELAY, MSG_REPLY, PID_MAX, PLACED_NODE_MAX,
};
use libux::sel4::consts::{fault_mr, fault_type};
use libux::sel4::syscall::{self, ipc_buffer, Msg};
use libux::sel4::MessageInfo;

pub struct Server {
    /// The processes and what they are made of.
    pub life: Life,
    /// `/proc` and `/bin`, and the answers kept for later.
    pub files: ProcFiles,
    /// `Wait`s kept until a child ends.
    pub hanging: Hanging,
    pub tsc_mhz: u64,
    /// The CMOS clock as read at boot (`rtc.rs`).
    pub wall: Option<crate::rtc::WallClock>,
}

/// What to answer a call with.
enum Outcome {
    Reply(Reply),
    /// No answer now: the caller is gone (it exited or was killed by its
    /// own call), or its reply capability was kept to answer later.
    Nothing,
}

impl Server {
    pub fn new(life: Life) -> Server {
        Server { life, files: ProcFiles::default(), hanging: Hanging::default(), tsc_mhz: 0, wall: None }
    }

    /// Serves calls until none of our own children is left alive.
    pub fn serve_until_idle(&mut self) {
        self.serve_until(|s| !s.life.procs.values().any(|p| p.ppid == 0 && !p.daemon && p.live().is_some()));
    }

    /// Serves calls until `done` holds; `done` must depend only on what
    /// bumps `changes` (processes ending, mounts).
    pub fn serve_until(&mut self, done: impl Fn(&Server) -> bool) {
        let out = |words: usize| {
            let m = &ipc_buffer().msg;
            Msg { info: MessageInfo::new(MSG_REPLY, 0, 0, words as u64), mr: [m[0], m[1], m[2], m[3]] }
        };
        let mut reply: Option<usize> = None;
        let mut checked = None;
        loop {
            if checked != Some(self.life.changes) {
                if done(self) {
                    break;
                }
                checked = Some(self.life.changes);
            }
            let (badge, info) = match reply.take() {
                Some(words) => syscall::reply_recv(self.life.ep.0, out(words)),
                None => syscall::recv(self.life.ep.0),
            };
            ipc_buffer().msg[..4].copy_from_slice(&info.mr);
            crate::work::call();
            reply = self.handle(badge, info.info);
        }
        // The call that made `done` true still gets its answer (a daemon's
        // Mount, say): the next receive would drop the reply capability.
        if let Some(words) = reply {
            syscall::reply(out(words));
        }
    }

    /// Handles one message; returns the reply's length in words, if any.
    fn handle(&mut self, badge: u64, info: MessageInfo) -> Option<usize> {
        let badge = Badge(badge);
        if badge.is_fault() {
            let pid = badge.pid();
            let fault = decode_fault(info.label(), &ipc_buffer().msg);
            if self.life.finish_restarted_call(pid, info.label(), &fault) {
                return None;
            }
            // Any answer resumes a thread stopped by a page fault.
            if info.label() == fault_type::VM_FAULT && self.life.grow_stack(pid) {
                return Some(0);
            }
            if let Some(p) = self.life.procs.get(&pid) {
                if p.ppid != 0 {
                    self.life.report_end(p, End::Faulted(fault));
                }
            }
            self.end(pid, End::Faulted(fault));
            self.send_ready();
            return None;
        }
        let caller = badge.pid();
        if badge.is_files() {
            return self.handle_file_call(caller, badge.is_bin(), info);
        }
        // A stale badge (a process already gone) gets nothing.
        self.life.procs.live(caller).ok()?;
        // The process the call is for: a large reply goes in its shared
        // buffer, which is where it looks (an intermediary passes the
        // reply's header through unchanged), unless the call said the
        // buffer is busy.
        let (target, inline_only, outcome) = match self.effective(caller, info) {
            Ok((pid, bytes, inline_only)) => match libux::rpc::decode_request(&bytes) {
                Ok(req) => (pid, inline_only, self.dispatch(pid, caller, req)),
                Err(_) => (pid, inline_only, Outcome::Reply(Err(Errno::BadRequest))),
            },
            Err(e) => (caller, true, Outcome::Reply(Err(e))),
        };
        self.send_ready();
        match outcome {
            Outcome::Nothing => None,
            Outcome::Reply(r) => Some(self.encode_reply(target, inline_only, &r)),
        }
    }

    fn handle_file_call(&mut self, caller: Pid, bin: bool, info: MessageInfo) -> Option<usize> {
        self.life.procs.live(caller).ok()?;
        let msg = &ipc_buffer().msg;
        let outcome = match frame::header(msg, info.length() as usize) {
            Ok(h) if info.label() == MSG_CALL && h.place == Place::Inline => {
                let bytes = frame::inline_bytes(msg)[..h.len].to_vec();
                self.file_call(caller, bin, &bytes)
            }
            _ => FileOutcome::Reply(postcard::to_allocvec(&libux::fs::FsReply::Err(Errno::BadRequest)).unwrap()),
        };
        self.send_ready();
        match outcome {
            FileOutcome::Reply(bytes) => Some(frame_inline(&bytes)),
            FileOutcome::Deferred => None,
        }
    }

    /// The process a call is for, its bytes, and whether its reply must
    /// stay inline.
    fn effective(&self, caller: Pid, info: MessageInfo) -> Result<(Pid, Vec<u8>, bool), Errno> {
        let msg = &ipc_buffer().msg;
        let h = frame::header(msg, info.length() as usize)?;
        let pid = match info.label() {
            MSG_CALL => caller,
            MSG_RELAY => {
                let pid = Pid::try_from(h.on_behalf).map_err(|_| Errno::NoSuchProcess)?;
                let pid = self.life.procs.local_pid(pid).map_err(|_| Errno::NoSuchProcess)?;
                if !self.intermediaries(pid)?.any(|i| i == caller) {
                    return Err(Errno::NotPermitted);
                }
                pid
            }
            _ => return Err(Errno::BadRequest),
        };
        let bytes = match h.place {
            Place::Inline => frame::inline_bytes(msg)[..h.len].to_vec(),
            Place::Buffer => {
                let index = self.life.procs.live(pid).map_err(|_| Errno::NoSuchProcess)?.buffer;
                // SAFETY: our mapping of the process's shared buffer page.
                let page = unsafe { &*(buffer_address(index) as *const [u8; BUFFER_MAX]) };
                page[..h.len].to_vec()
            }
        };
        Ok((pid, bytes, h.inline_only))
    }

    /// The intermediaries between `pid` and us, nearest first: its own,
    /// then that one's, and so on (an intermediary that is itself
    /// redirected passes relays on to its own).
    fn intermediaries(&self, pid: Pid) -> Result<impl Iterator<Item = Pid> + '_, Errno> {
        let live = self.life.procs.live(pid)?;
        let next = |i: &Pid| self.life.procs.live(*i).ok().and_then(|l| l.intermediary);
        // An intermediary is older than those it serves, so the chain ends;
        // the bound only keeps a mistake from looping.
        Ok(core::iter::successors(live.intermediary, next).take(MAX_PROCESSES))
    }

    fn encode_reply(&mut self, target: Pid, inline_only: bool, r: &Reply) -> usize {
        let msg = &mut ipc_buffer().msg;
        let buffer = self.life.procs.live(target).ok().filter(|_| !inline_only).map(|l| {
            // SAFETY: our mapping of the process's shared buffer page.
            unsafe { &mut *(buffer_address(l.buffer) as *mut [u8; BUFFER_MAX]) }
        });
        frame::encode(r, msg, buffer, 0).unwrap_or_else(|e| frame::encode(&Reply::Err(e), msg, None, 0).unwrap())
    }

    /// Carries out `req` for `pid`, made by `caller` (`pid` itself, or its
    /// intermediary).
    fn dispatch(&mut self, pid: Pid, caller: Pid, req: Request) -> Outcome {
        let ok = |r: Result<Response, Errno>| Outcome::Reply(r);
        let relayed = caller != pid;
        let req = match self.localize(pid, req) {
            Ok(r) => r,
            Err(e) => return ok(Err(e)),
        };
        match req {
            Request::GetPid => ok(Ok(Response::Pid(self.life.procs.gpid(pid)))),
            Request::GetPpid => ok(Ok(Response::Pid(self.life.procs.parent_gpid(&self.life.procs[&pid])))),
            // Placed elsewhere, or by load: the cluster server's to place.
            Request::Spawn(s) if s.place.as_ref().is_some_and(|p| *p != cluster::Place::Node(self.life.procs.node)) => {
                ok(Err(Errno::Elsewhere))
            }
            Request::Spawn(s) => ok(self.life.procs.new_pid().and_then(|child| {
                self.life.create(child, pid, &s, &Grants::DEFAULT).map(|()| Response::Pid(self.life.procs.gpid(child)))
            })),
            Request::Exit { status } => {
                self.end(pid, End::Exited(status));
                if relayed {
                    ok(Ok(Response::Done))
                } else {
                    Outcome::Nothing
                }
            }
            Request::Wait { pid: which, hang } => match self.wait(pid, which) {
                Ok(Response::Waited(None)) if hang => {
                    match self.hanging.hang(&mut self.life.kernel, caller, pid, which) {
                        Ok(()) => Outcome::Nothing,
                        Err(e) => ok(Err(e)),
                    }
                }
                r => ok(r),
            },
            Request::Placed { parent, child } => ok(self.placed(pid, parent, child)),
            Request::PlacedEnded { child, end } => ok(self.placed_ended(pid, child, end)),
            Request::HasEnded { pid: target } => {
                ok(self.life.procs.get(&target).ok_or(Errno::NoSuchProcess).map(|p| {
                    let end = match p.state {
                        State::Zombie(end) => Some(Waited { pid: self.life.procs.gpid(target), end }),
                        State::Live(_) => None,
                    };
                    Response::Waited(end)
                }))
            }
            Request::Kill { pid: target } => {
                if self.life.procs.live(target).is_err() {
                    return ok(Err(Errno::NoSuchProcess));
                }
                if let Err(e) = self.life.procs.may_act_on(pid, target) {
                    return ok(Err(e));
                }
                self.end(target, End::Killed);
                if target == pid && !relayed {
                    Outcome::Nothing
                } else {
                    ok(Ok(Response::Done))
                }
            }
            // Stopped in its own call, it would stop again when continued
            // (the call restarts): only others may stop a process.
            Request::Stop { pid: target } if target == pid => ok(Err(Errno::InvalidArgument)),
            Request::Stop { pid: target } => {
                ok(self.life.procs.may_act_on(pid, target).and_then(|()| self.set_stopped(target, true)))
            }
            Request::Cont { pid: target } => {
                ok(self.life.procs.may_act_on(pid, target).and_then(|()| self.set_stopped(target, false)))
            }
            Request::MayAct { actor, target } => ok(self.may_act(actor, target).map(|()| Response::Done)),
            Request::Restrict => {
                if let Some(p) = self.life.procs.get_mut(&pid) {
                    p.restricted = true;
                }
                ok(Ok(Response::Done))
            }
            Request::MapAnon { vaddr, pages } => ok(self.life.map_anon(pid, vaddr, pages)),
            Request::UnmapAnon { vaddr, pages } => ok(self.life.unmap_anon(pid, vaddr, pages)),
            Request::MapDma { vaddr, pages } => ok(self.life.map_dma(pid, vaddr, pages)),
            Request::CreateEndpoint { slot } => ok(self.life.create_endpoint(pid, slot)),
            Request::CreateNotification { slot } => ok(self.life.create_notification(pid, slot)),
            Request::Mount { path, endpoint } => {
                let done = self.life.mounts.mount(&mut self.life.procs, &mut self.life.kernel, pid, path, endpoint);
                ok(done.map(|()| self.changed()))
            }
            Request::Unmount { path } => {
                let done = self.life.mounts.unmount(&mut self.life.procs, &mut self.life.kernel, pid, path);
                ok(done.map(|()| self.changed()))
            }
            Request::Resolve { path, into } => {
                ok(self.life.mounts.resolve(&mut self.life.procs, &mut self.life.kernel, self.life.ep, pid, path, into))
            }
            Request::ClusterConn => ok(self.life.mounts.cluster_conn(&mut self.life.procs, &mut self.life.kernel, pid)),
            Request::HasWindow { client } => {
                ok(crate::windows::has(&self.life.procs, client, pid).map(|()| Response::Done))
            }
            Request::Window { server } => {
                ok(crate::windows::open(&mut self.life.procs, &mut self.life.kernel, pid, server))
            }
            Request::Chdir { path } => ok(crate::mounts::normalize(&self.life.procs, pid, path).map(|p| {
                if let Some(proc) = self.life.procs.get_mut(&pid) {
                    proc.cwd = p;
                }
                Response::Done
            })),
            Request::Getcwd => ok(Ok(Response::Path(self.life.procs[&pid].cwd.clone()))),
            Request::MountPoints { path, from } => ok(self.life.mounts.mount_points(&self.life.procs, pid, path, from)),
            Request::Write { bytes } => {
                libux::rt::write_console(bytes);
                ok(Ok(Response::Done))
            }
            Request::Living { pids } => ok(if !self.tracks_endings(pid) {
                Err(Errno::NotPermitted)
            } else if pids.len() > libux::rpc::LIVING_PER_CALL {
                Err(Errno::TooLarge)
            } else {
                let living = pids.into_iter().filter(|&p| self.life.procs.live(p).is_ok());
                Ok(Response::Living(living.collect()))
            }),
            Request::NewNamespace => {
                ok(self.life.mounts.new_namespace(&mut self.life.procs, pid).map(|()| Response::Done))
            }
            Request::Ended { after } => {
                let answer = self.ended_since(pid, after);
                // The windows of the clients this page names (of all that
                // ended, when some endings were forgotten): the server
                // forgets those before it uses a window again.
                if let Ok(Response::Ended { pids, lost, .. }) = &answer {
                    crate::windows::reclaim(&mut self.life.procs, pid, (!*lost).then_some(pids.as_slice()));
                }
                ok(answer)
            }
            Request::Stats => ok(Ok(Response::Stats(self.stats()))),
            Request::Thread { entry, arg } => ok(self.life.new_thread(pid, entry, arg)),
            Request::Exec(e) => match self.life.exec(pid, &e) {
                Ok(()) if relayed => ok(Ok(Response::Done)),
                Ok(()) => Outcome::Nothing,
                Err(e) => ok(Err(e)),
            },
            Request::ThreadExit { index } => match self.life.end_thread(pid, index) {
                Ok(()) if relayed => ok(Ok(Response::Done)),
                Ok(()) => Outcome::Nothing,
                Err(e) => ok(Err(e)),
            },
        }
    }

    /// Ends `pid` (and the processes it was the intermediary of), and
    /// settles the calls that waited on each: reads of `wait` files,
    /// hanging `Wait`s, and those the ended made.
    pub fn end(&mut self, pid: Pid, end: End) {
        let ended = self.life.end(pid, end);
        self.files_after_end(&ended);
        for &Ended { pid, .. } in &ended {
            let dropped = self.hanging.after_end(&mut self.life.kernel, pid);
            let answered = self.hanging.answer(&mut self.life.procs, pid);
            for (slot, reply) in dropped.into_iter().chain(answered) {
                self.send_later(slot, &reply);
            }
        }
    }

    /// Stops or continues `pid`; a stop cancels the calls it was blocked
    /// in, and with them the reply capabilities we kept for those.
    pub fn set_stopped(&mut self, pid: Pid, stop: bool) -> Result<Response, Errno> {
        let done = self.life.set_stopped(pid, stop)?;
        if stop {
            self.forget_waits(pid);
        }
        Ok(done)
    }

    /// Queues `reply` for the kept reply capability in `slot` (sent, and
    /// the slot freed, by `send_ready`).
    fn send_later(&mut self, slot: u64, reply: &Reply) {
        let bytes = postcard::to_allocvec(reply).expect("a reply encodes");
        self.files.ready.push((slot, bytes));
    }

    pub fn stats(&self) -> Stats {
        let (heap_used, heap_size) = libux::rt::heap_usage();
        let resources = Resources {
            free_bytes: self.life.kernel.mem.free_bytes(),
            processes: self.life.procs.len() as u32,
            free_slots: self.life.kernel.mem.free_slots() + self.life.shared.spare_slots(),
            buffers: self.life.buffers.in_use() as u32,
            namespaces: self.life.mounts.private() as u32,
        };
        let running = self.life.procs.values().filter_map(Process::live).filter(|l| !l.stopped).count() as u32;
        let unix_time = self.wall.map(|w| w.at(crate::tsc(), self.tsc_mhz));
        Stats { resources, running, heap_used, heap_size, tsc_mhz: self.tsc_mhz, unix_time, work: crate::work::now() }
    }

    fn wait(&mut self, parent: Pid, which: Option<Pid>) -> Result<Response, Errno> {
        // A child on another node (by gpid: `localize` let it through).
        if let Some(c) = which.filter(|&c| c > PID_MAX) {
            return Ok(Response::Waited(self.life.procs.live_mut(parent)?.placed.reap(Some(Gpid(c)))));
        }
        let is_child = |p: &Process| p.ppid == parent;
        let placed = &self.life.procs.live(parent)?.placed;
        let none_abroad = which.is_some() || placed.is_empty();
        let candidates: Vec<Pid> = match which {
            Some(c) => {
                if !self.life.procs.get(&c).is_some_and(is_child) {
                    return Err(Errno::NoChild);
                }
                alloc::vec![c]
            }
            None => self.life.procs.values().filter(|p| is_child(p)).map(|p| p.pid).collect(),
        };
        if candidates.is_empty() && none_abroad {
            return Err(Errno::NoChild);
        }
        for c in candidates {
            if let State::Zombie(end) = self.life.procs[&c].state {
                self.life.procs.remove(&c);
                return Ok(Response::Waited(Some(Waited { pid: self.life.procs.gpid(c), end })));
            }
        }
        let abroad = if none_abroad { None } else { self.life.procs.live_mut(parent)?.placed.reap(None) };
        Ok(Response::Waited(abroad))
    }

    /// `Request::Placed`, from `pid`.
    fn placed(&mut self, pid: Pid, parent: Pid, child: Pid) -> Result<Response, Errno> {
        self.only_cluster_server(pid)?;
        let parent = self.life.procs.local_pid(parent)?;
        let child = Gpid(child);
        if child.node().is_none_or(|n| n == self.life.procs.node) || child.pid() == 0 {
            return Err(Errno::InvalidArgument);
        }
        let all: usize = self.life.procs.values().filter_map(Process::live).map(|l| l.placed.len()).sum();
        if all >= PLACED_NODE_MAX {
            return Err(Errno::Busy);
        }
        self.life.procs.live_mut(parent)?.placed.add(child)?;
        Ok(Response::Done)
    }

    /// `Request::PlacedEnded`, from `pid`: the parent's wait for it, if
    /// one hangs, is answered.
    fn placed_ended(&mut self, pid: Pid, child: Pid, end: End) -> Result<Response, Errno> {
        self.only_cluster_server(pid)?;
        let child = Gpid(child);
        let mut parents = self.life.procs.values_mut().filter_map(|p| Some(p.pid).zip(p.live_mut()));
        let parent = parents.find_map(|(pid, l)| l.placed.ended(child, end).then_some(pid));
        let parent = parent.ok_or(Errno::NoChild)?;
        if let Some((slot, reply)) = self.hanging.answer_placed(&mut self.life.procs, parent, child) {
            self.send_later(slot, &reply);
        }
        Ok(Response::Done)
    }

    /// Only the cluster server (the system description's `cluster`) may.
    fn only_cluster_server(&self, pid: Pid) -> Result<(), Errno> {
        match self.life.mounts.cluster == Some(pid) {
            true => Ok(()),
            false => Err(Errno::NotPermitted),
        }
    }

    /// Daemons, and file servers that are not (they poll), learn which
    /// processes ended.
    fn ended_since(&self, pid: Pid, after: u64) -> Result<Response, Errno> {
        if !self.tracks_endings(pid) {
            return Err(Errno::NotPermitted);
        }
        Ok(self.life.procs.ended_since(after))
    }

    /// `req` (of `pid`'s) with the gpids it names made local pids; a
    /// `Wait` for one of `pid`'s children on another node keeps its gpid.
    fn localize<'a>(&self, pid: Pid, req: Request<'a>) -> Result<Request<'a>, Errno> {
        let placed = |p: Pid| self.life.procs.live(pid).is_ok_and(|l| l.placed.has(Gpid(p)));
        Ok(match req {
            Request::Wait { pid: Some(p), hang } if placed(p) => Request::Wait { pid: Some(p), hang },
            Request::Kill { pid } => Request::Kill { pid: self.life.procs.local_pid(pid)? },
            Request::Stop { pid } => Request::Stop { pid: self.life.procs.local_pid(pid)? },
            Request::Cont { pid } => Request::Cont { pid: self.life.procs.local_pid(pid)? },
            Request::Wait { pid: Some(p), hang } => Request::Wait { pid: Some(self.life.procs.local_pid(p)?), hang },
            Request::HasEnded { pid } => Request::HasEnded { pid: self.life.procs.local_pid(pid)? },
            Request::MayAct { actor, target } => {
                let target = match target.map(|t| self.life.procs.local_pid(t)) {
                    Some(Err(Errno::Elsewhere)) | None => None,
                    Some(t) => Some(t?),
                };
                Request::MayAct { actor: self.life.procs.local_pid(actor)?, target }
            }
            other => other,
        })
    }

    /// `Request::MayAct`: [`Procs::may_act_on`](crate::procs::Procs::may_act_on) for a process here, or
    /// for one elsewhere (none), which only a restricted actor may not.
    fn may_act(&self, actor: Pid, target: Option<Pid>) -> Result<(), Errno> {
        self.life.procs.live(actor)?;
        match target {
            Some(t) => {
                self.life.procs.live(t)?;
                self.life.procs.may_act_on(actor, t)
            }
            None if self.life.procs.get(&actor).is_some_and(|p| p.restricted) => Err(Errno::NotPermitted),
            None => Ok(()),
        }
    }

    /// Whether `pid` may learn which processes ended (`Ended`, `Living`).
    fn tracks_endings(&self, pid: Pid) -> bool {
        self.life.procs.get(&pid).is_some_and(|p| p.daemon || p.mounted)
    }

    /// A mount came or went: what `serve_until`'s conditions look at.
    fn changed(&mut self) -> Response {
        self.life.changes += 1;
        Response::Done
    }
}

/// Puts already encoded reply bytes in the message registers; returns
/// the message length in words.
pub fn frame_inline(bytes: &[u8]) -> usize {
    let msg = &mut ipc_buffer().msg;
    if bytes.len() > libux::rpc::INLINE_MAX {
        return frame::encode(&libux::fs::FsReply::Err(Errno::TooLarge), msg, None, 0).unwrap();
    }
    frame::inline_bytes_mut(msg)[..bytes.len()].copy_from_slice(bytes);
    frame::set_header(msg, bytes.len(), Place::Inline, 0)
}

/// Turns a fault message (label = seL4 fault type) into a [`Fault`].
pub fn decode_fault(label: u64, mr: &[u64]) -> Fault {
    match label {
        fault_type::VM_FAULT => {
            Fault { kind: FaultKind::PageFault, ip: mr[fault_mr::VM_IP], addr: mr[fault_mr::VM_ADDR] }
        }
        fault_type::USER_EXCEPTION => {
            let kind = match mr[fault_mr::EXCEPTION_NUMBER] {
                0 => FaultKind::DivideError,
                6 => FaultKind::InvalidOpcode,
                13 => FaultKind::GeneralProtection,
                n => FaultKind::Exception(n),
            };
            Fault { kind, ip: mr[fault_mr::EXCEPTION_IP], addr: 0 }
        }
        fault_type::UNKNOWN_SYSCALL => Fault {
            kind: FaultKind::UnknownSyscall(mr[fault_mr::UNKNOWN_SYSCALL_NUMBER]),
            ip: mr[fault_mr::UNKNOWN_SYSCALL_IP],
            addr: 0,
        },
        other => Fault { kind: FaultKind::Other(other), ip: mr[0], addr: mr[1] },
    }
}

//! The process server's loop: receive a call on the process server
//! endpoint, find out who it is from (the badge, or the process an
//! intermediary relays for), decode it, act, reply. It never blocks on
//! behalf of a caller: a wait that cannot be answered yet answers "not
//! yet" and the caller sleeps on its child-events notification.

use crate::blocks::BLOCK_PAGES;
use crate::devices::Devices;
use crate::files::{FileOutcome, ProcFiles};
use crate::kernel::Kernel;
use crate::mem::Memory;
use crate::mounts::Mounts;
use crate::process::{Grants, Process, State, PAGE};
use crate::procs::{Procs, MAX_PROCESSES};
use alloc::vec::Vec;
use libux::bootfs::BootFs;
use libux::cluster;
use libux::layout;
use libux::println;
use libux::rpc::frame::{self, Place};
use libux::rpc::{
    Badge, End, Errno, Fault, FaultKind, Pid, Reply, Request, Resources, Response, Stats, Waited, BUFFER_MAX, MSG_CALL,
    MSG_RELAY, MSG_REPLY,
};
use libux::sel4::consts::{bits, fault_mr, fault_type, object};
use libux::sel4::syscall::{self, ipc_buffer, Msg};
use libux::sel4::{CapRights, Endpoint, MessageInfo, Page};

/// Our window onto every process's shared buffer page, one page each.
const BUFFERS: u64 = 0x100_0000_0000;

pub fn buffer_address(index: usize) -> u64 {
    BUFFERS + index as u64 * PAGE
}

pub struct Server {
    /// Bumped when a process ends or mounts: what `serve_until`'s
    /// conditions depend on, so they are not rechecked on every call.
    pub changes: u64,
    pub kernel: Kernel,
    /// Every namespace's mount points (`mounts.rs`).
    pub mounts: Mounts,
    pub devices: Devices,
    pub ep: Endpoint,
    pub procs: Procs,
    pub bootfs: BootFs<'static>,
    /// Shared buffers' indices, and the pooled ones (`buffers.rs`).
    pub buffers: crate::buffers::Buffers,
    pub files: ProcFiles,
    /// `Wait`s kept until a child ends (`hanging.rs`).
    pub hanging: Vec<crate::hanging::Hanging>,
    pub tsc_mhz: u64,
    /// The CMOS clock as read at boot (`rtc.rs`).
    pub wall: Option<crate::rtc::WallClock>,
    /// The boot image programs' read-only pages (`shared.rs`).
    pub shared: crate::shared::SharedImages,
}

/// What to answer a call with.
enum Outcome {
    Reply(Reply),
    /// No answer now: the caller is gone (it exited or was killed by its
    /// own call), or its reply capability was kept to answer later.
    Nothing,
}

impl Server {
    pub fn new(
        mem: Memory,
        devices: Devices,
        bootfs: BootFs<'static>,
        own: crate::shared::OwnImage,
    ) -> Result<Server, Errno> {
        let mut kernel = Kernel::new(mem)?;
        // A buffer for as many processes as there may be, and one more:
        // an exec takes its new buffer before it gives back the old (44 KiB
        // of tables).
        kernel.make_own_tables(BUFFERS, (MAX_PROCESSES as u64 + 1) * PAGE)?;
        let ep = kernel.endpoint()?;
        let mut server = Server {
            changes: 0,
            kernel,
            mounts: Mounts::new(),
            devices,
            ep,
            procs: Procs::default(),
            bootfs,
            buffers: Default::default(),
            files: ProcFiles::default(),
            hanging: Vec::new(),
            tsc_mhz: 0,
            wall: None,
            shared: crate::shared::SharedImages::new(Some(own)),
        };
        server.make_pooled_buffers()?;
        Ok(server)
    }

    /// Starts a program as a child of the process server.
    pub fn start(&mut self, path: &str, argv: &[&str], env: &[&str], grants: &Grants) -> Result<Pid, Errno> {
        let pid = self.procs.new_pid()?;
        let spawn = libux::rpc::Spawn {
            path,
            argv: argv.to_vec(),
            env: env.to_vec(),
            redirect: None,
            fds: Vec::new(),
            place: None,
            home_parent: None,
        };
        self.create(pid, 0, &spawn, grants)?;
        Ok(pid)
    }

    pub fn report_end(&self, p: &Process, end: End) {
        let (pid, name) = (self.procs.gpid(p.pid), &p.name);
        match end {
            End::Exited(s) => println!("ux: pid {pid} ({name}) exited with status {s}"),
            End::Killed => println!("ux: pid {pid} ({name}) was killed"),
            End::Faulted(f) => {
                println!("ux: pid {pid} ({name}) faulted: {:?} at ip {:#x}, address {:#x}", f.kind, f.ip, f.addr)
            }
            // Only a process of another node is lost.
            End::Lost => println!("ux: pid {pid} ({name}) was lost"),
        }
    }

    /// Serves calls until none of our own children is left alive.
    pub fn serve_until_idle(&mut self) {
        self.serve_until(|s| !s.procs.values().any(|p| p.ppid == 0 && !p.daemon && p.live().is_some()));
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
            if checked != Some(self.changes) {
                if done(self) {
                    break;
                }
                checked = Some(self.changes);
            }
            let (badge, info) = match reply.take() {
                Some(words) => syscall::reply_recv(self.ep.0, out(words)),
                None => syscall::recv(self.ep.0),
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
            if self.finish_restarted_call(pid, info.label(), &fault) {
                return None;
            }
            // Any answer resumes a thread stopped by a page fault.
            if info.label() == fault_type::VM_FAULT && self.grow_stack(pid) {
                return Some(0);
            }
            if let Some(p) = self.procs.get(&pid) {
                if p.ppid != 0 {
                    self.report_end(p, End::Faulted(fault));
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
        self.procs.live(caller).ok()?;
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
        self.procs.live(caller).ok()?;
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
                let pid = self.procs.local_pid(pid).map_err(|_| Errno::NoSuchProcess)?;
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
                let index = self.procs[&pid].live().ok_or(Errno::NoSuchProcess)?.buffer;
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
        let live = self.procs.live(pid)?;
        let next = |i: &Pid| self.procs.live(*i).ok().and_then(|l| l.intermediary);
        // An intermediary is older than those it serves, so the chain ends;
        // the bound only keeps a mistake from looping.
        Ok(core::iter::successors(live.intermediary, next).take(MAX_PROCESSES))
    }

    fn encode_reply(&mut self, target: Pid, inline_only: bool, r: &Reply) -> usize {
        let msg = &mut ipc_buffer().msg;
        let buffer = self.procs.live(target).ok().filter(|_| !inline_only).map(|l| {
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
        let req = match self.localize(req) {
            Ok(r) => r,
            Err(e) => return ok(Err(e)),
        };
        match req {
            Request::GetPid => ok(Ok(Response::Pid(self.procs.gpid(pid)))),
            Request::GetPpid => ok(Ok(Response::Pid(self.procs.parent_gpid(&self.procs[&pid])))),
            // Placed elsewhere, or by load: the cluster server's to place.
            Request::Spawn(s) if s.place.as_ref().is_some_and(|p| *p != cluster::Place::Node(self.procs.node)) => {
                ok(Err(Errno::Elsewhere))
            }
            Request::Spawn(s) => ok(self.procs.new_pid().and_then(|child| {
                self.create(child, pid, &s, &Grants::DEFAULT).map(|()| Response::Pid(self.procs.gpid(child)))
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
                Ok(Response::Waited(None)) if hang => match self.hang(caller, pid, which) {
                    Ok(()) => Outcome::Nothing,
                    Err(e) => ok(Err(e)),
                },
                r => ok(r),
            },
            Request::HasEnded { pid: target } => ok(self.procs.get(&target).ok_or(Errno::NoSuchProcess).map(|p| {
                let end = match p.state {
                    State::Zombie(end) => Some(Waited { pid: self.procs.gpid(target), end }),
                    State::Live(_) => None,
                };
                Response::Waited(end)
            })),
            Request::Kill { pid: target } => {
                if self.procs.live(target).is_err() {
                    return ok(Err(Errno::NoSuchProcess));
                }
                if let Err(e) = self.procs.may_act_on(pid, target) {
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
                ok(self.procs.may_act_on(pid, target).and_then(|()| self.set_stopped(target, true)))
            }
            Request::Cont { pid: target } => {
                ok(self.procs.may_act_on(pid, target).and_then(|()| self.set_stopped(target, false)))
            }
            Request::MayAct { actor, target } => ok(self.may_act(actor, target).map(|()| Response::Done)),
            Request::Restrict => {
                if let Some(p) = self.procs.get_mut(&pid) {
                    p.restricted = true;
                }
                ok(Ok(Response::Done))
            }
            Request::MapAnon { vaddr, pages } => ok(self.map_anon(pid, vaddr, pages)),
            Request::UnmapAnon { vaddr, pages } => ok(self.unmap_anon(pid, vaddr, pages)),
            Request::MapDma { vaddr, pages } => ok(self.map_dma(pid, vaddr, pages)),
            Request::CreateEndpoint { slot } => ok(self.create_endpoint(pid, slot)),
            Request::CreateNotification { slot } => ok(self.create_notification(pid, slot)),
            Request::Mount { path, endpoint } => {
                let done = self.mounts.mount(&mut self.procs, &mut self.kernel, pid, path, endpoint);
                ok(done.map(|()| self.changed()))
            }
            Request::Unmount { path } => {
                let done = self.mounts.unmount(&mut self.procs, &mut self.kernel, pid, path);
                ok(done.map(|()| self.changed()))
            }
            Request::Resolve { path, into } => {
                ok(self.mounts.resolve(&mut self.procs, &mut self.kernel, self.ep, pid, path, into))
            }
            Request::ClusterConn => ok(self.mounts.cluster_conn(&mut self.procs, &mut self.kernel, pid)),
            Request::HasWindow { client } => ok(crate::windows::has(&self.procs, client, pid).map(|()| Response::Done)),
            Request::Window { server } => ok(crate::windows::open(&mut self.procs, &mut self.kernel, pid, server)),
            Request::Chdir { path } => ok(crate::mounts::normalize(&self.procs, pid, path).map(|p| {
                if let Some(proc) = self.procs.get_mut(&pid) {
                    proc.cwd = p;
                }
                Response::Done
            })),
            Request::Getcwd => ok(Ok(Response::Path(self.procs[&pid].cwd.clone()))),
            Request::Write { bytes } => {
                libux::rt::write_console(bytes);
                ok(Ok(Response::Done))
            }
            Request::Living { pids } => ok(if !self.tracks_endings(pid) {
                Err(Errno::NotPermitted)
            } else if pids.len() > libux::rpc::LIVING_PER_CALL {
                Err(Errno::TooLarge)
            } else {
                let living = pids.into_iter().filter(|p| self.procs.get(p).is_some_and(|p| p.live().is_some()));
                Ok(Response::Living(living.collect()))
            }),
            Request::NewNamespace => ok(self.mounts.new_namespace(&mut self.procs, pid).map(|()| Response::Done)),
            Request::Ended { after } => {
                let answer = self.ended_since(pid, after);
                // The windows of the clients this page names (of all that
                // ended, when some endings were forgotten): the server
                // forgets those before it uses a window again.
                if let Ok(Response::Ended { pids, lost, .. }) = &answer {
                    crate::windows::reclaim(&mut self.procs, pid, (!*lost).then_some(pids.as_slice()));
                }
                ok(answer)
            }
            Request::Stats => ok(Ok(Response::Stats(self.stats()))),
            Request::Thread { entry, arg } => ok(self.new_thread(pid, entry, arg)),
            Request::Exec(e) => match self.exec(pid, &e) {
                Ok(()) if relayed => ok(Ok(Response::Done)),
                Ok(()) => Outcome::Nothing,
                Err(e) => ok(Err(e)),
            },
            Request::ThreadExit { index } => match self.end_thread(pid, index) {
                Ok(()) if relayed => ok(Ok(Response::Done)),
                Ok(()) => Outcome::Nothing,
                Err(e) => ok(Err(e)),
            },
        }
    }

    pub fn stats(&self) -> Stats {
        let (heap_used, heap_size) = libux::rt::heap_usage();
        let resources = Resources {
            free_bytes: self.kernel.mem.free_bytes(),
            processes: self.procs.len() as u32,
            free_slots: self.kernel.mem.free_slots() + self.spare_slots(),
            buffers: self.buffers.in_use() as u32,
            namespaces: self.mounts.private() as u32,
        };
        let running = self.procs.values().filter_map(Process::live).filter(|l| !l.stopped).count() as u32;
        let unix_time = self.wall.map(|w| w.at(crate::tsc(), self.tsc_mhz));
        Stats { resources, running, heap_used, heap_size, tsc_mhz: self.tsc_mhz, unix_time, work: crate::work::now() }
    }

    fn wait(&mut self, parent: Pid, which: Option<Pid>) -> Result<Response, Errno> {
        let is_child = |p: &Process| p.ppid == parent;
        let candidates: Vec<Pid> = match which {
            Some(c) => {
                if !self.procs.get(&c).is_some_and(is_child) {
                    return Err(Errno::NoChild);
                }
                alloc::vec![c]
            }
            None => self.procs.values().filter(|p| is_child(p)).map(|p| p.pid).collect(),
        };
        if candidates.is_empty() {
            return Err(Errno::NoChild);
        }
        for c in candidates {
            if let State::Zombie(end) = self.procs[&c].state {
                self.procs.remove(&c);
                return Ok(Response::Waited(Some(Waited { pid: self.procs.gpid(c), end })));
            }
        }
        Ok(Response::Waited(None))
    }

    /// Daemons, and file servers that are not (they poll), learn which
    /// processes ended.
    fn ended_since(&self, pid: Pid, after: u64) -> Result<Response, Errno> {
        if !self.tracks_endings(pid) {
            return Err(Errno::NotPermitted);
        }
        Ok(self.procs.ended_since(after))
    }

    pub fn set_stopped(&mut self, pid: Pid, stop: bool) -> Result<Response, Errno> {
        let live = self.procs.live_mut(pid)?;
        // Resuming a thread the kernel blocked in a system call restarts the
        // call; only undo a Stop.
        if !stop && !live.stopped {
            return Err(Errno::InvalidArgument);
        }
        let threads = core::iter::once(live.tcb).chain(live.threads.running());
        let mut stopped_at = Vec::new();
        for tcb in threads.collect::<Vec<_>>() {
            let r = if stop { tcb.suspend() } else { tcb.resume() };
            r.map_err(|_| Errno::InvalidArgument)?;
            if let Some(regs) = stop.then(|| tcb.read_registers().ok()).flatten() {
                stopped_at.push((tcb, regs.rip));
            }
        }
        if stop {
            live.stopped_at = stopped_at;
        }
        live.stopped = stop;
        if stop {
            // Suspending a thread cancels the call it was blocked in, and
            // with it the reply capability we kept for that call.
            self.forget_waits(pid);
        }
        Ok(Response::Done)
    }

    /// `req` with the gpids it names made local pids.
    fn localize<'a>(&self, req: Request<'a>) -> Result<Request<'a>, Errno> {
        Ok(match req {
            Request::Kill { pid } => Request::Kill { pid: self.procs.local_pid(pid)? },
            Request::Stop { pid } => Request::Stop { pid: self.procs.local_pid(pid)? },
            Request::Cont { pid } => Request::Cont { pid: self.procs.local_pid(pid)? },
            Request::Wait { pid: Some(p), hang } => Request::Wait { pid: Some(self.procs.local_pid(p)?), hang },
            Request::HasEnded { pid } => Request::HasEnded { pid: self.procs.local_pid(pid)? },
            Request::MayAct { actor, target } => {
                let target = match target.map(|t| self.procs.local_pid(t)) {
                    Some(Err(Errno::Elsewhere)) | None => None,
                    Some(t) => Some(t?),
                };
                Request::MayAct { actor: self.procs.local_pid(actor)?, target }
            }
            other => other,
        })
    }

    /// `Request::MayAct`: [`Procs::may_act_on`](crate::procs::Procs::may_act_on) for a process here, or
    /// for one elsewhere (none), which only a restricted actor may not.
    fn may_act(&self, actor: Pid, target: Option<Pid>) -> Result<(), Errno> {
        self.procs.live(actor)?;
        match target {
            Some(t) => {
                self.procs.live(t)?;
                self.procs.may_act_on(actor, t)
            }
            None if self.procs.get(&actor).is_some_and(|p| p.restricted) => Err(Errno::NotPermitted),
            None => Ok(()),
        }
    }

    /// Whether `pid` may learn which processes ended (`Ended`, `Living`).
    fn tracks_endings(&self, pid: Pid) -> bool {
        self.procs.get(&pid).is_some_and(|p| p.daemon || p.mounted)
    }

    /// A mount came or went: what `serve_until`'s conditions look at.
    fn changed(&mut self) -> Response {
        self.changes += 1;
        Response::Done
    }

    /// `pid` is the console's program: it and what it starts are the
    /// person at the node.
    pub fn console_is(&mut self, pid: Pid) {
        if let Some(p) = self.procs.get_mut(&pid) {
            p.console = true;
        }
    }

    /// This kernel restarts the system call of a suspended thread when it
    /// is resumed, also when the call had finished and the thread had not
    /// yet run on (it has no `updateRestartPC` in `suspend`): the call is
    /// then made again with its results in the argument registers, and
    /// the capability lookup of the result (a badge) fails. Such a
    /// capability fault, at the instruction where a thread of the process
    /// was stopped, with the failing address in its `rdi`, is finished
    /// here: the thread goes on after the call, its results in place.
    /// Whether it was handled.
    fn finish_restarted_call(&mut self, pid: Pid, label: u64, fault: &Fault) -> bool {
        let Ok(live) = self.procs.live_mut(pid) else { return false };
        if label != libux::sel4::consts::fault_type::CAP_FAULT {
            return false;
        }
        let at = live.stopped_at.iter().position(|&(tcb, rip)| {
            rip == fault.ip && tcb.read_registers().is_ok_and(|r| r.rip == fault.ip && r.rdi == fault.addr)
        });
        let Some(i) = at else { return false };
        let (tcb, _) = live.stopped_at.remove(i);
        let Ok(mut regs) = tcb.read_registers() else { return false };
        // Past the two bytes of `syscall`.
        regs.rip += 2;
        tcb.write_registers(true, &regs).is_ok()
    }

    /// A touch of the first thread's stack below its mapped pages (it
    /// starts with `layout::STACK_EAGER`): maps zeroed pages from there up
    /// to them. Whether it did (if not, the fault is the process's end:
    /// beyond the stack, or no memory left).
    ///
    /// The stack is the thread's if its stack pointer is in it: a fault
    /// there (a push, a new frame, a probe) is at or just below the stack
    /// pointer (the 128-byte red zone), which we map down to. We go by the
    /// stack pointer, not the fault's address: this kernel reports the
    /// address's low 32 bits only (a stack's address is below 4 GiB now,
    /// but need not stay so).
    fn grow_stack(&mut self, pid: Pid) -> bool {
        let base = layout::STACK_TOP - layout::STACK_PAGES * PAGE;
        let Server { procs, kernel: Kernel { mem, .. }, .. } = self;
        let Ok(live) = procs.live_mut(pid) else { return false };
        let Ok(regs) = live.tcb.read_registers() else { return false };
        let lowest = regs.rsp.saturating_sub(256) & !(PAGE - 1);
        if regs.rsp > live.stack_low + PAGE || lowest < base || lowest >= live.stack_low {
            return false;
        }
        // Downwards, so that what is mapped stays one range on a failure.
        while live.stack_low > lowest {
            let page = live.stack_low - PAGE;
            let Ok(frame) = mem.object(&mut live.arena, object::X86_4K, 0, bits::PAGE) else { return false };
            if live.space.map(mem, &mut live.arena, Page(frame), page, CapRights::READ_WRITE).is_err() {
                return false;
            }
            live.stack_low = page;
        }
        true
    }

    fn anon_range(vaddr: u64, pages: u32) -> Result<core::ops::Range<u64>, Errno> {
        let end = vaddr.checked_add(pages as u64 * PAGE).ok_or(Errno::BadAddress)?;
        if !vaddr.is_multiple_of(PAGE) || pages == 0 || vaddr < layout::HEAP_BASE || end > layout::HEAP_END {
            return Err(Errno::BadAddress);
        }
        Ok(vaddr..end)
    }

    fn map_anon(&mut self, pid: Pid, vaddr: u64, pages: u32) -> Result<Response, Errno> {
        let range = Self::anon_range(vaddr, pages)?;
        let live = self.procs.live(pid)?;
        if live.anon.range(range.clone()).next().is_some() {
            return Err(Errno::BadAddress);
        }
        if pages >= BLOCK_PAGES {
            return self.map_block(pid, vaddr, pages).map(|()| Response::Done);
        }
        let mut done = Vec::new();
        for page in range.step_by(PAGE as usize) {
            match self.map_one(pid, page) {
                Ok(()) => done.push(page),
                Err(e) => {
                    // Undo this request's mappings, keeping the frames.
                    let live = self.procs.live_mut(pid).expect("checked");
                    for p in done {
                        let frame = live.anon.remove(&p).expect("just mapped");
                        let _ = Page(frame).unmap();
                        live.spare.push(frame);
                    }
                    return Err(e);
                }
            }
        }
        Ok(Response::Done)
    }

    fn map_one(&mut self, pid: Pid, page: u64) -> Result<(), Errno> {
        let Server { procs, kernel, .. } = self;
        let live = procs.live_mut(pid)?;
        let frame = match live.spare.pop() {
            Some(f) => {
                if let Err(e) = kernel.zero(Page(f)) {
                    live.spare.push(f);
                    return Err(e);
                }
                f
            }
            None => kernel.mem.object(&mut live.arena, object::X86_4K, 0, bits::PAGE)?,
        };
        if let Err(e) = live.space.map(&mut kernel.mem, &mut live.arena, Page(frame), page, CapRights::READ_WRITE) {
            live.spare.push(frame);
            return Err(e.into());
        }
        live.anon.insert(page, frame);
        Ok(())
    }

    fn map_dma(&mut self, pid: Pid, vaddr: u64, pages: u32) -> Result<Response, Errno> {
        let end = vaddr.checked_add(pages as u64 * PAGE).ok_or(Errno::BadAddress)?;
        if !vaddr.is_multiple_of(PAGE) || pages == 0 || vaddr < layout::DMA_BASE || end > layout::DMA_END {
            return Err(Errno::BadAddress);
        }
        if pages > libux::rpc::DMA_MAX_PAGES {
            return Err(Errno::TooLarge);
        }
        let Server { procs, kernel: Kernel { mem, .. }, .. } = self;
        let live = procs.live_mut(pid)?;
        if !live.dma {
            return Err(Errno::NotPermitted);
        }
        let frames = mem.contiguous_frames(&mut live.arena, pages)?;
        let paddr = Page(frames[0]).address().map_err(|_| Errno::NoMemory)?;
        for (i, &f) in frames.iter().enumerate() {
            let at = vaddr + i as u64 * PAGE;
            // Mapped already (by an earlier MapDma): the new frames stay in
            // the arena unused until the process ends.
            live.space.map(mem, &mut live.arena, Page(f), at, CapRights::READ_WRITE).map_err(|_| Errno::BadAddress)?;
        }
        Ok(Response::Dma { paddr })
    }

    fn unmap_anon(&mut self, pid: Pid, vaddr: u64, pages: u32) -> Result<Response, Errno> {
        let range = Self::anon_range(vaddr, pages)?;
        if self.procs.live(pid)?.anon.range(range.clone()).count() != pages as usize {
            return Err(Errno::BadAddress);
        }
        self.unmap_blocks(pid, vaddr, range.end)?;
        let live = self.procs.live_mut(pid)?;
        let loose: Vec<(u64, u64)> = live.anon.range(range).map(|(&p, &f)| (p, f)).collect();
        for (page, frame) in loose {
            live.anon.remove(&page);
            let _ = Page(frame).unmap();
            live.spare.push(frame);
        }
        Ok(Response::Done)
    }

    fn create_endpoint(&mut self, pid: Pid, slot: u64) -> Result<Response, Errno> {
        self.make_in_slot(pid, slot, object::ENDPOINT, bits::ENDPOINT)?;
        self.procs.live_mut(pid)?.endpoints.push(slot);
        Ok(Response::Done)
    }

    /// A notification in `pid`'s `slot`, from its memory; it goes with
    /// the process's CSpace (it is never named as a redirect or mount).
    fn create_notification(&mut self, pid: Pid, slot: u64) -> Result<Response, Errno> {
        self.make_in_slot(pid, slot, object::NOTIFICATION, bits::NOTIFICATION)?;
        Ok(Response::Done)
    }

    /// An object of `pid`'s memory made right in its `slot` (one it may
    /// fill): an occupied slot fails before anything is spent.
    fn make_in_slot(&mut self, pid: Pid, slot: u64, object_type: u64, mem_bits: u32) -> Result<(), Errno> {
        if !(layout::slot::FIRST_FREE..1 << layout::CNODE_BITS).contains(&slot) {
            return Err(Errno::InvalidArgument);
        }
        let Server { procs, kernel: Kernel { mem, .. }, .. } = self;
        let live = procs.live_mut(pid)?;
        let (leaf, offset) = live.cspace.reach(mem, &mut live.arena, slot)?;
        mem.object_into(&mut live.arena, object_type, mem_bits, leaf, offset).map_err(|e| match e {
            crate::mem::AllocError::Kernel(_) => Errno::InvalidArgument,
            other => other.into(),
        })
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

//! Processes: the table entry, creation from an ELF image of the boot
//! file system, and the end of a process (its memory comes back at once;
//! a small zombie record stays until the parent reaps it).

use crate::blocks::Block;
use crate::buffers::buffer_address;
use crate::cspace::CSpace;
use crate::devices::DevicePage;
use crate::life::Life;
use crate::mem::{Arena, PAGE, ROOT_CNODE, ROOT_DEPTH};
use crate::placed::Placed;
use crate::shared::ImageId;
use crate::vspace::AddressSpace;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use libux::cluster::Gpid;
use libux::elf::Elf;
use libux::layout::{self, event, slot, CNODE_BITS};
use libux::namespace::{self, NsId};
use libux::rpc::{Badge, End, Errno, FdName, Pid, Spawn, StartBlock};
use libux::sel4::consts::{bits, init_cap, object};
use libux::sel4::{
    badge, cnode_guard, io_port_range, prio_props, CapRights, IrqControl, IrqHandler, Notification, Page, Tcb,
    TcbConfig, UserContext, VSpace, VmAttributes,
};
use libux::sysdesc::{DeviceMemory, Irq};

/// A process that ended, as [`Life::end`] tells it: how, and its name if
/// its record went with its end (no parent to wait for it).
pub struct Ended {
    pub pid: Pid,
    pub end: End,
    pub name: Option<String>,
}

/// What a process gets beyond the usual: its priority and device grants
/// (from the system description; spawned processes get the default).
pub struct Grants<'a> {
    pub priority: u8,
    pub io_ports: &'a [(u16, u16)],
    pub irqs: &'a [Irq],
    pub memory: &'a [DeviceMemory],
    /// A daemon hears of every process that ends (`event::ENDED`).
    pub daemon: bool,
    /// May map memory for DMA (a driver of a PCI device).
    pub dma: bool,
}

/// [`Grants`] with owned lists (the system description's plus what a PCI
/// device brings).
pub struct OwnedGrants {
    pub priority: u8,
    pub io_ports: Vec<(u16, u16)>,
    pub irqs: Vec<Irq>,
    pub memory: Vec<DeviceMemory>,
    pub daemon: bool,
    pub dma: bool,
}

impl Default for OwnedGrants {
    fn default() -> Self {
        let d = Grants::DEFAULT;
        OwnedGrants {
            priority: d.priority,
            io_ports: Vec::new(),
            irqs: Vec::new(),
            memory: Vec::new(),
            daemon: false,
            dma: false,
        }
    }
}

impl OwnedGrants {
    pub fn borrow(&self) -> Grants<'_> {
        Grants {
            priority: self.priority,
            io_ports: &self.io_ports,
            irqs: &self.irqs,
            memory: &self.memory,
            daemon: self.daemon,
            dma: self.dma,
        }
    }
}

impl Grants<'_> {
    /// Priority equal to the process server's (both directions of the
    /// kernel's IPC fastpath want it), no devices.
    pub const DEFAULT: Grants<'static> =
        Grants { priority: 255, io_ports: &[], irqs: &[], memory: &[], daemon: false, dma: false };
}

/// Capabilities a process holds that do not come from its arena:
/// interrupt handlers, badged copies of its events notification and copies
/// of its I/O windows' frames (root slots), and device pages (with their
/// address).
#[derive(Default)]
pub struct Held {
    pub irq_handlers: Vec<u64>,
    pub slots: Vec<u64>,
    /// Copies of its program's shared frames it maps: page, root slot
    /// (`shared.rs` takes them back when it ends).
    pub shared: Vec<(u64, u64)>,
    pub device_pages: Vec<(DevicePage, u64)>,
}

pub struct Process {
    pub pid: Pid,
    /// 0: the process server (which reaps such processes itself).
    pub ppid: Pid,
    /// The process of another node it was started for (a gpid), which
    /// `GetPpid` and `/proc` name as its parent (`Spawn::home_parent`).
    pub home_parent: Option<Pid>,
    pub name: String,
    pub state: State,
    /// Runs for good (system description `daemon`): not waited for.
    pub daemon: bool,
    /// Has mounted a file server.
    pub mounted: bool,
    /// Started by the process server itself (the system description's
    /// programs): such a process mounts anywhere, without limits. Not the
    /// same as `ppid == 0`, which orphans come to.
    pub system: bool,
    /// Its namespace: its parent's when spawned, until `NewNamespace`.
    pub ns: NsId,
    /// It made `ns` (`NewNamespace`): it may mount anywhere in it.
    pub made_ns: bool,
    /// It may act (kill, stop, continue) only on itself and its
    /// descendants (`Request::Restrict`, inherited).
    pub restricted: bool,
    /// The console's program (the shell) or one of its descendants: the
    /// person at the node, who alone may act on `system` processes.
    pub console: bool,
    /// Working directory, normalised.
    pub cwd: String,
    /// Its arguments, one a line (`/proc/<pid>/args`).
    pub args: String,
}

pub enum State {
    Live(alloc::boxed::Box<Live>),
    Zombie(End),
}

/// What a running (or stopped) process holds.
pub struct Live {
    pub arena: Arena,
    pub tcb: Tcb,
    pub cspace: CSpace,
    pub space: AddressSpace,
    /// Its events notification with the `event::CHILD` badge (root slot).
    pub child_signal: u64,
    /// A daemon's, with the `event::ENDED` badge.
    pub ended_signal: Option<u64>,
    /// Index of the process's shared buffer in the server's window.
    pub buffer: usize,
    /// Anonymous pages: address to frame slot.
    pub anon: BTreeMap<u64, u64>,
    /// Frames unmapped by `UnmapAnon`, reused (zeroed) by `MapAnon`.
    pub spare: Vec<u64>,
    /// Anonymous blocks, by address: their memory comes back when they are
    /// unmapped (`blocks.rs`).
    pub blocks: BTreeMap<u64, Block>,
    /// The lowest mapped page of the first thread's stack (see
    /// `layout::STACK_EAGER`, `Life::grow_stack`).
    pub stack_low: u64,
    /// The boot image program whose read-only pages it maps (`shared.rs`).
    pub image: Option<ImageId>,
    pub stopped: bool,
    /// Where each thread was when last stopped (see
    /// `Life::finish_restarted_call`).
    pub stopped_at: Vec<(Tcb, u64)>,
    /// The intermediary this process's connection leads to.
    pub intermediary: Option<Pid>,
    /// Its children on other nodes (`placed.rs`).
    pub placed: Placed,
    /// For a redirected process: an unbadged copy of the intermediary's
    /// endpoint (root slot), from which its children's connections are
    /// minted.
    pub conn_src: Option<u64>,
    pub held: Held,
    /// Slots of endpoints the process made (`CreateEndpoint`): the only
    /// capabilities it may name as a redirect.
    pub endpoints: Vec<u64>,
    /// May map memory for DMA (`Request::MapDma`).
    pub dma: bool,
    /// Its threads' priority.
    pub priority: u8,
    /// Its threads after the first.
    pub threads: crate::thread::Threads,
    /// The file servers it has I/O windows onto, in window order; `None`
    /// for a server that ended (see `windows::orphan`).
    pub windows: Vec<Option<Pid>>,
    /// The file servers it had windows onto before an `Exec`: their
    /// sides stay mapped until it ends (a server knows a window by the
    /// pid, which lives on), and are retired then.
    pub windows_before_exec: Vec<Pid>,
    /// Its connection to each file server endpoint it resolved a path to
    /// (see `mounts::conn_root`).
    pub conn_roots: Vec<ConnRoot>,
    /// A file server's side of its clients' windows: the frames (its own)
    /// mapped at `layout::client_window(pid)`.
    pub client_windows: BTreeMap<Pid, Vec<u64>>,
    /// Clients that ended: their windows are unmapped only when the server
    /// next asks `Ended`, between calls, never while it may be using one.
    pub retired_windows: Vec<Pid>,
    /// Window frames unmapped, for reuse.
    pub spare_window_frames: Vec<u64>,
}

impl Process {
    pub fn live(&self) -> Option<&Live> {
        match &self.state {
            State::Live(l) => Some(l),
            State::Zombie(_) => None,
        }
    }
    pub fn live_mut(&mut self) -> Option<&mut Live> {
        match &mut self.state {
            State::Live(l) => Some(l),
            State::Zombie(_) => None,
        }
    }
}

/// Our connection to a file server made for a process (by `Resolve`):
/// which server, our copy of its endpoint, and the connection (a root slot).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnRoot {
    pub server: Pid,
    pub endpoint: u64,
    pub root: u64,
}

/// A program of the boot file system by path, `/bin/NAME` or `NAME`; any
/// other path with a `/` is a file's.
fn boot_program(path: &str) -> Option<&str> {
    match path.strip_prefix("/bin/") {
        Some(name) => Some(name),
        None => (!path.contains('/')).then_some(path),
    }
}

/// The boot image's program that runs a program that is a file: it reads
/// the file and replaces itself with it (`Request::Exec`).
const EXEC: &str = "exec";

/// The start block of `pid`, checked to fit its shared buffer (with the
/// 64 bytes of room it had when it was the top of the stack).
pub fn start_block(pid: Pid, argv: &[&str], env: &[&str], fds: &[FdName]) -> Result<Vec<u8>, Errno> {
    let block = StartBlock { pid, argv: argv.to_vec(), env: env.to_vec(), fds: fds.to_vec() }.encode()?;
    if block.len() as u64 > PAGE - 64 {
        return Err(Errno::TooLarge);
    }
    Ok(block)
}

impl Life {
    /// `image` as an executable that fits a process and our free memory.
    pub fn loadable<'a>(&self, image: &'a [u8]) -> Result<Elf<'a>, Errno> {
        let elf = Elf::parse(image).map_err(|_| Errno::BadImage)?;
        let pages = elf.loadable().map_err(|_| Errno::BadImage)?;
        if pages.saturating_mul(PAGE) > self.kernel.mem.free_bytes() {
            return Err(Errno::NoMemory);
        }
        Ok(elf)
    }

    /// Creates process `pid` running `spawn.path`, child of `parent`
    /// (0: the process server). On failure nothing of it remains.
    pub fn create(&mut self, pid: Pid, parent: Pid, spawn: &Spawn, grants: &Grants) -> Result<(), Errno> {
        if let Some(home) = spawn.home_parent {
            // Only a daemon (the cluster server) starts for another node's
            // process, and only for one of another node.
            if !self.procs.get(&parent).is_some_and(|p| p.daemon) {
                return Err(Errno::NotPermitted);
            }
            if Gpid(home).node().is_none_or(|n| n == self.procs.node) || Gpid(home).pid() == 0 {
                return Err(Errno::InvalidArgument);
            }
        }
        let (image, block) = match boot_program(spawn.path) {
            Some(name) => {
                let image = self.bootfs.get(name).ok_or(Errno::NoSuchProgram)?;
                (image, start_block(pid, &spawn.argv, &spawn.env, &spawn.fds)?)
            }
            None => {
                let image = self.bootfs.get(EXEC).ok_or(Errno::NoSuchProgram)?;
                let argv: Vec<&str> = [EXEC, spawn.path].into_iter().chain(spawn.argv.iter().copied()).collect();
                (image, start_block(pid, &argv, &spawn.env, &spawn.fds)?)
            }
        };
        let elf = self.loadable(image)?;
        let id = ImageId::of(image);
        // Where the child's connection comes from: an explicit redirect, the
        // parent's intermediary, or us.
        let redirect = match spawn.redirect {
            Some(s) => {
                // Only an endpoint the parent made: a redirect must not hand
                // the child any other capability of the parent's.
                let made = self.procs.live(parent).ok().is_some_and(|l| l.endpoints.contains(&s));
                if !made {
                    return Err(Errno::InvalidArgument);
                }
                let cnode = self.procs.live(parent)?.cspace.root;
                Some((parent, self.kernel.copy_in(cnode, s)?))
            }
            None => match self.procs.live(parent).ok().and_then(|l| l.intermediary.zip(l.conn_src)) {
                Some((via, src)) => Some((via, self.kernel.copy_root(src, CapRights::ALL)?)),
                None => None,
            },
        };
        let id = match self.shared.share(&mut self.kernel, id, &elf) {
            Ok(id) => id,
            Err(e) => {
                if let Some((_, src)) = redirect {
                    self.kernel.delete_root(src);
                }
                return Err(e);
            }
        };
        // Room for a minimal process's objects and its shared pages.
        let mut arena = Arena::with_capacity(32);
        let mut held = Held { shared: Vec::with_capacity(32), ..Held::default() };
        let buffer = self.buffers.take();
        match self.build(&mut arena, &mut held, pid, &elf, Some(id), &block, redirect.map(|r| r.1), grants, buffer) {
            Ok(mut live) => {
                live.intermediary = redirect.map(|r| r.0);
                live.conn_src = redirect.map(|r| r.1);
                live.held = held;
                let name = spawn.argv.first().copied().unwrap_or(spawn.path);
                let name: String = name.chars().take(32).collect();
                let state = State::Live(alloc::boxed::Box::new(live));
                let cwd = self.procs.get(&parent).map_or_else(|| String::from("/"), |p| p.cwd.clone());
                let daemon = false;
                let args = spawn.argv.iter().flat_map(|a| [*a, "\n"]).collect();
                let ns = self.procs.get(&parent).map_or(namespace::SYSTEM, |p| p.ns);
                self.mounts.enter(ns);
                let (system, made_ns, mounted) = (parent == 0, false, false);
                let restricted = self.procs.get(&parent).is_some_and(|p| p.restricted);
                let console = self.procs.get(&parent).is_some_and(|p| p.console);
                let p = Process {
                    pid,
                    ppid: parent,
                    home_parent: spawn.home_parent,
                    name,
                    state,
                    daemon,
                    mounted,
                    system,
                    ns,
                    made_ns,
                    restricted,
                    console,
                    cwd,
                    args,
                };
                self.procs.insert(pid, p);
                Ok(())
            }
            Err(e) => {
                if let Some((_, src)) = redirect {
                    self.kernel.delete_root(src);
                }
                self.release_held(held);
                self.kernel.mem.release(arena);
                self.buffers.free(buffer);
                self.shared.unshare(&mut self.kernel, id);
                Err(e)
            }
        }
    }

    /// A root-slot copy of the notification `events` that signals `bits`
    /// (with `event::FLAG`), kept in `held` until the process ends.
    fn signal_slot(&mut self, held: &mut Held, events: u64, bits: u64) -> Result<u64, Errno> {
        let dest = self.kernel.mem.slot()?;
        let badge = badge(bits | event::FLAG);
        if ROOT_CNODE.mint(dest, ROOT_DEPTH, ROOT_CNODE, events, ROOT_DEPTH, CapRights::WRITE, badge).is_err() {
            self.kernel.mem.free_slot(dest);
            return Err(Errno::NoMemory);
        }
        held.slots.push(dest);
        Ok(dest)
    }

    /// Gives back interrupt handlers and device pages.
    pub fn release_held(&mut self, held: Held) {
        let shared = held.shared.into_iter().map(|(_, copy)| copy);
        for slot in held.irq_handlers.into_iter().chain(held.slots).chain(shared) {
            self.kernel.delete_root(slot);
        }
        for (page, paddr) in held.device_pages {
            self.devices.release(&mut self.kernel.mem, page, paddr);
        }
    }

    /// Makes the objects of a new process and starts it.
    #[allow(clippy::too_many_arguments)]
    pub fn build(
        &mut self,
        arena: &mut Arena,
        held: &mut Held,
        pid: Pid,
        elf: &Elf,
        shared: Option<ImageId>,
        block: &[u8],
        conn: Option<u64>,
        grants: &Grants,
        buffer: usize,
    ) -> Result<Live, Errno> {
        let mem = &mut self.kernel.mem;
        let mut cspace = CSpace::new(mem, arena)?;
        if grants.daemon {
            cspace.fill(mem, arena)?;
        }
        let cnode = cspace.root;
        let vspace = VSpace(mem.object(arena, object::X64_PML4, 0, bits::PML4)?);
        self.kernel.assign_asid(vspace)?;
        let mut space = AddressSpace::new(vspace);

        // `Elf::loadable` has checked that segments share no page and stay
        // below `layout::LOAD_END`.
        for seg in elf.segments() {
            let first = seg.vaddr & !(PAGE - 1);
            let end = (seg.vaddr + seg.mem_size).next_multiple_of(PAGE);
            let data = elf.data(&seg);
            let rights = if seg.writable { CapRights::READ_WRITE } else { CapRights::READ };
            if let Some(id) = shared.filter(|_| !seg.writable) {
                for page in (first..end).step_by(PAGE as usize) {
                    let frame = self.shared.page_copy(&mut self.kernel, id, page, held)?;
                    space.map(&mut self.kernel.mem, arena, frame, page, rights)?;
                }
                continue;
            }
            for page in (first..end).step_by(PAGE as usize) {
                let frame = Page(self.kernel.mem.object(arena, object::X86_4K, 0, bits::PAGE)?);
                let lo = page.max(seg.vaddr);
                let hi = (page + PAGE).min(seg.vaddr + data.len() as u64);
                // A fresh frame is zero: zeros need no copying.
                let src = data.get((lo - seg.vaddr) as usize..(hi.max(lo) - seg.vaddr) as usize).unwrap_or(&[]);
                if src.iter().any(|&b| b != 0) {
                    self.kernel.fill(frame, (lo - page) as usize, src)?;
                }
                space.map(&mut self.kernel.mem, arena, frame, page, rights)?;
            }
        }

        // The stack (the start block goes in the shared buffer, below).
        let stack_low = layout::STACK_TOP - layout::STACK_EAGER * PAGE;
        for page in (stack_low..layout::STACK_TOP).step_by(PAGE as usize) {
            let frame = Page(self.kernel.mem.object(arena, object::X86_4K, 0, bits::PAGE)?);
            space.map(&mut self.kernel.mem, arena, frame, page, CapRights::READ_WRITE)?;
        }

        // The heap's first pages (`layout::HEAP_EAGER`), anonymous memory
        // as `MapAnon` makes it.
        let mut anon = BTreeMap::new();
        let heap_pages = if grants.daemon { layout::HEAP_EAGER_DAEMON } else { layout::HEAP_EAGER };
        for i in 0..heap_pages {
            let frame = self.kernel.mem.object(arena, object::X86_4K, 0, bits::PAGE)?;
            let page = layout::HEAP_BASE + i * PAGE;
            space.map(&mut self.kernel.mem, arena, Page(frame), page, CapRights::READ_WRITE)?;
            anon.insert(page, frame);
        }

        let ipc = Page(self.kernel.mem.object(arena, object::X86_4K, 0, bits::PAGE)?);
        // The first thread writes its thread-local words itself
        // (`libux::rt::_start`); we set their address as its TLS base.
        let tls = layout::IPC_BUFFER + layout::THREAD_LOCAL;
        space.map(&mut self.kernel.mem, arena, ipc, layout::IPC_BUFFER, CapRights::READ_WRITE)?;
        self.buffers.map(&mut self.kernel, arena, &mut space, buffer)?;
        // The start block, written through our own mapping of the buffer
        // (no page to fill); the runtime copies it out before its first
        // call (`libux::rt::process_start`).
        // SAFETY: our mapping of the buffer just mapped, a page; the
        // block fits (`start_block` checks).
        unsafe { core::ptr::copy_nonoverlapping(block.as_ptr(), buffer_address(buffer) as *mut u8, block.len()) };

        let events = self.kernel.mem.object(arena, object::NOTIFICATION, 0, bits::NOTIFICATION)?;
        let depth = CNODE_BITS;
        let fail = |_| Errno::NoMemory;
        let child_signal = self.signal_slot(held, events, event::CHILD)?;
        let ended_signal = if grants.daemon { Some(self.signal_slot(held, events, event::ENDED)?) } else { None };
        // Grant lets a Call carry a reply capability.
        let (src, data) = match conn {
            Some(src) => (src, Badge::connection(pid).0),
            None => (self.ep.0, Badge::connection(pid).0),
        };
        // Calls only: a process must never receive on its connection (it
        // would take others' calls, and their reply capabilities).
        cnode
            .mint(slot::PROC_CONN, depth, ROOT_CNODE, src, ROOT_DEPTH, CapRights::CALL, data)
            .map_err(|_| Errno::InvalidArgument)?;
        let fault_badge = Badge::fault(pid).0;
        cnode
            .mint(slot::FAULT_EP, depth, ROOT_CNODE, self.ep.0, ROOT_DEPTH, CapRights::CALL, fault_badge)
            .map_err(fail)?;
        cnode.copy(slot::EVENTS, depth, ROOT_CNODE, events, ROOT_DEPTH, CapRights::READ).map_err(fail)?;
        if grants.daemon {
            let guard = cnode_guard(0, 64 - CNODE_BITS as u64);
            cnode.mint(slot::CNODE, depth, ROOT_CNODE, cnode.0, ROOT_DEPTH, CapRights::ALL, guard).map_err(fail)?;
        }
        for (i, &(first, last)) in grants.io_ports.iter().enumerate() {
            let range = io_port_range(first, last);
            let at = slot::IO_PORTS + i as u64;
            cnode.mint(at, depth, ROOT_CNODE, init_cap::IO_PORT, ROOT_DEPTH, CapRights::ALL, range).map_err(fail)?;
        }
        for (i, irq) in grants.irqs.iter().enumerate() {
            let vector = self.devices.vector().ok_or(Errno::NoMemory)?;
            let handler = self.kernel.mem.slot()?;
            let control = IrqControl(init_cap::IRQ_CONTROL);
            if control
                .get_ioapic(
                    ROOT_CNODE,
                    handler,
                    ROOT_DEPTH,
                    0,
                    irq.pin as u64,
                    irq.level_triggered,
                    irq.active_low,
                    vector,
                )
                .is_err()
            {
                self.kernel.mem.free_slot(handler);
                return Err(Errno::InvalidArgument);
            }
            held.irq_handlers.push(handler);
            let note = self.signal_slot(held, events, event::irq(i))?;
            IrqHandler(handler).set_notification(Notification(note)).map_err(fail)?;
            cnode
                .copy(slot::IRQ_HANDLERS + i as u64, depth, ROOT_CNODE, handler, ROOT_DEPTH, CapRights::ALL)
                .map_err(fail)?;
        }
        let mut device_at = layout::DEVICE_BASE;
        for range in grants.memory {
            for paddr in (range.paddr..range.paddr + range.size).step_by(PAGE as usize) {
                let page = self.devices.page(&mut self.kernel.mem, paddr)?;
                held.device_pages.push((page, paddr));
                let attr = VmAttributes::CacheDisabled;
                space.map_with(
                    &mut self.kernel.mem,
                    arena,
                    Page(page.frame),
                    device_at,
                    CapRights::READ_WRITE,
                    attr,
                )?;
                device_at += PAGE;
            }
        }

        let tcb = Tcb(self.kernel.mem.object(arena, object::TCB, 0, bits::TCB)?);
        tcb.configure(&TcbConfig {
            fault_ep: slot::FAULT_EP,
            priority: prio_props(0, grants.priority),
            cspace: cnode,
            cspace_data: cnode_guard(0, 64 - CNODE_BITS as u64),
            vspace,
            ipc_buffer: layout::IPC_BUFFER,
            ipc_buffer_frame: ipc,
        })
        .map_err(fail)?;
        // Servers and drivers wait on their endpoint and their events at once.
        if grants.daemon || !grants.irqs.is_empty() {
            tcb.bind_notification(Notification(events)).map_err(fail)?;
        }
        let regs = UserContext {
            rip: elf.entry,
            rsp: layout::STACK_TOP,
            rdi: layout::IPC_BUFFER,
            rsi: layout::SHARED_BUFFER,
            rdx: block.len() as u64,
            r8: heap_pages * PAGE,
            tls_base: tls,
            ..Default::default()
        };
        tcb.write_registers(true, &regs).map_err(fail)?;
        Ok(Live {
            arena: core::mem::take(arena),
            tcb,
            cspace,
            space,
            child_signal,
            ended_signal,
            buffer,
            anon,
            spare: Vec::new(),
            blocks: BTreeMap::new(),
            stack_low,
            image: shared,
            stopped: false,
            stopped_at: Vec::new(),
            intermediary: None,
            placed: Placed::default(),
            conn_src: None,
            held: Held::default(),
            endpoints: Vec::new(),
            dma: grants.dma,
            priority: grants.priority,
            threads: Default::default(),
            windows: Vec::new(),
            windows_before_exec: Vec::new(),
            conn_roots: Vec::new(),
            client_windows: BTreeMap::new(),
            retired_windows: Vec::new(),
            spare_window_frames: Vec::new(),
        })
    }

    /// Ends `pid`: destroys its objects, reparents its children to us, and
    /// leaves a zombie for its parent (or removes it, when that is us).
    /// The processes it was the intermediary of lose their connection, and
    /// with it any call it held for them: they are killed. The calls its
    /// file clients wait in fail (`hangup.rs`). Answers every
    /// process that ended, in order, for the calls waiting on them to be
    /// settled (`Server::end`).
    #[must_use = "the calls waiting on the processes that ended must be settled"]
    pub fn end(&mut self, pid: Pid, end: End) -> Vec<Ended> {
        // A worklist, not recursion: a long chain of intermediaries must
        // not run the server out of stack.
        let mut work = alloc::vec![(pid, end)];
        let mut ended = Vec::new();
        while let Some((pid, end)) = work.pop() {
            let (clients, name) = self.end_one(pid, end);
            work.extend(clients.into_iter().map(|c| (c, End::Killed)));
            ended.push(Ended { pid, end, name });
        }
        ended
    }

    /// Ends one process; returns the processes it was the intermediary of,
    /// and its name if its record went.
    fn end_one(&mut self, pid: Pid, end: End) -> (Vec<Pid>, Option<String>) {
        let clients: Vec<Pid> = self
            .procs
            .values()
            .filter(|p| p.live().is_some_and(|l| l.intermediary == Some(pid)))
            .map(|p| p.pid)
            .collect();
        // Only a process that mounted a tree has file clients; most ends
        // (every spawned `true`) skip the walk of the table.
        let served = if self.procs.get(&pid).is_some_and(|p| p.mounted) { self.clients_of(pid) } else { Vec::new() };
        self.changes += 1;
        let Some(p) = self.procs.get_mut(&pid) else {
            return (Vec::new(), None);
        };
        let (ppid, ns) = (p.ppid, p.ns);
        let State::Live(live) = core::mem::replace(&mut p.state, State::Zombie(end)) else {
            return (Vec::new(), None);
        };
        if let Some(src) = live.conn_src {
            self.kernel.delete_root(src);
        }
        self.dismantle(pid, *live);
        self.mounts.unmount_all(&mut self.procs, &mut self.kernel, pid);
        self.mounts.leave(&mut self.procs, &mut self.kernel, ns);
        self.hang_up(&served);

        let orphans: Vec<Pid> = self.procs.values().filter(|c| c.ppid == pid).map(|c| c.pid).collect();
        for c in orphans {
            let zombie = matches!(self.procs[&c].state, State::Zombie(_));
            if zombie {
                self.procs.remove(&c);
            } else if let Some(child) = self.procs.get_mut(&c) {
                child.ppid = 0;
            }
        }
        let mut removed = None;
        match self.procs.live(ppid).ok() {
            // Signal the parent's child-events notification.
            Some(parent) => Notification(parent.child_signal).signal(),
            None => {
                if let Some(p) = self.procs.remove(&pid) {
                    self.report_end(&p, end);
                    removed = Some(p.name);
                }
            }
        }
        self.tell_daemons(pid);
        (clients, removed)
    }

    /// Stops `live`, the program `pid` ran, and gives back what it held but
    /// its connection's source (`conn_src`, which `exec` keeps).
    pub fn dismantle(&mut self, pid: Pid, mut live: Live) {
        let _ = live.tcb.suspend();
        for tcb in live.threads.running() {
            let _ = tcb.suspend();
        }
        // The threads, then the address space, before anything else: each
        // TCB holds a copy of the VSpace capability, so only then is ours
        // the last and its deletion the address space's; unmapping its
        // pages and tables afterwards finds it gone, and flushes no TLB.
        for tcb in live.threads.0.iter().flatten().map(|t| t.tcb).chain([live.tcb]) {
            let _ = ROOT_CNODE.delete(tcb.0, ROOT_DEPTH);
        }
        let _ = ROOT_CNODE.delete(live.space.root.0, ROOT_DEPTH);
        self.buffers.free(live.buffer);
        for &ConnRoot { root, .. } in &live.conn_roots {
            let _ = ROOT_CNODE.revoke(root, ROOT_DEPTH);
            self.kernel.delete_root(root);
        }
        for server in live.windows.iter().flatten().chain(&live.windows_before_exec) {
            if let Ok(s) = self.procs.live_mut(*server) {
                s.retired_windows.push(pid);
            }
        }
        if let Some(id) = live.image {
            self.shared.keep_copies(&self.kernel, id, &mut live.held.shared);
        }
        self.release_held(live.held);
        for block in live.blocks.into_values() {
            self.kernel.mem.release(block.arena);
        }
        self.kernel.mem.release(live.arena);
        // Its clients' windows went with its memory.
        let clients: Vec<Pid> = live.client_windows.into_keys().collect();
        crate::windows::orphan(&mut self.procs, &mut self.kernel, pid, &clients);
        if let Some(id) = live.image {
            self.shared.unshare(&mut self.kernel, id);
        }
    }

    /// Remembers that `pid` ended and signals every daemon to ask.
    fn tell_daemons(&mut self, pid: Pid) {
        self.procs.log_end(pid);
        for p in self.procs.values() {
            if let Some(signal) = p.live().and_then(|l| l.ended_signal) {
                Notification(signal).signal();
            }
        }
    }
}

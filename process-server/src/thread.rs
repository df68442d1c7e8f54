//! A process's threads beyond its first (`Request::Thread`): made in its
//! arena (so they count as its memory and go with it), in its CSpace and
//! VSpace, with the fault endpoint of its first thread (a fault in any
//! thread ends the process). A thread that ends (`ThreadExit`) is
//! suspended and its objects kept for the next thread with its index.

use crate::life::Life;
use crate::mem::Memory;
use crate::mem::PAGE;
use crate::process::Live;
use libux::layout::{self, slot, CNODE_BITS, MAX_THREADS};
use libux::rpc::{Errno, Pid, Response};
use libux::sel4::consts::{bits, object};
use libux::sel4::{cnode_guard, prio_props, CapRights, Page, Tcb, TcbConfig, UserContext};

/// Thread `index`'s objects.
pub struct Thread {
    pub tcb: Tcb,
    /// Started and not ended.
    pub running: bool,
}

/// The threads after the first, by index - 1.
#[derive(Default)]
pub struct Threads(pub [Option<Thread>; MAX_THREADS - 1]);

impl Threads {
    /// The running threads' TCBs (not the first's).
    pub fn running(&self) -> impl Iterator<Item = Tcb> + '_ {
        self.0.iter().flatten().filter(|t| t.running).map(|t| t.tcb)
    }
}

impl Life {
    /// Starts a thread of `pid` at `entry` with `arg`; answers its index.
    pub fn new_thread(&mut self, pid: Pid, entry: u64, arg: u64) -> Result<Response, Errno> {
        let Life { procs, kernel, .. } = self;
        let live = procs.live_mut(pid)?;
        // A stopped process runs nothing until continued.
        if live.stopped {
            return Err(Errno::InvalidArgument);
        }
        let k = live.threads.0.iter().position(|t| t.as_ref().is_none_or(|t| !t.running)).ok_or(Errno::NoMemory)?;
        let index = k + 1;
        if live.threads.0[k].is_none() {
            // Its thread-local words, written before the page is mapped (a
            // frame capability maps once): their own address, its index.
            let ipc = Page(kernel.mem.object(&mut live.arena, object::X86_4K, 0, bits::PAGE)?);
            let words = [tls_base(index).to_le_bytes(), (index as u64).to_le_bytes()].concat();
            kernel.fill(ipc, layout::THREAD_LOCAL as usize, &words)?;
            live.threads.0[k] = Some(make(&mut kernel.mem, live, index, ipc)?);
        }
        let thread = live.threads.0[k].as_mut().expect("made above");
        let regs = UserContext {
            rip: entry,
            rsp: layout::thread_stack_top(index),
            rdi: arg,
            tls_base: tls_base(index),
            ..Default::default()
        };
        thread.tcb.write_registers(true, &regs).map_err(|_| Errno::InvalidArgument)?;
        thread.running = true;
        Ok(Response::Thread(index as u32))
    }

    /// Ends thread `index` of `pid` (not its first: `Exit` ends that).
    pub fn end_thread(&mut self, pid: Pid, index: u32) -> Result<(), Errno> {
        let live = self.procs.live_mut(pid)?;
        let k = (index as usize).checked_sub(1).ok_or(Errno::InvalidArgument)?;
        let thread = live.threads.0.get_mut(k).and_then(Option::as_mut).filter(|t| t.running);
        let thread = thread.ok_or(Errno::InvalidArgument)?;
        thread.tcb.suspend().map_err(|_| Errno::InvalidArgument)?;
        thread.running = false;
        Ok(())
    }
}

/// Thread `index`'s TLS base: its thread-local words.
fn tls_base(index: usize) -> u64 {
    layout::thread_ipc_buffer(index) + layout::THREAD_LOCAL
}

/// Makes thread `index`'s TCB and stack in `live`'s arena and maps its IPC
/// buffer `ipc`.
fn make(mem: &mut Memory, live: &mut Live, index: usize, ipc: Page) -> Result<Thread, Errno> {
    let arena = &mut live.arena;
    let top = layout::thread_stack_top(index);
    for page in (top - layout::STACK_PAGES * PAGE..top).step_by(PAGE as usize) {
        let frame = Page(mem.object(arena, object::X86_4K, 0, bits::PAGE)?);
        live.space.map(mem, arena, frame, page, CapRights::READ_WRITE)?;
    }
    let at = layout::thread_ipc_buffer(index);
    live.space.map(mem, arena, ipc, at, CapRights::READ_WRITE)?;
    let tcb = Tcb(mem.object(arena, object::TCB, 0, bits::TCB)?);
    tcb.configure(&TcbConfig {
        fault_ep: slot::FAULT_EP,
        priority: prio_props(0, live.priority),
        cspace: live.cspace.root,
        cspace_data: cnode_guard(0, 64 - CNODE_BITS as u64),
        vspace: live.space.root,
        ipc_buffer: at,
        ipc_buffer_frame: ipc,
    })
    .map_err(|_| Errno::NoMemory)?;
    Ok(Thread { tcb, running: false })
}

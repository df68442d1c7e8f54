//! Creating a process from an ELF image: its own CSpace, VSpace (4-level
//! paging), TCB and IPC buffer, with the well-known capabilities of
//! `libux::layout` installed.

use crate::untyped::{AllocError, Allocator, ROOT_CNODE, ROOT_DEPTH};
use crate::vspace::AddressSpace;
use libux::console::{COM1, COM1_PORTS};
use libux::elf::{Elf, ElfError};
use libux::layout::{self, slot, CNODE_BITS};
use libux::proto::FAULT_BADGE;
use libux::sel4::consts::{bits, init_cap, object};
use libux::sel4::{
    badge, cnode_guard, io_port_range, prio_props, AsidPool, CNode, CapRights, Endpoint, Error,
    Page, Tcb, TcbConfig, UserContext, VSpace,
};

/// Where the process server maps a frame of its own to fill it: a
/// PML4 slot of its address space that nothing else uses.
const SCRATCH: u64 = 0x80_0000_0000;
const PAGE: u64 = 1 << bits::PAGE;
/// Priority of user processes: equal to the process server's, which both
/// directions of the kernel's IPC fastpath require.
const USER_PRIORITY: u8 = 255;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpawnError {
    Elf(ElfError),
    /// Two loadable segments share a page (the linker script keeps them
    /// apart).
    OverlappingSegments,
    Alloc(AllocError),
}

impl From<AllocError> for SpawnError {
    fn from(e: AllocError) -> Self {
        SpawnError::Alloc(e)
    }
}

impl From<Error> for SpawnError {
    fn from(e: Error) -> Self {
        SpawnError::Alloc(AllocError::Kernel(e))
    }
}

pub struct Process {
    pub pid: u64,
    pub tcb: Tcb,
}

/// The process server's own address space, for filling frames.
pub struct Loader {
    own: AddressSpace,
}

impl Loader {
    pub fn new() -> Self {
        Loader {
            own: AddressSpace::new(VSpace(init_cap::VSPACE)),
        }
    }

    /// Starts `image` as process `pid`, talking to `server` and passing
    /// `arg` in `rsi`.
    pub fn spawn(
        &mut self,
        alloc: &mut Allocator,
        image: &[u8],
        pid: u64,
        server: Endpoint,
        arg: u64,
    ) -> Result<Process, SpawnError> {
        let elf = Elf::parse(image).map_err(SpawnError::Elf)?;
        let cnode = CNode(alloc.object(
            object::CAP_TABLE,
            CNODE_BITS as u64,
            CNODE_BITS as u32 + bits::SLOT,
        )?);
        let vspace = VSpace(alloc.object(object::X64_PML4, 0, bits::PML4)?);
        AsidPool(init_cap::ASID_POOL).assign(vspace)?;
        let mut space = AddressSpace::new(vspace);

        let mut last_page_end = 0;
        for seg in elf.segments() {
            let first = seg.vaddr & !(PAGE - 1);
            if first < last_page_end {
                return Err(SpawnError::OverlappingSegments);
            }
            let end = (seg.vaddr + seg.mem_size).next_multiple_of(PAGE);
            let data = elf.data(&seg);
            let rights = if seg.writable {
                CapRights::READ_WRITE
            } else {
                CapRights::READ
            };
            for page in (first..end).step_by(PAGE as usize) {
                let frame = Page(alloc.object(object::X86_4K, 0, bits::PAGE)?);
                // Bytes of the segment's file contents that fall in this page.
                let lo = page.max(seg.vaddr);
                let hi = (page + PAGE).min(seg.vaddr + data.len() as u64);
                if lo < hi {
                    let src = &data[(lo - seg.vaddr) as usize..(hi - seg.vaddr) as usize];
                    self.fill(alloc, frame, (lo - page) as usize, src)?;
                }
                space.map(alloc, frame, page, rights)?;
            }
            last_page_end = end;
        }

        let ipc = Page(alloc.object(object::X86_4K, 0, bits::PAGE)?);
        space.map(alloc, ipc, layout::IPC_BUFFER, CapRights::READ_WRITE)?;

        let depth = CNODE_BITS;
        // Grant is needed for Call to carry a reply capability.
        cnode.mint(
            slot::PROC_CONN,
            depth,
            ROOT_CNODE,
            server.0,
            ROOT_DEPTH,
            CapRights::ALL,
            badge(pid),
        )?;
        cnode.mint(
            slot::FAULT_EP,
            depth,
            ROOT_CNODE,
            server.0,
            ROOT_DEPTH,
            CapRights::ALL,
            badge(pid | FAULT_BADGE),
        )?;
        let console = io_port_range(COM1, COM1 + COM1_PORTS - 1);
        cnode.mint(
            slot::CONSOLE,
            depth,
            ROOT_CNODE,
            init_cap::IO_PORT,
            ROOT_DEPTH,
            CapRights::ALL,
            console,
        )?;

        let tcb = Tcb(alloc.object(object::TCB, 0, bits::TCB)?);
        tcb.configure(&TcbConfig {
            fault_ep: slot::FAULT_EP,
            priority: prio_props(0, USER_PRIORITY),
            cspace: cnode,
            cspace_data: cnode_guard(0, 64 - CNODE_BITS as u64),
            vspace,
            ipc_buffer: layout::IPC_BUFFER,
            ipc_buffer_frame: ipc,
        })?;
        let regs = UserContext {
            rip: elf.entry,
            rdi: layout::IPC_BUFFER,
            rsi: arg,
            ..Default::default()
        };
        tcb.write_registers(true, &regs)?;
        Ok(Process { pid, tcb })
    }

    /// Copies `src` into `frame` at `offset`, through a temporary mapping.
    fn fill(
        &mut self,
        alloc: &mut Allocator,
        frame: Page,
        offset: usize,
        src: &[u8],
    ) -> Result<(), SpawnError> {
        self.own.map(alloc, frame, SCRATCH, CapRights::READ_WRITE)?;
        // SAFETY: the frame is mapped read-write at SCRATCH for exactly this
        // copy, and `offset + src.len()` is within one page.
        unsafe {
            core::ptr::copy_nonoverlapping(
                src.as_ptr(),
                (SCRATCH as *mut u8).add(offset),
                src.len(),
            );
        }
        frame.unmap()?;
        Ok(())
    }
}

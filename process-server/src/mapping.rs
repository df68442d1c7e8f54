//! What a process asks of its own memory and slots: anonymous pages
//! (`MapAnon`, `UnmapAnon`; large ones as blocks, `blocks.rs`), DMA
//! memory for drivers (`MapDma`), endpoints and notifications made in
//! its CSpace, and a first thread's stack that grows on a touch below it.

use crate::blocks::{Block, BLOCK_PAGES};
use crate::kernel::Kernel;
use crate::life::Life;
use crate::mem::{Arena, ARENA_SLOTS, PAGE};
use alloc::vec::Vec;
use libux::layout;
use libux::rpc::{Errno, Pid, Response};
use libux::sel4::consts::{bits, object};
use libux::sel4::{CapRights, Page};

impl Life {
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
    pub fn grow_stack(&mut self, pid: Pid) -> bool {
        let base = layout::STACK_TOP - layout::STACK_PAGES * PAGE;
        let Life { procs, kernel: Kernel { mem, .. }, .. } = self;
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

    pub fn map_anon(&mut self, pid: Pid, vaddr: u64, pages: u32) -> Result<Response, Errno> {
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
        let Life { procs, kernel, .. } = self;
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

    pub fn map_dma(&mut self, pid: Pid, vaddr: u64, pages: u32) -> Result<Response, Errno> {
        let end = vaddr.checked_add(pages as u64 * PAGE).ok_or(Errno::BadAddress)?;
        if !vaddr.is_multiple_of(PAGE) || pages == 0 || vaddr < layout::DMA_BASE || end > layout::DMA_END {
            return Err(Errno::BadAddress);
        }
        if pages > libux::rpc::DMA_MAX_PAGES {
            return Err(Errno::TooLarge);
        }
        let Life { procs, kernel: Kernel { mem, .. }, .. } = self;
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

    pub fn unmap_anon(&mut self, pid: Pid, vaddr: u64, pages: u32) -> Result<Response, Errno> {
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

    pub fn create_endpoint(&mut self, pid: Pid, slot: u64) -> Result<Response, Errno> {
        self.make_in_slot(pid, slot, object::ENDPOINT, bits::ENDPOINT)?;
        self.procs.live_mut(pid)?.endpoints.push(slot);
        Ok(Response::Done)
    }

    /// A notification in `pid`'s `slot`, from its memory; it goes with
    /// the process's CSpace (it is never named as a redirect or mount).
    pub fn create_notification(&mut self, pid: Pid, slot: u64) -> Result<Response, Errno> {
        self.make_in_slot(pid, slot, object::NOTIFICATION, bits::NOTIFICATION)?;
        Ok(Response::Done)
    }

    /// An object of `pid`'s memory made right in its `slot` (one it may
    /// fill): an occupied slot fails before anything is spent.
    fn make_in_slot(&mut self, pid: Pid, slot: u64, object_type: u64, mem_bits: u32) -> Result<(), Errno> {
        if !(layout::slot::FIRST_FREE..1 << layout::CNODE_BITS).contains(&slot) {
            return Err(Errno::InvalidArgument);
        }
        let Life { procs, kernel: Kernel { mem, .. }, .. } = self;
        let live = procs.live_mut(pid)?;
        let (leaf, offset) = live.cspace.reach(mem, &mut live.arena, slot)?;
        mem.object_into(&mut live.arena, object_type, mem_bits, leaf, offset).map_err(|e| match e {
            crate::mem::AllocError::Kernel(_) => Errno::InvalidArgument,
            other => other.into(),
        })
    }

    /// Maps the block `vaddr..+pages` (free, checked by the caller) with
    /// frames of its own arena; on failure nothing stays made. A process's
    /// blocks and its arena together hold at most `ARENA_SLOTS` root
    /// slots, as its arena alone does: no process takes the node's slots.
    pub fn map_block(&mut self, pid: Pid, vaddr: u64, pages: u32) -> Result<(), Errno> {
        let Life { procs, kernel: Kernel { mem, .. }, .. } = self;
        let live = procs.live_mut(pid)?;
        let held = live.arena.slot_count() + live.blocks.values().map(|b| b.arena.slot_count()).sum::<usize>();
        if held.saturating_add(pages as usize) > ARENA_SLOTS {
            return Err(Errno::NoMemory);
        }
        let mut arena = Arena::default();
        let mut frames = Vec::new();
        for i in 0..u64::from(pages) {
            let page = vaddr + i * PAGE;
            let made = mem.object(&mut arena, object::X86_4K, 0, bits::PAGE).map_err(Errno::from).and_then(|f| {
                live.space.map(mem, &mut live.arena, Page(f), page, CapRights::READ_WRITE).map_err(Errno::from)?;
                Ok(f)
            });
            match made {
                Ok(f) => frames.push((page, f)),
                Err(e) => {
                    // Revoking the arena unmaps what was mapped of it.
                    mem.release(arena);
                    return Err(e);
                }
            }
        }
        live.anon.extend(frames);
        live.blocks.insert(vaddr, Block { pages, arena });
        Ok(())
    }

    /// Gives back every block inside `vaddr..end` (all its pages mapped,
    /// checked by the caller); a block the range cuts is refused before
    /// anything changes.
    pub fn unmap_blocks(&mut self, pid: Pid, vaddr: u64, end: u64) -> Result<(), Errno> {
        let Life { procs, kernel: Kernel { mem, .. }, .. } = self;
        let live = procs.live_mut(pid)?;
        let touched: Vec<u64> =
            live.blocks.range(..end).filter(|(&at, b)| b.end(at) > vaddr).map(|(&at, _)| at).collect();
        if touched.iter().any(|&at| at < vaddr || live.blocks[&at].end(at) > end) {
            return Err(Errno::InvalidArgument);
        }
        for at in touched {
            let block = live.blocks.remove(&at).expect("just found");
            for i in 0..u64::from(block.pages) {
                live.anon.remove(&(at + i * PAGE));
            }
            mem.release(block.arena);
        }
        Ok(())
    }
}

//! Anonymous memory that comes back while its process lives: a `MapAnon`
//! of a chunk's worth of pages or more (a large heap block of a program's,
//! see `libux::rt::LARGE`) is a block, its frames made in an arena of its
//! own, so that an `UnmapAnon` of the block revokes that arena and its
//! memory returns to the node at once, not at the process's end. Smaller
//! mappings keep their frames for the process's next `MapAnon` (`spare`).
//! A block takes whole chunks: one of 17 pages takes two.

use crate::kernel::Kernel;
use crate::life::Life;
use crate::mem::PAGE;
use crate::mem::{Arena, ARENA_SLOTS};
use alloc::vec::Vec;
use libux::layout::MEMORY_CHUNK_BITS;
use libux::rpc::{Errno, Pid};
use libux::sel4::consts::{bits, object};
use libux::sel4::{CapRights, Page};

/// Pages that make a mapping a block: a chunk's worth.
pub const BLOCK_PAGES: u32 = 1 << (MEMORY_CHUNK_BITS - 12);

/// One block: its pages and the arena its frames are in.
#[derive(Debug)]
pub struct Block {
    pub pages: u32,
    pub arena: Arena,
}

impl Block {
    fn end(&self, at: u64) -> u64 {
        at + u64::from(self.pages) * PAGE
    }
}

impl Life {
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

/// The memory of a process's blocks, in bytes.
pub fn bytes(blocks: &alloc::collections::BTreeMap<u64, Block>) -> u64 {
    blocks.values().map(|b| b.arena.bytes()).sum()
}

//! Shared buffers: one page per process at `layout::SHARED_BUFFER`,
//! which we also map in our window at `buffer_address(index)`, for
//! messages that do not fit the message registers.
//!
//! The first `POOLED` indices have their frame made at boot, mapped in
//! our window for good, with a copy kept to map into the process that
//! holds the index: a process takes one zeroed (through our mapping) and
//! maps the copy, and its end only unmaps the copy. A buffer made per
//! process, as the rest are, was a frame to make and zero, a copy, two
//! mappings and their deletion at every spawn. A process takes the
//! lowest free index, so a node with fewer than `POOLED` processes at
//! once never makes one.

use crate::kernel::Kernel;
use crate::mem::PAGE;
use crate::mem::{Arena, ROOT_CNODE, ROOT_DEPTH};
use crate::vspace::AddressSpace;
use alloc::collections::BTreeSet;
use alloc::vec::Vec;
use libux::layout;
use libux::println;
use libux::rpc::Errno;
use libux::sel4::consts::{bits, object};
use libux::sel4::{CapRights, Page};

/// Our window onto every process's shared buffer page, one page each.
pub use crate::space::BUFFERS;

pub fn buffer_address(index: usize) -> u64 {
    BUFFERS + index as u64 * PAGE
}

/// Buffers made at boot: 64 processes' worth (256 KiB).
const POOLED: usize = 64;

#[derive(Default)]
pub struct Buffers {
    free: BTreeSet<usize>,
    next: usize,
    /// For each pooled index, the copy of its frame a process maps.
    pooled: Vec<u64>,
}

impl Buffers {
    /// An index no process holds.
    pub fn take(&mut self) -> usize {
        self.free.pop_first().unwrap_or_else(|| {
            self.next += 1;
            self.next - 1
        })
    }

    /// Buffers held by processes.
    pub fn in_use(&self) -> usize {
        self.next - self.free.len()
    }
}

impl Buffers {
    /// Makes the pooled buffers (at boot).
    pub fn make_pooled(&mut self, kernel: &mut Kernel) -> Result<(), Errno> {
        for index in 0..POOLED {
            let frame = kernel.own_object(object::X86_4K, bits::PAGE)?;
            let copy = kernel.copy_root(frame, CapRights::READ_WRITE)?;
            kernel.map_own(Page(frame), buffer_address(index), CapRights::READ_WRITE)?;
            self.pooled.push(copy);
        }
        Ok(())
    }

    /// Maps buffer `index` in `space`: a pooled one zeroed, or a frame
    /// made in `arena` and mapped in our window too.
    pub fn map(
        &mut self,
        kernel: &mut Kernel,
        arena: &mut Arena,
        space: &mut AddressSpace,
        index: usize,
    ) -> Result<(), Errno> {
        let rights = CapRights::READ_WRITE;
        if let Some(&copy) = self.pooled.get(index) {
            // SAFETY: our mapping of this buffer, which no process holds
            // now (it was the last holder's: what it left must go).
            unsafe { core::ptr::write_bytes(buffer_address(index) as *mut u8, 0, PAGE as usize) };
            return Ok(space.map(&mut kernel.mem, arena, Page(copy), layout::SHARED_BUFFER, rights)?);
        }
        let frame = Page(kernel.mem.object(arena, object::X86_4K, 0, bits::PAGE)?);
        space.map(&mut kernel.mem, arena, frame, layout::SHARED_BUFFER, rights)?;
        // A frame capability maps once: our mapping uses a copy.
        let copy = kernel.mem.derived_slot(arena)?;
        ROOT_CNODE.copy(copy, ROOT_DEPTH, ROOT_CNODE, frame.0, ROOT_DEPTH, rights).map_err(|_| Errno::NoMemory)?;
        kernel.map_own(Page(copy), buffer_address(index), rights)?;
        Ok(())
    }

    /// Buffer `index`'s holder is gone (or was never made): the index is
    /// free, and a pooled buffer's copy unmapped. A buffer made for the
    /// process goes with its arena.
    pub fn free(&mut self, index: usize) {
        if let Some(&copy) = self.pooled.get(index) {
            if Page(copy).unmap().is_err() {
                // Still mapped, it cannot map anywhere else: the index is
                // given up rather than handed to the next spawn to fail.
                println!("ux: shared buffer {index} could not be unmapped; it is not used again");
                return;
            }
        }
        self.free.insert(index);
    }
}

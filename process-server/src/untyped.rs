//! Kernel object allocation: free CNode slots of the root task and a
//! watermark allocator over the untyped memory the kernel handed over.
//!
//! Objects are never freed yet: process teardown (returning a process's
//! memory) comes with the process lifecycle.

use heapless::Vec;
use libux::sel4::{bootinfo::UntypedDesc, consts::init_cap, BootInfo, CNode, Error, Untyped};

/// Depth of the root CNode's capability pointers (2^16 slots behind a
/// 48-bit guard).
pub const ROOT_DEPTH: u8 = 64;
pub const ROOT_CNODE: CNode = CNode(init_cap::CNODE);

struct Region {
    cap: Untyped,
    desc: UntypedDesc,
    /// Bytes from the start of the untyped handed out so far.
    used: u64,
}

pub struct Allocator {
    regions: Vec<Region, { libux::sel4::consts::config::MAX_BOOTINFO_UNTYPED_CAPS }>,
    next_slot: u64,
    end_slot: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AllocError {
    OutOfSlots,
    OutOfMemory,
    Kernel(Error),
}

impl From<Error> for AllocError {
    fn from(e: Error) -> Self {
        AllocError::Kernel(e)
    }
}

impl Allocator {
    pub fn new(bi: &BootInfo) -> Self {
        let mut regions = Vec::new();
        for (i, desc) in bi.untypeds().enumerate() {
            if !desc.is_device {
                // Cannot overflow: the list length is bounded by the same constant.
                let _ = regions.push(Region {
                    cap: Untyped(bi.untyped().start + i as u64),
                    desc,
                    used: 0,
                });
            }
        }
        Allocator {
            regions,
            next_slot: bi.empty().start,
            end_slot: bi.empty().end,
        }
    }

    /// Bytes of untyped memory not yet handed out.
    pub fn free_bytes(&self) -> u64 {
        self.regions.iter().map(|r| r.desc.size() - r.used).sum()
    }

    /// Makes one object of `object_type` occupying 2^`mem_bits` bytes
    /// (`size_bits` is the Retype argument: slots for CNodes, otherwise
    /// 0) and returns the root-CNode slot holding its capability.
    pub fn object(
        &mut self,
        object_type: u64,
        size_bits: u64,
        mem_bits: u32,
    ) -> Result<u64, AllocError> {
        let size = 1u64 << mem_bits;
        // The kernel places each new object at the untyped's watermark
        // rounded up to the object's size; mirror that to pick a region.
        let region = self
            .regions
            .iter_mut()
            .find(|r| r.used.next_multiple_of(size) + size <= r.desc.size())
            .ok_or(AllocError::OutOfMemory)?;
        if self.next_slot >= self.end_slot {
            return Err(AllocError::OutOfSlots);
        }
        let slot = self.next_slot;
        region
            .cap
            .retype(object_type, size_bits, ROOT_CNODE, 0, 0, slot, 1)?;
        region.used = region.used.next_multiple_of(size) + size;
        self.next_slot += 1;
        Ok(slot)
    }
}

//! Kernel memory: CNode slots of the root task and untyped memory, handed
//! out in a way that lets a process's memory come back when it ends.
//!
//! seL4 only reclaims untyped memory by revoking an untyped capability,
//! which destroys everything made from it. So RAM is carved into chunks
//! of 2^CHUNK_BITS bytes (untyped objects of their own); each process
//! owns an [`Arena`] of chunks its objects are made from, and ending the
//! process revokes its chunks, which destroys all its objects and their
//! capabilities at once and makes the chunks reusable.

use alloc::vec::Vec;
use libux::rpc::Errno;
use libux::sel4::consts::{bits, init_cap, object};
use libux::sel4::{BootInfo, CNode, Error, Untyped};

/// The size of a page, and of a frame.
pub const PAGE: u64 = 1 << bits::PAGE;

/// Depth of the root CNode's capability pointers (2^16 slots behind a
/// 48-bit guard).
pub const ROOT_DEPTH: u8 = 64;
pub const ROOT_CNODE: CNode = CNode(init_cap::CNODE);
pub const CHUNK_BITS: u32 = libux::layout::MEMORY_CHUNK_BITS;
/// Root CNode slots one arena may hold (one per object or mapped page): a
/// quarter of the root CNode, so no process can use up the slots of all.
pub const ARENA_SLOTS: usize = 1 << 14;
const CHUNK: u64 = 1 << CHUNK_BITS;
/// Frames a chunk holds.
pub const CHUNK_PAGES: u64 = CHUNK >> bits::PAGE;

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

impl From<AllocError> for Errno {
    fn from(e: AllocError) -> Self {
        match e {
            AllocError::OutOfSlots | AllocError::OutOfMemory => Errno::NoMemory,
            AllocError::Kernel(_) => Errno::InvalidArgument,
        }
    }
}

/// A RAM untyped the kernel gave us, carved into chunks from the start.
struct Region {
    cap: Untyped,
    size: u64,
    carved: u64,
}

/// The objects of one owner: its chunks, the chunk being filled, and the
/// root-CNode slots holding its capabilities.
#[derive(Debug, Default)]
pub struct Arena {
    chunks: Vec<u64>,
    /// Bytes used of the last chunk.
    used: u64,
    slots: Vec<u64>,
}

impl Arena {
    /// An arena with room for `slots` capabilities before it grows its
    /// list (a process's first objects).
    pub fn with_capacity(slots: usize) -> Arena {
        Arena { slots: Vec::with_capacity(slots), ..Arena::default() }
    }

    /// Memory it holds, in bytes.
    pub fn bytes(&self) -> u64 {
        self.chunks.len() as u64 * CHUNK
    }

    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty() && self.slots.is_empty()
    }

    /// Root slots its capabilities take.
    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }
}

pub struct Memory {
    regions: Vec<Region>,
    free_chunks: Vec<u64>,
    free_slots: Vec<u64>,
    next_slot: u64,
    end_slot: u64,
}

impl Memory {
    pub fn new(bi: &BootInfo) -> Self {
        let mut regions: Vec<Region> = bi
            .untypeds()
            .enumerate()
            .filter(|(_, d)| !d.is_device && d.size() >= CHUNK)
            .map(|(i, d)| Region { cap: Untyped(bi.untyped().start + i as u64), size: d.size(), carved: 0 })
            .collect();
        // The kernel hands RAM over as used, so the first chunk carved from
        // a region clears all of it, and the host then backs all of it:
        // smallest first, a boot clears little more than it uses. In
        // address order a node's 11 MiB at boot cleared 27 MiB (a 16 MiB
        // region for its last chunks), and its QEMU held 65 MB, not 54.
        regions.sort_by_key(|r| r.size);
        Memory {
            regions,
            free_chunks: Vec::new(),
            free_slots: Vec::new(),
            next_slot: bi.empty().start,
            end_slot: bi.empty().end,
        }
    }

    /// Untyped memory not held by any arena, in bytes.
    pub fn free_bytes(&self) -> u64 {
        let uncarved: u64 = self.regions.iter().map(|r| (r.size - r.carved) / CHUNK * CHUNK).sum();
        uncarved + self.free_chunks.len() as u64 * CHUNK
    }

    /// Root CNode slots that nothing holds: empty ones, and those of free
    /// chunks (a chunk, once carved, keeps its slot for the next arena:
    /// how many are carved depends on how many processes ever lived at
    /// once, not on leaks).
    pub fn free_slots(&self) -> u64 {
        self.end_slot - self.next_slot + self.free_slots.len() as u64 + self.free_chunks.len() as u64
    }

    pub fn slot(&mut self) -> Result<u64, AllocError> {
        if let Some(s) = self.free_slots.pop() {
            return Ok(s);
        }
        if self.next_slot >= self.end_slot {
            return Err(AllocError::OutOfSlots);
        }
        self.next_slot += 1;
        Ok(self.next_slot - 1)
    }

    /// `n` consecutive empty slots, for good.
    pub fn reserve_slots(&mut self, n: u64) -> Result<core::ops::Range<u64>, AllocError> {
        let start = self.next_slot;
        let end = start.checked_add(n).filter(|&e| e <= self.end_slot).ok_or(AllocError::OutOfSlots)?;
        self.next_slot = end;
        Ok(start..end)
    }

    /// `n` chunks of untyped memory, for good.
    pub fn reserve_chunks(&mut self, n: u64) -> Result<Vec<u64>, AllocError> {
        (0..n).map(|_| self.chunk()).collect()
    }

    /// Returns an empty slot.
    pub fn free_slot(&mut self, slot: u64) {
        self.free_slots.push(slot);
    }

    fn chunk(&mut self) -> Result<u64, AllocError> {
        if let Some(c) = self.free_chunks.pop() {
            return Ok(c);
        }
        let region = self.regions.iter_mut().find(|r| r.carved + CHUNK <= r.size).ok_or(AllocError::OutOfMemory)?;
        let slot = match self.free_slots.pop() {
            Some(s) => s,
            None if self.next_slot < self.end_slot => {
                self.next_slot += 1;
                self.next_slot - 1
            }
            None => return Err(AllocError::OutOfSlots),
        };
        if let Err(e) = region.cap.retype(object::UNTYPED, CHUNK_BITS as u64, ROOT_CNODE, 0, 0, slot, 1) {
            self.free_slots.push(slot);
            return Err(e.into());
        }
        region.carved += CHUNK;
        Ok(slot)
    }

    /// The chunk of `arena` the next object of 2^`mem_bits` bytes goes in,
    /// taking a new chunk when the current one is full.
    fn chunk_for(&mut self, arena: &mut Arena, mem_bits: u32) -> Result<u64, AllocError> {
        let size = 1u64 << mem_bits;
        debug_assert!(size <= CHUNK);
        // The kernel places each object at the chunk's watermark rounded up
        // to the object's size; mirror that to know when a chunk is full.
        if arena.chunks.is_empty() || arena.used.next_multiple_of(size) + size > CHUNK {
            let c = self.chunk()?;
            arena.chunks.push(c);
            arena.used = 0;
        }
        Ok(*arena.chunks.last().expect("just ensured"))
    }

    /// Records that an object of 2^`mem_bits` bytes was made in the chunk.
    fn placed(arena: &mut Arena, mem_bits: u32) {
        let size = 1u64 << mem_bits;
        arena.used = arena.used.next_multiple_of(size) + size;
    }

    /// Makes one object of `object_type` occupying 2^`mem_bits` bytes in
    /// `arena` (`size_bits` is the Retype argument: slots for CNodes,
    /// otherwise 0). Returns the root-CNode slot of its capability.
    pub fn object(
        &mut self,
        arena: &mut Arena,
        object_type: u64,
        size_bits: u64,
        mem_bits: u32,
    ) -> Result<u64, AllocError> {
        if arena.slots.len() >= ARENA_SLOTS {
            return Err(AllocError::OutOfSlots);
        }
        let chunk = self.chunk_for(arena, mem_bits)?;
        let slot = self.slot()?;
        if let Err(e) = Untyped(chunk).retype(object_type, size_bits, ROOT_CNODE, 0, 0, slot, 1) {
            self.free_slot(slot);
            return Err(e.into());
        }
        crate::work::object(1 << mem_bits);
        Self::placed(arena, mem_bits);
        arena.slots.push(slot);
        Ok(slot)
    }

    /// Makes `pages` 4 KiB frames (at most a chunk's worth) that are
    /// physically contiguous: a fresh chunk of `arena`, frames retyped one
    /// after another from its start. Returns their root slots in order.
    pub fn contiguous_frames(&mut self, arena: &mut Arena, pages: u32) -> Result<Vec<u64>, AllocError> {
        debug_assert!((pages as u64) << 12 <= CHUNK);
        if arena.slots.len() + pages as usize > ARENA_SLOTS {
            return Err(AllocError::OutOfSlots);
        }
        let c = self.chunk()?;
        arena.chunks.push(c);
        arena.used = 0;
        let mut frames = Vec::new();
        for _ in 0..pages {
            let slot = self.slot()?;
            if let Err(e) = Untyped(c).retype(object::X86_4K, 0, ROOT_CNODE, 0, 0, slot, 1) {
                self.free_slot(slot);
                return Err(e.into());
            }
            crate::work::object(1 << 12);
            Self::placed(arena, 12);
            arena.slots.push(slot);
            frames.push(slot);
        }
        // Nothing else goes in this chunk: the next object takes a new one.
        arena.used = CHUNK;
        Ok(frames)
    }

    /// Makes one object in `arena` with its capability straight in slot
    /// `offset` of `cnode` (a CNode capability in our root CNode): no root
    /// slot is used, and an occupied slot fails before anything is spent.
    pub fn object_into(
        &mut self,
        arena: &mut Arena,
        object_type: u64,
        mem_bits: u32,
        cnode: CNode,
        offset: u64,
    ) -> Result<(), AllocError> {
        let chunk = self.chunk_for(arena, mem_bits)?;
        Untyped(chunk).retype(object_type, 0, ROOT_CNODE, cnode.0, ROOT_DEPTH as u64, offset, 1)?;
        crate::work::object(1 << mem_bits);
        Self::placed(arena, mem_bits);
        Ok(())
    }

    /// A slot for a capability derived from an arena object (a copy to map
    /// twice, say): revoking the arena's chunks empties it too.
    pub fn derived_slot(&mut self, arena: &mut Arena) -> Result<u64, AllocError> {
        if arena.slots.len() >= ARENA_SLOTS {
            return Err(AllocError::OutOfSlots);
        }
        let slot = self.slot()?;
        arena.slots.push(slot);
        Ok(slot)
    }

    /// Destroys every object of `arena` and takes its memory and slots back.
    pub fn release(&mut self, arena: Arena) {
        for c in arena.chunks {
            // Deletes every capability derived from the chunk, anywhere:
            // the objects, their copies, mappings of its frames.
            ROOT_CNODE.revoke(c, ROOT_DEPTH).expect("revoking a chunk we own");
            self.free_chunks.push(c);
        }
        self.free_slots.extend(arena.slots);
    }
}

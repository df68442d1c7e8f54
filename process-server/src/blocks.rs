//! Anonymous memory that comes back while its process lives: a `MapAnon`
//! of a chunk's worth of pages or more (a large heap block of a program's,
//! see `libux::rt::LARGE`) is a block, its frames made in an arena of its
//! own, so that an `UnmapAnon` of the block revokes that arena and its
//! memory returns to the node at once, not at the process's end. Smaller
//! mappings keep their frames for the process's next `MapAnon` (`spare`).
//! A block takes whole chunks: one of 17 pages takes two. Blocks are
//! mapped and unmapped in `mapping.rs`; here is what one is.

use crate::mem::{Arena, PAGE};

/// Pages that make a mapping a block: a chunk's worth.
pub const BLOCK_PAGES: u32 = crate::mem::CHUNK_PAGES as u32;

/// One block: its pages and the arena its frames are in.
#[derive(Debug)]
pub struct Block {
    pub pages: u32,
    pub arena: Arena,
}

impl Block {
    /// Where the block at `at` ends.
    pub fn end(&self, at: u64) -> u64 {
        at + u64::from(self.pages) * PAGE
    }
}

/// The memory of a process's blocks, in bytes.
pub fn bytes(blocks: &alloc::collections::BTreeMap<u64, Block>) -> u64 {
    blocks.values().map(|b| b.arena.bytes()).sum()
}

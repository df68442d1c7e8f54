//! A process's CSpace: a root CNode whose entries are leaf CNodes of
//! `2^CNODE_LEAF_BITS` slots, each made when a slot in it is first
//! filled, so that a slot number (`layout::slot`) still resolves as its
//! capability pointer, through both levels.
//!
//! Why two levels: the kernel deletes a CNode a step per slot, filled or
//! not. A process that fills a dozen slots with one CNode of 1,024 paid
//! for all of them at its end: under emulation 0.85 M cycles, more than
//! a third of a spawn + wait of `true`.
//!
//! A leaf's capability is kept in one of our root slots (of the
//! process's arena) as well as in the root CNode: what we make in a slot
//! of the process is retyped straight into the leaf (`Memory::
//! object_into`), which must be named from our own CSpace.

use crate::mem::{Arena, Memory, ROOT_CNODE, ROOT_DEPTH};
use libux::layout::{CNODE_BITS, CNODE_LEAF_BITS};
use libux::rpc::Errno;
use libux::sel4::consts::{bits, object};
use libux::sel4::{CNode, CapRights};

/// Bits of a slot number that pick the leaf.
const ROOT_BITS: u8 = CNODE_BITS - CNODE_LEAF_BITS;
const LEAVES: usize = 1 << ROOT_BITS;

pub struct CSpace {
    /// The root CNode (`CNODE_BITS` deep from here).
    pub root: CNode,
    /// Each leaf made so far, by index.
    leaves: [Option<CNode>; LEAVES],
}

impl CSpace {
    /// A root CNode with the leaf of the well-known slots (those below
    /// `slot::FIRST_FREE`).
    pub fn new(mem: &mut Memory, arena: &mut Arena) -> Result<CSpace, Errno> {
        let root = mem.object(arena, object::CAP_TABLE, ROOT_BITS as u64, ROOT_BITS as u32 + bits::SLOT)?;
        let mut cspace = CSpace { root: CNode(root), leaves: [None; LEAVES] };
        cspace.reach(mem, arena, 0)?;
        Ok(cspace)
    }

    /// Makes every leaf: a daemon fills its own slots (saved replies).
    pub fn fill(&mut self, mem: &mut Memory, arena: &mut Arena) -> Result<(), Errno> {
        for leaf in 0..LEAVES as u64 {
            self.reach(mem, arena, leaf << CNODE_LEAF_BITS)?;
        }
        Ok(())
    }

    /// Makes the leaf that holds `slot` if there is none yet; answers it
    /// and the slot's index in it.
    pub fn reach(&mut self, mem: &mut Memory, arena: &mut Arena, slot: u64) -> Result<(CNode, u64), Errno> {
        let (index, offset) = ((slot >> CNODE_LEAF_BITS) as usize, slot & ((1 << CNODE_LEAF_BITS) - 1));
        let entry = self.leaves.get_mut(index).ok_or(Errno::InvalidArgument)?;
        if let Some(leaf) = entry {
            return Ok((*leaf, offset));
        }
        let leaf =
            CNode(mem.object(arena, object::CAP_TABLE, CNODE_LEAF_BITS as u64, CNODE_LEAF_BITS as u32 + bits::SLOT)?);
        // The root's copy is what the process's lookups go through; it is
        // derived from the leaf, so revoking the arena deletes it too.
        self.root
            .copy(index as u64, ROOT_BITS, ROOT_CNODE, leaf.0, ROOT_DEPTH, CapRights::ALL)
            .map_err(|_| Errno::NoMemory)?;
        *entry = Some(leaf);
        Ok((leaf, offset))
    }
}

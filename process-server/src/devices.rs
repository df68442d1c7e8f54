//! Device resources the system description grants: frames of device
//! memory at chosen physical addresses, and interrupt vectors.
//!
//! Device memory lies in the kernel's device untypeds. Retype always takes
//! memory from an untyped's start, so reaching an address inside one means
//! splitting it in halves down to a single page; the halves not taken stay
//! in the free list for later grants.

use crate::mem::{AllocError, Memory, ROOT_CNODE, ROOT_DEPTH};
use alloc::vec::Vec;
use libux::sel4::consts::{bits, irq, object};
use libux::sel4::{BootInfo, Untyped};

/// A free piece of device untyped memory.
#[derive(Clone, Copy, Debug)]
struct Piece {
    paddr: u64,
    size_bits: u8,
    slot: u64,
}

pub struct Devices {
    free: Vec<Piece>,
    next_vector: u64,
}

/// A page of device memory handed out: its frame, and the one-page
/// untyped it came from (revoke that to take the frame back).
#[derive(Clone, Copy, Debug)]
pub struct DevicePage {
    pub frame: u64,
    pub untyped: u64,
}

impl Devices {
    pub fn new(bi: &BootInfo) -> Self {
        let free = bi
            .untypeds()
            .enumerate()
            .filter(|(_, d)| d.is_device)
            .map(|(i, d)| Piece { paddr: d.paddr, size_bits: d.size_bits, slot: bi.untyped().start + i as u64 })
            .collect();
        Devices { free, next_vector: irq::VECTOR_MIN }
    }

    /// A frame for the device page at `paddr`. On failure the free pieces
    /// are as before (or split further, which loses nothing).
    pub fn page(&mut self, mem: &mut Memory, paddr: u64) -> Result<DevicePage, AllocError> {
        let page_bits = bits::PAGE as u8;
        loop {
            let i = self
                .free
                .iter()
                .position(|p| p.paddr <= paddr && paddr < p.paddr + (1 << p.size_bits))
                .ok_or(AllocError::OutOfMemory)?;
            let piece = self.free[i];
            if piece.size_bits == page_bits {
                let frame = mem.slot()?;
                if let Err(e) = Untyped(piece.slot).retype(object::X86_4K, 0, ROOT_CNODE, 0, 0, frame, 1) {
                    mem.free_slot(frame);
                    return Err(e.into());
                }
                self.free.swap_remove(i);
                return Ok(DevicePage { frame, untyped: piece.slot });
            }
            // Split in halves, in address order (retype takes from the start).
            let half = piece.size_bits - 1;
            let lo = mem.slot()?;
            let hi = match mem.slot() {
                Ok(s) => s,
                Err(e) => {
                    mem.free_slot(lo);
                    return Err(e);
                }
            };
            let split = Untyped(piece.slot)
                .retype(object::UNTYPED, half as u64, ROOT_CNODE, 0, 0, lo, 1)
                .and_then(|()| Untyped(piece.slot).retype(object::UNTYPED, half as u64, ROOT_CNODE, 0, 0, hi, 1));
            if let Err(e) = split {
                // Undo a half-done split: the piece stays whole.
                let _ = ROOT_CNODE.revoke(piece.slot, ROOT_DEPTH);
                mem.free_slot(lo);
                mem.free_slot(hi);
                return Err(e.into());
            }
            self.free.swap_remove(i);
            self.free.push(Piece { paddr: piece.paddr, size_bits: half, slot: lo });
            self.free.push(Piece { paddr: piece.paddr + (1 << half), size_bits: half, slot: hi });
        }
    }

    /// Takes a page handed out by [`Devices::page`] back.
    pub fn release(&mut self, mem: &mut Memory, page: DevicePage, paddr: u64) {
        // Destroys the frame and its mappings; the untyped stays ours.
        let _ = ROOT_CNODE.revoke(page.untyped, ROOT_DEPTH);
        mem.free_slot(page.frame);
        self.free.push(Piece { paddr, size_bits: bits::PAGE as u8, slot: page.untyped });
    }

    /// A fresh interrupt vector offset.
    pub fn vector(&mut self) -> Option<u64> {
        (self.next_vector <= irq::VECTOR_MAX).then(|| {
            self.next_vector += 1;
            self.next_vector - 1
        })
    }
}

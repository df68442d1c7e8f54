//! The process server's heap past the first MiB in its image: a window
//! of pages mapped as the heap grows into it (`libux::rt::set_root_growth`).
//!
//! Not all of it in the image: the kernel's boot zeroes the root task's
//! image twice and moves it byte by byte, and under emulation an 8 MiB
//! heap there cost about 7 of a boot's 45 ticks of host CPU, for memory
//! a node mostly never touches. The growth runs inside an allocation, so
//! it may not allocate: the untyped chunks and root slots it makes frames
//! in are set aside at boot, and the window's page tables made then.

use crate::kernel::Kernel;
use crate::mem::{CHUNK_BITS, PAGE, ROOT_CNODE};
use alloc::vec::Vec;
use core::ops::Range;
use libux::rpc::Errno;
use libux::sel4::consts::{bits, init_cap, object};
use libux::sel4::{CapRights, Page, Untyped, VSpace, VmAttributes};
use libux::sync::Mutex;

/// Where the window is in our address space.
const WINDOW: u64 = 0x200_0000_0000;
/// How far the heap may grow past its first MiB: 8 MiB in all, as
/// before it left the image.
pub const GROWTH: u64 = 7 * 1024 * 1024;
const PAGES_PER_CHUNK: u64 = 1 << (CHUNK_BITS - bits::PAGE);

/// What the growth makes frames from.
struct Pool {
    /// Chunks not yet used, taken from the end.
    chunks: Vec<u64>,
    /// The chunk frames are made in now, and how many it has given.
    current: Option<(u64, u64)>,
    slots: Range<u64>,
}

impl Pool {
    /// A fresh frame (zeroed by the kernel), in the next slot.
    fn frame(&mut self) -> Option<Page> {
        let (chunk, used) = match self.current {
            Some((c, used)) if used < PAGES_PER_CHUNK => (c, used),
            _ => (self.chunks.pop()?, 0),
        };
        let slot = self.slots.next()?;
        Untyped(chunk).retype(object::X86_4K, 0, ROOT_CNODE, 0, 0, slot, 1).ok()?;
        self.current = Some((chunk, used + 1));
        Some(Page(slot))
    }
}

static POOL: Mutex<Option<Pool>> = Mutex::new(None);

/// Sets the window's memory, slots and page tables aside, and lets the
/// heap grow into it.
pub fn reserve(kernel: &mut Kernel) -> Result<(), Errno> {
    kernel.make_own_tables(WINDOW, GROWTH)?;
    let chunks = kernel.mem.reserve_chunks(GROWTH >> CHUNK_BITS)?;
    let slots = kernel.mem.reserve_slots(GROWTH / PAGE)?;
    *POOL.lock() = Some(Pool { chunks, current: None, slots });
    libux::rt::set_root_growth(WINDOW, WINDOW + GROWTH, grow);
    Ok(())
}

/// Maps `bytes` of fresh pages at `at`, allocating nothing.
fn grow(at: u64, bytes: u64) -> bool {
    let mut pool = POOL.lock();
    let Some(pool) = pool.as_mut() else { return false };
    (at..at + bytes).step_by(PAGE as usize).all(|page| {
        pool.frame().is_some_and(|f| {
            f.map(VSpace(init_cap::VSPACE), page, CapRights::READ_WRITE, VmAttributes::WriteBack).is_ok()
        })
    })
}

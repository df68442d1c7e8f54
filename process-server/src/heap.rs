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
use crate::mem::{CHUNK_BITS, CHUNK_PAGES, PAGE, ROOT_CNODE};
use alloc::vec::Vec;
use core::ops::Range;
use libux::rpc::Errno;
use libux::sel4::consts::{init_cap, object};
use libux::sel4::{CapRights, Page, Untyped, VSpace, VmAttributes};
use libux::sync::Mutex;

const WINDOW: u64 = crate::space::HEAP;
/// How far the heap may grow past its first MiB: 8 MiB in all, as
/// before it left the image.
pub const GROWTH: u64 = 7 * 1024 * 1024;

/// What the growth makes frames from.
struct Pool {
    /// Chunks not yet used, taken from the end.
    chunks: Vec<u64>,
    /// The chunk frames are made in now, and how many it has given.
    current: Option<(u64, u64)>,
    /// Slots not yet used, from the start.
    slots: Range<u64>,
}

impl Pool {
    /// A fresh frame (zeroed by the kernel), in the next slot; nothing is
    /// used up if it cannot be made.
    fn frame(&mut self) -> Option<Page> {
        let slot = self.slots.start;
        if self.slots.is_empty() {
            return None;
        }
        let (chunk, used) = match self.current {
            Some((c, used)) if used < CHUNK_PAGES => (c, used),
            _ => (*self.chunks.last()?, 0),
        };
        Untyped(chunk).retype(object::X86_4K, 0, ROOT_CNODE, 0, 0, slot, 1).ok()?;
        if used == 0 {
            self.chunks.pop();
        }
        self.current = Some((chunk, used + 1));
        self.slots.start += 1;
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

/// Maps up to `bytes` of fresh pages at `at`, allocating nothing; how
/// many it mapped (all but at the window's end, when the pool is empty).
fn grow(at: u64, bytes: u64) -> u64 {
    let mut pool = POOL.lock();
    let Some(pool) = pool.as_mut() else { return 0 };
    let mut mapped = 0;
    while mapped < bytes {
        let Some(frame) = pool.frame() else { break };
        let attr = VmAttributes::WriteBack;
        if frame.map(VSpace(init_cap::VSPACE), at + mapped, CapRights::READ_WRITE, attr).is_err() {
            break;
        }
        mapped += PAGE;
    }
    mapped
}

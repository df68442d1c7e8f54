//! The kernel-object layer: our untyped memory and root CNode (`mem`),
//! our own address space with the windows we map frames into, and the
//! ASID pools. It knows no processes: callers name the frames, slots and
//! arenas, and keep track of whose they are.

use crate::mem::{Arena, Memory, PAGE, ROOT_CNODE, ROOT_DEPTH};
use crate::space::SCRATCH;
use crate::vspace::AddressSpace;
use alloc::vec::Vec;
use libux::layout::CNODE_BITS;
use libux::rpc::Errno;
use libux::sel4::consts::{bits, init_cap, object};
use libux::sel4::{AsidControl, AsidPool, CNode, CapRights, Endpoint, Page, Untyped, VSpace, VmAttributes};

/// x86_64 seL4 has 2^3 ASID pools of 2^9 address spaces.
const MAX_ASID_POOLS: usize = 8;

const ZERO_PAGE: [u8; PAGE as usize] = [0; PAGE as usize];

pub struct Kernel {
    pub mem: Memory,
    /// Each gives 512 address spaces: all the kernel allows, made at
    /// boot.
    asid_pools: Vec<AsidPool>,
    /// Our own address space and the arena its tables come from.
    own: AddressSpace,
    own_arena: Arena,
}

impl Kernel {
    pub fn new(mem: Memory) -> Result<Kernel, Errno> {
        let mut k = Kernel {
            mem,
            asid_pools: alloc::vec![AsidPool(init_cap::ASID_POOL)],
            own: AddressSpace::new(VSpace(init_cap::VSPACE)),
            own_arena: Arena::default(),
        };
        // All of them now (28 KiB): made as a burst of processes first
        // needed them, each cost root slots for good at a moment that
        // depended on how many of the burst had ended, so that two like
        // bursts could leave different resources behind.
        while k.asid_pools.len() < MAX_ASID_POOLS {
            let untyped = k.mem.object(&mut k.own_arena, object::UNTYPED, bits::ASID_POOL as u64, bits::ASID_POOL)?;
            let slot = k.mem.slot()?;
            AsidControl(init_cap::ASID_CONTROL)
                .make_pool(Untyped(untyped), ROOT_CNODE, slot, ROOT_DEPTH)
                .map_err(|_| Errno::NoMemory)?;
            k.asid_pools.push(AsidPool(slot));
        }
        Ok(k)
    }

    /// An endpoint of our own, for good.
    pub fn endpoint(&mut self) -> Result<Endpoint, Errno> {
        self.own_object(object::ENDPOINT, bits::ENDPOINT).map(Endpoint)
    }

    /// An object of ours, for good (its root slot).
    pub fn own_object(&mut self, object_type: u64, mem_bits: u32) -> Result<u64, Errno> {
        Ok(self.mem.object(&mut self.own_arena, object_type, 0, mem_bits)?)
    }

    /// `pages` frames of ours (at most a chunk's worth), physically
    /// contiguous, for good; their root slots in order.
    pub fn own_contiguous_frames(&mut self, pages: u32) -> Result<Vec<u64>, Errno> {
        Ok(self.mem.contiguous_frames(&mut self.own_arena, pages)?)
    }

    /// Gives `vspace` an address space identifier.
    pub fn assign_asid(&mut self, vspace: VSpace) -> Result<(), Errno> {
        self.asid_pools.iter().find_map(|pool| pool.assign(vspace).ok()).ok_or(Errno::NoMemory)
    }

    /// Runs `look` on `frame` (a copy of ours) mapped at the scratch
    /// address with `rights` and `attr` for that long. What `look` did
    /// holds whatever the unmapping does (revoking the frame removes a
    /// mapping left anyway).
    fn with_scratch<R>(
        &mut self,
        frame: Page,
        rights: CapRights,
        attr: VmAttributes,
        look: impl FnOnce(*mut u8) -> R,
    ) -> Result<R, Errno> {
        self.own.map_with(&mut self.mem, &mut self.own_arena, frame, SCRATCH, rights, attr)?;
        let r = look(SCRATCH as *mut u8);
        if frame.unmap().is_err() {
            libux::println!("ux: a frame stayed mapped at {SCRATCH:#x}");
        }
        Ok(r)
    }

    /// Copies `src` into `frame` at `offset` through a temporary mapping
    /// in our own address space; the rest of the frame is left as it was
    /// (zero, when fresh).
    pub fn fill(&mut self, frame: Page, offset: usize, src: &[u8]) -> Result<(), Errno> {
        self.with_scratch(frame, CapRights::READ_WRITE, VmAttributes::WriteBack, |at| {
            crate::work::filled();
            // SAFETY: the frame is mapped read-write at `at` for exactly
            // this copy, and `offset + src.len()` is within one page.
            unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), at.add(offset), src.len()) }
        })
    }

    /// Runs `look` on the device page `frame` (a copy of ours), mapped
    /// uncached through the scratch mapping for that long.
    pub fn with_device<R>(&mut self, frame: Page, look: impl FnOnce(*mut u8) -> R) -> Result<R, Errno> {
        self.with_scratch(frame, CapRights::READ_WRITE, VmAttributes::CacheDisabled, look)
    }

    /// Empties `frame` (one that held someone else's data).
    pub fn zero(&mut self, frame: Page) -> Result<(), Errno> {
        self.fill(frame, 0, &ZERO_PAGE)
    }

    /// Makes now the page tables our own mappings in `[from, from + len)`
    /// need (those made at first use are ours for good, so a region
    /// used up to a high-water mark that depends on timing would leave
    /// different resources behind after two like bursts).
    pub fn make_own_tables(&mut self, from: u64, len: u64) -> Result<(), Errno> {
        Ok(self.own.make_tables(&mut self.mem, &mut self.own_arena, from, len)?)
    }

    /// Maps `frame` (a copy of ours: a frame capability maps once) at `at`
    /// in our own address space, for good or until unmapped.
    pub fn map_own(&mut self, frame: Page, at: u64, rights: CapRights) -> Result<(), Errno> {
        Ok(self.own.map(&mut self.mem, &mut self.own_arena, frame, at, rights)?)
    }

    /// A copy of the capability in slot `slot` of `cnode` (a process's
    /// CSpace, `layout::CNODE_BITS` deep), in a new root slot.
    pub fn copy_in(&mut self, cnode: CNode, slot: u64) -> Result<u64, Errno> {
        if slot >= 1 << CNODE_BITS {
            return Err(Errno::InvalidArgument);
        }
        let dest = self.mem.slot()?;
        if ROOT_CNODE.copy(dest, ROOT_DEPTH, cnode, slot, CNODE_BITS, CapRights::ALL).is_err() {
            self.mem.free_slot(dest);
            return Err(Errno::InvalidArgument);
        }
        Ok(dest)
    }

    /// A copy of the capability in root slot `src`, in a new root slot,
    /// with `rights`.
    pub fn copy_root(&mut self, src: u64, rights: CapRights) -> Result<u64, Errno> {
        let dest = self.mem.slot()?;
        if ROOT_CNODE.copy(dest, ROOT_DEPTH, ROOT_CNODE, src, ROOT_DEPTH, rights).is_err() {
            self.mem.free_slot(dest);
            return Err(Errno::NoMemory);
        }
        Ok(dest)
    }

    /// Deletes root slot `slot`'s capability and frees the slot.
    pub fn delete_root(&mut self, slot: u64) {
        let _ = ROOT_CNODE.delete(slot, ROOT_DEPTH);
        self.mem.free_slot(slot);
    }
}

//! `seL4_BootInfo`: what the kernel tells the root task about the machine.
//!
//! The C structure is packed, so it is read field by field from its bytes
//! rather than cast; a host test checks the offsets below against the C
//! header with `offsetof`.

use super::consts::{bits, config};
use crate::le::u64_at;

/// Byte offsets of `seL4_BootInfo` fields.
pub mod offset {
    pub const NODE_ID: usize = 8;
    pub const NUM_NODES: usize = 16;
    pub const IPC_BUFFER: usize = 32;
    pub const EMPTY: usize = 40;
    pub const USER_IMAGE_FRAMES: usize = 72;
    pub const USER_IMAGE_PAGING: usize = 88;
    pub const EXTRA_BI_PAGES: usize = 120;
    pub const INIT_THREAD_CNODE_SIZE_BITS: usize = 136;
    pub const ARCH_INFO: usize = 145;
    pub const UNTYPED: usize = 153;
    pub const UNTYPED_LIST: usize = 169;
    /// `sizeof(seL4_UntypedDesc)`.
    pub const UNTYPED_DESC_SIZE: usize = 12;
}

/// Size of the structure, with the configured untyped list length.
pub const SIZE: usize = offset::UNTYPED_LIST + config::MAX_BOOTINFO_UNTYPED_CAPS * offset::UNTYPED_DESC_SIZE;

/// A range of CNode slots, `start..end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotRegion {
    pub start: u64,
    pub end: u64,
}

impl SlotRegion {
    pub fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One untyped capability's description.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UntypedDesc {
    pub paddr: u64,
    pub size_bits: u8,
    pub is_device: bool,
}

impl UntypedDesc {
    pub fn size(&self) -> u64 {
        1u64.checked_shl(self.size_bits as u32).unwrap_or(0)
    }
}

/// Why boot information could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootInfoError {
    /// Fewer bytes than the structure needs.
    Truncated { len: usize, need: usize },
    /// More untyped capabilities than the untyped list can describe.
    TooManyUntypeds(u64),
    /// An untyped whose size is outside the kernel's limits.
    BadUntypedSize { index: usize, size_bits: u8 },
}

/// A validated view of the boot information bytes.
#[derive(Clone, Copy, Debug)]
pub struct BootInfo<'a> {
    bytes: &'a [u8],
}

impl<'a> BootInfo<'a> {
    /// Checks lengths and the untyped list, so that the accessors below
    /// cannot fail.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, BootInfoError> {
        if bytes.len() < SIZE {
            return Err(BootInfoError::Truncated { len: bytes.len(), need: SIZE });
        }
        let bi = BootInfo { bytes };
        let n = bi.untyped().len();
        if n > config::MAX_BOOTINFO_UNTYPED_CAPS as u64 {
            return Err(BootInfoError::TooManyUntypeds(n));
        }
        for (index, u) in bi.untypeds().enumerate() {
            if !(bits::MIN_UNTYPED..=bits::MAX_UNTYPED).contains(&(u.size_bits as u32)) {
                return Err(BootInfoError::BadUntypedSize { index, size_bits: u.size_bits });
            }
        }
        Ok(bi)
    }

    fn region(&self, at: usize) -> SlotRegion {
        SlotRegion { start: u64_at(self.bytes, at), end: u64_at(self.bytes, at + 8) }
    }

    pub fn node_id(&self) -> u64 {
        u64_at(self.bytes, offset::NODE_ID)
    }
    pub fn num_nodes(&self) -> u64 {
        u64_at(self.bytes, offset::NUM_NODES)
    }
    /// Virtual address of the root task's IPC buffer.
    pub fn ipc_buffer(&self) -> u64 {
        u64_at(self.bytes, offset::IPC_BUFFER)
    }
    /// Free slots in the root CNode.
    pub fn empty(&self) -> SlotRegion {
        self.region(offset::EMPTY)
    }
    /// Paging-structure capabilities of the root task's own image.
    pub fn user_image_paging(&self) -> SlotRegion {
        self.region(offset::USER_IMAGE_PAGING)
    }
    pub fn extra_bi_pages(&self) -> SlotRegion {
        self.region(offset::EXTRA_BI_PAGES)
    }
    pub fn init_cnode_size_bits(&self) -> u8 {
        self.bytes[offset::INIT_THREAD_CNODE_SIZE_BITS]
    }
    /// On x86: the TSC frequency the kernel measured, in MHz.
    pub fn tsc_mhz(&self) -> u64 {
        u64_at(self.bytes, offset::ARCH_INFO)
    }
    /// Slots holding the untyped capabilities, in untyped-list order.
    pub fn untyped(&self) -> SlotRegion {
        self.region(offset::UNTYPED)
    }
    /// Descriptions of the untyped capabilities, one per slot of
    /// [`BootInfo::untyped`].
    pub fn untypeds(&self) -> impl Iterator<Item = UntypedDesc> + 'a {
        let bytes = self.bytes;
        let n = self.untyped().len().min(config::MAX_BOOTINFO_UNTYPED_CAPS as u64) as usize;
        (0..n).map(move |i| {
            let at = offset::UNTYPED_LIST + i * offset::UNTYPED_DESC_SIZE;
            UntypedDesc { paddr: u64_at(bytes, at), size_bits: bytes[at + 10], is_device: bytes[at + 11] != 0 }
        })
    }
    /// Total bytes of ordinary (non-device) untyped memory.
    pub fn ram_bytes(&self) -> u64 {
        self.untypeds().filter(|u| !u.is_device).map(|u| u.size()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(b: &mut [u8], at: usize, v: u64) {
        b[at..at + 8].copy_from_slice(&v.to_le_bytes());
    }

    fn sample(untypeds: &[(u64, u8, bool)]) -> [u8; 4096] {
        let mut b = [0u8; 4096];
        put(&mut b, offset::NUM_NODES, 1);
        put(&mut b, offset::IPC_BUFFER, 0x7000_0000);
        put(&mut b, offset::EMPTY, 0x1a3);
        put(&mut b, offset::EMPTY + 8, 0x10000);
        b[offset::INIT_THREAD_CNODE_SIZE_BITS] = 16;
        put(&mut b, offset::ARCH_INFO, 2400);
        put(&mut b, offset::UNTYPED, 0x20);
        put(&mut b, offset::UNTYPED + 8, 0x20 + untypeds.len() as u64);
        for (i, (paddr, size_bits, dev)) in untypeds.iter().enumerate() {
            let at = offset::UNTYPED_LIST + i * offset::UNTYPED_DESC_SIZE;
            put(&mut b, at, *paddr);
            b[at + 10] = *size_bits;
            b[at + 11] = *dev as u8;
        }
        b
    }

    #[test]
    fn reads_fields_and_untypeds() {
        let b = sample(&[(0x10_0000, 20, false), (0xfec0_0000, 12, true), (0x20_0000, 21, false)]);
        let bi = BootInfo::parse(&b).unwrap();
        assert_eq!(bi.num_nodes(), 1);
        assert_eq!(bi.ipc_buffer(), 0x7000_0000);
        assert_eq!(bi.empty(), SlotRegion { start: 0x1a3, end: 0x10000 });
        assert_eq!(bi.init_cnode_size_bits(), 16);
        assert_eq!(bi.tsc_mhz(), 2400);
        assert_eq!(bi.untyped().len(), 3);
        let u: [UntypedDesc; 3] = core::array::from_fn(|i| bi.untypeds().nth(i).unwrap());
        assert_eq!(u[1], UntypedDesc { paddr: 0xfec0_0000, size_bits: 12, is_device: true });
        assert_eq!(bi.ram_bytes(), (1 << 20) + (1 << 21));
    }

    #[test]
    fn rejects_truncated_and_inconsistent_info() {
        let b = sample(&[(0, 20, false)]);
        assert_eq!(BootInfo::parse(&b[..100]).unwrap_err(), BootInfoError::Truncated { len: 100, need: SIZE });
        let mut many = b;
        put(&mut many, offset::UNTYPED + 8, 0x20 + 231);
        assert_eq!(BootInfo::parse(&many).unwrap_err(), BootInfoError::TooManyUntypeds(231));
        let bad = sample(&[(0, 20, false), (0, 63, false)]);
        assert_eq!(BootInfo::parse(&bad).unwrap_err(), BootInfoError::BadUntypedSize { index: 1, size_bits: 63 });
    }
}

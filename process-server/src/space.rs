//! Where the process server maps things in its own address space, in one
//! table so that no two meet: each region has a PML4 slot (512 GiB) of
//! its own, above its image and the kernel's boot frames.

/// One frame at a time, looked at and unmapped (`kernel.rs`).
pub const SCRATCH: u64 = 0x80_0000_0000;
/// The processes' shared buffers (`buffers.rs`).
pub const BUFFERS: u64 = 0x100_0000_0000;
/// The DMA descriptor's page, then the boot file system (`bootfs.rs`).
pub const BOOTFS: u64 = 0x180_0000_0000;
/// A process's image, looked at during an `Exec` (`exec.rs`).
pub const VIEW: u64 = 0x200_0000_0000;
/// The heap's growth window (`heap.rs`).
pub const HEAP: u64 = 0x280_0000_0000;

const SLOT: u64 = 1 << 39;
const ALL: [u64; 5] = [SCRATCH, BUFFERS, BOOTFS, VIEW, HEAP];

// Each its own slot, in the lower half.
const _: () = {
    let mut i = 0;
    while i < ALL.len() {
        assert!(ALL[i].is_multiple_of(SLOT) && ALL[i] < 1 << 47);
        let mut j = i + 1;
        while j < ALL.len() {
            assert!(ALL[i] != ALL[j]);
            j += 1;
        }
        i += 1;
    }
};

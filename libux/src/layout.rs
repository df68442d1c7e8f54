//! The start-up contract between the process server and the programs it
//! starts: where things are in a new process's CSpace and address space,
//! and what its first registers hold.
//!
//! A new process starts at its ELF entry with `rdi` = the address of its
//! IPC buffer and `rsi` = one argument word; its runtime sets up the
//! stack (see `rt`). The root task instead gets the boot information
//! address in `rdi` from the kernel.

/// A process's CNode has 2^CNODE_BITS slots, resolved with a guard of
/// zeros so that a slot number is its capability pointer.
pub const CNODE_BITS: u8 = 12;

/// Well-known slots in every process's CSpace.
pub mod slot {
    /// The process server connection: an endpoint badged with the
    /// process's identity, or an intermediary's endpoint.
    pub const PROC_CONN: u64 = 1;
    /// I/O port capability for the serial console's eight ports.
    pub const CONSOLE: u64 = 2;
    /// Where the kernel sends the process's faults (badged endpoint).
    pub const FAULT_EP: u64 = 3;
}

/// Where every program is linked (see `libux/ux.ld`).
pub const IMAGE_BASE: u64 = 0x40_0000;
/// The probe word at the very start of every image (`rt::PROBE`): two
/// processes reading "the same address" here see their own values only if
/// their address spaces are separate.
pub const PROBE: u64 = IMAGE_BASE;
/// A process's IPC buffer page.
pub const IPC_BUFFER: u64 = 0x10_0000_0000;

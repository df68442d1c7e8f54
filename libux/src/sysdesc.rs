//! The system description: which programs the process server starts at
//! boot, with what priority, arguments and device grants. Its text form
//! is `kernel-config/system.desc` (parsed and validated on the host by
//! `kernel_config::system`); the image carries it postcard-encoded as the
//! boot file system entry [`BOOTFS_NAME`].

use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// The name of the encoded description in the boot file system.
pub const BOOTFS_NAME: &str = "system";
/// Grants of each kind one program may have (see `layout::slot`).
pub const MAX_GRANTS: usize = 3;
/// PCI devices one program may have.
pub const MAX_PCI: usize = 2;

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct System<'a> {
    #[serde(borrow)]
    pub programs: Vec<Program<'a>>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Program<'a> {
    /// A program of the boot image.
    pub name: &'a str,
    pub priority: u8,
    /// argv; `argv[0]` is the name.
    #[serde(borrow)]
    pub argv: Vec<&'a str>,
    /// Inclusive I/O port ranges, in grant slot order.
    pub io_ports: Vec<(u16, u16)>,
    /// Interrupts, in grant slot order.
    pub irqs: Vec<Irq>,
    /// Device memory, mapped in order from `layout::DEVICE_BASE`.
    pub memory: Vec<DeviceMemory>,
    /// PCI devices (the same id twice: the first and the second such
    /// device): the process server finds them at boot, adds their I/O
    /// ports and interrupts to the grants, and lets the program map memory
    /// for DMA (`Request::MapDma`).
    pub pci: Vec<PciId>,
    /// The node is ready only once this program has ended.
    pub before_ready: bool,
    /// Started at boot; otherwise only on request (fw_cfg `opt/ux/run`),
    /// with these grants.
    pub at_boot: bool,
    /// A server that runs for good: the node is ready once it has mounted
    /// what it serves, and the process server does not wait for it to end.
    pub daemon: bool,
    /// Gets the node's cluster configuration and secret in its
    /// environment (`UX_CLUSTER`, `UX_SECRET`; see `cluster`): the
    /// cluster server, and nothing else.
    pub cluster: bool,
    /// Gets unpredictable bytes of its own in its environment (`UX_SEED`,
    /// hex): [`program_seed`] of the boot's seed (fw_cfg `opt/ux/seed`,
    /// which the host writes for every boot).
    pub seed: bool,
}

/// The seed a program with `seed` gets: HMAC-SHA-256 of the boot's seed
/// over its name, so that no program learns another's (or the boot's)
/// from its own.
pub fn program_seed(boot_seed: &[u8], name: &str) -> [u8; 32] {
    use hmac::Mac;
    crate::cluster::hmac(boot_seed, &[b"ux-program-seed", name.as_bytes()]).finalize().into_bytes().into()
}

/// An interrupt through the (first) IOAPIC.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Irq {
    pub pin: u8,
    pub level_triggered: bool,
    pub active_low: bool,
}

/// A PCI device by vendor and device id.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct PciId {
    pub vendor: u16,
    pub device: u16,
}

/// A page-aligned range of device memory.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceMemory {
    pub paddr: u64,
    pub size: u64,
}

impl<'a> System<'a> {
    pub fn decode(bytes: &'a [u8]) -> Result<Self, postcard::Error> {
        postcard::from_bytes(bytes)
    }

    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).expect("encoding to a vector does not fail")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_program_and_each_boot_has_a_seed_of_its_own() {
        let a = program_seed(b"boot one", "netstack");
        assert_eq!(a, program_seed(b"boot one", "netstack"));
        assert_ne!(a, program_seed(b"boot one", "cluster"));
        assert_ne!(a, program_seed(b"boot two", "netstack"));
    }
}

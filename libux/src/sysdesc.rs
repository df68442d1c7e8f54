//! The system description: which programs the process server starts at
//! boot, with what priority, arguments and device grants. Its text form
//! is `kernel-config/system.desc` (parsed and validated on the host by
//! `kernel_config::system`); the image carries it postcard-encoded as the
//! boot file system entry [`BOOTFS_NAME`].

use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// The name of the encoded description in the boot file system.
pub const BOOTFS_NAME: &str = "system";
/// I/O port ranges one program may be granted (slots `slot::FIRST_GRANT..`).
pub const MAX_IO_GRANTS: usize = 3;

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
    /// The node is ready only once this program has ended.
    pub before_ready: bool,
}

impl<'a> System<'a> {
    pub fn decode(bytes: &'a [u8]) -> Result<Self, postcard::Error> {
        postcard::from_bytes(bytes)
    }

    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).expect("encoding to a vector does not fail")
    }
}

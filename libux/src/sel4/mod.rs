//! seL4 5.0.0 bindings for x86_64: system calls, message and capability
//! types, the IPC buffer, typed capability pointers with the invocations
//! this system uses, and the boot information the kernel hands the root
//! task.
//!
//! Numbers come from [`consts`], which a host test checks against the
//! kernel's own interface files. Message layouts follow the stubs that
//! libsel4's `syscall_stub_gen.py` generates for x86_64.

pub mod bootinfo;
pub mod cap;
pub mod consts;
mod error;
mod ipc_buffer;
#[cfg(target_arch = "x86_64")]
pub mod syscall;
mod types;

pub use bootinfo::{BootInfo, SlotRegion, UntypedDesc};
pub use cap::*;
pub use error::Error;
pub use ipc_buffer::IpcBuffer;
pub use types::{badge, cnode_guard, prio_props, CapRights, MessageInfo, UserContext, VmAttributes, BADGE_MASK};

/// A capability pointer: an address in the caller's CSpace.
pub type CPtr = u64;
/// A machine word.
pub type Word = u64;

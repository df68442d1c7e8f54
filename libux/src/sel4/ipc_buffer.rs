use super::consts::msg;

/// `seL4_IPCBuffer`: the per-thread page where message registers past the
/// fourth, capability transfer slots and badges of received capabilities
/// live. The kernel requires it 512-byte aligned; this system gives every
/// thread a whole page.
#[repr(C)]
pub struct IpcBuffer {
    pub tag: u64,
    pub msg: [u64; msg::MAX_LENGTH],
    pub user_data: u64,
    pub caps_or_badges: [u64; msg::MAX_EXTRA_CAPS],
    pub receive_cnode: u64,
    pub receive_index: u64,
    pub receive_depth: u64,
}

const _: () = assert!(core::mem::size_of::<IpcBuffer>() == 1024);

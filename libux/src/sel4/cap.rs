//! Typed capability pointers and the invocations this system uses.
//!
//! Each type wraps a [`CPtr`] to one kind of kernel object; its methods
//! marshal arguments exactly as libsel4's generated x86_64 stubs do (first
//! four words in registers, the rest in the IPC buffer, capabilities in
//! the buffer's cap slots).

use super::consts::label;
use super::{CPtr, CapRights, Error, MessageInfo, UserContext, VmAttributes};

#[cfg(target_arch = "x86_64")]
use super::syscall::{call, ipc_buffer, Msg};

macro_rules! cap_types {
    ($($(#[$m:meta])* $name:ident,)*) => {$(
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $name(pub CPtr);

        impl $name {
            pub const fn cptr(self) -> CPtr {
                self.0
            }
        }
    )*};
}

cap_types! {
    /// Untyped memory, from which every other object is made.
    Untyped,
    /// A CNode: a table of capability slots.
    CNode,
    /// A thread control block.
    Tcb,
    /// An IPC endpoint.
    Endpoint,
    /// A notification object.
    Notification,
    /// The root of an x86_64 address space (PML4).
    VSpace,
    /// Page directory pointer table (level 3).
    Pdpt,
    /// Page directory (level 2).
    PageDirectory,
    /// Page table (level 1).
    PageTable,
    /// A 4 KiB frame.
    Page,
    /// An ASID pool.
    AsidPool,
    /// The authority to make ASID pools.
    AsidControl,
    /// A range of x86 I/O ports.
    IoPort,
    /// The authority to make interrupt handlers.
    IrqControl,
    /// One interrupt: acknowledge it, choose the notification it signals.
    IrqHandler,
}

/// Sends one kernel invocation and waits for its reply.
#[cfg(target_arch = "x86_64")]
fn invoke(service: CPtr, label: u64, words: &[u64], caps: &[CPtr]) -> Result<Msg, Error> {
    let buf = ipc_buffer();
    buf.caps_or_badges[..caps.len()].copy_from_slice(caps);
    for (i, w) in words.iter().enumerate().skip(4) {
        buf.msg[i] = *w;
    }
    let mut msg = Msg::new(label, words);
    msg.info = MessageInfo::new(label, 0, caps.len() as u64, words.len() as u64);
    let reply = call(service, msg);
    Error::check(reply.info.label()).map(|()| reply)
}

#[cfg(target_arch = "x86_64")]
impl Untyped {
    /// Creates `count` objects of `object_type` (size `size_bits` where the
    /// type is variable-sized) in consecutive slots from `offset` of the
    /// CNode at `index`/`depth` in `root` (depth 0: `root` itself).
    #[allow(clippy::too_many_arguments)]
    pub fn retype(
        self,
        object_type: u64,
        size_bits: u64,
        root: CNode,
        index: u64,
        depth: u64,
        offset: u64,
        count: u64,
    ) -> Result<(), Error> {
        invoke(self.0, label::UNTYPED_RETYPE, &[object_type, size_bits, index, depth, offset, count], &[root.0])
            .map(drop)
    }
}

#[cfg(target_arch = "x86_64")]
impl CNode {
    /// Copies the capability at `src`/`src_depth` in `src_root` into slot
    /// `dest`/`dest_depth` of this CNode, with `rights` masked.
    pub fn copy(
        self,
        dest: u64,
        dest_depth: u8,
        src_root: CNode,
        src: u64,
        src_depth: u8,
        rights: CapRights,
    ) -> Result<(), Error> {
        invoke(self.0, label::CNODE_COPY, &[dest, dest_depth as u64, src, src_depth as u64, rights.0], &[src_root.0])
            .map(drop)
    }

    /// Like [`CNode::copy`], also setting the badge (endpoints,
    /// notifications) or other capability data (I/O port ranges, guards).
    #[allow(clippy::too_many_arguments)]
    pub fn mint(
        self,
        dest: u64,
        dest_depth: u8,
        src_root: CNode,
        src: u64,
        src_depth: u8,
        rights: CapRights,
        data: u64,
    ) -> Result<(), Error> {
        invoke(
            self.0,
            label::CNODE_MINT,
            &[dest, dest_depth as u64, src, src_depth as u64, rights.0, data],
            &[src_root.0],
        )
        .map(drop)
    }

    /// Deletes the capability in slot `index`/`depth`.
    pub fn delete(self, index: u64, depth: u8) -> Result<(), Error> {
        invoke(self.0, label::CNODE_DELETE, &[index, depth as u64], &[]).map(drop)
    }

    /// Moves the reply capability of the call just received into slot
    /// `index`/`depth`, so that the call can be answered later (with
    /// [`super::syscall::send`] on that slot) while others are served.
    pub fn save_caller(self, index: u64, depth: u8) -> Result<(), Error> {
        invoke(self.0, label::CNODE_SAVE_CALLER, &[index, depth as u64], &[]).map(drop)
    }

    /// Deletes every capability derived from the one in `index`/`depth`.
    pub fn revoke(self, index: u64, depth: u8) -> Result<(), Error> {
        invoke(self.0, label::CNODE_REVOKE, &[index, depth as u64], &[]).map(drop)
    }
}

/// Arguments of [`Tcb::configure`].
#[derive(Clone, Copy, Debug)]
pub struct TcbConfig {
    /// Fault endpoint, as a CPtr in the thread's own CSpace.
    pub fault_ep: CPtr,
    /// Maximum controlled priority and priority (`prio_props`).
    pub priority: u64,
    pub cspace: CNode,
    /// Guard for the CSpace root (`cnode_guard`).
    pub cspace_data: u64,
    pub vspace: VSpace,
    /// Virtual address of the IPC buffer in the thread's VSpace.
    pub ipc_buffer: u64,
    pub ipc_buffer_frame: Page,
}

#[cfg(target_arch = "x86_64")]
impl Tcb {
    /// Sets the thread's fault endpoint, priority, CSpace, VSpace and IPC
    /// buffer in one invocation.
    pub fn configure(self, c: &TcbConfig) -> Result<(), Error> {
        invoke(
            self.0,
            label::TCB_CONFIGURE,
            &[c.fault_ep, c.priority, c.cspace_data, 0, c.ipc_buffer],
            &[c.cspace.0, c.vspace.0, c.ipc_buffer_frame.0],
        )
        .map(drop)
    }

    /// Sets the thread's priority (at most the caller's maximum controlled
    /// priority).
    pub fn set_priority(self, priority: u8) -> Result<(), Error> {
        invoke(self.0, label::TCB_SET_PRIORITY, &[priority as u64], &[]).map(drop)
    }

    /// Reads all registers (of a suspended thread: where it will resume).
    pub fn read_registers(self) -> Result<UserContext, Error> {
        let reply = invoke(self.0, label::TCB_READ_REGISTERS, &[0, UserContext::COUNT as u64], &[])?;
        let mut words = [0u64; UserContext::COUNT];
        words[..4].copy_from_slice(&reply.mr);
        words[4..].copy_from_slice(&ipc_buffer().msg[4..UserContext::COUNT]);
        Ok(UserContext::from_words(&words))
    }

    /// Writes all registers and, if `resume`, starts the thread.
    pub fn write_registers(self, resume: bool, regs: &UserContext) -> Result<(), Error> {
        let mut words = [0u64; 2 + UserContext::COUNT];
        words[0] = resume as u64;
        words[1] = UserContext::COUNT as u64;
        words[2..].copy_from_slice(&regs.as_words());
        invoke(self.0, label::TCB_WRITE_REGISTERS, &words, &[]).map(drop)
    }

    /// Binds `notification` to the thread: a receive on any endpoint then
    /// also returns when it is signalled (with its word as the badge).
    pub fn bind_notification(self, notification: Notification) -> Result<(), Error> {
        invoke(self.0, label::TCB_BIND_NOTIFICATION, &[], &[notification.0]).map(drop)
    }

    pub fn resume(self) -> Result<(), Error> {
        invoke(self.0, label::TCB_RESUME, &[], &[]).map(drop)
    }

    pub fn suspend(self) -> Result<(), Error> {
        invoke(self.0, label::TCB_SUSPEND, &[], &[]).map(drop)
    }
}

#[cfg(target_arch = "x86_64")]
impl AsidControl {
    /// Turns `untyped` (exactly one ASID pool's size) into a new pool, its
    /// capability in slot `index`/`depth` of `root`.
    pub fn make_pool(self, untyped: Untyped, root: CNode, index: u64, depth: u8) -> Result<(), Error> {
        invoke(self.0, label::X86_ASID_CONTROL_MAKE_POOL, &[index, depth as u64], &[untyped.0, root.0]).map(drop)
    }
}

#[cfg(target_arch = "x86_64")]
impl AsidPool {
    /// Gives `vspace` an address space identifier from this pool.
    pub fn assign(self, vspace: VSpace) -> Result<(), Error> {
        invoke(self.0, label::X86_ASID_POOL_ASSIGN, &[], &[vspace.0]).map(drop)
    }
}

#[cfg(target_arch = "x86_64")]
impl Pdpt {
    pub fn map(self, vspace: VSpace, vaddr: u64, attr: VmAttributes) -> Result<(), Error> {
        invoke(self.0, label::X86_PDPT_MAP, &[vaddr, attr as u64], &[vspace.0]).map(drop)
    }
}

#[cfg(target_arch = "x86_64")]
impl PageDirectory {
    pub fn map(self, vspace: VSpace, vaddr: u64, attr: VmAttributes) -> Result<(), Error> {
        invoke(self.0, label::X86_PAGE_DIRECTORY_MAP, &[vaddr, attr as u64], &[vspace.0]).map(drop)
    }
}

#[cfg(target_arch = "x86_64")]
impl PageTable {
    pub fn map(self, vspace: VSpace, vaddr: u64, attr: VmAttributes) -> Result<(), Error> {
        invoke(self.0, label::X86_PAGE_TABLE_MAP, &[vaddr, attr as u64], &[vspace.0]).map(drop)
    }
}

#[cfg(target_arch = "x86_64")]
impl Page {
    pub fn map(self, vspace: VSpace, vaddr: u64, rights: CapRights, attr: VmAttributes) -> Result<(), Error> {
        invoke(self.0, label::X86_PAGE_MAP, &[vaddr, rights.0, attr as u64], &[vspace.0]).map(drop)
    }

    pub fn unmap(self) -> Result<(), Error> {
        invoke(self.0, label::X86_PAGE_UNMAP, &[], &[]).map(drop)
    }

    /// The frame's physical address (for DMA).
    pub fn address(self) -> Result<u64, Error> {
        invoke(self.0, label::X86_PAGE_GET_ADDRESS, &[], &[]).map(|r| r.mr[0])
    }
}

/// Badge for an I/O port capability limited to `first..=last`.
pub const fn io_port_range(first: u16, last: u16) -> u64 {
    (first as u64) << 16 | last as u64
}

#[cfg(target_arch = "x86_64")]
impl IoPort {
    pub fn in8(self, port: u16) -> Result<u8, Error> {
        invoke(self.0, label::X86_IOPORT_IN8, &[port as u64], &[]).map(|r| r.mr[0] as u8)
    }
    pub fn in16(self, port: u16) -> Result<u16, Error> {
        invoke(self.0, label::X86_IOPORT_IN16, &[port as u64], &[]).map(|r| r.mr[0] as u16)
    }
    pub fn in32(self, port: u16) -> Result<u32, Error> {
        invoke(self.0, label::X86_IOPORT_IN32, &[port as u64], &[]).map(|r| r.mr[0] as u32)
    }
    pub fn out8(self, port: u16, value: u8) -> Result<(), Error> {
        invoke(self.0, label::X86_IOPORT_OUT8, &[port as u64, value as u64], &[]).map(drop)
    }
    pub fn out16(self, port: u16, value: u16) -> Result<(), Error> {
        invoke(self.0, label::X86_IOPORT_OUT16, &[port as u64, value as u64], &[]).map(drop)
    }
    pub fn out32(self, port: u16, value: u32) -> Result<(), Error> {
        invoke(self.0, label::X86_IOPORT_OUT32, &[port as u64, value as u64], &[]).map(drop)
    }
}

#[cfg(target_arch = "x86_64")]
impl IrqControl {
    /// Makes a handler for IOAPIC `ioapic` pin `pin` in slot `index`/`depth`
    /// of `root`, delivered at vector offset `vector`.
    #[allow(clippy::too_many_arguments)]
    pub fn get_ioapic(
        self,
        root: CNode,
        index: u64,
        depth: u8,
        ioapic: u64,
        pin: u64,
        level_triggered: bool,
        active_low: bool,
        vector: u64,
    ) -> Result<(), Error> {
        let words = [index, depth as u64, ioapic, pin, level_triggered as u64, active_low as u64, vector];
        invoke(self.0, label::X86_IRQ_ISSUE_IOAPIC, &words, &[root.0]).map(drop)
    }
}

#[cfg(target_arch = "x86_64")]
impl IrqHandler {
    /// Lets the interrupt be delivered again (the kernel masks it until then).
    pub fn ack(self) -> Result<(), Error> {
        invoke(self.0, label::IRQ_ACK, &[], &[]).map(drop)
    }

    /// Makes the interrupt signal `notification`.
    pub fn set_notification(self, notification: Notification) -> Result<(), Error> {
        invoke(self.0, label::IRQ_SET_NOTIFICATION, &[], &[notification.0]).map(drop)
    }
}

#[cfg(target_arch = "x86_64")]
impl Notification {
    /// Waits until the notification is signalled; returns the signalled
    /// badge bits.
    pub fn wait(self) -> u64 {
        super::syscall::recv(self.0).0
    }

    pub fn signal(self) {
        super::syscall::send(self.0, Msg::new(0, &[]));
    }
}

//! Numbers of the seL4 5.0.0 x86_64 interface, for the configuration in
//! `kernel-config/profiles/`.
//!
//! Every value here is written next to the C name it stands for, and the
//! host test `tests/tests/sel4_constants.rs` preprocesses the kernel's own
//! headers (generated from `syscall.xml`, `sel4.xml` and the arch
//! `sel4arch.xml` files by the kernel build, plus `objecttype.h`,
//! `errors.h`, `constants.h` and `autoconf.h`) for every profile and checks
//! each value against them. Change a profile and that test says which
//! number moved.

/// Defines constants and a table of `(C name, value)` pairs for the check.
macro_rules! checked {
    ($table:ident: $ty:ty { $( $(#[$m:meta])* $name:ident = $cname:literal $val:expr, )* }) => {
        $( $(#[$m])* pub const $name: $ty = $val; )*
        /// `(C name, value)` of each constant in this group.
        pub const $table: &[(&str, i64)] = &[ $( ($cname, $val as i64), )* ];
    };
}

/// System call numbers (`include/api/syscall.xml`), passed in `rdx`.
pub mod syscall {
    checked!(TABLE: isize {
        CALL = "SysCall" -1,
        REPLY_RECV = "SysReplyRecv" -2,
        SEND = "SysSend" -3,
        NB_SEND = "SysNBSend" -4,
        RECV = "SysRecv" -5,
        REPLY = "SysReply" -6,
        YIELD = "SysYield" -7,
        NB_RECV = "SysNBRecv" -8,
        /// Debug kernels only.
        DEBUG_PUT_CHAR = "SysDebugPutChar" -9,
        /// Debug kernels only.
        DEBUG_HALT = "SysDebugHalt" -10,
        /// Debug kernels only.
        DEBUG_NAME_THREAD = "SysDebugNameThread" -13,
    });
}

/// Invocation labels (`sel4.xml`, then x86_64 and x86 `sel4arch.xml`).
pub mod label {
    checked!(TABLE: u64 {
        UNTYPED_RETYPE = "UntypedRetype" 1,
        TCB_READ_REGISTERS = "TCBReadRegisters" 2,
        TCB_WRITE_REGISTERS = "TCBWriteRegisters" 3,
        TCB_CONFIGURE = "TCBConfigure" 5,
        TCB_SET_PRIORITY = "TCBSetPriority" 6,
        TCB_SUSPEND = "TCBSuspend" 10,
        TCB_RESUME = "TCBResume" 11,
        TCB_BIND_NOTIFICATION = "TCBBindNotification" 12,
        CNODE_REVOKE = "CNodeRevoke" 14,
        CNODE_DELETE = "CNodeDelete" 15,
        CNODE_COPY = "CNodeCopy" 17,
        CNODE_MINT = "CNodeMint" 18,
        CNODE_SAVE_CALLER = "CNodeSaveCaller" 22,
        IRQ_ACK = "IRQAckIRQ" 24,
        IRQ_SET_NOTIFICATION = "IRQSetIRQHandler" 25,
        IRQ_CLEAR_NOTIFICATION = "IRQClearIRQHandler" 26,
        X86_PDPT_MAP = "X86PDPTMap" 28,
        X86_PAGE_DIRECTORY_MAP = "X86PageDirectoryMap" 30,
        X86_PAGE_TABLE_MAP = "X86PageTableMap" 33,
        X86_PAGE_MAP = "X86PageMap" 37,
        X86_PAGE_UNMAP = "X86PageUnmap" 39,
        X86_PAGE_GET_ADDRESS = "X86PageGetAddress" 41,
        X86_ASID_CONTROL_MAKE_POOL = "X86ASIDControlMakePool" 42,
        X86_ASID_POOL_ASSIGN = "X86ASIDPoolAssign" 43,
        X86_IOPORT_IN8 = "X86IOPortIn8" 44,
        X86_IOPORT_IN16 = "X86IOPortIn16" 45,
        X86_IOPORT_IN32 = "X86IOPortIn32" 46,
        X86_IOPORT_OUT8 = "X86IOPortOut8" 47,
        X86_IOPORT_OUT16 = "X86IOPortOut16" 48,
        X86_IOPORT_OUT32 = "X86IOPortOut32" 49,
        X86_IRQ_ISSUE_IOAPIC = "X86IRQIssueIRQHandlerIOAPIC" 50,
    });
}

/// Kernel object types for Untyped Retype (`objecttype.h`, which depends
/// on the configuration: without `CONFIG_HUGE_PAGE` the page types move).
pub mod object {
    checked!(TABLE: u64 {
        UNTYPED = "seL4_UntypedObject" 0,
        TCB = "seL4_TCBObject" 1,
        ENDPOINT = "seL4_EndpointObject" 2,
        NOTIFICATION = "seL4_NotificationObject" 3,
        CAP_TABLE = "seL4_CapTableObject" 4,
        X86_PDPT = "seL4_X86_PDPTObject" 5,
        X64_PML4 = "seL4_X64_PML4Object" 6,
        X86_4K = "seL4_X86_4K" 7,
        X86_LARGE_PAGE = "seL4_X86_LargePageObject" 8,
        X86_PAGE_TABLE = "seL4_X86_PageTableObject" 9,
        X86_PAGE_DIRECTORY = "seL4_X86_PageDirectoryObject" 10,
    });
}

/// Object sizes as powers of two (`sel4_arch/constants.h`).
pub mod bits {
    checked!(TABLE: u32 {
        WORD = "seL4_WordBits" 64,
        PAGE = "seL4_PageBits" 12,
        SLOT = "seL4_SlotBits" 5,
        TCB = "seL4_TCBBits" 11,
        ENDPOINT = "seL4_EndpointBits" 4,
        NOTIFICATION = "seL4_NotificationBits" 5,
        PAGE_TABLE = "seL4_PageTableBits" 12,
        PAGE_DIRECTORY = "seL4_PageDirBits" 12,
        PDPT = "seL4_PDPTBits" 12,
        PML4 = "seL4_PML4Bits" 12,
        ASID_POOL = "seL4_ASIDPoolBits" 12,
        LARGE_PAGE = "seL4_LargePageBits" 21,
        MIN_UNTYPED = "seL4_MinUntypedBits" 4,
        MAX_UNTYPED = "seL4_MaxUntypedBits" 47,
    });
}

/// Interrupt vectors (`arch/constants.h`): an IOAPIC handler takes a
/// vector offset in `VECTOR_MIN..=VECTOR_MAX` (IDT vector = 48 + offset).
pub mod irq {
    checked!(TABLE: u64 {
        VECTOR_MIN = "VECTOR_MIN" 0,
        VECTOR_MAX = "VECTOR_MAX" 109,
    });
}

/// Configuration values the user-level layout depends on (`autoconf.h`).
pub mod config {
    checked!(TABLE: usize {
        /// Length of `seL4_BootInfo::untypedList`.
        MAX_BOOTINFO_UNTYPED_CAPS = "CONFIG_MAX_NUM_BOOTINFO_UNTYPED_CAPS" 230,
        /// The root task's CNode has 2^ROOT_CNODE_BITS slots.
        ROOT_CNODE_BITS = "CONFIG_ROOT_CNODE_SIZE_BITS" 16,
        NUM_PRIORITIES = "CONFIG_NUM_PRIORITIES" 256,
    });
}

/// Message limits (`constants.h`).
pub mod msg {
    checked!(TABLE: usize {
        /// Message registers in the IPC buffer.
        MAX_LENGTH = "seL4_MsgMaxLength" 120,
        /// Capabilities a message may carry.
        MAX_EXTRA_CAPS = "seL4_MsgMaxExtraCaps" 3,
    });
}

/// Error codes returned as the label of an invocation's reply (`errors.h`).
pub mod error {
    checked!(TABLE: u64 {
        NO_ERROR = "seL4_NoError" 0,
        INVALID_ARGUMENT = "seL4_InvalidArgument" 1,
        INVALID_CAPABILITY = "seL4_InvalidCapability" 2,
        ILLEGAL_OPERATION = "seL4_IllegalOperation" 3,
        RANGE_ERROR = "seL4_RangeError" 4,
        ALIGNMENT_ERROR = "seL4_AlignmentError" 5,
        FAILED_LOOKUP = "seL4_FailedLookup" 6,
        TRUNCATED_MESSAGE = "seL4_TruncatedMessage" 7,
        DELETE_FIRST = "seL4_DeleteFirst" 8,
        REVOKE_FIRST = "seL4_RevokeFirst" 9,
        NOT_ENOUGH_MEMORY = "seL4_NotEnoughMemory" 10,
    });
}

/// Slots of the initial capabilities in the root task's CNode
/// (`bootinfo_types.h`).
pub mod init_cap {
    checked!(TABLE: u64 {
        TCB = "seL4_CapInitThreadTCB" 1,
        CNODE = "seL4_CapInitThreadCNode" 2,
        VSPACE = "seL4_CapInitThreadVSpace" 3,
        IRQ_CONTROL = "seL4_CapIRQControl" 4,
        ASID_CONTROL = "seL4_CapASIDControl" 5,
        ASID_POOL = "seL4_CapInitThreadASIDPool" 6,
        IO_PORT = "seL4_CapIOPort" 7,
        IO_SPACE = "seL4_CapIOSpace" 8,
        BOOT_INFO_FRAME = "seL4_CapBootInfoFrame" 9,
        IPC_BUFFER = "seL4_CapInitThreadIPCBuffer" 10,
        DOMAIN = "seL4_CapDomain" 11,
    });
}

/// Message register indices of fault messages (`sel4_arch/constants.h`).
pub mod fault_mr {
    checked!(TABLE: usize {
        VM_IP = "seL4_VMFault_IP" 0,
        VM_ADDR = "seL4_VMFault_Addr" 1,
        VM_FSR = "seL4_VMFault_FSR" 3,
        EXCEPTION_IP = "seL4_UserException_FaultIP" 0,
        EXCEPTION_NUMBER = "seL4_UserException_Number" 3,
        UNKNOWN_SYSCALL_IP = "seL4_UnknownSyscall_FaultIP" 15,
        UNKNOWN_SYSCALL_NUMBER = "seL4_UnknownSyscall_Syscall" 18,
    });
}

/// Fault types: the label of a fault message. They are tags of the
/// `seL4_Fault` tagged union in libsel4's `arch/shared_types.bf`, which
/// the host test reads directly (no header carries them).
pub mod fault_type {
    checked!(TABLE: u64 {
        CAP_FAULT = "CapFault" 1,
        UNKNOWN_SYSCALL = "UnknownSyscall" 2,
        USER_EXCEPTION = "UserException" 3,
        VM_FAULT = "VMFault" 5,
    });
}

/// Every group the C probe checks (fault types are checked on their own).
pub const ALL: &[&[(&str, i64)]] = &[
    syscall::TABLE,
    label::TABLE,
    object::TABLE,
    bits::TABLE,
    config::TABLE,
    msg::TABLE,
    error::TABLE,
    init_cap::TABLE,
    fault_mr::TABLE,
    irq::TABLE,
];

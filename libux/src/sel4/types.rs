//! Bit-packed kernel words, laid out as in libsel4's `*.bf` files.

/// `seL4_MessageInfo`: label 20 bits, caps unwrapped 3, extra caps 2,
/// length 7 (in the low 32 bits of the word).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageInfo(pub u64);

impl MessageInfo {
    pub const fn new(label: u64, caps_unwrapped: u64, extra_caps: u64, length: u64) -> Self {
        MessageInfo((label & 0xf_ffff) << 12 | (caps_unwrapped & 0x7) << 9 | (extra_caps & 0x3) << 7 | (length & 0x7f))
    }
    pub const fn label(self) -> u64 {
        (self.0 >> 12) & 0xf_ffff
    }
    pub const fn caps_unwrapped(self) -> u64 {
        (self.0 >> 9) & 0x7
    }
    pub const fn extra_caps(self) -> u64 {
        (self.0 >> 7) & 0x3
    }
    pub const fn length(self) -> u64 {
        self.0 & 0x7f
    }
}

/// `seL4_CapRights`: grant, read, write in the low three bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapRights(pub u64);

impl CapRights {
    pub const ALL: CapRights = CapRights::new(true, true, true);
    /// What a connection needs: send, and grant (a Call's reply
    /// capability), never receive: its holder must not take others' calls.
    pub const CALL: CapRights = CapRights::new(true, false, true);
    pub const READ_WRITE: CapRights = CapRights::new(false, true, true);
    pub const READ: CapRights = CapRights::new(false, true, false);
    pub const WRITE: CapRights = CapRights::new(false, false, true);

    pub const fn new(grant: bool, read: bool, write: bool) -> Self {
        CapRights((grant as u64) << 2 | (read as u64) << 1 | write as u64)
    }
}

/// `seL4_CapData` as a badge (tag 0): 28 usable bits in this kernel.
pub const fn badge(value: u64) -> u64 {
    value & BADGE_MASK
}

/// The bits a badge can hold.
pub const BADGE_MASK: u64 = (1 << 28) - 1;

/// `seL4_CapData` as a CNode guard (tag 1): guard value and guard size.
pub const fn cnode_guard(guard: u64, guard_size: u64) -> u64 {
    1 << 31 | (guard & 0x3_ffff) << 8 | (guard_size & 0x3f) << 2
}

/// `seL4_PrioProps`: maximum controlled priority and priority.
pub const fn prio_props(mcp: u8, prio: u8) -> u64 {
    (mcp as u64) << 8 | prio as u64
}

/// `seL4_X86_VMAttributes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum VmAttributes {
    WriteBack = 0,
    WriteThrough = 1,
    CacheDisabled = 2,
    Uncacheable = 3,
    WriteCombining = 4,
}

/// `seL4_UserContext` for x86_64, in the order TCB Read/WriteRegisters use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct UserContext {
    pub rip: u64,
    pub rsp: u64,
    pub rflags: u64,
    pub rax: u64,
    pub rbx: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub rbp: u64,
    pub r8: u64,
    pub r9: u64,
    pub r10: u64,
    pub r11: u64,
    pub r12: u64,
    pub r13: u64,
    pub r14: u64,
    pub r15: u64,
    pub tls_base: u64,
}

impl UserContext {
    /// Number of registers in the context.
    pub const COUNT: usize = 19;

    pub fn from_words(w: &[u64; Self::COUNT]) -> Self {
        UserContext {
            rip: w[0],
            rsp: w[1],
            rflags: w[2],
            rax: w[3],
            rbx: w[4],
            rcx: w[5],
            rdx: w[6],
            rsi: w[7],
            rdi: w[8],
            rbp: w[9],
            r8: w[10],
            r9: w[11],
            r10: w[12],
            r11: w[13],
            r12: w[14],
            r13: w[15],
            r14: w[16],
            r15: w[17],
            tls_base: w[18],
        }
    }

    pub fn as_words(&self) -> [u64; Self::COUNT] {
        [
            self.rip,
            self.rsp,
            self.rflags,
            self.rax,
            self.rbx,
            self.rcx,
            self.rdx,
            self.rsi,
            self.rdi,
            self.rbp,
            self.r8,
            self.r9,
            self.r10,
            self.r11,
            self.r12,
            self.r13,
            self.r14,
            self.r15,
            self.tls_base,
        ]
    }
}

#[cfg(test)]
mod context_tests {
    use super::UserContext;

    #[test]
    fn registers_go_to_words_and_back_in_order() {
        let words: [u64; UserContext::COUNT] = core::array::from_fn(|i| i as u64 * 3 + 1);
        let regs = UserContext::from_words(&words);
        assert_eq!((regs.rip, regs.rdi, regs.tls_base), (1, 25, 55));
        assert_eq!(regs.as_words(), words);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_info_round_trips_its_fields() {
        let m = MessageInfo::new(0xabcde, 5, 3, 120);
        assert_eq!((m.label(), m.caps_unwrapped(), m.extra_caps(), m.length()), (0xabcde, 5, 3, 120));
        // Layout from shared_types_64.bf: length in bits 0..7, label from bit 12.
        assert_eq!(MessageInfo::new(1, 0, 1, 6).0, 1 << 12 | 1 << 7 | 6);
    }

    #[test]
    fn cap_data_layouts_match_types_64_bf() {
        assert_eq!(cnode_guard(0, 52), 0x8000_0000 | 52 << 2);
        assert_eq!(cnode_guard(3, 4), 0x8000_0000 | 3 << 8 | 4 << 2);
        assert_eq!(badge(0x1234), 0x1234);
        assert_eq!(badge(u64::MAX), (1 << 28) - 1);
        assert_eq!(prio_props(255, 100), 255 << 8 | 100);
        assert_eq!(CapRights::ALL.0, 7);
        assert_eq!(CapRights::READ.0, 2);
    }
}

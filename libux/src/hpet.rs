//! The HPET's registers, as its two users see them: the process server
//! measures the TSC against its main counter at boot (a counter of 64
//! bits at a tick its own register gives, where the PIT's 16 bits wrap
//! in 55 ms), and devfs arms its timer 0 for sleepers. The registers come
//! through [`Registers`] (each maps the page uncached; tests keep them in
//! memory).

/// Where PCs and QEMU put the HPET's page.
pub const PADDR: u64 = 0xfed0_0000;

/// 64-bit registers at byte offsets of the HPET's page.
pub trait Registers {
    fn read(&self, offset: usize) -> u64;
    fn write(&mut self, offset: usize, value: u64);
}

/// The registers of an HPET page mapped uncached at a base address.
pub struct Mmio(*mut u8);

impl Mmio {
    /// # Safety
    /// `base` maps the HPET's page uncached for as long as this lives.
    pub unsafe fn new(base: *mut u8) -> Mmio {
        Mmio(base)
    }
}

impl Registers for Mmio {
    fn read(&self, offset: usize) -> u64 {
        // SAFETY: a register of the mapped page (`new`), read as the HPET
        // allows.
        unsafe { core::ptr::read_volatile(self.0.add(offset) as *const u64) }
    }
    fn write(&mut self, offset: usize, value: u64) {
        // SAFETY: as `read`.
        unsafe { core::ptr::write_volatile(self.0.add(offset) as *mut u64, value) }
    }
}

pub const CAPABILITIES: usize = 0x000;
pub const CONFIG: usize = 0x010;
pub const COUNTER: usize = 0x0f0;
pub const TIMER0_CONFIG: usize = 0x100;
pub const TIMER0_COMPARATOR: usize = 0x108;

/// `CAPABILITIES`: a 64-bit counter.
pub const COUNTER_64: u64 = 1 << 13;
/// `CONFIG`: the counter runs; timers 0 and 1 are IRQ0 and IRQ8 (the
/// legacy replacement route).
pub const ENABLE: u64 = 1;
pub const LEGACY_ROUTE: u64 = 1 << 1;

/// The longest tick the specification allows, in femtoseconds (100 ns).
const PERIOD_MAX_FS: u64 = 100_000_000;
pub const FS_PER_SECOND: u64 = 1_000_000_000_000_000;

/// The counter's tick in femtoseconds, if `caps` (the `CAPABILITIES`
/// register) are an HPET's: a revision, and a tick of 1 fs to 100 ns (all
/// ones, no device, has neither).
pub fn period_fs(caps: u64) -> Option<u64> {
    let period = caps >> 32;
    (caps & 0xff != 0 && period != 0 && period <= PERIOD_MAX_FS).then_some(period)
}

/// The main counter. A bus that moves 32 bits at a time (QEMU's HPET
/// takes 64-bit accesses as two) can tear a read as the low half wraps,
/// every 43 s at 10 ns: two reads that agree within 2^31 ticks are whole.
pub fn counter(regs: &impl Registers) -> u64 {
    loop {
        let (a, b) = (regs.read(COUNTER), regs.read(COUNTER));
        if b.wrapping_sub(a) < 1 << 31 {
            return b;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hpet_is_known_by_its_revision_and_tick() {
        assert_eq!(period_fs(10_000_000 << 32 | 0x8086 << 16 | 1), Some(10_000_000), "QEMU's: 10 ns");
        assert_eq!(period_fs(0), None, "nothing there");
        assert_eq!(period_fs(u64::MAX), None, "no device: all ones");
        assert_eq!(period_fs(1), None, "no tick");
        assert_eq!(period_fs(200_000_000 << 32 | 1), None, "200 ns");
        assert_eq!(period_fs(10_000_000 << 32), None, "no revision");
    }
}

//! The HPET's timer 0 as a one-shot alarm, for sleepers. In legacy
//! replacement mode its interrupt is IRQ0's (IOAPIC pin 2, the PIT's
//! before), and one comparator covers any wait: the PIT's one shot
//! counts at most 54.9 ms, so a 750 ms sleep took 14 interrupts, and
//! every idle cluster node sleeps so between its beats. The registers
//! come through [`Registers`] (the server maps the granted page; the
//! tests keep them in memory).

/// 64-bit registers at byte offsets of the HPET's page.
pub trait Registers {
    fn read(&self, offset: usize) -> u64;
    fn write(&mut self, offset: usize, value: u64);
}

const CAPABILITIES: usize = 0x000;
const CONFIG: usize = 0x010;
const COUNTER: usize = 0x0f0;
const TIMER0_CONFIG: usize = 0x100;
const TIMER0_COMPARATOR: usize = 0x108;

/// `CAPABILITIES`: a 64-bit counter; the legacy replacement route.
const COUNTER_64: u64 = 1 << 13;
const LEGACY_CAPABLE: u64 = 1 << 15;
/// `CONFIG`: the counter runs; timers 0 and 1 are IRQ0 and IRQ8.
const ENABLE: u64 = 1;
const LEGACY_ROUTE: u64 = 1 << 1;
/// `TIMER0_CONFIG`: level-triggered, interrupt on, periodic, 64-bit
/// capable, forced to 32 bits.
const LEVEL: u64 = 1 << 1;
const INTERRUPT: u64 = 1 << 2;
const PERIODIC: u64 = 1 << 3;
const TIMER_64: u64 = 1 << 5;
const FORCE_32: u64 = 1 << 8;

/// The longest tick the specification allows, in femtoseconds (100 ns).
const PERIOD_MAX_FS: u64 = 100_000_000;
const FS_PER_US: u128 = 1_000_000_000;

/// Why the page holds no HPET that can serve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unfit {
    /// No revision, or a tick of 0 or over 100 ns.
    NotAnHpet,
    /// It cannot route timer 0 as IRQ0.
    NoLegacyRoute,
    /// Its counter or timer 0 has 32 bits (wraps in 43 s at 10 ns).
    Narrow,
}

pub struct Hpet<R> {
    regs: R,
    period_fs: u64,
}

impl<R: Registers> Hpet<R> {
    /// Starts the counter, timer 0 a one shot of IRQ0 whose interrupt is
    /// off until [`Hpet::arm`].
    pub fn start(mut regs: R) -> Result<Self, Unfit> {
        let caps = regs.read(CAPABILITIES);
        let period_fs = caps >> 32;
        if caps & 0xff == 0 || period_fs == 0 || period_fs > PERIOD_MAX_FS {
            return Err(Unfit::NotAnHpet);
        }
        if caps & LEGACY_CAPABLE == 0 {
            return Err(Unfit::NoLegacyRoute);
        }
        let timer = regs.read(TIMER0_CONFIG);
        if caps & COUNTER_64 == 0 || timer & TIMER_64 == 0 {
            return Err(Unfit::Narrow);
        }
        regs.write(TIMER0_CONFIG, timer & !(LEVEL | INTERRUPT | PERIODIC | FORCE_32));
        let config = regs.read(CONFIG);
        regs.write(CONFIG, config | ENABLE | LEGACY_ROUTE);
        Ok(Hpet { regs, period_fs })
    }

    /// Its tick, in femtoseconds.
    pub fn period_fs(&self) -> u64 {
        self.period_fs
    }

    /// Arms the alarm to go off `micros` from now (at least one tick).
    /// A comparator the counter passed before it was written would go
    /// off only when the counter wraps, so the alarm is set again a
    /// little later until it lies ahead: an interrupt always comes.
    pub fn arm(&mut self, micros: u64) {
        let mut ticks = (u128::from(micros) * FS_PER_US / u128::from(self.period_fs)).clamp(1, 1 << 62) as u64;
        loop {
            let at = self.regs.read(COUNTER).wrapping_add(ticks);
            self.regs.write(TIMER0_COMPARATOR, at);
            let timer = self.regs.read(TIMER0_CONFIG);
            self.regs.write(TIMER0_CONFIG, timer | INTERRUPT);
            if (at.wrapping_sub(self.regs.read(COUNTER)) as i64) > 0 {
                return;
            }
            ticks = ticks.saturating_mul(2);
        }
    }

    /// The alarm went off: quiet until armed again.
    pub fn disarm(&mut self) {
        let timer = self.regs.read(TIMER0_CONFIG);
        self.regs.write(TIMER0_CONFIG, timer & !INTERRUPT);
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use core::cell::Cell;
    use std::collections::BTreeMap;

    /// QEMU's HPET as registers in memory: each read of the counter
    /// finds it `step` ticks on.
    struct Fake {
        regs: BTreeMap<usize, u64>,
        counter: Cell<u64>,
        step: u64,
    }

    impl Registers for Fake {
        fn read(&self, offset: usize) -> u64 {
            if offset == COUNTER {
                self.counter.set(self.counter.get().wrapping_add(self.step));
                return self.counter.get();
            }
            self.regs.get(&offset).copied().unwrap_or(0)
        }
        fn write(&mut self, offset: usize, value: u64) {
            self.regs.insert(offset, value);
        }
    }

    fn qemu(step: u64) -> Fake {
        // Revision 1, 3 timers, 64-bit, legacy route, 10 ns; timer 0
        // 64-bit capable, left periodic and level by the firmware.
        let caps = 10_000_000 << 32 | 0x8086 << 16 | LEGACY_CAPABLE | COUNTER_64 | 2 << 8 | 1;
        let regs = BTreeMap::from([(CAPABILITIES, caps), (TIMER0_CONFIG, TIMER_64 | PERIODIC | LEVEL)]);
        Fake { regs, counter: Cell::new(1_000), step }
    }

    #[test]
    fn starts_routed_as_irq0_with_a_quiet_one_shot() {
        let h = Hpet::start(qemu(0)).unwrap();
        assert_eq!(h.period_fs(), 10_000_000);
        assert_eq!(h.regs.regs[&CONFIG], ENABLE | LEGACY_ROUTE);
        assert_eq!(h.regs.regs[&TIMER0_CONFIG], TIMER_64, "edge, one shot, interrupt off");
    }

    #[test]
    fn what_cannot_serve_is_refused() {
        let with = |caps: u64, timer: u64| {
            let mut f = qemu(0);
            f.regs.insert(CAPABILITIES, caps);
            f.regs.insert(TIMER0_CONFIG, timer);
            Hpet::start(f).err()
        };
        let good = qemu(0).regs[&CAPABILITIES];
        assert_eq!(with(0, TIMER_64), Some(Unfit::NotAnHpet), "nothing there");
        assert_eq!(with(good & 0xffff_ffff, TIMER_64), Some(Unfit::NotAnHpet), "no tick");
        assert_eq!(with(good & 0xffff_ffff | 200_000_000 << 32, TIMER_64), Some(Unfit::NotAnHpet), "200 ns");
        assert_eq!(with(good & !LEGACY_CAPABLE, TIMER_64), Some(Unfit::NoLegacyRoute));
        assert_eq!(with(good & !COUNTER_64, TIMER_64), Some(Unfit::Narrow));
        assert_eq!(with(good, 0), Some(Unfit::Narrow));
    }

    #[test]
    fn one_comparator_covers_any_wait_and_always_lies_ahead() {
        let mut h = Hpet::start(qemu(0)).unwrap();
        // 750 ms at 10 ns: 75 million ticks past the counter, one alarm.
        h.arm(750_000);
        assert_eq!(h.regs.regs[&TIMER0_COMPARATOR], 1_000 + 75_000_000);
        assert_eq!(h.regs.regs[&TIMER0_CONFIG] & INTERRUPT, INTERRUPT);
        h.disarm();
        assert_eq!(h.regs.regs[&TIMER0_CONFIG] & INTERRUPT, 0);
        // Nothing left to wait: one tick on.
        h.arm(0);
        assert_eq!(h.regs.regs[&TIMER0_COMPARATOR], 1_001);
        // A counter that runs past a short alarm while it is written: set
        // again further on until it lies ahead.
        let mut h = Hpet::start(qemu(300)).unwrap();
        h.arm(1);
        let at = h.regs.regs[&TIMER0_COMPARATOR];
        assert!(at > h.regs.counter.get(), "{at} behind {}", h.regs.counter.get());
        // Near the counter's end it wraps, and still lies ahead.
        let f = qemu(0);
        f.counter.set(u64::MAX - 10);
        let mut h = Hpet::start(f).unwrap();
        h.arm(1);
        assert_eq!(h.regs.regs[&TIMER0_COMPARATOR], 89);
        // Years away: bounded, not overflowed.
        h.arm(u64::MAX);
        assert_eq!(h.regs.regs[&TIMER0_COMPARATOR], (u64::MAX - 10).wrapping_add(1 << 62));
    }
}

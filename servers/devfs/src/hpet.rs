//! The HPET's timer 0 as a one-shot alarm, for sleepers: one comparator
//! covers any wait, where the PIT's one shot counts at most 54.9 ms, so
//! a 750 ms sleep took 14 interrupts, and every idle cluster node sleeps
//! so between its beats. Its interrupt is routed to an IOAPIC pin it
//! names as possible (QEMU's `pc` offers pin 2 alone, the PIT's), not
//! by legacy replacement, which would also take IRQ8 from the CMOS
//! clock, netstack's timer. The registers come through [`Registers`]
//! (the server maps the granted page; the tests keep them in memory).

use libux::hpet::{counter, period_fs, Registers, CAPABILITIES, CONFIG, COUNTER_64, ENABLE, LEGACY_ROUTE};
use libux::hpet::{TIMER0_COMPARATOR, TIMER0_CONFIG};

/// `TIMER0_CONFIG`: level-triggered, interrupt on, periodic, 64-bit
/// capable, forced to 32 bits, the IOAPIC pin (bits 9-13), delivered as
/// a message; the pins it may use are bits 32-63.
const LEVEL: u64 = 1 << 1;
const INTERRUPT: u64 = 1 << 2;
const PERIODIC: u64 = 1 << 3;
const TIMER_64: u64 = 1 << 5;
const FORCE_32: u64 = 1 << 8;
const ROUTE_SHIFT: u64 = 9;
const ROUTE: u64 = 0x1f << ROUTE_SHIFT;
const MESSAGE: u64 = 1 << 14;

const FS_PER_US: u128 = 1_000_000_000;

/// Why the page holds no HPET that can serve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unfit {
    /// No revision, or a tick of 0 or over 100 ns.
    NotAnHpet,
    /// Timer 0 cannot reach the IOAPIC pin asked for.
    NoRoute(u8),
    /// Its counter or timer 0 has 32 bits (wraps in 43 s at 10 ns).
    Narrow,
}

pub struct Hpet<R> {
    regs: R,
    period_fs: u64,
}

impl<R: Registers> Hpet<R> {
    /// Starts the counter, timer 0 a one shot on IOAPIC pin `pin`
    /// (edge-triggered), its interrupt off until [`Hpet::arm`].
    pub fn start(mut regs: R, pin: u8) -> Result<Self, Unfit> {
        let caps = regs.read(CAPABILITIES);
        let period_fs = period_fs(caps).ok_or(Unfit::NotAnHpet)?;
        let timer = regs.read(TIMER0_CONFIG);
        if caps & COUNTER_64 == 0 || timer & TIMER_64 == 0 {
            return Err(Unfit::Narrow);
        }
        if pin >= 32 || (timer >> 32) & (1 << pin) == 0 {
            return Err(Unfit::NoRoute(pin));
        }
        let quiet = timer & !(LEVEL | INTERRUPT | PERIODIC | FORCE_32 | ROUTE | MESSAGE);
        regs.write(TIMER0_CONFIG, quiet | u64::from(pin) << ROUTE_SHIFT);
        let config = regs.read(CONFIG);
        regs.write(CONFIG, (config | ENABLE) & !LEGACY_ROUTE);
        Ok(Hpet { regs, period_fs })
    }

    /// Arms the alarm to go off `micros` from now (at least one tick).
    /// A comparator the counter passed before it was written would go
    /// off only when the counter wraps, so the alarm is set again a
    /// little later until it lies ahead: an interrupt always comes.
    pub fn arm(&mut self, micros: u64) {
        let mut ticks = (u128::from(micros) * FS_PER_US / u128::from(self.period_fs)).clamp(1, 1 << 62) as u64;
        loop {
            let at = self.counter().wrapping_add(ticks);
            self.regs.write(TIMER0_COMPARATOR, at);
            let timer = self.regs.read(TIMER0_CONFIG);
            self.regs.write(TIMER0_CONFIG, timer | INTERRUPT);
            if (at.wrapping_sub(self.counter()) as i64) > 0 {
                return;
            }
            ticks = ticks.saturating_mul(2).min(1 << 62);
        }
    }

    fn counter(&self) -> u64 {
        counter(&self.regs)
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
    use libux::hpet::COUNTER;
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

    /// Timer 0 as QEMU's `pc` has it: may reach pin 2 alone.
    const PIN_2: u64 = 1 << 2 << 32;

    /// A counter whose first read is torn, 2^32 ticks ahead.
    struct Torn {
        fake: Fake,
        torn: Cell<bool>,
    }

    impl Registers for Torn {
        fn read(&self, offset: usize) -> u64 {
            let v = self.fake.read(offset);
            match offset == COUNTER && self.torn.replace(false) {
                true => v + (1 << 32),
                false => v,
            }
        }
        fn write(&mut self, offset: usize, value: u64) {
            self.fake.write(offset, value);
        }
    }

    fn qemu(step: u64) -> Fake {
        // Revision 1, 3 timers, 64-bit, legacy route, 10 ns; timer 0
        // 64-bit capable, left periodic, level and legacy-routed by the
        // firmware.
        let caps = 10_000_000 << 32 | 0x8086 << 16 | 1 << 15 | COUNTER_64 | 2 << 8 | 1;
        let timer = PIN_2 | TIMER_64 | PERIODIC | LEVEL | MESSAGE;
        let regs = BTreeMap::from([(CAPABILITIES, caps), (TIMER0_CONFIG, timer), (CONFIG, LEGACY_ROUTE)]);
        Fake { regs, counter: Cell::new(1_000), step }
    }

    #[test]
    fn starts_on_its_pin_with_a_quiet_one_shot_and_no_legacy_route() {
        let h = Hpet::start(qemu(0), 2).unwrap();
        assert_eq!(h.period_fs, 10_000_000);
        assert_eq!(h.regs.regs[&CONFIG], ENABLE, "the CMOS clock keeps IRQ8");
        let want = PIN_2 | TIMER_64 | 2 << ROUTE_SHIFT;
        assert_eq!(h.regs.regs[&TIMER0_CONFIG], want, "pin 2, edge, one shot, interrupt off");
    }

    #[test]
    fn what_cannot_serve_is_refused() {
        let with = |caps: u64, timer: u64, pin: u8| {
            let mut f = qemu(0);
            f.regs.insert(CAPABILITIES, caps);
            f.regs.insert(TIMER0_CONFIG, timer);
            Hpet::start(f, pin).err()
        };
        let good = qemu(0).regs[&CAPABILITIES];
        let timer = PIN_2 | TIMER_64;
        assert_eq!(with(0, timer, 2), Some(Unfit::NotAnHpet), "nothing there");
        assert_eq!(with(u64::MAX, u64::MAX, 2), Some(Unfit::NotAnHpet), "no device: all ones");
        assert_eq!(with(good & 0xffff_ffff, timer, 2), Some(Unfit::NotAnHpet), "no tick");
        assert_eq!(with(good & 0xffff_ffff | 200_000_000 << 32, timer, 2), Some(Unfit::NotAnHpet), "200 ns");
        assert_eq!(with(good & !COUNTER_64, timer, 2), Some(Unfit::Narrow));
        assert_eq!(with(good, PIN_2, 2), Some(Unfit::Narrow));
        assert_eq!(with(good, timer, 3), Some(Unfit::NoRoute(3)), "a pin it cannot reach");
        assert_eq!(with(good, timer, 40), Some(Unfit::NoRoute(40)));
    }

    #[test]
    fn one_comparator_covers_any_wait_and_always_lies_ahead() {
        let mut h = Hpet::start(qemu(0), 2).unwrap();
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
        let mut h = Hpet::start(qemu(300), 2).unwrap();
        h.arm(1);
        let at = h.regs.regs[&TIMER0_COMPARATOR];
        assert!(at > h.regs.counter.get(), "{at} behind {}", h.regs.counter.get());
        // Near the counter's end it wraps, and still lies ahead.
        let f = qemu(0);
        f.counter.set(u64::MAX - 10);
        let mut h = Hpet::start(f, 2).unwrap();
        h.arm(1);
        assert_eq!(h.regs.regs[&TIMER0_COMPARATOR], 89);
        // Years away: bounded, not overflowed.
        h.arm(u64::MAX);
        assert_eq!(h.regs.regs[&TIMER0_COMPARATOR], (u64::MAX - 10).wrapping_add(1 << 62));
        // A torn read (the high half read after the low one wrapped)
        // disagrees with the next read by 2^32 ticks: read again.
        let mut h = Hpet::start(Torn { fake: qemu(0), torn: Cell::new(true) }, 2).unwrap();
        h.arm(1);
        assert_eq!(h.regs.fake.regs[&TIMER0_COMPARATOR], 1_100, "from the whole counter");
    }
}

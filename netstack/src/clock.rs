//! How the CMOS clock wakes the stack for its timers ([`wake_for`]): its
//! periodic interrupt, whose rate `r` of register A ticks at 32768 Hz
//! shifted right by `r - 1`, from 2 Hz for a timer seconds off to 64 Hz
//! for one due soon; for a timer minutes or hours off (DHCP's renewal
//! of a lease, the only one of an idle node), its alarm, once a minute
//! (each 2 Hz tick woke an idle node's stack for nothing: 0.05-0.1 % of
//! a host core under TCG, of the 0.5 % such a node costs); nothing with
//! no timer (frames wake the stack through the NICs' interrupts).

/// 64 Hz: a timer due soon, or a call waiting on a deadline.
pub const FAST: u8 = 10;
/// 2 Hz: the slowest, for a timer 2 s away or more.
pub const SLOW: u8 = 15;
/// No periodic interrupt: no timer.
pub const OFF: u8 = 0;

/// A timer this far off or more, in microseconds, waits on the minute's
/// alarm: twice a minute off at least, so it is at most half its wait
/// late, as a periodic tick would be a quarter.
pub const MINUTELY_US: u64 = 120_000_000;
const _: () = assert!(2 * 60_000_000 <= MINUTELY_US);

/// How the clock wakes the stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// Its periodic interrupt at this rate (register A).
    Periodic(u8),
    /// Its alarm, at second 0 of every minute.
    Minutely,
    /// Not at all.
    Never,
}

impl Wake {
    /// Register A's rate: `OFF` but for `Periodic`.
    pub fn rate(self) -> u8 {
        match self {
            Wake::Periodic(r) => r,
            Wake::Minutely | Wake::Never => OFF,
        }
    }

    pub fn alarm(self) -> bool {
        self == Wake::Minutely
    }
}

/// A rate's ticks a second (not of `OFF`).
pub fn hz(rate: u8) -> u32 {
    32768 >> (rate - 1)
}

/// How to wake a stack whose next timer is `due_us` away.
pub fn wake_for(due_us: Option<u64>) -> Wake {
    match due_us {
        None => Wake::Never,
        Some(due) if due >= MINUTELY_US => Wake::Minutely,
        Some(_) => Wake::Periodic(rate_for(due_us)),
    }
}

/// A rate's period, in microseconds (not of `OFF`).
pub fn period_us(rate: u8) -> u64 {
    (1u64 << (rate - 1)) * 1_000_000 / 32768
}

/// The rate for a stack whose next timer is `due_us` away: the slowest
/// whose period is at most that. A new rate's first tick comes within
/// its period (QEMU's clock counts from the last tick, as the chip's
/// divider does), so no tick passes the timer but at 64 Hz: it is late
/// by one 64 Hz period at most. As the timer nears, each tick chooses
/// again, faster: a keep-alive 5 s away costs 10 ticks (25 when a tick
/// was at most a quarter of the wait), not 64 a second for its last
/// second.
pub fn rate_for(due_us: Option<u64>) -> u8 {
    let Some(due) = due_us else { return OFF };
    (FAST..=SLOW).rev().find(|&r| period_us(r) <= due).unwrap_or(FAST)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_slows_with_the_distance_to_the_next_timer() {
        assert_eq!((period_us(FAST), period_us(SLOW)), (15_625, 500_000), "64 Hz and 2 Hz");
        assert_eq!(rate_for(None), OFF, "no timer: no interrupt");
        assert_eq!(rate_for(Some(5_000_000)), SLOW);
        assert_eq!(rate_for(Some(500_000)), SLOW);
        assert_eq!(rate_for(Some(499_999)), 14, "4 Hz");
        assert_eq!(rate_for(Some(15_625)), FAST);
        assert_eq!(rate_for(Some(0)), FAST);
        // No tick passes the timer, once above 64 Hz's period.
        for due in (15_625..10_000_000).step_by(7_919) {
            assert!(period_us(rate_for(Some(due))) <= due, "{due}");
        }
        // The ticks a timer 5 s away costs, choosing again at each.
        let (mut left, mut ticks) = (5_000_000u64, 0);
        while left > 0 {
            left = left.saturating_sub(period_us(rate_for(Some(left))));
            ticks += 1;
        }
        assert!(ticks <= 10, "{ticks} ticks, against 64 for its last second at 64 Hz");
    }

    #[test]
    fn a_timer_minutes_off_waits_on_the_alarm() {
        assert_eq!(wake_for(None), Wake::Never);
        assert_eq!(wake_for(Some(43_200_000_000)), Wake::Minutely, "a lease renewed in 12 hours");
        assert_eq!(wake_for(Some(MINUTELY_US)), Wake::Minutely);
        assert_eq!(wake_for(Some(MINUTELY_US - 1)), Wake::Periodic(SLOW));
        assert_eq!(wake_for(Some(0)), Wake::Periodic(FAST));
        assert_eq!((Wake::Minutely.rate(), Wake::Never.rate(), Wake::Periodic(FAST).rate()), (OFF, OFF, FAST));
        assert!(Wake::Minutely.alarm() && !Wake::Never.alarm() && !Wake::Periodic(SLOW).alarm());
        assert_eq!((hz(FAST), hz(SLOW)), (64, 2));
    }
}

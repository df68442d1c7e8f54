//! How often the CMOS clock's periodic interrupt wakes the stack for its
//! timers: rate `r` of register A ticks at 32768 Hz shifted right by
//! `r - 1`. From 2 Hz for a timer far off to 64 Hz for one due soon;
//! off with no timer (frames wake the stack through the NICs'
//! interrupts).

/// 64 Hz: a timer due soon, or a call waiting on a deadline.
pub const FAST: u8 = 10;
/// 2 Hz: the slowest, for a timer 2 s away or more.
pub const SLOW: u8 = 15;
/// No periodic interrupt: no timer.
pub const OFF: u8 = 0;

/// A rate's period, in microseconds (not of `OFF`).
pub fn period_us(rate: u8) -> u64 {
    (1u64 << (rate - 1)) * 1_000_000 / 32768
}

/// The rate for a stack whose next timer is `due_us` away: the slowest
/// whose period is at most a quarter of that, so a timer is late by a
/// quarter of its wait at most (one 64 Hz period when due soon). As the
/// timer nears, each tick chooses again, faster: a keep-alive 5 s away
/// costs a few dozen ticks, not 64 a second for its last second.
pub fn rate_for(due_us: Option<u64>) -> u8 {
    let Some(due) = due_us else { return OFF };
    (FAST..=SLOW).rev().find(|&r| period_us(r) * 4 <= due).unwrap_or(FAST)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_slows_with_the_distance_to_the_next_timer() {
        assert_eq!((period_us(FAST), period_us(SLOW)), (15_625, 500_000), "64 Hz and 2 Hz");
        assert_eq!(rate_for(None), OFF, "no timer: no interrupt");
        assert_eq!(rate_for(Some(5_000_000)), SLOW);
        assert_eq!(rate_for(Some(1_000_000)), 14, "4 Hz: late by 250 ms at most");
        assert_eq!(rate_for(Some(999_999)), 13);
        assert_eq!(rate_for(Some(62_500)), FAST);
        assert_eq!(rate_for(Some(0)), FAST);
        // Never later than a quarter of the wait, once above 64 Hz's floor.
        for due in (62_500..10_000_000).step_by(7_919) {
            assert!(period_us(rate_for(Some(due))) * 4 <= due, "{due}");
        }
        // The ticks a timer 5 s away costs, choosing again at each.
        let (mut left, mut ticks) = (5_000_000u64, 0);
        while left > 0 {
            left = left.saturating_sub(period_us(rate_for(Some(left))));
            ticks += 1;
        }
        assert!(ticks < 40, "{ticks} ticks, against 64 for its last second at 64 Hz");
    }
}

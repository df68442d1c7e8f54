//! Wall-clock time: seconds since 1970-01-01 00:00 UTC (the Unix epoch)
//! and the civil date they name, both ways; and the decoding of the PC's
//! CMOS clock registers, which the process server reads at boot; and the
//! time stamp counter's rate from readings of the PIT, which it measures
//! at boot. Pure arithmetic, tested on the host.

/// A date and time of day, UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    /// 1..=12.
    pub month: u8,
    /// 1..=31.
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

const DAY: i64 = 86_400;

/// Days since 1970-01-01 of a civil date (proleptic Gregorian), counted
/// in 400-year eras of 146097 days from 0000-03-01, where leap days fall
/// at the end of a year.
fn days_from_civil(year: i64, month: u8, day: u8) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day since 1970-01-01 (the inverse of the above).
fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl Civil {
    pub fn from_unix(secs: i64) -> Civil {
        let (days, rest) = (secs.div_euclid(DAY), secs.rem_euclid(DAY));
        let (year, month, day) = civil_from_days(days);
        Civil { year, month, day, hour: (rest / 3600) as u8, minute: (rest / 60 % 60) as u8, second: (rest % 60) as u8 }
    }

    /// Seconds since the epoch; `None` for a date that does not exist.
    pub fn to_unix(&self) -> Option<i64> {
        let days_in_month = match self.month {
            2 if self.year % 4 == 0 && (self.year % 100 != 0 || self.year % 400 == 0) => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            1..=12 => 31,
            _ => return None,
        };
        if self.day == 0 || self.day > days_in_month || self.hour > 23 || self.minute > 59 || self.second > 59 {
            return None;
        }
        let days = days_from_civil(self.year, self.month, self.day);
        Some(days * DAY + i64::from(self.hour) * 3600 + i64::from(self.minute) * 60 + i64::from(self.second))
    }

    /// 0 = Sunday.
    pub fn weekday(&self) -> u8 {
        // 1970-01-01 was a Thursday.
        (days_from_civil(self.year, self.month, self.day) + 4).rem_euclid(7) as u8
    }
}

const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// As Unix's `date` prints it: `Thu Dec  3 21:40:05 UTC 2026`.
impl core::fmt::Display for Civil {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{} {} {:2} {:02}:{:02}:{:02} UTC {}",
            WEEKDAYS[usize::from(self.weekday())],
            MONTHS[usize::from(self.month.clamp(1, 12) - 1)],
            self.day,
            self.hour,
            self.minute,
            self.second,
            self.year
        )
    }
}

/// The CMOS clock's registers the date is read from, in this order:
/// seconds (0x00), minutes (0x02), hours (0x04), day of month (0x07),
/// month (0x08), year (0x09), century (0x32), and status register B
/// (0x0b), whose bit 2 says binary (else BCD) and bit 1 24-hour mode.
pub const RTC_REGISTERS: [u8; 8] = [0x00, 0x02, 0x04, 0x07, 0x08, 0x09, 0x32, 0x0b];

/// Seconds since the epoch that the CMOS clock's registers (read in the
/// order of [`RTC_REGISTERS`]) say, if they make a date.
pub fn from_rtc(r: [u8; 8]) -> Option<i64> {
    let b = r[7];
    let binary = b & 0x04 != 0;
    let value = |v: u8| if binary { Some(v) } else { from_bcd(v) };
    let pm = b & 0x02 == 0 && r[2] & 0x80 != 0;
    let mut hour = value(r[2] & 0x7f)?;
    if b & 0x02 == 0 {
        // 12-hour mode: 12 AM is 0, 12 PM is 12.
        hour = hour % 12 + if pm { 12 } else { 0 };
    }
    // No century register (0): this century.
    let century = match value(r[6])? {
        0 => 20,
        c => i64::from(c),
    };
    Civil {
        year: century * 100 + i64::from(value(r[5])?),
        month: value(r[4])?,
        day: value(r[3])?,
        hour,
        minute: value(r[1])?,
        second: value(r[0])?,
    }
    .to_unix()
}

fn from_bcd(v: u8) -> Option<u8> {
    let (hi, lo) = (v >> 4, v & 0xf);
    (hi < 10 && lo < 10).then_some(hi * 10 + lo)
}

/// The PIT's input clock, in Hz.
pub const PIT_HZ: u64 = 1_193_182;
/// The PIT's I/O ports: channel 0's counter (devfs's timer), channel 2's
/// (the process server's measure of the TSC), and the mode command.
pub const PIT_CHANNEL_0: u16 = 0x40;
pub const PIT_CHANNEL_2: u16 = 0x42;
pub const PIT_COMMAND: u16 = 0x43;

/// One reading of a counter that counts up at a known rate (the HPET's,
/// or a PIT count down as ticks since it was loaded), taken between two
/// reads of the time stamp counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CounterReading {
    pub tsc_before: u64,
    pub ticks: u64,
    pub tsc_after: u64,
}

/// The time stamp counter's rate in kHz that two readings of a counter
/// ticking at `hz` (`first` earlier, no wrap between them) allow: the
/// least and the most, since each count was read somewhere between its
/// two time stamps (a host that deschedules the machine between them
/// widens the range; each count's own tick is left out). `None` if they
/// are no such pair.
pub fn tsc_khz_between(first: CounterReading, last: CounterReading, hz: u64) -> Option<(u64, u64)> {
    let ticks = last.ticks.checked_sub(first.ticks).filter(|&t| t > 0)?;
    let least = last.tsc_before.checked_sub(first.tsc_after)?;
    let most = last.tsc_after.checked_sub(first.tsc_before)?;
    let khz = |cycles: u64| (u128::from(cycles) * u128::from(hz) / u128::from(ticks) / 1000) as u64;
    Some((khz(least), khz(most)))
}

/// How long a measure against a counter that does not wrap soon lasts at
/// least, in ms of the counter, and how narrow its range must be (in
/// parts of the rate) to end it: readings taken within 2 µs each give
/// 0.04 % over 10 ms.
const MEASURE_MS: u64 = 10;
const MEASURE_NARROW: u64 = 2000;
/// A measure still too wide after this long (ms of the counter) fails.
const MEASURE_MAX_MS: u64 = 1000;
/// The first reading is the narrowest of this many in a row: a host that
/// takes the processor away in the middle of one widens it, rarely all.
const FIRST_READINGS: usize = 8;

/// The time stamp counter's rate (least and most, kHz) measured against
/// a counter ticking at `hz` that does not wrap within `MEASURE_MAX_MS`,
/// read by `read`: from a narrow first reading to the first reading
/// `MEASURE_MS` or more later that gives a narrow range. The host may
/// deschedule us between readings as long as it likes; that only makes
/// the measure last longer. `None` if the counter went back, the measure
/// took `tsc_limit` cycles (a counter that stopped), or it never gave a
/// narrow range.
pub fn measure_tsc_khz(
    hz: u64,
    tsc_limit: u64,
    mut read: impl FnMut() -> Option<CounterReading>,
) -> Option<(u64, u64)> {
    if hz == 0 {
        return None;
    }
    let width = |r: &CounterReading| r.tsc_after.saturating_sub(r.tsc_before);
    let mut first = read()?;
    for _ in 1..FIRST_READINGS {
        let r = read()?;
        if width(&r) < width(&first) {
            first = r;
        }
    }
    let (least_ticks, most_ticks) = (hz * MEASURE_MS / 1000, hz * MEASURE_MAX_MS / 1000);
    loop {
        let r = read()?;
        let ticks = r.ticks.checked_sub(first.ticks)?;
        if ticks >= least_ticks {
            if let Some((least, most)) = tsc_khz_between(first, r, hz) {
                if (most - least) * MEASURE_NARROW <= most {
                    return Some((least, most));
                }
            }
        }
        if ticks > most_ticks || r.tsc_after.saturating_sub(first.tsc_before) > tsc_limit {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tsc_rate_is_bounded_by_when_each_count_was_read() {
        // 2 GHz, 23,864 PIT ticks (20 ms) apart, each read within 1 µs.
        let at = |us: u64, ticks: u64| CounterReading { tsc_before: us * 2000, ticks, tsc_after: (us + 1) * 2000 };
        let (least, most) = tsc_khz_between(at(0, 100), at(20_000, 100 + 23_864), PIT_HZ).unwrap();
        assert!(least <= 2_000_000 && most >= 2_000_000, "{least}..{most}");
        assert!(most - least < 400, "{least}..{most}: 0.02 %");
        // Descheduled after the first read: the range widens but holds.
        let slow = CounterReading { tsc_after: 5_000 * 2000, ..at(0, 100) };
        let (least, most) = tsc_khz_between(slow, at(20_000, 100 + 23_864), PIT_HZ).unwrap();
        assert!(least <= 2_000_000 && most >= 2_000_000 && most - least > 400_000);
        // A counter of 100 MHz (QEMU's HPET) over 10 ms.
        let (least, most) = tsc_khz_between(at(0, 0), at(10_000, 1_000_000), 100_000_000).unwrap();
        assert!(least <= 2_000_000 && most >= 2_000_000 && most - least < 800, "{least}..{most}");
        // No ticks, a count that went back (a wrap), time that went back.
        assert_eq!(tsc_khz_between(at(0, 100), at(10, 100), PIT_HZ), None);
        assert_eq!(tsc_khz_between(at(0, 200), at(10, 100), PIT_HZ), None);
        assert_eq!(tsc_khz_between(at(10, 100), at(0, 200), PIT_HZ), None);
    }

    /// A machine of `mhz` reading a 100 MHz counter, each reading taking
    /// `cost_ns`, and descheduled for `pause_ms` before every reading in
    /// `paused` (by index).
    fn machine(
        mhz: u64,
        cost_ns: u64,
        pause_ms: u64,
        paused: impl Fn(usize) -> bool,
    ) -> impl FnMut() -> Option<CounterReading> {
        let (mut ns, mut i) = (0u64, 0usize);
        move || {
            if paused(i) {
                ns += pause_ms * 1_000_000;
            }
            i += 1;
            let before = ns * mhz / 1000;
            ns += cost_ns / 2;
            let ticks = ns / 10;
            // Descheduled in the middle of a reading, now and then.
            if paused(i + 1_000_000) {
                ns += pause_ms * 1_000_000;
            }
            ns += cost_ns / 2;
            Some(CounterReading { tsc_before: before, ticks, tsc_after: ns * mhz / 1000 })
        }
    }

    #[test]
    fn a_measure_against_a_counter_outlasts_a_host_that_takes_the_processor_away() {
        let within = |(least, most): (u64, u64), khz: u64| least <= khz && khz <= most && (most - least) * 2000 <= most;
        // Alone on the host: 10 ms.
        assert!(within(measure_tsc_khz(100_000_000, u64::MAX, machine(2596, 500, 0, |_| false)).unwrap(), 2_596_000));
        // Descheduled for 90 ms before every 50th reading, and in the
        // middle of every 7th: still the rate, to 0.05 %.
        let busy = machine(2596, 500, 90, |i| if i >= 1_000_000 { (i - 1_000_000) % 7 == 3 } else { i % 50 == 49 });
        assert!(within(measure_tsc_khz(100_000_000, u64::MAX, busy).unwrap(), 2_596_000));
        // Every reading descheduled in its middle: never narrow, given up.
        let hopeless = machine(2596, 500, 200, |i| i >= 1_000_000);
        assert_eq!(measure_tsc_khz(100_000_000, u64::MAX, hopeless), None);
        // A counter that stands still, stops after a few ticks, goes back,
        // or has no rate.
        let mut t = 0;
        let still = || {
            t += 1000;
            Some(CounterReading { tsc_before: t, ticks: 5, tsc_after: t + 10 })
        };
        assert_eq!(measure_tsc_khz(100_000_000, 1_000_000, still), None);
        let mut t = 0;
        let stops = || {
            t += 1000;
            Some(CounterReading { tsc_before: t, ticks: (t / 1000).min(50), tsc_after: t + 10 })
        };
        assert_eq!(measure_tsc_khz(100_000_000, 1_000_000, stops), None);
        assert_eq!(measure_tsc_khz(0, 1_000_000, machine(2596, 500, 0, |_| false)), None);
        let mut n = 100;
        let back = || {
            n -= 1;
            Some(CounterReading { tsc_before: 0, ticks: n, tsc_after: 0 })
        };
        assert_eq!(measure_tsc_khz(100_000_000, u64::MAX, back), None);
    }
    use alloc::string::ToString;

    #[test]
    fn known_dates() {
        assert_eq!(Civil::from_unix(0).to_string(), "Thu Jan  1 00:00:00 UTC 1970");
        // 2000-02-29, a leap day of a year divisible by 400.
        let leap = Civil { year: 2000, month: 2, day: 29, hour: 12, minute: 34, second: 56 };
        assert_eq!(leap.to_unix(), Some(951_827_696));
        assert_eq!(Civil::from_unix(951_827_696), leap);
        assert_eq!(leap.to_string(), "Tue Feb 29 12:34:56 UTC 2000");
        assert_eq!(Civil::from_unix(1_796_334_005).to_string(), "Thu Dec  3 21:40:05 UTC 2026");
        // Past 2038 and before 1970.
        assert_eq!(Civil::from_unix(4_102_444_800).to_string(), "Fri Jan  1 00:00:00 UTC 2100");
        assert_eq!(Civil::from_unix(-1).to_string(), "Wed Dec 31 23:59:59 UTC 1969");
    }

    #[test]
    fn every_day_of_four_centuries_round_trips() {
        let (mut secs, end) = (days_from_civil(1900, 1, 1) * DAY, days_from_civil(2300, 1, 1) * DAY);
        while secs < end {
            assert_eq!(Civil::from_unix(secs).to_unix(), Some(secs));
            secs += DAY + 3661;
        }
    }

    #[test]
    fn impossible_dates_are_refused() {
        let d = |year, month, day| Civil { year, month, day, hour: 0, minute: 0, second: 0 }.to_unix();
        assert_eq!(d(1900, 2, 29), None);
        assert!(d(2024, 2, 29).is_some());
        assert_eq!(d(2026, 4, 31), None);
        assert_eq!(d(2026, 13, 1), None);
        assert_eq!(d(2026, 1, 0), None);
    }

    #[test]
    fn cmos_registers_in_bcd_and_binary() {
        // 2026-12-03 21:40:05, BCD, 24-hour, century register 20.
        let bcd = [0x05, 0x40, 0x21, 0x03, 0x12, 0x26, 0x20, 0x02];
        assert_eq!(from_rtc(bcd), Some(1_796_334_005));
        let binary = [5, 40, 21, 3, 12, 26, 20, 0x06];
        assert_eq!(from_rtc(binary), Some(1_796_334_005));
        // 12-hour mode: 9 PM; 12 AM is midnight.
        let pm = [0x05, 0x40, 0x89, 0x03, 0x12, 0x26, 0x20, 0x00];
        assert_eq!(from_rtc(pm), Some(1_796_334_005));
        let midnight = [0, 0, 0x12, 0x03, 0x12, 0x26, 0x20, 0x00];
        assert_eq!(
            from_rtc(midnight),
            Civil { year: 2026, month: 12, day: 3, hour: 0, minute: 0, second: 0 }.to_unix()
        );
        // No century register: this century.
        let no_century = [0x05, 0x40, 0x21, 0x03, 0x12, 0x26, 0x00, 0x02];
        assert_eq!(from_rtc(no_century), Some(1_796_334_005));
        // Garbage: no date.
        assert_eq!(from_rtc([0xff; 8]), None);
        assert_eq!(from_rtc([0x05, 0x40, 0x21, 0x31, 0x02, 0x26, 0x20, 0x02]), None);
    }
}

//! The time stamp counter's rate, measured at boot against the PIT's
//! channel 2 (before any program is granted the PIT: devfs takes channel
//! 0 for its timer). The kernel's figure comes from one short PIT wrap
//! and, under an emulator whose host deschedules it meanwhile, was off by
//! up to 2 x (1,255 to 3,936 MHz on the nodes of one cluster): a node
//! whose clock ran at half speed beat every 1.5 s and looked suspect to
//! the others, and all its timeouts were twice as long.
//!
//! Linux's `pit_calibrate_tsc` does much the same. Each try counts down
//! 20 ms on channel 2 and reads the count at both ends between two time
//! stamps (`libux::time::tsc_khz_between`); a try whose range is wider
//! than 0.2 % (the host took the processor away while we read) is tried
//! again.

use libux::sel4::IoPort;
use libux::time::{tsc_khz_between, PitReading, PIT_CHANNEL_2 as CHANNEL_2, PIT_COMMAND as COMMAND, PIT_HZ};

/// Bit 0: channel 2's gate; bit 1: the speaker; bit 5 (read): its output.
const SPEAKER: u16 = 0x61;
/// Channel 2, low byte then high, mode 0 (count down once), binary.
const MODE_0: u8 = 0b1011_0000;
/// Channel 2's count latched for reading.
const LATCH: u8 = 0b1000_0000;
/// Set (read from `SPEAKER`) once mode 0 reached its end: a wrap.
const OUT2: u8 = 1 << 5;
/// One try: 20 ms of PIT ticks (of the 54.9 ms one count down holds).
const TICKS: u16 = (PIT_HZ / 50) as u16;
const TRIES: usize = 10;
/// A try is kept if its range is this narrow, in parts of its rate.
const NARROW: u64 = 500;
/// How long a try may take, in milliseconds at the kernel's rate (the
/// 55 ms of one count down, at a rate off by 2 x, and more): a PIT that
/// never counts (no gate, a machine without one) ends it.
const TRY_MS: u64 = 200;

fn reading(port: IoPort, tsc: &impl Fn() -> u64) -> Option<(PitReading, bool)> {
    let tsc_before = tsc();
    port.out8(COMMAND, LATCH).ok()?;
    let low = port.in8(CHANNEL_2).ok()?;
    let high = port.in8(CHANNEL_2).ok()?;
    let wrapped = port.in8(SPEAKER).ok()? & OUT2 != 0;
    let tsc_after = tsc();
    Some((PitReading { tsc_before, count: u16::from_le_bytes([low, high]), tsc_after }, wrapped))
}

/// One try: the range of rates (kHz) it allows, if the count did not wrap
/// and moved in time (`kernel_mhz` bounds the wait).
fn try_once(port: IoPort, tsc: &impl Fn() -> u64, kernel_mhz: u64) -> Option<(u64, u64)> {
    let gate = port.in8(SPEAKER).ok()?;
    port.out8(SPEAKER, (gate & !0x02) | 0x01).ok()?;
    port.out8(COMMAND, MODE_0).ok()?;
    port.out8(CHANNEL_2, 0xff).ok()?;
    port.out8(CHANNEL_2, 0xff).ok()?;
    let deadline = tsc().saturating_add(kernel_mhz.max(1) * 1000 * TRY_MS);
    // The count is loaded at the clock after it is written: the first
    // reading is one of it counting.
    let first = loop {
        let (r, _) = reading(port, tsc)?;
        if r.count < 0xffff {
            break r;
        }
        if r.tsc_after > deadline {
            return None;
        }
    };
    loop {
        let (now, wrapped) = reading(port, tsc)?;
        if wrapped || now.count > first.count || now.tsc_after > deadline {
            return None;
        }
        if first.count - now.count >= TICKS {
            return tsc_khz_between(first, now);
        }
    }
}

/// The TSC's rate in MHz, and whether it was measured (else the kernel's
/// `fallback`, when no try was narrow enough or the ports failed).
pub fn measure(port: IoPort, tsc: impl Fn() -> u64, fallback: u64) -> (u64, bool) {
    let mut best: Option<(u64, u64)> = None;
    for _ in 0..TRIES {
        let Some((least, most)) = try_once(port, &tsc, fallback) else { continue };
        if best.is_none_or(|(l, m)| most - least < m - l) {
            best = Some((least, most));
        }
        if (most - least) * NARROW <= most {
            break;
        }
    }
    match best {
        Some((least, most)) if (most - least) * NARROW <= most => (((least + most) / 2 + 500) / 1000, true),
        _ => (fallback, false),
    }
}

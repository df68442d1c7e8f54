//! The time stamp counter's rate, measured at boot before any program is
//! granted the devices: against the HPET's main counter when the machine
//! has one, else against the PIT's channel 2 (devfs takes channel 0 for
//! its timer). The kernel's figure comes from one short PIT wrap and,
//! under an emulator whose host deschedules it meanwhile, was off by up
//! to 6 x (2,596 MHz measured, 16,630 said, on one node of 64): a node
//! whose clock ran slow beat every 1.5 to 4.8 s instead of 0.75 and
//! looked suspect to the others, and all its timeouts were as long.
//!
//! The HPET's counter does not wrap for years, so the host may take the
//! processor away between two readings for as long as it likes: the
//! measure (`libux::time::measure_tsc_khz`) goes on until a narrow
//! reading 10 ms or more after a narrow first one allows a range of
//! 0.05 %. The PIT's count down wraps in 55 ms, which a host running 64
//! machines on 2 processors often spends elsewhere: 11 of 64 nodes got
//! no narrow try in 10 and kept the kernel's figure.
//!
//! Against the PIT (as Linux's `pit_calibrate_tsc`): each try counts down
//! 20 ms on channel 2 and reads the count at both ends between two time
//! stamps (`libux::time::tsc_khz_between`); a try whose range is wider
//! than 0.2 % is tried again.

use crate::life::Life;
use libux::hpet::{self, Registers};
use libux::sel4::{IoPort, Page};
use libux::time::{measure_tsc_khz, tsc_khz_between, CounterReading};
use libux::time::{PIT_CHANNEL_2 as CHANNEL_2, PIT_COMMAND as COMMAND, PIT_HZ};

/// What the TSC's rate was measured against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Hpet,
    Pit,
    /// Neither gave a steady reading: the kernel's figure.
    Kernel,
}

impl Source {
    pub fn describe(self) -> &'static str {
        match self {
            Source::Hpet => "measured against the HPET",
            Source::Pit => "measured against the PIT",
            Source::Kernel => "the kernel's: neither HPET nor PIT gave a steady reading",
        }
    }
}

/// The TSC's rate in MHz, and what it was measured against (the kernel's
/// `fallback` when nothing else served).
pub fn measure(life: &mut Life, port: IoPort, tsc: impl Fn() -> u64, fallback: u64) -> (u64, Source) {
    let mhz = |(least, most): (u64, u64)| ((least + most) / 2 + 500) / 1000;
    if let Some(range) = against_hpet(life, &tsc, fallback) {
        return (mhz(range), Source::Hpet);
    }
    match against_pit(port, &tsc, fallback) {
        Some(range) => (mhz(range), Source::Pit),
        None => (fallback, Source::Kernel),
    }
}

/// The range (kHz) the HPET's counter allows, if the machine has one: its
/// page is borrowed from the device memory and given back, counter
/// stopped as it was, for devfs's grant.
fn against_hpet(life: &mut Life, tsc: &impl Fn() -> u64, kernel_mhz: u64) -> Option<(u64, u64)> {
    let page = life.devices.page(&mut life.kernel.mem, hpet::PADDR).ok()?;
    let range = life.kernel.with_device(Page(page.frame), |base| {
        // SAFETY: `with_device` maps the page uncached while `look` runs.
        let mut regs = unsafe { hpet::Mmio::new(base) };
        let hz = hpet::FS_PER_SECOND / hpet::period_fs(regs.read(hpet::CAPABILITIES))?;
        let config = regs.read(hpet::CONFIG);
        regs.write(hpet::CONFIG, config | hpet::ENABLE);
        // A measure that lasts 4 s at the kernel's rate (which was off by
        // 6 x at worst, either way) is against no clock: one that stopped.
        let limit = kernel_mhz.max(1) * 4_000_000;
        let range = measure_tsc_khz(hz, limit, || {
            let tsc_before = tsc();
            let ticks = hpet::counter(&regs);
            Some(CounterReading { tsc_before, ticks, tsc_after: tsc() })
        });
        regs.write(hpet::CONFIG, config);
        range
    });
    life.devices.release(&mut life.kernel.mem, page, hpet::PADDR);
    range.ok().flatten()
}

/// Bit 0: channel 2's gate; bit 1: the speaker; bit 5 (read): its output.
const SPEAKER: u16 = 0x61;
/// Channel 2, low byte then high, mode 0 (count down once), binary.
const MODE_0: u8 = 0b1011_0000;
/// Channel 2's count latched for reading.
const LATCH: u8 = 0b1000_0000;
/// Set (read from `SPEAKER`) once mode 0 reached its end: a wrap.
const OUT2: u8 = 1 << 5;
/// One try: 20 ms of PIT ticks (of the 54.9 ms one count down holds).
const TICKS: u64 = PIT_HZ / 50;
const TRIES: usize = 10;
/// A try is kept if its range is this narrow, in parts of its rate.
const NARROW: u64 = 500;
/// How long a try may take, in milliseconds at the kernel's rate (the
/// 55 ms of one count down, at a rate off by 2 x, and more): a PIT that
/// never counts (no gate, a machine without one) ends it.
const TRY_MS: u64 = 200;

/// A reading of channel 2 counting down from 0xffff, as ticks since it
/// was loaded, and whether it wrapped.
fn reading(port: IoPort, tsc: &impl Fn() -> u64) -> Option<(CounterReading, bool)> {
    let tsc_before = tsc();
    port.out8(COMMAND, LATCH).ok()?;
    let low = port.in8(CHANNEL_2).ok()?;
    let high = port.in8(CHANNEL_2).ok()?;
    let wrapped = port.in8(SPEAKER).ok()? & OUT2 != 0;
    let tsc_after = tsc();
    let ticks = u64::from(0xffff - u16::from_le_bytes([low, high]));
    Some((CounterReading { tsc_before, ticks, tsc_after }, wrapped))
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
        if r.ticks > 0 {
            break r;
        }
        if r.tsc_after > deadline {
            return None;
        }
    };
    loop {
        let (now, wrapped) = reading(port, tsc)?;
        if wrapped || now.ticks < first.ticks || now.tsc_after > deadline {
            return None;
        }
        if now.ticks - first.ticks >= TICKS {
            return tsc_khz_between(first, now, PIT_HZ);
        }
    }
}

/// The range (kHz) of the first of a few tries against the PIT narrow
/// enough, if one was.
fn against_pit(port: IoPort, tsc: &impl Fn() -> u64, kernel_mhz: u64) -> Option<(u64, u64)> {
    (0..TRIES).find_map(|_| try_once(port, tsc, kernel_mhz).filter(|&(least, most)| (most - least) * NARROW <= most))
}

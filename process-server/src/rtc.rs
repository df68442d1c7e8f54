//! The CMOS real-time clock, read once at boot (before any program is
//! granted its ports: netstack takes them for its periodic interrupt):
//! the wall-clock time `Request::Stats` answers with, counted on from
//! there with the time stamp counter. The registers' meaning is in
//! `libux::time`.

use libux::sel4::IoPort;
use libux::time::{self, RTC_REGISTERS};

const INDEX: u16 = 0x70;
const DATA: u16 = 0x71;
/// Status register A; its top bit is set while the clock updates.
const STATUS_A: u8 = 0x0a;
/// Set in the index: keep non-maskable interrupts off while we read.
const NMI_OFF: u8 = 0x80;

/// The wall-clock time at one moment: seconds since the epoch, and the
/// time stamp counter then.
#[derive(Clone, Copy, Debug)]
pub struct WallClock {
    pub unix: i64,
    pub tsc: u64,
}

impl WallClock {
    /// Seconds since the epoch at time stamp `now`.
    pub fn at(&self, now: u64, tsc_mhz: u64) -> i64 {
        self.unix + (now.saturating_sub(self.tsc) / (tsc_mhz.max(1) * 1_000_000)) as i64
    }
}

fn register(port: IoPort, reg: u8) -> Option<u8> {
    port.out8(INDEX, NMI_OFF | reg).ok()?;
    port.in8(DATA).ok()
}

fn registers(port: IoPort) -> Option<[u8; 8]> {
    let mut r = [0; 8];
    for (value, reg) in r.iter_mut().zip(RTC_REGISTERS) {
        *value = register(port, reg)?;
    }
    Some(r)
}

/// Reads the clock: outside an update, twice alike (an update may start
/// between our reads); `None` if it never settles or makes no date.
pub fn read(port: IoPort, tsc: impl Fn() -> u64) -> Option<WallClock> {
    for _ in 0..1000 {
        if register(port, STATUS_A)? & 0x80 != 0 {
            continue;
        }
        let (first, at) = (registers(port)?, tsc());
        if registers(port)? == first {
            return Some(WallClock { unix: time::from_rtc(first)?, tsc: at });
        }
    }
    None
}

//! `sleep SECONDS`: waits that long (decimals allowed, to the clock's
//! 10 ms), by a write to `/dev/sleep`.
#![no_std]
#![no_main]

extern crate alloc;

use libux::fs::client::open;
use libux::fs::flags;

libux::entry!(main);

/// Milliseconds in a decimal number of seconds like `2` or `0.25`.
fn millis(text: &str) -> Option<u64> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if frac.len() > 3 || (whole.is_empty() && frac.is_empty()) {
        return None;
    }
    let whole: u64 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let frac: u64 = if frac.is_empty() { 0 } else { frac.parse::<u64>().ok()? * 10u64.pow(3 - frac.len() as u32) };
    whole.checked_mul(1000)?.checked_add(frac)
}

fn main() -> i32 {
    let args = libux::rt::args();
    let Some(ms) = args.get(1).filter(|_| args.len() == 2).and_then(|a| millis(a)) else {
        return utils::usage("sleep SECONDS");
    };
    let r = open("/dev/sleep", flags::WRITE).and_then(|mut f| f.write(alloc::format!("{ms}").as_bytes()));
    match r {
        Ok(_) => 0,
        Err(e) => utils::fail("sleep", "/dev/sleep", e),
    }
}

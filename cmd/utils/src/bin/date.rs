//! `date [-n]`: the date and time, UTC, as `Thu Dec  3 21:40:05 UTC 2026`;
//! with `-n`, seconds since 1970-01-01 UTC. The clock is the node's CMOS
//! clock as the process server read it at boot, counted on since.
#![no_std]
#![no_main]

extern crate alloc;

use libux::time::Civil;

libux::entry!(main);

const USAGE: &str = "date [-n]";

fn main() -> i32 {
    let args = libux::rt::args();
    let seconds = match args.get(1..) {
        Some([]) => false,
        Some(["-n"]) => true,
        _ => return utils::usage(USAGE),
    };
    let now = match libux::process::stats() {
        Ok(s) => s.unix_time,
        Err(e) => return utils::fail("date", "stats", e),
    };
    let Some(now) = now else {
        libux::eprintln!("date: the node has no clock (its CMOS clock could not be read at boot)");
        return 1;
    };
    let text = if seconds { alloc::format!("{now}\n") } else { alloc::format!("{}\n", Civil::from_unix(now)) };
    utils::print("date", &text)
}

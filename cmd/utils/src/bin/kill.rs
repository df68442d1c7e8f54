//! `kill [-stop|-cont] PID...`: ends (or stops, or continues) processes by
//! writing to their `/proc/<pid>/ctl`.
#![no_std]
#![no_main]

extern crate alloc;

use libux::fs::client::open;
use libux::fs::flags;

libux::entry!(main);

const USAGE: &str = "kill [-stop|-cont] PID...";

fn main() -> i32 {
    let args = libux::rt::args();
    let (word, pids) = match args.get(1) {
        Some(&"-stop") => ("stop", &args[2..]),
        Some(&"-cont") => ("cont", &args[2..]),
        _ => ("kill", &args[1..]),
    };
    if pids.is_empty() || pids.iter().any(|p| p.parse::<u32>().is_err()) {
        return utils::usage(USAGE);
    }
    let mut status = 0;
    for pid in pids {
        let r = open(&alloc::format!("/proc/{pid}/ctl"), flags::WRITE).and_then(|mut f| f.write(word.as_bytes()));
        if let Err(e) = r {
            status = utils::fail("kill", pid, e);
        }
    }
    status
}

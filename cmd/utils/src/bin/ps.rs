//! `ps`: every process, from `/proc/ps` (the status lines of
//! `/proc/<pid>/status`; formats in `libux::procfs`), one a line under a
//! header.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use libux::procfs::{status_lines, Status};

libux::entry!(main);

fn main() -> i32 {
    if let Some(status) = utils::no_arguments("ps") {
        return status;
    }
    let lines = match status_lines("/proc") {
        Ok(l) => l,
        Err(e) => return utils::fail("ps", "/proc", e),
    };
    let mut text = format!("{:>8} {:>8} {:<12} {:>9} NAME\n", "PID", "PPID", "STATE", "MEMORY");
    for s in lines.iter().filter_map(|l| Status::parse(l)) {
        text.push_str(&format!("{:>8} {:>8} {:<12} {:>9} {}\n", s.pid, s.ppid, s.state, s.memory, s.name));
    }
    utils::print("ps", &text)
}

//! `ps`: every process, from `/proc/<pid>/status` (format in
//! `libux::procfs`), one a line under a header.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use libux::fs::client::{list, open};
use libux::fs::flags;
use libux::procfs::Status;

libux::entry!(main);

fn main() -> i32 {
    if let Some(status) = utils::no_arguments("ps") {
        return status;
    }
    let entries = match list("/proc") {
        Ok(e) => e,
        Err(e) => return utils::fail("ps", "/proc", e),
    };
    let mut pids: alloc::vec::Vec<u32> = entries.iter().filter_map(|m| m.name.parse().ok()).collect();
    pids.sort_unstable();
    let mut text = format!("{:>5} {:>5} {:<12} {:>9} NAME\n", "PID", "PPID", "STATE", "MEMORY");
    for pid in pids {
        // A process may end between the listing and the read.
        let Ok(bytes) = open(&format!("/proc/{pid}/status"), flags::READ).and_then(|mut f| f.read_to_end()) else {
            continue;
        };
        let line = core::str::from_utf8(&bytes).unwrap_or("");
        if let Some(s) = Status::parse(line) {
            text.push_str(&format!("{:>5} {:>5} {:<12} {:>9} {}\n", s.pid, s.ppid, s.state, s.memory, s.name));
        }
    }
    utils::print("ps", &text)
}

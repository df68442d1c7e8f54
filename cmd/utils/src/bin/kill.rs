//! `kill [-stop|-cont] PID...`: ends (or stops, or continues) processes
//! through the process API (`Kill`, `Stop`, `Cont`). A pid is this
//! node's; a cluster-wide id (what `cps` shows, above 65535) names a
//! process of any node: this node's process server takes its own, and
//! another node's goes through the cluster server (`libux::process`).
#![no_std]
#![no_main]

extern crate alloc;

use libux::process;
use libux::rpc::{Errno, Pid};

libux::entry!(main);

const USAGE: &str = "kill [-stop|-cont] PID...";

/// What is done to each process.
type Act = fn(Pid) -> Result<(), Errno>;

fn main() -> i32 {
    let args = libux::rt::args();
    let (act, pids): (Act, _) = match args.get(1) {
        Some(&"-stop") => (process::stop, &args[2..]),
        Some(&"-cont") => (process::cont, &args[2..]),
        _ => (process::kill, &args[1..]),
    };
    if pids.is_empty() || pids.iter().any(|p| p.parse::<u32>().is_err()) {
        return utils::usage(USAGE);
    }
    let mut status = 0;
    for pid in pids {
        if let Err(e) = act(pid.parse().expect("checked")) {
            status = utils::fail("kill", pid, e);
        }
    }
    status
}

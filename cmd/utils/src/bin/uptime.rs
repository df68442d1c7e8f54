//! `uptime`: how long the node's clock has run (`/dev/time`), its
//! processes and its load (processes running), from the process server.
#![no_std]
#![no_main]

extern crate alloc;

use libux::fs::client::open;
use libux::fs::flags;
use libux::rpc::Errno;

libux::entry!(main);

const TIME: &str = "/dev/time";

fn millis() -> Result<u64, Errno> {
    let text = open(TIME, flags::READ)?.read_to_end()?;
    core::str::from_utf8(&text).ok().and_then(|t| t.trim().parse().ok()).ok_or(Errno::BadRequest)
}

fn main() -> i32 {
    if let Some(status) = utils::no_arguments("uptime") {
        return status;
    }
    let ms = match millis() {
        Ok(ms) => ms,
        Err(e) => return utils::fail("uptime", TIME, e),
    };
    let stats = match libux::process::stats() {
        Ok(s) => s,
        Err(e) => return utils::fail("uptime", "stats", e),
    };
    let s = ms / 1000;
    let line = alloc::format!(
        "up {}:{:02}:{:02}.{:03}, {} processes, load {}\n",
        s / 3600,
        s / 60 % 60,
        s % 60,
        ms % 1000,
        stats.resources.processes,
        stats.running
    );
    utils::print("uptime", &line)
}

//! `kill [-stop|-cont] PID...`: ends (or stops, or continues) processes by
//! writing to their `/proc/<pid>/ctl`; a cluster-wide id (what `cps`
//! shows) reaches its process on any node through
//! `/proc/cluster/<gpid>/ctl`.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use libux::cluster::{self, Gpid};
use libux::fs::client::open;
use libux::fs::flags;
use libux::rpc::Errno;

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
        let r = ctl(pid).and_then(|path| open(&path, flags::WRITE)).and_then(|mut f| f.write(word.as_bytes()));
        if let Err(e) = r {
            status = utils::fail("kill", pid, e);
        }
    }
    status
}

/// The `ctl` file of `pid`: a local pid's (or this node's gpid's) in
/// `/proc`, so that we act with our own authority; another node's gpid's
/// (above 65535, see `libux::cluster::Gpid`) in `/proc/cluster`.
fn ctl(pid: &str) -> Result<String, Errno> {
    let n: u32 = pid.parse().map_err(|_| Errno::InvalidArgument)?;
    if n <= libux::rpc::PID_MAX {
        return Ok(format!("/proc/{n}/ctl"));
    }
    let gpid = Gpid::parse(pid).ok_or(Errno::NoSuchProcess)?;
    if gpid.node() == Some(cluster::own_node()?) {
        return Ok(format!("/proc/{}/ctl", gpid.pid()));
    }
    Ok(format!("/proc/cluster/{gpid}/ctl"))
}

//! `cnodes`: the cluster's nodes, from `/proc/cluster/nodes` (format in
//! `libux::cluster`), one a line under a header, memory in MiB.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use libux::cluster::NodeLine;
use libux::fs::client::open;
use libux::fs::flags;

libux::entry!(main);

use libux::cluster::NODES;

fn main() -> i32 {
    if let Some(status) = utils::no_arguments("cnodes") {
        return status;
    }
    let bytes = match open(NODES, flags::READ).and_then(|mut f| f.read_to_end()) {
        Ok(b) => b,
        Err(e) => return utils::fail("cnodes", NODES, e),
    };
    let mut text = format!(
        "{:>5} {:<12} {:<16} {:<8} {:>4} {:>5} {:>8} FEATURES\n",
        "NODE", "NAME", "ADDRESS", "STATE", "LOAD", "PROCS", "FREE MiB"
    );
    for line in core::str::from_utf8(&bytes).unwrap_or("").lines() {
        let Some(n) = NodeLine::parse(line) else {
            libux::eprintln!("cnodes: {NODES}: not a node line: {line:?}");
            return 1;
        };
        let ip = n.addr.ip;
        let features = if n.features.is_empty() { "-" } else { &n.features };
        text.push_str(&format!(
            "{:>5} {:<12} {:<16} {:<8} {:>4} {:>5} {:>8} {features}\n",
            n.node.0,
            n.name,
            format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3]),
            n.state.word(),
            n.load,
            n.processes,
            n.free_kib >> 10,
        ));
    }
    utils::print("cnodes", &text)
}

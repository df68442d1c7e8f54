//! `cps`: every process of the cluster, one a line under a header: its
//! gpid, node, parent's gpid, state, memory and name, from
//! `/proc/cluster/ps` (the cluster server reads every node's `/proc`;
//! formats in `libux::cluster`). A node that is down is named on standard
//! error; the processes it had when last seen are listed as `lost`.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use libux::cluster::{self, NodeState, PsLine};
use libux::fs::client::open;
use libux::fs::flags;

libux::entry!(main);

const PS: &str = "/proc/cluster/ps";

fn main() -> i32 {
    if let Some(status) = utils::no_arguments("cps") {
        return status;
    }
    let nodes = match cluster::nodes() {
        Ok(n) => n,
        Err(e) => return utils::fail("cps", cluster::NODES, e),
    };
    for n in nodes.iter().filter(|n| n.state.is_down()) {
        let how = if n.state == NodeState::Left { "left the cluster" } else { "is down" };
        libux::eprintln!("cps: node {} ({}) {how}", n.node, n.name);
    }
    let bytes = match open(PS, flags::READ).and_then(|mut f| f.read_to_end()) {
        Ok(b) => b,
        Err(e) => return utils::fail("cps", PS, e),
    };
    let mut text = format!("{:>10} {:>5} {:>10} {:<12} {:>9} NAME\n", "GPID", "NODE", "PGPID", "STATE", "MEMORY");
    for l in core::str::from_utf8(&bytes).unwrap_or("").lines().filter_map(PsLine::parse) {
        text.push_str(&format!(
            "{:>10} {:>5} {:>10} {:<12} {:>9} {}\n",
            l.gpid, l.node, l.parent, l.state, l.memory, l.name
        ));
    }
    utils::print("cps", &text)
}

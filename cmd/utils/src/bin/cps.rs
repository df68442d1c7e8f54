//! `cps`: every process of the cluster, one a line under a header: its
//! gpid, node, parent's gpid, state, memory and name (gpids and formats
//! in `libux::cluster` and `libux::procfs`). This node's come from
//! `/proc`, each other node's that is up from its `/proc` at
//! `/n/nodeN/proc` (the cluster server mounts every node it admits); a
//! node that is down or cannot be read is named on standard error.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use libux::cluster::{self, Gpid, NodeId, NodeState};
use libux::fs::client::{list, open};
use libux::fs::flags;
use libux::procfs::Status;

libux::entry!(main);

/// The processes of `node`, whose `/proc` is at `dir`, as lines.
fn processes(node: NodeId, dir: &str) -> Result<Vec<String>, libux::rpc::Errno> {
    let mut pids: Vec<u32> = list(dir)?.iter().filter_map(|m| m.name.parse().ok()).collect();
    pids.sort_unstable();
    let mut out = Vec::new();
    for pid in pids {
        // A process may end between the listing and the read.
        let Ok(bytes) = open(&format!("{dir}/{pid}/status"), flags::READ).and_then(|mut f| f.read_to_end()) else {
            continue;
        };
        let line = String::from_utf8_lossy(&bytes);
        let Some(s) = Status::parse(&line) else { continue };
        let gpid = |p| Gpid::new(node, p).map_or(String::from("-"), |g| format!("{g}"));
        out.push(format!(
            "{:>10} {:>5} {:>10} {:<12} {:>9} {}\n",
            gpid(s.pid),
            node,
            gpid(s.ppid),
            s.state,
            s.memory,
            s.name
        ));
    }
    Ok(out)
}

fn main() -> i32 {
    if libux::rt::args().len() > 1 {
        return utils::usage("cps");
    }
    let own = match cluster::own_node() {
        Ok(n) => n,
        Err(e) => return utils::fail("cps", cluster::SELF, e),
    };
    let nodes = match cluster::nodes() {
        Ok(n) => n,
        Err(e) => return utils::fail("cps", cluster::NODES, e),
    };
    let mut text = format!("{:>10} {:>5} {:>10} {:<12} {:>9} NAME\n", "GPID", "NODE", "PGPID", "STATE", "MEMORY");
    let mut status = 0;
    for n in &nodes {
        if n.state == NodeState::Down {
            libux::eprintln!("cps: node {} ({}) is down", n.node, n.name);
            continue;
        }
        let dir = cluster::proc_dir(n.node, own);
        match processes(n.node, &dir) {
            Ok(lines) => lines.iter().for_each(|l| text.push_str(l)),
            Err(e) => {
                libux::eprintln!("cps: node {}: {dir}: {e}", n.node);
                status = 1;
            }
        }
    }
    match utils::out(text.as_bytes()) {
        Ok(()) => status,
        Err(e) => utils::fail("cps", "write", e),
    }
}

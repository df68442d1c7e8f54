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
use libux::cluster::{mount_point, Gpid, NodeId, NodeLine, NodeState};
use libux::fs::client::{list, open};
use libux::fs::flags;
use libux::procfs::Status;

libux::entry!(main);

fn read(path: &str) -> Result<String, libux::rpc::Errno> {
    let bytes = open(path, flags::READ).and_then(|mut f| f.read_to_end())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The processes of `node`, whose `/proc` is at `dir`, as lines.
fn processes(node: NodeId, dir: &str) -> Result<Vec<String>, libux::rpc::Errno> {
    let mut pids: Vec<u32> = list(dir)?.iter().filter_map(|m| m.name.parse().ok()).collect();
    pids.sort_unstable();
    let mut out = Vec::new();
    for pid in pids {
        // A process may end between the listing and the read.
        let Ok(line) = read(&format!("{dir}/{pid}/status")) else { continue };
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
    let own = match read("/proc/cluster/self").map(|t| NodeId::parse(t.trim())) {
        Ok(Some(n)) => n,
        Ok(None) => return utils::fail("cps", "/proc/cluster/self", libux::rpc::Errno::BadRequest),
        Err(e) => return utils::fail("cps", "/proc/cluster/self", e),
    };
    let nodes = match read("/proc/cluster/nodes") {
        Ok(t) => t.lines().filter_map(NodeLine::parse).collect::<Vec<_>>(),
        Err(e) => return utils::fail("cps", "/proc/cluster/nodes", e),
    };
    let mut text = format!("{:>10} {:>5} {:>10} {:<12} {:>9} NAME\n", "GPID", "NODE", "PGPID", "STATE", "MEMORY");
    let mut status = 0;
    for n in &nodes {
        if n.state == NodeState::Down {
            libux::eprintln!("cps: node {} ({}) is down", n.node, n.name);
            continue;
        }
        let dir = if n.node == own { String::from("/proc") } else { format!("{}/proc", mount_point(n.node)) };
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

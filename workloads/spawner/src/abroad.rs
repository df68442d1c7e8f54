//! `abroad NODES N`: N children, placed by turns on nodes 1..=NODES (ours
//! among them), each exiting with a distinct status, collected with
//! waits for any child: every status must come back exactly once, from
//! a child of the node it was placed on, and then no child is left. A
//! child killed on another node is collected the same way.

use crate::err;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use libux::cluster::{Gpid, NodeId, Place};
use libux::process::{self, spawn_placed, wait};
use libux::rpc::{End, Errno};

pub fn abroad(nodes: u16, n: u32) -> Result<String, String> {
    let node_of = |i: u32| NodeId((i % u32::from(nodes)) as u16 + 1);
    let mut gpids = Vec::new();
    for i in 0..n {
        let status = format!("{}", i + 1);
        let placed = spawn_placed(Place::Node(node_of(i)), "/bin/true", &["true", &status], &[], &[]);
        gpids.push(Gpid(placed.map_err(|e| err(&format!("spawn on node {}", node_of(i)), e))?));
    }
    let mut seen = alloc::vec![false; n as usize];
    for _ in 0..n {
        let w = wait(None).map_err(|e| err("wait", e))?;
        let i = gpids.iter().position(|g| g.0 == w.pid).ok_or(format!("reaped unknown pid {}", w.pid))?;
        if gpids[i].node() != Some(node_of(i as u32)) {
            return Err(format!("child {i} ran on node {:?}, not {}", gpids[i].node(), node_of(i as u32)));
        }
        match w.end {
            End::Exited(s) if s == i as i32 + 1 && !seen[i] => seen[i] = true,
            other => return Err(format!("pid {} ended {other:?}, twice or with the wrong status", w.pid)),
        }
    }
    if process::try_wait(None) != Err(Errno::NoChild) {
        return Err(String::from("a child is left after collecting all"));
    }
    // One that never ends by itself, killed on its node.
    let last = NodeId(nodes);
    let sleeper = spawn_placed(Place::Node(last), "/bin/sleep", &["sleep", "100"], &[], &[])
        .map_err(|e| err(&format!("spawn sleep on node {last}"), e))?;
    if process::try_wait(None) != Ok(None) {
        return Err(String::from("a running child abroad was reaped"));
    }
    process::kill(sleeper).map_err(|e| err("kill", e))?;
    match wait(None).map_err(|e| err("wait", e))? {
        w if w.pid == sleeper && w.end == End::Killed => {}
        w => return Err(format!("waited {w:?}, not {sleeper} killed")),
    }
    Ok(format!("collected {n} exit statuses from {nodes} nodes and a kill with any-child waits"))
}

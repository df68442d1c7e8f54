//! `reap N`: spawn and reap `true` N times as fast as we can, and say how
//! long it took (no checks of the node's tables: other processes may come
//! and go meanwhile). `cluster NODES N`: start `spawner reap N` on each of
//! nodes 1..=NODES through `/proc/cluster/spawn`, all at once, then wait
//! for each in turn (one wait at a time: the cluster server's threads
//! stay free), and say how many processes the cluster made in how long:
//! the spawn tree of `cargo ux --bench`'s cluster-wide spawn rate.

use crate::err;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use libux::cluster::{self, NodeId};
use libux::fs::{client, flags};
use libux::process::{self, spawn, wait};
use libux::procfs::Status;
use libux::rpc::End;

pub fn reap(rounds: u32) -> Result<String, String> {
    let clock = process::Clock::new();
    let t0 = clock.micros();
    for i in 0..rounds {
        let pid = spawn("/bin/true", &["true"], &[]).map_err(|e| err("spawn", e))?;
        match wait(Some(pid)).map_err(|e| err("wait", e))?.end {
            End::Exited(0) => {}
            other => return Err(format!("round {i}: true ended {other:?}")),
        }
    }
    Ok(format!("reap: {rounds} spawn/reap rounds in {} ms", (clock.micros() - t0) / 1000))
}

pub fn cluster(nodes: u16, rounds: u32) -> Result<String, String> {
    let clock = process::Clock::new();
    let t0 = clock.micros();
    let mut started = Vec::new();
    for n in 1..=nodes {
        let line = format!("-n {n} /bin/spawner reap {rounds}");
        let gpid = cluster::spawn(&line).map_err(|e| err(&format!("spawn on node {n}"), e))?;
        started.push((NodeId(n), gpid));
    }
    for (node, gpid) in started {
        let path = format!("/proc/cluster/{gpid}/wait");
        let text = client::open(&path, flags::READ).and_then(|mut f| f.read_to_end()).map_err(|e| err(&path, e))?;
        let text = String::from_utf8_lossy(&text);
        let state = Status::parse(&text).map(|s| String::from(s.state)).unwrap_or_default();
        if state != "exited:0" {
            return Err(format!("node {node}'s spawner reap ended {state:?}"));
        }
    }
    let total = u64::from(nodes) * u64::from(rounds);
    Ok(format!("cluster: {total} processes on {nodes} nodes in {} ms", (clock.micros() - t0) / 1000))
}

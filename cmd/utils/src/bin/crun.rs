//! `crun [-n NODE | -a | -f FEATURE] PROGRAM [ARG...]`: runs a program on
//! a node of the cluster, waits for it, and exits with its status (like
//! bproc's `bpsh` and MOSIX's `mosrun`). The node: `-n` names it, `-a`
//! (the default) is the least loaded node that is up, `-f` the least
//! loaded that is up and declares the feature.
//!
//! The home model: the program's standard input, output and error are
//! ours, on this node, wherever it runs (`echo hi | crun -n 2 cat` prints
//! `hi` here), and it gets our environment. It is started and waited for
//! through the process API: a `Spawn` with the placement
//! (`process::spawn_placed`, which the cluster server places) and a
//! `Wait` for its gpid.
//!
//! A status other than an exit is reported on standard error and gives
//! 128 and more, as a shell does: killed 137, faulted 139. When the node
//! goes down meanwhile, the process is `lost` (reported so), status 1.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use libux::cluster::{Gpid, NodeId, Place};
use libux::fd;
use libux::fs::client::getcwd;
use libux::procfs::ended_state;
use libux::rpc::{End, Errno, FdName};

libux::entry!(main);

const USAGE: &str = "crun [-n NODE | -a | -f FEATURE] PROGRAM [ARG...]";

/// Our standard descriptors, by absolute name: the running node reaches
/// them through its mount of ours.
fn descriptors() -> Result<Vec<(u8, String, u32)>, Errno> {
    let mut all = Vec::new();
    for fd in 0..3u8 {
        let Some((path, flags)) = fd::name(fd as usize) else { continue };
        let path = if path.starts_with('/') { path } else { libux::path::join(&getcwd()?, &path) };
        all.push((fd, path, flags));
    }
    Ok(all)
}

fn main() -> i32 {
    let args = libux::rt::args();
    let (place, argv) = match Place::from_words(&args[1..]) {
        Ok(Some((place, n))) => (place, &args[1 + n..]),
        Ok(None) => (Place::LeastLoaded, &args[1..]),
        Err(_) => return utils::usage(USAGE),
    };
    if argv.is_empty() || argv[0].starts_with('-') {
        return utils::usage(USAGE);
    }
    let path = match argv[0] {
        p if !p.contains('/') => format!("/bin/{p}"),
        p if p.starts_with('/') => String::from(p),
        p => match getcwd() {
            Ok(cwd) => libux::path::join(&cwd, p),
            Err(e) => return utils::fail("crun", "getcwd", e),
        },
    };
    let fds = match descriptors() {
        Ok(f) => f,
        Err(e) => return utils::fail("crun", "getcwd", e),
    };
    let names: Vec<FdName> = fds.iter().map(|(fd, path, flags)| FdName { fd: *fd, path, flags: *flags }).collect();
    let env = libux::rt::start_block().env;
    let gpid = match libux::process::spawn_placed(place.clone(), &path, argv, &env, &names) {
        Ok(g) => Gpid(g),
        // No node fits the placement, or the one named is not up.
        Err(Errno::NoNode) => {
            match &place {
                Place::Feature(f) => libux::eprintln!("crun: no node that is up declares feature {f}"),
                Place::Node(n) => libux::eprintln!("crun: the cluster has no node {n}"),
                Place::LeastLoaded => libux::eprintln!("crun: no node is up"),
            }
            return 1;
        }
        Err(Errno::Lost) => {
            match &place {
                Place::Node(n) => libux::eprintln!("crun: node {n} is down"),
                _ => libux::eprintln!("crun: {}: lost with the node it was placed on", argv[0]),
            }
            return 1;
        }
        Err(e) => return utils::fail("crun", argv[0], e),
    };
    let node = gpid.node().unwrap_or(NodeId(0));
    match libux::process::wait(Some(gpid.0)) {
        Ok(w) => match w.end {
            End::Exited(code) => code,
            end => {
                libux::eprintln!("crun: {gpid} on node {node}: {}", ended_state(&end));
                match end {
                    End::Killed => 137,
                    End::Lost => 1,
                    _ => 139,
                }
            }
        },
        Err(e) => utils::fail("crun", &format!("wait {gpid}"), e),
    }
}

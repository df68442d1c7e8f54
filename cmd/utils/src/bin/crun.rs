//! `crun [-n NODE | -a | -f FEATURE] PROGRAM [ARG...]`: runs a program on
//! a node of the cluster, waits for it, and exits with its status (like
//! bproc's `bpsh` and MOSIX's `mosrun`). The node: `-n` names it, `-a`
//! (the default) is the least loaded node that is up, `-f` the least
//! loaded that is up and declares the feature.
//!
//! The home model: the program's standard input, output and error are
//! ours, on this node, wherever it runs (`echo hi | crun -n 2 cat` prints
//! `hi` here). It is started through `/proc/cluster/spawn`, which names
//! our descriptors' files from the node it runs on, and waited for
//! through `/proc/cluster/<gpid>/wait` (formats in `libux::cluster`).
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
use libux::cluster::{self, NodeId};
use libux::fd;
use libux::fs::client::{getcwd, open};
use libux::fs::flags;
use libux::procfs::{spawn_line, Status};
use libux::rpc::Errno;

libux::entry!(main);

const USAGE: &str = "crun [-n NODE | -a | -f FEATURE] PROGRAM [ARG...]";

/// Our standard descriptors as a spawn line names them (`0<PATH`,
/// `1>PATH`, `2>PATH`, paths absolute).
fn redirects() -> Result<Vec<String>, Errno> {
    let mut words = Vec::new();
    for fd in 0..3 {
        let Some((path, _)) = fd::name(fd) else { continue };
        let path = if path.starts_with('/') { path } else { libux::path::join(&getcwd()?, &path) };
        words.push(format!("{fd}{}{path}", if fd == 0 { '<' } else { '>' }));
    }
    Ok(words)
}

fn main() -> i32 {
    let args = libux::rt::args();
    let (place, argv) = match args.get(1).copied() {
        Some("-n") if args.get(2).and_then(|n| NodeId::parse(n)).is_some() => (&args[1..3], &args[3..]),
        Some("-f") if args.get(2).is_some() => (&args[1..3], &args[3..]),
        Some("-n" | "-f") => return utils::usage(USAGE),
        Some("-a") => (&args[1..2], &args[2..]),
        _ => (&args[..0], &args[1..]),
    };
    if argv.is_empty() || argv[0].starts_with('-') {
        return utils::usage(USAGE);
    }
    // A program that is a file is named as this node sees it (the node
    // that runs it reads it from here).
    let path = match argv[0] {
        p if !p.contains('/') => format!("/bin/{p}"),
        p if p.starts_with('/') => String::from(p),
        p => match getcwd() {
            Ok(cwd) => libux::path::join(&cwd, p),
            Err(e) => return utils::fail("crun", "getcwd", e),
        },
    };
    let fds = match redirects() {
        Ok(f) => f,
        Err(e) => return utils::fail("crun", "getcwd", e),
    };
    let mut words: Vec<&str> = place.to_vec();
    words.extend(fds.iter().map(String::as_str));
    words.push(&path);
    words.extend(&argv[1..]);
    let gpid = match cluster::spawn(&spawn_line(&words)) {
        Ok(g) => g,
        Err(Errno::NotFound) if place.first() == Some(&"-f") => {
            libux::eprintln!("crun: no node that is up declares feature {}", place[1]);
            return 1;
        }
        Err(Errno::NotFound) => {
            libux::eprintln!("crun: no node is up");
            return 1;
        }
        Err(e) => return utils::fail("crun", &format!("{}: {}", cluster::SPAWN, argv[0]), e),
    };
    let node = gpid.node().unwrap_or(NodeId(0));
    let wait = format!("/proc/cluster/{gpid}/wait");
    let end = match open(&wait, flags::READ).and_then(|mut f| f.read_to_end()) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => {
            // Its node went down: the process is lost with it.
            if cluster::is_down(node) {
                libux::eprintln!("crun: {gpid} on node {node}: lost");
                return 1;
            }
            return utils::fail("crun", &wait, e);
        }
    };
    let state = Status::parse(&end).map(|s| String::from(s.state)).unwrap_or_default();
    match state.strip_prefix("exited:").and_then(|s| s.parse::<i32>().ok()) {
        Some(code) => code,
        None => {
            libux::eprintln!("crun: {gpid} on node {node}: {state}");
            if state.starts_with("killed") {
                137
            } else {
                139
            }
        }
    }
}

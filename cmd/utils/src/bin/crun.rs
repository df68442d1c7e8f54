//! `crun [-n NODE | -a | -f FEATURE] PROGRAM [ARG...]`: runs a program on
//! a node of the cluster, waits for it, and exits with its status (like
//! bproc's `bpsh` and MOSIX's `mosrun`). The node: `-n` names it, `-a`
//! (the default) is the least loaded node that is up, `-f` the least
//! loaded that is up and declares the feature. The program is started
//! through the node's `/proc/spawn` (this node's, or `/n/nodeN/proc`:
//! the cluster server mounts every node it admits) and waited for
//! through its `wait` file. Its standard input and output are the
//! running node's (the home model is to come). A status other than an
//! exit is reported on standard error and gives 128 and more, as a shell
//! does: killed 137, faulted 139. When the node goes down meanwhile, the
//! process is `lost` (reported so), status 1.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use libux::cluster::{self, Gpid, NodeId, NodeLine, NodeState};
use libux::fs::client::open;
use libux::fs::flags;
use libux::procfs::{spawn_line, Status};
use libux::rpc::Errno;

libux::entry!(main);

const USAGE: &str = "crun [-n NODE | -a | -f FEATURE] PROGRAM [ARG...]";

/// Where the program goes.
enum Place<'a> {
    Node(NodeId),
    LeastLoaded,
    Feature(&'a str),
}

/// The node `place` picks among `nodes`.
fn pick(place: &Place, nodes: &[NodeLine]) -> Result<NodeId, String> {
    let up = nodes.iter().filter(|n| n.state == NodeState::Up);
    let chosen = match place {
        Place::Node(id) => return Ok(*id),
        Place::LeastLoaded => up.min_by_key(|n| (n.load, n.node)),
        Place::Feature(f) => up.filter(|n| n.features.split(',').any(|x| x == *f)).min_by_key(|n| (n.load, n.node)),
    };
    match (chosen, place) {
        (Some(n), _) => Ok(n.node),
        (None, Place::Feature(f)) => Err(format!("no node that is up declares feature {f}")),
        (None, _) => Err(String::from("no node is up")),
    }
}

fn main() -> i32 {
    let args = libux::rt::args();
    let (place, argv) = match args.get(1).copied() {
        Some("-n") => match args.get(2).and_then(|n| NodeId::parse(n)) {
            Some(n) => (Place::Node(n), &args[3..]),
            None => return utils::usage(USAGE),
        },
        Some("-f") => match args.get(2) {
            Some(f) => (Place::Feature(f), &args[3..]),
            None => return utils::usage(USAGE),
        },
        Some("-a") => (Place::LeastLoaded, &args[2..]),
        _ => (Place::LeastLoaded, &args[1..]),
    };
    if argv.is_empty() || argv[0].starts_with('-') {
        return utils::usage(USAGE);
    }
    let own = match cluster::own_node() {
        Ok(n) => n,
        Err(e) => return utils::fail("crun", cluster::SELF, e),
    };
    let nodes = match cluster::nodes() {
        Ok(n) => n,
        Err(e) => return utils::fail("crun", cluster::NODES, e),
    };
    let node = match pick(&place, &nodes) {
        Ok(n) => n,
        Err(why) => {
            libux::eprintln!("crun: {why}");
            return 1;
        }
    };
    let proc_dir = cluster::proc_dir(node, own);
    let path = if argv[0].contains('/') { String::from(argv[0]) } else { format!("/bin/{}", argv[0]) };
    let mut words: Vec<&str> = alloc::vec![path.as_str()];
    words.extend(&argv[1..]);
    let spawn = format!("{proc_dir}/spawn");
    let pid = open(&spawn, flags::READ | flags::WRITE).and_then(|mut f| {
        f.write(spawn_line(&words).as_bytes())?;
        f.offset = 0;
        let text = f.read_to_end()?;
        core::str::from_utf8(&text).ok().and_then(|t| t.trim().parse::<u32>().ok()).ok_or(Errno::BadRequest)
    });
    let pid = match pid {
        Ok(p) => p,
        Err(e) => return utils::fail("crun", &spawn, e),
    };
    let gpid = Gpid::new(node, pid).map_or(String::from("?"), |g| format!("{g}"));
    let wait = format!("{proc_dir}/{pid}/wait");
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

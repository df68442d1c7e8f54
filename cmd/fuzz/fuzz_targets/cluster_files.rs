//! `/proc/cluster` takes paths, `spawn` and `ctl` lines and `call` requests from
//! any local process (and any node's, through its export): whatever the
//! bytes, a value or an error, never a panic; a spawn line, or a placed
//! `Spawn`, made for another node parses to the same program and
//! descriptors, with paths from there.
#![no_main]
use cluster_server::call::{Call, REQUEST_MAX};
use cluster_server::spawn::{line_for, Request};
use cluster_server::tree::Node;
use libfuzzer_sys::fuzz_target;
use libux::cluster::{ClusterCtl, Gpid, NodeId};
use libux::procfs::SpawnCommand;

fuzz_target!(|data: &[u8]| {
    // The transaction file takes any bytes: a call it forwards encodes
    // to one that parses the same.
    if let Ok(call) = Call::parse(data) {
        let again = postcard::to_allocvec(&call.request()).expect("a request encodes");
        // A placed spawn forwarded to another node parses there too, with
        // the home node's paths and its caller for parent.
        if let Call::Spawn(placed) = &call {
            let there = Call::Spawn(placed.from_home(NodeId(1), Gpid(1 << 16 | 2), NodeId(2)));
            let bytes = postcard::to_allocvec(&there.request()).expect("a request encodes");
            // (Longer paths may make it too long: refused there, clearly.)
            if bytes.len() <= REQUEST_MAX {
                assert_eq!(Call::parse(&bytes), Ok(there));
            }
        }
        assert_eq!(Call::parse(&again), Ok(call));
    }
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    if let Ok(node) = Node::lookup(text) {
        let _ = node.is_dir();
    }
    // A ctl line forwarded to the node it names says the same there.
    if let Some(ctl) = ClusterCtl::parse(text) {
        assert_eq!(ClusterCtl::parse(&format!("{ctl}\n")), Some(ctl));
    }
    if let Ok(req) = Request::parse(text) {
        let line = line_for(&req.command, NodeId(1), NodeId(2));
        if line.len() <= libux::procfs::SPAWN_LINE_MAX {
            let there = SpawnCommand::parse(&line).expect("a line made for another node parses");
            assert_eq!(there.argv, req.command.argv);
            assert_eq!(there.fds.len(), req.command.fds.len());
            assert!(there.fds.iter().all(|f| f.path.starts_with('/')));
        }
    }
});

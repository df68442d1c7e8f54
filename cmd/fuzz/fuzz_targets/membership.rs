//! The cluster server takes any datagram on its port from anyone on the
//! segment: whatever the bytes, it never panics, admits nobody without
//! the secret, and its table keeps at least itself.
#![no_main]
use cluster_server::membership::{Config, Membership};
use libfuzzer_sys::fuzz_target;
use libux::cluster::NodeId;

fuzz_target!(|data: &[u8]| {
    let cfg = Config {
        node: NodeId(1),
        name: "n1".into(),
        features: String::new(),
        addr: [10, 1, 0, 1],
        secret: Some(b"s".to_vec()),
    };
    let mut m = Membership::new(cfg, b"seed", 0);
    // Pieces split at 0xfe bytes: several datagrams, one after another.
    for (i, datagram) in data.split(|&b| b == 0xfe).enumerate() {
        let _ = m.receive(i as u64 * 100_000, [10, 1, 0, 2], datagram);
        let _ = m.tick(i as u64 * 100_000);
    }
    let table = m.nodes(0, Default::default());
    // Nobody holds the secret: only this node is in the table.
    assert_eq!(table.len(), 1);
    assert_eq!(table[0].node, NodeId(1));
});

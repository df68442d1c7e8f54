//! The network stack on a real node: the legacy virtio-net driver with its
//! interrupt, DMA rings and smoltcp, reached from the host through QEMU's
//! user network (DHCP from QEMU, a UDP port forwarded to the node's echo
//! service).

use qemu::node::{Node, Options};
use std::net::UdpSocket;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(600);

#[test]
fn host_to_node_udp_echo_through_the_nic() {
    // A port free now for QEMU to forward (it binds it itself).
    let port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let image = qemu::prepare("release").unwrap_or_else(|e| panic!("build failed: {e}"));
    let opts = Options { run: Some("netstack".into()), udp_echo_port: Some(port), ..Options::default() };
    let node = Node::start(&image, &opts, false).unwrap_or_else(|e| panic!("{e}"));
    node.wait_for("netstack: address 10.0.2.15/24 via 10.0.2.2 (DHCP)", TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    let log = node.log();
    assert!(log.contains("ux: PCI 1af4:1000 in slot"), "{log}");
    assert!(log.contains("netstack: virtio-net at I/O 0x"), "{log}");

    let host = UdpSocket::bind("127.0.0.1:0").unwrap();
    host.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut state = 0x2545_f491_u32;
    for round in 0..50usize {
        let len = 1 + (round * 97) % 1400;
        let data: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state as u8
            })
            .collect();
        // The first datagrams may be dropped while the node resolves the
        // gateway's address: try a few times.
        let mut echoed = None;
        for _ in 0..5 {
            host.send_to(&data, ("127.0.0.1", port)).unwrap();
            let mut buf = [0u8; 2048];
            if let Ok((n, _)) = host.recv_from(&mut buf) {
                echoed = Some(buf[..n].to_vec());
                break;
            }
        }
        let echoed = echoed.unwrap_or_else(|| panic!("no echo of round {round}:\n{}", node.log()));
        assert_eq!(echoed, data, "round {round}");
    }
}

//! The network stack on a real node: the legacy virtio-net driver with its
//! interrupt and DMA rings, smoltcp, and TCP as files under `/net`,
//! reached from the host through QEMU's user network (DHCP from QEMU,
//! ports forwarded from 127.0.0.1) and reaching the host (10.0.2.2).

use qemu::node::{Forward, Node, Options};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(600);
const LEASE: &str = "netstack: address 10.0.2.15/24 via 10.0.2.2 (DHCP)";

/// A port of 127.0.0.1 free now, for QEMU to forward (it binds it itself).
fn free_port(udp: bool) -> u16 {
    if udp {
        UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    } else {
        TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    }
}

fn boot(run: Option<&str>, forwards: Vec<Forward>) -> Node {
    let image = qemu::prepare("release").unwrap_or_else(|e| panic!("build failed: {e}"));
    let opts = Options { run: run.map(String::from), forwards, ..Options::default() };
    let node = Node::start(&image, &opts, false).unwrap_or_else(|e| panic!("{e}"));
    node.wait_for(LEASE, TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    node
}

/// Bytes of a xorshift sequence.
fn random(len: usize, mut state: u32) -> Vec<u8> {
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect()
}

#[test]
fn host_to_node_udp_echo_through_the_nic() {
    let port = free_port(true);
    let node = boot(None, vec![Forward { udp: true, host: port, node: 7 }]);
    let log = node.log();
    assert!(log.contains("ux: PCI 1af4:1000 in slot"), "{log}");
    assert!(log.contains("port 0x60 outside the grant refused"), "{log}");

    let host = UdpSocket::bind("127.0.0.1:0").unwrap();
    host.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    for round in 0..50usize {
        let data = random(1 + (round * 97) % 1400, 0x2545_f491 + round as u32);
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

#[test]
fn host_to_node_tcp_echo_of_a_mebibyte() {
    let port = free_port(false);
    let node = boot(Some("echod 7"), vec![Forward { udp: false, host: port, node: 7 }]);
    node.wait_for("echod: listening on port 7", TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    let data = random(1 << 20, 0x1234_5678);
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let writer = {
        let mut s = stream.try_clone().unwrap();
        let data = data.clone();
        std::thread::spawn(move || s.write_all(&data))
    };
    let mut back = vec![0u8; data.len()];
    stream.read_exact(&mut back).unwrap_or_else(|e| panic!("reading the echo: {e}\n{}", node.log()));
    writer.join().unwrap().unwrap();
    assert!(back == data, "the echo differs");
    drop(stream);
    node.wait_for("echod: connection", TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    assert!(node.log().contains(&format!("closed after {} bytes", 1 << 20)), "{}", node.log());
}

#[test]
fn node_to_host_tcp_through_dial() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 65536];
        let mut total = 0;
        loop {
            let n = s.read(&mut buf).unwrap();
            if n == 0 {
                return total;
            }
            s.write_all(&buf[..n]).unwrap();
            total += n;
        }
    });
    // QEMU's user network reaches the host's loopback at 10.0.2.2.
    let node = boot(Some(&format!("tcpsend 262144 tcp!10.0.2.2!{port}")), Vec::new());
    node.wait_for("tcpsend: 262144 bytes echoed intact", TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    node.wait_for("(tcpsend) exited with status 0", TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(server.join().unwrap(), 262144);
}

#[test]
fn node_to_node_tcp_on_the_cluster_segment() {
    let image = qemu::prepare("release").unwrap_or_else(|e| panic!("build failed: {e}"));
    let server = Options { run: Some("echod 7".into()), ..Options::default() };
    let cluster = qemu::cluster::start(&image, &[server, Options::default()], false).unwrap_or_else(|e| panic!("{e}"));
    let (a, b) = (&cluster.nodes[0], &cluster.nodes[1]);
    a.wait_for("netstack: NIC 1: address 10.1.0.1/24 (node 1)", TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    a.wait_for("echod: listening on port 7", TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    b.wait_for("netstack: NIC 1: address 10.1.0.2/24 (node 2)", TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    b.wait_for("ux: started sh as pid", TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    b.type_text("tcpsend 1048576 tcp!10.1.0.1!7\n").unwrap();
    b.wait_for("tcpsend: 1048576 bytes echoed intact by tcp!10.1.0.1!7", TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}\n--- node 1 ---\n{}", a.log()));
    a.wait_for("echod: connection", TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    assert!(a.log().contains("closed after 1048576 bytes"), "{}", a.log());
}

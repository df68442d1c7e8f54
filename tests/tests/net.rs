//! The network stack on a real node: the legacy virtio-net driver with its
//! interrupt and DMA rings, smoltcp, and TCP, UDP and ICMP echo as files
//! under `/net`, reached from the host through QEMU's user network (DHCP
//! from QEMU, ports forwarded from 127.0.0.1), reaching the host
//! (10.0.2.2), and between the nodes of a cluster.

use libux::net::{ClockStats, ClockWake, NicStats};
use qemu::node::{Forward, Node, Options};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;
use tests::free_port;

const TIMEOUT: Duration = Duration::from_secs(600);
const LEASE: &str = "netstack: address 10.0.2.15/24 via 10.0.2.2 (DHCP)";

fn boot(run: Option<&str>, forwards: Vec<Forward>) -> Node {
    let opts = Options { run: run.map(String::from), forwards, ..Options::default() };
    tests::boot("release", &opts, LEASE, TIMEOUT)
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

/// Sends `data` to the node's UDP echo until it comes back (the first
/// datagrams may be dropped while the node resolves the gateway). Replies
/// that are not `data` are late echoes of earlier sends, and skipped: each
/// caller's data differs from the last.
fn udp_echo(host: &UdpSocket, port: u16, data: &[u8]) -> bool {
    for _ in 0..5 {
        host.send_to(data, ("127.0.0.1", port)).unwrap();
        let mut buf = [0u8; 2048];
        while let Ok((n, _)) = host.recv_from(&mut buf) {
            if &buf[..n] == data {
                return true;
            }
        }
    }
    false
}

/// The first line starting with `prefix` that `command`, typed at the
/// node's shell, prints.
fn shell_line(node: &Node, command: &str, prefix: &str) -> String {
    let mark = node.mark();
    node.type_text(&format!("{command}\n")).unwrap();
    node.wait_after(mark, prefix, TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(Duration::from_millis(200));
    let log = node.log();
    String::from(log[mark..].lines().find(|l| l.starts_with(prefix)).unwrap())
}

/// NIC 0's line of `/net/stats`.
fn nic0(node: &Node) -> NicStats {
    let line = shell_line(node, "cat /net/stats", "nic0 rx ");
    NicStats::parse(&line).unwrap_or_else(|| panic!("not a /net/stats line: {line:?}"))
}

/// `/net/clock`.
fn clock(node: &Node) -> ClockStats {
    let line = shell_line(node, "cat /net/clock", "wake ");
    ClockStats::parse(&line).unwrap_or_else(|| panic!("not a /net/clock line: {line:?}"))
}

/// An idle node's stack: its only timer, DHCP's renewal hours off, waits
/// on the clock's alarm (once a minute), not on periodic ticks.
fn wait_for_an_idle_clock(node: &Node) {
    let mut last = clock(node);
    for _ in 0..20 {
        if last.wake == ClockWake::Minutely {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
        last = clock(node);
    }
    assert_eq!(last.wake, ClockWake::Minutely, "{}", node.log());
    std::thread::sleep(Duration::from_secs(3));
    let after = clock(node);
    assert!(after.wake == ClockWake::Minutely && after.ticks <= last.ticks + 1, "{last:?} then {after:?}");
}

#[test]
fn host_to_node_udp_echo_and_a_burst_larger_than_the_ring() {
    let port = free_port(true);
    let node = boot(None, vec![Forward { udp: true, host: port, node: 7 }]);
    let log = node.log();
    assert!(log.contains("ux: PCI 1af4:1000 in slot"), "{log}");
    assert!(log.contains("port 0x60 outside the grant refused"), "{log}");
    // The host's seed reached netstack: TCP's sequence numbers are not
    // the same at every boot.
    assert!(!log.contains("no seed (UX_SEED)"), "{log}");
    node.wait_for("ux: started sh as pid", TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    // In batches: every datagram of a read is echoed on its own.
    node.type_text("echod -u -b 7 &\n").unwrap();
    node.wait_for("echod: listening on udp port 7", TIMEOUT).unwrap_or_else(|e| panic!("{e}"));

    wait_for_an_idle_clock(&node);

    let host = UdpSocket::bind("127.0.0.1:0").unwrap();
    host.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    for round in 0..50usize {
        let data = random(1 + (round * 97) % 1400, 0x2545_f491 + round as u32);
        assert!(udp_echo(&host, port, &data), "no true echo of round {round}:\n{}", node.log());
    }

    // Far more frames at once than the 32 receive buffers hold: with
    // netstack stopped nothing drains the ring, so it fills whatever the
    // host's speed; the excess waits in QEMU or is dropped, and once
    // continued the stack goes on.
    let netstack = log.split("ux: started netstack as pid ").nth(1).and_then(|l| l.split_whitespace().next()).unwrap();
    let start = nic0(&node);
    let mark = node.mark();
    node.type_text(&format!("echo stop > /proc/{netstack}/ctl; cat /proc/{netstack}/status\n")).unwrap();
    node.wait_after(mark, &format!("{netstack} 0 stopped netstack"), TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    let burst = random(1400, 7);
    for _ in 0..20 {
        for _ in 0..10 {
            host.send_to(&burst, ("127.0.0.1", port)).unwrap();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_secs(1));
    node.type_text(&format!("echo cont > /proc/{netstack}/ctl\n")).unwrap();
    let mut drained = [0u8; 2048];
    while host.recv_from(&mut drained).is_ok() {}
    let stats = nic0(&node);
    let (frames, full) = (stats.rx_frames - start.rx_frames, stats.rx_ring_full - start.rx_ring_full);
    println!("a burst of 200 datagrams at a stopped netstack: {frames} frames received, ring full {full} times");
    assert!(full > 0 && frames >= 32, "the burst did not fill the ring: {frames} frames, ring full {full} times");
    let data = random(1000, 99);
    assert!(udp_echo(&host, port, &data), "no echo after the burst\n{}", node.log());
    // The burst waited in netstack: reads took two at once (as many
    // 1,400-byte datagrams as echod's 4 KiB hold).
    let log = node.log();
    assert!(log.contains("echod: 2 datagrams in one read") && !log.contains("echod: 3"), "{log}");
    // The frames came by interrupt, not at the stack's clock ticks: its
    // interrupt is where the PIIX3 routes it (qboot's interrupt line for
    // slot 2 is not: NIC 0 then never interrupted, 15 ms a round trip).
    let after = nic0(&node);
    let (frames, interrupts) = (after.rx_frames - start.rx_frames, after.interrupts - start.interrupts);
    assert!(interrupts > 0, "NIC 0 took {frames} frames without an interrupt");
    assert!(!node.log().contains("faulted"), "{}", node.log());
}

/// Echoes `data` through a fresh connection to `port`.
fn tcp_echo(port: u16, data: &[u8]) -> Result<(), String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connecting: {e}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let writer = {
        let mut s = stream.try_clone().unwrap();
        let data = data.to_vec();
        std::thread::spawn(move || s.write_all(&data))
    };
    let mut back = vec![0u8; data.len()];
    stream.read_exact(&mut back).map_err(|e| format!("reading the echo: {e}"))?;
    writer.join().unwrap().map_err(|e| format!("sending: {e}"))?;
    if back != data {
        return Err("the echo differs".into());
    }
    Ok(())
}

#[test]
fn host_to_node_tcp_echo_of_a_mebibyte_and_abuse() {
    let port = free_port(false);
    let node = boot(Some("echod 7"), vec![Forward { udp: false, host: port, node: 7 }]);
    node.wait_for("echod: listening on tcp port 7", TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    tcp_echo(port, &random(1 << 20, 0x1234_5678)).unwrap_or_else(|e| panic!("{e}\n{}", node.log()));
    node.wait_for("echod: connection", TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    assert!(node.log().contains(&format!("closed after {} bytes", 1 << 20)), "{}", node.log());

    // Garbage, connections left half-open (our side closed for writing,
    // never read) or reset with data unread, and 200 that close at once.
    let mut held = Vec::new();
    for i in 0..10u32 {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let _ = s.write_all(&random(4096, i + 1));
        if i % 2 == 0 {
            let _ = s.shutdown(Shutdown::Write);
            held.push(s);
        }
    }
    for _ in 0..200 {
        drop(TcpStream::connect(("127.0.0.1", port)));
    }
    drop(held);
    // While echod works through what is queued, a new client may be
    // refused: it tries again, as clients do.
    let data = random(64 * 1024, 42);
    for attempt in 1.. {
        match tcp_echo(port, &data) {
            Ok(()) => break,
            Err(e) if attempt == 30 => panic!("{e}\n{}", node.log()),
            Err(_) => std::thread::sleep(Duration::from_secs(1)),
        }
    }
    assert!(!node.log().contains("faulted"), "{}", node.log());
}

#[test]
fn the_net_files_refuse_misuse_without_hanging() {
    let node = boot(Some("nettest"), Vec::new());
    node.wait_for("(nettest) exited with status", TIMEOUT).unwrap_or_else(|e| panic!("{e}\n{}", node.log()));
    let log = node.log();
    assert!(log.contains("(nettest) exited with status 0"), "{log}");
    // The port held up behind the silent address was freed by netstack.
    assert!(log.contains("datagrams to a neighbour that never answered dropped after 3 s"), "{log}");
    for check in [
        "the /net tree",
        "/net/stats counts frames",
        "/net/clock says how the clock wakes",
        "/net/clock is not written",
        "\"batch\" refused on tcp",
        "\"batch\" refused on icmp",
        "\"batch now\" refused on udp",
        "a UDP read before ctl is refused",
        "a UDP write before ctl is refused",
        "a UDP port announced twice is busy",
        "a read-only file refuses a writer",
        "a TCP port announced twice is busy",
        "a datagram without its header is refused",
        "a datagram to a silent address does not hold up the port",
        "connections get distinct ephemeral ports",
        "a TCP connect nobody listens for is refused",
        "an echo nobody can answer is refused, not kept",
        "a listen whose port is given up fails",
    ] {
        assert!(log.contains(&format!("nettest: ok {check}")), "{check}:\n{log}");
    }
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

/// The CRC-32 of a `ttcp` report line.
fn ttcp_sum(node: &Node, who: &str, bytes: u64) -> String {
    let line = format!("{who}: {bytes} bytes in ");
    node.wait_for(&line, TIMEOUT).unwrap_or_else(|e| panic!("{e}\n{}", node.log()));
    let log = node.log();
    // (Another program's output, a prompt say, may start the line.)
    let report = log.lines().find_map(|l| l.find(&line).map(|at| &l[at..])).unwrap_or_else(|| panic!("{log}"));
    report.rsplit_once("crc ").unwrap_or_else(|| panic!("no checksum in {report:?}")).1.trim().to_string()
}

#[test]
fn node_to_node_ttcp_echo_and_ping_on_the_cluster_segment() {
    let cluster = tests::boot_cluster(&[Options::default(), Options::default()], TIMEOUT);
    let (a, b) = (&cluster.nodes[0], &cluster.nodes[1]);

    // 8 MiB from B to A: the checksums of both ends agree.
    a.type_text("ttcp -r &\n").unwrap();
    a.wait_for("ttcp-r: listening on tcp port 5001", TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    b.type_text("ttcp -t 10.1.0.1\n").unwrap();
    let sent = ttcp_sum(b, "ttcp-t", 8 << 20);
    let got = ttcp_sum(a, "ttcp-r", 8 << 20);
    assert_eq!(sent, got, "the checksums differ");

    // Echoes: ICMP (and a host nobody answers), TCP through echod.
    b.type_text("ping -c 3 10.1.0.1\n").unwrap();
    b.wait_for("ping: 10.1.0.1: 3 sent, 3 received", TIMEOUT).unwrap_or_else(|e| panic!("{e}\n{}", a.log()));
    let mark = a.mark();
    a.type_text("ping -c 2 10.1.0.9\n").unwrap();
    a.wait_after(mark, "ping: 10.1.0.9: 2 sent, 0 received", TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    a.type_text("echod 7 &\n").unwrap();
    a.wait_for("echod: listening on tcp port 7", TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    b.type_text("tcpsend 1048576 tcp!10.1.0.1!7\n").unwrap();
    b.wait_for("tcpsend: 1048576 bytes echoed intact by tcp!10.1.0.1!7", TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}\n--- node 1 ---\n{}", a.log()));
    a.wait_for("echod: connection", TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    a.wait_for("closed after 1048576 bytes", TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    b.type_text("tcpsend -r 20 tcp!10.1.0.1!7\n").unwrap();
    b.wait_for("tcpsend: 20 1-byte round trips to tcp!10.1.0.1!7: min ", TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}\n--- node 1 ---\n{}", a.log()));
    a.wait_for("closed after 20 bytes", TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
}

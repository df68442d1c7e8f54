//! 9P in the OS: `exportfs` serving a node's namespace to the host (our
//! client in both dialects, Debian's `diodls` and `diodcat`, PyPI's
//! `python-9p` and `p9fs`) through a
//! QEMU port forward, several clients at once and through bad ones; and
//! in a two-node cluster, `mount9p` on node 1 mounting node 2 at `/n/B`,
//! used from node 1's shell with the ordinary utilities, and failing
//! cleanly once the connection is gone.

#[path = "../peers/python.rs"]
mod python;

use fs9p::host::{read_frame, Client};
use fs9p::{decode, encode, Dialect, Frame, Msg, NOFID, NOTAG};
use qemu::node::{Forward, Node, Options};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(600);
const SERVING: &str = "exportfs: serving / on tcp!*!564";

fn free_port() -> u16 {
    qemu::node::free_port(false).unwrap()
}

/// A node running `exportfs`, its port 564 forwarded from the host's `port`.
fn exporting_node(port: u16) -> Node {
    let image = qemu::prepare("release").unwrap_or_else(|e| panic!("build failed: {e}"));
    let forwards = vec![Forward { udp: false, host: port, node: 564 }];
    let opts = Options { run: Some("exportfs".into()), forwards, ..Options::default() };
    let node = Node::start(&image, &opts, false).unwrap_or_else(|e| panic!("{e}"));
    node.wait_for(SERVING, TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    node
}

fn connect(port: u16, dialect: Dialect) -> Client {
    let addr = format!("127.0.0.1:{port}");
    Client::connect(&addr, dialect, 1 << 20, "tester", "").unwrap_or_else(|e| panic!("{addr}: {e}"))
}

#[test]
fn the_host_reads_a_nodes_proc_over_9p() {
    let port = free_port();
    let node = exporting_node(port);
    for dialect in [Dialect::L, Dialect::P2000] {
        let mut c = connect(port, dialect);
        let procs = c.list("/proc").unwrap_or_else(|e| panic!("{e}\n{}", node.log()));
        for name in ["1", "2", "self", "spawn"] {
            assert!(procs.iter().any(|p| p == name), "{dialect:?}: {name} in {procs:?}");
        }
        let status = c.read_file("/proc/1/status").unwrap();
        assert!(String::from_utf8_lossy(&status).starts_with("1 0 running ramfs "), "{status:?}");
        assert!(c.read_file("/proc/nonesuch/status").is_err());
        // A round trip through the node's ramfs, larger than a window.
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 253) as u8).collect();
        c.write_file("/tmp/from-host", &data).unwrap();
        assert_eq!(c.read_file("/tmp/from-host").unwrap(), data);
        c.remove("/tmp/from-host").unwrap();
    }

    let diodls = qemu::setup::ensure_apt("diodls", "diod", "a few seconds").unwrap();
    let diodcat = qemu::setup::ensure_apt("diodcat", "diod", "a few seconds").unwrap();
    let addr = format!("127.0.0.1:{port}");
    let ls = Command::new(diodls).args(["-s", &addr, "-a", "/proc", "-l"]).output().unwrap();
    let listing = String::from_utf8_lossy(&ls.stdout);
    assert!(ls.status.success(), "{listing}{}", String::from_utf8_lossy(&ls.stderr));
    assert!(listing.lines().any(|l| l.starts_with('d') && l.ends_with(" 1")), "{listing}");
    assert!(listing.lines().any(|l| l.starts_with('-') && l.ends_with(" spawn")), "{listing}");
    let cat = Command::new(diodcat).args(["-s", &addr, "-a", "/", "proc/1/status"]).output().unwrap();
    assert!(cat.status.success(), "{}", String::from_utf8_lossy(&cat.stderr));
    assert!(String::from_utf8_lossy(&cat.stdout).starts_with("1 0 running ramfs "));

    // PyPI's clients, each in a tree of the node's ramfs it attaches.
    let mut c = connect(port, Dialect::L);
    for peer in [python::PY9P, python::P9FS] {
        let tree = format!("/tmp/{}", peer.0);
        c.mkdir(&tree).unwrap();
        c.mkdir(&format!("{tree}/sub")).unwrap();
        c.write_file(&format!("{tree}/sub/file.txt"), b"peer data").unwrap();
        let out = python::run(peer, &addr, &tree);
        let says: &[&str] = if peer == python::PY9P { &python::PY9P_SAYS } else { &python::P9FS_SAYS };
        assert_eq!(out.lines().collect::<Vec<_>>(), says, "{}", peer.0);
    }
}

/// Sends one message on a raw connection and returns the reply's bytes.
fn rpc(s: &mut TcpStream, tag: u16, msg: Msg) -> Vec<u8> {
    let mut out = vec![0u8; 8192];
    let n = encode(&Frame { tag, msg }, &mut out).unwrap();
    s.write_all(&out[..n]).unwrap();
    let mut buf = Vec::new();
    read_frame(s, &mut buf, 1 << 20).unwrap();
    buf
}

#[test]
fn the_export_serves_clients_at_once_and_survives_bad_ones() {
    let port = free_port();
    let node = exporting_node(port);
    let mut setup = connect(port, Dialect::L);
    let big: Vec<u8> = (0..2_000_000u32).map(|i| (i % 251) as u8).collect();
    setup.write_file("/tmp/big", &big).unwrap();

    // Three clients, each with a connection (and a child) of its own,
    // their requests interleaved.
    let mut clients: Vec<Client> = (0..3).map(|_| connect(port, Dialect::L)).collect();
    for round in 0..3 {
        for (i, c) in clients.iter_mut().enumerate() {
            let path = format!("/tmp/c{i}");
            c.write_file(&path, format!("client {i} round {round}").as_bytes()).unwrap();
            assert_eq!(c.read_file(&path).unwrap(), format!("client {i} round {round}").as_bytes());
        }
    }

    // Garbage: that connection is dropped, the others go on.
    let mut bad = TcpStream::connect(("127.0.0.1", port)).unwrap();
    bad.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    bad.write_all(&[0xff; 64]).unwrap();
    let mut sink = [0u8; 64];
    assert!(matches!(bad.read(&mut sink), Ok(0) | Err(_)), "a frame size of 4 GiB closes the connection");
    assert_eq!(clients[0].read_file("/tmp/c0").unwrap(), b"client 0 round 2");

    // A well-framed message of an unknown type gets an error reply.
    let mut odd = TcpStream::connect(("127.0.0.1", port)).unwrap();
    rpc(&mut odd, NOTAG, Msg::Tversion { msize: 8192, version: "9P2000.L" });
    odd.write_all(&[7, 0, 0, 0, 99, 5, 0]).unwrap();
    let mut buf = Vec::new();
    read_frame(&mut odd, &mut buf, 8192).unwrap();
    assert!(matches!(decode(&buf, Dialect::L).unwrap().msg, Msg::Rlerror { .. }));

    // A client that asks for 1 MiB and leaves before reading the reply.
    let mut quitter = TcpStream::connect(("127.0.0.1", port)).unwrap();
    rpc(&mut quitter, NOTAG, Msg::Tversion { msize: 1 << 20, version: "9P2000.L" });
    rpc(&mut quitter, 1, Msg::Tattach { fid: 0, afid: NOFID, uname: "q", aname: "", n_uname: Some(0) });
    rpc(&mut quitter, 2, Msg::Twalk { fid: 0, newfid: 1, wnames: ["tmp", "big"].into_iter().collect() });
    rpc(&mut quitter, 3, Msg::Tlopen { fid: 1, flags: 0 });
    let mut out = vec![0u8; 64];
    let n = encode(&Frame { tag: 4, msg: Msg::Tread { fid: 1, offset: 0, count: 1 << 19 } }, &mut out).unwrap();
    quitter.write_all(&out[..n]).unwrap();
    let mut some = [0u8; 100];
    quitter.read_exact(&mut some).unwrap();
    drop(quitter);
    // And one that leaves in the middle of a message.
    let mut half = TcpStream::connect(("127.0.0.1", port)).unwrap();
    half.write_all(&[40, 0, 0, 0, 116, 9]).unwrap();
    drop(half);

    assert_eq!(setup.read_file("/tmp/big").unwrap(), big, "the first client still reads");
    let mut late = connect(port, Dialect::P2000);
    assert_eq!(late.read_file("/tmp/c1").unwrap(), b"client 1 round 2", "a new client is served");
    assert!(!node.log().contains("panicked"), "{}", node.log());
}

/// Types `line` into `node`'s shell and waits until `expect` is printed
/// after the echo of the line, and the prompt is back; the output after
/// the echo.
fn run(node: &Node, line: &str, expect: &str) -> String {
    let mark = node.mark();
    node.type_text(&format!("{line}\n")).unwrap();
    let t0 = Instant::now();
    loop {
        let log = node.log();
        let out = log[mark..].split_once('\n').map_or("", |(_, rest)| rest);
        if let Some(at) = out.find(expect) {
            if expect == "$ " || out[at + expect.len()..].contains("$ ") {
                return out.to_string();
            }
        }
        assert!(t0.elapsed() < TIMEOUT, "{line}: no {expect:?} in:\n{}", &log[mark..]);
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts `line` in the background in `node`'s shell and waits for `expect`.
fn start(node: &Node, line: &str, expect: &str) {
    let mark = node.mark();
    node.type_text(&format!("{line} &\n")).unwrap();
    node.wait_after(mark, expect, TIMEOUT).unwrap_or_else(|e| panic!("{line}: {e}"));
}

/// The pids of `name` in `ps` output, with their parents.
fn pids_of(ps: &str, name: &str) -> Vec<(u32, u32)> {
    ps.lines()
        .filter(|l| l.split_whitespace().last() == Some(name))
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some((w.next()?.parse().ok()?, w.next()?.parse().ok()?))
        })
        .collect()
}

#[test]
fn a_node_mounts_another_and_uses_it_from_the_shell() {
    let image = qemu::prepare("release").unwrap_or_else(|e| panic!("build failed: {e}"));
    let cluster = qemu::cluster::start(&image, &[Options::default(), Options::default()], false)
        .unwrap_or_else(|e| panic!("{e}"));
    cluster.wait_for_shells(TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    let (a, b) = (&cluster.nodes[0], &cluster.nodes[1]);
    start(b, "exportfs", SERVING);
    let ps = run(b, "ps", "PID");
    let &[(listener, _)] = &pids_of(&ps, "exportfs")[..] else { panic!("{ps}") };

    // In a namespace of the shell's own: the mount is seen by the shell and
    // what it starts, not by the rest of the node.
    run(a, "newns; echo private", "private");
    start(a, "mount9p tcp!10.1.0.2!564 B", "mount9p: tcp!10.1.0.2!564 mounted at /n/B (9P2000.L, msize 1048576)");
    let ours = run(a, "cat /proc/self/ns", "/proc 0");
    assert!(ours.lines().any(|l| l.starts_with("/n/B ")), "{ours}");
    let system = run(a, "cat /proc/1/ns", "/proc 0");
    assert!(!system.contains("/n/B"), "{system}");
    let ls = run(a, "ls /n/B/proc", "spawn");
    assert!(ls.lines().any(|l| l.trim() == listener.to_string()), "B's exportfs ({listener}) in {ls}");
    let status = run(a, &format!("cat /n/B/proc/{listener}/status"), "exportfs");
    assert!(status.contains(&format!("{listener} ")), "{status}");
    run(a, "cat /n/B/proc/1/status", "1 0 running ramfs");
    run(a, "ls /n", "B");

    // 15 copies of netstack's image (over 4 MiB) through the shell's `>`
    // on node 1, checked on node 2.
    let files = vec!["/bin/netstack"; 15].join(" ");
    run(a, &format!("cat {files} > /n/B/tmp/f"), "$ ");
    let here = run(a, &format!("cat {files} | sum"), " -");
    let there = run(b, "sum /tmp/f", " /tmp/f");
    let sum_line = |out: &str, suffix: &str| -> (String, u64) {
        let l = out.lines().find(|l| l.ends_with(suffix)).unwrap_or_else(|| panic!("{out}"));
        let w: Vec<&str> = l.split_whitespace().collect();
        (w[0].to_string(), w[1].parse().unwrap())
    };
    let (crc_a, size_a) = sum_line(&here, " -");
    let (crc_b, size_b) = sum_line(&there, " /tmp/f");
    assert!(size_a >= 4 << 20, "{here}");
    assert_eq!((crc_a, size_a), (crc_b, size_b), "written on node 1, read on node 2");
    run(a, "sum /n/B/tmp/f", " /n/B/tmp/f");
    run(a, "rm /n/B/tmp/f", "$ ");

    // The connection goes (node 2 kills the child serving it): the call
    // that finds it gone is an error, the next dials again and works.
    let ps = run(b, "ps", "PID");
    let child =
        pids_of(&ps, "exportfs").into_iter().find(|&(_, ppid)| ppid == listener).unwrap_or_else(|| panic!("{ps}"));
    run(b, &format!("kill {}", child.0), "$ ");
    run(a, "cat /n/B/proc/1/status", "i/o error");
    run(a, "ls /n/B/proc", "spawn");
    a.wait_for("mount9p: tcp!10.1.0.2!564: the connection broke; connected again", TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}"));
    run(a, "cat /n/B/proc/1/status", "1 0 running ramfs");

    // Node 2 dies without a word: a mount of it answers an error once
    // netstack gives up on the silent peer (20 s), and node 1 goes on.
    start(a, "mount9p tcp!10.1.0.2!564 C", "mounted at /n/C");
    run(a, "cat /n/C/proc/1/status", "1 0 running ramfs");
    let mut cluster = cluster;
    cluster.nodes[1].kill();
    let a = &cluster.nodes[0];
    let t0 = Instant::now();
    run(a, "cat /n/C/proc/1/status", "i/o error");
    println!("a dead node's mount failed after {:.1} s", t0.elapsed().as_secs_f64());
    let t0 = Instant::now();
    run(a, "ls /n/C", "i/o error");
    a.wait_for("mount9p: the connection broke; dialing again: tcp!10.1.0.2!564: ", TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}"));
    println!("dialing the dead node again failed after {:.1} s", t0.elapsed().as_secs_f64());
    run(a, "ls /n", "C");
}

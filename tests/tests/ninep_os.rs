//! 9P in the OS: `exportfs` serving a node's namespace to the host (our
//! client in both dialects, Debian's `diodls` and `diodcat`, PyPI's
//! `python-9p` and `p9fs`) through a
//! QEMU port forward, several clients at once and through bad ones; and
//! in a two-node cluster, `mount9p` on node 1 mounting node 2 at `/n/B`,
//! used from node 1's shell with the ordinary utilities, and failing
//! cleanly once the connection is gone.

#[path = "../peers/python.rs"]
mod python;

use fs9p::client::{ClientError, OpenHow};
use fs9p::host::{read_frame, Client};
use fs9p::{decode, encode, Dialect, Error, Frame, Msg, OpenMode, NOFID, NOTAG};
use qemu::node::{Forward, Node, Options};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};
use tests::{free_port, pids_of, ramfs_status, rpc, run, run_within, start, started_by_shell};

const TIMEOUT: Duration = Duration::from_secs(600);
const SERVING: &str = "exportfs: serving / on tcp!*!564";

/// A node running `exportfs`, its port 564 forwarded from the host's `port`.
fn exporting_node(port: u16) -> Node {
    let forwards = vec![Forward { udp: false, host: port, node: 564 }];
    let opts = Options { run: Some("exportfs".into()), forwards, ..Options::default() };
    tests::boot("release", &opts, SERVING, TIMEOUT)
}

fn connect(port: u16, dialect: Dialect) -> Client {
    let addr = format!("127.0.0.1:{port}");
    let c = Client::connect(&addr, dialect, 1 << 20, "tester", "").unwrap_or_else(|e| panic!("{addr}: {e}"));
    // A node that stops answering fails the test instead of hanging it.
    c.set_timeout(Some(Duration::from_secs(120))).unwrap();
    c
}

#[test]
fn the_host_reads_a_nodes_proc_over_9p() {
    let port = free_port(false);
    let node = exporting_node(port);
    for dialect in [Dialect::L, Dialect::P2000] {
        let mut c = connect(port, dialect);
        let procs = c.list("/proc").unwrap_or_else(|e| panic!("{e}\n{}", node.log()));
        for name in ["65537", "65538", "self", "spawn", "ps", "cluster"] {
            assert!(procs.iter().any(|p| p == name), "{dialect:?}: {name} in {procs:?}");
        }
        // The node's mount points are in the listings of their
        // directories, though no file server has them there.
        let root = c.list("/").unwrap();
        for name in ["bin", "dev", "net", "proc", "tmp"] {
            assert!(root.iter().any(|p| p == name), "{dialect:?}: {name} in {root:?}");
        }
        let status = c.read_file("/proc/1/status").unwrap();
        assert!(String::from_utf8_lossy(&status).starts_with(&format!("{} ", ramfs_status(1))), "{status:?}");
        // `/proc/ps`: each process's status line, in pid order, at once.
        let all = String::from_utf8(c.read_file("/proc/ps").unwrap()).unwrap();
        let pids: Vec<u32> = all.lines().map(|l| l.split(' ').next().unwrap().parse().unwrap()).collect();
        assert!(pids.windows(2).all(|w| w[0] < w[1]) && pids.len() >= 4, "{all}");
        assert!(all.lines().any(|l| l.starts_with(&format!("{} ", ramfs_status(1)))), "{all}");
        assert!(c.read_file("/proc/nonesuch/status").is_err());
        // The console stays the node's: not listed, not opened, not made.
        let dev = c.list("/dev").unwrap();
        assert!(dev.iter().any(|d| d == "null") && !dev.iter().any(|d| d.starts_with("cons")), "{dev:?}");
        for file in ["/dev/cons", "/dev/consctl"] {
            assert!(c.read_file(file).is_err(), "{dialect:?}: {file} read over 9P");
            assert!(c.write_file(file, b"forged\n").is_err(), "{dialect:?}: {file} written over 9P");
        }
        assert!(!node.log().contains("forged"), "{}", node.log());
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
    assert!(listing.lines().any(|l| l.starts_with('d') && l.ends_with(" 65537")), "{listing}");
    assert!(listing.lines().any(|l| l.starts_with('-') && l.ends_with(" spawn")), "{listing}");
    let cat = Command::new(diodcat).args(["-s", &addr, "-a", "/", "proc/1/status"]).output().unwrap();
    assert!(cat.status.success(), "{}", String::from_utf8_lossy(&cat.stderr));
    assert!(String::from_utf8_lossy(&cat.stdout).starts_with(&format!("{} ", ramfs_status(1))));

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

#[test]
fn the_export_serves_clients_at_once_and_survives_bad_ones() {
    let port = free_port(false);
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
    rpc(&mut odd, Dialect::L, NOTAG, Msg::Tversion { msize: 8192, version: "9P2000.L" });
    odd.write_all(&[7, 0, 0, 0, 99, 5, 0]).unwrap();
    let mut buf = Vec::new();
    read_frame(&mut odd, &mut buf, 8192).unwrap();
    assert!(matches!(decode(&buf, Dialect::L).unwrap().msg, Msg::Rlerror { .. }));

    // A client that asks for 1 MiB and leaves before reading the reply.
    let mut quitter = TcpStream::connect(("127.0.0.1", port)).unwrap();
    rpc(&mut quitter, Dialect::L, NOTAG, Msg::Tversion { msize: 1 << 20, version: "9P2000.L" });
    rpc(&mut quitter, Dialect::L, 1, Msg::Tattach { fid: 0, afid: NOFID, uname: "q", aname: "", n_uname: Some(0) });
    rpc(&mut quitter, Dialect::L, 2, Msg::Twalk { fid: 0, newfid: 1, wnames: ["tmp", "big"].into_iter().collect() });
    rpc(&mut quitter, Dialect::L, 3, Msg::Tlopen { fid: 1, flags: 0 });
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

    // Limits of one client come before the node's: one connection (one
    // exportfs child) holds at most 16 pipes and makes at most 16 TCP
    // connections; beyond, EMFILE, while another client still gets its
    // own, and the first gets more once it let some go.
    let how = OpenHow { read: true, write: false, truncate: false, create: false, exclusive: false };
    let mut hog = connect(port, Dialect::L);
    for path in ["/dev/pipe/clone", "/net/tcp/clone"] {
        let held: Vec<u32> = (0..16).map(|_| open_as(&mut hog, path, OpenMode::READ)).collect();
        let refused = hog.0.open_path(path, how);
        assert!(matches!(refused, Err(ClientError::Server(Error::TooManyFids))), "a 17th {path}: {refused:?}");
        let other = open_as(&mut late, path, OpenMode::READ);
        late.0.clunk(other).unwrap();
        hog.0.clunk(held[0]).unwrap();
        let again = open_as(&mut hog, path, OpenMode::READ);
        for f in held[1..].iter().chain([&again]) {
            hog.0.clunk(*f).unwrap();
        }
    }
    // A port hijack: a connection made through the export announcing the
    // export's own port is refused, and new clients still reach the
    // export, not the attacker.
    let fid = open_as(&mut hog, "/net/tcp/clone", OpenMode::READ_WRITE);
    let hijack = hog.0.write_all(fid, 0, b"announce 564");
    assert!(matches!(hijack, Err(ClientError::Server(Error::FidInUse))), "announce 564 again: {hijack:?}");
    let mut fresh = connect(port, Dialect::L);
    assert_eq!(fresh.read_file("/tmp/c1").unwrap(), b"client 1 round 2", "the export keeps its clients");
    hog.0.clunk(fid).unwrap();
    assert!(!node.log().contains("panicked"), "{}", node.log());
}

/// Opens `path` on `c` as `mode` says.
fn open_as(c: &mut Client, path: &str, mode: OpenMode) -> u32 {
    let how = OpenHow { read: mode.read, write: mode.write, truncate: mode.truncate, create: false, exclusive: false };
    c.0.open_path(path, how).unwrap_or_else(|e| panic!("{path} as {mode:?}: {e}"))
}

/// Spawns `line` through the node's `/proc/spawn` over 9P; its pid.
fn spawn_over_9p(c: &mut Client, line: &str) -> u32 {
    let fid = open_as(c, "/proc/spawn", OpenMode::READ_WRITE);
    assert_eq!(c.0.write_all(fid, 0, line.as_bytes()).unwrap(), line.len());
    let mut buf = [0u8; 32];
    let n = c.0.read(fid, 0, &mut buf).unwrap();
    c.0.clunk(fid).unwrap();
    let text = std::str::from_utf8(&buf[..n]).unwrap();
    text.trim().parse().unwrap_or_else(|_| panic!("/proc/spawn gave {text:?}"))
}

#[test]
fn control_files_flushes_and_a_full_ramfs_over_9p() {
    let port = free_port(false);
    let node = exporting_node(port);
    for dialect in [Dialect::L, Dialect::P2000] {
        // /proc/spawn read-write, a process's ctl write-only (it refuses
        // readers): the open mode reaches the process server as asked.
        let mut c = connect(port, dialect);
        let pid = spawn_over_9p(&mut c, "/bin/sleep 100");
        let status = String::from_utf8(c.read_file(&format!("/proc/{pid}/status")).unwrap()).unwrap();
        assert!(status.starts_with(&format!("{pid} ")) && status.contains(" running /bin/sleep "), "{status}");
        let ctl = format!("/proc/{pid}/ctl");
        let refused = c.0.open_path(&ctl, OpenHow { read: true, ..OpenHow::default() });
        assert!(refused.is_err(), "{dialect:?}: ctl opened for reading");
        let fid = open_as(&mut c, &ctl, OpenMode::WRITE);
        c.0.write_all(fid, 0, b"kill").unwrap_or_else(|e| panic!("{dialect:?}: kill through 9P: {e}"));
        c.0.clunk(fid).unwrap();
        // The wait file blocks until the end, then gives it (and reaps it:
        // the reader's process spawned it).
        let end = String::from_utf8(c.read_file(&format!("/proc/{pid}/wait")).unwrap()).unwrap();
        assert!(end.starts_with(&format!("{pid} ")) && end.contains(" killed /bin/sleep "), "{end}");
        // A read-only file refuses writers.
        assert!(c.0.open_path(&format!("/proc/{pid}/status"), OpenHow { write: true, ..OpenHow::default() }).is_err());
        // What the client did not start is not its to end: the node's
        // file server (pid 1) lives on.
        let fid = open_as(&mut c, "/proc/1/ctl", OpenMode::WRITE);
        let refused = c.0.write_all(fid, 0, b"kill").unwrap_err();
        assert!(matches!(refused, fs9p::client::ClientError::Server(Error::Permission)), "{dialect:?}: {refused}");
        c.0.clunk(fid).unwrap();
        let ramfs = String::from_utf8(c.read_file("/proc/1/status").unwrap()).unwrap();
        assert!(ramfs.starts_with(&format!("{} ", ramfs_status(1))), "{ramfs}");
    }

    // A read blocked in the server (a wait file) and flushed: the read is
    // given up at the process server, so the flush is answered while the
    // sleeper still runs, and the read never is.
    let mut c = connect(port, Dialect::L);
    let pid = spawn_over_9p(&mut c, "/bin/sleep 100");
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    rpc(&mut s, Dialect::L, NOTAG, Msg::Tversion { msize: 8192, version: "9P2000.L" });
    rpc(&mut s, Dialect::L, 1, Msg::Tattach { fid: 0, afid: NOFID, uname: "f", aname: "", n_uname: Some(0) });
    let wait = format!("{pid}");
    rpc(
        &mut s,
        Dialect::L,
        2,
        Msg::Twalk { fid: 0, newfid: 1, wnames: ["proc", wait.as_str(), "wait"].into_iter().collect() },
    );
    rpc(&mut s, Dialect::L, 3, Msg::Tlopen { fid: 1, flags: 0 });
    let mut out = vec![0u8; 64];
    let n = encode(&Frame { tag: 4, msg: Msg::Tread { fid: 1, offset: 0, count: 256 } }, &mut out).unwrap();
    let m = encode(&Frame { tag: 5, msg: Msg::Tflush { oldtag: 4 } }, &mut out[n..]).unwrap();
    s.write_all(&out[..n + m]).unwrap();
    let mut buf = Vec::new();
    read_frame(&mut s, &mut buf, 8192).unwrap_or_else(|e| panic!("no reply to the flush: {e}\n{}", node.log()));
    assert_eq!(decode(&buf, Dialect::L).unwrap(), Frame { tag: 5, msg: Msg::Rflush });
    let status = String::from_utf8(c.read_file(&format!("/proc/{pid}/status")).unwrap()).unwrap();
    assert!(status.contains(" running "), "the flush ended the sleeper: {status}");
    // The connection goes on, and the flushed read never answers: the
    // next reply is the clunk's.
    let reply = rpc(&mut s, Dialect::L, 6, Msg::Tclunk { fid: 1 });
    let again = decode(&reply, Dialect::L).unwrap();
    assert!(matches!((again.tag, again.msg), (6, Msg::Rclunk)), "after the flush");
    let fid = open_as(&mut c, &format!("/proc/{pid}/ctl"), OpenMode::WRITE);
    c.0.write_all(fid, 0, b"kill").unwrap();
    c.0.clunk(fid).unwrap();

    // The node's ramfs (32 MiB) filled through 9P: a clear error, and room again
    // once the file is gone.
    let big = vec![0x5au8; 40 << 20];
    let full = c.write_file("/tmp/too-big", &big).unwrap_err();
    assert!(full.to_string().to_lowercase().contains("no space"), "{full}");
    c.remove("/tmp/too-big").unwrap();
    c.write_file("/tmp/fits", b"room again").unwrap();
    assert_eq!(c.read_file("/tmp/fits").unwrap(), b"room again");
    assert!(!node.log().contains("panicked"), "{}", node.log());
}

/// Writers sharing one file, each with a region of it.
const WRITERS: usize = 4;
const REGION: usize = 64 * 1024;

/// The byte writer `w` writes in `round`: the writer is in the high bits,
/// so a byte in the wrong region names who put it there.
fn mark_of(w: usize, round: usize) -> u8 {
    (w << 4 | (round % 15 + 1)) as u8
}

#[test]
fn clients_overlap_on_shared_files_and_pipeline_requests() {
    let port = free_port(false);
    let node = exporting_node(port);
    let mut setup = connect(port, Dialect::L);
    setup.write_file("/tmp/shared", &vec![0u8; WRITERS * REGION]).unwrap();

    // Writers on connections of their own, at the same time, each
    // rewriting its region of one file and reading the whole file back:
    // its own region holds what it wrote last, the others only their
    // writers' bytes.
    std::thread::scope(|scope| {
        for w in 0..WRITERS {
            let node = &node;
            scope.spawn(move || {
                let mut c = connect(port, Dialect::L);
                let how = OpenHow { write: true, ..OpenHow::default() };
                for round in 0..12 {
                    let fid = c.0.open_path("/tmp/shared", how).unwrap_or_else(|e| panic!("{e}\n{}", node.log()));
                    let mine = vec![mark_of(w, round); REGION];
                    assert_eq!(c.0.write_all(fid, (w * REGION) as u64, &mine).unwrap(), REGION);
                    c.0.clunk(fid).unwrap();
                    let all = c.read_file("/tmp/shared").unwrap();
                    assert_eq!(all.len(), WRITERS * REGION, "writer {w} round {round}");
                    assert!(all[w * REGION..][..REGION] == mine[..], "writer {w} round {round}: own region changed");
                    for (i, &b) in all.iter().enumerate() {
                        assert!(b == 0 || usize::from(b >> 4) == i / REGION, "byte {i} is {b:#x}: a write went astray");
                    }
                }
            });
        }
    });
    let all = setup.read_file("/tmp/shared").unwrap();
    for w in 0..WRITERS {
        assert!(all[w * REGION..][..REGION].iter().all(|&b| b == mark_of(w, 11)), "region {w} is not its last write");
    }

    // One connection with many requests on the wire at once, under tags
    // of their own: every reply comes, each answers its own request.
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    rpc(&mut s, Dialect::L, NOTAG, Msg::Tversion { msize: 1 << 16, version: "9P2000.L" });
    rpc(&mut s, Dialect::L, 1, Msg::Tattach { fid: 0, afid: NOFID, uname: "p", aname: "", n_uname: Some(0) });
    rpc(&mut s, Dialect::L, 2, Msg::Twalk { fid: 0, newfid: 1, wnames: ["tmp", "shared"].into_iter().collect() });
    rpc(&mut s, Dialect::L, 3, Msg::Tlopen { fid: 1, flags: 0 });
    const IN_FLIGHT: u16 = 16;
    let mut out = Vec::new();
    for i in 0..IN_FLIGHT {
        let offset = u64::from(i) * (WRITERS * REGION) as u64 / u64::from(IN_FLIGHT);
        let mut buf = vec![0u8; 64];
        let n = encode(&Frame { tag: 100 + i, msg: Msg::Tread { fid: 1, offset, count: 4096 } }, &mut buf).unwrap();
        out.extend_from_slice(&buf[..n]);
    }
    s.write_all(&out).unwrap();
    let mut answered = std::collections::BTreeSet::new();
    for _ in 0..IN_FLIGHT {
        let mut buf = Vec::new();
        read_frame(&mut s, &mut buf, 1 << 16).unwrap_or_else(|e| panic!("{e}\n{}", node.log()));
        let frame = decode(&buf, Dialect::L).unwrap();
        let i = frame.tag.checked_sub(100).filter(|&i| i < IN_FLIGHT).unwrap_or_else(|| panic!("tag {}", frame.tag));
        let Msg::Rread { data } = frame.msg else { panic!("tag {}: {:?}", frame.tag, frame.msg) };
        let w = usize::from(i) * WRITERS / usize::from(IN_FLIGHT);
        assert!(data.len() == 4096 && data.iter().all(|&b| b == mark_of(w, 11)), "tag {}: wrong data", frame.tag);
        assert!(answered.insert(i), "tag {} answered twice", frame.tag);
    }
    assert!(!node.log().contains("panicked"), "{}", node.log());
}

/// Sends `msg` with `tag` on a raw connection, not waiting for a reply.
fn send(s: &mut TcpStream, tag: u16, msg: Msg) {
    let mut out = vec![0u8; 8192];
    let n = encode(&Frame { tag, msg }, &mut out).unwrap();
    s.write_all(&out[..n]).unwrap();
}

/// The next reply on a raw connection: its tag and message.
fn reply(s: &mut TcpStream, node: &Node) -> (u16, Msg<'static>) {
    let mut buf = Vec::new();
    read_frame(s, &mut buf, 1 << 16).unwrap_or_else(|e| panic!("no reply: {e}\n{}", node.log()));
    let f = decode(Vec::leak(buf), Dialect::L).unwrap();
    (f.tag, f.msg)
}

/// Reads that block (wait files of sleepers) stall nothing else on their
/// connection: other requests are answered meanwhile, in any order; each
/// blocked read is answered when its process ends, and a flushed one is
/// given up without ending it.
#[test]
fn blocked_reads_stall_no_other_request_on_their_connection() {
    let port = free_port(false);
    let node = exporting_node(port);
    let mut c = connect(port, Dialect::L);
    const SLEEPERS: usize = 8;
    let pids: Vec<u32> = (0..SLEEPERS).map(|_| spawn_over_9p(&mut c, "/bin/sleep 600")).collect();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    // Nothing here may wait for a sleeper: a stall fails, it does not hang.
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    rpc(&mut s, Dialect::L, NOTAG, Msg::Tversion { msize: 1 << 16, version: "9P2000.L" });
    rpc(&mut s, Dialect::L, 1, Msg::Tattach { fid: 0, afid: NOFID, uname: "b", aname: "", n_uname: Some(0) });
    let names: Vec<String> = pids.iter().map(|p| p.to_string()).collect();
    for (i, name) in names.iter().enumerate() {
        let fid = 10 + i as u32;
        rpc(
            &mut s,
            Dialect::L,
            2,
            Msg::Twalk { fid: 0, newfid: fid, wnames: ["proc", name.as_str(), "wait"].into_iter().collect() },
        );
        rpc(&mut s, Dialect::L, 3, Msg::Tlopen { fid, flags: 0 });
        send(&mut s, 100 + i as u16, Msg::Tread { fid, offset: 0, count: 256 });
    }
    // With every sleeper's wait read blocked: a walk, an open and a read
    // of another file are answered.
    rpc(
        &mut s,
        Dialect::L,
        4,
        Msg::Twalk { fid: 0, newfid: 1, wnames: ["proc", names[0].as_str(), "status"].into_iter().collect() },
    );
    rpc(&mut s, Dialect::L, 5, Msg::Tlopen { fid: 1, flags: 0 });
    send(&mut s, 6, Msg::Tread { fid: 1, offset: 0, count: 256 });
    match reply(&mut s, &node) {
        (6, Msg::Rread { data }) => {
            let status = String::from_utf8_lossy(data);
            assert!(status.starts_with(&format!("{} ", pids[0])) && status.contains(" running "), "{status}");
        }
        other => panic!("while reads block, the status read got {other:?}"),
    }
    // A flush of the first blocked read: only the Rflush comes.
    send(&mut s, 7, Msg::Tflush { oldtag: 100 });
    assert_eq!(reply(&mut s, &node), (7, Msg::Rflush));
    // An open that waits for a caller (of a port announced through this
    // connection) stalls nothing either: a read of its fid waits behind
    // it, a walk is answered meanwhile; a flush of the open is answered
    // at once, and then the read, of a fid that is not open.
    rpc(
        &mut s,
        Dialect::L,
        11,
        Msg::Twalk { fid: 0, newfid: 30, wnames: ["net", "tcp", "clone"].into_iter().collect() },
    );
    rpc(&mut s, Dialect::L, 12, Msg::Tlopen { fid: 30, flags: 2 });
    let r = rpc(&mut s, Dialect::L, 13, Msg::Tread { fid: 30, offset: 0, count: 32 });
    let Msg::Rread { data } = decode(Vec::leak(r), Dialect::L).unwrap().msg else { panic!("no number") };
    let n = String::from_utf8_lossy(data).trim().to_string();
    rpc(&mut s, Dialect::L, 14, Msg::Twrite { fid: 30, offset: 0, data: b"announce 7777" });
    let listen = ["net", "tcp", n.as_str(), "listen"].into_iter().collect();
    rpc(&mut s, Dialect::L, 15, Msg::Twalk { fid: 0, newfid: 31, wnames: listen });
    send(&mut s, 16, Msg::Tlopen { fid: 31, flags: 0 });
    send(&mut s, 17, Msg::Tread { fid: 31, offset: 0, count: 32 });
    rpc(&mut s, Dialect::L, 18, Msg::Twalk { fid: 0, newfid: 32, wnames: ["tmp"].into_iter().collect() });
    send(&mut s, 19, Msg::Tflush { oldtag: 16 });
    assert_eq!(reply(&mut s, &node), (19, Msg::Rflush));
    assert_eq!(reply(&mut s, &node), (17, Msg::Rlerror { ecode: Error::BadFid.errno() }));
    for (tag, fid) in [(20, 31), (21, 30), (22, 32)] {
        rpc(&mut s, Dialect::L, tag, Msg::Tclunk { fid });
    }
    // The sleepers are not this connection's to end: a kill through it is
    // refused (exportfs acts for a network client, which may end only
    // what it started).
    let w = ["proc", names[1].as_str(), "ctl"].into_iter().collect();
    rpc(&mut s, Dialect::L, 8, Msg::Twalk { fid: 0, newfid: 21, wnames: w });
    rpc(&mut s, Dialect::L, 9, Msg::Tlopen { fid: 21, flags: 1 }); // O_WRONLY
    send(&mut s, 10, Msg::Twrite { fid: 21, offset: 0, data: b"kill" });
    assert_eq!(reply(&mut s, &node), (10, Msg::Rlerror { ecode: Error::Permission.errno() }));
    // Killed in reverse order by the connection that started them: each
    // one's read is answered with its end, in the order they die.
    for i in (1..SLEEPERS).rev() {
        let fid = open_as(&mut c, &format!("/proc/{}/ctl", pids[i]), OpenMode::WRITE);
        c.0.write_all(fid, 0, b"kill").unwrap();
        c.0.clunk(fid).unwrap();
        let (tag, msg) = reply(&mut s, &node);
        let Msg::Rread { data } = msg else { panic!("{tag}: {msg:?}") };
        assert_eq!(tag, 100 + i as u16);
        let end = String::from_utf8_lossy(data);
        assert!(end.starts_with(&format!("{} ", pids[i])) && end.contains(" killed /bin/sleep "), "{end}");
    }
    // The flushed sleeper still runs; a new read of its wait file ends
    // when it does.
    send(&mut s, 11, Msg::Tread { fid: 10, offset: 0, count: 256 });
    let fid = open_as(&mut c, &format!("/proc/{}/ctl", pids[0]), OpenMode::WRITE);
    c.0.write_all(fid, 0, b"kill").unwrap();
    match reply(&mut s, &node) {
        (11, Msg::Rread { data }) => assert!(String::from_utf8_lossy(data).contains(" killed "), "{data:?}"),
        other => panic!("{other:?}"),
    }
    assert!(!node.log().contains("panicked"), "{}", node.log());
}

/// Clients that leave while a read of theirs blocks (a wait file that
/// would never end) take nothing with them: each connection's exportfs
/// child sees the end of its stream and ends, its workers and their
/// blocked calls with it, so the node's 64 TCP connections never fill.
#[test]
fn clients_that_leave_during_a_blocked_read_release_everything() {
    let port = free_port(false);
    let node = exporting_node(port);
    for round in 0..80 {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        rpc(&mut s, Dialect::L, NOTAG, Msg::Tversion { msize: 8192, version: "9P2000.L" });
        rpc(&mut s, Dialect::L, 1, Msg::Tattach { fid: 0, afid: NOFID, uname: "gone", aname: "", n_uname: Some(0) });
        rpc(
            &mut s,
            Dialect::L,
            2,
            Msg::Twalk { fid: 0, newfid: 1, wnames: ["proc", "1", "wait"].into_iter().collect() },
        );
        let opened =
            decode(Vec::leak(rpc(&mut s, Dialect::L, 3, Msg::Tlopen { fid: 1, flags: 0 })), Dialect::L).unwrap();
        assert!(matches!(opened.msg, Msg::Rlopen { .. }), "round {round}: {opened:?}\n{}", node.log());
        send(&mut s, 4, Msg::Tread { fid: 1, offset: 0, count: 64 });
    }
    // Every child that served one of them ends; the export still serves.
    let t0 = Instant::now();
    let mut c = connect(port, Dialect::L);
    let deadline = t0 + Duration::from_secs(120);
    loop {
        let exporters: Vec<String> = c
            .list("/proc")
            .unwrap()
            .iter()
            .filter(|p| p.parse::<u32>().is_ok())
            .filter_map(|p| c.read_file(&format!("/proc/{p}/status")).ok())
            .map(|st| String::from_utf8_lossy(&st).into_owned())
            .filter(|st| st.contains(" exportfs "))
            .collect();
        // The listener and the child serving `c`.
        if exporters.len() == 2 {
            println!(
                "80 clients gone with blocked reads: their children ended {:.1} s after the last left",
                t0.elapsed().as_secs_f64()
            );
            break;
        }
        assert!(Instant::now() < deadline, "exportfs processes left: {exporters:?}\n{}", node.log());
        std::thread::sleep(Duration::from_millis(500));
    }
    let status = c.read_file("/proc/1/status").unwrap();
    assert!(String::from_utf8_lossy(&status).starts_with(&format!("{} ", ramfs_status(1))), "{status:?}");
    assert!(!node.log().contains("panicked"), "{}", node.log());
}

/// One address holds at most 32 of a node's connections to its export:
/// the host's 33rd is closed at once, another node mounts the export
/// meanwhile, and the host gets a connection again when one of its ends.
#[test]
fn one_address_cannot_take_the_export_from_the_others() {
    let port = free_port(false);
    let first = Options { forwards: vec![Forward { udp: false, host: port, node: 564 }], ..Options::default() };
    let cluster = tests::boot_cluster(&[first, Options::default()], TIMEOUT);
    let (a, b) = (&cluster.nodes[0], &cluster.nodes[1]);
    start(a, "exportfs", SERVING);
    // A connection that has been answered a Tversion (so its child serves
    // it), or the error that ended it.
    let dial = || -> std::io::Result<TcpStream> {
        let mut s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(Duration::from_secs(120)))?;
        let mut out = vec![0u8; 64];
        let n =
            encode(&Frame { tag: NOTAG, msg: Msg::Tversion { msize: 8192, version: "9P2000.L" } }, &mut out).unwrap();
        s.write_all(&out[..n])?;
        read_frame(&mut s, &mut Vec::new(), 1 << 20)?;
        Ok(s)
    };
    let mut held: Vec<TcpStream> =
        (0..32).map(|i| dial().unwrap_or_else(|e| panic!("connection {i}: {e}\n{}", a.log()))).collect();
    assert!(dial().is_err(), "a 33rd connection from the host was served");
    a.wait_for("exportfs: 10.0.2.2 holds 32 connections; refusing more until one ends", TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}"));
    // Another address is served meanwhile.
    start(b, "mount9p tcp!10.1.0.1!564 A", "mounted at /n/A");
    run(b, "cat /n/A/proc/1/status", &ramfs_status(1));
    // One of the host's ends: the host is served again.
    held.pop();
    let t0 = Instant::now();
    while let Err(e) = dial() {
        assert!(t0.elapsed() < Duration::from_secs(60), "no connection after one ended: {e}\n{}", a.log());
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(!a.log().contains("panicked"), "{}", a.log());
}

/// Two nodes on a segment, at their shells.
fn two_nodes() -> qemu::cluster::Cluster {
    tests::boot_cluster(&[Options::default(), Options::default()], TIMEOUT)
}

#[test]
fn a_node_mounts_another_and_uses_it_from_the_shell() {
    let cluster = two_nodes();
    let (a, b) = (&cluster.nodes[0], &cluster.nodes[1]);
    start(b, "exportfs", SERVING);
    let ps = run(b, "ps", "PID");
    let &[listener] = &started_by_shell(&ps, "exportfs")[..] else { panic!("{ps}") };

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
    run(a, "cat /n/B/proc/1/status", &ramfs_status(2));
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
    assert_eq!((&crc_a, size_a), (&crc_b, size_b), "written on node 1, read on node 2");
    let through = run(a, "sum /n/B/tmp/f", " /n/B/tmp/f");
    assert_eq!(sum_line(&through, " /n/B/tmp/f"), (crc_b, size_b), "read back through the mount");
    // The exporting node's ramfs (32 MiB) filled through the shell's `>`:
    // an error that says so, and the file can go.
    let t0 = Instant::now();
    let copies = ["/n/B/tmp/f"; 8].join(" ");
    run(a, &format!("cat {copies} > /n/B/tmp/huge"), "no space left");
    println!("filled the exporting node's ramfs through the mount in {:.1} s", t0.elapsed().as_secs_f64());
    run(a, "rm /n/B/tmp/huge; echo removed $?", "removed 0");
    run(a, "rm /n/B/tmp/f; echo removed $?", "removed 0");
    // Listed, not read: a file left behind fails at once instead of
    // pouring megabytes onto the console.
    let tmp = run(b, "ls /tmp; echo listed", "listed");
    assert!(!tmp.lines().any(|l| l.trim() == "f"), "the removed file is still on node 2:\n{tmp}");
    run(a, "cat /n/B/tmp/f", "cat: /n/B/tmp/f: file does not exist");

    // A write drops what mount9p read ahead of the file.
    run(a, "echo first > /n/B/tmp/g; cat /n/B/tmp/g", "first");
    let again = run(a, "echo second > /n/B/tmp/g; cat /n/B/tmp/g", "second");
    assert!(!again.contains("first"), "a stale read-ahead after a write:\n{again}");
    run(a, "rm /n/B/tmp/g; echo removed $?", "removed 0");

    // Control files through the mount: a sleeper spawned on node 2 from
    // node 1's shell, and killed through its ctl.
    run(a, "echo /bin/sleep 100 > /n/B/proc/spawn; echo spawned $?", "spawned 0");
    let ps = run(b, "ps", "PID");
    let &[(sleeper, _)] = &pids_of(&ps, "/bin/sleep")[..] else { panic!("{ps}") };
    run(a, &format!("echo kill > /n/B/proc/{sleeper}/ctl; echo sent $?"), "sent 0");
    run(b, &format!("cat /proc/{sleeper}/status"), &format!("{sleeper} "));
    let status = run(b, &format!("cat /proc/{sleeper}/status"), " /bin/sleep ");
    assert!(status.contains(" killed /bin/sleep "), "{status}");

    // The connection goes (node 2 kills the child serving it): the call
    // that finds it gone dials again and, an open that changes nothing
    // more, is made again on the new connection; a file open before the
    // break is an error until closed.
    run(a, "cat /n/B/proc/1/status", &ramfs_status(2));
    let ps = run(b, "ps", "PID");
    let child =
        pids_of(&ps, "exportfs").into_iter().find(|&(_, ppid)| ppid == listener).unwrap_or_else(|| panic!("{ps}"));
    run(b, &format!("kill {}", child.0), "$ ");
    // (Until node 1 has heard the connection end.)
    std::thread::sleep(Duration::from_secs(1));
    let first = run(a, "cat /n/B/proc/1/status", &ramfs_status(2));
    assert!(!first.contains("error"), "{first}");
    a.wait_for("mount9p: tcp!10.1.0.2!564: the connection broke; connected again", TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}"));
    run(a, "ls /n/B/proc", "spawn");

    // mount9p ends: its mount goes with it.
    let ps = run(a, "ps", "PID");
    let &[mounter] = &started_by_shell(&ps, "mount9p")[..] else { panic!("{ps}") };
    run(a, &format!("kill {mounter}; echo killed"), "killed");
    run(a, "cat /n/B/proc/1/status", "cat: /n/B/proc/1/status: ");
    let ours = run(a, "cat /proc/self/ns", "/proc 0");
    assert!(!ours.contains("/n/B"), "{ours}");

    // A mount idle for its `-i` seconds hangs its connection up (node 2's
    // child serving it ends), and the next call dials again, quietly.
    let children = || {
        // (An ended child is listed until the listener reaps it.)
        let ps = run(b, "ps", "PID");
        let running: String = ps.lines().filter(|l| !l.contains(" exited:")).map(|l| format!("{l}\n")).collect();
        pids_of(&running, "exportfs").into_iter().filter(|&(_, ppid)| ppid == listener).count()
    };
    let until_children = |n: usize, why: &str| {
        let t0 = Instant::now();
        while children() != n {
            assert!(t0.elapsed() < Duration::from_secs(60), "{why}: not {n} exportfs children\n{}", b.log());
            std::thread::sleep(Duration::from_millis(500));
        }
        t0.elapsed()
    };
    until_children(0, "B's connection ended with its mount");
    start(a, "mount9p -i 2 tcp!10.1.0.2!564 R", "mounted at /n/R");
    let mark = a.mark();
    run(a, "cat /n/R/proc/1/status", &ramfs_status(2));
    assert_eq!(children(), 1);
    let rested = until_children(0, "the idle mount hung up");
    println!("an idle mount (-i 2) hung up within {:.1} s", rested.as_secs_f64());
    run(a, "cat /n/R/proc/1/status", &ramfs_status(2));
    assert_eq!(children(), 1, "dialed again");
    assert!(!a.log()[mark..].contains("the connection broke"), "{}", &a.log()[mark..]);
    run(a, "mount9p -i 0 tcp!10.1.0.2!564 S", "usage: mount9p");

    // Node 2 dies without a word: a mount of it answers an error once
    // netstack gives up on the silent peer (20 s), and node 1 goes on.
    start(a, "mount9p tcp!10.1.0.2!564 C", "mounted at /n/C");
    run(a, "cat /n/C/proc/1/status", &ramfs_status(2));
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

/// Spawns `n` sleepers of `seconds` on the node mounted at `/n/B` (their
/// parent: the exportfs child serving the mount); their pids, as the
/// exporting node `b` lists them, the ones it had before left out.
fn sleepers_over_mount(a: &Node, b: &Node, n: usize, seconds: u32) -> Vec<u32> {
    let before: Vec<u32> = pids_of(&run(b, "ps", "PID"), "/bin/sleep").into_iter().map(|(p, _)| p).collect();
    let line = vec![format!("echo /bin/sleep {seconds} > /n/B/proc/spawn"); n].join("; ");
    run(a, &format!("{line}; echo spawned $?"), "spawned 0");
    let now = pids_of(&run(b, "ps", "PID"), "/bin/sleep");
    let new: Vec<u32> = now.into_iter().map(|(p, _)| p).filter(|p| !before.contains(p)).collect();
    assert_eq!(new.len(), n, "sleepers spawned through the mount");
    new
}

#[test]
fn a_mount_answers_other_calls_while_some_wait() {
    let cluster = two_nodes();
    let (a, b) = (&cluster.nodes[0], &cluster.nodes[1]);
    start(b, "exportfs", SERVING);
    start(a, "mount9p tcp!10.1.0.2!564 B", "mounted at /n/B");

    // The reproducer: a remote wait in the background, a listing of the
    // same mount in the foreground, answered while the wait goes on.
    let &[sleeper] = &sleepers_over_mount(a, b, 1, 20)[..] else { unreachable!() };
    let mark = a.mark();
    a.type_text(&format!("cat /n/B/proc/{sleeper}/wait &\n")).unwrap();
    let t0 = Instant::now();
    run(a, "ls /n/B/tmp; echo listed", "listed");
    let listed = t0.elapsed();
    let ended = format!("{sleeper} ");
    let log = a.log();
    assert!(
        !log[mark..].lines().any(|l| l.starts_with(&ended) && l.contains(" /bin/sleep ")),
        "the listing waited for the sleeper's end:\n{}",
        &log[mark..]
    );
    a.wait_after(mark, " exited:0 /bin/sleep ", TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    println!("listed in {:.1} s while a 20 s wait went on; the wait answered after", listed.as_secs_f64());

    // Twelve waits at once on one connection; the mount still answers.
    let first = sleepers_over_mount(a, b, 12, 600);
    for p in &first {
        a.type_text(&format!("cat /n/B/proc/{p}/wait &\n")).unwrap();
    }
    run(a, "cat /n/B/proc/1/status", &ramfs_status(2));
    // Their callers are killed: the calls are flushed and the threads
    // that answered them freed (else twelve more would leave none to
    // answer the listing below).
    let ps = run(a, "ps", "PID");
    let running = |l: &&str| l.split_whitespace().nth(2) == Some("running");
    let cats: Vec<String> = pids_of(&ps.lines().filter(running).collect::<Vec<_>>().join("\n"), "cat")
        .into_iter()
        .map(|(p, _)| p.to_string())
        .collect();
    assert_eq!(cats.len(), 12, "the waiting cats");
    run(a, &format!("kill {}; echo killed", cats.join(" ")), "killed");
    let second = sleepers_over_mount(a, b, 12, 600);
    let mark = a.mark();
    for p in &second {
        a.type_text(&format!("cat /n/B/proc/{p}/wait &\n")).unwrap();
    }
    run(a, "ls /n/B/tmp; echo listed", "listed");
    // Each wait gets its own answer when its sleeper is killed on node 2.
    let pids: Vec<String> = second.iter().map(u32::to_string).collect();
    run(b, &format!("kill {}; echo killed", pids.join(" ")), "killed");
    for p in &second {
        a.wait_after(mark, &format!("{p} "), TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    }
    let t0 = Instant::now();
    while a.log()[mark..].matches(" killed /bin/sleep ").count() < second.len() {
        assert!(t0.elapsed() < TIMEOUT, "not every wait answered:\n{}", &a.log()[mark..]);
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!b.log().contains("panicked") && !a.log().contains("panicked"));
}

/// The memory `/proc/*/status` says each named process holds, read over 9P.
fn memory_of(c: &mut Client, names: &[&str]) -> Vec<u64> {
    let pids = c.list("/proc").unwrap();
    let mut out = vec![0; names.len()];
    for p in pids.iter().filter(|p| p.bytes().all(|b| b.is_ascii_digit())) {
        let Ok(bytes) = c.read_file(&format!("/proc/{p}/status")) else { continue };
        let line = String::from_utf8_lossy(&bytes).to_string();
        let Some(s) = libux::procfs::Status::parse(&line) else { continue };
        if let Some(i) = names.iter().position(|n| *n == s.name) {
            out[i] = s.memory;
        }
    }
    out
}

/// What a burst of clients took comes back when they go (issue: devfs and
/// netstack grew by megabytes under 100 connections and stayed there):
/// 200 9P clients, 25 at a time (each takes two of the node's 64 TCP
/// connections), each with a pipe and a TCP connection of its own open,
/// then gone; devfs and netstack are back within 512 KiB of
/// where they started (what their small heaps grew by and keep), though
/// netstack held megabytes meanwhile (each connection's buffers are
/// 128 KiB: large blocks, whose memory goes back to the node when freed).
#[test]
fn memory_comes_back_after_many_clients() {
    const SLACK: u64 = 512 << 10;
    let port = free_port(false);
    let node = exporting_node(port);
    let names = ["devfs", "netstack"];
    let mut probe = connect(port, Dialect::L);
    let start = memory_of(&mut probe, &names);
    let mut peak = start.clone();
    for _ in 0..8 {
        let mut clients: Vec<Client> = (0..25).map(|_| connect(port, Dialect::L)).collect();
        let how = OpenHow { read: true, write: false, truncate: false, create: false, exclusive: false };
        for c in clients.iter_mut() {
            for path in ["/dev/pipe/clone", "/net/tcp/clone"] {
                c.0.open_path(path, how).unwrap_or_else(|e| panic!("{path}: {e}\n{}", node.log()));
            }
        }
        let during = memory_of(&mut probe, &names);
        peak = peak.iter().zip(&during).map(|(p, d)| *p.max(d)).collect();
    }
    assert!(peak[1] > start[1] + 4 * SLACK, "the load took netstack from {start:?} to only {peak:?}");
    // Clients that left are gone once their exportfs children saw the end
    // of their streams and the connections closed.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = memory_of(&mut probe, &names);
        if now.iter().zip(&start).all(|(n, s)| *n <= s + SLACK) {
            break;
        }
        assert!(Instant::now() < deadline, "memory of {names:?}: {start:?} at start, {peak:?} at most, {now:?} after");
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// A 9P server on the host that agrees on a version and an attach, then
/// answers nothing: every later request of a client waits for ever.
fn silent_server() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut out = vec![0u8; 256];
                while read_frame(&mut s, &mut buf, 1 << 20).is_ok() {
                    let Ok(f) = decode(&buf, Dialect::L) else { return };
                    let answer = match f.msg {
                        Msg::Tversion { msize, .. } => Msg::Rversion { msize: msize.min(65536), version: "9P2000.L" },
                        Msg::Tattach { .. } => Msg::Rattach { qid: fs9p::Qid { ty: 0x80, version: 0, path: 1 } },
                        _ => continue,
                    };
                    let n = encode(&Frame { tag: f.tag, msg: answer }, &mut out).unwrap();
                    if s.write_all(&out[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

/// A walk into `/n` may wait (there, another machine's files): through the
/// export it runs apart, so a walk elsewhere is answered meanwhile, and a
/// flush of it at once. (`/n/slow` is mounted from a server on the host
/// that never answers after the attach.)
#[test]
fn a_walk_into_a_silent_mount_stalls_nothing_else() {
    let silent = silent_server();
    let port = free_port(false);
    let opts = Options { forwards: vec![Forward { udp: false, host: port, node: 564 }], ..Options::default() };
    let node = tests::boot("release", &opts, "ux: started sh as pid", TIMEOUT);
    start(&node, &format!("mount9p tcp!10.0.2.2!{silent} slow"), "mounted at /n/slow");
    start(&node, "exportfs", SERVING);
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    rpc(&mut s, Dialect::L, NOTAG, Msg::Tversion { msize: 8192, version: "9P2000.L" });
    rpc(&mut s, Dialect::L, 1, Msg::Tattach { fid: 0, afid: NOFID, uname: "w", aname: "", n_uname: Some(0) });
    send(&mut s, 2, Msg::Twalk { fid: 0, newfid: 1, wnames: ["n", "slow", "x"].into_iter().collect() });
    let r = rpc(&mut s, Dialect::L, 3, Msg::Twalk { fid: 0, newfid: 2, wnames: ["tmp"].into_iter().collect() });
    assert!(matches!(decode(&r, Dialect::L).unwrap().msg, Msg::Rwalk { .. }), "the walk of /tmp went on");
    send(&mut s, 4, Msg::Tflush { oldtag: 2 });
    assert_eq!(reply(&mut s, &node), (4, Msg::Rflush));
    // The flushed walk made nothing: fid 1 is free.
    let r = rpc(&mut s, Dialect::L, 5, Msg::Twalk { fid: 0, newfid: 1, wnames: ["tmp"].into_iter().collect() });
    assert!(matches!(decode(&r, Dialect::L).unwrap().msg, Msg::Rwalk { .. }));

    // mount9p ends while a call waits in it: the caller's call fails, it
    // is not left waiting for an answer that cannot come.
    let ps = run(&node, "ps", "PID");
    let &[mounter] = &started_by_shell(&ps, "mount9p")[..] else { panic!("{ps}") };
    let mark = node.mark();
    node.type_text("cat /n/slow/y &\n").unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let ps = run(&node, "ps", "PID");
    let &[cat] = &started_by_shell(&ps, "cat")[..] else { panic!("cat is not waiting:\n{ps}") };
    // Answered at once; left waiting, it would wait for ever.
    let within = Duration::from_secs(60);
    run_within(&node, &format!("kill {mounter}; wait {cat}"), &format!("[{cat}] exited 1"), within);
    let log = &node.log()[mark..];
    assert!(log.contains("cat: /n/slow/y: file server gone"), "{log}");
    run(&node, "ls /n; echo listed", "listed");
    assert!(!node.log().contains("panicked"), "{}", node.log());
}

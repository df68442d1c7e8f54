//! 9P on the host: our client and server against each other in both
//! dialects, against Debian's `diod` (server) and its `diodls`/`diodcat`
//! (clients), against PyPI's `p9fs` (9P2000.L) and `python-9p` (strict
//! 9P2000, plan9port's codec) as clients, and a server that keeps serving
//! through bad clients.

#[path = "../peers/python.rs"]
mod python;

use fs9p::host::{serve, Client, DirFs, Users};
use fs9p::{decode, Dialect, Lock, Msg, OpenMode, SetAttr, NOFID, NOTAG};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use tests::{free_port, rpc, TempDir};

/// Our server exporting `dir` on a free loopback port.
fn our_server(dir: &Path, max_fids: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let fs = DirFs::new(dir, Users::Me).unwrap();
    std::thread::spawn(move || serve(listener, fs, max_fids));
    addr
}

/// Deterministic bytes, and a checksum to compare them by.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

fn exercise(addr: &str, dialect: Dialect, aname: &str) {
    let mut c = Client::connect(addr, dialect, 65536, "tester", aname).unwrap();
    let data = pattern(1 << 20);
    c.mkdir("d").unwrap();
    c.write_file("d/big", &data).unwrap();
    assert_eq!(c.read_file("d/big").unwrap(), data, "1 MiB round trip");
    c.write_file("d/small", b"hi").unwrap();
    let mut names = c.list("d").unwrap();
    names.sort();
    assert_eq!(names, ["big", "small"]);
    c.remove("d/big").unwrap();
    assert_eq!(c.list("d").unwrap(), ["small"]);
    assert!(c.read_file("d/big").is_err(), "a removed file is gone");
    assert!(c.remove("d").is_err(), "a directory with a file in it is not removed");
    c.remove("d/small").unwrap();
    c.remove("d").unwrap();
}

#[test]
fn our_client_and_server_agree_in_both_dialects() {
    for dialect in [Dialect::P2000, Dialect::L] {
        let dir = TempDir::new(&format!("ninep-both-{dialect:?}"));
        let addr = our_server(&dir.0, 64);
        exercise(&addr, dialect, "");
        assert!(std::fs::read_dir(&dir.0).unwrap().next().is_none(), "everything made was removed");
    }
}

#[test]
fn our_client_works_against_diod() {
    let dir = TempDir::new("ninep-diod");
    let addr = format!("127.0.0.1:{}", free_port(false));
    let _diod = qemu::diod::Diod::start(&dir.0, &addr).unwrap_or_else(|e| panic!("{e}"));
    let aname = dir.0.to_str().unwrap();
    exercise(&addr, Dialect::L, aname);
    std::fs::write(dir.0.join("from-host"), b"made on the host").unwrap();
    let mut c = Client::connect(&addr, Dialect::L, 65536, "tester", aname).unwrap();
    assert_eq!(c.read_file("from-host").unwrap(), b"made on the host");
}

#[test]
fn diod_tools_work_against_our_server() {
    let diodls = qemu::setup::ensure_apt("diodls", "diod", "a few seconds").unwrap();
    let diodcat = qemu::setup::ensure_apt("diodcat", "diod", "a few seconds").unwrap();
    let dir = TempDir::new("ninep-tools");
    std::fs::create_dir(dir.0.join("sub")).unwrap();
    std::fs::write(dir.0.join("sub/file.txt"), b"served by fs9p\n").unwrap();
    let addr = our_server(&dir.0, 64);
    let ls = Command::new(diodls).args(["-s", &addr, "-a", "/", "-l"]).output().unwrap();
    let listing = String::from_utf8_lossy(&ls.stdout);
    assert!(ls.status.success(), "{listing}{}", String::from_utf8_lossy(&ls.stderr));
    assert!(listing.lines().any(|l| l.starts_with('d') && l.ends_with(" sub")), "{listing}");
    let cat = Command::new(diodcat).args(["-s", &addr, "-a", "/", "sub/file.txt"]).output().unwrap();
    assert!(cat.status.success(), "{}", String::from_utf8_lossy(&cat.stderr));
    assert_eq!(cat.stdout, b"served by fs9p\n");
}

fn version_and_attach(addr: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    rpc(&mut s, Dialect::L, NOTAG, Msg::Tversion { msize: 8192, version: "9P2000.L" });
    let attach = Msg::Tattach { fid: 0, afid: NOFID, uname: "t", aname: "", n_uname: Some(0) };
    let r = rpc(&mut s, Dialect::L, 1, attach);
    assert!(matches!(decode(&r, Dialect::L).unwrap().msg, Msg::Rattach { .. }));
    s
}

#[test]
fn the_server_survives_bad_clients_and_keeps_serving_others() {
    let dir = TempDir::new("ninep-robust");
    std::fs::write(dir.0.join("f"), b"still here").unwrap();
    let addr = our_server(&dir.0, 4096);
    let mut good = Client::connect(&addr, Dialect::L, 8192, "good", "").unwrap();

    // Garbage: the server drops that connection and nothing else.
    let mut bad = TcpStream::connect(&addr).unwrap();
    bad.write_all(&[0xff; 64]).unwrap();
    let mut sink = [0u8; 64];
    bad.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert!(matches!(bad.read(&mut sink), Ok(0) | Err(_)), "a frame size of 4 GiB closes the connection");
    assert_eq!(good.read_file("f").unwrap(), b"still here");

    // A well-framed message of an unknown type gets an error reply.
    let mut odd = version_and_attach(&addr);
    odd.write_all(&[7, 0, 0, 0, 99, 5, 0]).unwrap();
    let mut buf = Vec::new();
    fs9p::host::read_frame(&mut odd, &mut buf, 8192).unwrap();
    assert!(matches!(decode(&buf, Dialect::L).unwrap().msg, Msg::Rlerror { .. }));

    // 10,000 fids: those past the limit are refused, the rest work.
    let mut hog = version_and_attach(&addr);
    let mut refused = 0;
    for fid in 1..=10_000u32 {
        let r = rpc(&mut hog, Dialect::L, 2, Msg::Twalk { fid: 0, newfid: fid, wnames: Default::default() });
        let reply = decode(&r, Dialect::L).unwrap().msg;
        if let Msg::Rlerror { ecode } = reply {
            assert_eq!(ecode, 24, "EMFILE");
            refused += 1;
        }
    }
    assert_eq!(refused, 10_000 - 4095, "the limit counts the attach fid too");
    assert_eq!(good.read_file("f").unwrap(), b"still here");

    // Tflush is answered.
    let r = rpc(&mut hog, Dialect::L, 3, Msg::Tflush { oldtag: 2 });
    assert_eq!(decode(&r, Dialect::L).unwrap().msg, Msg::Rflush);

    // A client that disconnects in the middle of a message.
    let mut quitter = version_and_attach(&addr);
    quitter.write_all(&[40, 0, 0, 0, 116, 9]).unwrap();
    drop(quitter);
    assert_eq!(good.read_file("f").unwrap(), b"still here");
}

/// Runs a PyPI client against our server exporting a directory with
/// `sub/file.txt`.
fn python_peer(peer: python::Peer) -> String {
    let dir = TempDir::new(&format!("ninep-{}", peer.0));
    std::fs::create_dir(dir.0.join("sub")).unwrap();
    std::fs::write(dir.0.join("sub/file.txt"), b"peer data").unwrap();
    python::run(peer, &our_server(&dir.0, 64), "")
}

#[test]
fn python_9p_speaks_strict_9p2000_with_our_server() {
    let out = python_peer(python::PY9P);
    assert_eq!(out.lines().collect::<Vec<_>>(), python::PY9P_SAYS);
}

#[test]
fn p9fs_speaks_9p2000l_with_our_server() {
    let out = python_peer(python::P9FS);
    assert_eq!(out.lines().collect::<Vec<_>>(), python::P9FS_SAYS);
}

#[test]
fn a_fid_opened_for_reading_refuses_writes() {
    let dir = TempDir::new("ninep-modes");
    std::fs::write(dir.0.join("f"), b"keep").unwrap();
    let addr = our_server(&dir.0, 64);
    let mut s = version_and_attach(&addr);
    let walk = Msg::Twalk { fid: 0, newfid: 1, wnames: ["f"].into_iter().collect() };
    rpc(&mut s, Dialect::L, 1, walk);
    rpc(&mut s, Dialect::L, 2, Msg::Tlopen { fid: 1, flags: 0 });
    let r = rpc(&mut s, Dialect::L, 3, Msg::Twrite { fid: 1, offset: 0, data: b"lost" });
    assert_eq!(decode(&r, Dialect::L).unwrap().msg, Msg::Rlerror { ecode: 9 }, "EBADF");
    let r = rpc(&mut s, Dialect::L, 4, Msg::Tunlinkat { dirfd: 0, name: "..", flags: 0 });
    assert_eq!(decode(&r, Dialect::L).unwrap().msg, Msg::Rlerror { ecode: 22 }, "EINVAL for ..");
    assert_eq!(std::fs::read(dir.0.join("f")).unwrap(), b"keep");
    // Write-only (O_WRONLY): the file server sees just that, and reads are
    // refused.
    let walk = Msg::Twalk { fid: 0, newfid: 2, wnames: ["f"].into_iter().collect() };
    rpc(&mut s, Dialect::L, 5, walk);
    rpc(&mut s, Dialect::L, 6, Msg::Tlopen { fid: 2, flags: 1 });
    let r = rpc(&mut s, Dialect::L, 7, Msg::Tread { fid: 2, offset: 0, count: 4 });
    assert_eq!(decode(&r, Dialect::L).unwrap().msg, Msg::Rlerror { ecode: 9 }, "EBADF");
    let r = rpc(&mut s, Dialect::L, 8, Msg::Twrite { fid: 2, offset: 0, data: b"KE" });
    assert_eq!(decode(&r, Dialect::L).unwrap().msg, Msg::Rwrite { count: 2 });
    assert_eq!(std::fs::read(dir.0.join("f")).unwrap(), b"KEep");
}

#[test]
fn open_modes_keep_their_meaning_in_both_dialects() {
    for (mode, p2000, l) in [
        (OpenMode::READ, 0, 0),
        (OpenMode::WRITE, 1, 1),
        (OpenMode::READ_WRITE, 2, 2),
        (OpenMode::WRITE.truncated(), 0x11, 0o1001),
    ] {
        assert_eq!((mode.p2000(), mode.l()), (p2000, l), "{mode:?}");
        assert_eq!(OpenMode::from_p2000(p2000), mode);
        assert_eq!(OpenMode::from_l(l), mode);
    }
    // OEXEC reads.
    assert_eq!(OpenMode::from_p2000(3), OpenMode::READ);
}

/// What a request's reply decodes to, in 9P2000.L.
fn call(s: &mut TcpStream, tag: u16, msg: Msg) -> Msg<'static> {
    decode(Vec::leak(rpc(s, Dialect::L, tag, msg)), Dialect::L).unwrap().msg
}

fn walk_open(s: &mut TcpStream, fid: u32, name: &'static str, flags: u32) {
    let walk = Msg::Twalk { fid: 0, newfid: fid, wnames: [name].into_iter().collect() };
    assert!(matches!(call(s, 1, walk), Msg::Rwalk { .. }), "walk to {name}");
    assert!(matches!(call(s, 2, Msg::Tlopen { fid, flags }), Msg::Rlopen { .. }), "open {name}");
}

/// What busybox in the Linux guest cannot do (`tests/v9fs.rs`), through
/// the messages themselves: times to the nanosecond, locks between two
/// clients, extended attributes (refused clearly), and files the server
/// must never open or follow.
#[test]
fn times_locks_and_what_the_server_never_follows() {
    let dir = TempDir::new("ninep-posix");
    std::fs::write(dir.0.join("f"), b"data").unwrap();
    std::os::unix::fs::symlink("/etc", dir.0.join("out")).unwrap();
    let addr = our_server(&dir.0, 64);
    let mut a = version_and_attach(&addr);
    let mut b = version_and_attach(&addr);
    // Times: set to the nanosecond, read back the same, on the host too.
    let walk = Msg::Twalk { fid: 0, newfid: 1, wnames: ["f"].into_iter().collect() };
    call(&mut a, 1, walk);
    let attr = SetAttr { valid: 0x20 | 0x100, mtime_sec: 4_102_444_800, mtime_nsec: 987_654_321, ..SetAttr::default() };
    assert_eq!(call(&mut a, 2, Msg::Tsetattr { fid: 1, attr }), Msg::Rsetattr);
    let Msg::Rgetattr(got) = call(&mut a, 3, Msg::Tgetattr { fid: 1, request_mask: 0x7ff }) else { panic!() };
    assert_eq!((got.mtime_sec, got.mtime_nsec), (4_102_444_800, 987_654_321));
    let host = std::fs::metadata(dir.0.join("f")).unwrap();
    assert_eq!((host.mtime(), host.mtime_nsec()), (4_102_444_800, 987_654_321));
    // "Now" for atime, the mtime untouched.
    let attr = SetAttr { valid: 0x10, ..SetAttr::default() };
    assert_eq!(call(&mut a, 4, Msg::Tsetattr { fid: 1, attr }), Msg::Rsetattr);
    let host = std::fs::metadata(dir.0.join("f")).unwrap();
    assert!(host.atime() > 1_700_000_000 && host.mtime() == 4_102_444_800, "{host:?}");

    // Locks: A's write lock stops B's until A gives it back.
    walk_open(&mut a, 2, "f", 2);
    walk_open(&mut b, 2, "f", 2);
    let lock = |ty| Lock { ty, start: 0, length: 0, proc_id: 1, client_id: "t" };
    assert_eq!(call(&mut a, 5, Msg::Tlock { fid: 2, lock: lock(1), flags: 0 }), Msg::Rlock { status: 0 });
    assert_eq!(call(&mut b, 5, Msg::Tlock { fid: 2, lock: lock(1), flags: 0 }), Msg::Rlock { status: 1 }, "blocked");
    assert!(matches!(call(&mut b, 6, Msg::Tgetlock { fid: 2, lock: lock(0) }), Msg::Rgetlock { lock } if lock.ty == 1));
    assert_eq!(call(&mut a, 7, Msg::Tlock { fid: 2, lock: lock(2), flags: 0 }), Msg::Rlock { status: 0 });
    assert!(matches!(call(&mut b, 8, Msg::Tgetlock { fid: 2, lock: lock(1) }), Msg::Rgetlock { lock } if lock.ty == 2));
    assert_eq!(call(&mut b, 9, Msg::Tlock { fid: 2, lock: lock(1), flags: 0 }), Msg::Rlock { status: 0 });
    // Ranges: B holds bytes 0-9 now; A may take 10-19, not 5-14.
    let range = |ty, start, length| Lock { ty, start, length, proc_id: 1, client_id: "t" };
    assert_eq!(call(&mut b, 20, Msg::Tlock { fid: 2, lock: range(2, 0, 0), flags: 0 }), Msg::Rlock { status: 0 });
    assert_eq!(call(&mut b, 21, Msg::Tlock { fid: 2, lock: range(1, 0, 10), flags: 0 }), Msg::Rlock { status: 0 });
    assert_eq!(call(&mut a, 22, Msg::Tlock { fid: 2, lock: range(1, 10, 10), flags: 0 }), Msg::Rlock { status: 0 });
    assert_eq!(call(&mut a, 23, Msg::Tlock { fid: 2, lock: range(1, 5, 10), flags: 0 }), Msg::Rlock { status: 1 });
    assert_eq!(call(&mut a, 24, Msg::Tlock { fid: 2, lock: range(2, 0, 0), flags: 0 }), Msg::Rlock { status: 0 });
    // Asking about a lock never drops one's own: B's read lock stays
    // after B asks about a write lock on its own fid.
    assert_eq!(call(&mut b, 25, Msg::Tlock { fid: 2, lock: range(0, 0, 0), flags: 0 }), Msg::Rlock { status: 0 });
    assert!(matches!(call(&mut b, 26, Msg::Tgetlock { fid: 2, lock: range(1, 0, 0) }), Msg::Rgetlock { .. }));
    assert_eq!(call(&mut a, 27, Msg::Tlock { fid: 2, lock: range(1, 0, 0), flags: 0 }), Msg::Rlock { status: 1 });
    // A client that leaves gives its locks back (its files close).
    drop(b);
    let mut tries = 0;
    while call(&mut a, 10, Msg::Tlock { fid: 2, lock: lock(1), flags: 0 }) != (Msg::Rlock { status: 0 }) {
        tries += 1;
        assert!(tries < 100, "B's lock outlived B");
        std::thread::sleep(Duration::from_millis(20));
    }

    // Extended attributes: "not supported", not a silent nothing.
    let x = Msg::Txattrwalk { fid: 0, newfid: 9, name: "user.x" };
    assert_eq!(call(&mut a, 11, x), Msg::Rlerror { ecode: 95 });
    // A link is a file of its own: read as a link, never followed, not
    // walked through, not opened.
    let walk = Msg::Twalk { fid: 0, newfid: 3, wnames: ["out"].into_iter().collect() };
    assert!(matches!(call(&mut a, 12, walk), Msg::Rwalk { wqids } if wqids[0].ty == 0x02));
    assert_eq!(call(&mut a, 13, Msg::Treadlink { fid: 3 }), Msg::Rreadlink { target: "/etc" });
    assert_eq!(call(&mut a, 14, Msg::Tlopen { fid: 3, flags: 0 }), Msg::Rlerror { ecode: 40 }, "ELOOP");
    let through = Msg::Twalk { fid: 0, newfid: 4, wnames: ["out", "passwd"].into_iter().collect() };
    assert!(matches!(call(&mut a, 15, through), Msg::Rwalk { wqids } if wqids.len() == 1), "stops at the link");
    // A FIFO made through the export is never opened by the server (it
    // would wait for a writer).
    let fifo = Msg::Tmknod { dfid: 0, name: "p", mode: 0o010644, major: 0, minor: 0, gid: 0 };
    assert!(matches!(call(&mut a, 16, fifo), Msg::Rmknod { .. }));
    let walk = Msg::Twalk { fid: 0, newfid: 5, wnames: ["p"].into_iter().collect() };
    call(&mut a, 17, walk);
    assert_eq!(call(&mut a, 18, Msg::Tlopen { fid: 5, flags: 0 }), Msg::Rlerror { ecode: 95 });
    assert!(std::fs::symlink_metadata(dir.0.join("p")).unwrap().file_type().is_fifo());
}

/// Acting as the attaching user (the server runs as root, as the tests
/// do): a file is made with a group of the user's and no other; root
/// attaching is nobody unless allowed.
#[test]
fn files_are_made_as_the_attaching_user_with_its_groups_only() {
    if !fs9p::host::is_root() {
        return; // acting as users needs root (`.ci/run` runs as root)
    }
    let dir = TempDir::new("ninep-acting");
    std::fs::set_permissions(&dir.0, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    for (allow_root, n_uname, owner) in [(false, 65534, 65534), (false, 0, 65534), (true, 0, 0)] {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let fs = DirFs::new(&dir.0, Users::Attaching { allow_root }).unwrap();
        std::thread::spawn(move || serve(listener, fs, 64));
        let mut s = TcpStream::connect(&addr).unwrap();
        rpc(&mut s, Dialect::L, NOTAG, Msg::Tversion { msize: 8192, version: "9P2000.L" });
        let attach = Msg::Tattach { fid: 0, afid: NOFID, uname: "", aname: "", n_uname: Some(n_uname) };
        assert!(matches!(call(&mut s, 1, attach), Msg::Rattach { .. }));
        let name: &'static str = String::leak(format!("made-{allow_root}-{n_uname}"));
        let walk = || Msg::Twalk { fid: 0, newfid: 1, wnames: [].into_iter().collect() };
        call(&mut s, 2, walk());
        // Root (not squashed) may name any group; nobody only its own.
        let other = Msg::Tlcreate { fid: 1, name, flags: 1, mode: 0o640, gid: 4242 };
        let made = call(&mut s, 3, other);
        if owner == 0 {
            assert!(matches!(made, Msg::Rlcreate { .. }), "{made:?}");
            assert_eq!(std::fs::metadata(dir.0.join(name)).unwrap().gid(), 4242);
            continue;
        }
        if n_uname == 0 {
            // A squashed root's group is nobody's, whatever it asks.
            assert!(matches!(made, Msg::Rlcreate { .. }), "{made:?}");
        } else {
            assert_eq!(made, Msg::Rlerror { ecode: 1 }, "EPERM: not one of nobody's groups");
            call(&mut s, 4, Msg::Tclunk { fid: 1 });
            call(&mut s, 5, walk());
            let own = Msg::Tlcreate { fid: 1, name, flags: 1, mode: 0o640, gid: 65534 };
            assert!(matches!(call(&mut s, 6, own), Msg::Rlcreate { .. }));
        }
        let m = std::fs::metadata(dir.0.join(name)).unwrap();
        assert_eq!((m.uid(), m.gid(), m.mode() & 0o777), (owner, 65534, 0o640), "{name}");
    }
}

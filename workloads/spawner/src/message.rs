//! `message`: a write that fits one part of the process's I/O window
//! goes in one call, even while another thread of ours holds the window
//! onto that server in a read that waits. One thread reads a child's
//! `/proc/cluster/GPID/wait` into a 64 KiB buffer (through the window's
//! bulk part) until the child ends; meanwhile another writes a `Spawn`
//! call of 1,225 bytes to `/proc/cluster/call` with a plain write.
//! Cut into message-sized writes, as it was, the call file took the
//! first part as a request of its own and refused it; whole, it is
//! answered (`StartHere`: placed by load on a cluster of one, or on the
//! least loaded node, nothing starts).

use crate::err;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};
use libux::cluster::{Gpid, Place};
use libux::fs::client::open;
use libux::fs::flags;
use libux::process::{self, spawn};
use libux::rpc::{Request, Response, Spawn};
use libux::sync::Mutex;

/// What the reading thread read, once it has.
static READ: Mutex<Option<Result<String, String>>> = Mutex::new(None);
/// The reading thread is about to read (and so to hold the window).
static READING: AtomicBool = AtomicBool::new(false);

fn sleep_ms(ms: u32) -> Result<(), String> {
    let mut sleep = open("/dev/sleep", flags::WRITE).map_err(|e| err("/dev/sleep", e))?;
    sleep.write(format!("{ms}").as_bytes()).map(|_| ()).map_err(|e| err("sleep", e))
}

pub fn message() -> Result<String, String> {
    let me = process::getpid().map_err(|e| err("getpid", e))?;
    let node = Gpid(me).node().ok_or("we have no node")?;
    let child = spawn("/bin/sleep", &["sleep", "2"], &[]).map_err(|e| err("spawn sleep", e))?;
    let gpid = Gpid::new(node, Gpid(child).pid()).ok_or("no gpid for the child")?;
    let path = format!("/proc/cluster/{}/wait", gpid.0);
    libux::thread::spawn(move || {
        let read = open(&path, flags::READ).and_then(|mut f| {
            let mut buf = alloc::vec![0u8; 64 * 1024];
            READING.store(true, Ordering::Release);
            let n = f.read(&mut buf)?;
            Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
        });
        *READ.lock() = Some(read.map_err(|e| err("read wait", e)));
    })
    .map_err(|e| err("thread", e))?;
    // Long enough for the reader, once about to read, to be waiting.
    for _ in 0..50 {
        if READING.load(Ordering::Acquire) {
            break;
        }
        sleep_ms(20)?;
    }
    if !READING.load(Ordering::Acquire) {
        return Err(String::from("the reader never came to its read"));
    }
    sleep_ms(200)?;
    let long = "x".repeat(1200);
    let call = Request::Spawn(Spawn {
        path: "/bin/true",
        argv: alloc::vec!["true", &long],
        env: Vec::new(),
        redirect: None,
        fds: Vec::new(),
        place: Some(Place::LeastLoaded),
        home_parent: None,
    });
    let bytes = postcard::to_allocvec(&call).map_err(|_| String::from("encode"))?;
    let mut file = open("/proc/cluster/call", flags::READ | flags::WRITE).map_err(|e| err("open call", e))?;
    file.write(&bytes).map_err(|e| err(&format!("a write of a {}-byte call", bytes.len()), e))?;
    let mut reply = [0u8; 256];
    let n = file.pread(0, &mut reply).map_err(|e| err("read the reply", e))?;
    match libux::rpc::decode_reply(&reply[..n]) {
        Ok(Ok(Response::StartHere(_))) => {}
        other => return Err(format!("the call's reply: {other:?}")),
    }
    if READ.lock().is_some() {
        return Err(String::from("the reader was not waiting while the call went"));
    }
    for _ in 0..100 {
        if let Some(read) = READ.lock().take() {
            let status = read?;
            if !status.contains(" exited:0 ") {
                return Err(format!("the wait read {status:?}"));
            }
            return Ok(format!("a {}-byte call went whole while a thread waited in a read", bytes.len()));
        }
        sleep_ms(100)?;
    }
    Err(String::from("the reader never read the child's end"))
}

//! A client that names an I/O window it never asked for (a `ReadWindow`
//! or `WriteWindow` sent without `Request::Window`) is refused by every
//! kind of file server: ramfs and devfs (the library's loop) and the
//! cluster server (a loop of its own), and each goes on serving. Had one
//! touched the window, it would have read memory not mapped (and ended
//! with a fault) or another client's bytes. The checks run in a child
//! (`filetest windows`), which has no window yet. Then, with windows:
//! a part named past a window's end is refused, and a write from the
//! message part (after the bulk part) is taken whole. Last, a window
//! outlives its server: a transfer through it after the server ended
//! fails `ServerGone`, where it once faulted (the frames had gone with
//! the server).

use alloc::format;
use alloc::string::String;
use filetest::{check, e};
use libux::fs::client as fs;
use libux::fs::{flags, FsRequest, FsResponse};
use libux::layout::{slot, IO_WINDOW_MESSAGE_AT, IO_WINDOW_SPAN};
use libux::rpc::frame::{self, Place};
use libux::rpc::{End, Errno, Request, Response, MSG_CALL, MSG_REPLY};
use libux::sel4::syscall::{self, ipc_buffer, Msg};
use libux::sel4::MessageInfo;

/// Where our raw connection goes.
const CONN: u64 = slot::FIRST_FREE + 10;

/// Sends `req` on `CONN` as the client library would; the handle a
/// `Handle` answer gives, 0 for any other success.
fn raw(req: &FsRequest) -> Result<u32, Errno> {
    let m = &mut ipc_buffer().msg;
    let words = frame::encode(req, m, None, 0)?;
    let out = Msg { info: MessageInfo::new(MSG_CALL, 0, 0, words as u64), mr: [m[0], m[1], m[2], m[3]] };
    let reply = syscall::call(CONN, out);
    let m = &mut ipc_buffer().msg;
    m[..4].copy_from_slice(&reply.mr);
    let h = frame::header(m, reply.info.length() as usize)?;
    if reply.info.label() != MSG_REPLY || h.place != Place::Inline {
        return Err(Errno::BadRequest);
    }
    match libux::fs::decode_reply(&frame::inline_bytes(m)[..h.len])? {
        Ok(FsResponse::Handle(h)) => Ok(h),
        Ok(_) => Ok(0),
        Err(e) => Err(e),
    }
}

/// Opens `path` on its server through our raw connection.
fn open_raw(path: &str, open_flags: u32) -> Result<u32, String> {
    let inner = match libux::rpc::client::call(slot::PROC_CONN, &Request::Resolve { path, into: CONN }) {
        Ok(Response::Resolved { path: inner, window: None, .. }) => inner,
        other => return Err(format!("resolve {path}: {other:?}")),
    };
    raw(&FsRequest::Open { path: &inner, flags: open_flags }).map_err(e(path))
}

/// In `filetest`: the checks, in a child.
pub fn parent() -> Result<(), String> {
    let pid = libux::process::spawn("/bin/filetest", &["filetest-windows", "windows"], &[]).map_err(e("spawn"))?;
    let end = libux::process::wait(Some(pid)).map_err(e("wait"))?.end;
    check("a child with no window passed its checks", end == End::Exited(0), format!("{end:?}"))?;
    outlived()
}

/// A file on a ramfs of our own, written through the window; the ramfs
/// killed; then more transfers through the same window.
fn outlived() -> Result<(), String> {
    let at = "/n/filetest-windows";
    let server = libux::process::spawn("/bin/ramfs", &["ramfs", "1048576", at], &[]).map_err(e("spawn ramfs"))?;
    let path = format!("{at}/tmp/f");
    let mut tries = 0;
    let mut file = loop {
        match fs::create(&path) {
            Ok(f) => break f,
            Err(_) if tries < 100_000 => tries += 1,
            Err(err) => return Err(format!("{path}: {err} after {tries} tries")),
        }
        syscall::yield_now();
    };
    let mut big = alloc::vec![7u8; 32 * 1024];
    let wrote = file.write(&big);
    check("a write through the window of a ramfs of our own", wrote == Ok(big.len()), format!("{wrote:?}"))?;
    libux::process::kill(server).map_err(e("kill ramfs"))?;
    libux::process::wait(Some(server)).map_err(e("wait for ramfs"))?;
    let write = file.write(&big).err();
    let read = file.pread(0, &mut big).err();
    let gone = write == Some(Errno::ServerGone) && read == Some(Errno::ServerGone);
    check("a window outlives its server: transfers fail, they do not fault", gone, format!("{write:?} {read:?}"))
}

/// In the child.
pub fn child() -> Result<(), String> {
    for (path, server) in [("/tmp/big", "ramfs"), ("/dev/null", "devfs"), ("/proc/cluster/call", "cluster")] {
        let handle = open_raw(path, flags::READ)?;
        let read = raw(&FsRequest::ReadWindow { handle, offset: 0, count: 100, at: 0 }).err();
        let refused = read == Some(Errno::BadRequest);
        check(&format!("{server} refuses a read into a window never asked for"), refused, format!("{read:?}"))?;
        let handle = open_raw(path, flags::READ | flags::WRITE)?;
        let write = raw(&FsRequest::WriteWindow { handle, offset: 0, count: 100, at: 0 }).err();
        let refused = write == Some(Errno::BadRequest);
        check(&format!("{server} refuses a write from a window never asked for"), refused, format!("{write:?}"))?;
        let still = fs::stat(path).map(|_| ()).map_err(e(path));
        check(&format!("{server} serves on"), still.is_ok(), format!("{still:?}"))?;
    }
    // With a window: a part of it past its end is refused; its message
    // part, after the bulk part, carries a write whole.
    let span = IO_WINDOW_SPAN as u32;
    for (path, server) in [("/tmp/big", "ramfs"), ("/dev/null", "devfs"), ("/proc/cluster/call", "cluster")] {
        let (handle, window) = open_with_window(path)?;
        let write = raw(&FsRequest::WriteWindow { handle, offset: 0, count: 100, at: span - 10 }).err();
        let refused = write == Some(Errno::InvalidArgument);
        check(&format!("{server} refuses a write from past the window"), refused, format!("{write:?}"))?;
        let read = raw(&FsRequest::ReadWindow { handle, offset: 0, count: 100, at: span }).err();
        let refused = read == Some(Errno::InvalidArgument);
        check(&format!("{server} refuses a read into past the window"), refused, format!("{read:?}"))?;
        if server == "ramfs" {
            let message = b"a message";
            // SAFETY: the process server mapped our window there, span bytes.
            let part =
                unsafe { core::slice::from_raw_parts_mut((window + IO_WINDOW_MESSAGE_AT) as *mut u8, message.len()) };
            part.copy_from_slice(message);
            let at = IO_WINDOW_MESSAGE_AT as u32;
            let wrote = raw(&FsRequest::WriteWindow { handle, offset: 0, count: message.len() as u32, at });
            let mut back = [0u8; 9];
            let read = fs::open(path, flags::READ).and_then(|f| f.pread(0, &mut back));
            let ok = wrote.is_ok() && read == Ok(message.len()) && &back == message;
            check("ramfs takes a write from the message part", ok, format!("{wrote:?} {read:?} {back:?}"))?;
        }
    }
    Ok(())
}

/// Opens `path` through our raw connection, with our window onto its
/// server made: the handle and where the window is.
fn open_with_window(path: &str) -> Result<(u32, u64), String> {
    let (inner, server) = match libux::rpc::client::call(slot::PROC_CONN, &Request::Resolve { path, into: CONN }) {
        Ok(Response::Resolved { path: inner, server, .. }) => (inner, server),
        other => return Err(format!("resolve {path}: {other:?}")),
    };
    let window = match libux::rpc::client::call(slot::PROC_CONN, &Request::Window { server }) {
        Ok(Response::Window(at)) => at,
        other => return Err(format!("window onto {path}: {other:?}")),
    };
    let handle = raw(&FsRequest::Open { path: &inner, flags: flags::READ | flags::WRITE }).map_err(e(path))?;
    Ok((handle, window))
}

//! `exportfs [PORT]`: serves the node's namespace (`/`, and with it
//! `/proc`, `/tmp`, `/bin`, `/dev`, `/net`) over 9P (9P2000 or 9P2000.L,
//! msize up to 1 MiB, no authentication yet) on TCP PORT (default 564).
//!
//! The Plan 9 way: this listener announces the port and, for each
//! connection, spawns `exportfs -s`, a child that serves that one
//! connection with the connection's `data` file as its descriptor 0 (by
//! name, like every descriptor). The connection lives while a file of it
//! is open, so the listener keeps its own until the child has opened its
//! descriptors: the child's descriptor 3 is the write end of a pipe the
//! listener reads, opened first, and closed by the child's `main` (a
//! child that fails before that ends, which closes it too). A client that
//! sends what is not 9P gets error replies, or (a frame size out of
//! bounds, a closed stream) its connection dropped: only its own child
//! ends.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::vec;
use fs9p::server::{Session, MAX_MSIZE};
use libux::fd;
use libux::fs::client::{open, File};
use libux::fs::flags;
use libux::layout::IO_WINDOW;
use libux::net::client::{announce, listen, Conn};
use libux::rpc::{Errno, FdName, Pid};
use libux::{eprintln, println};
use ninep::osfs::OsFs;

libux::entry!(main);

const USAGE: &str = "usage: exportfs [PORT]";
/// Fids one connection may hold.
const MAX_FIDS: usize = 1024;
/// Where the child gets its end of the hand-over pipe.
const HANDOVER_FD: usize = 3;

fn main() -> i32 {
    let args = libux::rt::args();
    if args.get(1) == Some(&"-s") && args.len() == 2 {
        let _ = fd::close(HANDOVER_FD);
        return serve_connection();
    }
    let port = match args.get(1).map(|p| p.parse::<u16>()) {
        None => 564,
        Some(Ok(p)) if p != 0 && args.len() == 2 => p,
        _ => {
            eprintln!("{USAGE}");
            return 2;
        }
    };
    let announced = match announce(&format!("tcp!*!{port}")) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("exportfs: announce tcp!*!{port}: {e}");
            return 1;
        }
    };
    println!("exportfs: serving / on tcp!*!{port}");
    loop {
        match listen(&announced) {
            Ok(conn) => {
                if let Err(e) = hand_over(&conn) {
                    eprintln!("exportfs: connection {}: {e}", conn.n);
                }
            }
            Err(e) => {
                eprintln!("exportfs: listen: {e}");
                return 1;
            }
        }
        // Children that ended are reaped, without waiting for the others.
        while let Ok(Some(_)) = libux::process::try_wait(None) {}
    }
}

/// Spawns the child that serves `conn` and waits until it holds it.
fn hand_over(conn: &Conn) -> Result<Pid, Errno> {
    let mut clone = open("/dev/pipe/clone", flags::READ)?;
    let mut number = [0u8; 16];
    let n = clone.read(&mut number)?;
    let pipe = core::str::from_utf8(&number[..n]).map_err(|_| Errno::BadRequest)?.trim();
    let mut reader: File = open(&format!("/dev/pipe/{pipe}/r"), flags::READ)?;
    let writer = format!("/dev/pipe/{pipe}/w");
    let standard = fd::standard();
    let mut fds = vec![
        FdName { fd: HANDOVER_FD as u8, path: &writer, flags: flags::WRITE },
        FdName { fd: fd::STDIN as u8, path: &conn.data.path, flags: flags::READ | flags::WRITE },
    ];
    fds.extend(fd::names(&standard).into_iter().filter(|f| f.fd != fd::STDIN as u8));
    let pid = libux::process::spawn_full("/bin/exportfs", &["exportfs", "-s"], &[], None, &fds)?;
    // The end of data: the child has opened its descriptors (or died).
    let mut byte = [0u8; 1];
    let _ = reader.read(&mut byte);
    drop(clone);
    Ok(pid)
}

/// Serves 9P on descriptor 0 until the client goes or misbehaves.
fn serve_connection() -> i32 {
    let mut fs = OsFs::default();
    let mut session = Session::new(MAX_FIDS);
    let mut inbuf = vec![0u8; MAX_MSIZE as usize];
    let mut out = vec![0u8; MAX_MSIZE as usize];
    let mut have = 0;
    loop {
        // Frames up to what we ever agree to; the session refuses one
        // larger than the msize it agreed.
        match fs9p::frame_len(&inbuf[..have], MAX_MSIZE) {
            Ok(Some(len)) if len <= have => {
                let n = session.handle(&mut fs, &inbuf[..len], &mut out[..session.msize() as usize]);
                if fd::write(fd::STDIN, &out[..n]).is_err() {
                    return 0;
                }
                inbuf.copy_within(len..have, 0);
                have -= len;
                continue;
            }
            Ok(_) => {}
            // A frame size no message may have: not 9P; drop the client.
            Err(_) => return 1,
        }
        let room = (inbuf.len() - have).min(IO_WINDOW as usize);
        match fd::read(fd::STDIN, &mut inbuf[have..have + room]) {
            Ok(0) | Err(_) => return 0,
            Ok(n) => have += n,
        }
    }
}

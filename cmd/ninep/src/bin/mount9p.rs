//! `mount9p [-2] [-m MSIZE] tcp!A.B.C.D!PORT NAME`: dials a 9P export
//! (`exportfs` on another node, a host's server), negotiates 9P2000.L
//! (`-2`: 9P2000) with a large msize (default 1 MiB), and serves it at
//! `/n/NAME` until it is killed: `ls`, `cat` and the shell's `>` work on
//! the remote files unchanged. Requests are answered one at a time, in
//! order. When the connection breaks, the call that finds it so is an I/O
//! error; the next call dials again (at most once every 10 s), and so
//! do later ones until a new connection is made, failing meanwhile. Files
//! open before the break stay I/O errors until closed.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use fs9p::client::Client;
use fs9p::Dialect;
use libux::fs::client::File;
use libux::fs::server::encode;
use libux::layout::{event, slot};
use libux::net::client::dial;
use libux::process::Clock;
use libux::rpc::client::{recv_raw, reply_recv_raw};
use libux::rpc::frame::{self, Place};
use libux::rpc::{Badge, Errno, MSG_CALL};
use libux::sel4::syscall::ipc_buffer;
use libux::{eprintln, println};
use ninep::remote::Remote;
use ninep::stream::Stream;

libux::entry!(main);

const EP: u64 = slot::FIRST_FREE;
const USAGE: &str = "usage: mount9p [-2] [-m MSIZE] tcp!A.B.C.D!PORT NAME";
/// Calls between two questions to the process server about which
/// clients ended (we are not a daemon: nobody signals us).
const ENDED_EVERY: u32 = 64;
/// Least time between two attempts to dial again, in microseconds.
const REDIAL_EVERY_US: u64 = 10_000_000;

/// The export and how to speak to it, to dial again.
struct Link<'a> {
    addr: &'a str,
    dialect: Dialect,
    msize: u32,
    /// Held, never read: the connection lasts while its `ctl` is open.
    _ctl: File,
    clock: Clock,
    last_dial: Option<u64>,
}

/// A connection to `addr`, 9P spoken and the root attached.
fn connect(addr: &str, dialect: Dialect, msize: u32) -> Result<(Client<Stream>, File), String> {
    let conn = dial(addr).map_err(|e| format!("{addr}: {e}"))?;
    let client = Client::connect(Stream(conn.data), dialect, msize, "ux", "/").map_err(|e| format!("{addr}: {e}"))?;
    Ok((client, conn.ctl))
}

impl Link<'_> {
    /// A new connection for `remote`, whose connection broke, unless the
    /// last attempt ended too recently.
    fn redial(&mut self, remote: &mut Remote) {
        let now = self.clock.micros();
        if self.last_dial.is_some_and(|then| now.saturating_sub(then) < REDIAL_EVERY_US) {
            return;
        }
        let dialed = connect(self.addr, self.dialect, self.msize);
        // From the attempt's end: a dial of a dead node takes 20 s.
        self.last_dial = Some(self.clock.micros());
        match dialed {
            Ok((client, ctl)) => {
                println!("mount9p: {}: the connection broke; connected again", self.addr);
                remote.reconnected(client);
                self._ctl = ctl;
            }
            Err(e) => println!("mount9p: the connection broke; dialing again: {e}"),
        }
    }
}

fn main() -> i32 {
    let args = libux::rt::args();
    let (mut dialect, mut msize, mut rest) = (Dialect::L, 1u32 << 20, Vec::new());
    let mut i = 1;
    while i < args.len() {
        match args[i] {
            "-2" => dialect = Dialect::P2000,
            "-m" => match args.get(i + 1).and_then(|m| m.parse().ok()) {
                Some(m) => {
                    msize = m;
                    i += 1;
                }
                None => {
                    eprintln!("{USAGE}");
                    return 2;
                }
            },
            a => rest.push(a),
        }
        i += 1;
    }
    let [addr, name] = rest[..] else {
        eprintln!("{USAGE}");
        return 2;
    };
    if name.is_empty() || name.contains('/') {
        eprintln!("{USAGE}");
        return 2;
    }
    let at = format!("/n/{name}");
    let (client, ctl) = match connect(addr, dialect, msize) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mount9p: {e}");
            return 1;
        }
    };
    // `/n` and `/n/NAME` in ramfs, so that `ls /n` shows the mount (a
    // mount point needs no directory under it; both may exist already).
    let _ = libux::fs::client::mkdir("/n");
    let _ = libux::fs::client::mkdir(&at);
    if let Err(e) = libux::process::create_endpoint(EP).and_then(|()| libux::process::mount(&at, EP)) {
        eprintln!("mount9p: cannot mount {at}: {e}");
        return 1;
    }
    println!("mount9p: {addr} mounted at {at} ({}, msize {})", client.dialect().version(), client.msize());
    let link = Link { addr, dialect, msize, _ctl: ctl, clock: Clock::new(), last_dial: None };
    serve(Remote::new(client), link)
}

/// Answers calls forever.
fn serve(mut remote: Remote, mut link: Link) -> ! {
    let mut cursor = 0;
    let mut calls = 0u32;
    let mut m = recv_raw(EP);
    loop {
        if m.badge & event::FLAG != 0 {
            m = recv_raw(EP);
            continue;
        }
        // Our own calls (to the network) reuse the IPC buffer: copy first.
        let msg = &ipc_buffer().msg;
        let request = match frame::header(msg, m.words) {
            Ok(h) if m.label == MSG_CALL && h.place == Place::Inline => Ok(frame::inline_bytes(msg)[..h.len].to_vec()),
            Ok(_) => Err(Errno::BadRequest),
            Err(e) => Err(e),
        };
        let pid = Badge(m.badge).pid();
        if remote.c.is_broken() {
            link.redial(&mut remote);
        }
        let answer = request.and_then(|bytes| {
            let req = libux::fs::decode_request(&bytes)?;
            remote.request(pid, req)
        });
        calls += 1;
        if calls == ENDED_EVERY {
            calls = 0;
            forget_ended(&mut remote, &mut cursor);
        }
        m = reply_recv_raw(EP, encode(&answer));
    }
}

/// Closes the files of clients that ended (and lets the process server
/// take back their windows' frames).
fn forget_ended(remote: &mut Remote, cursor: &mut u64) {
    match libux::process::ended_among(cursor, || remote.holders()) {
        Ok(pids) => remote.ended(&pids),
        Err(e) => println!("mount9p: cannot learn which processes ended: {e}"),
    }
}

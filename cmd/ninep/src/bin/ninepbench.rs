//! `ninepbench`: figures for 9P in the OS, printed as `ninepbench:` lines
//! (the `qemu` tool's benchmark collects them).
//!
//! - `ninepbench serve PORT`: a raw TCP source: each connection writes a
//!   byte count and a newline, and gets that many bytes back.
//! - `ninepbench tcp tcp!A.B.C.D!PORT BYTES`: reads BYTES from such a
//!   source: raw TCP throughput, the yardstick for 9P on the same link.
//! - `ninepbench read FILE`: reads FILE sequentially, 64 KiB at a time.
//! - `ninepbench meta PATH ROUNDS`: stats PATH ROUNDS times (through
//!   `mount9p`: a walk, a getattr and a clunk each).
//! - `ninepbench calls NODE ROUNDS`: process API calls about another
//!   node's process (a `sleep` it starts there through
//!   `/proc/cluster/spawn`; `Stop` and `Cont` by gpid, through both
//!   nodes' cluster servers) next to the same about a process here, and
//!   a 9P round trip on the same link (a read of an open file of that
//!   node through its mount), ROUNDS of each, alternately.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::vec;
use libux::cluster::{Gpid, NodeId};
use libux::fs::client::{open, stat};
use libux::fs::flags;
use libux::layout::IO_WINDOW;
use libux::net::client::{announce, dial, listen};
use libux::process::{self, Clock};
use libux::rpc::Errno;
use libux::{eprintln, println};

libux::entry!(main);

const USAGE: &str =
    "usage: ninepbench serve PORT | tcp tcp!A.B.C.D!PORT BYTES | read FILE | meta PATH ROUNDS | calls NODE ROUNDS";

/// Seconds since `t0` (microseconds of `clock`).
fn seconds(clock: &Clock, t0: u64) -> f64 {
    (clock.micros() - t0) as f64 / 1e6
}

fn main() -> i32 {
    let args = libux::rt::args();
    let clock = Clock::new();
    let r = match args[1..] {
        ["serve", port] => serve(port),
        ["tcp", addr, bytes] => bytes.parse().map_err(|_| Errno::InvalidArgument).and_then(|b| tcp(addr, b, &clock)),
        ["read", file] => read(file, &clock),
        ["meta", path, rounds] => {
            rounds.parse().map_err(|_| Errno::InvalidArgument).and_then(|r| meta(path, r, &clock))
        }
        ["calls", node, rounds] => match (NodeId::parse(node), rounds.parse()) {
            (Some(n), Ok(r)) => calls(n, r, &clock),
            _ => Err(Errno::InvalidArgument),
        },
        _ => {
            eprintln!("{USAGE}");
            return 2;
        }
    };
    match r {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("ninepbench: {e}");
            1
        }
    }
}

fn serve(port: &str) -> Result<(), Errno> {
    let announced = announce(&format!("tcp!*!{port}"))?;
    println!("ninepbench: source on port {port}");
    let chunk = vec![0x5au8; IO_WINDOW as usize];
    loop {
        let mut conn = listen(&announced)?;
        let mut line = alloc::vec::Vec::new();
        let mut byte = [0u8; 1];
        while conn.data.read(&mut byte)? == 1 && byte[0] != b'\n' && line.len() < 24 {
            line.push(byte[0]);
        }
        let total: u64 = core::str::from_utf8(&line).ok().and_then(|t| t.trim().parse().ok()).unwrap_or(0);
        let mut sent = 0;
        while sent < total {
            let n = (total - sent).min(chunk.len() as u64) as usize;
            if conn.data.write(&chunk[..n]).is_err() {
                break;
            }
            sent += n as u64;
        }
    }
}

fn report(what: &str, bytes: u64, secs: f64) {
    let ms = secs * 1e3;
    println!("ninepbench: {what}: {bytes} bytes in {ms:.0} ms: {:.2} MB/s", bytes as f64 / secs / 1e6);
}

fn tcp(addr: &str, bytes: u64, clock: &Clock) -> Result<(), Errno> {
    let mut conn = dial(addr)?;
    let t0 = clock.micros();
    conn.data.write(format!("{bytes}\n").as_bytes())?;
    let mut buf = vec![0u8; IO_WINDOW as usize];
    let mut got = 0;
    while got < bytes {
        match conn.data.read(&mut buf)? {
            0 => return Err(Errno::BrokenPipe),
            n => got += n as u64,
        }
    }
    report(&format!("raw TCP from {addr}"), got, seconds(clock, t0));
    Ok(())
}

fn read(file: &str, clock: &Clock) -> Result<(), Errno> {
    let mut f = open(file, flags::READ)?;
    let mut buf = vec![0u8; IO_WINDOW as usize];
    let t0 = clock.micros();
    let mut got = 0;
    loop {
        match f.read(&mut buf)? {
            0 => break,
            n => got += n as u64,
        }
    }
    report(&format!("read of {file}"), got, seconds(clock, t0));
    Ok(())
}

fn meta(path: &str, rounds: u32, clock: &Clock) -> Result<(), Errno> {
    let t0 = clock.micros();
    for _ in 0..rounds {
        stat(path)?;
    }
    let secs = seconds(clock, t0);
    println!("ninepbench: stat of {path}: {:.0} per second ({rounds} in {:.0} ms)", rounds as f64 / secs, secs * 1e3);
    Ok(())
}

fn calls(node: NodeId, rounds: u32, clock: &Clock) -> Result<(), Errno> {
    let own = libux::cluster::own_node()?;
    let here = process::spawn("/bin/sleep", &["sleep", "600"], &[])?;
    let here = Gpid::named(own, here).ok_or(Errno::Io)?;
    let there = libux::cluster::spawn(&format!("-n {node} /bin/sleep 600"))?;
    let file = open(&format!("{}/proc/1/status", libux::cluster::mount_point(node)), flags::READ)?;
    let mut buf = [0u8; 64];
    // Microseconds per call of each kind, summed over the rounds.
    let (mut local, mut remote, mut ninep) = (0, 0, 0);
    for _ in 0..rounds {
        for (gpid, sum) in [(here, &mut local), (there, &mut remote)] {
            let t0 = clock.micros();
            process::stop(gpid.0)?;
            process::cont(gpid.0)?;
            *sum += (clock.micros() - t0) / 2;
        }
        let t0 = clock.micros();
        file.pread_once(0, &mut buf)?;
        ninep += clock.micros() - t0;
    }
    let _ = process::kill(here.0);
    let _ = process::wait(Some(here.0));
    let _ = process::kill(there.0);
    let _ = process::wait(Some(there.0));
    let per = |sum: u64| sum as f64 / rounds as f64;
    let (l, r, n) = (per(local), per(remote), per(ninep));
    println!(
        "ninepbench: stop/cont by gpid: {l:.0} us here, {r:.0} us on node {node} ({:.1} x); a 9P read round trip to node {node}: {n:.0} us (the call {:.1} x it)",
        r / l,
        r / n
    );
    Ok(())
}

//! `tcpsend BYTES tcp!A.B.C.D!PORT`: connects to an echo server, sends
//! BYTES bytes of a fixed pattern and checks that they all come back
//! intact; prints the time and rate.
//!
//! `tcpsend -r ROUNDS tcp!A.B.C.D!PORT`: ROUNDS round trips of one byte,
//! each sent when the last came back; prints their minimum and median.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;
use libux::fs::client::File;
use libux::net::client::dial;
use libux::println;

libux::entry!(main);

const CHUNK: usize = 16 * 1024;

fn byte(i: u64) -> u8 {
    (i.wrapping_mul(2_654_435_761) >> 7) as u8
}

fn main() -> i32 {
    let args = libux::rt::args();
    const USAGE: &str = "tcpsend BYTES tcp!A.B.C.D!PORT | tcpsend -r ROUNDS tcp!A.B.C.D!PORT";
    let (rounds, count, addr) = match args.get(1..).unwrap_or_default() {
        ["-r", n, addr] => (true, n, addr),
        [n, addr] => (false, n, addr),
        _ => return utils::usage(USAGE),
    };
    let Some(count) = count.parse::<u64>().ok().filter(|&n| n > 0 || !rounds) else {
        return utils::usage(USAGE);
    };
    let clock = libux::process::Clock::new();
    let t0 = clock.micros();
    let mut conn = match dial(addr) {
        Ok(c) => c,
        Err(e) => return utils::fail("tcpsend", addr, e),
    };
    if rounds {
        return round_trips(&mut conn.data, count, addr, &clock);
    }
    let total = count;
    let (mut sent, mut got) = (0u64, 0u64);
    let mut out = alloc::vec![0u8; CHUNK];
    let mut back = alloc::vec![0u8; CHUNK];
    while got < total {
        if sent < total {
            let n = CHUNK.min((total - sent) as usize);
            for (i, b) in out[..n].iter_mut().enumerate() {
                *b = byte(sent + i as u64);
            }
            if let Err(e) = conn.data.write(&out[..n]) {
                return utils::fail("tcpsend", "write", e);
            }
            sent += n as u64;
        }
        // Read back what is outstanding, at most a chunk at a time.
        let want = CHUNK.min((sent - got) as usize);
        let n = match conn.data.read(&mut back[..want]) {
            Ok(0) => {
                println!("tcpsend: FAIL the connection closed after {got} of {total} bytes");
                return 1;
            }
            Ok(n) => n,
            Err(e) => return utils::fail("tcpsend", "read", e),
        };
        if let Some(i) = (0..n).find(|&i| back[i] != byte(got + i as u64)) {
            println!("tcpsend: FAIL byte {} differs", got + i as u64);
            return 1;
        }
        got += n as u64;
    }
    let us = clock.micros() - t0;
    let rate = total as f64 / us.max(1) as f64;
    println!("tcpsend: {total} bytes echoed intact by {addr} in {} ms ({rate:.2} MB/s)", us / 1000);
    0
}

/// `rounds` 1-byte round trips through `data`.
fn round_trips(data: &mut File, rounds: u64, addr: &str, clock: &libux::process::Clock) -> i32 {
    let mut times = Vec::new();
    for i in 0..rounds {
        let t0 = clock.micros();
        let out = [i as u8];
        if let Err(e) = data.write(&out) {
            return utils::fail("tcpsend", "write", e);
        }
        let mut back = [0u8];
        match data.read_once(&mut back) {
            Ok(1) if back == out => times.push(clock.micros() - t0),
            Ok(1) => {
                println!("tcpsend: FAIL round {i} came back as {}", back[0]);
                return 1;
            }
            Ok(_) => {
                println!("tcpsend: FAIL the connection closed after {i} round trips");
                return 1;
            }
            Err(e) => return utils::fail("tcpsend", "read", e),
        }
    }
    times.sort_unstable();
    println!(
        "tcpsend: {rounds} 1-byte round trips to {addr}: min {} us median {} us",
        times[0],
        times[times.len() / 2]
    );
    0
}

//! `tcpsend BYTES tcp!A.B.C.D!PORT`: connects to an echo server, sends
//! BYTES bytes of a fixed pattern and checks that they all come back
//! intact; prints the time and rate.
#![no_std]
#![no_main]

extern crate alloc;

use libux::net::client::dial;
use libux::println;

libux::entry!(main);

const CHUNK: usize = 16 * 1024;

fn byte(i: u64) -> u8 {
    (i.wrapping_mul(2_654_435_761) >> 7) as u8
}

fn main() -> i32 {
    let args = libux::rt::args();
    let (Some(total), Some(addr), 3) = (args.get(1).and_then(|n| n.parse::<u64>().ok()), args.get(2), args.len())
    else {
        return utils::usage("tcpsend BYTES tcp!A.B.C.D!PORT");
    };
    let clock = libux::process::Clock::new();
    let t0 = clock.micros();
    let mut conn = match dial(addr) {
        Ok(c) => c,
        Err(e) => return utils::fail("tcpsend", addr, e),
    };
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

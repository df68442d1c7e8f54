//! `ping [-c COUNT] A.B.C.D`: ICMP echo through `/net/icmp`. Sends COUNT
//! (default 4) requests of 56 bytes, one at a time, and prints each round
//! trip; a reply that does not come within a second counts as lost. The
//! status is 0 if any reply came.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use libux::net::client::dial;
use libux::println;

libux::entry!(main);

const SIZE: usize = 56;

fn main() -> i32 {
    let args = libux::rt::args();
    let (count, host) = match args.as_slice() {
        [_, host] => (4, host),
        [_, flag, n, host] if *flag == "-c" => match n.parse::<u32>() {
            Ok(n) if n > 0 => (n, host),
            _ => return utils::usage("ping [-c COUNT] A.B.C.D"),
        },
        _ => return utils::usage("ping [-c COUNT] A.B.C.D"),
    };
    let mut conn = match dial(&format!("icmp!{host}")) {
        Ok(c) => c,
        Err(e) => return utils::fail("ping", host, e),
    };
    let clock = libux::process::Clock::new();
    let (mut received, mut min, mut max, mut sum) = (0u32, u64::MAX, 0u64, 0u64);
    let mut reply = [0u8; 2 * SIZE];
    for seq in 0..count {
        let t0 = clock.micros();
        // The request carries its sequence number and sending time.
        let mut request = [0u8; SIZE];
        request[..4].copy_from_slice(&seq.to_le_bytes());
        request[4..12].copy_from_slice(&t0.to_le_bytes());
        if let Err(e) = conn.data.write(&request) {
            return utils::fail("ping", "write", e);
        }
        loop {
            match conn.data.read_once(&mut reply) {
                Ok(0) => {
                    println!("ping: no reply to {seq} from {host}");
                    break;
                }
                Ok(n) if reply[..n] == request => {
                    let us = clock.micros() - t0;
                    println!("ping: {n} bytes from {host}: seq {seq} time {us} us");
                    (received, min, max, sum) = (received + 1, min.min(us), max.max(us), sum + us);
                    break;
                }
                // A late reply to an earlier request.
                Ok(_) => continue,
                Err(e) => return utils::fail("ping", "read", e),
            }
        }
    }
    let avg = if received > 0 { sum / received as u64 } else { 0 };
    println!(
        "ping: {host}: {count} sent, {received} received, round trip min/avg/max {}/{avg}/{max} us",
        if received > 0 { min } else { 0 }
    );
    if received > 0 {
        0
    } else {
        1
    }
}

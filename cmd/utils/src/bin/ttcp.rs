//! `ttcp -r [-p PORT]` and `ttcp -t [-p PORT] [-n BYTES] A.B.C.D`: TCP
//! throughput, after the classic tool. The receiver takes one connection
//! on PORT (default 5001) and reads to its end; the transmitter sends
//! BYTES (default 8 MiB) of a fixed pseudo-random stream and closes. Each
//! prints the bytes, time, rate and the CRC-32 of what it moved,
//! so the two ends can be compared.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use libux::crc::Crc32;
use libux::layout::IO_WINDOW;
use libux::net::client::{announce, dial, listen};
use libux::println;

libux::entry!(main);

const USAGE: &str = "ttcp -r [-p PORT] | ttcp -t [-p PORT] [-n BYTES] A.B.C.D";

struct Options<'a> {
    transmit: bool,
    port: u16,
    bytes: u64,
    host: Option<&'a str>,
}

fn options<'a>(args: &[&'a str]) -> Option<Options<'a>> {
    let mut o = Options { transmit: false, port: 5001, bytes: 8 << 20, host: None };
    let (mode, mut rest) = args.get(1..)?.split_first()?;
    o.transmit = match *mode {
        "-t" => true,
        "-r" => false,
        _ => return None,
    };
    while let [flag, value, more @ ..] = rest {
        match *flag {
            "-p" => o.port = value.parse().ok().filter(|&p| p != 0)?,
            "-n" if o.transmit => o.bytes = value.parse().ok()?,
            _ => break,
        }
        rest = more;
    }
    match (o.transmit, rest) {
        (true, [host]) => o.host = Some(host),
        (false, []) => {}
        _ => return None,
    }
    Some(o)
}

/// The transmitted stream: xorshift64 from a fixed seed.
struct Stream(u64);

impl Stream {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            chunk.copy_from_slice(&self.0.to_le_bytes()[..chunk.len()]);
        }
    }
}

fn report(who: &str, bytes: u64, us: u64, sum: &Crc32) {
    let rate = bytes as f64 / us.max(1) as f64;
    println!("{who}: {bytes} bytes in {} ms = {rate:.2} MB/s, crc {:08x}", us / 1000, sum.value());
}

fn main() -> i32 {
    let args = libux::rt::args();
    let Some(o) = options(&args) else { return utils::usage(USAGE) };
    let clock = libux::process::Clock::new();
    let mut buf = alloc::vec![0u8; IO_WINDOW as usize];
    let mut sum = Crc32::default();
    if let Some(host) = o.host {
        let mut conn = match dial(&format!("tcp!{host}!{}", o.port)) {
            Ok(c) => c,
            Err(e) => return utils::fail("ttcp-t", host, e),
        };
        let t0 = clock.micros();
        let mut stream = Stream(0x9e37_79b9_7f4a_7c15);
        let mut sent = 0u64;
        while sent < o.bytes {
            let n = buf.len().min((o.bytes - sent) as usize);
            stream.fill(&mut buf[..n]);
            if let Err(e) = conn.data.write(&buf[..n]) {
                return utils::fail("ttcp-t", "write", e);
            }
            sum.update(&buf[..n]);
            sent += n as u64;
        }
        report("ttcp-t", sent, clock.micros() - t0, &sum);
        return 0;
    }
    let announced = match announce(&format!("tcp!*!{}", o.port)) {
        Ok(a) => a,
        Err(e) => return utils::fail("ttcp-r", "announce", e),
    };
    println!("ttcp-r: listening on tcp port {}", o.port);
    let mut conn = match listen(&announced) {
        Ok(c) => c,
        Err(e) => return utils::fail("ttcp-r", "listen", e),
    };
    let t0 = clock.micros();
    let mut got = 0u64;
    loop {
        match conn.data.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                sum.update(&buf[..n]);
                got += n as u64;
            }
            Err(e) => return utils::fail("ttcp-r", "read", e),
        }
    }
    report("ttcp-r", got, clock.micros() - t0, &sum);
    0
}

//! `echod [PORT]`: a TCP echo server on PORT (default 7), through the
//! `/net` files: it serves one connection at a time, sending back what it
//! reads until the other side closes.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use libux::layout::IO_WINDOW;
use libux::net::client::{announce, listen};
use libux::println;

libux::entry!(main);

fn main() -> i32 {
    let args = libux::rt::args();
    let port = match args.get(1).map(|p| p.parse::<u16>()) {
        None => 7,
        Some(Ok(p)) if p != 0 && args.len() == 2 => p,
        _ => return utils::usage("echod [PORT]"),
    };
    let announced = match announce(&format!("tcp!*!{port}")) {
        Ok(a) => a,
        Err(e) => return utils::fail("echod", "announce", e),
    };
    println!("echod: listening on port {port}");
    let mut buf = alloc::vec![0u8; IO_WINDOW as usize];
    loop {
        let mut conn = match listen(&announced) {
            Ok(c) => c,
            Err(e) => return utils::fail("echod", "listen", e),
        };
        let mut total = 0u64;
        loop {
            match conn.data.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if conn.data.write(&buf[..n]).is_err() {
                        break;
                    }
                    total += n as u64;
                }
                Err(_) => break,
            }
        }
        println!("echod: connection {} closed after {total} bytes", conn.n);
    }
}

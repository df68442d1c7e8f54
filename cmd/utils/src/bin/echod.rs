//! `echod [-u] [PORT]`: an echo server on PORT (default 7), through the
//! `/net` files. TCP: it serves one connection at a time, sending back
//! what it reads until the other side closes. UDP (`-u`): it sends every
//! datagram back to where it came from.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use libux::layout::IO_WINDOW;
use libux::net::client::{announce, listen, Announced};
use libux::net::Datagram;
use libux::println;

libux::entry!(main);

fn main() -> i32 {
    let args = libux::rt::args();
    let udp = args.get(1).is_some_and(|a| *a == "-u");
    let rest = &args[1 + udp as usize..];
    let port = match rest.first().map(|p| p.parse::<u16>()) {
        None => 7,
        Some(Ok(p)) if p != 0 && rest.len() == 1 => p,
        _ => return utils::usage("echod [-u] [PORT]"),
    };
    let proto = if udp { "udp" } else { "tcp" };
    let announced = match announce(&format!("{proto}!*!{port}")) {
        Ok(a) => a,
        Err(e) => return utils::fail("echod", "announce", e),
    };
    println!("echod: listening on {proto} port {port}");
    if udp {
        datagrams(&announced)
    } else {
        streams(&announced)
    }
}

fn streams(announced: &Announced) -> i32 {
    let mut buf = alloc::vec![0u8; IO_WINDOW as usize];
    loop {
        let mut conn = match listen(announced) {
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

fn datagrams(announced: &Announced) -> i32 {
    let mut data = match announced.data() {
        Ok(d) => d,
        Err(e) => return utils::fail("echod", "data", e),
    };
    let mut buf = alloc::vec![0u8; 4096];
    loop {
        let n = match data.read_once(&mut buf) {
            Ok(n) => n,
            Err(e) => return utils::fail("echod", "read", e),
        };
        // The header names the sender: written back, it names the
        // destination.
        if Datagram::parse(&buf[..n]).is_some() {
            if let Err(e) = data.write(&buf[..n]) {
                println!("echod: cannot answer: {e}");
            }
        }
    }
}

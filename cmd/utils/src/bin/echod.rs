//! `echod [-u [-b]] [PORT]`: an echo server on PORT (default 7), through
//! the `/net` files. TCP: it serves one connection at a time, sending back
//! what it reads until the other side closes. UDP (`-u`): it sends every
//! datagram back to where it came from; with `-b` it reads them in
//! batches (`ctl` `batch`), and says so when a read brings more at once
//! than any before.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use libux::layout::IO_WINDOW;
use libux::net::client::{announce, listen, Announced};
use libux::net::{Batch, Datagram};
use libux::println;

libux::entry!(main);

fn main() -> i32 {
    let args = libux::rt::args();
    let udp = args.get(1).is_some_and(|a| *a == "-u");
    let batch = udp && args.get(2).is_some_and(|a| *a == "-b");
    let rest = &args[1 + udp as usize + batch as usize..];
    let port = match rest.first().map(|p| p.parse::<u16>()) {
        None => 7,
        Some(Ok(p)) if p != 0 && rest.len() == 1 => p,
        _ => return utils::usage("echod [-u [-b]] [PORT]"),
    };
    let proto = if udp { "udp" } else { "tcp" };
    let mut announced = match announce(&format!("{proto}!*!{port}")) {
        Ok(a) => a,
        Err(e) => return utils::fail("echod", "announce", e),
    };
    if batch {
        if let Err(e) = announced.batch() {
            return utils::fail("echod", "batch", e);
        }
    }
    println!("echod: listening on {proto} port {port}");
    if udp {
        datagrams(&announced, batch)
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

fn datagrams(announced: &Announced, batch: bool) -> i32 {
    let mut data = match announced.data() {
        Ok(d) => d,
        Err(e) => return utils::fail("echod", "data", e),
    };
    let mut buf = alloc::vec![0u8; 4096];
    let mut most = 1;
    loop {
        let n = match data.read_once(&mut buf) {
            Ok(n) => n,
            Err(e) => return utils::fail("echod", "read", e),
        };
        if batch {
            let mut count = 0;
            for d in Batch::new(&buf[..n]) {
                if let Err(e) = data.write(&d.to_bytes()) {
                    println!("echod: cannot answer: {e}");
                }
                count += 1;
            }
            if count > most {
                most = count;
                println!("echod: {count} datagrams in one read");
            }
            continue;
        }
        // The header names the sender: written back, it names the
        // destination.
        if Datagram::parse(&buf[..n]).is_some() {
            if let Err(e) = data.write(&buf[..n]) {
                println!("echod: cannot answer: {e}");
            }
        }
    }
}

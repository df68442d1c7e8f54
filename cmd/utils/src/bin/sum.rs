//! `sum [FILE...]`: the CRC-32 (IEEE, as zlib computes it) and size of
//! each file, or of standard input when none is named, one line each:
//! `CRC SIZE NAME` (CRC in eight hex digits; NAME `-` for input).
#![no_std]
#![no_main]

extern crate alloc;

use libux::crc::Crc32;
use libux::fd;
use libux::fs::flags;
use libux::layout::IO_WINDOW;
use libux::println;
use libux::rpc::Errno;

libux::entry!(main);

fn sum(from: usize) -> Result<(u32, u64), Errno> {
    let mut buf = alloc::vec![0u8; IO_WINDOW as usize];
    let (mut crc, mut size) = (Crc32::default(), 0u64);
    loop {
        let n = fd::read(from, &mut buf)?;
        if n == 0 {
            return Ok((crc.value(), size));
        }
        crc.update(&buf[..n]);
        size += n as u64;
    }
}

fn main() -> i32 {
    let args = libux::rt::args();
    let names: alloc::vec::Vec<&str> = if args.len() == 1 { alloc::vec!["-"] } else { args[1..].to_vec() };
    let mut status = 0;
    for name in names {
        let r = if name == "-" {
            sum(fd::STDIN)
        } else {
            fd::open(name, flags::READ).and_then(|f| {
                let r = sum(f);
                let _ = fd::close(f);
                r
            })
        };
        match r {
            Ok((crc, size)) => println!("{crc:08x} {size} {name}"),
            Err(e) => status = utils::fail("sum", name, e),
        }
    }
    status
}

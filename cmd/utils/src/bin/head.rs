//! `head [-n N | -N] [FILE...]`: the first N lines (10 by default) of each
//! file, or of standard input when none is named.
#![no_std]
#![no_main]

extern crate alloc;

use libux::fd;
use libux::rpc::Errno;

libux::entry!(main);

const USAGE: &str = "head [-n N | -N] [FILE...]";

/// Copies the first `lines` lines of `from` to standard output; stops
/// reading there.
fn head(from: usize, lines: u64) -> Result<(), Errno> {
    let mut buf = alloc::vec![0u8; 4096];
    let mut left = lines;
    while left > 0 {
        let n = fd::read(from, &mut buf)?;
        if n == 0 {
            break;
        }
        let mut end = n;
        for (i, &b) in buf[..n].iter().enumerate() {
            if b == b'\n' {
                left -= 1;
                if left == 0 {
                    end = i + 1;
                    break;
                }
            }
        }
        utils::out(&buf[..end])?;
    }
    Ok(())
}

fn main() -> i32 {
    utils::lines_of_files("head", USAGE, head)
}

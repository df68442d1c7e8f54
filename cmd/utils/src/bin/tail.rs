//! `tail [-n N | -N] [FILE...]`: the last N lines (10 by default) of each
//! file, or of standard input when none is named. A last line without
//! its newline counts as a line. Only the last N lines are held while
//! reading, however long the input.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;
use libux::fd;
use libux::rpc::Errno;

libux::entry!(main);

const USAGE: &str = "tail [-n N | -N] [FILE...]";

/// Where the last `lines` lines of `text` start.
fn start_of_last(text: &[u8], lines: u64) -> usize {
    if lines == 0 {
        return text.len();
    }
    // The last line's own newline ends it, it does not start another.
    let body = text.strip_suffix(b"\n").unwrap_or(text);
    let mut seen = 0;
    for (i, &b) in body.iter().enumerate().rev() {
        if b == b'\n' {
            seen += 1;
            if seen == lines {
                return i + 1;
            }
        }
    }
    0
}

/// Copies the last `lines` lines of `from` to standard output.
fn tail(from: usize, lines: u64) -> Result<(), Errno> {
    let mut buf = alloc::vec![0u8; 4096];
    let mut kept = Vec::new();
    loop {
        let n = fd::read(from, &mut buf)?;
        if n == 0 {
            return utils::out(&kept);
        }
        kept.extend_from_slice(&buf[..n]);
        let start = start_of_last(&kept, lines);
        kept.drain(..start);
    }
}

fn main() -> i32 {
    utils::lines_of_files("tail", USAGE, tail)
}

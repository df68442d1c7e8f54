//! `wc [FILE...]`: lines, words and bytes of each file (standard input
//! when none is named), and their total when more than one.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use libux::fd;
use libux::fs::flags;
use libux::layout::IO_WINDOW;
use libux::rpc::Errno;

libux::entry!(main);

#[derive(Default, Clone, Copy)]
struct Counts {
    lines: u64,
    words: u64,
    bytes: u64,
}

/// Counts what `from` reads until its end.
fn count(from: usize) -> Result<Counts, Errno> {
    let mut buf = alloc::vec![0u8; IO_WINDOW as usize];
    let (mut c, mut in_word) = (Counts::default(), false);
    loop {
        let n = fd::read(from, &mut buf)?;
        if n == 0 {
            return Ok(c);
        }
        c.bytes += n as u64;
        for &b in &buf[..n] {
            c.lines += u64::from(b == b'\n');
            let blank = b.is_ascii_whitespace();
            c.words += u64::from(!blank && !in_word);
            in_word = !blank;
        }
    }
}

fn show(c: Counts, name: &str) -> Result<(), Errno> {
    utils::out(format!("{:>7} {:>7} {:>9} {name}\n", c.lines, c.words, c.bytes).trim_end_matches(' ').as_bytes())
}

fn main() -> i32 {
    let args = libux::rt::args();
    if args.len() == 1 {
        return match count(fd::STDIN).and_then(|c| show(c, "")) {
            Ok(()) => 0,
            Err(e) => utils::fail("wc", "standard input", e),
        };
    }
    let (mut status, mut total) = (0, Counts::default());
    for path in &args[1..] {
        if path.starts_with('-') {
            return utils::usage("wc [FILE...]");
        }
        let counted = fd::open(path, flags::READ).and_then(|f| {
            let r = count(f);
            let _ = fd::close(f);
            r
        });
        match counted.and_then(|c| show(c, path).map(|()| c)) {
            Ok(c) => {
                total.lines += c.lines;
                total.words += c.words;
                total.bytes += c.bytes;
            }
            Err(e) => status = utils::fail("wc", path, e),
        }
    }
    if args.len() > 2 {
        if let Err(e) = show(total, "total") {
            status = utils::fail("wc", "write", e);
        }
    }
    status
}

//! `head [-n N] [FILE...]`: the first N lines (10 by default) of each
//! file, or of standard input when none is named.
#![no_std]
#![no_main]

extern crate alloc;

use libux::fd;
use libux::fs::flags;
use libux::rpc::Errno;

libux::entry!(main);

const USAGE: &str = "head [-n N] [FILE...]";

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
    let args = libux::rt::args();
    let (lines, files) = match args.get(1).copied() {
        Some("-n") => match args.get(2).and_then(|n| n.parse::<u64>().ok()) {
            Some(n) => (n, &args[3..]),
            None => return utils::usage(USAGE),
        },
        _ => (10, &args[1..]),
    };
    if files.is_empty() {
        return match head(fd::STDIN, lines) {
            Ok(()) => 0,
            Err(e) => utils::fail("head", "standard input", e),
        };
    }
    let mut status = 0;
    for (i, path) in files.iter().enumerate() {
        if path.starts_with('-') {
            return utils::usage(USAGE);
        }
        if files.len() > 1 {
            let title = alloc::format!("{}==> {path} <==\n", if i > 0 { "\n" } else { "" });
            let _ = utils::out(title.as_bytes());
        }
        let r = fd::open(path, flags::READ).and_then(|f| {
            let r = head(f, lines);
            let _ = fd::close(f);
            r
        });
        if let Err(e) = r {
            status = utils::fail("head", path, e);
        }
    }
    status
}

//! `cat [FILE...]`: the files one after another on standard output;
//! standard input when none is named.
#![no_std]
#![no_main]

extern crate alloc;

use libux::fd;
use libux::fs::flags;
use libux::layout::IO_WINDOW;

libux::entry!(main);

/// Copies `from` to standard output until its end, a window's worth at a
/// time.
fn copy(from: usize) -> Result<(), (&'static str, libux::rpc::Errno)> {
    let mut buf = alloc::vec![0u8; IO_WINDOW as usize];
    loop {
        let n = fd::read(from, &mut buf).map_err(|e| ("read", e))?;
        if n == 0 {
            return Ok(());
        }
        utils::out(&buf[..n]).map_err(|e| ("write", e))?;
    }
}

fn main() -> i32 {
    let args = libux::rt::args();
    if args.len() == 1 {
        return match copy(fd::STDIN) {
            Ok(()) => 0,
            Err((what, e)) => utils::fail("cat", what, e),
        };
    }
    let mut status = 0;
    for path in &args[1..] {
        if path.starts_with('-') {
            return utils::usage("cat [FILE...]");
        }
        let r = fd::open(path, flags::READ).map_err(|e| (*path, e)).and_then(|f| {
            let r = copy(f).map_err(|(what, e)| if what == "read" { (*path, e) } else { ("write", e) });
            let _ = fd::close(f);
            r
        });
        if let Err((what, e)) = r {
            status = utils::fail("cat", what, e);
        }
    }
    status
}

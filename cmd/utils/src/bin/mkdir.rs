//! `mkdir DIR...`: makes directories.
#![no_std]
#![no_main]

libux::entry!(main);

fn main() -> i32 {
    let args = libux::rt::args();
    if args.len() < 2 || args[1..].iter().any(|a| a.starts_with('-')) {
        return utils::usage("mkdir DIR...");
    }
    let mut status = 0;
    for dir in &args[1..] {
        if let Err(e) = libux::fs::client::mkdir(dir) {
            status = utils::fail("mkdir", dir, e);
        }
    }
    status
}

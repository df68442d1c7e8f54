//! `rm PATH...`: removes files and empty directories.
#![no_std]
#![no_main]

libux::entry!(main);

fn main() -> i32 {
    let args = libux::rt::args();
    if args.len() < 2 || args[1..].iter().any(|a| a.starts_with('-')) {
        return utils::usage("rm PATH...");
    }
    let mut status = 0;
    for path in &args[1..] {
        if let Err(e) = libux::fs::client::remove(path) {
            status = utils::fail("rm", path, e);
        }
    }
    status
}

//! `echo [WORD...]`: the words, separated by blanks, and a newline.
#![no_std]
#![no_main]

extern crate alloc;

libux::entry!(main);

fn main() -> i32 {
    let args = libux::rt::args();
    let mut line = args.get(1..).unwrap_or_default().join(" ");
    line.push('\n');
    match utils::out(line.as_bytes()) {
        Ok(()) => 0,
        Err(e) => utils::fail("echo", "write", e),
    }
}

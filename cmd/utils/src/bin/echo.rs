//! `echo [WORD...]`: the words, separated by blanks, and a newline.
#![no_std]
#![no_main]

extern crate alloc;

libux::entry!(main);

fn main() -> i32 {
    let args = libux::rt::args();
    let mut line = args.get(1..).unwrap_or_default().join(" ");
    line.push('\n');
    utils::print("echo", &line)
}

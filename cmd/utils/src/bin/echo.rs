//! `echo [-n] [WORD...]`: the words, separated by blanks, and a newline
//! (none with `-n`, as Plan 9's and POSIX shells' echo: for a control
//! file that wants a line without one, or a prompt).
#![no_std]
#![no_main]

extern crate alloc;

libux::entry!(main);

fn main() -> i32 {
    let args = libux::rt::args();
    let words = args.get(1..).unwrap_or_default();
    let (newline, words) = match words {
        ["-n", rest @ ..] => (false, rest),
        _ => (true, words),
    };
    let mut line = words.join(" ");
    if newline {
        line.push('\n');
    }
    utils::print("echo", &line)
}

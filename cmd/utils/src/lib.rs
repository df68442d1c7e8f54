//! What the utilities in `/bin` share: raw output to standard output (or
//! the console log for a program started without descriptors), usage
//! messages, and error reports. Each utility is one file in `src/bin`.
#![no_std]

extern crate alloc;

use libux::fd;
use libux::rpc::Errno;

/// Writes bytes as they are to standard output.
pub fn out(bytes: &[u8]) -> Result<(), Errno> {
    if fd::is_open(fd::STDOUT) {
        fd::write(fd::STDOUT, bytes).map(drop)
    } else {
        libux::rt::write_console(bytes);
        Ok(())
    }
}

/// For a program that takes no arguments: the status of its usage
/// message if it was given some.
pub fn no_arguments(usage_text: &str) -> Option<i32> {
    (libux::rt::args().len() > 1).then(|| usage(usage_text))
}

/// Writes `text` to standard output: the program's status (1 after
/// reporting, as `prog: write: ...`, if it could not).
pub fn print(prog: &str, text: &str) -> i32 {
    match out(text.as_bytes()) {
        Ok(()) => 0,
        Err(e) => fail(prog, "write", e),
    }
}

/// Prints `usage: ...` to standard error; the status for it.
pub fn usage(text: &str) -> i32 {
    libux::eprintln!("usage: {text}");
    2
}

/// Reports `what` failing with `e` as `prog: what: e`; the status for it.
pub fn fail(prog: &str, what: &str, e: Errno) -> i32 {
    libux::eprintln!("{prog}: {what}: {e}");
    1
}

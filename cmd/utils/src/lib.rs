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

/// The single-letter options at the start of `args` (after the program's
/// name: `-l`, `-lw`; `--` ends them, and `-` alone is an operand,
/// standard input), each one of `known`: the letters given, and where the
/// operands start; `None` for a letter not in `known`.
pub fn option_letters(args: &[&str], known: &str) -> Option<(alloc::string::String, usize)> {
    let mut given = alloc::string::String::new();
    let mut at = 1;
    while let Some(&a) = args.get(at).filter(|a| a.starts_with('-') && a.len() > 1) {
        at += 1;
        if a == "--" {
            break;
        }
        for c in a[1..].chars() {
            if !known.contains(c) {
                return None;
            }
            given.push(c);
        }
    }
    Some((given, at))
}

/// `PROG [-n N | -N] [FILE...]`, as `head` and `tail` take it (`-N` is
/// the old form everyone's fingers know): `lines(fd, N)` on each file
/// named, or on standard input when none is (N is 10 if not given), each
/// file titled when there are several; the status.
pub fn lines_of_files(prog: &str, usage_text: &str, lines: impl Fn(usize, u64) -> Result<(), Errno>) -> i32 {
    let args = libux::rt::args();
    let (n, files) = match args.get(1).copied() {
        Some("-n") => match args.get(2).and_then(|n| n.parse::<u64>().ok()) {
            Some(n) => (n, &args[3..]),
            None => return usage(usage_text),
        },
        Some(old) if old.len() > 1 && old[1..].bytes().all(|b| b.is_ascii_digit()) && old.starts_with('-') => {
            match old[1..].parse::<u64>() {
                Ok(n) => (n, &args[2..]),
                Err(_) => return usage(usage_text),
            }
        }
        _ => (10, args.get(1..).unwrap_or_default()),
    };
    if files.is_empty() {
        return match lines(fd::STDIN, n) {
            Ok(()) => 0,
            Err(e) => fail(prog, "standard input", e),
        };
    }
    let mut status = 0;
    for (i, path) in files.iter().enumerate() {
        if path.starts_with('-') {
            return usage(usage_text);
        }
        if files.len() > 1 {
            let title = alloc::format!("{}==> {path} <==\n", if i > 0 { "\n" } else { "" });
            let _ = out(title.as_bytes());
        }
        let r = fd::open(path, libux::fs::flags::READ).and_then(|f| {
            let r = lines(f, n);
            let _ = fd::close(f);
            r
        });
        if let Err(e) = r {
            status = fail(prog, path, e);
        }
    }
    status
}

//! `wc [-lwc] [FILE...]`: lines, words and bytes of each file (standard
//! input when none is named, or for `-`), and their total when more than
//! one; with options, only the counts named (`-l` lines, `-w` words, `-c`
//! bytes), always in that order.
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

/// Which counts to print.
#[derive(Clone, Copy)]
struct Shown {
    lines: bool,
    words: bool,
    bytes: bool,
}

impl Shown {
    /// The options before the files (`-l`, `-lw`, ...), and where the
    /// files start; `None` for an option we do not know.
    fn parse(args: &[&str]) -> Option<(Shown, usize)> {
        let (given, at) = utils::option_letters(args, "lwc")?;
        let on = |c| given.is_empty() || given.contains(c);
        Some((Shown { lines: on('l'), words: on('w'), bytes: on('c') }, at))
    }

    fn show(self, c: Counts, name: &str) -> Result<(), Errno> {
        let mut line = alloc::string::String::new();
        for (on, n, width) in [(self.lines, c.lines, 7), (self.words, c.words, 7), (self.bytes, c.bytes, 9)] {
            if on {
                if !line.is_empty() {
                    line.push(' ');
                }
                line.push_str(&format!("{n:>width$}"));
            }
        }
        line.push(' ');
        line.push_str(name);
        utils::out(format!("{}\n", line.trim_end_matches(' ')).as_bytes())
    }
}

fn main() -> i32 {
    let args = libux::rt::args();
    let Some((shown, first)) = Shown::parse(&args) else {
        return utils::usage("wc [-lwc] [FILE...]");
    };
    let files = &args[first..];
    if files.is_empty() {
        return match count(fd::STDIN).and_then(|c| shown.show(c, "")) {
            Ok(()) => 0,
            Err(e) => utils::fail("wc", "standard input", e),
        };
    }
    let (mut status, mut total) = (0, Counts::default());
    for path in files {
        let counted = match *path {
            "-" => count(fd::STDIN),
            _ => fd::open(path, flags::READ).and_then(|f| {
                let r = count(f);
                let _ = fd::close(f);
                r
            }),
        };
        match counted.and_then(|c| shown.show(c, path).map(|()| c)) {
            Ok(c) => {
                total.lines += c.lines;
                total.words += c.words;
                total.bytes += c.bytes;
            }
            Err(e) => status = utils::fail("wc", path, e),
        }
    }
    if files.len() > 1 {
        if let Err(e) = shown.show(total, "total") {
            status = utils::fail("wc", "write", e);
        }
    }
    status
}

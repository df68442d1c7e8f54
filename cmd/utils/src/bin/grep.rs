//! `grep [-ivcn] PATTERN [FILE...]`: the lines of each file (standard
//! input when none is named, or for `-`) that the regular expression
//! PATTERN matches (the `regex` crate's syntax, by `regex-automata`:
//! no backreferences; classes and case are ASCII's, a `.` any byte),
//! prefixed by the file's name when there are several. `-i` ignores case, `-v` selects the lines that do not
//! match, `-c` prints only how many were selected, `-n` numbers them.
//! Lines are bytes (not necessarily UTF-8) of at most 1 MiB; a last line
//! without its newline is a line. Status 0 if a line was selected, 1 if none, 2 on a
//! bad pattern or an error (as POSIX grep).
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::vec::Vec;
use libux::fd;
use libux::fs::flags;
use libux::layout::IO_WINDOW;
use libux::rpc::Errno;
use regex_automata::nfa::thompson::pikevm::{Cache, PikeVM};
use regex_automata::util::syntax;

libux::entry!(main);

const USAGE: &str = "grep [-ivcn] PATTERN [FILE...]";
/// The longest line held: a longer one ends the file's search with an
/// error (a stream with no newlines must not take the node's memory).
const LINE_MAX: usize = 1 << 20;

#[derive(Clone, Copy)]
struct Options {
    ignore_case: bool,
    invert: bool,
    count: bool,
    number: bool,
}

impl Options {
    /// The options before the pattern, and where it is; `None` for an
    /// option we do not know.
    fn parse(args: &[&str]) -> Option<(Options, usize)> {
        let (given, at) = utils::option_letters(args, "ivcn")?;
        let on = |c| given.contains(c);
        Some((Options { ignore_case: on('i'), invert: on('v'), count: on('c'), number: on('n') }, at))
    }
}

/// One file's search: lines are matched as they come, so a pipe of any
/// length is read in `IO_WINDOW` pieces and only a line at a time held.
struct Search<'a> {
    vm: &'a PikeVM,
    cache: &'a mut Cache,
    o: Options,
    /// `NAME:` before each line, when there are several files.
    title: Option<&'a str>,
    selected: u64,
    line_no: u64,
}

/// Why a search stopped: its file (a read), a line longer than
/// [`LINE_MAX`], or our output, which ends every search.
enum Stop {
    File(Errno),
    LongLine,
    Write(Errno),
}

impl From<Errno> for Stop {
    fn from(e: Errno) -> Stop {
        Stop::File(e)
    }
}

impl Search<'_> {
    fn line(&mut self, line: &[u8]) -> Result<(), Stop> {
        self.line_no += 1;
        if self.vm.is_match(self.cache, line) == self.o.invert {
            return Ok(());
        }
        self.selected += 1;
        if self.o.count {
            return Ok(());
        }
        let mut out = Vec::with_capacity(line.len() + 16);
        if let Some(t) = self.title {
            out.extend_from_slice(format!("{t}:").as_bytes());
        }
        if self.o.number {
            out.extend_from_slice(format!("{}:", self.line_no).as_bytes());
        }
        out.extend_from_slice(line);
        out.push(b'\n');
        utils::out(&out).map_err(Stop::Write)
    }

    /// Reads `from` to its end, a line at a time.
    fn run(&mut self, from: usize) -> Result<(), Stop> {
        let mut buf = alloc::vec![0u8; IO_WINDOW as usize];
        let mut partial: Vec<u8> = Vec::new();
        loop {
            let n = fd::read(from, &mut buf)?;
            if n == 0 {
                break;
            }
            let mut rest = &buf[..n];
            while let Some(i) = rest.iter().position(|&b| b == b'\n') {
                if partial.is_empty() {
                    self.line(&rest[..i])?;
                } else {
                    partial.extend_from_slice(&rest[..i]);
                    let whole = core::mem::take(&mut partial);
                    self.line(&whole)?;
                }
                rest = &rest[i + 1..];
            }
            if partial.len() + rest.len() > LINE_MAX {
                return Err(Stop::LongLine);
            }
            partial.extend_from_slice(rest);
        }
        if !partial.is_empty() {
            self.line(&partial)?;
        }
        if self.o.count {
            let title = self.title.map(|t| format!("{t}:")).unwrap_or_default();
            utils::out(format!("{title}{}\n", self.selected).as_bytes()).map_err(Stop::Write)?;
        }
        Ok(())
    }
}

fn main() -> i32 {
    let args = libux::rt::args();
    let Some((o, at)) = Options::parse(&args) else {
        return utils::usage(USAGE);
    };
    let Some(pattern) = args.get(at) else {
        return utils::usage(USAGE);
    };
    // Bytes, ASCII classes and case: the Unicode tables would make grep
    // eight times the size of the other utilities.
    let config = syntax::Config::new().unicode(false).utf8(false).case_insensitive(o.ignore_case);
    let built = PikeVM::builder().syntax(config).build(pattern);
    let vm = match built {
        Ok(vm) => vm,
        Err(e) => {
            libux::eprintln!("grep: bad pattern {pattern:?}: {e}");
            return 2;
        }
    };
    let mut cache = vm.create_cache();
    let files = &args[at + 1..];
    let (mut selected, mut failed) = (0, false);
    let names: &[&str] = if files.is_empty() { &["-"] } else { files };
    for &path in names {
        let title = (names.len() > 1).then_some(path);
        let mut search = Search { vm: &vm, cache: &mut cache, o, title, selected: 0, line_no: 0 };
        let searched = match path {
            "-" => search.run(fd::STDIN),
            _ => fd::open(path, flags::READ).map_err(Stop::File).and_then(|f| {
                let r = search.run(f);
                let _ = fd::close(f);
                r
            }),
        };
        selected += search.selected;
        let what = if path == "-" { "standard input" } else { path };
        match searched {
            Ok(()) => {}
            Err(Stop::LongLine) => {
                libux::eprintln!("grep: {what}: a line longer than {} KiB", LINE_MAX >> 10);
                failed = true;
            }
            Err(Stop::File(e)) => {
                utils::fail("grep", what, e);
                failed = true;
            }
            // Our output failed (its reader went, as `| head -1` does):
            // said as `cat` says it, and no other file is searched.
            Err(Stop::Write(e)) => {
                utils::fail("grep", "write", e);
                return 2;
            }
        }
    }
    match (failed, selected) {
        (true, _) => 2,
        (false, 0) => 1,
        _ => 0,
    }
}

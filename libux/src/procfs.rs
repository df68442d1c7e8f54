//! The formats of the `/proc` files, defined once for the process server
//! that serves them and the programs (`ps`, the shell) that read them.
//!
//! ```text
//! /proc/<pid>/status  one line: <pid> <ppid> <state> <name> <memory>
//!                     state: running | stopped | exited:<status> | killed
//!                            | faulted:<kind>; name: argv[0], at most 32
//!                            characters, spaces as '_'; memory: bytes held
//! /proc/<pid>/args    argv, one argument a line
//! /proc/<pid>/ctl     write `kill`, `stop` or `cont`
//! /proc/<pid>/wait    a read blocks until the process has ended, then
//!                     gives its last status line (and reaps it, when the
//!                     reader is its parent)
//! /proc/<pid>/ns      the mounts of its namespace, one a line, in path
//!                     order: <mount point> <server pid> (0: the process
//!                     server); empty once it has ended
//! /proc/self          the reader's own directory
//! /proc/ps            every process's status line, in pid order, made
//!                     anew at each read
//! /proc/spawn         write `[FD<PATH | FD>PATH]... PATH [ARG...]`
//!                     (space separated, quoted as the shell quotes):
//!                     spawns a child of the writer, which opens each
//!                     PATH (absolute) as descriptor FD (0-9) for reading
//!                     (`<`) or writing (`>`) before `main`, and nothing
//!                     else; a read then gives `<pid>\n`
//! ```

use crate::fs::dirtab::{row, Perm, Row};
use crate::rpc::{End, Pid};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// Longest name in a status line.
pub const NAME_MAX: usize = 32;

/// One status line, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status<'a> {
    pub pid: Pid,
    pub ppid: Pid,
    pub state: &'a str,
    pub name: &'a str,
    pub memory: u64,
}

/// The state word of a process that has ended.
pub fn ended_state(end: &End) -> String {
    match end {
        End::Exited(s) => format!("exited:{s}"),
        End::Killed => String::from("killed"),
        End::Faulted(f) => format!("faulted:{:?}", f.kind).replace([' ', '(', ')'], ""),
        End::Lost => String::from("lost"),
    }
}

/// The end an ended state word says (the inverse of [`ended_state`]; a
/// fault's addresses are not in the word and come back 0); none for a
/// state of a process that runs, or a word that is none of them.
pub fn parse_end(state: &str) -> Option<End> {
    use crate::rpc::{Fault, FaultKind};
    match state {
        "killed" => return Some(End::Killed),
        "lost" => return Some(End::Lost),
        _ => {}
    }
    if let Some(code) = state.strip_prefix("exited:") {
        return code.parse().ok().map(End::Exited);
    }
    let kind = state.strip_prefix("faulted:")?;
    let numbered = |prefix: &str| kind.strip_prefix(prefix).and_then(|n| n.parse::<u64>().ok());
    let kind = match kind {
        "PageFault" => FaultKind::PageFault,
        "InvalidOpcode" => FaultKind::InvalidOpcode,
        "DivideError" => FaultKind::DivideError,
        "GeneralProtection" => FaultKind::GeneralProtection,
        _ => {
            if let Some(n) = numbered("Exception") {
                FaultKind::Exception(n)
            } else if let Some(n) = numbered("UnknownSyscall") {
                FaultKind::UnknownSyscall(n)
            } else {
                FaultKind::Other(numbered("Other")?)
            }
        }
    };
    Some(End::Faulted(Fault { kind, ip: 0, addr: 0 }))
}

/// The status line of a process.
pub fn status_line(pid: Pid, ppid: Pid, state: &str, name: &str, memory: u64) -> String {
    let name: String = name.chars().take(NAME_MAX).map(|c| if c.is_whitespace() { '_' } else { c }).collect();
    let name = if name.is_empty() { String::from("?") } else { name };
    format!("{pid} {ppid} {state} {name} {memory}\n")
}

impl<'a> Status<'a> {
    pub fn parse(line: &'a str) -> Option<Status<'a>> {
        let mut w = line.trim_end_matches('\n').split(' ');
        let s = Status {
            pid: w.next()?.parse().ok()?,
            ppid: w.next()?.parse().ok()?,
            state: w.next()?,
            name: w.next()?,
            memory: w.next()?.parse().ok()?,
        };
        w.next().is_none().then_some(s)
    }

    /// The exit status, when the state is `exited:<status>`.
    pub fn exit_status(&self) -> Option<i32> {
        self.state.strip_prefix("exited:")?.parse().ok()
    }
}

/// The pids of a `/proc` directory (this node's, or a mount of another
/// node's), in order.
#[cfg(target_arch = "x86_64")]
pub fn pids(dir: &str) -> Result<Vec<Pid>, crate::rpc::Errno> {
    let mut pids: Vec<Pid> = crate::fs::client::list(dir)?.iter().filter_map(|m| m.name.parse().ok()).collect();
    pids.sort_unstable();
    Ok(pids)
}

/// The status line of every process of a `/proc` directory, in pid order,
/// from its `ps` file: one read (a node's `/proc`, or another node's
/// through a mount, in one round trip, not one per process). The file is
/// made anew at each read, so a list longer than a message (which a
/// client whose I/O window is busy reads a message at a time) is read
/// again until two readings agree, at most [`PS_TRIES`] times: a line cut
/// between two reads could join the halves of two processes' lines.
#[cfg(target_arch = "x86_64")]
pub fn status_lines(dir: &str) -> Result<Vec<String>, crate::rpc::Errno> {
    let path = format!("{dir}/ps");
    let mut text = read_ps(&path)?;
    for _ in 1..PS_TRIES {
        if text.len() <= crate::fs::IO_MAX {
            break;
        }
        let again = read_ps(&path)?;
        if again == text {
            break;
        }
        text = again;
    }
    let text = String::from_utf8_lossy(&text);
    Ok(text.lines().filter(|l| Status::parse(l).is_some()).map(|l| format!("{l}\n")).collect())
}

/// How many times [`status_lines`] reads a long list at most.
#[cfg(target_arch = "x86_64")]
const PS_TRIES: usize = 3;

/// A `ps` file's bytes, [`PS_READ`] at a time.
#[cfg(target_arch = "x86_64")]
fn read_ps(path: &str) -> Result<Vec<u8>, crate::rpc::Errno> {
    let file = crate::fs::client::open(path, crate::fs::flags::READ)?;
    let mut text = Vec::new();
    let mut chunk = alloc::vec![0u8; PS_READ];
    loop {
        let n = file.pread(text.len() as u64, &mut chunk)?;
        text.extend_from_slice(&chunk[..n]);
        if n < chunk.len() {
            return Ok(text);
        }
    }
}

/// The bytes [`read_ps`] asks for at once: a few hundred processes'
/// lines, within what one call carries through the I/O window and a
/// mount.
#[cfg(target_arch = "x86_64")]
const PS_READ: usize = 16 * 1024;

/// One line of `/proc/<pid>/ns`.
pub fn ns_line(point: &str, server: Pid) -> String {
    format!("{point} {server}\n")
}

/// A line of `/proc/<pid>/ns`: the mount point and its server.
pub fn parse_ns_line(line: &str) -> Option<(&str, Pid)> {
    let (point, server) = line.trim_end_matches('\n').rsplit_once(' ')?;
    point.starts_with('/').then_some((point, server.parse().ok()?))
}

/// A file of a process's directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PidFile {
    Args,
    Ctl,
    Ns,
    Status,
    Wait,
}

/// The files of `/proc/<pid>`, in name order (`/proc/cluster/<gpid>` has
/// them all but `ns`: mounts name servers of the process's own node).
pub const PID_FILES: [Row<PidFile>; 5] = [
    row("args", Perm::Read, PidFile::Args),
    row("ctl", Perm::Write, PidFile::Ctl),
    row("ns", Perm::Read, PidFile::Ns),
    row("status", Perm::Read, PidFile::Status),
    row("wait", Perm::Read, PidFile::Wait),
];

impl PidFile {
    pub fn name(self) -> &'static str {
        crate::fs::dirtab::row_of(&PID_FILES, &self).map_or("?", |r| r.name)
    }
}

/// What `/proc/<pid>/ctl` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ctl {
    Kill,
    Stop,
    Cont,
}

impl Ctl {
    pub fn parse(text: &str) -> Option<Ctl> {
        match text.trim() {
            "kill" => Some(Ctl::Kill),
            "stop" => Some(Ctl::Stop),
            "cont" => Some(Ctl::Cont),
            _ => None,
        }
    }
}

/// The longest line `/proc/spawn` takes.
pub const SPAWN_LINE_MAX: usize = 1024;

/// Why a `/proc/spawn` line was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpawnLineError {
    TooLong,
    /// No words: nothing to start.
    Empty,
    UnterminatedQuote,
    /// A descriptor's path is not absolute, or a descriptor is named
    /// twice.
    BadRedirect,
    /// A control character (a tab and a final newline aside).
    ControlCharacter,
}

/// What `/proc/spawn` takes: `PATH [ARG...]`, at most `SPAWN_LINE_MAX`
/// bytes and one line (a final newline is dropped). Words are split at
/// blanks (spaces, tabs); `'...'` and `"..."` quote them, as the shell's
/// words are quoted: the quotes go, what is between them stays as it is,
/// and quoted and unquoted parts next to each other make one word (`''`
/// is an empty word). Returns argv, `PATH` first.
pub fn parse_spawn_line(text: &str) -> Result<Vec<String>, SpawnLineError> {
    if text.len() > SPAWN_LINE_MAX {
        return Err(SpawnLineError::TooLong);
    }
    let text = text.strip_suffix('\n').unwrap_or(text);
    let mut words = Vec::new();
    // The word being read, if any.
    let mut word: Option<String> = None;
    let mut quote = None;
    for c in text.chars() {
        if c.is_control() && c != '\t' {
            return Err(SpawnLineError::ControlCharacter);
        }
        match (quote, c) {
            (None, ' ' | '\t') => words.extend(word.take()),
            (None, '\'' | '"') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (Some(q), c) if c == q => quote = None,
            (_, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    if quote.is_some() {
        return Err(SpawnLineError::UnterminatedQuote);
    }
    words.extend(word);
    if words.is_empty() {
        return Err(SpawnLineError::Empty);
    }
    Ok(words)
}

/// A descriptor a `/proc/spawn` line gives the child: `FD<PATH` (opened
/// for reading) or `FD>PATH` (for writing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    pub fd: u8,
    pub path: String,
    pub write: bool,
}

impl Redirect {
    /// The word that names it in a spawn line.
    pub fn word(&self) -> String {
        format!("{}{}{}", self.fd, if self.write { '>' } else { '<' }, self.path)
    }

    /// A word `FD<PATH` or `FD>PATH` (FD one digit); none if the word is
    /// not one (an argument); `BadRedirect` if its path is not absolute.
    fn parse(word: &str) -> Option<Result<Redirect, SpawnLineError>> {
        let mut chars = word.chars();
        let fd = chars.next()?.to_digit(10)? as u8;
        let write = match chars.next()? {
            '<' => false,
            '>' => true,
            _ => return None,
        };
        let path = chars.as_str();
        Some(if path.starts_with('/') {
            Ok(Redirect { fd, path: String::from(path), write })
        } else {
            Err(SpawnLineError::BadRedirect)
        })
    }

    /// The flags the child opens it with (`fs::flags`).
    pub fn flags(&self) -> u32 {
        if self.write {
            crate::fs::flags::WRITE
        } else {
            crate::fs::flags::READ
        }
    }
}

/// A whole `/proc/spawn` line: the descriptors, then argv.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpawnCommand {
    pub fds: Vec<Redirect>,
    pub argv: Vec<String>,
}

impl SpawnCommand {
    /// Parses a line (see [`parse_spawn_line`] for its words): the
    /// leading words that are redirections, then the program and its
    /// arguments.
    pub fn parse(text: &str) -> Result<SpawnCommand, SpawnLineError> {
        let mut words = parse_spawn_line(text)?.into_iter().peekable();
        let mut fds: Vec<Redirect> = Vec::new();
        while let Some(r) = words.peek().and_then(|w| Redirect::parse(w)) {
            let r = r?;
            if fds.iter().any(|f| f.fd == r.fd) {
                return Err(SpawnLineError::BadRedirect);
            }
            fds.push(r);
            words.next();
        }
        let argv: Vec<String> = words.collect();
        if argv.is_empty() {
            return Err(SpawnLineError::Empty);
        }
        Ok(SpawnCommand { fds, argv })
    }

    /// The line that parses back to it.
    pub fn line(&self) -> String {
        let redirects: Vec<String> = self.fds.iter().map(Redirect::word).collect();
        let words: Vec<&str> =
            redirects.iter().map(String::as_str).chain(self.argv.iter().map(String::as_str)).collect();
        spawn_line(&words)
    }
}

/// The `/proc/spawn` line for `argv`: words with blanks, quotes or
/// nothing in them quoted so that [`parse_spawn_line`] gives `argv` back.
pub fn spawn_line(argv: &[&str]) -> String {
    let mut line = String::new();
    for (i, w) in argv.iter().enumerate() {
        if i > 0 {
            line.push(' ');
        }
        if !w.is_empty() && !w.contains([' ', '\t', '\'', '"']) {
            line.push_str(w);
            continue;
        }
        // Single quotes around all but single quotes, which go in double.
        line.push('\'');
        for c in w.chars() {
            if c == '\'' {
                line.push_str("'\"'\"'");
            } else {
                line.push(c);
            }
        }
        line.push('\'');
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::{Fault, FaultKind};

    #[test]
    fn spawn_lines_split_at_blanks_and_quote_like_the_shell() {
        let words = |t: &str| parse_spawn_line(t).map(|w| w.join("|"));
        assert_eq!(words("/bin/sleep 100\n").as_deref(), Ok("/bin/sleep|100"));
        assert_eq!(words("  echo\t a  b ").as_deref(), Ok("echo|a|b"));
        assert_eq!(words("echo 'a b' \"c  d\" e'f'g ''").as_deref(), Ok("echo|a b|c  d|efg|"));
        assert_eq!(words("echo \"it's\"").as_deref(), Ok("echo|it's"));
        assert_eq!(parse_spawn_line("echo 'open"), Err(SpawnLineError::UnterminatedQuote));
        assert_eq!(parse_spawn_line(" \n"), Err(SpawnLineError::Empty));
        assert_eq!(parse_spawn_line("echo a\nb"), Err(SpawnLineError::ControlCharacter));
        assert_eq!(parse_spawn_line("echo \x1b[2J"), Err(SpawnLineError::ControlCharacter));
        assert_eq!(parse_spawn_line(&"x".repeat(SPAWN_LINE_MAX + 1)), Err(SpawnLineError::TooLong));
    }

    #[test]
    fn spawn_lines_name_descriptors_first() {
        let c = SpawnCommand::parse("0</dev/pipe/3/r '1>/tmp/a b' /bin/cat 2>x").unwrap();
        let r = |fd, path: &str, write| Redirect { fd, path: String::from(path), write };
        assert_eq!(c.fds, [r(0, "/dev/pipe/3/r", false), r(1, "/tmp/a b", true)]);
        // After the program, such a word is an argument.
        assert_eq!(c.argv, ["/bin/cat", "2>x"]);
        assert_eq!(SpawnCommand::parse(&c.line()), Ok(c.clone()));
        assert_eq!((c.fds[0].flags(), c.fds[1].flags()), (crate::fs::flags::READ, crate::fs::flags::WRITE));
        assert_eq!(SpawnCommand::parse("1>tmp/x cat"), Err(SpawnLineError::BadRedirect));
        assert_eq!(SpawnCommand::parse("1>/a 1>/b cat"), Err(SpawnLineError::BadRedirect));
        assert_eq!(SpawnCommand::parse("1>/a"), Err(SpawnLineError::Empty));
        assert_eq!(SpawnCommand::parse("sleep 5").unwrap().fds, []);
    }

    #[test]
    fn spawn_lines_format_back() {
        for argv in [&["sleep", "5"][..], &["echo", "a b", "", "it's", "\"q\"", "t\tab"]] {
            assert_eq!(parse_spawn_line(&spawn_line(argv)).unwrap(), argv, "{}", spawn_line(argv));
        }
    }

    #[test]
    fn status_lines_round_trip() {
        let line = status_line(12, 3, "running", "sleep", 196_608);
        assert_eq!(line, "12 3 running sleep 196608\n");
        let s = Status::parse(&line).unwrap();
        assert_eq!((s.pid, s.ppid, s.state, s.name, s.memory), (12, 3, "running", "sleep", 196_608));
    }

    #[test]
    fn names_are_one_word_and_bounded() {
        let line = status_line(1, 0, "running", "a b\tc", 0);
        assert_eq!(Status::parse(&line).unwrap().name, "a_b_c");
        let long = "x".repeat(100);
        assert_eq!(Status::parse(&status_line(1, 0, "running", &long, 0)).unwrap().name.len(), NAME_MAX);
        assert_eq!(Status::parse(&status_line(1, 0, "running", "", 0)).unwrap().name, "?");
    }

    #[test]
    fn ended_states() {
        assert_eq!(ended_state(&End::Exited(-3)), "exited:-3");
        assert_eq!(ended_state(&End::Killed), "killed");
        let f = Fault { kind: FaultKind::Exception(5), ip: 0, addr: 0 };
        assert_eq!(ended_state(&End::Faulted(f)), "faulted:Exception5");
        let s = status_line(4, 1, &ended_state(&End::Exited(7)), "true", 0);
        assert_eq!(Status::parse(&s).unwrap().exit_status(), Some(7));
        assert_eq!(ended_state(&End::Lost), "lost");
    }

    #[test]
    fn ended_states_parse_back() {
        let kinds = [
            FaultKind::PageFault,
            FaultKind::InvalidOpcode,
            FaultKind::DivideError,
            FaultKind::GeneralProtection,
            FaultKind::Exception(13),
            FaultKind::UnknownSyscall(99),
            FaultKind::Other(4),
        ];
        let faults = kinds.map(|kind| End::Faulted(Fault { kind, ip: 0, addr: 0 }));
        for end in [End::Exited(0), End::Exited(-3), End::Killed, End::Lost].into_iter().chain(faults) {
            assert_eq!(parse_end(&ended_state(&end)), Some(end), "{end:?}");
        }
        for other in ["running", "stopped", "exited:x", "faulted:Nothing", "faulted:Exception", ""] {
            assert_eq!(parse_end(other), None, "{other:?}");
        }
    }

    #[test]
    fn ns_lines_round_trip() {
        assert_eq!(ns_line("/n/b", 7), "/n/b 7\n");
        assert_eq!(parse_ns_line(&ns_line("/n/b", 7)), Some(("/n/b", 7)));
        assert_eq!(parse_ns_line(&ns_line("/a b", 0)), Some(("/a b", 0)));
        for bad in ["", "/n/b", "n/b 7", "/n/b x", "/n/b -1"] {
            assert_eq!(parse_ns_line(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn malformed_lines_are_refused() {
        for bad in ["", "1 2 running", "x 2 running a 0", "1 2 running a 0 extra", "1 2 running a -1"] {
            assert_eq!(Status::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn ctl_words() {
        assert_eq!(Ctl::parse("kill\n"), Some(Ctl::Kill));
        assert_eq!(Ctl::parse(" stop "), Some(Ctl::Stop));
        assert_eq!(Ctl::parse("cont"), Some(Ctl::Cont));
        assert_eq!(Ctl::parse("killall"), None);
    }
}

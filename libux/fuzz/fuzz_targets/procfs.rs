//! Programs parse `/proc` text and the process server parses `ctl` words
//! and `spawn` lines: any bytes give a value or an error, never a panic; a
//! parsed status, `ns` or `spawn` line formats back to one that parses the
//! same.
#![no_main]
use libfuzzer_sys::fuzz_target;
use libux::procfs::{
    ended_state, ns_line, parse_end, parse_ns_line, parse_spawn_line, spawn_line, status_line, Ctl, SpawnCommand, Status,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    let _ = Ctl::parse(text);
    if let Some(end) = parse_end(text) {
        assert_eq!(parse_end(&ended_state(&end)), Some(end));
    }
    if let Some(s) = Status::parse(text) {
        let line = status_line(s.pid, s.ppid, s.state, s.name, s.memory);
        let again = Status::parse(&line).expect("a formatted line parses");
        assert_eq!((again.pid, again.ppid, again.memory), (s.pid, s.ppid, s.memory));
    }
    if let Ok(words) = parse_spawn_line(text) {
        let argv: Vec<&str> = words.iter().map(String::as_str).collect();
        let line = spawn_line(&argv);
        // Quoting may make it longer than a line may be.
        if line.len() <= libux::procfs::SPAWN_LINE_MAX {
            assert_eq!(parse_spawn_line(&line).as_ref(), Ok(&words));
        }
    }
    if let Ok(c) = SpawnCommand::parse(text) {
        let line = c.line();
        if line.len() <= libux::procfs::SPAWN_LINE_MAX {
            assert_eq!(SpawnCommand::parse(&line), Ok(c));
        }
    }
    if let Some((point, server)) = parse_ns_line(text) {
        assert_eq!(parse_ns_line(&ns_line(point, server)), Some((point, server)));
    }
});

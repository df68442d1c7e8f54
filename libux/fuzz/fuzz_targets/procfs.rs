//! Programs parse `/proc` text and the process server parses `ctl` words:
//! any bytes give a value or `None`, never a panic; a parsed status or
//! `ns` line formats back to one that parses the same.
#![no_main]
use libfuzzer_sys::fuzz_target;
use libux::procfs::{ns_line, parse_ns_line, status_line, Ctl, Status};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    let _ = Ctl::parse(text);
    if let Some(s) = Status::parse(text) {
        let line = status_line(s.pid, s.ppid, s.state, s.name, s.memory);
        let again = Status::parse(&line).expect("a formatted line parses");
        assert_eq!((again.pid, again.ppid, again.memory), (s.pid, s.ppid, s.memory));
    }
    if let Some((point, server)) = parse_ns_line(text) {
        assert_eq!(parse_ns_line(&ns_line(point, server)), Some((point, server)));
    }
});

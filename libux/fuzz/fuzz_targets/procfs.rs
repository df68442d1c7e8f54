//! Programs parse `/proc` text and the process server parses `ctl` words:
//! any bytes give a value or `None`, never a panic; a parsed status line
//! formats back to one that parses the same.
#![no_main]
use libfuzzer_sys::fuzz_target;
use libux::procfs::{status_line, Ctl, Status};

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
});

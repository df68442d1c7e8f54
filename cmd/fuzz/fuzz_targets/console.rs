//! The console takes whatever is typed and written to `/dev/consctl`:
//! typed bytes never make the line discipline hold more than its bounds
//! or panic, and reads give back at most what was asked.
#![no_main]
use devfs::line::{Line, LINE_MAX, QUEUE_MAX};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = devfs::consctl::parse_fg(data);
    let mut line = Line::default();
    let mut echo = Vec::new();
    for (i, &b) in data.iter().enumerate() {
        line.input(b, &mut echo);
        if i % 7 == 0 {
            let max = (b as usize) % 64;
            assert!(line.read(max).len() <= max);
        }
    }
    let mut total = 0;
    while line.readable() {
        let got = line.read(usize::MAX);
        if got.is_empty() {
            break;
        }
        total += got.len();
    }
    assert!(total <= QUEUE_MAX + LINE_MAX + 1);
});

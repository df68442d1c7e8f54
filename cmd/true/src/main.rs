//! `true`: exits with status 0, or with the status given as its argument.
//! The smallest process, for spawn benchmarks and tests.
#![no_std]
#![no_main]

libux::entry!(main);

fn main() -> i32 {
    libux::rt::args().get(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

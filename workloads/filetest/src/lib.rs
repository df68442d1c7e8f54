//! What the test workloads `filetest` and `nettest` share: checks that
//! print `PROGRAM: ok WHAT` or become the failure, and the run that ends
//! with `PROGRAM: done` or `PROGRAM: FAIL WHY` (status 1).
#![no_std]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use libux::println;
use libux::rpc::Errno;

fn program() -> &'static str {
    libux::rt::args().first().copied().unwrap_or("test")
}

/// `what` holds if `ok`; otherwise the failure, with `detail`.
pub fn check(what: &str, ok: bool, detail: String) -> Result<(), String> {
    if ok {
        println!("{}: ok {what}", program());
        Ok(())
    } else {
        Err(format!("{what}: {detail}"))
    }
}

/// An error of `what` as failure text.
pub fn e(what: &str) -> impl Fn(Errno) -> String + '_ {
    move |err| format!("{what}: {err}")
}

/// The exit status of a run of checks, reported.
pub fn report(run: Result<(), String>) -> i32 {
    match run {
        Ok(()) => {
            println!("{}: done", program());
            0
        }
        Err(why) => {
            println!("{}: FAIL {why}", program());
            1
        }
    }
}

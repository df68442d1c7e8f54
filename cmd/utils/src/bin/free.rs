//! `free`: the node's memory, from the process server: untyped memory not
//! in use (what new processes, pages and pipes come from), and the
//! process server's own heap.
#![no_std]
#![no_main]

extern crate alloc;

libux::entry!(main);

fn main() -> i32 {
    if let Some(status) = utils::no_arguments("free") {
        return status;
    }
    let s = match libux::process::stats() {
        Ok(s) => s,
        Err(e) => return utils::fail("free", "stats", e),
    };
    let kib = |b: u64| b >> 10;
    let text = alloc::format!(
        "memory free: {} KiB\nprocess server heap: {} KiB used of {} KiB\nprocesses: {}\n",
        kib(s.resources.free_bytes),
        kib(s.heap_used),
        kib(s.heap_size),
        s.resources.processes
    );
    utils::print("free", &text)
}

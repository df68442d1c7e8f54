//! `memhog MODE [N]`: memory workloads.
//! - `loop N`: N rounds of heap allocations of varying sizes, freed
//!   again, plus map/unmap of anonymous pages; the heap must stay within
//!   twice its size after the first round (fragmentation, not leaks).
//! - `oom`: map pages until the process server says out of memory, then
//!   release them; exits 0 when the error came as an error.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;
use libux::layout::HEAP_END;
use libux::println;
use libux::process;
use libux::rpc::Errno;

libux::entry!(main);

fn main() -> i32 {
    let args = libux::rt::args();
    let n = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100);
    match args.get(1).copied() {
        Some("loop") => alloc_loop(n),
        Some("oom") => oom(),
        _ => {
            println!("usage: memhog loop N | memhog oom");
            2
        }
    }
}

fn alloc_loop(rounds: u32) -> i32 {
    let mut first = 0;
    let (base_used, _) = libux::rt::heap_usage();
    for round in 0..rounds {
        let mut blocks: Vec<Vec<u8>> = Vec::new();
        for i in 0..64usize {
            let size = 16 + (i * 997 + round as usize * 131) % 20_000;
            let mut v = alloc::vec![0u8; size];
            v[size - 1] = i as u8;
            blocks.push(v);
        }
        drop(blocks);
        // Anonymous pages outside the heap's range, mapped and unmapped.
        let at = HEAP_END - 64 * 4096;
        if let Err(e) = process::map_anon(at, 16).and_then(|()| process::unmap_anon(at, 16)) {
            println!("memhog: map/unmap failed: {e}");
            return 1;
        }
        let (used, size) = libux::rt::heap_usage();
        if round == 0 {
            first = size;
        } else if size > 2 * first || used != base_used {
            println!("memhog: round {round}: heap {used} of {size} bytes in use, {first} after the first round");
            return 1;
        }
    }
    let (used, size) = libux::rt::heap_usage();
    println!("memhog: ok {rounds} rounds of allocation and freeing; heap {used} of {size} bytes in use, {first} after round one");
    0
}

fn oom() -> i32 {
    let base = libux::layout::HEAP_BASE + (1 << 36);
    let mut pages = 0u64;
    let step = 256;
    let result = loop {
        match process::map_anon(base + pages * 4096, step) {
            Ok(()) => pages += step as u64,
            Err(e) => break e,
        }
    };
    println!("memhog: mapped {} MiB, then: {result}", (pages * 4096) >> 20);
    if result != Errno::NoMemory {
        return 1;
    }
    if pages > 0 && process::unmap_anon(base, pages as u32).is_err() {
        println!("memhog: cannot unmap what was mapped");
        return 1;
    }
    0
}

//! `memhog MODE [N]`: memory workloads.
//! - `loop N`: N rounds of heap allocations of varying sizes, freed
//!   again, plus map/unmap of anonymous pages; the heap must stay within
//!   twice its size after the first round (fragmentation, not leaks),
//!   unmapped frames must be reused (our memory, from /proc/self/status,
//!   measured around each map/unmap while we live), and reused pages
//!   read as zero.
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
    match run_loop(rounds) {
        Ok(()) => 0,
        Err(e) => {
            println!("memhog: {e}");
            1
        }
    }
}

fn run_loop(rounds: u32) -> Result<(), alloc::string::String> {
    let mut first = 0;
    // What we hold after the first round, which takes the frames that are
    // reused from then on.
    let mut base = None;
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
        // Frames come back reused: each must read as zero (what the last
        // round wrote must not show), and then gets a pattern.
        let at = HEAP_END - 64 * 4096;
        process::map_anon(at, ANON_PAGES).map_err(|e| alloc::format!("map failed: {e}"))?;
        check_zero_then_fill(at, round).map_err(|e| alloc::format!("round {round}: {e}"))?;
        process::unmap_anon(at, ANON_PAGES).map_err(|e| alloc::format!("unmap failed: {e}"))?;
        let (used, size) = libux::rt::heap_usage();
        if round == 0 {
            first = size;
            base = Some(own_memory()?);
        } else if size > 2 * first || used != base_used {
            return Err(alloc::format!(
                "round {round}: heap {used} of {size} bytes in use, {first} after the first round"
            ));
        }
    }
    // Measured while we live: since the first round our memory grew only
    // with the heap (its growth takes unmapped frames too) and the page
    // tables of that growth (a chunk at most); frames not taken back on
    // unmap would add 64 KiB a round.
    if let Some(base) = base {
        let end = own_memory()?;
        let extra = (end.memory - base.memory).saturating_sub(end.heap - base.heap);
        if extra > 1 << libux::layout::MEMORY_CHUNK_BITS {
            return Err(alloc::format!(
                "unmapped frames were not reused: our memory grew {} bytes, the heap {}",
                end.memory - base.memory,
                end.heap - base.heap
            ));
        }
    }
    let (used, size) = libux::rt::heap_usage();
    println!("memhog: ok {rounds} rounds of allocation and freeing; heap {used} of {size} bytes in use, {first} after round one");
    println!("memhog: ok unmapped frames reused: our memory grew with the heap only; reused pages read as zero");
    Ok(())
}

/// The memory we hold, as `/proc/self/status` says (what the process
/// server's arena for us holds), and the size of our heap after reading it.
fn own_memory() -> Result<Held, alloc::string::String> {
    let bytes = libux::fs::client::open("/proc/self/status", libux::fs::flags::READ)
        .and_then(|mut f| f.read_to_end())
        .map_err(|e| alloc::format!("/proc/self/status: {e}"))?;
    let text = core::str::from_utf8(&bytes).map_err(|_| alloc::string::String::from("status not UTF-8"))?;
    let memory = libux::procfs::Status::parse(text)
        .map(|s| s.memory)
        .ok_or_else(|| alloc::format!("bad status line {text:?}"))?;
    Ok(Held { memory, heap: libux::rt::heap_usage().1 })
}

/// Our memory, and how much of it is heap.
struct Held {
    memory: u64,
    heap: u64,
}

/// Pages mapped by each round of `loop`.
const ANON_PAGES: u32 = 16;

/// Every word of the fresh mapping at `at` reads zero; then each is
/// overwritten with a pattern of this round.
fn check_zero_then_fill(at: u64, round: u32) -> Result<(), alloc::string::String> {
    let words = ANON_PAGES as usize * 4096 / 8;
    let pattern = 0xa5a5_0000_0000_0000 | round as u64;
    for i in 0..words {
        let p = (at as *mut u64).wrapping_add(i);
        // SAFETY: `at` is mapped read-write for ANON_PAGES pages, and we
        // alone use it.
        let old = unsafe { p.read_volatile() };
        if old != 0 {
            return Err(alloc::format!("a reused page reads {old:#x} at {:#x}, not zero", p as u64));
        }
        // SAFETY: as above.
        unsafe { p.write_volatile(pattern) };
    }
    Ok(())
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

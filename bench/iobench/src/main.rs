//! `iobench`: file I/O figures, printed as `iobench:` lines (cycles from
//! `rdtsc`, turned into time with the rate the kernel reports).
//!
//! - reading a 16 MiB ramfs file through the I/O window and through
//!   message registers only, side by side (and writing it);
//! - `cat` of it to `/dev/null`, as a program does it;
//! - open + read + close of a small file: median and 99th percentile.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec;
use alloc::vec::Vec;
use libux::fs::client::{self as fs, File};
use libux::fs::flags;
use libux::println;
use libux::rpc::{End, FdName};

libux::entry!(main);

const BIG: usize = 16 << 20;
const CHUNK: usize = 64 * 1024;
const SMALL_ROUNDS: usize = 1_000;

fn tsc() -> u64 {
    // SAFETY: lfence and rdtsc have no preconditions.
    unsafe {
        core::arch::x86_64::_mm_lfence();
        core::arch::x86_64::_rdtsc()
    }
}

fn mb_per_s(bytes: usize, cycles: u64, mhz: u64) -> f64 {
    bytes as f64 / (cycles as f64 / mhz as f64)
}

/// Reads `file` from the start to the end; cycles taken.
fn read_all(mut file: File, buf: &mut [u8]) -> Result<u64, libux::rpc::Errno> {
    let t0 = tsc();
    let mut total = 0;
    loop {
        let n = file.read(buf)?;
        if n == 0 {
            break;
        }
        total += n;
    }
    let cycles = tsc() - t0;
    if total != BIG {
        println!("iobench: FAIL read {total} bytes of {BIG}");
    }
    Ok(cycles)
}

fn run() -> Result<(), libux::rpc::Errno> {
    let mhz = libux::process::stats()?.tsc_mhz.max(1);
    let data: Vec<u8> = (0..CHUNK).map(|i| (i * 7 + i / 251) as u8).collect();
    let mut f = fs::create("/tmp/big")?;
    let t0 = tsc();
    for _ in 0..BIG / CHUNK {
        f.write(&data)?;
    }
    let write = tsc() - t0;
    f.close()?;
    println!("iobench: write 16 MiB to ramfs through the window: {:.1} MB/s", mb_per_s(BIG, write, mhz));

    let mut buf = vec![0u8; CHUNK];
    let window = read_all(fs::open("/tmp/big", flags::READ)?, &mut buf)?;
    let mut inline = fs::open("/tmp/big", flags::READ)?;
    inline.inline_only();
    let inline = read_all(inline, &mut buf)?;
    let (w, i) = (mb_per_s(BIG, window, mhz), mb_per_s(BIG, inline, mhz));
    println!("iobench: read 16 MiB from ramfs through the window: {w:.1} MB/s");
    println!("iobench: read 16 MiB from ramfs through message registers only: {i:.1} MB/s");
    println!("iobench: window / message registers = {:.1}x", w / i);

    let fds = [FdName { fd: 1, path: "/dev/null", flags: flags::WRITE }];
    let t0 = tsc();
    let pid = libux::process::spawn_full("/bin/cat", &["cat", "/tmp/big"], &[], None, &fds)?;
    let end = libux::process::wait(Some(pid))?.end;
    let cat = tsc() - t0;
    if end != End::Exited(0) {
        println!("iobench: FAIL cat ended {end:?}");
    }
    println!("iobench: cat of 16 MiB to /dev/null: {:.1} MB/s", mb_per_s(BIG, cat, mhz));
    fs::remove("/tmp/big")?;

    fs::create("/tmp/small")?.write(&data[..100])?;
    let mut small = [0u8; 128];
    let mut samples: Vec<u64> = (0..SMALL_ROUNDS)
        .map(|_| {
            let t0 = tsc();
            let n = fs::open("/tmp/small", flags::READ).and_then(|mut f| f.read(&mut small));
            let t = tsc() - t0;
            if n != Ok(100) {
                println!("iobench: FAIL small read gave {n:?}");
            }
            t
        })
        .collect();
    samples.sort_unstable();
    let us = |c: u64| c as f64 / mhz as f64;
    println!(
        "iobench: open+read+close of a 100-byte file: median {:.1} us, p99 {:.1} us over {SMALL_ROUNDS}",
        us(samples[SMALL_ROUNDS / 2]),
        us(samples[SMALL_ROUNDS * 99 / 100])
    );
    fs::remove("/tmp/small")
}

fn main() -> i32 {
    match run() {
        Ok(()) => 0,
        Err(e) => {
            println!("iobench: FAIL {e}");
            1
        }
    }
}

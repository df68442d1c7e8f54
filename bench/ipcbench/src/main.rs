//! `ipcbench`: in-guest benchmarks of IPC and the process API. Prints
//! `ipcbench:` lines with medians and 99th percentiles in cycles (`rdtsc`;
//! emulated under QEMU TCG, so they compare runs on one machine) and the
//! ratios of figures measured side by side in the same run:
//!
//! - a null system call (Yield, same address space) as the yardstick;
//! - a raw seL4 IPC round trip (Call + ReplyRecv) between two address
//!   spaces: a client we start with its process server connection
//!   redirected to us calls, we answer;
//! - the null process API call (GetPid) straight to the process server,
//!   and from the same client through us as a relaying intermediary;
//! - spawn + wait of `true`, of the boot image (without and with a
//!   descriptor) and of a file, with the process server's work for each;
//! - untyped memory held by one minimal live process, and by a first and
//!   a second process of one boot program (whose code is the image's own
//!   pages, so the first costs no more than the second).
//!
//! Run as `ipcbench`; it starts `ipcbench client` and `ipcbench idle`.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;
use libux::layout::slot;
use libux::println;
use libux::process;
use libux::rpc::client;
use libux::rpc::{End, Work, MSG_CALL};
use libux::sel4::syscall::{self, Msg};

const ROUNDS: usize = 20_000;
const WARMUP: usize = 1_000;
const SPAWNS: usize = 200;
/// Labels of our own (non-protocol) messages between client and us.
const RAW: u64 = 0x100;
const RESULTS: u64 = 0x101;
/// Our endpoint, to which the client's connection is redirected.
const EP: u64 = slot::FIRST_FREE;

libux::entry!(main);

fn tsc() -> u64 {
    // SAFETY: lfence and rdtsc have no preconditions; the fence keeps
    // earlier instructions from drifting past the read.
    unsafe {
        core::arch::x86_64::_mm_lfence();
        core::arch::x86_64::_rdtsc()
    }
}

/// Median, 99th percentile and minimum of `op`'s cost in cycles.
fn measure(rounds: usize, warmup: usize, mut op: impl FnMut()) -> (u64, u64, u64) {
    for _ in 0..warmup {
        op();
    }
    let mut samples: Vec<u64> = (0..rounds)
        .map(|_| {
            let t0 = tsc();
            op();
            tsc() - t0
        })
        .collect();
    samples.sort_unstable();
    (samples[rounds / 2], samples[rounds * 99 / 100], samples[0])
}

fn ratio(a: u64, b: u64) -> alloc::string::String {
    let r = a * 100 / b.max(1);
    alloc::format!("{}.{:02}", r / 100, r % 100)
}

fn main() -> i32 {
    match libux::rt::args().get(1).copied() {
        Some("client") => client_main(),
        Some("idle") => loop {
            // Never signalled: we have no children.
            syscall::recv(slot::EVENTS);
        },
        _ => bench_main(),
    }
}

fn bench_main() -> i32 {
    let (y_med, y_p99, _) = measure(ROUNDS, WARMUP, syscall::yield_now);
    println!("ipcbench: null system call (Yield, same address space): median {y_med} cycles, p99 {y_p99} cycles");
    let (d_med, d_p99, _) = measure(ROUNDS, WARMUP, || {
        process::getpid().expect("getpid");
    });
    println!("ipcbench: GetPid straight to the process server: median {d_med} cycles, p99 {d_p99} cycles");

    if let Err(e) = process::create_endpoint(EP) {
        println!("ipcbench: cannot create an endpoint: {e}");
        return 1;
    }
    let client = match process::spawn_with("/bin/ipcbench", &["ipcbench", "client"], &[], Some(EP)) {
        Ok(p) => p,
        Err(e) => {
            println!("ipcbench: cannot start the client: {e}");
            return 1;
        }
    };
    // Serve the client: answer our own messages, relay its process API
    // calls, until its Exit has been relayed.
    let mut m = client::recv_raw(EP);
    loop {
        let words = match m.label {
            RAW => 0,
            RESULTS => {
                let mr = &syscall::ipc_buffer().msg;
                let (raw_med, raw_p99, raw_min, rel_med, rel_p99) = (mr[0], mr[1], mr[2], mr[3], mr[4]);
                println!(
                    "ipcbench: IPC round trip (Call + ReplyRecv, two address spaces): median {raw_med} cycles, p99 {raw_p99} cycles, min {raw_min} cycles over {ROUNDS} calls; {} x a null system call",
                    ratio(raw_med, y_med)
                );
                println!(
                    "ipcbench: GetPid through a relaying intermediary: median {rel_med} cycles, p99 {rel_p99} cycles; {} x straight",
                    ratio(rel_med, d_med)
                );
                0
            }
            MSG_CALL => {
                let exit = matches!(client::peek_request(m.words), Some(libux::rpc::Request::Exit { .. }));
                let w = client::relay(slot::PROC_CONN, m.badge, m.words).unwrap_or_else(client::error_reply_words);
                if exit {
                    break;
                }
                w
            }
            _ => client::error_reply_words(libux::rpc::Errno::BadRequest),
        };
        m = client::reply_recv_raw(EP, words);
    }
    let _ = process::wait(Some(client));

    let Some((s_med, s_p99, work_boot)) = spawns("`true`", || process::spawn("/bin/true", &["true"], &[])) else {
        return 1;
    };
    println!("ipcbench: spawn + wait of `true`: median {s_med} cycles, p99 {s_p99} cycles over {SPAWNS} runs");
    println!("ipcbench: per spawn + wait of `true`: {work_boot}");

    // With a descriptor, as a shell starts it: `true` opens /dev/null at
    // start (and, never writing, needs no I/O window onto devfs).
    let null = [libux::rpc::FdName { fd: 1, path: "/dev/null", flags: libux::fs::flags::WRITE }];
    let with_fd = || process::spawn_full("/bin/true", &["true"], &[], None, &null);
    let Some((d_med, d_p99, work_fd)) = spawns("`true` with a descriptor", with_fd) else {
        return 1;
    };
    println!(
        "ipcbench: spawn + wait of `true` with standard output /dev/null: median {d_med} cycles, p99 {d_p99} cycles over {SPAWNS} runs ({:.1} x without)",
        d_med as f64 / s_med as f64
    );
    println!("ipcbench: per spawn + wait of `true` with standard output: {work_fd}");

    // The same program as a file: `exec` reads it from ramfs and replaces
    // itself with it.
    if let Err(e) = copy("/bin/true", "/tmp/true") {
        println!("ipcbench: cannot copy /bin/true to /tmp/true: {e}");
        return 1;
    }
    let Some((f_med, f_p99, work_file)) = spawns("/tmp/true", || process::spawn("/tmp/true", &["true"], &[])) else {
        return 1;
    };
    println!(
        "ipcbench: spawn + wait of `true` from a file (/tmp/true): median {f_med} cycles, p99 {f_p99} cycles over {SPAWNS} runs ({:.1} x the boot image's)",
        f_med as f64 / s_med as f64
    );
    println!("ipcbench: per spawn + wait of `true` from a file: {work_file}");

    let before = process::stats().map(|s| s.resources.free_bytes).unwrap_or(0);
    let idle = process::spawn("/bin/ipcbench", &["ipcbench", "idle"], &[]).expect("spawn idle");
    let during = process::stats().map(|s| s.resources.free_bytes).unwrap_or(0);
    let _ = process::kill(idle);
    let _ = process::wait(Some(idle));
    println!("ipcbench: one minimal live process holds {} KiB of untyped memory", (before - during) >> 10);

    // Two processes of one program: a boot program's code is the boot
    // image's own pages, so even the first costs none (a file's program
    // shares its code from the second on: `spawner images`).
    let (first, second) = two_of("/bin/sleep");
    println!(
        "ipcbench: a first `sleep` takes {first} KiB of untyped memory at spawn, a second {second} KiB (code and constants are the boot image's own pages)"
    );
    0
}

/// Copies file `from` to `to`.
fn copy(from: &str, to: &str) -> Result<(), libux::rpc::Errno> {
    let image = libux::fs::client::open(from, libux::fs::flags::READ).and_then(|mut f| f.read_to_end())?;
    let how = libux::fs::flags::WRITE | libux::fs::flags::CREATE | libux::fs::flags::TRUNCATE;
    libux::fs::client::open(to, how).and_then(|mut f| f.write(&image)).map(|_| ())
}

/// The untyped memory, in KiB, that a first and then a second `sleep`
/// of program `path` take at spawn (both running).
fn two_of(path: &str) -> (u64, u64) {
    let free = || process::stats().map(|s| s.resources.free_bytes).unwrap_or(0);
    let start = free();
    let first = process::spawn(path, &["sleep", "60"], &[]).expect("spawn sleep");
    let one = free();
    let second = process::spawn(path, &["sleep", "60"], &[]).expect("spawn sleep");
    let two = free();
    for pid in [first, second] {
        let _ = process::kill(pid);
        let _ = process::wait(Some(pid));
    }
    ((start - one) >> 10, (one - two) >> 10)
}

fn client_main() -> i32 {
    let raw = Msg::new(RAW, &[]);
    let (raw_med, raw_p99, raw_min) = measure(ROUNDS, WARMUP, || {
        syscall::call(slot::PROC_CONN, raw);
    });
    let (rel_med, rel_p99, _) = measure(ROUNDS, WARMUP, || {
        process::getpid().expect("getpid through the intermediary");
    });
    syscall::ipc_buffer().msg[4] = rel_p99;
    let mut results = Msg::new(RESULTS, &[raw_med, raw_p99, raw_min, rel_med]);
    results.info = libux::sel4::MessageInfo::new(RESULTS, 0, 0, 5);
    syscall::call(slot::PROC_CONN, results);
    0
}

/// Spawn + wait of what `spawn` starts, `SPAWNS` times (after 10 to warm
/// up): the median and 99th percentile in cycles, and the process
/// server's work per spawn; `None`, said, if one did not exit with 0.
fn spawns(
    what: &str,
    spawn: impl Fn() -> Result<libux::rpc::Pid, libux::rpc::Errno>,
) -> Option<(u64, u64, alloc::string::String)> {
    let mut failed = false;
    let before = work();
    let (median, p99, _) = measure(SPAWNS, 10, || {
        let pid = spawn().expect("spawn");
        failed |= process::wait(Some(pid)).map(|w| w.end) != Ok(End::Exited(0));
    });
    if failed {
        println!("ipcbench: a spawned {what} did not exit cleanly");
        return None;
    }
    Some((median, p99, per_spawn(before, work())))
}

/// The process server's work so far.
fn work() -> Work {
    process::stats().map(|s| s.work).unwrap_or_default()
}

/// What one of the `SPAWNS + 10` spawns (warm-up included) between
/// `before` and `after` cost the process server.
fn per_spawn(before: Work, after: Work) -> alloc::string::String {
    let per = |a: u64, b: u64| (a - b) as f64 / (SPAWNS + 10) as f64;
    alloc::format!(
        "{:.1} process server calls, {:.1} kernel objects made ({:.0} KiB zeroed), {:.1} pages filled, {:.1} frames mapped",
        per(after.calls, before.calls),
        per(after.objects, before.objects),
        per(after.retyped_bytes, before.retyped_bytes) / 1024.0,
        per(after.pages_filled, before.pages_filled),
        per(after.frames_mapped, before.frames_mapped)
    )
}

//! `ipcbench`: seL4 IPC round-trip cost between two address spaces.
//!
//! Calls the process server (which answers with ReplyRecv) with an empty
//! message `ROUNDS` times after a warm-up, timing each round trip with
//! `rdtsc`, and prints the median and 99th percentile in cycles. Under
//! QEMU TCG the cycle counter is emulated: the numbers compare runs on one
//! machine, not hardware.
#![no_std]
#![no_main]

use libux::layout::slot;
use libux::proto::label;
use libux::rt;
use libux::sel4::syscall::{self, Msg};

const WARMUP: usize = 1_000;
const ROUNDS: usize = 20_000;

static mut SAMPLES: [u64; ROUNDS] = [0; ROUNDS];

libux::entry!(main);

fn tsc() -> u64 {
    // SAFETY: lfence and rdtsc have no preconditions; the fence keeps
    // earlier instructions from drifting past the read.
    unsafe {
        core::arch::x86_64::_mm_lfence();
        core::arch::x86_64::_rdtsc()
    }
}

fn main(ipc_buffer: u64, _arg: u64) -> ! {
    rt::init_process(ipc_buffer);
    let null = Msg::new(label::NULL, &[]);
    for _ in 0..WARMUP {
        syscall::call(slot::PROC_CONN, null);
    }
    // SAFETY: the only reference to SAMPLES; the program is single-threaded.
    let samples = unsafe { &mut *core::ptr::addr_of_mut!(SAMPLES) };
    for s in samples.iter_mut() {
        let t0 = tsc();
        let reply = syscall::call(slot::PROC_CONN, null);
        *s = tsc() - t0;
        if reply.info.label() != label::NULL {
            libux::println!("ipcbench: bad reply {reply:?}");
            rt::exit(1);
        }
    }
    samples.sort_unstable();
    let median = samples[ROUNDS / 2];
    let p99 = samples[ROUNDS * 99 / 100];
    libux::println!(
        "ipcbench: IPC round trip (Call + ReplyRecv, two address spaces): median {median} cycles, p99 {p99} cycles, min {} cycles over {ROUNDS} calls",
        samples[0]
    );
    rt::exit(0)
}

//! `ipcbench`: seL4 IPC round-trip cost between two address spaces.
//!
//! Calls the process server (which answers with ReplyRecv) with an empty
//! message `ROUNDS` times after a warm-up, timing each round trip with
//! `rdtsc`, and prints the median and 99th percentile in cycles. As a
//! yardstick measured in the same run, it times a system call that stays
//! in this address space (Yield, with nothing else ready to run) and
//! prints the ratio. Under QEMU TCG the cycle counter is emulated: the
//! numbers compare runs on one machine, not hardware.
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

/// Median, 99th percentile and minimum of `op`'s cost in cycles.
fn measure(samples: &mut [u64], mut op: impl FnMut()) -> (u64, u64, u64) {
    for _ in 0..WARMUP {
        op();
    }
    for s in samples.iter_mut() {
        let t0 = tsc();
        op();
        *s = tsc() - t0;
    }
    samples.sort_unstable();
    (
        samples[samples.len() / 2],
        samples[samples.len() * 99 / 100],
        samples[0],
    )
}

fn main(ipc_buffer: u64, _arg: u64) -> ! {
    rt::init_process(ipc_buffer);
    // SAFETY: the only reference to SAMPLES; the program is single-threaded.
    let samples = unsafe { &mut *core::ptr::addr_of_mut!(SAMPLES) };
    let null = Msg::new(label::NULL, &[]);
    let mut bad_reply = None;
    let (median, p99, min) = measure(samples, || {
        let reply = syscall::call(slot::PROC_CONN, null);
        if reply.info.label() != label::NULL {
            bad_reply = Some(reply);
        }
    });
    if let Some(reply) = bad_reply {
        libux::println!("ipcbench: bad reply {reply:?}");
        rt::exit(1);
    }
    libux::println!(
        "ipcbench: IPC round trip (Call + ReplyRecv, two address spaces): median {median} cycles, p99 {p99} cycles, min {min} cycles over {ROUNDS} calls"
    );
    let (y_median, y_p99, _) = measure(samples, syscall::yield_now);
    libux::println!(
        "ipcbench: null system call (Yield, same address space): median {y_median} cycles, p99 {y_p99} cycles; IPC round trip / null call = {}.{:02}",
        median / y_median.max(1),
        median * 100 / y_median.max(1) % 100
    );
    rt::exit(0)
}

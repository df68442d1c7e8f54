//! `hello`: the first process a node starts. It proves that it runs in an
//! address space of its own and that it can talk to the process server:
//! it writes its own value into the probe word (linked at the same address
//! as the process server's, which prints its value before and after), and
//! asks the process server who it is over the process server connection.
#![no_std]
#![no_main]

use core::sync::atomic::Ordering;
use libux::layout::PROBE;
use libux::println;
use libux::process;
use libux::rt::PROBE as MY_PROBE;

libux::entry!(main);

fn main() -> i32 {
    // SAFETY: rdtsc has no preconditions.
    let mine = 0x4845_4c4c_0000_0000 | (unsafe { core::arch::x86_64::_rdtsc() } & 0xffff_ffff);
    MY_PROBE.store(mine, Ordering::Relaxed);
    let rsp: u64;
    // SAFETY: reads the stack pointer only.
    unsafe { core::arch::asm!("mov {}, rsp", out(reg) rsp) };
    println!("hello: probe {PROBE:#x} = {mine:#x} in hello, stack near {rsp:#x}");
    match (process::getpid(), process::getppid()) {
        (Ok(pid), Ok(ppid)) => {
            println!("hello: IPC round trip with the process server done: I am pid {pid}, child of {ppid}");
            // Our word still holds what we wrote, across the calls.
            println!("hello: probe {PROBE:#x} reads {:#x} after the calls", MY_PROBE.load(Ordering::Relaxed));
            0
        }
        (a, b) => {
            println!("hello: the process server did not answer: {a:?} {b:?}");
            1
        }
    }
}

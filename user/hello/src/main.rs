//! `hello`: the first process a node starts. It proves that it runs in an
//! address space of its own and that IPC with the process server works:
//! it writes its own value into the probe word (linked at the same address
//! as the process server's), reports it over the process server
//! connection, prints the reply and exits.
#![no_std]
#![no_main]

use core::sync::atomic::Ordering;
use libux::layout::{slot, PROBE};
use libux::proto::label;
use libux::rt::{self, PROBE as MY_PROBE};
use libux::sel4::syscall::{self, Msg};

libux::entry!(main);

fn main(ipc_buffer: u64, _arg: u64) -> ! {
    rt::init_process(ipc_buffer);
    // SAFETY: rdtsc has no preconditions.
    let mine = 0x4845_4c4c_0000_0000 | (unsafe { core::arch::x86_64::_rdtsc() } & 0xffff_ffff);
    MY_PROBE.store(mine, Ordering::Relaxed);
    let rsp: u64;
    // SAFETY: reads the stack pointer only.
    unsafe { core::arch::asm!("mov {}, rsp", out(reg) rsp) };
    libux::println!("hello: running, probe {PROBE:#x} = {mine:#x}, stack near {rsp:#x}, IPC buffer {ipc_buffer:#x}");

    let reply = syscall::call(slot::PROC_CONN, Msg::new(label::HELLO, &[PROBE, mine]));
    if reply.info.label() != label::HELLO {
        libux::println!("hello: unexpected reply {:?}", reply);
        rt::exit(1);
    }
    libux::println!(
        "hello: IPC round trip with the process server done: I am pid {}",
        reply.mr[0]
    );
    rt::exit(0)
}

//! The process server: the root task of every node.
//!
//! It owns all untyped memory and device capabilities, creates processes
//! from the boot file system linked into it, and answers their calls on
//! the process server connection. Together with seL4 and `libux` it is the
//! core supervisor: it has no network, no 9P and no knowledge of clustering,
//! and depends on `libux` only.
//!
//! Boot: read the boot information, print the banner, start `hello` (which
//! proves it runs in its own address space and talks to us over IPC), then
//! declare the node ready. With the boot option `bench` (QEMU
//! `-fw_cfg name=opt/ux/boot,string=bench`) it then serves `ipcbench`.
#![no_std]
#![no_main]

mod process;
mod untyped;
mod vspace;

use core::sync::atomic::Ordering;
use libux::bootfs::BootFs;
use libux::fw_cfg::FwCfg;
use libux::layout::PROBE;
use libux::println;
use libux::proto::{label, FAULT_BADGE};
use libux::rt::{self, PROBE as MY_PROBE};
use libux::sel4::consts::{bits, init_cap, object};
use libux::sel4::syscall::{self, Msg};
use libux::sel4::{bootinfo, BootInfo, Endpoint, IoPort};
use process::{Loader, Process};
use untyped::Allocator;

static BOOTFS: &[u8] = include_bytes!(env!("UX_BOOTFS"));
const SEL4_VERSION: &str = env!("UX_SEL4_VERSION");
const KERNEL_PROFILE: &str = env!("UX_KERNEL_PROFILE");

libux::entry!(main);

fn main(bootinfo_addr: u64, _: u64) -> ! {
    // SAFETY: the kernel maps the boot information page at this address.
    let bytes = unsafe { core::slice::from_raw_parts(bootinfo_addr as *const u8, 1 << bits::PAGE) };
    let ipc_buffer = u64::from_le_bytes(
        bytes[bootinfo::offset::IPC_BUFFER..][..8]
            .try_into()
            .unwrap(),
    );
    rt::init_root(ipc_buffer, IoPort(init_cap::IO_PORT));
    let bi = match BootInfo::parse(bytes) {
        Ok(bi) => bi,
        Err(e) => panic!("unusable boot information: {e:?}"),
    };

    let (ram, device) =
        bi.untypeds().fold(
            (0, 0),
            |(r, d), u| if u.is_device { (r, d + 1) } else { (r + 1, d) },
        );
    println!("ux: process server on seL4 {SEL4_VERSION} (x86_64 pc99, {KERNEL_PROFILE} kernel)");
    println!(
        "ux: memory {} MiB in {} untyped capabilities ({} RAM, {} device), TSC {} MHz",
        bi.ram_bytes() >> 20,
        ram + device,
        ram,
        device,
        bi.tsc_mhz()
    );

    let bootfs =
        BootFs::parse(BOOTFS).unwrap_or_else(|e| panic!("corrupt boot file system: {e:?}"));
    let mut alloc = Allocator::new(&bi);
    let mut loader = Loader::new();
    let server = Endpoint(
        alloc
            .object(object::ENDPOINT, 0, bits::ENDPOINT)
            .expect("process server endpoint"),
    );
    let mut next_pid = 1;
    let mut start = |name: &str, arg: u64, alloc: &mut Allocator| -> Process {
        let image = bootfs
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not in the boot file system"));
        let p = loader
            .spawn(alloc, image, next_pid, server, arg)
            .unwrap_or_else(|e| panic!("cannot start {name}: {e:?}"));
        println!("ux: started {name} as pid {}", p.pid);
        next_pid += 1;
        p
    };

    // Our own probe word, which `hello` must not be able to see.
    let mine = 0x5052_4f43_0000_0000 | (tsc() & 0xffff_ffff);
    MY_PROBE.store(mine, Ordering::Relaxed);
    let hello = start("hello", 0, &mut alloc);
    serve(server, &hello);
    println!("ux: {} bytes of untyped memory free", alloc.free_bytes());
    println!("ux: node ready");

    if boot_option().as_deref() == Some(b"bench") {
        let bench = start("ipcbench", 0, &mut alloc);
        serve(server, &bench);
    }
    rt::exit(0)
}

/// Answers `p`'s calls until it exits or faults.
fn serve(server: Endpoint, p: &Process) {
    let mut reply: Option<Msg> = None;
    loop {
        let (badge, msg) = match reply.take() {
            Some(r) => syscall::reply_recv(server.0, r),
            None => syscall::recv(server.0),
        };
        if badge == p.pid | FAULT_BADGE {
            println!(
                "ux: pid {} faulted (fault type {}): ip {:#x}, address {:#x}",
                p.pid,
                msg.info.label(),
                msg.mr[0],
                msg.mr[1]
            );
            let _ = p.tcb.suspend();
            return;
        }
        if badge != p.pid {
            continue;
        }
        match msg.info.label() {
            label::HELLO => {
                let [addr, theirs, ..] = msg.mr;
                let ours = MY_PROBE.load(Ordering::Relaxed);
                let verdict = if addr == PROBE && theirs != ours {
                    "separate address spaces"
                } else {
                    "NOT separate"
                };
                println!(
                    "ux: pid {} sees {theirs:#x} at {addr:#x}, the process server sees {ours:#x} there: {verdict}",
                    p.pid
                );
                reply = Some(Msg::new(label::HELLO, &[p.pid]));
            }
            label::NULL => reply = Some(Msg::new(label::NULL, &[])),
            label::EXIT => {
                println!("ux: pid {} exited with status {}", p.pid, msg.mr[0]);
                let _ = p.tcb.suspend();
                return;
            }
            other => {
                println!("ux: pid {} sent unknown request {other}", p.pid);
                reply = Some(Msg::new(label::BAD_REQUEST, &[other]));
            }
        }
    }
}

/// The boot option from QEMU's fw_cfg file `opt/ux/boot`, if any.
fn boot_option() -> Option<heapless::Vec<u8, 64>> {
    let mut cfg = FwCfg::detect(IoPort(init_cap::IO_PORT))?;
    let file = cfg.find("opt/ux/boot")?;
    let mut buf = [0u8; 64];
    match cfg.read(file, &mut buf) {
        Ok(n) => heapless::Vec::from_slice(&buf[..n]).ok(),
        Err(e) => {
            println!("ux: ignoring boot option: {e:?}");
            None
        }
    }
}

fn tsc() -> u64 {
    // SAFETY: rdtsc has no preconditions.
    unsafe { core::arch::x86_64::_rdtsc() }
}

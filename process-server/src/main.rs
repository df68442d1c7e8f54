//! The process server: the root task of every node.
//!
//! It owns all untyped memory and device capabilities, creates processes
//! from the boot file system QEMU gives it (`bootfs.rs`), and serves the process API
//! (`libux::rpc`) on the process server connection. Together with seL4
//! and `libux` it is the core supervisor: it has no network, no 9P and no
//! knowledge of clustering, and depends on `libux` only.
//!
//! Boot: read the boot information, print the banner, start the programs
//! of the system description (`kernel-config/system.desc`: `hello`, the
//! proof of a first process in its own address space), declare the node
//! ready once those marked `before-ready` have ended and the daemons have
//! mounted, then start the command line in the fw_cfg option `opt/ux/run`
//! (the shell, `sh`, if there is none) and serve until every program it
//! started, daemons aside, has ended.
#![no_std]
#![no_main]

extern crate alloc;

mod blocks;
mod bootfs;
mod buffers;
mod cspace;
mod devices;
mod exec;
mod files;
mod hanging;
mod hangup;
mod heap;
mod kernel;
mod life;
mod mapping;
mod mem;
mod mounts;
mod pci;
mod placed;
mod process;
mod procs;
mod rtc;
mod server;
mod settings;
mod shared;
mod space;
mod stop;
mod thread;
mod tsc;
mod vspace;
mod windows;
mod work;

use core::sync::atomic::Ordering;
use libux::bootfs::BootFs;
use libux::layout::PROBE;
use libux::println;
use libux::rt::{self, PROBE as MY_PROBE};
use libux::sel4::consts::{bits, init_cap};
use libux::sel4::{bootinfo, BootInfo, IoPort};
use libux::sysdesc::{self, System};
use mem::Memory;
use process::OwnedGrants;
use server::Server;

const SEL4_VERSION: &str = env!("UX_SEL4_VERSION");
const KERNEL_PROFILE: &str = env!("UX_KERNEL_PROFILE");

const STACK_SIZE: usize = 128 * 1024;
/// The heap's first part; the rest grows in a window (`heap.rs`).
const HEAP_SIZE: usize = 1024 * 1024;

#[repr(C, align(16))]
struct Stack([u8; STACK_SIZE]);
static mut STACK: Stack = Stack([0; STACK_SIZE]);
static mut HEAP: [u8; HEAP_SIZE] = [0; HEAP_SIZE];

/// The kernel starts the root task here with `rsp` = 0 and the boot
/// information address in `rdi` (the build sets this as the entry).
///
/// # Safety
/// Only the kernel calls this.
#[unsafe(naked)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn _start_root() -> ! {
    core::arch::naked_asm!(
        "lea rsp, [rip + {stack} + {size}]",
        "xor ebp, ebp",
        "call {main}",
        "ud2",
        stack = sym STACK,
        size = const STACK_SIZE,
        main = sym main,
    )
}

extern "C" fn main(bootinfo_addr: u64) -> ! {
    // SAFETY: the kernel maps the boot information page at this address.
    let bytes = unsafe { core::slice::from_raw_parts(bootinfo_addr as *const u8, 1 << bits::PAGE) };
    let ipc_buffer = u64::from_le_bytes(bytes[bootinfo::offset::IPC_BUFFER..][..8].try_into().unwrap());
    // SAFETY: the kernel's IPC buffer for us; HEAP is used nowhere else.
    unsafe { rt::init_root(ipc_buffer, IoPort(init_cap::IO_PORT), &mut *core::ptr::addr_of_mut!(HEAP)) };
    let bi = BootInfo::parse(bytes).unwrap_or_else(|e| panic!("unusable boot information: {e:?}"));

    let (ram, device) = bi.untypeds().fold((0, 0), |(r, d), u| if u.is_device { (r, d + 1) } else { (r + 1, d) });
    println!("ux: process server on seL4 {SEL4_VERSION} (x86_64 pc99, {KERNEL_PROFILE} kernel)");
    println!(
        "ux: memory {} MiB in {} untyped capabilities ({} RAM, {} device)",
        bi.ram_bytes() >> 20,
        ram + device,
        ram,
        device,
    );

    let mut kernel = kernel::Kernel::new(Memory::new(&bi)).unwrap_or_else(|e| panic!("no memory for the server: {e}"));
    heap::reserve(&mut kernel).unwrap_or_else(|e| panic!("no memory for the server's heap: {e}"));
    let settings = settings::Settings::read();
    let boot = bootfs::load(&mut kernel, settings.bootfs).unwrap_or_else(|e| panic!("no boot file system: {e}"));
    let bootfs = BootFs::parse(boot.blob()).unwrap_or_else(|e| panic!("corrupt boot file system: {e:?}"));
    let life = life::Life::new(kernel, devices::Devices::new(&bi), bootfs, boot)
        .unwrap_or_else(|e| panic!("no memory for the server: {e}"));
    let mut server = Server::new(life);
    let (tsc_mhz, source) = tsc::measure(&mut server.life, IoPort(init_cap::IO_PORT), tsc, bi.tsc_mhz());
    println!("ux: TSC {tsc_mhz} MHz ({}; the kernel said {})", source.describe(), bi.tsc_mhz());
    // The node's number, as the cluster server has it (`libux::cluster`).
    if let Some(Ok(c)) = settings.get("opt/ux/cluster").map(|t| libux::cluster::Config::parse(t.trim())) {
        server.life.procs.node = c.node;
    }
    server.tsc_mhz = tsc_mhz;
    server.wall = rtc::read(IoPort(init_cap::IO_PORT), tsc);
    match server.wall {
        Some(w) => println!("ux: clock {}", libux::time::Civil::from_unix(w.unix)),
        None => println!("ux: the CMOS clock could not be read: no date"),
    }

    // Our probe word; `hello` writes its own at the same address.
    let mine = 0x5052_4f43_0000_0000 | (tsc() & 0xffff_ffff);
    MY_PROBE.store(mine, Ordering::Relaxed);
    println!("ux: probe {PROBE:#x} = {mine:#x} in the process server");
    let system = bootfs
        .get(sysdesc::BOOTFS_NAME)
        .and_then(|b| System::decode(b).ok())
        .unwrap_or_else(|| panic!("the boot image has no valid system description"));
    let bus = pci::Bus::scan();
    let mut before_ready = alloc::vec::Vec::new();
    let mut daemons = alloc::vec::Vec::new();
    for p in system.programs.iter().filter(|p| p.at_boot) {
        let (grants, env) = grants_of(&bus, &settings, p);
        let env: alloc::vec::Vec<&str> = env.iter().map(|e| e.as_str()).collect();
        match server.life.start(p.name, &p.argv, &env, &grants.borrow()) {
            Ok(pid) => {
                println!("ux: started {} as pid {} (priority {})", p.name, server.life.procs.gpid(pid), p.priority);
                if p.before_ready {
                    before_ready.push(pid);
                }
                if p.cluster {
                    server.life.mounts.cluster = Some(pid);
                }
                if p.daemon {
                    server.life.procs.get_mut(&pid).expect("just started").daemon = true;
                    daemons.push(pid);
                }
            }
            Err(e) => println!("ux: cannot start {}: {e}", p.name),
        }
    }
    // Ready: the before-ready programs have ended, the daemons have
    // mounted (or died).
    server.serve_until(|s| {
        let ended = |pid: &u32| s.life.procs.live(*pid).is_err();
        before_ready.iter().all(ended) && daemons.iter().all(|pid| ended(pid) || s.life.procs[pid].mounted)
    });
    let after = MY_PROBE.load(Ordering::Relaxed);
    let verdict = if after == mine { "unchanged: separate address spaces" } else { "CHANGED" };
    println!("ux: probe {PROBE:#x} = {after:#x} in the process server after hello ran: {verdict}");
    report(&server);
    println!("ux: node ready");

    // The command line given with `--run`, else the shell on the console.
    let cmd = settings.get("opt/ux/run").unwrap_or("sh");
    {
        let argv: alloc::vec::Vec<&str> = cmd.split_whitespace().collect();
        if let Some(path) = argv.first() {
            // A program the description lists gets its grants.
            let name = path.strip_prefix("/bin/").unwrap_or(path);
            let (grants, env) = system
                .programs
                .iter()
                .find(|p| p.name == name)
                .map(|p| grants_of(&bus, &settings, p))
                .unwrap_or_default();
            let env: alloc::vec::Vec<&str> = env.iter().map(|e| e.as_str()).collect();
            match server.life.start(path, &argv, &env, &grants.borrow()) {
                Ok(pid) => {
                    server.life.console_is(pid);
                    println!("ux: started {cmd} as pid {}", server.life.procs.gpid(pid));
                }
                Err(e) => println!("ux: cannot start {cmd}: {e}"),
            }
        }
    }
    server.serve_until_idle();
    report(&server);
    println!("ux: idle");
    rt::exit(0)
}

/// What the node's finite resources stand at: the tests compare the
/// report before and after a run.
fn report(server: &Server) {
    println!("ux: {}", server.stats().resources);
}

/// A program's grants, with what its PCI device brings, and the
/// environment that tells it what that is.
fn grants_of(
    bus: &pci::Bus,
    settings: &settings::Settings,
    p: &sysdesc::Program,
) -> (OwnedGrants, alloc::vec::Vec<alloc::string::String>) {
    let mut g = OwnedGrants {
        priority: p.priority,
        io_ports: p.io_ports.clone(),
        irqs: p.irqs.clone(),
        memory: p.memory.clone(),
        daemon: p.daemon,
        dma: false,
    };
    let mut env = alloc::vec::Vec::new();
    if let Some(node) = settings.get("opt/ux/node") {
        env.push(alloc::format!("UX_NODE={node}"));
    }
    if p.cluster {
        for (file, key) in [("opt/ux/cluster", "UX_CLUSTER"), ("opt/ux/secret", "UX_SECRET")] {
            if let Some(value) = settings.get(file) {
                env.push(alloc::format!("{key}={}", value.trim()));
            }
        }
    }
    if let (true, Some(boot)) = (p.seed, settings.get("opt/ux/seed")) {
        let seed = sysdesc::program_seed(boot.trim().as_bytes(), p.name);
        env.push(alloc::format!("UX_SEED={}", hex::encode(seed)));
    }
    for (i, &id) in p.pci.iter().enumerate() {
        // The same id again is the next such device.
        let nth = p.pci[..i].iter().filter(|&&other| other == id).count();
        match bus.find(id, nth) {
            Some(dev) => {
                println!("ux: PCI {:04x}:{:04x} in slot {} for {}", id.vendor, id.device, dev.slot, p.name);
                g.io_ports.extend(dev.io_ports.iter().copied());
                // Devices sharing an interrupt line share its handler.
                g.irqs.extend(dev.irq.filter(|irq| !g.irqs.iter().any(|o| o.pin == irq.pin)));
                g.dma = true;
                env.extend(dev.env(i));
            }
            // A second device is optional (a node outside a cluster has one NIC).
            None if nth > 0 => {}
            None => println!("ux: no PCI device {:04x}:{:04x} for {}", id.vendor, id.device, p.name),
        }
    }
    g.io_ports.truncate(sysdesc::MAX_GRANTS);
    g.irqs.truncate(sysdesc::MAX_GRANTS);
    (g, env)
}

pub fn tsc() -> u64 {
    // SAFETY: rdtsc has no preconditions.
    unsafe { core::arch::x86_64::_rdtsc() }
}

//! `faulter KIND`: faults on purpose, to test fault reporting.
//! KIND: `page` (read of an unmapped address), `write` (write to its own
//! read-only code), `ud` (invalid opcode), `div` (divide by zero), `gp`
//! (a privileged instruction: general protection), `steal` (a receive on
//! its process server connection, which only carries calls: a capability
//! fault, never someone else's call), `overflow` (recursion past the
//! stack's 64 KiB, into the guard page below it). And `deep`, which does
//! not fault: 48 KiB of stack, mapped as it is touched.
#![no_std]
#![no_main]

use libux::println;

libux::entry!(main);

/// An address nothing maps.
pub const UNMAPPED: u64 = 0xdead_0000;

/// Recurses `limit` times, each call with a 1 KiB frame.
#[inline(never)]
fn recurse(depth: u32, limit: u32) -> u64 {
    let mut frame = [0u8; 1024];
    frame[0] = depth as u8;
    let frame = core::hint::black_box(frame);
    if depth >= limit {
        return u64::from(frame[0]);
    }
    recurse(depth + 1, limit) + u64::from(frame[1023])
}

fn main() -> i32 {
    let args = libux::rt::args();
    let kind = args.get(1).copied().unwrap_or("");
    println!("faulter: faulting with {kind}");
    // SAFETY: none of this is safe; faulting is the point.
    unsafe {
        match kind {
            "page" => {
                core::ptr::read_volatile(UNMAPPED as *const u64);
            }
            "write" => core::ptr::write_volatile(main as *const () as *mut u8, 0),
            "ud" => core::arch::asm!("ud2"),
            "div" => {
                core::arch::asm!("xor edx, edx", "xor ecx, ecx", "mov eax, 1", "div ecx", out("eax") _, out("ecx") _, out("edx") _)
            }
            "gp" => core::arch::asm!("hlt"),
            "steal" => {
                libux::sel4::syscall::recv(libux::layout::slot::PROC_CONN);
            }
            "overflow" => {
                recurse(0, u32::MAX);
            }
            "deep" => {
                recurse(0, 48);
                println!("faulter: deep: 48 KiB of stack used, no fault");
                return 0;
            }
            _ => {
                println!("usage: faulter page|write|ud|div|gp|steal|overflow|deep");
                return 2;
            }
        }
    }
    println!("faulter: {kind} did not fault");
    1
}

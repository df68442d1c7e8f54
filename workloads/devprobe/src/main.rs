//! `devprobe`: reads the HPET's capability register through the device
//! memory the system description grants it (0xfed00000, mapped uncached at
//! `layout::DEVICE_BASE`), to show device memory grants work.
#![no_std]
#![no_main]

use libux::layout::DEVICE_BASE;
use libux::println;

libux::entry!(main);

fn main() -> i32 {
    // SAFETY: the process server maps the granted HPET page here.
    let caps = unsafe { core::ptr::read_volatile(DEVICE_BASE as *const u64) };
    let (revision, vendor, period) = (caps & 0xff, (caps >> 16) & 0xffff, caps >> 32);
    println!("devprobe: HPET at 0xfed00000: revision {revision}, vendor {vendor:#06x}, period {period} fs");
    if revision == 0 || period == 0 {
        println!("devprobe: FAIL this is not an HPET");
        return 1;
    }
    0
}

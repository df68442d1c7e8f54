//! `devprobe`: reads the firmware's reset vector through the device
//! memory the system description grants it (the BIOS's last page below
//! 1 MiB, 0xff000, where the processor's first instruction lies as real
//! mode sees it; mapped uncached at `layout::DEVICE_BASE`), to show
//! device memory grants work. (devfs holds the HPET's page.)
#![no_std]
#![no_main]

use libux::layout::DEVICE_BASE;
use libux::println;

libux::entry!(main);

/// Where the processor starts (0xffff0), within the page.
const RESET_VECTOR: u64 = 0xff0;

fn main() -> i32 {
    let mut bytes = [0u8; 5];
    for (i, b) in bytes.iter_mut().enumerate() {
        // SAFETY: the process server maps the granted page here.
        *b = unsafe { core::ptr::read_volatile((DEVICE_BASE + RESET_VECTOR + i as u64) as *const u8) };
    }
    // A far jump (0xea), to its offset and segment.
    let [op, lo, hi, slo, shi] = bytes;
    let (offset, segment) = (u16::from_le_bytes([lo, hi]), u16::from_le_bytes([slo, shi]));
    println!("devprobe: reset vector at 0xffff0: opcode {op:#04x}, to {segment:#06x}:{offset:#06x}");
    if op != 0xea {
        println!("devprobe: FAIL this is not a far jump");
        return 1;
    }
    0
}

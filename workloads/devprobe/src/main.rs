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
    // Firmware puts a jump there: far (0xea, offset and segment: SeaBIOS)
    // or near (0xe9, relative to the next instruction in segment 0xf000:
    // qboot, which nodes boot with).
    let [op, lo, hi, slo, shi] = bytes;
    let word = |a, b| u16::from_le_bytes([a, b]);
    let (how, segment, offset) = match op {
        0xea => ("far", word(slo, shi), word(lo, hi)),
        0xe9 => ("near", 0xf000, 0xfff3u16.wrapping_add(word(lo, hi))),
        _ => {
            println!("devprobe: FAIL reset vector at 0xffff0: opcode {op:#04x} is no jump");
            return 1;
        }
    };
    println!("devprobe: reset vector at 0xffff0: a {how} jump to {segment:#06x}:{offset:#06x}");
    0
}

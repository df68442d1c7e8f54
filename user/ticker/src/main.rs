//! `ticker [N]`: a driver in miniature, for the system description's
//! grants. It programs the CMOS real-time clock's periodic interrupt (I/O
//! ports 0x70-0x71, granted) at 64 Hz and counts N interrupts (IOAPIC pin
//! 8, granted) delivered to its events notification, acknowledging each;
//! it also checks that a port outside its grant is refused.
#![no_std]
#![no_main]

use libux::layout::{event, slot};
use libux::println;
use libux::sel4::{IoPort, IrqHandler, Notification};

libux::entry!(main);

/// Register A rate 10: 32768 >> (10 - 1) = 64 Hz.
const RATE_SELECT: u8 = 10;
const RATE: u32 = 64;
/// Selecting a register with bit 7 set keeps NMIs masked.
const REG_A: u8 = 0x8a;
const REG_B: u8 = 0x8b;
const REG_C: u8 = 0x0c;
const PERIODIC: u8 = 0x40;

fn main() -> i32 {
    let n: u32 = libux::rt::args().get(1).and_then(|s| s.parse().ok()).unwrap_or(20);
    let ports = IoPort(slot::IO_PORTS);
    let irq = IrqHandler(slot::IRQ_HANDLERS);
    let events = Notification(slot::EVENTS);
    if ports.in8(0x60).is_ok() {
        println!("ticker: FAIL port 0x60 is outside the grant but was readable");
        return 1;
    }
    let read = |reg: u8| ports.out8(0x70, reg).and_then(|()| ports.in8(0x71));
    let write = |reg: u8, v: u8| ports.out8(0x70, reg).and_then(|()| ports.out8(0x71, v));
    let setup = read(REG_A)
        .and_then(|a| write(REG_A, (a & 0xf0) | RATE_SELECT))
        .and_then(|()| read(REG_B))
        .and_then(|b| write(REG_B, b | PERIODIC))
        .and_then(|()| read(REG_C));
    if let Err(e) = setup {
        println!("ticker: FAIL cannot program the clock: {e}");
        return 1;
    }
    let _ = irq.ack();
    // SAFETY: rdtsc has no preconditions.
    let t0 = unsafe { core::arch::x86_64::_rdtsc() };
    let mut seen = 0;
    while seen < n {
        if events.wait() & event::irq(0) == 0 {
            continue;
        }
        seen += 1;
        // Reading register C lets the clock interrupt again.
        if let Err(e) = read(REG_C).and_then(|_| irq.ack()) {
            println!("ticker: FAIL ack: {e}");
            return 1;
        }
    }
    let _ = read(REG_B).and_then(|b| write(REG_B, b & !PERIODIC));
    // SAFETY: as above.
    let cycles = unsafe { core::arch::x86_64::_rdtsc() } - t0;
    println!("ticker: ok {n} RTC interrupts at {RATE} Hz in {cycles} TSC cycles; port 0x60 outside the grant refused");
    0
}

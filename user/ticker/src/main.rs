//! `ticker [N]`: a driver in miniature, for the system description's
//! grants. It programs the PIT (I/O ports 0x40-0x43, granted) at 100 Hz
//! and counts N interrupts (IOAPIC pin 2, granted) delivered to its
//! notification, acknowledging each; it also checks that a port outside
//! its grant is refused.
#![no_std]
#![no_main]

use libux::layout::slot;
use libux::println;
use libux::sel4::{IoPort, IrqHandler, Notification};

libux::entry!(main);

const PIT_HZ: u32 = 1_193_182;
const RATE: u32 = 100;

fn main() -> i32 {
    let n: u32 = libux::rt::args().get(1).and_then(|s| s.parse().ok()).unwrap_or(20);
    let ports = IoPort(slot::IO_PORTS);
    let irq = IrqHandler(slot::IRQ_HANDLERS);
    let note = Notification(slot::IRQ_NOTIFICATIONS);
    if ports.in8(0x60).is_ok() {
        println!("ticker: FAIL port 0x60 is outside the grant but was readable");
        return 1;
    }
    let divisor = PIT_HZ / RATE;
    // Channel 0, lobyte/hibyte, mode 2 (rate generator).
    let setup = ports
        .out8(0x43, 0x34)
        .and_then(|()| ports.out8(0x40, divisor as u8))
        .and_then(|()| ports.out8(0x40, (divisor >> 8) as u8));
    if let Err(e) = setup {
        println!("ticker: FAIL cannot program the PIT: {e}");
        return 1;
    }
    let _ = irq.ack();
    // SAFETY: rdtsc has no preconditions.
    let t0 = unsafe { core::arch::x86_64::_rdtsc() };
    for _ in 0..n {
        note.wait();
        if let Err(e) = irq.ack() {
            println!("ticker: FAIL ack: {e}");
            return 1;
        }
    }
    // SAFETY: as above.
    let cycles = unsafe { core::arch::x86_64::_rdtsc() } - t0;
    println!("ticker: ok {n} PIT interrupts at {RATE} Hz in {cycles} TSC cycles; port 0x60 outside the grant refused");
    0
}

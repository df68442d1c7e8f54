//! PCI devices for the system description's `pci VENDOR:DEVICE` grants:
//! configuration space through the legacy ports 0xcf8/0xcfc (bus 0, where
//! QEMU's `pc` machine puts every device). [`Bus::scan`] looks at bus 0
//! once at boot, before any driver runs: it sizes every I/O port BAR and
//! gives ports to those the firmware left unassigned (qboot, which nodes
//! boot with, assigns none; SeaBIOS every one), above every assigned one.
//! A grant gets its device's I/O ports and its interrupt, with decoding
//! and bus mastering switched on. Memory BARs are not granted yet.
//!
//! The interrupt is where the PIIX3 routes the device's pin (its PIRQ
//! route registers), not the interrupt line the firmware wrote, which is
//! only what the firmware believed: qboot wrote 11 for slot 2, whose
//! interrupt the PIIX3 routes to 10, so NIC 0 never interrupted and
//! netstack saw its frames only at its clock's ticks (host -> node TCP
//! at 0.22 MB/s and 15 ms a round trip, against 37 MB/s and 0.33 ms with
//! SeaBIOS, which wrote 10). On a machine without a PIIX3, the line.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use libux::println;
use libux::sel4::consts::init_cap;
use libux::sel4::IoPort;
use libux::sysdesc::{Irq, PciId};

const ADDRESS: u16 = 0xcf8;
const DATA: u16 = 0xcfc;
const COMMAND: u8 = 0x04;
/// Bits 16-22: the header's layout; 0 is a device's (bridges have bus
/// numbers and windows where a device has BARs 2-5).
const HEADER: u8 = 0x0c;
const BAR0: u8 = 0x10;
/// The interrupt line (byte 0) and pin (byte 1: 1-4 for INTA-INTD).
const INTERRUPT_LINE: u8 = 0x3c;
/// The PIIX3's PCI-to-ISA bridge, in slot 1 of QEMU's `pc`: bytes 0x60-
/// 0x63 route PIRQA-D to an ISA interrupt (bit 7: routed nowhere), which
/// is the same IOAPIC pin.
const PIIX3_SLOT: u8 = 1;
const PIIX3: u32 = 0x7000 << 16 | 0x8086;
const PIRQ_ROUTE: u8 = 0x60;
/// Command register: I/O space, memory space, bus master.
const ENABLE: u32 = 0x1 | 0x2 | 0x4;
/// Where unassigned I/O BARs start getting ports (where SeaBIOS puts
/// them too), unless an assigned one lies higher.
const IO_FIRST: u32 = 0xc000;
const IO_END: u32 = 0x1_0000;

/// What a found device gives its driver.
#[derive(Clone)]
pub struct Device {
    pub slot: u8,
    pub io_ports: Vec<(u16, u16)>,
    pub irq: Option<Irq>,
}

impl Device {
    /// The start-block environment telling the driver what it got, as
    /// the program's `index`th device: `PCI<index>_SLOT`, `_IO`, `_IRQ`.
    pub fn env(&self, index: usize) -> Vec<String> {
        let mut env = alloc::vec![format!("PCI{index}_SLOT={}", self.slot)];
        if let Some(&(first, last)) = self.io_ports.first() {
            env.push(format!("PCI{index}_IO={first:#x}-{last:#x}"));
        }
        if let Some(irq) = self.irq {
            env.push(format!("PCI{index}_IRQ={}", irq.pin));
        }
        env
    }
}

fn read(slot: u8, offset: u8) -> u32 {
    let io = IoPort(init_cap::IO_PORT);
    let address = 0x8000_0000 | (slot as u32) << 11 | (offset as u32 & 0xfc);
    io.out32(ADDRESS, address).and_then(|()| io.in32(DATA)).unwrap_or(u32::MAX)
}

fn write(slot: u8, offset: u8, value: u32) {
    let io = IoPort(init_cap::IO_PORT);
    let address = 0x8000_0000 | (slot as u32) << 11 | (offset as u32 & 0xfc);
    let _ = io.out32(ADDRESS, address).and_then(|()| io.out32(DATA, value));
}

/// An I/O BAR: its number, base (0: unassigned) and size in bytes.
struct IoBar {
    bar: u8,
    base: u32,
    size: u32,
}

/// The I/O BARs of the device in `slot`, sized (write ones, see which
/// bits stick, put the BAR back: before its driver runs); none for what
/// is no plain device.
fn io_bars(slot: u8) -> Vec<IoBar> {
    let mut bars = Vec::new();
    if read(slot, HEADER) >> 16 & 0x7f != 0 {
        return bars;
    }
    let mut high_half = false;
    for bar in 0..6u8 {
        let offset = BAR0 + bar * 4;
        let value = read(slot, offset);
        // The upper half of a 64-bit memory BAR is an address, whatever
        // its bit 0.
        if core::mem::take(&mut high_half) || value == u32::MAX {
            continue;
        }
        if value & 1 == 0 {
            high_half = value >> 1 & 0b11 == 0b10;
            continue;
        }
        write(slot, offset, u32::MAX);
        let mask = read(slot, offset) & 0xffff_fffc;
        write(slot, offset, value);
        let size = (!mask & 0xffff).wrapping_add(1);
        if size > 0 {
            bars.push(IoBar { bar, base: value & 0xfffc, size });
        }
    }
    bars
}

/// The PIIX3's PIRQ route registers (PIRQA-D, a byte each), if the
/// machine has one.
fn pirq_routes() -> Option<u32> {
    (read(PIIX3_SLOT, 0) == PIIX3).then(|| read(PIIX3_SLOT, PIRQ_ROUTE))
}

/// The IOAPIC pin the device in `slot` interrupts on, if it has an
/// interrupt (see the module doc), given the PIIX3's `routes`.
fn interrupt(slot: u8, routes: Option<u32>) -> Option<u8> {
    let reg = read(slot, INTERRUPT_LINE);
    let (line, pin) = ((reg & 0xff) as u8, (reg >> 8 & 0xff) as u8);
    if !(1..=4).contains(&pin) {
        return None;
    }
    let routed = routes.and_then(|routes| {
        // QEMU's PIIX swizzle: slot S's INTx drives PIRQ (S - 1 + x) mod 4.
        let pirq = (u32::from(slot) + u32::from(pin) + 2) % 4;
        let route = routes >> (8 * pirq) & 0xff;
        // Bit 7: routed nowhere; the PIIX3 reserves IRQs 0-2, 8 and 13.
        let irq = (route & 0xf) as u8;
        (route & 0x80 == 0 && irq >= 3 && irq != 8 && irq != 13).then_some(irq)
    });
    // No PIIX3, or a pin it routes nowhere: what the firmware wrote.
    routed.or((line < 24).then_some(line))
}

/// Bus 0's devices (function 0), as found at boot.
pub struct Bus {
    devices: Vec<(u32, Device)>,
}

impl Bus {
    pub fn scan() -> Bus {
        let routes = pirq_routes();
        let found: Vec<(u8, u32, Vec<IoBar>)> = (0..32u8)
            .map(|s| (s, read(s, 0)))
            .filter(|&(_, id)| id != u32::MAX)
            .map(|(s, id)| (s, id, io_bars(s)))
            .collect();
        let mut next = found
            .iter()
            .flat_map(|(_, _, bars)| bars)
            .filter(|b| b.base != 0 && b.base + b.size <= IO_END)
            .map(|b| b.base + b.size)
            .fold(IO_FIRST, u32::max);
        let mut devices = Vec::new();
        for (slot, id, bars) in found {
            let mut io_ports = Vec::new();
            for b in bars {
                if b.base != 0 && b.base + b.size > IO_END {
                    println!(
                        "ux: PCI slot {slot}: BAR {} ({:#x}, {} bytes) lies past the ports",
                        b.bar, b.base, b.size
                    );
                    continue;
                }
                let base = match b.base {
                    0 => {
                        let base = next.next_multiple_of(b.size.max(4));
                        if base + b.size > IO_END {
                            println!("ux: PCI slot {slot}: no ports left for BAR {} ({} bytes)", b.bar, b.size);
                            continue;
                        }
                        write(slot, BAR0 + b.bar * 4, base | 1);
                        next = base + b.size;
                        base
                    }
                    base => base,
                };
                if io_ports.len() < libux::sysdesc::MAX_GRANTS {
                    io_ports.push((base as u16, (base + b.size - 1) as u16));
                }
            }
            // PCI interrupts are level-triggered; QEMU's PIIX routes them
            // active-high to the IOAPIC.
            let irq = interrupt(slot, routes).map(|pin| Irq { pin, level_triggered: true, active_low: false });
            devices.push((id, Device { slot, io_ports, irq }));
        }
        Bus { devices }
    }

    /// The `nth` device `id`, made ready for its driver.
    pub fn find(&self, id: PciId, nth: usize) -> Option<Device> {
        let want = (id.device as u32) << 16 | id.vendor as u32;
        let dev = self.devices.iter().filter(|(found, _)| *found == want).nth(nth).map(|(_, d)| d.clone())?;
        write(dev.slot, COMMAND, read(dev.slot, COMMAND) & 0xffff | ENABLE);
        Some(dev)
    }
}

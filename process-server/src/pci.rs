//! PCI devices for the system description's `pci VENDOR:DEVICE` grants:
//! configuration space through the legacy ports 0xcf8/0xcfc (bus 0, where
//! QEMU's `pc` machine puts every device), the I/O port BARs and the
//! interrupt line the firmware assigned, and decoding and bus mastering
//! switched on. Memory BARs are not granted yet.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use libux::sel4::consts::init_cap;
use libux::sel4::IoPort;
use libux::sysdesc::{Irq, PciId};

const ADDRESS: u16 = 0xcf8;
const DATA: u16 = 0xcfc;
const COMMAND: u8 = 0x04;
const BAR0: u8 = 0x10;
const INTERRUPT_LINE: u8 = 0x3c;
/// Command register: I/O space, memory space, bus master.
const ENABLE: u32 = 0x1 | 0x2 | 0x4;

/// What a found device gives its driver.
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

/// Finds the `nth` device `id` on bus 0 (function 0) and makes it ready
/// for its driver.
pub fn find(id: PciId, nth: usize) -> Option<Device> {
    let want = (id.device as u32) << 16 | id.vendor as u32;
    let slot = (0..32u8).filter(|&s| read(s, 0) == want).nth(nth)?;
    let mut io_ports = Vec::new();
    for bar in 0..6u8 {
        let offset = BAR0 + bar * 4;
        let value = read(slot, offset);
        if value & 1 == 0 || value == u32::MAX {
            continue;
        }
        // The size: write ones, see which bits stick, put the BAR back.
        write(slot, offset, u32::MAX);
        let mask = read(slot, offset) & 0xffff_fffc;
        write(slot, offset, value);
        let size = (!mask & 0xffff).wrapping_add(1);
        let base = (value & 0xfffc) as u16;
        if size > 0 && base != 0 && io_ports.len() < libux::sysdesc::MAX_GRANTS {
            io_ports.push((base, base + (size - 1) as u16));
        }
    }
    let line = read(slot, INTERRUPT_LINE);
    // Pin 0: no interrupt; line 0xff: none assigned. PCI interrupts are
    // level-triggered; QEMU's PIIX routes them active-high to the IOAPIC.
    let irq = (line >> 8 & 0xff != 0 && line & 0xff < 24).then_some(Irq {
        pin: (line & 0xff) as u8,
        level_triggered: true,
        active_low: false,
    });
    write(slot, COMMAND, read(slot, COMMAND) & 0xffff | ENABLE);
    Some(Device { slot, io_ports, irq })
}

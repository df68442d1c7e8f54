//! netstack: drives the legacy virtio-net NIC the system description's
//! `pci 1af4:1000` grant gives it (I/O ports and interrupt, from the
//! environment `PCI_IO` and the grant slots) through two virtqueues in DMA
//! memory, and runs `smoltcp` over it: an address from DHCP (QEMU's user
//! network answers), ICMP echo, and a UDP echo service on port 7.
//!
//! It waits for the NIC's interrupt on its events notification; `smoltcp`
//! time comes from the TSC at the rate the kernel reports. Timer wakeups
//! without traffic, TCP and the `/net` files are still to come.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec;
use libux::layout::{event, slot, DMA_BASE};
use libux::println;
use libux::sel4::{IoPort, IrqHandler, Notification};
use netstack::virtq::{self, Virtq};
use smoltcp::iface::{Config, Interface, SocketSet};
use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::socket::{dhcpv4, icmp, udp};
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpCidr};

libux::entry!(main);

const PORTS: IoPort = IoPort(slot::IO_PORTS);
const IRQ: IrqHandler = IrqHandler(slot::IRQ_HANDLERS);

// Legacy virtio PCI registers, from the I/O BAR.
const DEVICE_FEATURES: u16 = 0x00;
const GUEST_FEATURES: u16 = 0x04;
const QUEUE_PFN: u16 = 0x08;
const QUEUE_SIZE: u16 = 0x0c;
const QUEUE_SELECT: u16 = 0x0e;
const QUEUE_NOTIFY: u16 = 0x10;
const STATUS: u16 = 0x12;
const ISR: u16 = 0x13;
const MAC: u16 = 0x14;
const ACKNOWLEDGE: u8 = 1;
const DRIVER: u8 = 2;
const DRIVER_OK: u8 = 4;
const FEATURE_MAC: u32 = 1 << 5;
const RX: u16 = 0;
const TX: u16 = 1;
/// The legacy virtio-net header before every frame (no merged buffers).
const HEADER: usize = 10;
const BUFFER: usize = 2048;
const MTU: usize = 1514;
/// Buffers per queue (at most the queue's size).
const BUFFERS: u16 = 32;
/// A DMA region: one `MapDma` of 16 pages.
const REGION: u64 = 16 * 4096;

/// A queue, its buffers, and where both are for the device.
struct Queue {
    q: Virtq,
    buffers: *mut u8,
    buffers_paddr: u64,
}

impl Queue {
    fn buffer(&mut self, id: u16) -> &mut [u8] {
        // SAFETY: BUFFERS buffers of BUFFER bytes were mapped at `buffers`.
        unsafe { core::slice::from_raw_parts_mut(self.buffers.add(id as usize * BUFFER), BUFFER) }
    }

    fn offer(&mut self, id: u16, len: usize, device_writes: bool) {
        let addr = self.buffers_paddr + id as u64 * BUFFER as u64;
        self.q.offer(id, addr, len as u32, device_writes);
    }
}

struct Nic {
    base: u16,
    rx: Queue,
    tx: Queue,
}

fn fail(what: &str) -> i32 {
    println!("netstack: {what}");
    1
}

impl Nic {
    fn out8(&self, reg: u16, v: u8) {
        let _ = PORTS.out8(self.base + reg, v);
    }

    fn out16(&self, reg: u16, v: u16) {
        let _ = PORTS.out16(self.base + reg, v);
    }

    fn notify(&self, queue: u16) {
        self.out16(QUEUE_NOTIFY, queue);
    }

    /// Sets up queue `index` at DMA address `vaddr` with its buffers at
    /// `vaddr + REGION`.
    fn queue(base: u16, index: u16, vaddr: u64) -> Result<Queue, &'static str> {
        let _ = PORTS.out16(base + QUEUE_SELECT, index);
        let size = PORTS.in16(base + QUEUE_SIZE).map_err(|_| "cannot read a queue size")?;
        if size < BUFFERS || virtq::bytes(size) as u64 > REGION {
            return Err("unusable queue size");
        }
        let paddr = libux::process::map_dma(vaddr, 16).map_err(|_| "no DMA memory")?;
        let buffers_paddr = libux::process::map_dma(vaddr + REGION, 16).map_err(|_| "no DMA memory")?;
        let _ = PORTS.out32(base + QUEUE_PFN, (paddr >> 12) as u32);
        // SAFETY: the region is ours, zeroed, and large enough (checked).
        let q = unsafe { Virtq::new(vaddr as *mut u8, size) };
        Ok(Queue { q, buffers: (vaddr + REGION) as *mut u8, buffers_paddr })
    }

    fn start(base: u16) -> Result<(Nic, EthernetAddress), &'static str> {
        let _ = PORTS.out8(base + STATUS, 0);
        let _ = PORTS.out8(base + STATUS, ACKNOWLEDGE | DRIVER);
        let features = PORTS.in32(base + DEVICE_FEATURES).map_err(|_| "the I/O ports are not ours")?;
        if features & FEATURE_MAC == 0 {
            return Err("the NIC has no MAC address");
        }
        let _ = PORTS.out32(base + GUEST_FEATURES, FEATURE_MAC);
        let rx = Self::queue(base, RX, DMA_BASE)?;
        let tx = Self::queue(base, TX, DMA_BASE + 2 * REGION)?;
        let mut mac = [0u8; 6];
        for (i, b) in mac.iter_mut().enumerate() {
            *b = PORTS.in8(base + MAC + i as u16).unwrap_or(0);
        }
        let mut nic = Nic { base, rx, tx };
        for id in 0..BUFFERS {
            nic.rx.offer(id, BUFFER, true);
        }
        nic.notify(RX);
        nic.out8(STATUS, ACKNOWLEDGE | DRIVER | DRIVER_OK);
        Ok((nic, EthernetAddress(mac)))
    }
}

struct RxToken<'a>(&'a mut Nic, u16, usize);
struct TxToken<'a>(&'a mut Nic);

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let RxToken(nic, id, len) = self;
        let r = f(&nic.rx.buffer(id)[HEADER..len]);
        // The buffer goes straight back to the device.
        nic.rx.offer(id, BUFFER, true);
        nic.notify(RX);
        r
    }
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let nic = self.0;
        let id = nic.tx.q.free_buffer().expect("transmit only offered with a free buffer");
        let buf = nic.tx.buffer(id);
        buf[..HEADER].fill(0);
        let r = f(&mut buf[HEADER..HEADER + len]);
        nic.tx.offer(id, HEADER + len, false);
        nic.notify(TX);
        r
    }
}

impl phy::Device for Nic {
    type RxToken<'a> = RxToken<'a>;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _: Instant) -> Option<(RxToken<'_>, TxToken<'_>)> {
        while self.tx.q.take_used().is_some() {}
        let (id, len) = self.rx.q.take_used()?;
        let len = (len as usize).clamp(HEADER, BUFFER);
        if self.tx.q.free_buffer().is_none() {
            // No room to answer: drop the frame rather than stall.
            self.rx.offer(id, BUFFER, true);
            return None;
        }
        // SAFETY: both tokens use the one NIC, one after the other (smoltcp
        // consumes the receive token before it transmits).
        let me = self as *mut Nic;
        Some((RxToken(unsafe { &mut *me }, id, len), TxToken(unsafe { &mut *me })))
    }

    fn transmit(&mut self, _: Instant) -> Option<TxToken<'_>> {
        while self.tx.q.take_used().is_some() {}
        self.tx.q.free_buffer().map(|_| TxToken(self))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.max_transmission_unit = MTU;
        caps.max_burst_size = Some(1);
        caps.medium = Medium::Ethernet;
        caps
    }
}

fn now(mhz: u64) -> Instant {
    // SAFETY: rdtsc has no preconditions.
    let tsc = unsafe { core::arch::x86_64::_rdtsc() };
    Instant::from_micros((tsc / mhz) as i64)
}

fn env(key: &str) -> Option<&'static str> {
    libux::rt::start_block().env.into_iter().find_map(|e| e.strip_prefix(key)?.strip_prefix('='))
}

fn main() -> i32 {
    let Some(base) = env("PCI_IO").and_then(|r| u16::from_str_radix(r.split('-').next()?.strip_prefix("0x")?, 16).ok())
    else {
        return fail("no NIC: the system description grants none (pci 1af4:1000)");
    };
    let mhz = libux::process::stats().map(|s| s.tsc_mhz.max(1)).unwrap_or(1);
    let (mut nic, mac) = match Nic::start(base) {
        Ok(n) => n,
        Err(e) => return fail(e),
    };
    println!("netstack: virtio-net at I/O {base:#x}, MAC {mac}, interrupt {}", env("PCI_IRQ").unwrap_or("?"));
    let mut iface = Interface::new(Config::new(HardwareAddress::Ethernet(mac)), &mut nic, now(mhz));
    let mut sockets = SocketSet::new(vec![]);
    let dhcp = sockets.add(dhcpv4::Socket::new());
    let udp_rx = udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 16], vec![0; 16 * 1024]);
    let udp_tx = udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 16], vec![0; 16 * 1024]);
    let echo = sockets.add(udp::Socket::new(udp_rx, udp_tx));
    let icmp_rx = icmp::PacketBuffer::new(vec![icmp::PacketMetadata::EMPTY; 4], vec![0; 4096]);
    let icmp_tx = icmp::PacketBuffer::new(vec![icmp::PacketMetadata::EMPTY; 4], vec![0; 4096]);
    sockets.add(icmp::Socket::new(icmp_rx, icmp_tx));
    if sockets.get_mut::<udp::Socket>(echo).bind(7).is_err() {
        return fail("cannot bind UDP port 7");
    }
    let _ = IRQ.ack();
    let events = Notification(slot::EVENTS);
    loop {
        iface.poll(now(mhz), &mut nic, &mut sockets);
        if let Some(dhcpv4::Event::Configured(c)) = sockets.get_mut::<dhcpv4::Socket>(dhcp).poll() {
            iface.update_ip_addrs(|addrs| {
                addrs.clear();
                let _ = addrs.push(IpCidr::Ipv4(c.address));
            });
            if let Some(router) = c.router {
                let _ = iface.routes_mut().add_default_ipv4_route(router);
            }
            println!(
                "netstack: address {} via {} (DHCP)",
                c.address,
                c.router.map_or(alloc::string::String::from("-"), |r| alloc::format!("{r}"))
            );
        }
        let s = sockets.get_mut::<udp::Socket>(echo);
        let mut buf = [0u8; 1500];
        while let Ok((n, meta)) = s.recv_slice(&mut buf) {
            let _ = s.send_slice(&buf[..n], meta.endpoint);
        }
        iface.poll(now(mhz), &mut nic, &mut sockets);
        // Sleep until the NIC interrupts (or anything else is signalled).
        if events.wait() & event::irq(0) != 0 {
            // Reading the ISR lowers the level-triggered line.
            let _ = PORTS.in8(base + ISR);
            let _ = IRQ.ack();
        }
    }
}

//! The legacy virtio-net NIC: its registers in the I/O BAR, a receive and
//! a transmit virtqueue with 32 buffers of 2 KiB each, all in DMA memory,
//! and the `smoltcp` device over them. A control virtqueue, where the
//! device has one, serves once at start: it turns promiscuous mode off
//! (QEMU starts the device in it), so a NIC on a shared segment takes
//! only the frames for its MAC address and broadcasts. On the cluster's
//! segment, the stack is handed a neighbour's address pair before its
//! first frame (`netstack::glean`), so that it need not ask by ARP.

use libux::net::NicStats;
use libux::process::Clock;
use libux::sel4::IoPort;
use netstack::glean::{ArpFrame, Gleaner};
use netstack::virtq::{self, Virtq};
use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, Ipv4Address, Ipv4Cidr};

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
/// VIRTIO_NET_F_CTRL_VQ and VIRTIO_NET_F_CTRL_RX: a control queue that
/// takes receive-mode commands.
const FEATURES_CTRL_RX: u32 = 1 << 17 | 1 << 18;
const RX: u16 = 0;
const TX: u16 = 1;
/// The control queue, after the one receive and one transmit queue.
const CTRL: u16 = 2;
/// VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, off.
const PROMISC_OFF: [u8; 3] = [0, 0, 0];
/// VIRTIO_NET_OK, the device's answer to a command it carried out.
const CTRL_OK: u8 = 0;
/// How long the device may take to answer a command (QEMU answers
/// during the notify, or soon after from its main loop).
const CTRL_WAIT_MICROS: u64 = 100_000;
/// The legacy virtio-net header before every frame (no merged buffers).
const HEADER: usize = 10;
const BUFFER: usize = 2048;
const MTU: usize = 1514;
/// Buffers per queue (at most the queue's size).
const BUFFERS: u16 = 32;
/// A DMA region: one `MapDma` of 16 pages.
pub const REGION: u64 = 16 * 4096;
/// A NIC's DMA window: the receive queue and its buffers, the transmit
/// queue and its buffers (a region each), then the control queue with
/// its command (at most a region, mapped as it needs).
pub const WINDOW: u64 = 5 * REGION;

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

pub struct Nic {
    /// Its I/O ports (a grant slot) and the first of them.
    pub ports: IoPort,
    pub base: u16,
    rx: Queue,
    tx: Queue,
    /// What the NIC has done, for `/net/stats`.
    pub counters: NicStats,
    /// On the cluster's segment (`glean`).
    gleaner: Option<Gleaner>,
    /// A received frame taken from the ring and not yet handed to the
    /// stack: a gleaned reply went before it.
    held: Option<(u16, usize)>,
}

impl Nic {
    fn out8(&self, reg: u16, v: u8) {
        let _ = self.ports.out8(self.base + reg, v);
    }

    fn out16(&self, reg: u16, v: u16) {
        let _ = self.ports.out16(self.base + reg, v);
    }

    /// Whether received frames wait in the ring (or here).
    pub fn rx_waiting(&self) -> bool {
        self.rx.q.used_waiting() > 0 || self.held.is_some()
    }

    /// Gleans neighbours' addresses for the interface at `own`.
    pub fn glean(&mut self, own: Ipv4Cidr, mac: EthernetAddress) {
        self.gleaner = Some(Gleaner::new(own, mac));
    }

    /// Asks the segment for `ip`'s hardware address now, as a connection
    /// to it starts, unless the gleaner knows it or asked lately
    /// (`Gleaner::ask`); a full transmit ring leaves it to the stack.
    pub fn ask(&mut self, ip: Ipv4Address, now: Instant) {
        let now_ms = now.total_millis().max(0) as u64;
        let Some(request) = self.gleaner.as_mut().and_then(|g| g.ask(ip, now_ms)) else { return };
        if let Some(tx) = phy::Device::transmit(self, now) {
            phy::TxToken::consume(tx, request.len(), |buf| buf.copy_from_slice(&request));
        }
    }

    /// The next received frame of at least a header, taken from the ring.
    fn take_frame(&mut self) -> Option<(u16, usize)> {
        if let Some(held) = self.held.take() {
            return Some(held);
        }
        let (mut id, mut len) = self.rx.q.take_used()?;
        while (len as usize) < HEADER {
            self.counters.rx_runts += 1;
            self.rx.offer(id, BUFFER, true);
            self.notify_if_asked(RX, &self.rx.q);
            (id, len) = self.rx.q.take_used()?;
        }
        self.counters.rx_frames += 1;
        Some((id, (len as usize).min(BUFFER)))
    }

    /// Reads the interrupt status, which lowers the level-triggered line
    /// (and counts the interrupt, if the NIC raised it).
    pub fn interrupted(&mut self) {
        if self.ports.in8(self.base + ISR).is_ok_and(|isr| isr != 0) {
            self.counters.interrupts += 1;
        }
    }

    /// Takes back the frames the device has sent: whether a transmit
    /// buffer is free. The device interrupts for sent frames only while
    /// none is (else every frame sent woke netstack once more, 0.1 ms of
    /// host time under TCG, for buffers taken back at the next send
    /// anyway); one sent before it was asked to is looked for after.
    fn reclaim_tx(&mut self) -> bool {
        while self.tx.q.take_used().is_some() {}
        let full = self.tx.q.free_buffer().is_none();
        self.tx.q.set_interrupts(full);
        if full {
            while self.tx.q.take_used().is_some() {}
        }
        self.tx.q.free_buffer().is_some()
    }

    fn notify(&self, queue: u16) {
        self.out16(QUEUE_NOTIFY, queue);
    }

    /// Tells the device of buffers offered on queue `index` (`q`) if it
    /// asks to be told (see `Virtq::wants_notify`).
    fn notify_if_asked(&self, index: u16, q: &Virtq) {
        if q.wants_notify() {
            self.notify(index);
        }
    }

    /// Sets up queue `index` at DMA address `vaddr` with its buffers at
    /// `vaddr + REGION`.
    fn queue(ports: IoPort, base: u16, index: u16, vaddr: u64) -> Result<Queue, &'static str> {
        let _ = ports.out16(base + QUEUE_SELECT, index);
        let size = ports.in16(base + QUEUE_SIZE).map_err(|_| "cannot read a queue size")?;
        if size < BUFFERS || virtq::bytes(size) as u64 > REGION {
            return Err("unusable queue size");
        }
        let paddr = libux::process::map_dma(vaddr, 16).map_err(|_| "no DMA memory")?;
        let buffers_paddr = libux::process::map_dma(vaddr + REGION, 16).map_err(|_| "no DMA memory")?;
        let _ = ports.out32(base + QUEUE_PFN, (paddr >> 12) as u32);
        // SAFETY: the region is ours, zeroed, and large enough (checked).
        let q = unsafe { Virtq::new(vaddr as *mut u8, size, BUFFERS) };
        Ok(Queue { q, buffers: (vaddr + REGION) as *mut u8, buffers_paddr })
    }

    /// Starts the NIC at I/O `base` through `ports`, its queues and
    /// buffers in the DMA window from `dma` ([`WINDOW`] bytes). Also
    /// answers why the NIC stays promiscuous, if it does (it still works).
    pub fn start(
        ports: IoPort,
        base: u16,
        dma: u64,
        clock: &Clock,
    ) -> Result<(Nic, EthernetAddress, Option<&'static str>), &'static str> {
        let _ = ports.out8(base + STATUS, 0);
        let _ = ports.out8(base + STATUS, ACKNOWLEDGE | DRIVER);
        let features = ports.in32(base + DEVICE_FEATURES).map_err(|_| "the I/O ports are not ours")?;
        if features & FEATURE_MAC == 0 {
            return Err("the NIC has no MAC address");
        }
        let ctrl_rx = features & FEATURES_CTRL_RX == FEATURES_CTRL_RX;
        let _ = ports.out32(base + GUEST_FEATURES, FEATURE_MAC | if ctrl_rx { FEATURES_CTRL_RX } else { 0 });
        let rx = Self::queue(ports, base, RX, dma)?;
        let tx = Self::queue(ports, base, TX, dma + 2 * REGION)?;
        // Queues are set up before DRIVER_OK; the device only takes the
        // command after it.
        let ctrl = if ctrl_rx {
            Control::new(ports, base, dma + 4 * REGION)
        } else {
            Err("no control queue for receive modes")
        };
        let mut mac = [0u8; 6];
        for (i, b) in mac.iter_mut().enumerate() {
            *b = ports.in8(base + MAC + i as u16).unwrap_or(0);
        }
        let mut nic = Nic { ports, base, rx, tx, counters: NicStats::default(), gleaner: None, held: None };
        for id in 0..BUFFERS {
            nic.rx.offer(id, BUFFER, true);
        }
        nic.notify(RX);
        nic.out8(STATUS, ACKNOWLEDGE | DRIVER | DRIVER_OK);
        let promiscuous = ctrl.and_then(|mut c| c.command(&nic, &PROMISC_OFF, clock)).err();
        Ok((nic, EthernetAddress(mac), promiscuous))
    }
}

/// The control queue: one command at a time, in two buffers right after
/// the queue's rings (the command, read by the device, and its one-byte
/// answer, written by it), chained. Its pages stay mapped for good, so an
/// answer that comes after the wait lands in memory still ours.
struct Control {
    q: Virtq,
    /// The command buffer; the answer is at `data + ANSWER`.
    data: *mut u8,
    data_paddr: u64,
}

/// The command buffer's size, and where the answer follows it.
const ANSWER: usize = 8;

impl Control {
    /// Sets up the control queue at DMA address `vaddr`.
    fn new(ports: IoPort, base: u16, vaddr: u64) -> Result<Control, &'static str> {
        let _ = ports.out16(base + QUEUE_SELECT, CTRL);
        let size = ports.in16(base + QUEUE_SIZE).map_err(|_| "cannot read the control queue's size")?;
        let data = virtq::bytes(size).next_multiple_of(8);
        let end = data + ANSWER + 1;
        if size < 2 || end as u64 > REGION {
            return Err("unusable control queue size");
        }
        // Two pages for QEMU's 64 entries.
        let pages = end.div_ceil(4096) as u32;
        let paddr = libux::process::map_dma(vaddr, pages).map_err(|_| "no DMA memory for the control queue")?;
        let _ = ports.out32(base + QUEUE_PFN, (paddr >> 12) as u32);
        // SAFETY: the pages are ours, zeroed, and hold the queue (checked).
        let q = unsafe { Virtq::new(vaddr as *mut u8, size, 2) };
        Ok(Control { q, data: (vaddr + data as u64) as *mut u8, data_paddr: paddr + data as u64 })
    }

    /// Sends `command` (class, command, data; at most [`ANSWER`] bytes)
    /// and waits, a bounded time, for the device's answer.
    fn command(&mut self, nic: &Nic, command: &[u8], clock: &Clock) -> Result<(), &'static str> {
        let len = command.len().min(ANSWER);
        // SAFETY: the bytes at `data` are ours (mapped in `new`), and the
        // device holds neither buffer (no command is outstanding).
        unsafe {
            core::ptr::copy_nonoverlapping(command.as_ptr(), self.data, len);
            // Not VIRTIO_NET_OK, so an answer the device never wrote is no success.
            core::ptr::write_volatile(self.data.add(ANSWER), !CTRL_OK);
        }
        let chain = [(0, self.data_paddr, len as u32, false), (1, self.data_paddr + ANSWER as u64, 1, true)];
        // The command's bytes are written before `offer_chain` publishes it
        // (its fence orders them).
        if !self.q.offer_chain(&chain) {
            return Err("the control queue is busy");
        }
        nic.notify(CTRL);
        let deadline = clock.micros() + CTRL_WAIT_MICROS;
        loop {
            if let Some((_, written)) = self.q.take_used() {
                // SAFETY: the device has given the answer's buffer back.
                let answer = unsafe { core::ptr::read_volatile(self.data.add(ANSWER)) };
                return if written >= 1 && answer == CTRL_OK { Ok(()) } else { Err("the device refused the command") };
            }
            if clock.micros() > deadline {
                return Err("the device did not answer the command");
            }
            libux::sel4::syscall::yield_now();
        }
    }
}

pub enum RxToken<'a> {
    /// A received frame: its buffer in the ring, and length.
    Frame(&'a mut Nic, u16, usize),
    Gleaned(ArpFrame),
}
pub struct TxToken<'a>(&'a mut Nic);

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        match self {
            RxToken::Frame(nic, id, len) => {
                let r = f(&nic.rx.buffer(id)[HEADER..len]);
                // The buffer goes straight back to the device.
                nic.rx.offer(id, BUFFER, true);
                nic.notify_if_asked(RX, &nic.rx.q);
                r
            }
            RxToken::Gleaned(reply) => f(&reply),
        }
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
        nic.notify_if_asked(TX, &nic.tx.q);
        nic.counters.tx_frames += 1;
        r
    }
}

impl phy::Device for Nic {
    type RxToken<'a> = RxToken<'a>;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, now: Instant) -> Option<(RxToken<'_>, TxToken<'_>)> {
        // No room to answer: received frames wait in the ring until the
        // device's transmit interrupt says buffers came back.
        if !self.reclaim_tx() {
            return None;
        }
        if self.rx.q.used_waiting() >= BUFFERS {
            self.counters.rx_ring_full += 1;
        }
        let (id, len) = self.take_frame()?;
        // A neighbour not given yet: its address pair first, the frame
        // at the next call.
        let now_ms = now.total_millis().max(0) as u64;
        let frame = &self.rx.buffer(id)[HEADER..len];
        if let Some(reply) = self.gleaner.as_mut().and_then(|g| g.glean(frame, now_ms)) {
            self.held = Some((id, len));
            return Some((RxToken::Gleaned(reply), TxToken(self)));
        }
        // SAFETY: both tokens use the one NIC, one after the other (smoltcp
        // consumes the receive token before it transmits).
        let me = self as *mut Nic;
        Some((RxToken::Frame(unsafe { &mut *me }, id, len), TxToken(unsafe { &mut *me })))
    }

    fn transmit(&mut self, _: Instant) -> Option<TxToken<'_>> {
        self.reclaim_tx().then_some(TxToken(self))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.max_transmission_unit = MTU;
        // What the receive ring can take at once: smoltcp bounds the
        // window it advertises by it.
        caps.max_burst_size = Some(BUFFERS as usize / 2);
        caps.medium = Medium::Ethernet;
        caps
    }
}

//! netstack: the network stack daemon. It drives the legacy virtio-net
//! NIC the system description's `pci 1af4:1000` grant gives it (`nic.rs`),
//! runs `smoltcp` over it with an address from DHCP (QEMU's user network
//! answers), answers ICMP echo, and serves TCP, UDP and ICMP echo as files
//! at `/net` (`net.rs`, the sockets behind them in `sock.rs`).
//!
//! Grants, in order: the CMOS clock's ports (0x70-0x71) and periodic
//! interrupt (2 to 64 Hz, as the next timer nears; event bit 0),
//! which wakes it for the stack's timers;
//! then each NIC's I/O ports and interrupt (event bits 1 and 2; two NICs
//! on one line share the first). NIC 0 is QEMU's user network (DHCP); NIC
//! 1, if there is one, is the cluster's segment, where node N (`UX_NODE`)
//! is 10.1.H.L/16 (H and L its number's bytes). Each NIC has its own
//! interface and sockets (`Link`).
//! `smoltcp` time is the TSC at the rate the process server measured;
//! its random numbers (TCP's initial sequence numbers, DHCP's ids) come
//! from our seed (`UX_SEED`, from the process server), each NIC its own
//! eight bytes of it, so that nobody can guess them from another boot's
//! or from the other NIC's.
#![no_std]
#![no_main]

extern crate alloc;

mod net;
mod nic;
mod sock;

use alloc::vec;
use alloc::vec::Vec;
use libux::cluster::{NodeId, SEGMENT_PREFIX};
use libux::fs::serve::{Done, Files, Held, Io};
use libux::fs::server::Entry;
use libux::layout::{event, slot};
use libux::println;
use libux::process::Clock;
use libux::rpc::{Errno, Pid};
use libux::sel4::{IoPort, IrqHandler};
use net::{Net, Node, Op};
use netstack::clock::{wake_for, Wake, FAST};
use nic::Nic;
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::socket::dhcpv4;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr, Ipv4Address, Ipv4Cidr};

libux::entry!(main);

const EP: u64 = slot::FIRST_FREE;
const CLOCK: IoPort = IoPort(slot::IO_PORTS);
const CLOCK_IRQ: IrqHandler = IrqHandler(slot::IRQ_HANDLERS);

fn fail(what: &str) -> i32 {
    println!("netstack: {what}");
    1
}

fn now(clock: &Clock) -> Instant {
    Instant::from_micros(clock.micros() as i64)
}

fn env(key: &str) -> Option<&'static str> {
    libux::rt::start_block().env.into_iter().find_map(|e| e.strip_prefix(key)?.strip_prefix('='))
}

/// Register C of the clock: reading it lets the clock interrupt again.
fn clock_register(reg: u8) -> u8 {
    let _ = CLOCK.out8(0x70, reg);
    CLOCK.in8(0x71).unwrap_or(0)
}

/// Sets the periodic interrupt's rate (`netstack::clock`).
fn clock_rate(rate: u8) {
    let a = clock_register(0x8a);
    let _ = CLOCK.out8(0x70, 0x8a).and_then(|()| CLOCK.out8(0x71, (a & 0xf0) | rate));
}

/// Register B's bits: the periodic interrupt, and the alarm's.
const PERIODIC: u8 = 0x40;
const ALARM: u8 = 0x20;
/// An alarm register's "any" (its two top bits set).
const ANY: u8 = 0xc0;

/// Sets register B's `bits` (the others kept).
fn clock_interrupts(bits: u8) {
    let b = clock_register(0x8b) & !(PERIODIC | ALARM);
    let _ = CLOCK.out8(0x70, 0x8b).and_then(|()| CLOCK.out8(0x71, b | bits));
}

/// Sets how the clock wakes the stack (`netstack::clock`).
fn clock_wake(wake: Wake) {
    clock_rate(wake.rate());
    clock_interrupts(PERIODIC | if wake.alarm() { ALARM } else { 0 });
}

/// The clock's periodic interrupt, fast until the first poll says (how
/// it wakes the stack now); its alarm (when enabled) at second 0 of any
/// minute of any hour (0 reads the same in BCD and binary).
fn start_clock() -> Wake {
    for (register, value) in [(0x81, 0), (0x83, ANY), (0x85, ANY)] {
        let _ = CLOCK.out8(0x70, register).and_then(|()| CLOCK.out8(0x71, value));
    }
    let wake = Wake::Periodic(FAST);
    clock_wake(wake);
    clock_register(0x0c);
    let _ = CLOCK_IRQ.ack();
    wake
}

/// One NIC with its interface and sockets.
pub struct Link {
    nic: Nic,
    pub iface: Interface,
    pub sockets: SocketSet<'static>,
    dhcp: Option<SocketHandle>,
    /// The event bit of its NIC's interrupt line.
    irq: u64,
    /// It may have work: its NIC interrupted, or a call touched one of
    /// its sockets (`sock::tcp` and the like say so). A link that has
    /// none is not polled: every poll walks all its sockets, and a
    /// datagram on one link made netstack poll both, twice, at each of
    /// the wake-ups it took (the interrupt, then the reader's next call).
    pub dirty: bool,
    /// When its stack's timers want a poll, as of its last.
    due: Option<Instant>,
}

// Every NIC's DMA window fits in the one DMA memory may use.
const _: () = assert!(libux::layout::DMA_BASE + libux::sysdesc::MAX_PCI as u64 * nic::WINDOW <= libux::layout::DMA_END);

// The ARP cache holds 256 neighbours (a whole cluster of 250 nodes, the
// most one `cargo ux` starts; a node that talks to more at once evicts
// again). With smoltcp's default of 8, a node talking to more than 7
// others evicted entries it still used, and it sends one ARP request a
// second at most: a node's mounts of 15 peers went unanswered for the
// 20 s that reset a connection.
const _: () = assert!(smoltcp::config::IFACE_NEIGHBOR_CACHE_COUNT >= 256);

/// The seed of NIC `index`'s random numbers: eight bytes of `UX_SEED`
/// (32, hex); without one, the time stamp counter (guessable: said at
/// boot).
fn random_seed(index: usize) -> u64 {
    // `UX_SEED`'s 32 bytes give every NIC eight.
    const _: () = assert!(libux::sysdesc::MAX_PCI <= 4);
    let hex = env("UX_SEED").and_then(|h| h.get(16 * index..16 * (index + 1)));
    match hex.and_then(|h| u64::from_str_radix(h, 16).ok()) {
        Some(seed) => seed,
        None => {
            println!("netstack: NIC {index}: no seed (UX_SEED): TCP sequence numbers from the time stamp counter");
            // SAFETY: rdtsc has no preconditions.
            unsafe { core::arch::x86_64::_rdtsc() }
        }
    }
}

/// Starts the `index`th NIC the environment names; `None` if there is none.
fn link(index: usize, clock: &Clock) -> Option<Result<Link, &'static str>> {
    let range = env(&alloc::format!("PCI{index}_IO"))?;
    let base = range.split('-').next()?.strip_prefix("0x").and_then(|b| u16::from_str_radix(b, 16).ok())?;
    // The clock's grant comes first; then the NICs' in order.
    let ports = IoPort(slot::IO_PORTS + 1 + index as u64);
    let dma = libux::layout::DMA_BASE + index as u64 * nic::WINDOW;
    let (mut nic, mac, promiscuous) = match Nic::start(ports, base, dma, clock) {
        Ok(n) => n,
        Err(e) => return Some(Err(e)),
    };
    println!(
        "netstack: NIC {index}: virtio-net at I/O {base:#x}, MAC {mac}, interrupt {}",
        env(&alloc::format!("PCI{index}_IRQ")).unwrap_or("?")
    );
    if let Some(why) = promiscuous {
        println!("netstack: NIC {index} stays promiscuous: {why}");
    }
    let mut config = Config::new(HardwareAddress::Ethernet(mac));
    config.random_seed = random_seed(index);
    let iface = Interface::new(config, &mut nic, now(clock));
    let mut link = Link { nic, iface, sockets: SocketSet::new(vec![]), dhcp: None, irq: 0, dirty: true, due: None };
    match (index, env("UX_NODE").and_then(NodeId::parse)) {
        // The cluster's segment.
        (1, Some(n)) => {
            let [a, b, c, d] = n.segment_addr();
            let address = IpCidr::new(IpAddress::v4(a, b, c, d), SEGMENT_PREFIX);
            link.iface.update_ip_addrs(|addrs| {
                let _ = addrs.push(address);
            });
            link.nic.glean(Ipv4Cidr::new(Ipv4Address::new(a, b, c, d), SEGMENT_PREFIX), mac);
            println!("netstack: NIC 1: address {address} (node {n})");
        }
        _ => link.dhcp = Some(link.sockets.add(dhcpv4::Socket::new())),
    }
    Some(Ok(link))
}

impl Link {
    pub fn counters(&self) -> libux::net::NicStats {
        self.nic.counters
    }

    /// Whether it has work at `t` (see `dirty`).
    fn busy(&self, t: Instant) -> bool {
        self.dirty || self.nic.rx_waiting() || self.due.is_some_and(|d| d <= t)
    }

    /// Runs the stack: the interface, then DHCP.
    fn poll(&mut self, clock: &Clock, ipifc: &mut alloc::string::String) {
        self.flush(clock);
        if let Some(dhcp) = self.dhcp {
            if let Some(dhcpv4::Event::Configured(c)) = self.sockets.get_mut::<dhcpv4::Socket>(dhcp).poll() {
                self.iface.update_ip_addrs(|addrs| {
                    addrs.clear();
                    let _ = addrs.push(IpCidr::Ipv4(c.address));
                });
                if let Some(router) = c.router {
                    let _ = self.iface.routes_mut().add_default_ipv4_route(router);
                }
                let router = c.router.map_or(alloc::string::String::from("none"), |r| alloc::format!("{r}"));
                println!("netstack: address {} via {router} (DHCP)", c.address);
                let mac = self.iface.hardware_addr();
                *ipifc = alloc::format!("{} gw {router} mac {mac}\n", c.address);
            }
        }
    }

    fn flush(&mut self, clock: &Clock) {
        let t = now(clock);
        self.iface.poll(t, &mut self.nic, &mut self.sockets);
        self.dirty = false;
        self.due = self.iface.poll_at(t, &self.sockets);
    }
}

/// The stack and its files: what `libux::fs::serve` runs.
pub struct Stack {
    net: Net,
    links: Vec<Link>,
    clock: Clock,
    /// Interrupt handlers of the NICs' lines, after the clock's.
    nic_handlers: u64,
}

impl Files for Stack {
    type Node = Node;
    type Wait = Op;

    fn open(&mut self, held: &Held<Self>, pid: Pid, path: &str, flags: u32) -> Result<Io<Node, Op>, Errno> {
        self.net.open(held, pid, path, flags, &mut self.links)
    }

    fn close(&mut self, node: Node) {
        self.net.release(node, &mut self.links);
    }

    fn read(
        &mut self,
        held: &Held<Self>,
        _: Pid,
        node: Node,
        offset: u64,
        into: &mut [u8],
    ) -> Result<Io<usize, Op>, Errno> {
        self.net.read(held, node, offset, into, &mut self.links)
    }

    fn write(&mut self, _: Pid, node: Node, _: u64, data: &[u8]) -> Result<Io<u32, Op>, Errno> {
        self.net.write(node, data, &mut self.links)
    }

    fn truncate(&mut self, _: Node, _: u64) -> Result<(), Errno> {
        Ok(())
    }

    fn stat(&mut self, path: &str) -> Result<Entry, Errno> {
        self.net.stat(path)
    }

    fn list(&mut self, path: &str) -> Result<Vec<Entry>, Errno> {
        self.net.list(path)
    }

    fn ended(&mut self, pids: &[Pid]) {
        self.net.makers_ended(pids);
    }

    fn retry(&mut self, pid: Pid, op: &mut Op, into: &mut [u8]) -> Option<Result<Done<Node>, Errno>> {
        self.net.retry(pid, op, into, &mut self.links)
    }

    fn event(&mut self, _: &Held<Self>, bits: u64) {
        if bits & event::irq(0) != 0 {
            self.net.ticks += 1;
            clock_register(0x0c);
            let _ = CLOCK_IRQ.ack();
        }
        // The NICs' interrupts (a line two NICs share has one handler).
        for l in self.links.iter_mut().filter(|l| bits & l.irq != 0) {
            l.nic.interrupted();
            l.dirty = true;
        }
        for i in 0..self.nic_handlers {
            if bits & event::irq(1 + i as usize) != 0 {
                let _ = IrqHandler(slot::IRQ_HANDLERS + 1 + i).ack();
            }
        }
    }

    /// The stack runs; then waiting calls are tried again.
    fn run(&mut self, _: &Held<Self>) {
        let t = now(&self.clock);
        for l in self.links.iter_mut().filter(|l| l.busy(t)) {
            l.poll(&self.clock, &mut self.net.ipifc);
        }
        self.net.now = t.total_micros() as u64;
        self.net.poll(&mut self.links);
    }

    /// What the answers queued goes out; the clock's rate follows the
    /// next timer.
    fn idle(&mut self, held: &Held<Self>) {
        for l in self.links.iter_mut().filter(|l| l.dirty) {
            l.flush(&self.clock);
        }
        let t = now(&self.clock);
        let due = self.links.iter().filter_map(|l| l.due).min().map(|d| if d > t { d - t } else { Duration::ZERO });
        let wanted =
            if Net::waits_on_time(held) { Wake::Periodic(FAST) } else { wake_for(due.map(|d| d.total_micros())) };
        if wanted != self.net.wake {
            clock_wake(wanted);
            self.net.wake = wanted;
        }
    }
}

fn main() -> i32 {
    if CLOCK.in8(0x60).is_ok() {
        return fail("port 0x60 is outside the grant but was readable");
    }
    let clock = Clock::new();
    let mut links = alloc::vec::Vec::new();
    for index in 0..libux::sysdesc::MAX_PCI {
        match link(index, &clock) {
            Some(Ok(l)) => links.push(l),
            Some(Err(e)) => return fail(e),
            None => break,
        }
    }
    if links.is_empty() {
        return fail("no NIC: the system description grants none (pci 1af4:1000)");
    }
    println!("netstack: {} NIC(s); port 0x60 outside the grant refused", links.len());
    if let Err(e) = libux::process::create_endpoint(EP) {
        println!("netstack: cannot serve /net: {e}");
        return 1;
    }
    let wake = start_clock();
    // One interrupt handler per line the NICs use, after the clock's.
    let mut lines: alloc::vec::Vec<&str> = alloc::vec::Vec::new();
    for i in 0..links.len() {
        if let Some(pin) = env(&alloc::format!("PCI{i}_IRQ")).filter(|p| !lines.contains(p)) {
            lines.push(pin);
        }
    }
    let nic_handlers = lines.len() as u64;
    for (i, l) in links.iter_mut().enumerate() {
        let pin = env(&alloc::format!("PCI{i}_IRQ"));
        l.irq = match lines.iter().position(|p| Some(*p) == pin) {
            Some(k) => event::irq(1 + k),
            // (Not said: any line's may be its.)
            None => (0..lines.len()).map(|k| event::irq(1 + k)).fold(0, |a, b| a | b),
        };
    }
    for i in 0..nic_handlers {
        let _ = IrqHandler(slot::IRQ_HANDLERS + 1 + i).ack();
    }
    let stack = Stack { net: Net::new(wake), links, clock, nic_handlers };
    libux::fs::serve::run(EP, "/net", stack)
}

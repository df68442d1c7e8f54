//! devfs: the devices at `/dev`, from the grants of the system
//! description: the serial console (COM1, ports 0x3f8-0x3ff, IOAPIC pin 4)
//! and the timer (the HPET's page at 0xfed00000, its timer 0 on IOAPIC
//! pin 2; the PIT, which shares the pin, is stopped), which is armed
//! only while someone sleeps (one shot at the earliest wake-up,
//! `devfs::hpet`; on a machine without an HPET that can, the PIT's one
//! shot): an idle node takes no timer interrupts here. Time is the
//! TSC's (`process::Clock`).
//!
//! ```text
//! /dev/cons           read: typed lines (echoed and edited, see
//!                     `devfs::line`); write: to the serial port
//! /dev/consctl        write `fg PID...`: what Ctrl-C kills; `fg`: nothing
//! /dev/null           reads end at once, writes vanish
//! /dev/time           read: milliseconds since the clock started
//! /dev/sleep          write a number N: the write returns N ms later
//! /dev/pipe/clone     open: makes a pipe; read: its number N
//! /dev/pipe/N/r, w    the pipe's read and write ends (see `devfs::pipe`)
//! ```
//!
//! A call that cannot be answered yet (a read with nothing to read, a
//! write to a full pipe, a sleep) keeps its reply capability in a slot of
//! ours and is answered when things change. A process that ends loses
//! what it held and waited for here (the process server tells daemons).
#![no_std]
#![no_main]

extern crate alloc;

use alloc::collections::BTreeMap;
use alloc::string::ToString;
use alloc::vec::Vec;
use devfs::hpet::Hpet;
use devfs::line::{Event, Line};
use devfs::pipe::{self, Pipe};
use libux::console::{Serial, COM1};
use libux::fs::dirtab::{self, row, Perm, Row};
use libux::fs::serve::{text_into, Done, Files, Held, Io};
use libux::fs::server::Entry;
use libux::hpet::Mmio;
use libux::layout::{event, slot, DEVICE_BASE};
use libux::process::Clock;
use libux::rpc::{Errno, Pid};
use libux::sel4::{IoPort, IrqHandler};
use libux::time::{PIT_CHANNEL_0, PIT_COMMAND, PIT_HZ};

libux::entry!(main);

const EP: u64 = slot::FIRST_FREE;
const MAX_PIPES: usize = 256;
/// Pipes one process may hold (a clone file or an end of each open), so
/// that no client takes the node's `MAX_PIPES` alone.
const PIPES_PER_CLIENT: usize = 16;

const UART: IoPort = IoPort(slot::IO_PORTS);
const PIT: IoPort = IoPort(slot::IO_PORTS + 1);
const UART_IRQ: IrqHandler = IrqHandler(slot::IRQ_HANDLERS);
const TIMER_IRQ: IrqHandler = IrqHandler(slot::IRQ_HANDLERS + 1);
/// The IOAPIC pin the system description grants for the timer.
const TIMER_PIN: u8 = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Node {
    Root,
    Cons,
    Consctl,
    Null,
    Time,
    Sleep,
    PipeDir,
    PipeClone(u32),
    PipeNumDir(u32),
    PipeEnd(u32, pipe::End),
}

const ROOT_FILES: [Row<Node>; 6] = [
    row("cons", Perm::ReadWrite, Node::Cons),
    row("consctl", Perm::Write, Node::Consctl),
    row("null", Perm::ReadWrite, Node::Null),
    row("pipe", Perm::Dir, Node::PipeDir),
    row("sleep", Perm::Write, Node::Sleep),
    row("time", Perm::Read, Node::Time),
];

/// A pipe's directory, `/dev/pipe/N`.
const PIPE_ENDS: [Row<pipe::End>; 2] = [row("r", Perm::Read, pipe::End::Read), row("w", Perm::Write, pipe::End::Write)];

impl Node {
    fn perm(self) -> Perm {
        match self {
            Node::Root | Node::PipeDir | Node::PipeNumDir(_) => Perm::Dir,
            Node::PipeClone(_) => Perm::Read,
            Node::PipeEnd(_, end) => dirtab::row_of(&PIPE_ENDS, &end).map_or(Perm::Read, |r| r.perm),
            other => dirtab::row_of(&ROOT_FILES, &other).map_or(Perm::Read, |r| r.perm),
        }
    }
}

/// A call waiting for its answer.
enum Op {
    ConsRead,
    PipeRead {
        pipe: u32,
    },
    PipeWrite {
        pipe: u32,
        data: Vec<u8>,
    },
    /// `len`: the bytes of the write that asked, which its answer counts.
    Sleep {
        /// Microseconds of `Dev::clock`.
        until: u64,
        len: u32,
    },
}

struct Dev {
    pipes: BTreeMap<u32, Pipe>,
    next_pipe: u32,
    line: Line,
    /// What Ctrl-C kills.
    foreground: Vec<Pid>,
    /// Ctrl-C came while nobody was in the foreground and nobody read the
    /// console: the shell is between reading a line and naming its job.
    /// The job it names next is killed; a read of the console instead
    /// gets an empty line (as at the prompt).
    interrupted: bool,
    clock: Clock,
    /// When we started (microseconds of `clock`): `/dev/time`'s zero.
    started: u64,
    alarm: Alarm,
    /// When the timer's one shot fires, if it is armed.
    armed: Option<u64>,
}

/// What wakes sleepers: the HPET's one comparator, or on a machine
/// without one that can serve, the PIT's one shot, which counts at most
/// 54.9 ms (a longer sleep takes one interrupt per 54.9 ms).
enum Alarm {
    Hpet(Hpet<Mmio>),
    Pit,
}

impl Alarm {
    /// Arms it to go off `micros` from now, or as near as it reaches;
    /// how far ahead it will, if it could be armed.
    fn arm(&mut self, micros: u64) -> Option<u64> {
        match self {
            Alarm::Hpet(h) => {
                h.arm(micros);
                Some(micros)
            }
            Alarm::Pit => {
                let count = (micros.min(1_000_000) * PIT_HZ / 1_000_000).clamp(1, 0xffff);
                // Channel 0, lobyte/hibyte, mode 0 (interrupt on terminal
                // count): one interrupt, then nothing until armed again.
                PIT.out8(PIT_COMMAND, 0x30)
                    .and_then(|()| PIT.out8(PIT_CHANNEL_0, count as u8))
                    .and_then(|()| PIT.out8(PIT_CHANNEL_0, (count >> 8) as u8))
                    .ok()
                    .map(|()| count * 1_000_000 / PIT_HZ)
            }
        }
    }

    /// It went off: quiet until armed again (the PIT's one shot is).
    fn disarm(&mut self) {
        if let Alarm::Hpet(h) = self {
            h.disarm();
        }
    }
}

fn serial() -> Serial<IoPort> {
    Serial::new(UART, COM1)
}

fn console_write(bytes: &[u8]) {
    let mut s = serial();
    for &b in bytes {
        if b == b'\n' {
            s.write_byte(b'\r');
        }
        s.write_byte(b);
    }
}

/// `data` into `into`; its length.
fn copied(data: &[u8], into: &mut [u8]) -> usize {
    into[..data.len()].copy_from_slice(data);
    data.len()
}

impl Dev {
    fn node(path: &str) -> Result<Node, Errno> {
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        let number = |n: &str| n.parse().map_err(|_| Errno::NotFound);
        Ok(match parts.as_slice() {
            [] => Node::Root,
            ["pipe", "clone"] => Node::PipeClone(0),
            ["pipe", n] => Node::PipeNumDir(number(n)?),
            ["pipe", n, end] => Node::PipeEnd(number(n)?, dirtab::lookup(&PIPE_ENDS, end)?),
            [name] => dirtab::lookup(&ROOT_FILES, name)?,
            _ => return Err(Errno::NotFound),
        })
    }

    fn exists(&self, node: Node) -> bool {
        match node {
            Node::PipeNumDir(n) | Node::PipeEnd(n, _) => self.pipes.contains_key(&n),
            _ => true,
        }
    }

    fn listing(&self, node: Node) -> Result<Vec<Entry>, Errno> {
        match node {
            Node::Root => Ok(dirtab::entries(&ROOT_FILES).collect()),
            Node::PipeDir => {
                let mut all = alloc::vec![Entry::new("clone", false, 0)];
                all.extend(self.pipes.keys().map(|n| Entry::new(n.to_string(), true, 2)));
                Ok(all)
            }
            Node::PipeNumDir(n) if self.pipes.contains_key(&n) => Ok(dirtab::entries(&PIPE_ENDS).collect()),
            Node::PipeNumDir(_) => Err(Errno::NotFound),
            _ => Err(Errno::NotDir),
        }
    }

    fn millis(&self) -> u64 {
        (self.clock.micros() - self.started) / 1000
    }

    /// Arms the timer's one shot for the earliest sleeper, unless it
    /// fires before then.
    fn arm(&mut self, held: &Held<Self>) {
        let earliest = held
            .waiting()
            .filter_map(|(_, op)| if let Op::Sleep { until, .. } = op { Some(*until) } else { None })
            .min();
        let Some(until) = earliest else { return };
        if self.armed.is_some_and(|at| at <= until) {
            return;
        }
        // (Its clock and the TSC may differ a little: one that fires
        // early is armed again for what is left.)
        let now = self.clock.micros();
        if let Some(lead) = self.alarm.arm(until.saturating_sub(now)) {
            self.armed = Some(now + lead);
        }
    }

    /// Typed input; `reading`: someone waits to read the console.
    fn typed(&mut self, reading: bool) {
        let mut echo = Vec::new();
        loop {
            let mut any = false;
            while UART.in8(COM1 + 5).is_ok_and(|lsr| lsr & 1 != 0) {
                any = true;
                let byte = UART.in8(COM1).unwrap_or(0);
                match self.line.input(byte, &mut echo) {
                    Event::Interrupt if !self.foreground.is_empty() => self.interrupt(),
                    // At the prompt: a reader waits and no typed line is
                    // on its way to it (that line's command is what a
                    // Ctrl-C after it is for).
                    Event::Interrupt if !self.line.readable() && reading => self.line.push_empty_line(),
                    Event::Interrupt => self.interrupted = true,
                    Event::Input | Event::Nothing => {}
                }
            }
            // Bytes that came between the last look and the ack raised no
            // new edge: look once more after it.
            let _ = UART_IRQ.ack();
            if !any {
                break;
            }
        }
        console_write(&echo);
    }

    /// Ctrl-C: the foreground job is killed.
    fn interrupt(&mut self) {
        for pid in core::mem::take(&mut self.foreground) {
            let _ = libux::process::kill(pid);
        }
    }
}

impl Files for Dev {
    type Node = Node;
    type Wait = Op;

    fn open(&mut self, held: &Held<Self>, pid: Pid, path: &str, f: u32) -> Result<Io<Node, Op>, Errno> {
        let mut node = Self::node(path)?;
        if !self.exists(node) {
            return Err(Errno::NotFound);
        }
        // Every node here exists: `CREATE` (a shell's `>`) means nothing,
        // `EXCLUSIVE` fails.
        node.perm().check_open(f)?;
        match &mut node {
            Node::PipeClone(n) => {
                // The pipes `pid` holds something of.
                let mut held: Vec<u32> = held
                    .nodes_of(pid)
                    .filter_map(|node| match node {
                        Node::PipeClone(n) | Node::PipeEnd(n, _) => Some(n),
                        _ => None,
                    })
                    .collect();
                held.sort_unstable();
                held.dedup();
                if held.len() >= PIPES_PER_CLIENT {
                    return Err(Errno::TooMany);
                }
                if self.pipes.len() >= MAX_PIPES {
                    return Err(Errno::NoMemory);
                }
                self.next_pipe = self.next_pipe.wrapping_add(1);
                while self.pipes.contains_key(&self.next_pipe) {
                    self.next_pipe = self.next_pipe.wrapping_add(1);
                }
                *n = self.next_pipe;
                self.pipes.insert(*n, Pipe::cloned());
            }
            Node::PipeEnd(n, end) => self.pipes.get_mut(n).expect("checked").open(*end),
            _ => {}
        }
        Ok(Io::Now(node))
    }

    fn close(&mut self, node: Node) {
        let n = match node {
            Node::PipeClone(n) => {
                if let Some(p) = self.pipes.get_mut(&n) {
                    p.clones -= 1;
                }
                n
            }
            Node::PipeEnd(n, end) => {
                if let Some(p) = self.pipes.get_mut(&n) {
                    p.close(end);
                }
                n
            }
            _ => return,
        };
        if self.pipes.get(&n).is_some_and(Pipe::unused) {
            self.pipes.remove(&n);
        }
    }

    fn read(
        &mut self,
        _: &Held<Self>,
        _: Pid,
        node: Node,
        offset: u64,
        into: &mut [u8],
    ) -> Result<Io<usize, Op>, Errno> {
        match node {
            Node::Cons => {
                if core::mem::take(&mut self.interrupted) {
                    self.line.push_empty_line();
                }
                Ok(Io::Wait(Op::ConsRead))
            }
            Node::PipeEnd(pipe, pipe::End::Read) => Ok(Io::Wait(Op::PipeRead { pipe })),
            Node::Null => Ok(Io::Now(0)),
            Node::Time => Ok(Io::Now(text_into(&alloc::format!("{}\n", self.millis()), offset, into))),
            Node::PipeClone(n) => Ok(Io::Now(text_into(&alloc::format!("{n}\n"), offset, into))),
            Node::Root | Node::PipeDir | Node::PipeNumDir(_) => Err(Errno::IsDir),
            _ => Err(Errno::BadHandle),
        }
    }

    fn write(&mut self, _: Pid, node: Node, _: u64, data: &[u8]) -> Result<Io<u32, Op>, Errno> {
        let len = data.len() as u32;
        match node {
            Node::Cons => {
                console_write(data);
                Ok(Io::Now(len))
            }
            Node::Null => Ok(Io::Now(len)),
            Node::Consctl => {
                self.foreground = devfs::consctl::parse_fg(data).ok_or(Errno::InvalidArgument)?;
                if !self.foreground.is_empty() && core::mem::take(&mut self.interrupted) {
                    self.interrupt();
                }
                Ok(Io::Now(len))
            }
            Node::Sleep => {
                let ms: u64 = core::str::from_utf8(data)
                    .ok()
                    .and_then(|t| t.trim().parse().ok())
                    .ok_or(Errno::InvalidArgument)?;
                let until = self.clock.micros().saturating_add(ms.saturating_mul(1000));
                Ok(Io::Wait(Op::Sleep { until, len }))
            }
            Node::PipeEnd(pipe, pipe::End::Write) => Ok(Io::Wait(Op::PipeWrite { pipe, data: data.to_vec() })),
            _ => Err(Errno::BadHandle),
        }
    }

    fn truncate(&mut self, node: Node, _: u64) -> Result<(), Errno> {
        match node {
            Node::Null | Node::Cons => Ok(()),
            _ => Err(Errno::NotPermitted),
        }
    }

    fn stat(&mut self, path: &str) -> Result<Entry, Errno> {
        let node = Self::node(path)?;
        if !self.exists(node) {
            return Err(Errno::NotFound);
        }
        let dir = matches!(node, Node::Root | Node::PipeDir | Node::PipeNumDir(_));
        let size = if dir { self.listing(node)?.len() as u64 } else { 0 };
        Ok(Entry::new(libux::path::last_name(path), dir, size))
    }

    fn list(&mut self, path: &str) -> Result<Vec<Entry>, Errno> {
        self.listing(Self::node(path)?)
    }

    fn retry(&mut self, _: Pid, op: &mut Op, into: &mut [u8]) -> Option<Result<Done<Node>, Errno>> {
        match op {
            Op::ConsRead => self.line.readable().then(|| Ok(Done::Read(copied(&self.line.read(into.len()), into)))),
            Op::PipeRead { pipe } => match self.pipes.get_mut(pipe).map(|p| p.read(into.len())) {
                None => Some(Err(Errno::BadHandle)),
                Some(pipe::Outcome::Done(d)) => Some(Ok(Done::Read(copied(&d, into)))),
                Some(pipe::Outcome::Wait) => None,
                Some(pipe::Outcome::Broken) => Some(Err(Errno::BrokenPipe)),
            },
            Op::PipeWrite { pipe, data } => match self.pipes.get_mut(pipe).map(|p| p.write(data)) {
                None => Some(Err(Errno::BadHandle)),
                Some(pipe::Outcome::Done(n)) => Some(Ok(Done::Count(n as u32))),
                Some(pipe::Outcome::Wait) => None,
                Some(pipe::Outcome::Broken) => Some(Err(Errno::BrokenPipe)),
            },
            Op::Sleep { until, len } => (self.clock.micros() >= *until).then_some(Ok(Done::Count(*len))),
        }
    }

    fn event(&mut self, held: &Held<Self>, bits: u64) {
        if bits & event::irq(0) != 0 {
            self.typed(held.waiting().any(|(_, op)| matches!(op, Op::ConsRead)));
        }
        if bits & event::irq(1) != 0 {
            self.armed = None;
            self.alarm.disarm();
            let _ = TIMER_IRQ.ack();
        }
    }

    fn idle(&mut self, held: &Held<Self>) {
        self.arm(held);
    }

    fn ended(&mut self, pids: &[Pid]) {
        // The shell names its job by gpid (of this node: the pid part).
        self.foreground.retain(|&p| !pids.contains(&libux::cluster::Gpid(p).pid()));
    }
}

fn start_devices() -> Result<(), libux::sel4::Error> {
    // Receive interrupts on; OUT2 lets the UART's interrupt reach the IOAPIC.
    UART.out8(COM1 + 2, 0x07)?;
    UART.out8(COM1 + 4, 0x0b)?;
    UART.out8(COM1 + 1, 0x01)?;
    // The firmware's PIT tick would share the HPET's pin: a mode word
    // without a count stops it (mode 0 then waits for a count).
    PIT.out8(PIT_COMMAND, 0x30)?;
    UART_IRQ.ack()?;
    TIMER_IRQ.ack()
}

fn main() -> i32 {
    let setup = libux::process::create_endpoint(EP).and_then(|()| start_devices().map_err(|_| Errno::NotPermitted));
    if let Err(e) = setup {
        libux::println!("devfs: cannot start: {e}");
        return 1;
    }
    // SAFETY: the process server maps the granted HPET page uncached at
    // `DEVICE_BASE`, for good.
    let regs = unsafe { Mmio::new(DEVICE_BASE as *mut u8) };
    let alarm = match Hpet::start(regs, TIMER_PIN) {
        Ok(h) => Alarm::Hpet(h),
        Err(unfit) => {
            libux::println!("devfs: no HPET to serve at 0xfed00000 ({unfit:?}): sleepers wake by the PIT");
            Alarm::Pit
        }
    };
    let clock = Clock::new();
    let started = clock.micros();
    let mut dev = Dev {
        pipes: BTreeMap::new(),
        next_pipe: 0,
        line: Line::default(),
        foreground: Vec::new(),
        interrupted: false,
        clock,
        started,
        alarm,
        armed: None,
    };
    // Input typed before we listened.
    dev.typed(false);
    libux::fs::serve::run(EP, "/dev", dev)
}

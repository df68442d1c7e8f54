//! devfs: the devices at `/dev`, from the grants of the system
//! description: the serial console (COM1, ports 0x3f8-0x3ff, IOAPIC pin 4)
//! and the timer (the PIT, ports 0x40-0x43, pin 2), which is armed only
//! while someone sleeps (one shot at the earliest wake-up): an idle node
//! takes no timer interrupts here. Time is the TSC's (`process::Clock`).
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
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use devfs::line::{Event, Line};
use devfs::pipe::{self, Pipe};
use libux::console::{Serial, COM1};
use libux::fs::server::{encode, request_bytes, Answer, ReplySlots};
use libux::fs::{entry_bytes, flags, list_page, FsRequest, IO_MAX};
use libux::layout::{self, event, slot};
use libux::process::Clock;
use libux::rpc::client::{recv_raw, reply_recv_raw};
use libux::rpc::{Badge, Errno, Pid};
use libux::sel4::{IoPort, IrqHandler};

libux::entry!(main);

const EP: u64 = slot::FIRST_FREE;
/// Calls answered later, at most (their reply capabilities in
/// `slot::REPLIES`).
const MAX_PENDING: usize = slot::REPLY_COUNT as usize;
/// Open files one process may hold here.
const MAX_OPEN: usize = 64;
const MAX_PIPES: usize = 256;
/// Pipes one process may hold (a clone file or an end of each open), so
/// that no client takes the node's `MAX_PIPES` alone.
const PIPES_PER_CLIENT: usize = 16;

const UART: IoPort = IoPort(slot::IO_PORTS);
const PIT: IoPort = IoPort(slot::IO_PORTS + 1);
const UART_IRQ: IrqHandler = IrqHandler(slot::IRQ_HANDLERS);
const PIT_IRQ: IrqHandler = IrqHandler(slot::IRQ_HANDLERS + 1);
const PIT_HZ: u64 = 1_193_182;

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

const ROOT_FILES: [&str; 6] = ["cons", "consctl", "null", "pipe", "sleep", "time"];

/// A call waiting for its answer.
enum Op {
    ConsRead {
        max: usize,
    },
    PipeRead {
        pipe: u32,
        max: usize,
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

struct Pending {
    pid: Pid,
    /// The file it waits on.
    handle: u32,
    slot: u64,
    op: Op,
    /// A window call: read data goes in the caller's window.
    window: bool,
}

struct Dev {
    open: BTreeMap<(Pid, u32), Node>,
    next_handle: u32,
    pipes: BTreeMap<u32, Pipe>,
    next_pipe: u32,
    pending: Vec<Pending>,
    slots: ReplySlots,
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
    /// When the PIT's one shot fires, if it is armed.
    armed: Option<u64>,
    ended_cursor: u64,
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

impl Dev {
    fn node(path: &str) -> Result<Node, Errno> {
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        Ok(match parts.as_slice() {
            [] => Node::Root,
            ["cons"] => Node::Cons,
            ["consctl"] => Node::Consctl,
            ["null"] => Node::Null,
            ["time"] => Node::Time,
            ["sleep"] => Node::Sleep,
            ["pipe"] => Node::PipeDir,
            ["pipe", "clone"] => Node::PipeClone(0),
            ["pipe", n] => Node::PipeNumDir(n.parse().map_err(|_| Errno::NotFound)?),
            ["pipe", n, end] => {
                let n = n.parse().map_err(|_| Errno::NotFound)?;
                match *end {
                    "r" => Node::PipeEnd(n, pipe::End::Read),
                    "w" => Node::PipeEnd(n, pipe::End::Write),
                    _ => return Err(Errno::NotFound),
                }
            }
            _ => return Err(Errno::NotFound),
        })
    }

    fn exists(&self, node: Node) -> bool {
        match node {
            Node::PipeNumDir(n) | Node::PipeEnd(n, _) => self.pipes.contains_key(&n),
            _ => true,
        }
    }

    fn open(&mut self, pid: Pid, path: &str, f: u32) -> Result<Answer, Errno> {
        let mut node = Self::node(path)?;
        if !self.exists(node) {
            return Err(Errno::NotFound);
        }
        // `CREATE` and `TRUNCATE` (a shell's `>`) mean nothing to a
        // device; `EXCLUSIVE` fails, as every node here exists.
        if f & flags::EXCLUSIVE != 0 {
            return Err(Errno::Exists);
        }
        let (read, write) = (f & flags::READ != 0, f & flags::WRITE != 0);
        match node {
            Node::Root | Node::PipeDir | Node::PipeNumDir(_) if write => return Err(Errno::IsDir),
            Node::Consctl | Node::Sleep if read => return Err(Errno::NotPermitted),
            Node::Time | Node::PipeClone(_) if write => return Err(Errno::NotPermitted),
            Node::PipeEnd(_, pipe::End::Read) if write => return Err(Errno::NotPermitted),
            Node::PipeEnd(_, pipe::End::Write) if read => return Err(Errno::NotPermitted),
            _ => {}
        }
        if self.open.range((pid, 0)..=(pid, u32::MAX)).count() >= MAX_OPEN {
            return Err(Errno::TooMany);
        }
        match &mut node {
            Node::PipeClone(n) => {
                if self.pipes_of(pid) >= PIPES_PER_CLIENT {
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
        self.next_handle = self.next_handle.wrapping_add(1);
        self.open.insert((pid, self.next_handle), node);
        Ok(Answer::Handle(self.next_handle))
    }

    /// The pipes `pid` holds something of.
    fn pipes_of(&self, pid: Pid) -> usize {
        let mut held: Vec<u32> = self
            .open
            .range((pid, 0)..=(pid, u32::MAX))
            .filter_map(|(_, node)| match node {
                Node::PipeClone(n) | Node::PipeEnd(n, _) => Some(*n),
                _ => None,
            })
            .collect();
        held.sort_unstable();
        held.dedup();
        held.len()
    }

    fn close_node(&mut self, node: Node) {
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

    fn read(&mut self, pid: Pid, handle: u32, offset: u64, count: u32, window: bool) -> Result<Option<Answer>, Errno> {
        let max = count as usize;
        let now = |a: Answer| Ok(Some(Self::deliver(pid, window, Ok(a))?));
        match self.open.get(&(pid, handle)).copied().ok_or(Errno::BadHandle)? {
            Node::Cons => {
                if core::mem::take(&mut self.interrupted) {
                    self.line.push_empty_line();
                }
                self.now_or_later(pid, handle, Op::ConsRead { max }, window)
            }
            Node::PipeEnd(pipe, pipe::End::Read) => self.now_or_later(pid, handle, Op::PipeRead { pipe, max }, window),
            Node::Null => now(Answer::Data(Vec::new())),
            Node::Time => now(Answer::Data(text_at(&alloc::format!("{}\n", self.millis()), offset, max))),
            Node::PipeClone(n) => now(Answer::Data(text_at(&alloc::format!("{n}\n"), offset, max))),
            Node::Root | Node::PipeDir | Node::PipeNumDir(_) => Err(Errno::IsDir),
            _ => Err(Errno::BadHandle),
        }
    }

    fn write(&mut self, pid: Pid, handle: u32, data: &[u8]) -> Result<Option<Answer>, Errno> {
        match self.open.get(&(pid, handle)).copied().ok_or(Errno::BadHandle)? {
            Node::Cons => {
                console_write(data);
                Ok(Some(Answer::Count(data.len() as u32)))
            }
            Node::Null => Ok(Some(Answer::Count(data.len() as u32))),
            Node::Consctl => {
                self.foreground = devfs::consctl::parse_fg(data).ok_or(Errno::InvalidArgument)?;
                if !self.foreground.is_empty() && core::mem::take(&mut self.interrupted) {
                    self.interrupt();
                }
                Ok(Some(Answer::Count(data.len() as u32)))
            }
            Node::Sleep => {
                let ms: u64 = core::str::from_utf8(data)
                    .ok()
                    .and_then(|t| t.trim().parse().ok())
                    .ok_or(Errno::InvalidArgument)?;
                let until = self.clock.micros().saturating_add(ms.saturating_mul(1000));
                self.now_or_later(pid, handle, Op::Sleep { until, len: data.len() as u32 }, false)
            }
            Node::PipeEnd(pipe, pipe::End::Write) => {
                self.now_or_later(pid, handle, Op::PipeWrite { pipe, data: data.to_vec() }, false)
            }
            _ => Err(Errno::BadHandle),
        }
    }

    /// Read data for a window call goes in the caller's window; the
    /// answer counts it.
    fn deliver(pid: Pid, window: bool, r: Result<Answer, Errno>) -> Result<Answer, Errno> {
        match r {
            Ok(Answer::Data(d)) if window => {
                // SAFETY: `pid` has not ended, as far as we know: the
                // process server keeps its window until we ask `Ended`, and
                // then we drop its waiting calls.
                let window = unsafe { libux::fs::client_window(pid) };
                window[..d.len()].copy_from_slice(&d);
                Ok(Answer::Count(d.len() as u32))
            }
            other => other,
        }
    }

    /// `Ok(None)`: answered later.
    fn request(&mut self, pid: Pid, req: FsRequest) -> Result<Option<Answer>, Errno> {
        let node_of = |d: &Dev, h: u32| d.open.get(&(pid, h)).copied().ok_or(Errno::BadHandle);
        match req {
            FsRequest::Open { path, flags: f } => self.open(pid, path, f).map(Some),
            FsRequest::Close { handle } => {
                let node = self.open.remove(&(pid, handle)).ok_or(Errno::BadHandle)?;
                self.close_node(node);
                Ok(Some(Answer::Done))
            }
            FsRequest::Read { handle, offset, count } => {
                self.read(pid, handle, offset, count.min(IO_MAX as u32), false)
            }
            FsRequest::ReadWindow { handle, offset, count } => {
                self.read(pid, handle, offset, count.min(layout::IO_WINDOW as u32), true)
            }
            FsRequest::Write { handle, data, .. } => self.write(pid, handle, data),
            FsRequest::WriteWindow { handle, count, .. } => {
                // SAFETY: answering `pid`'s call.
                let window = unsafe { libux::fs::client_window(pid) };
                let data = window.get(..count as usize).ok_or(Errno::InvalidArgument)?.to_vec();
                self.write(pid, handle, &data)
            }
            FsRequest::Stat { path } => {
                let node = Self::node(path)?;
                if !self.exists(node) {
                    return Err(Errno::NotFound);
                }
                let name = libux::path::last_name(path);
                let dir = matches!(node, Node::Root | Node::PipeDir | Node::PipeNumDir(_));
                let size = if dir { self.listing(node)?.len() as u64 } else { 0 };
                Ok(Some(Answer::Stat((String::from(name), dir, size))))
            }
            FsRequest::List { path, from } => {
                let node = Self::node(path)?;
                let all = self.listing(node)?;
                let (page, more) = list_page(&all, from, |(n, _, _)| entry_bytes(n, false));
                Ok(Some(Answer::Entries(page.to_vec(), more)))
            }
            FsRequest::Truncate { handle, .. } => match node_of(self, handle)? {
                Node::Null | Node::Cons => Ok(Some(Answer::Done)),
                _ => Err(Errno::NotPermitted),
            },
            FsRequest::Mkdir { .. } | FsRequest::Remove { .. } | FsRequest::Rename { .. } => Err(Errno::NotPermitted),
            FsRequest::SetAttrs { .. } => Err(Errno::NotSupported),
            FsRequest::Cancel { handle } => {
                node_of(self, handle)?;
                Ok(Some(Answer::Count(self.interrupt_waiting(pid, handle, None))))
            }
        }
    }

    fn listing(&self, node: Node) -> Result<Vec<(String, bool, u64)>, Errno> {
        match node {
            Node::Root => Ok(ROOT_FILES.iter().map(|f| (String::from(*f), *f == "pipe", 0)).collect()),
            Node::PipeDir => {
                let mut all = alloc::vec![(String::from("clone"), false, 0)];
                all.extend(self.pipes.keys().map(|n| (n.to_string(), true, 2)));
                Ok(all)
            }
            Node::PipeNumDir(n) if self.pipes.contains_key(&n) => {
                Ok(alloc::vec![(String::from("r"), false, 0), (String::from("w"), false, 0)])
            }
            Node::PipeNumDir(_) => Err(Errno::NotFound),
            _ => Err(Errno::NotDir),
        }
    }

    fn millis(&self) -> u64 {
        (self.clock.micros() - self.started) / 1000
    }

    /// Arms the PIT's one shot for the earliest sleeper (in steps of at
    /// most its longest count, 54.9 ms), unless it fires before then.
    fn arm(&mut self) {
        let earliest = self
            .pending
            .iter()
            .filter_map(|p| if let Op::Sleep { until, .. } = p.op { Some(until) } else { None })
            .min();
        let Some(until) = earliest else { return };
        if self.armed.is_some_and(|at| at <= until) {
            return;
        }
        let now = self.clock.micros();
        let count = (until.saturating_sub(now) * PIT_HZ / 1_000_000).clamp(1, 0xffff);
        // Channel 0, lobyte/hibyte, mode 0 (interrupt on terminal count):
        // one interrupt, then nothing until armed again.
        let armed = PIT
            .out8(0x43, 0x30)
            .and_then(|()| PIT.out8(0x40, count as u8))
            .and_then(|()| PIT.out8(0x40, (count >> 8) as u8));
        if armed.is_ok() {
            self.armed = Some(now + count * 1_000_000 / PIT_HZ);
        }
    }

    /// Tries a waiting operation: `None` if it must wait longer.
    fn try_op(&mut self, op: &mut Op) -> Option<Result<Answer, Errno>> {
        match op {
            Op::ConsRead { max } => self.line.readable().then(|| Ok(Answer::Data(self.line.read(*max)))),
            Op::PipeRead { pipe, max } => match self.pipes.get_mut(pipe).map(|p| p.read(*max)) {
                None => Some(Err(Errno::BadHandle)),
                Some(pipe::Outcome::Done(d)) => Some(Ok(Answer::Data(d))),
                Some(pipe::Outcome::Wait) => None,
                Some(pipe::Outcome::Broken) => Some(Err(Errno::BrokenPipe)),
            },
            Op::PipeWrite { pipe, data } => match self.pipes.get_mut(pipe).map(|p| p.write(data)) {
                None => Some(Err(Errno::BadHandle)),
                Some(pipe::Outcome::Done(n)) => Some(Ok(Answer::Count(n as u32))),
                Some(pipe::Outcome::Wait) => None,
                Some(pipe::Outcome::Broken) => Some(Err(Errno::BrokenPipe)),
            },
            Op::Sleep { until, len } => (self.clock.micros() >= *until).then_some(Ok(Answer::Count(*len))),
        }
    }

    fn now_or_later(&mut self, pid: Pid, handle: u32, mut op: Op, window: bool) -> Result<Option<Answer>, Errno> {
        match self.try_op(&mut op) {
            Some(r) => Self::deliver(pid, window, r).map(Some),
            None => self.defer(pid, handle, op, window),
        }
    }

    /// Answers `pid`'s calls waiting on `handle` (those that read, or
    /// those that write, as `reads` says; both if `None`) with
    /// `Interrupted`. A new read or write on a file where one waits takes
    /// its place: the waiting call was restarted (its process was stopped
    /// and continued, and the kernel gave up its reply capability), or
    /// another thread read the same file at once. Answering the old one
    /// with data would lose that data.
    fn interrupt_waiting(&mut self, pid: Pid, handle: u32, reads: Option<bool>) -> u32 {
        let mine = |p: &Pending| {
            p.pid == pid
                && p.handle == handle
                && reads.is_none_or(|r| r == matches!(p.op, Op::ConsRead { .. } | Op::PipeRead { .. }))
        };
        self.slots.interrupt(&mut self.pending, |p| p.slot, mine)
    }

    /// Drops what `pid` was waiting for (it ended).
    fn forget_pending(&mut self, pid: Pid) {
        self.slots.forget(&mut self.pending, |p| p.slot, |p| p.pid == pid);
    }

    /// Keeps the caller's reply capability until the answer is known.
    fn defer(&mut self, pid: Pid, handle: u32, op: Op, window: bool) -> Result<Option<Answer>, Errno> {
        let reads = matches!(op, Op::ConsRead { .. } | Op::PipeRead { .. });
        self.interrupt_waiting(pid, handle, Some(reads));
        let slot = self.slots.save()?;
        self.pending.push(Pending { pid, handle, slot, op, window });
        Ok(None)
    }

    /// Answers every waiting call that can be answered now.
    fn wake(&mut self) {
        let mut i = 0;
        while i < self.pending.len() {
            let mut op = core::mem::replace(&mut self.pending[i].op, Op::Sleep { until: 0, len: 0 });
            match self.try_op(&mut op) {
                Some(r) => {
                    let p = self.pending.remove(i);
                    self.slots.answer(p.slot, &Self::deliver(p.pid, p.window, r));
                }
                None => {
                    self.pending[i].op = op;
                    i += 1;
                }
            }
        }
    }

    fn typed(&mut self) {
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
                    Event::Interrupt
                        if !self.line.readable()
                            && self.pending.iter().any(|p| matches!(p.op, Op::ConsRead { .. })) =>
                    {
                        self.line.push_empty_line()
                    }
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

    fn ended(&mut self) {
        // Windows of processes that ended may be gone.
        let tracked = || self.open.keys().map(|(p, _)| *p).chain(self.pending.iter().map(|p| p.pid)).collect();
        let pids = match libux::process::ended_among(&mut self.ended_cursor, tracked) {
            Ok(pids) => pids,
            Err(e) => {
                libux::println!("devfs: cannot learn which processes ended: {e}");
                return;
            }
        };
        for pid in pids {
            let held: Vec<(Pid, u32)> = self.open.range((pid, 0)..=(pid, u32::MAX)).map(|(k, _)| *k).collect();
            for k in held {
                if let Some(node) = self.open.remove(&k) {
                    self.close_node(node);
                }
            }
            self.forget_pending(pid);
            // The shell names its job by gpid (of this node: the pid part).
            self.foreground.retain(|&p| libux::cluster::Gpid(p).pid() != pid);
        }
    }
}

fn text_at(text: &str, offset: u64, max: usize) -> Vec<u8> {
    let from = (offset as usize).min(text.len());
    text.as_bytes()[from..(from + max).min(text.len())].to_vec()
}

fn start_devices() -> Result<(), libux::sel4::Error> {
    // Receive interrupts on; OUT2 lets the UART's interrupt reach the IOAPIC.
    UART.out8(COM1 + 2, 0x07)?;
    UART.out8(COM1 + 4, 0x0b)?;
    UART.out8(COM1 + 1, 0x01)?;
    // The PIT stays quiet until a sleeper arms it: a mode word without a
    // count stops whatever the firmware left running (mode 0 then waits
    // for its count).
    PIT.out8(0x43, 0x30)?;
    UART_IRQ.ack()?;
    PIT_IRQ.ack()
}

fn main() -> i32 {
    let setup = libux::process::create_endpoint(EP).and_then(|()| {
        start_devices().map_err(|_| Errno::NotPermitted)?;
        libux::process::mount("/dev", EP)
    });
    if let Err(e) = setup {
        libux::println!("devfs: cannot start: {e}");
        return 1;
    }
    let clock = Clock::new();
    let started = clock.micros();
    let mut dev = Dev {
        open: BTreeMap::new(),
        next_handle: 0,
        pipes: BTreeMap::new(),
        next_pipe: 0,
        pending: Vec::new(),
        slots: ReplySlots::new(slot::REPLIES, MAX_PENDING as u64),
        line: Line::default(),
        foreground: Vec::new(),
        interrupted: false,
        clock,
        started,
        armed: None,
        ended_cursor: 0,
    };
    // Input typed before we listened.
    dev.typed();
    let mut m = recv_raw(EP);
    loop {
        if m.badge & event::FLAG != 0 {
            if m.badge & event::irq(0) != 0 {
                dev.typed();
            }
            if m.badge & event::irq(1) != 0 {
                dev.armed = None;
                let _ = PIT_IRQ.ack();
            }
            if m.badge & event::ENDED != 0 {
                dev.ended();
            }
            dev.wake();
            dev.arm();
            m = recv_raw(EP);
            continue;
        }
        let answer =
            request_bytes(&m).and_then(|bytes| dev.request(Badge(m.badge).pid(), libux::fs::decode_request(&bytes)?));
        // Others' answers first: the IPC buffer then holds ours.
        dev.wake();
        dev.arm();
        m = match answer {
            Ok(None) => recv_raw(EP),
            Ok(Some(a)) => reply_recv_raw(EP, encode(&Ok(a))),
            Err(e) => reply_recv_raw(EP, encode(&Err(e))),
        };
    }
}

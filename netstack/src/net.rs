//! The `/net` file server: connections as files, in the Plan 9 way.
//!
//! ```text
//! /net/ipifc              read: `ADDRESS/PREFIX gw ROUTER mac MAC` (or `none`)
//! /net/stats              read: a line per NIC, `nicK rx N tx N ringfull N runts N`
//! /net/PROTO/clone        open: makes connection N and is its ctl
//!                         (PROTO: tcp, udp, icmp)
//! /net/PROTO/N/ctl        write `connect A.B.C.D!PORT` (tcp: returns
//!                         once connected), `announce PORT` (tcp, udp),
//!                         `connect A.B.C.D` (icmp); read: `N`
//! /net/PROTO/N/data       tcp: the byte stream (reads block for data; 0
//!                         at the end; writes block while the send buffer
//!                         is full). udp: a read or write is a datagram,
//!                         with a `libux::net::Datagram` header on an
//!                         announced port. icmp: a write sends an echo
//!                         request with its bytes, a read gives the next
//!                         reply's bytes (replies larger than the read are
//!                         skipped), or nothing after a second.
//! /net/tcp/N/listen       open (of an announced N): blocks until a
//!                         connection M arrives, and is M's ctl
//! /net/PROTO/N/local, remote, status
//! ```
//!
//! A connection lives while a file of it is open; then its sockets go (a
//! TCP one once closed). Calls that must wait keep their reply capability
//! and are answered after the stack ran (`poll`).

use crate::sock::{self, tcp, Kind, Sock, Started};
use crate::Link;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use libux::fs::server::{Answer, ReplySlots};
use libux::fs::{entry_bytes, flags, list_page, FsRequest, IO_MAX};
use libux::layout::IO_WINDOW;
use libux::net::{Ctl, NicStats, Proto};
use libux::rpc::{Errno, Pid};
use smoltcp::socket::tcp::State;

/// Connections at once.
const MAX_CONNS: usize = 64;
/// Connections an announced port holds for `listen`; more wait in its
/// listening sockets, and once those are full SYNs are refused.
const BACKLOG: usize = 8;
/// Closed connections whose FIN handshake has not finished: how many, and
/// for how long (microseconds), before they are reset.
const MAX_CLOSING: usize = 128;
const CLOSING_US: u64 = 60_000_000;
/// Open files one process may hold here.
const MAX_OPEN: usize = 64;
/// Connections one process may hold that it made (through a `clone`
/// file), so that no client takes the node's `MAX_CONNS` alone; those a
/// listener takes are its clients' and not counted.
const CONNS_PER_CLIENT: usize = 16;
/// Calls answered later, at most (their reply capabilities in
/// `slot::REPLIES`).
const MAX_PENDING: u64 = libux::layout::slot::REPLY_COUNT;
const FIRST_EPHEMERAL: u16 = 49152;
/// How long a read of an echo connection waits for a reply.
const ECHO_WAIT_US: u64 = 1_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Node {
    Root,
    Ipifc,
    Stats,
    Proto(Proto),
    Clone(Proto),
    Dir(u32),
    Ctl(u32),
    Data(u32),
    Listen(u32),
    Local(u32),
    Remote(u32),
    Status(u32),
}

const CONN_FILES: [&str; 6] = ["ctl", "data", "listen", "local", "remote", "status"];

struct Conn {
    kind: Kind,
    /// Open files of it.
    refs: u32,
    /// Who made it through a `clone` file (none: a listener took it).
    maker: Option<Pid>,
}

enum Op {
    /// `until`: when an echo read gives up (microseconds).
    Read {
        conn: u32,
        max: usize,
        window: bool,
        until: Option<u64>,
    },
    Write {
        conn: u32,
        data: Vec<u8>,
    },
    Connect {
        conn: u32,
        len: u32,
    },
    Listen {
        conn: u32,
    },
}

struct Pending {
    pid: Pid,
    /// What it waits on: a handle, or (an open of `listen`) the connection.
    on: On,
    slot: u64,
    op: Op,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum On {
    Handle(u32),
    Listen(u32),
}

impl Op {
    /// Whether it takes from the connection (a read, a listen) rather than
    /// gives to it.
    fn takes(&self) -> bool {
        matches!(self, Op::Read { .. } | Op::Listen { .. })
    }
}

pub struct Net {
    open: BTreeMap<(Pid, u32), Node>,
    next_handle: u32,
    conns: BTreeMap<u32, Conn>,
    next_conn: u32,
    /// Sockets of forgotten connections, until they are closed, and since
    /// when.
    closing: Vec<(Sock, u64)>,
    pending: Vec<Pending>,
    slots: ReplySlots,
    next_port: u16,
    /// What `/net/ipifc` says.
    pub ipifc: String,
    /// The stack's clock, in microseconds.
    pub now: u64,
}

impl Net {
    /// Whether a call waits on a clock of ours (an echo read's deadline) or
    /// on a handshake: the stack must then be woken often.
    pub fn waits_on_time(&self) -> bool {
        self.pending.iter().any(|p| matches!(p.op, Op::Read { until: Some(_), .. } | Op::Connect { .. }))
    }
}

fn text(t: &str, offset: u64, max: usize) -> Answer {
    let from = (offset as usize).min(t.len());
    Answer::Data(t.as_bytes()[from..(from + max).min(t.len())].to_vec())
}

fn stats(links: &[Link]) -> String {
    links.iter().enumerate().map(|(nic, l)| format!("{}", NicStats { nic, ..l.counters() })).collect()
}

impl Net {
    pub fn new() -> Net {
        Net {
            open: BTreeMap::new(),
            next_handle: 0,
            conns: BTreeMap::new(),
            next_conn: 0,
            closing: Vec::new(),
            pending: Vec::new(),
            slots: ReplySlots::new(libux::layout::slot::REPLIES, MAX_PENDING),
            next_port: FIRST_EPHEMERAL,
            ipifc: String::from("none\n"),
            now: 0,
        }
    }

    /// The node at `path`; a connection's files only under its
    /// protocol's directory and while it lives.
    fn node(&self, path: &str) -> Result<Node, Errno> {
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        let proto = |s: &str| Proto::parse(s).ok_or(Errno::NotFound);
        let conn = |p: &str, s: &str| {
            let c = s.parse::<u32>().map_err(|_| Errno::NotFound)?;
            match self.conns.get(&c) {
                Some(conn) if conn.kind.proto() == proto(p)? => Ok(c),
                _ => Err(Errno::NotFound),
            }
        };
        Ok(match parts.as_slice() {
            [] => Node::Root,
            ["ipifc"] => Node::Ipifc,
            ["stats"] => Node::Stats,
            [p] => Node::Proto(proto(p)?),
            [p, "clone"] => Node::Clone(proto(p)?),
            [p, c] => Node::Dir(conn(p, c)?),
            [p, c, f] => {
                let c = conn(p, c)?;
                match *f {
                    "ctl" => Node::Ctl(c),
                    "data" => Node::Data(c),
                    "listen" if *p == "tcp" => Node::Listen(c),
                    "local" => Node::Local(c),
                    "remote" => Node::Remote(c),
                    "status" => Node::Status(c),
                    _ => return Err(Errno::NotFound),
                }
            }
            _ => return Err(Errno::NotFound),
        })
    }

    fn conn_of(node: Node) -> Option<u32> {
        match node {
            Node::Dir(c) | Node::Ctl(c) | Node::Data(c) | Node::Listen(c) | Node::Local(c) | Node::Remote(c) => Some(c),
            Node::Status(c) => Some(c),
            _ => None,
        }
    }

    fn fresh_conn_number(&mut self) -> u32 {
        loop {
            self.next_conn = self.next_conn.wrapping_add(1);
            if !self.conns.contains_key(&self.next_conn) {
                return self.next_conn;
            }
        }
    }

    fn new_conn(&mut self, pid: Pid, proto: Proto, links: &mut [Link]) -> Result<u32, Errno> {
        if self.conns.len() >= MAX_CONNS {
            return Err(Errno::NoMemory);
        }
        let n = self.fresh_conn_number();
        // The ICMP echo identifier: the connection's number, unique here.
        self.conns.insert(n, Conn { kind: Kind::new(proto, links, n as u16), refs: 0, maker: Some(pid) });
        Ok(n)
    }

    /// The connections `pid` made and holds a file of.
    fn conns_made_by(&self, pid: Pid) -> usize {
        let mut held: Vec<u32> = self
            .open
            .range((pid, 0)..=(pid, u32::MAX))
            .filter_map(|(_, node)| Self::conn_of(*node))
            .filter(|c| self.conns.get(c).is_some_and(|c| c.maker == Some(pid)))
            .collect();
        held.sort_unstable();
        held.dedup();
        held.len()
    }

    fn add_handle(&mut self, pid: Pid, node: Node) -> Answer {
        if let Some(c) = Self::conn_of(node).and_then(|c| self.conns.get_mut(&c)) {
            c.refs += 1;
        }
        self.next_handle = self.next_handle.wrapping_add(1);
        self.open.insert((pid, self.next_handle), node);
        Answer::Handle(self.next_handle)
    }

    fn release(&mut self, node: Node, links: &mut [Link]) {
        let Some(c) = Self::conn_of(node) else { return };
        let Some(conn) = self.conns.get_mut(&c) else { return };
        conn.refs = conn.refs.saturating_sub(1);
        if conn.refs > 0 {
            return;
        }
        let mut conn = self.conns.remove(&c).expect("just seen");
        if let Kind::Tcp { socket, announced: Some(a) } = &mut conn.kind {
            for &l in a.listeners.iter().filter(|&l| l != socket) {
                tcp(links, l).abort();
                self.closing.push((l, self.now));
            }
            // Connections that arrived and nobody took go too, unless a
            // file of one is open.
            for m in a.arrived.drain(..) {
                match self.conns.get_mut(&m) {
                    Some(c) if c.refs > 1 => c.refs -= 1,
                    Some(_) => {
                        if let Some(Conn { kind: Kind::Tcp { socket, .. }, .. }) = self.conns.remove(&m) {
                            tcp(links, socket).abort();
                            self.closing.push((socket, self.now));
                        }
                    }
                    None => {}
                }
            }
        }
        if let Some(s) = conn.kind.close(links) {
            self.closing.push((s, self.now));
        }
    }

    /// Answers a call from `pid`; `Ok(None)`: answered later.
    pub fn request(&mut self, pid: Pid, req: FsRequest, links: &mut [Link]) -> Result<Option<Answer>, Errno> {
        let node_of = |n: &Net, h: u32| n.open.get(&(pid, h)).copied().ok_or(Errno::BadHandle);
        match req {
            FsRequest::Open { path, flags: f } => {
                let node = self.node(path)?;
                if f & flags::EXCLUSIVE != 0 {
                    return Err(Errno::Exists);
                }
                if is_dir(node) && f & flags::WRITE != 0 {
                    return Err(Errno::IsDir);
                }
                if self.open.range((pid, 0)..=(pid, u32::MAX)).count() >= MAX_OPEN {
                    return Err(Errno::TooMany);
                }
                match node {
                    Node::Clone(proto) => {
                        if self.conns_made_by(pid) >= CONNS_PER_CLIENT {
                            return Err(Errno::TooMany);
                        }
                        let c = self.new_conn(pid, proto, links)?;
                        Ok(Some(self.add_handle(pid, Node::Ctl(c))))
                    }
                    Node::Listen(c) => {
                        if !matches!(self.conns[&c].kind, Kind::Tcp { announced: Some(_), .. }) {
                            return Err(Errno::InvalidArgument);
                        }
                        let mut op = Op::Listen { conn: c };
                        match self.try_op(pid, &mut op, links) {
                            Some(r) => r.map(Some),
                            None => self.defer(pid, On::Listen(c), op),
                        }
                    }
                    node => Ok(Some(self.add_handle(pid, node))),
                }
            }
            FsRequest::Close { handle } => {
                let node = self.open.remove(&(pid, handle)).ok_or(Errno::BadHandle)?;
                self.release(node, links);
                Ok(Some(Answer::Done))
            }
            FsRequest::Read { handle, offset, count } => {
                self.read(pid, handle, node_of(self, handle)?, offset, (count as usize).min(IO_MAX), false, links)
            }
            FsRequest::ReadWindow { handle, offset, count } => {
                let max = (count as usize).min(IO_WINDOW as usize);
                self.read(pid, handle, node_of(self, handle)?, offset, max, true, links)
            }
            FsRequest::Write { handle, data, .. } => self.write(pid, handle, node_of(self, handle)?, data, links),
            FsRequest::WriteWindow { handle, count, .. } => {
                // SAFETY: answering `pid`'s call.
                let window = unsafe { libux::fs::client_window(pid) };
                let data = window.get(..count as usize).ok_or(Errno::InvalidArgument)?;
                self.write(pid, handle, node_of(self, handle)?, data, links)
            }
            FsRequest::Stat { path } => {
                let node = self.node(path)?;
                let name = libux::path::last_name(path);
                Ok(Some(Answer::Stat((String::from(name), is_dir(node), 0))))
            }
            FsRequest::List { path, from } => {
                let all: Vec<(String, bool, u64)> = match self.node(path)? {
                    Node::Root => [("ipifc", false), ("stats", false)]
                        .into_iter()
                        .chain(Proto::ALL.map(|p| (p.name(), true)))
                        .map(|(n, d)| (String::from(n), d, 0))
                        .collect(),
                    Node::Proto(p) => core::iter::once(("clone".into(), false, 0))
                        .chain(
                            self.conns
                                .iter()
                                .filter(|(_, c)| c.kind.proto() == p)
                                .map(|(n, _)| (n.to_string(), true, 0)),
                        )
                        .collect(),
                    Node::Dir(c) => CONN_FILES
                        .iter()
                        .filter(|&&f| f != "listen" || self.conns[&c].kind.proto() == Proto::Tcp)
                        .map(|f| (String::from(*f), false, 0))
                        .collect(),
                    _ => return Err(Errno::NotDir),
                };
                let (page, more) = list_page(&all, from, |(n, _, _)| entry_bytes(n, false));
                Ok(Some(Answer::Entries(page.to_vec(), more)))
            }
            FsRequest::Truncate { .. } => Ok(Some(Answer::Done)),
            FsRequest::Mkdir { .. } | FsRequest::Remove { .. } | FsRequest::Rename { .. } => Err(Errno::NotPermitted),
            FsRequest::SetAttrs { .. } => Err(Errno::NotSupported),
            FsRequest::Cancel { handle } => {
                node_of(self, handle)?;
                Ok(Some(Answer::Count(self.interrupt_waiting(pid, On::Handle(handle), None))))
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn read(
        &mut self,
        pid: Pid,
        handle: u32,
        node: Node,
        offset: u64,
        max: usize,
        window: bool,
        links: &mut [Link],
    ) -> Result<Option<Answer>, Errno> {
        let answer = match node {
            Node::Data(c) => {
                let echo = self.conns.get(&c).is_some_and(|c| c.kind.proto() == Proto::Icmp);
                let until = echo.then_some(self.now + ECHO_WAIT_US);
                let mut op = Op::Read { conn: c, max, window, until };
                return match self.try_op(pid, &mut op, links) {
                    Some(r) => r.map(Some),
                    None => self.defer(pid, On::Handle(handle), op),
                };
            }
            Node::Ctl(c) => text(&format!("{c}\n"), offset, max),
            Node::Local(c) | Node::Remote(c) | Node::Status(c) => {
                let (local, remote, mut status) =
                    self.conns.get(&c).map(|c| c.kind.describe(links)).unwrap_or_default();
                // Calls waiting in `listen` show on the status line, so that
                // a program can tell when its listener is in place.
                let listening =
                    self.pending.iter().filter(|p| matches!(p.op, Op::Listen { conn } if conn == c)).count();
                if let (1.., Some(line)) = (listening, status.strip_suffix('\n')) {
                    status = format!("{line} {listening} listening\n");
                }
                let t = match node {
                    Node::Local(_) => local,
                    Node::Remote(_) => remote,
                    _ => status,
                };
                text(&t, offset, max)
            }
            Node::Ipifc => text(&self.ipifc, offset, max),
            Node::Stats => text(&stats(links), offset, max),
            Node::Root | Node::Proto(_) | Node::Dir(_) => return Err(Errno::IsDir),
            Node::Clone(_) | Node::Listen(_) => return Err(Errno::BadHandle),
        };
        deliver(pid, window, Ok(answer)).map(Some)
    }

    fn write(
        &mut self,
        pid: Pid,
        handle: u32,
        node: Node,
        data: &[u8],
        links: &mut [Link],
    ) -> Result<Option<Answer>, Errno> {
        let mut op = match node {
            Node::Data(c) => {
                // Straight from the caller's bytes when there is room; a
                // copy only for a write that must wait.
                let kind = &mut self.conns.get_mut(&c).ok_or(Errno::BadHandle)?.kind;
                return match kind.write(data, links) {
                    Some(r) => r.map(|n| Some(Answer::Count(n))),
                    None => self.defer(pid, On::Handle(handle), Op::Write { conn: c, data: data.to_vec() }),
                };
            }
            Node::Ctl(c) => {
                let line = core::str::from_utf8(data).map_err(|_| Errno::InvalidArgument)?;
                let ctl = Ctl::parse(line).ok_or(Errno::InvalidArgument)?;
                // An ephemeral port only for what connects.
                let port = if matches!(ctl, Ctl::Connect(_)) { self.free_port(links)? } else { 0 };
                let conn = self.conns.get_mut(&c).ok_or(Errno::BadHandle)?;
                match conn.kind.ctl(ctl, links, port)? {
                    Started::Done => return Ok(Some(Answer::Count(data.len() as u32))),
                    Started::Connecting => Op::Connect { conn: c, len: data.len() as u32 },
                }
            }
            _ => return Err(Errno::BadHandle),
        };
        match self.try_op(pid, &mut op, links) {
            Some(r) => r.map(Some),
            None => self.defer(pid, On::Handle(handle), op),
        }
    }

    /// Tries a call that may wait: `None` if it must wait longer.
    fn try_op(&mut self, pid: Pid, op: &mut Op, links: &mut [Link]) -> Option<Result<Answer, Errno>> {
        fn conn(n: &mut Net, c: u32) -> Result<&mut Kind, Errno> {
            n.conns.get_mut(&c).map(|c| &mut c.kind).ok_or(Errno::BadHandle)
        }
        match op {
            Op::Read { conn: c, max, window, until } => {
                let now = self.now;
                let read = match conn(self, *c) {
                    Ok(kind) => kind.read(*max, links),
                    Err(e) => Some(Err(e)),
                };
                let read = read.or_else(|| until.filter(|&u| now >= u).map(|_| Ok(Vec::new())))?;
                Some(deliver(pid, *window, read.map(Answer::Data)))
            }
            Op::Write { conn: c, data } => match conn(self, *c) {
                Ok(kind) => Some(kind.write(data, links)?.map(Answer::Count)),
                Err(e) => Some(Err(e)),
            },
            Op::Connect { conn: c, len } => match conn(self, *c) {
                Ok(kind) => Some(kind.connected(links)?.map(|()| Answer::Count(*len))),
                Err(e) => Some(Err(e)),
            },
            Op::Listen { conn } => {
                let Some(Conn { kind: Kind::Tcp { announced: Some(a), .. }, .. }) = self.conns.get_mut(conn) else {
                    // The port was given up while we waited.
                    return Some(Err(Errno::NotFound));
                };
                let accepted = a.arrived.pop_front()?;
                let answer = self.add_handle(pid, Node::Ctl(accepted));
                // The announcement's hold on it passes to the new file.
                if let Some(c) = self.conns.get_mut(&accepted) {
                    c.refs -= 1;
                }
                Some(Ok(answer))
            }
        }
    }

    fn defer(&mut self, pid: Pid, on: On, op: Op) -> Result<Option<Answer>, Errno> {
        self.interrupt_waiting(pid, on, Some(op.takes()));
        let slot = self.slots.save()?;
        self.pending.push(Pending { pid, on, slot, op });
        Ok(None)
    }

    /// Answers `pid`'s calls waiting on `on` (those that take, or those
    /// that give, as `takes` says; both if `None`) with `Interrupted`. A
    /// new call that waits where one of its kind waits takes its place:
    /// the old one was restarted (its process was stopped and continued,
    /// and the kernel gave up its reply capability), or another thread
    /// did the same at once. Answering the old one would lose its data.
    fn interrupt_waiting(&mut self, pid: Pid, on: On, takes: Option<bool>) -> u32 {
        let mine = |p: &Pending| p.pid == pid && p.on == on && takes.is_none_or(|t| t == p.op.takes());
        self.slots.interrupt(&mut self.pending, |p| p.slot, mine)
    }

    /// Drops what `pid` was waiting for (it ended).
    fn forget_pending(&mut self, pid: Pid) {
        self.slots.forget(&mut self.pending, |p| p.slot, |p| p.pid == pid);
    }

    /// After the stack ran: connections that arrived on announced ports
    /// become connections of their own (their port listens anew), closed
    /// sockets go, and waiting calls that can be answered are.
    pub fn poll(&mut self, links: &mut [Link]) {
        let announced: Vec<u32> = self
            .conns
            .iter()
            .filter(|(_, c)| matches!(c.kind, Kind::Tcp { announced: Some(_), .. }))
            .map(|(n, _)| *n)
            .collect();
        for n in announced {
            self.take_arrivals(n, links);
        }
        // Closed sockets go (after the poll that sent their last segment,
        // a reset included); then sockets closing too long, or too many
        // (those in TimeWait first, then the oldest), are reset.
        self.closing.retain(|&(s, _)| {
            let done = tcp(links, s).state() == State::Closed;
            if done {
                sock::remove(links, s);
            }
            !done
        });
        for &(s, since) in &self.closing {
            if self.now.saturating_sub(since) > CLOSING_US {
                tcp(links, s).abort();
            }
        }
        let excess = self.closing.len().saturating_sub(MAX_CLOSING);
        if excess > 0 {
            // `closing` is oldest first; a stable sort keeps that order
            // within TimeWait and the rest.
            let mut order: Vec<Sock> = self.closing.iter().map(|&(s, _)| s).collect();
            order.sort_by_key(|&s| tcp(links, s).state() != State::TimeWait);
            for s in order.into_iter().take(excess) {
                tcp(links, s).abort();
            }
        }
        // UDP ports stuck behind a datagram to a dead neighbour go on.
        for (n, c) in self.conns.iter_mut() {
            if c.kind.unstick(links, self.now) > 0 {
                libux::println!("netstack: udp {n}: datagrams to a neighbour that never answered dropped after 3 s");
            }
        }
        let mut i = 0;
        while i < self.pending.len() {
            let pid = self.pending[i].pid;
            let mut op = core::mem::replace(&mut self.pending[i].op, Op::Listen { conn: 0 });
            match self.try_op(pid, &mut op, links) {
                Some(r) => {
                    let p = self.pending.remove(i);
                    self.slots.answer(p.slot, &r);
                }
                None => {
                    self.pending[i].op = op;
                    i += 1;
                }
            }
        }
    }

    /// Connections that reached announced port `n`'s listeners become
    /// connections of their own, held for `listen` (up to `BACKLOG`; more
    /// wait in their listeners); a listener that ended otherwise (a
    /// handshake that timed out, a reset) is replaced, so the port never
    /// stops listening.
    fn take_arrivals(&mut self, n: u32, links: &mut [Link]) {
        let Some(Conn { kind: Kind::Tcp { announced: Some(a), .. }, .. }) = self.conns.get(&n) else { return };
        let (port, listeners, waiting) = (a.port, a.listeners.clone(), a.arrived.len());
        let mut taken = 0;
        for (i, l) in listeners.into_iter().enumerate() {
            let arrived = match tcp(links, l).state() {
                State::Listen | State::SynReceived => continue,
                State::Established | State::CloseWait => true,
                _ => false,
            };
            // No room: the connection waits in its listener (and once all
            // of them hold one, SYNs are refused).
            if arrived && (waiting + taken >= BACKLOG || self.conns.len() >= MAX_CONNS) {
                continue;
            }
            let fresh = sock::new_tcp(links, l.link);
            if tcp(links, fresh).listen(port).is_err() {
                sock::remove(links, fresh);
                continue;
            }
            let m = if arrived {
                taken += 1;
                let m = self.fresh_conn_number();
                // Held by the announcement until `listen` takes it.
                self.conns.insert(m, Conn { kind: Kind::Tcp { socket: l, announced: None }, refs: 1, maker: None });
                Some(m)
            } else {
                tcp(links, l).abort();
                self.closing.push((l, self.now));
                None
            };
            if let Some(Conn { kind: Kind::Tcp { socket, announced: Some(a) }, .. }) = self.conns.get_mut(&n) {
                if *socket == l {
                    *socket = fresh;
                }
                a.listeners[i] = fresh;
                a.arrived.extend(m);
            }
        }
    }

    /// An ephemeral port no socket holds.
    fn free_port(&mut self, links: &mut [Link]) -> Result<u16, Errno> {
        for _ in FIRST_EPHEMERAL..=u16::MAX {
            self.next_port = self.next_port.checked_add(1).unwrap_or(FIRST_EPHEMERAL);
            if !links.iter().any(|l| sock::port_users(l, self.next_port) != (false, false)) {
                return Ok(self.next_port);
            }
        }
        Err(Errno::Busy)
    }

    /// Processes that ended lose their files and waiting calls.
    pub fn ended(&mut self, pids: &[Pid], links: &mut [Link]) {
        for &pid in pids {
            let held: Vec<(Pid, u32)> = self.open.range((pid, 0)..=(pid, u32::MAX)).map(|(k, _)| *k).collect();
            for k in held {
                if let Some(node) = self.open.remove(&k) {
                    self.release(node, links);
                }
            }
            self.forget_pending(pid);
        }
    }

    /// Processes we hold anything for.
    pub fn tracked(&self) -> Vec<Pid> {
        self.open.keys().map(|(p, _)| *p).chain(self.pending.iter().map(|p| p.pid)).collect()
    }
}

fn is_dir(node: Node) -> bool {
    matches!(node, Node::Root | Node::Proto(_) | Node::Dir(_))
}

/// Read data for a window call goes in the caller's window.
fn deliver(pid: Pid, window: bool, r: Result<Answer, Errno>) -> Result<Answer, Errno> {
    match r {
        Ok(Answer::Data(d)) if window => {
            // SAFETY: `pid` has not ended as far as we know (we drop the
            // calls of ended processes before the process server unmaps
            // their windows, when we ask it `Ended`).
            let w = unsafe { libux::fs::client_window(pid) };
            w[..d.len()].copy_from_slice(&d);
            Ok(Answer::Count(d.len() as u32))
        }
        other => other,
    }
}

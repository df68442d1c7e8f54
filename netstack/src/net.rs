//! The `/net` file server: connections as files, in the Plan 9 way.
//!
//! ```text
//! /net/ipifc              read: `ADDRESS/PREFIX gw ROUTER mac MAC` (or `none`)
//! /net/stats              read: a line per NIC, `nicK rx N tx N ringfull N runts N irq N`
//! /net/clock              read: how the clock wakes the stack, `wake
//!                         periodic HZ|minutely|never ticks N`
//! /net/PROTO/clone        open: makes connection N and is its ctl
//!                         (PROTO: tcp, udp, icmp)
//! /net/PROTO/N/ctl        write `connect A.B.C.D!PORT` (tcp: returns
//!                         once connected), `announce PORT` (tcp, udp),
//!                         `connect A.B.C.D` (icmp), `batch` (udp); read: `N`
//! /net/PROTO/N/data       tcp: the byte stream (reads block for data; 0
//!                         at the end; writes block while the send buffer
//!                         is full). udp: a read or write is a datagram,
//!                         with a `libux::net::Datagram` header on an
//!                         announced port; after `batch`, a read is a
//!                         `libux::net::Batch` of them. icmp: a write sends an echo
//!                         request with its bytes, a read gives the next
//!                         reply's bytes (replies larger than the read are
//!                         skipped), or nothing after a second.
//! /net/tcp/N/listen       open (of an announced N): blocks until a
//!                         connection M arrives, and is M's ctl
//! /net/PROTO/N/local, remote, status
//! ```
//!
//! A connection lives while a file of it is open; then its sockets go (a
//! TCP one once closed). Calls that must wait do so in `libux::fs::serve`
//! and are tried again after the stack ran (`poll`).

use crate::sock::{self, tcp, Kind, Sock, Started};
use crate::{Link, Stack};
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use libux::fs::dirtab::{self, row, Perm, Row};
use libux::fs::serve::{text_into, Done, Held, Io};
use libux::fs::server::Entry;
use libux::net::{ClockStats, ClockWake, Ctl, NicStats, Proto};
use libux::rpc::{Errno, Pid};
use netstack::clock::{hz, Wake};
use smoltcp::socket::tcp::State;
use smoltcp::time::Instant;

/// Connections at once: a node of a cluster of 64 that mounted every other
/// (63 dialed) and that every other mounted (63 answered), with room to
/// spare; at most 20 MiB of TCP buffers.
const MAX_CONNS: usize = 160;
/// Connections an announced port holds for `listen`; more wait in its
/// listening sockets, and once those are full SYNs are refused.
const BACKLOG: usize = 8;
/// Closed connections whose FIN handshake has not finished: how many, and
/// for how long (microseconds), before they are reset.
const MAX_CLOSING: usize = 128;
const CLOSING_US: u64 = 60_000_000;
/// Connections one process may hold that it made (through a `clone`
/// file), so that no client takes the node's `MAX_CONNS` alone; those a
/// listener takes are its clients' and not counted.
const CONNS_PER_CLIENT: usize = 16;
const FIRST_EPHEMERAL: u16 = 49152;
/// How long a read of an echo connection waits for a reply.
const ECHO_WAIT_US: u64 = 1_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Node {
    Root,
    Ipifc,
    Stats,
    Clock,
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

/// `/net`'s files besides the protocols' directories.
const ROOT_FILES: [Row<Node>; 3] = [
    row("ipifc", Perm::Read, Node::Ipifc),
    row("stats", Perm::Read, Node::Stats),
    row("clock", Perm::Read, Node::Clock),
];

/// A file of a connection's directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ConnFile {
    Ctl,
    Data,
    Listen,
    Local,
    Remote,
    Status,
}

/// A connection's directory, `/net/PROTO/N` (`listen` only for TCP).
const CONN_FILES: [Row<ConnFile>; 6] = [
    row("ctl", Perm::ReadWrite, ConnFile::Ctl),
    row("data", Perm::ReadWrite, ConnFile::Data),
    // What an open of it gives is the new connection's ctl.
    row("listen", Perm::ReadWrite, ConnFile::Listen),
    row("local", Perm::Read, ConnFile::Local),
    row("remote", Perm::Read, ConnFile::Remote),
    row("status", Perm::Read, ConnFile::Status),
];

impl ConnFile {
    /// The node of this file of connection `c`.
    fn of(self, c: u32) -> Node {
        match self {
            ConnFile::Ctl => Node::Ctl(c),
            ConnFile::Data => Node::Data(c),
            ConnFile::Listen => Node::Listen(c),
            ConnFile::Local => Node::Local(c),
            ConnFile::Remote => Node::Remote(c),
            ConnFile::Status => Node::Status(c),
        }
    }
}

impl Node {
    fn perm(self) -> Perm {
        match self {
            Node::Root | Node::Proto(_) | Node::Dir(_) => Perm::Dir,
            // Opening it makes a connection and is its ctl.
            Node::Clone(_) => Perm::ReadWrite,
            Node::Ipifc | Node::Stats | Node::Clock => {
                dirtab::row_of(&ROOT_FILES, &self).map_or(Perm::Read, |r| r.perm)
            }
            Node::Ctl(c) | Node::Data(c) | Node::Listen(c) | Node::Local(c) | Node::Remote(c) | Node::Status(c) => {
                CONN_FILES.iter().find(|r| r.kind.of(c) == self).map_or(Perm::Read, |r| r.perm)
            }
        }
    }
}

struct Conn {
    kind: Kind,
    /// Open files of it.
    refs: u32,
    /// Who made it through a `clone` file, or took it from a `listen`
    /// file (none: it waits in its listener). Its `ctl`, `data` and
    /// `listen` are the maker's, and of those who may act on it
    /// (`libux::net::may_open_conn`).
    maker: Option<Pid>,
}

pub enum Op {
    /// `until`: when an echo read gives up (microseconds).
    Read {
        conn: u32,
        until: Option<u64>,
    },
    Write {
        conn: u32,
        data: Vec<u8>,
    },
    Connect {
        conn: u32,
        len: u32,
        /// When it began (`Net::now`), to tell a refusal from no answer.
        since: u64,
    },
    Listen {
        conn: u32,
    },
}

pub struct Net {
    conns: BTreeMap<u32, Conn>,
    /// Connections hung up (`hangup`) with files still open, and how many:
    /// their numbers are not given again until the last is closed.
    hung: BTreeMap<u32, u32>,
    next_conn: u32,
    /// Sockets of forgotten connections, until they are closed, and since
    /// when.
    closing: Vec<(Sock, u64)>,
    next_port: u16,
    /// What `/net/ipifc` says.
    pub ipifc: String,
    /// How the clock wakes the stack now, and its interrupts so far
    /// (`/net/clock`; the stack keeps them).
    pub wake: Wake,
    pub ticks: u64,
    /// The stack's clock, in microseconds.
    pub now: u64,
}

impl Net {
    /// Whether a call waits on a clock of ours (an echo read's deadline) or
    /// on a handshake: the stack must then be woken often.
    pub fn waits_on_time(held: &Held<Stack>) -> bool {
        held.waiting().any(|(_, op)| matches!(op, Op::Read { until: Some(_), .. } | Op::Connect { .. }))
    }
}

/// How the clock wakes the stack, as `/net/clock` says it.
fn said(wake: Wake) -> ClockWake {
    match wake {
        Wake::Periodic(rate) => ClockWake::Periodic(hz(rate)),
        Wake::Minutely => ClockWake::Minutely,
        Wake::Never => ClockWake::Never,
    }
}

fn stats(links: &[Link]) -> String {
    links.iter().enumerate().map(|(nic, l)| format!("{}", NicStats { nic, ..l.counters() })).collect()
}

impl Net {
    pub fn new(wake: Wake) -> Net {
        Net {
            conns: BTreeMap::new(),
            next_conn: 0,
            closing: Vec::new(),
            hung: BTreeMap::new(),
            next_port: FIRST_EPHEMERAL,
            ipifc: String::from("none\n"),
            wake,
            ticks: 0,
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
            [name] => match dirtab::lookup(&ROOT_FILES, name) {
                Ok(node) => node,
                Err(_) => Node::Proto(proto(name)?),
            },
            [p, "clone"] => Node::Clone(proto(p)?),
            [p, c] => Node::Dir(conn(p, c)?),
            [p, c, f] => {
                let c = conn(p, c)?;
                match dirtab::lookup(&CONN_FILES, f)? {
                    ConnFile::Listen if *p != "tcp" => return Err(Errno::NotFound),
                    file => file.of(c),
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
            if !self.conns.contains_key(&self.next_conn) && !self.hung.contains_key(&self.next_conn) {
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

    /// Connections whose makers ended belong to nobody (opened by whoever
    /// may act on nobody in particular: not a restricted client), never
    /// to a later process that gets the same pid.
    pub fn makers_ended(&mut self, pids: &[Pid]) {
        for c in self.conns.values_mut() {
            if c.maker.is_some_and(|m| pids.contains(&m)) {
                c.maker = None;
            }
        }
    }

    /// The connections `pid` made and holds a file of.
    fn conns_made_by(&self, held: &Held<Stack>, pid: Pid) -> usize {
        let mut held: Vec<u32> = held
            .nodes_of(pid)
            .filter_map(Self::conn_of)
            .filter(|c| self.conns.get(c).is_some_and(|c| c.maker == Some(pid)))
            .collect();
        held.sort_unstable();
        held.dedup();
        held.len()
    }

    /// A file of `node` opens: its connection has one more.
    fn opened(&mut self, node: Node) -> Node {
        if let Some(c) = Self::conn_of(node).and_then(|c| self.conns.get_mut(&c)) {
            c.refs += 1;
        }
        node
    }

    /// A file of `node` closed.
    pub fn release(&mut self, node: Node, links: &mut [Link]) {
        let Some(c) = Self::conn_of(node) else { return };
        if let Some(refs) = self.hung.get_mut(&c) {
            *refs = refs.saturating_sub(1);
            if *refs == 0 {
                self.hung.remove(&c);
            }
            return;
        }
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

    pub fn open(
        &mut self,
        held: &Held<Stack>,
        pid: Pid,
        path: &str,
        f: u32,
        links: &mut [Link],
    ) -> Result<Io<Node, Op>, Errno> {
        let node = self.node(path)?;
        node.perm().check_open(f)?;
        if let Node::Ctl(c) | Node::Data(c) | Node::Listen(c) = node {
            // Not lent to a client restricted to its own processes (an
            // anonymous export's): it could read, write or hang up another
            // program's connection, the cluster's exports' included.
            let maker = self.conns.get(&c).ok_or(Errno::NotFound)?.maker;
            if !libux::net::may_open_conn(pid, maker, |a, t| libux::process::may_act(a, t).is_ok()) {
                return Err(Errno::NotPermitted);
            }
        }
        match node {
            Node::Clone(proto) => {
                if self.conns_made_by(held, pid) >= CONNS_PER_CLIENT {
                    return Err(Errno::TooMany);
                }
                let c = self.new_conn(pid, proto, links)?;
                Ok(Io::Now(self.opened(Node::Ctl(c))))
            }
            Node::Listen(c) => {
                if !matches!(self.conns[&c].kind, Kind::Tcp { announced: Some(_), .. }) {
                    return Err(Errno::InvalidArgument);
                }
                Ok(Io::Wait(Op::Listen { conn: c }))
            }
            node => Ok(Io::Now(self.opened(node))),
        }
    }

    pub fn stat(&self, path: &str) -> Result<Entry, Errno> {
        let node = self.node(path)?;
        Ok(Entry::new(libux::path::last_name(path), node.perm() == Perm::Dir, 0))
    }

    pub fn list(&self, path: &str) -> Result<Vec<Entry>, Errno> {
        Ok(match self.node(path)? {
            Node::Root => {
                dirtab::entries(&ROOT_FILES).chain(Proto::ALL.map(|p| Entry::new(p.name(), true, 0))).collect()
            }
            Node::Proto(p) => core::iter::once(Entry::new("clone", false, 0))
                .chain(
                    self.conns
                        .iter()
                        .filter(|(_, c)| c.kind.proto() == p)
                        .map(|(n, _)| Entry::new(n.to_string(), true, 0)),
                )
                .collect(),
            Node::Dir(c) => {
                let tcp = self.conns[&c].kind.proto() == Proto::Tcp;
                dirtab::entries(&CONN_FILES).filter(|e| tcp || e.name != "listen").collect()
            }
            _ => return Err(Errno::NotDir),
        })
    }

    pub fn read(
        &mut self,
        held: &Held<Stack>,
        node: Node,
        offset: u64,
        into: &mut [u8],
        links: &mut [Link],
    ) -> Result<Io<usize, Op>, Errno> {
        let text = match node {
            Node::Data(c) => {
                let echo = self.conns.get(&c).is_some_and(|c| c.kind.proto() == Proto::Icmp);
                let until = echo.then_some(self.now + ECHO_WAIT_US);
                return Ok(Io::Wait(Op::Read { conn: c, until }));
            }
            Node::Ctl(c) => format!("{c}\n"),
            Node::Local(c) | Node::Remote(c) | Node::Status(c) => {
                let (local, remote, mut status) =
                    self.conns.get(&c).map(|c| c.kind.describe(links)).unwrap_or_default();
                // Calls waiting in `listen` show on the status line, so that
                // a program can tell when its listener is in place.
                let listening =
                    held.waiting().filter(|(_, op)| matches!(op, Op::Listen { conn } if *conn == c)).count();
                if let (1.., Some(line)) = (listening, status.strip_suffix('\n')) {
                    status = format!("{line} {listening} listening\n");
                }
                match node {
                    Node::Local(_) => local,
                    Node::Remote(_) => remote,
                    _ => status,
                }
            }
            Node::Ipifc => self.ipifc.clone(),
            Node::Stats => stats(links),
            Node::Clock => format!("{}", ClockStats { wake: said(self.wake), ticks: self.ticks }),
            Node::Root | Node::Proto(_) | Node::Dir(_) => return Err(Errno::IsDir),
            Node::Clone(_) | Node::Listen(_) => return Err(Errno::BadHandle),
        };
        Ok(Io::Now(text_into(&text, offset, into)))
    }

    pub fn write(&mut self, node: Node, data: &[u8], links: &mut [Link]) -> Result<Io<u32, Op>, Errno> {
        match node {
            Node::Data(c) => {
                // Straight from the caller's bytes when there is room; a
                // copy only for a write that must wait.
                let kind = &mut self.conns.get_mut(&c).ok_or(Errno::BadHandle)?.kind;
                match kind.write(data, links) {
                    Some(r) => r.map(Io::Now),
                    None => Ok(Io::Wait(Op::Write { conn: c, data: data.to_vec() })),
                }
            }
            Node::Ctl(c) => {
                let line = core::str::from_utf8(data).map_err(|_| Errno::InvalidArgument)?;
                let ctl = Ctl::parse(line).ok_or(Errno::InvalidArgument)?;
                if ctl == Ctl::Hangup {
                    return self.hang_up(c, links).map(|()| Io::Now(data.len() as u32));
                }
                // An ephemeral port only for what connects.
                let port = if matches!(ctl, Ctl::Connect(_)) { self.free_port(links)? } else { 0 };
                let conn = self.conns.get_mut(&c).ok_or(Errno::BadHandle)?;
                match conn.kind.ctl(ctl, links, port, Instant::from_micros(self.now as i64))? {
                    Started::Done => Ok(Io::Now(data.len() as u32)),
                    Started::Connecting => {
                        Ok(Io::Wait(Op::Connect { conn: c, len: data.len() as u32, since: self.now }))
                    }
                }
            }
            _ => Err(Errno::BadHandle),
        }
    }

    /// `hangup` of TCP connection `c` (dialed, or answered and taken by a
    /// `listen`; not an announcement): it ends now, its FIN sent as when
    /// its files close, and gives its place among the node's `MAX_CONNS`
    /// back although files of it stay open: their reads and writes of
    /// data fail (`BadHandle`, a waiting one too), and `status`, `local`
    /// and `remote` read empty. A client whose threads each hold the
    /// connection's files (mount9p's) can so dial again at once.
    fn hang_up(&mut self, c: u32, links: &mut [Link]) -> Result<(), Errno> {
        let conn = self.conns.get(&c).ok_or(Errno::BadHandle)?;
        let waits_for_listen = || {
            self.conns
                .values()
                .any(|o| matches!(&o.kind, Kind::Tcp { announced: Some(a), .. } if a.arrived.contains(&c)))
        };
        if !matches!(conn.kind, Kind::Tcp { announced: None, .. }) || waits_for_listen() {
            return Err(Errno::InvalidArgument);
        }
        let conn = self.conns.remove(&c).expect("just seen");
        self.hung.insert(c, conn.refs);
        if let Some(s) = conn.kind.close(links) {
            self.closing.push((s, self.now));
        }
        Ok(())
    }

    /// Tries a call that may wait (a read's bytes go in `into`): `None` if
    /// it must wait longer.
    pub fn retry(
        &mut self,
        pid: Pid,
        op: &mut Op,
        into: &mut [u8],
        links: &mut [Link],
    ) -> Option<Result<Done<Node>, Errno>> {
        fn conn(n: &mut Net, c: u32) -> Result<&mut Kind, Errno> {
            n.conns.get_mut(&c).map(|c| &mut c.kind).ok_or(Errno::BadHandle)
        }
        match op {
            Op::Read { conn: c, until } => {
                let now = self.now;
                let read = match conn(self, *c) {
                    Ok(kind) => kind.read(into.len(), links),
                    Err(e) => Some(Err(e)),
                };
                let read = read.or_else(|| until.filter(|&u| now >= u).map(|_| Ok(Vec::new())))?;
                Some(read.map(|d| {
                    into[..d.len()].copy_from_slice(&d);
                    Done::Read(d.len())
                }))
            }
            Op::Write { conn: c, data } => match conn(self, *c) {
                Ok(kind) => Some(kind.write(data, links)?.map(Done::Count)),
                Err(e) => Some(Err(e)),
            },
            Op::Connect { conn: c, len, since } => {
                let waited_us = self.now.saturating_sub(*since);
                match conn(self, *c) {
                    Ok(kind) => Some(kind.connected(links, waited_us)?.map(|()| Done::Count(*len))),
                    Err(e) => Some(Err(e)),
                }
            }
            Op::Listen { conn } => {
                let Some(Conn { kind: Kind::Tcp { announced: Some(a), .. }, .. }) = self.conns.get_mut(conn) else {
                    // The port was given up while we waited.
                    return Some(Err(Errno::NotFound));
                };
                // The announcement's hold on it passes to the new file, and
                // the connection to its reader.
                let taken = a.arrived.pop_front()?;
                if let Some(c) = self.conns.get_mut(&taken) {
                    c.maker = Some(pid);
                }
                Some(Ok(Done::Opened(Node::Ctl(taken))))
            }
        }
    }

    /// After the stack ran: connections that arrived on announced ports
    /// become connections of their own (their port listens anew), and
    /// closed sockets go.
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
            let done = sock::tcp_state(links, s) == State::Closed;
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
            order.sort_by_key(|&s| sock::tcp_state(links, s) != State::TimeWait);
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
            let arrived = match sock::tcp_state(links, l) {
                State::Listen | State::SynReceived => continue,
                State::Established | State::CloseWait => true,
                _ => false,
            };
            // No room: the connection waits in its listener (and once all
            // of them hold one, SYNs are refused).
            if arrived && (waiting + taken >= BACKLOG || self.conns.len() >= MAX_CONNS) {
                continue;
            }
            let fresh = sock::new_tcp(links, l.link, sock::End::Answers);
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
}

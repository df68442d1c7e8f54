//! The `/net` file server: TCP connections as files, in the Plan 9 way.
//!
//! ```text
//! /net/ipifc           read: `ADDRESS/PREFIX gw ROUTER mac MAC` (or `none`)
//! /net/tcp/clone       open: makes connection N and is its ctl
//! /net/tcp/N/ctl       write `connect A.B.C.D!PORT` (returns once
//!                      connected) or `announce PORT`; read: `N`
//! /net/tcp/N/data      the byte stream (reads block for data; 0 at the
//!                      end; writes block while the send buffer is full)
//! /net/tcp/N/listen    open (of an announced N): blocks until a
//!                      connection M arrives, and is M's ctl
//! /net/tcp/N/local, remote, status   `A.B.C.D!PORT`; the TCP state
//! ```
//!
//! A connection lives while a file of it is open; then it is closed
//! (FIN) and forgotten once closed. Calls that must wait keep their reply
//! capability and are answered when the stack changes (`wake`).

use crate::Link;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use libux::fs::server::{Answer, ReplySlots};
use libux::fs::{flags, FsRequest, IO_MAX};
use libux::layout::IO_WINDOW;
use libux::net::{Addr, Ctl};
use libux::rpc::{Errno, Pid};
use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::socket::tcp;
use smoltcp::wire::{IpAddress, IpEndpoint, Ipv4Address};

/// Connections at once.
const MAX_CONNS: usize = 64;
/// Open files one process may hold here.
const MAX_OPEN: usize = 64;
const BUFFER: usize = 64 * 1024;
/// Slots for saved replies (above `libux::fs::client`'s connection slots).
const REPLY_FIRST: u64 = 768;
const MAX_PENDING: u64 = 256;
const FIRST_EPHEMERAL: u16 = 49152;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Node {
    Root,
    Ipifc,
    Tcp,
    Clone,
    Dir(u32),
    Ctl(u32),
    Data(u32),
    Listen(u32),
    Local(u32),
    Remote(u32),
    Status(u32),
}

const CONN_FILES: [&str; 6] = ["ctl", "data", "listen", "local", "remote", "status"];

/// A socket of one of the links (NICs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Sock {
    link: usize,
    handle: SocketHandle,
}

fn tcp(links: &mut [Link], s: Sock) -> &mut tcp::Socket<'static> {
    links[s.link].sockets.get_mut::<tcp::Socket>(s.handle)
}

struct Announce {
    port: u16,
    /// A listening socket on every link.
    listeners: Vec<Sock>,
    /// Connections that arrived but no `listen` has taken yet.
    arrived: VecDeque<u32>,
}

struct Conn {
    socket: Sock,
    /// Open files of it.
    refs: u32,
    announced: Option<Announce>,
}

enum Op {
    Read { conn: u32, max: usize, window: bool },
    Write { conn: u32, data: Vec<u8> },
    Connect { conn: u32, len: u32 },
    Listen { conn: u32 },
}

struct Pending {
    pid: Pid,
    slot: u64,
    op: Op,
}

pub struct Net {
    open: BTreeMap<(Pid, u32), Node>,
    next_handle: u32,
    conns: BTreeMap<u32, Conn>,
    next_conn: u32,
    /// Sockets of forgotten connections, until they are closed.
    closing: Vec<Sock>,
    pending: Vec<Pending>,
    slots: ReplySlots,
    next_port: u16,
    /// What `/net/ipifc` says.
    pub ipifc: String,
}

fn text(t: &str, offset: u64, max: usize) -> Answer {
    let from = (offset as usize).min(t.len());
    Answer::Data(t.as_bytes()[from..(from + max).min(t.len())].to_vec())
}

fn new_socket(links: &mut [Link], link: usize) -> Sock {
    let rx = tcp::SocketBuffer::new(vec![0; BUFFER]);
    let tx = tcp::SocketBuffer::new(vec![0; BUFFER]);
    let sockets: &mut SocketSet<'static> = &mut links[link].sockets;
    Sock { link, handle: sockets.add(tcp::Socket::new(rx, tx)) }
}

fn remove_socket(links: &mut [Link], s: Sock) {
    links[s.link].sockets.remove(s.handle);
}

fn endpoint(e: Option<IpEndpoint>) -> String {
    match e {
        Some(IpEndpoint { addr: IpAddress::Ipv4(a), port }) => format!("{}\n", Addr { ip: a.octets(), port }),
        _ => String::from("none\n"),
    }
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
            slots: ReplySlots::new(REPLY_FIRST, MAX_PENDING),
            next_port: FIRST_EPHEMERAL,
            ipifc: String::from("none\n"),
        }
    }

    fn node(path: &str) -> Result<Node, Errno> {
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        let n = |s: &str| s.parse::<u32>().map_err(|_| Errno::NotFound);
        Ok(match parts.as_slice() {
            [] => Node::Root,
            ["ipifc"] => Node::Ipifc,
            ["tcp"] => Node::Tcp,
            ["tcp", "clone"] => Node::Clone,
            ["tcp", c] => Node::Dir(n(c)?),
            ["tcp", c, f] => {
                let c = n(c)?;
                match *f {
                    "ctl" => Node::Ctl(c),
                    "data" => Node::Data(c),
                    "listen" => Node::Listen(c),
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

    fn new_conn(&mut self, links: &mut [Link]) -> Result<u32, Errno> {
        if self.conns.len() >= MAX_CONNS {
            return Err(Errno::NoMemory);
        }
        loop {
            self.next_conn = self.next_conn.wrapping_add(1);
            if !self.conns.contains_key(&self.next_conn) {
                break;
            }
        }
        let socket = new_socket(links, 0);
        self.conns.insert(self.next_conn, Conn { socket, refs: 0, announced: None });
        Ok(self.next_conn)
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
        if conn.refs == 0 {
            let conn = self.conns.remove(&c).expect("just seen");
            tcp(links, conn.socket).close();
            self.closing.push(conn.socket);
            if let Some(a) = conn.announced {
                for l in a.listeners.into_iter().filter(|&l| l != conn.socket) {
                    tcp(links, l).abort();
                    self.closing.push(l);
                }
                // Connections that arrived and nobody took go too.
                for m in a.arrived {
                    if let Some(acc) = self.conns.remove(&m) {
                        tcp(links, acc.socket).abort();
                        self.closing.push(acc.socket);
                    }
                }
            }
        }
    }

    /// Answers a call from `pid`; `Ok(None)`: answered later.
    pub fn request(&mut self, pid: Pid, req: FsRequest, links: &mut [Link]) -> Result<Option<Answer>, Errno> {
        self.forget_pending(pid);
        let node_of = |n: &Net, h: u32| n.open.get(&(pid, h)).copied().ok_or(Errno::BadHandle);
        match req {
            FsRequest::Open { path, flags: f } => {
                let node = Self::node(path)?;
                if Self::conn_of(node).is_some_and(|c| !self.conns.contains_key(&c)) {
                    return Err(Errno::NotFound);
                }
                if f & flags::EXCLUSIVE != 0 {
                    return Err(Errno::Exists);
                }
                if matches!(node, Node::Root | Node::Tcp | Node::Dir(_)) && f & flags::WRITE != 0 {
                    return Err(Errno::IsDir);
                }
                if self.open.range((pid, 0)..=(pid, u32::MAX)).count() >= MAX_OPEN {
                    return Err(Errno::NoMemory);
                }
                match node {
                    Node::Clone => {
                        let c = self.new_conn(links)?;
                        Ok(Some(self.add_handle(pid, Node::Ctl(c))))
                    }
                    Node::Listen(c) => {
                        if self.conns[&c].announced.is_none() {
                            return Err(Errno::InvalidArgument);
                        }
                        let mut op = Op::Listen { conn: c };
                        match self.try_op(pid, &mut op, links) {
                            Some(r) => r.map(Some),
                            None => self.defer(pid, op),
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
                self.read(pid, node_of(self, handle)?, offset, (count as usize).min(IO_MAX), false, links)
            }
            FsRequest::ReadWindow { handle, offset, count } => {
                let max = (count as usize).min(IO_WINDOW as usize);
                self.read(pid, node_of(self, handle)?, offset, max, true, links)
            }
            FsRequest::Write { handle, data, .. } => self.write(pid, node_of(self, handle)?, data, links),
            FsRequest::WriteWindow { handle, count, .. } => {
                // SAFETY: answering `pid`'s call.
                let window = unsafe { libux::fs::client_window(pid) };
                let data = window.get(..count as usize).ok_or(Errno::InvalidArgument)?.to_vec();
                self.write(pid, node_of(self, handle)?, &data, links)
            }
            FsRequest::Stat { path } => {
                let node = Self::node(path)?;
                let name = path.trim_end_matches('/').rsplit('/').next().filter(|n| !n.is_empty()).unwrap_or("/");
                let dir = matches!(node, Node::Root | Node::Tcp | Node::Dir(_));
                if Self::conn_of(node).is_some_and(|c| !self.conns.contains_key(&c)) {
                    return Err(Errno::NotFound);
                }
                Ok(Some(Answer::Stat((String::from(name), dir, 0))))
            }
            FsRequest::List { path, from } => {
                let all: Vec<(String, bool, u64)> = match Self::node(path)? {
                    Node::Root => vec![("ipifc".into(), false, 0), ("tcp".into(), true, 0)],
                    Node::Tcp => core::iter::once(("clone".into(), false, 0))
                        .chain(self.conns.keys().map(|c| (c.to_string(), true, 0)))
                        .collect(),
                    Node::Dir(c) if self.conns.contains_key(&c) => {
                        CONN_FILES.iter().map(|f| (String::from(*f), false, 0)).collect()
                    }
                    Node::Dir(_) => return Err(Errno::NotFound),
                    _ => return Err(Errno::NotDir),
                };
                let page: Vec<_> = all.iter().skip(from as usize).take(16).cloned().collect();
                let more = from as usize + page.len() < all.len();
                Ok(Some(Answer::Entries(page, more)))
            }
            FsRequest::Truncate { .. } => Ok(Some(Answer::Done)),
            FsRequest::Mkdir { .. } | FsRequest::Remove { .. } | FsRequest::Rename { .. } => Err(Errno::NotPermitted),
        }
    }

    fn read(
        &mut self,
        pid: Pid,
        node: Node,
        offset: u64,
        max: usize,
        window: bool,
        links: &mut [Link],
    ) -> Result<Option<Answer>, Errno> {
        let socket = Self::conn_of(node).and_then(|c| self.conns.get(&c)).map(|c| &*tcp(links, c.socket));
        let (local, remote) = (socket.and_then(|s| s.local_endpoint()), socket.and_then(|s| s.remote_endpoint()));
        let state = socket.map_or(tcp::State::Closed, |s| s.state());
        let answer = match node {
            Node::Data(c) => {
                let mut op = Op::Read { conn: c, max, window };
                return match self.try_op(pid, &mut op, links) {
                    Some(r) => r.map(Some),
                    None => self.defer(pid, op),
                };
            }
            Node::Ctl(c) => text(&format!("{c}\n"), offset, max),
            Node::Local(_) => text(&endpoint(local), offset, max),
            Node::Remote(_) => text(&endpoint(remote), offset, max),
            Node::Status(_) => text(&format!("{state}\n"), offset, max),
            Node::Ipifc => text(&self.ipifc, offset, max),
            Node::Root | Node::Tcp | Node::Dir(_) => return Err(Errno::IsDir),
            Node::Clone | Node::Listen(_) => return Err(Errno::BadHandle),
        };
        deliver(pid, window, Ok(answer)).map(Some)
    }

    fn write(&mut self, pid: Pid, node: Node, data: &[u8], links: &mut [Link]) -> Result<Option<Answer>, Errno> {
        let mut op = match node {
            Node::Data(c) => Op::Write { conn: c, data: data.to_vec() },
            Node::Ctl(c) => {
                let line = core::str::from_utf8(data).map_err(|_| Errno::InvalidArgument)?;
                let ctl = Ctl::parse(line).ok_or(Errno::InvalidArgument)?;
                let conn = self.conns.get_mut(&c).ok_or(Errno::BadHandle)?;
                if conn.announced.is_some() || tcp(links, conn.socket).state() != tcp::State::Closed {
                    return Err(Errno::Busy);
                }
                match ctl {
                    Ctl::Announce(port) => {
                        let mut listeners = Vec::new();
                        for link in 0..links.len() {
                            let s = if link == conn.socket.link { conn.socket } else { new_socket(links, link) };
                            if tcp(links, s).listen(port).is_err() {
                                for l in listeners.iter().chain([&s]).filter(|&&l| l != conn.socket) {
                                    remove_socket(links, *l);
                                }
                                return Err(Errno::InvalidArgument);
                            }
                            listeners.push(s);
                        }
                        conn.announced = Some(Announce { port, listeners, arrived: VecDeque::new() });
                        return Ok(Some(Answer::Count(data.len() as u32)));
                    }
                    Ctl::Connect(to) => {
                        let dest = Ipv4Address::from(to.ip);
                        // The link whose subnet holds the address, else the
                        // first (its default route).
                        let link = links
                            .iter()
                            .position(|l| l.iface.ip_addrs().iter().any(|a| a.contains_addr(&IpAddress::Ipv4(dest))))
                            .unwrap_or(0);
                        if link != conn.socket.link {
                            remove_socket(links, conn.socket);
                            conn.socket = new_socket(links, link);
                        }
                        let remote = IpEndpoint::new(IpAddress::Ipv4(dest), to.port);
                        self.next_port = self.next_port.checked_add(1).unwrap_or(FIRST_EPHEMERAL);
                        let l = &mut links[link];
                        let s = l.sockets.get_mut::<tcp::Socket>(conn.socket.handle);
                        s.connect(l.iface.context(), remote, self.next_port).map_err(|_| Errno::InvalidArgument)?;
                        Op::Connect { conn: c, len: data.len() as u32 }
                    }
                }
            }
            _ => return Err(Errno::BadHandle),
        };
        match self.try_op(pid, &mut op, links) {
            Some(r) => r.map(Some),
            None => self.defer(pid, op),
        }
    }

    /// Tries a call that may wait: `None` if it must wait longer.
    fn try_op(&mut self, pid: Pid, op: &mut Op, links: &mut [Link]) -> Option<Result<Answer, Errno>> {
        let conn_socket = |n: &Net, c: &u32| n.conns.get(c).map(|c| c.socket);
        match op {
            Op::Read { conn, max, window } => {
                let Some(h) = conn_socket(self, conn) else { return Some(Err(Errno::BadHandle)) };
                let s = tcp(links, h);
                if s.can_recv() {
                    let mut buf = vec![0u8; *max];
                    let n = s.recv_slice(&mut buf).unwrap_or(0);
                    buf.truncate(n);
                    Some(deliver(pid, *window, Ok(Answer::Data(buf))))
                } else if !s.may_recv() && s.state() != tcp::State::SynSent && s.state() != tcp::State::Listen {
                    Some(deliver(pid, *window, Ok(Answer::Data(Vec::new()))))
                } else {
                    None
                }
            }
            Op::Write { conn, data } => {
                let Some(h) = conn_socket(self, conn) else { return Some(Err(Errno::BadHandle)) };
                let s = tcp(links, h);
                if s.can_send() {
                    Some(Ok(Answer::Count(s.send_slice(data).unwrap_or(0) as u32)))
                } else if !s.may_send() && s.state() != tcp::State::SynSent {
                    Some(Err(Errno::BrokenPipe))
                } else {
                    None
                }
            }
            Op::Connect { conn, len } => {
                let Some(h) = conn_socket(self, conn) else { return Some(Err(Errno::BadHandle)) };
                match tcp(links, h).state() {
                    tcp::State::Established => Some(Ok(Answer::Count(*len))),
                    tcp::State::SynSent | tcp::State::SynReceived => None,
                    _ => Some(Err(Errno::NotFound)),
                }
            }
            Op::Listen { conn } => {
                let accepted = self.conns.get_mut(conn)?.announced.as_mut()?.arrived.pop_front()?;
                Some(Ok(self.add_handle(pid, Node::Ctl(accepted))))
            }
        }
    }

    fn defer(&mut self, pid: Pid, op: Op) -> Result<Option<Answer>, Errno> {
        let slot = self.slots.save()?;
        self.pending.push(Pending { pid, slot, op });
        Ok(None)
    }

    /// A process makes one call at a time: a new one means the old is over.
    fn forget_pending(&mut self, pid: Pid) {
        let (gone, kept): (Vec<_>, Vec<_>) = self.pending.drain(..).partition(|p| p.pid == pid);
        self.pending = kept;
        for p in gone {
            self.slots.drop_call(p.slot);
        }
    }

    /// After the stack ran: connections that arrived on announced ports
    /// become connections of their own (their port listens anew), closed
    /// sockets go, and waiting calls that can be answered are.
    pub fn poll(&mut self, links: &mut [Link]) {
        let announced: Vec<u32> = self.conns.iter().filter(|(_, c)| c.announced.is_some()).map(|(n, _)| *n).collect();
        for n in announced {
            let listeners = self.conns[&n].announced.as_ref().map_or(Vec::new(), |a| a.listeners.clone());
            for (i, l) in listeners.into_iter().enumerate() {
                let state = tcp(links, l).state();
                if !matches!(state, tcp::State::Established | tcp::State::CloseWait) || self.conns.len() >= MAX_CONNS {
                    continue;
                }
                // The arrived connection keeps the socket; the port gets a
                // new one on that link.
                let fresh = new_socket(links, l.link);
                let port = self.conns[&n].announced.as_ref().map_or(0, |a| a.port);
                if tcp(links, fresh).listen(port).is_err() {
                    remove_socket(links, fresh);
                    continue;
                }
                self.next_conn = self.next_conn.wrapping_add(1);
                while self.conns.contains_key(&self.next_conn) {
                    self.next_conn = self.next_conn.wrapping_add(1);
                }
                let m = self.next_conn;
                self.conns.insert(m, Conn { socket: l, refs: 0, announced: None });
                let c = self.conns.get_mut(&n).expect("listed above");
                if c.socket == l {
                    c.socket = fresh;
                }
                if let Some(a) = c.announced.as_mut() {
                    a.listeners[i] = fresh;
                    a.arrived.push_back(m);
                }
            }
        }
        self.closing.retain(|&s| {
            let done = tcp(links, s).state() == tcp::State::Closed;
            if done {
                remove_socket(links, s);
            }
            !done
        });
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
        let mut pids: Vec<Pid> = self.open.keys().map(|(p, _)| *p).chain(self.pending.iter().map(|p| p.pid)).collect();
        pids.sort_unstable();
        pids.dedup();
        pids
    }
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

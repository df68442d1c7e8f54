//! The sockets behind one `/net` connection, per protocol: what its `ctl`
//! lines, reads and writes do to `smoltcp` sockets on the links (NICs).
//! Knows nothing of files, handles or waiting callers (`net.rs`): an
//! operation that cannot finish yet answers `None`.

use crate::Link;
use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use libux::net::{Addr, Ctl, Datagram, Proto};
use libux::rpc::Errno;
use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::socket::Socket;
use smoltcp::socket::{icmp, tcp, udp};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{Icmpv4Packet, Icmpv4Repr, IpAddress, IpEndpoint, Ipv4Address};

const TCP_BUFFER: usize = 64 * 1024;
/// Seconds without an acknowledgement before a connection is reset.
pub const PEER_TIMEOUT_S: u64 = 20;
/// Seconds of silence before an idle connection is probed, and between
/// probes. smoltcp's timeout counts from the last segment heard, idle or
/// not, so an idle connection lives on its probes' answers: two go out
/// within `PEER_TIMEOUT_S`, so one lost resets nothing (probes every 60
/// s reset every idle mount of a node after 20 s). Every idle connection
/// keeps a probe pending and the clock ticks toward the nearest: a node
/// that had mounted the 63 others of 64 (one `cps`) cost 3.9 % of a
/// host core idle with probes every 5 s, 3.1-3.3 % with 9 s.
const KEEP_ALIVE_S: u64 = 9;
const _: () = assert!(2 * KEEP_ALIVE_S < PEER_TIMEOUT_S);
/// The same for a connection we answered (a server's end): its client
/// probes it (every `KEEP_ALIVE_S` if it is ours), but smoltcp takes a
/// probe it hears for nothing (it is out of the window: neither a sign
/// of life nor a reason to hold its own), so both ends probed every 9 s;
/// a node that had mounted the 63 others of 64 sent and took 12.7
/// segments a second for it. A server's end so probes rarely, and a
/// client that vanished keeps its connection (an `exportfs` child)
/// this long at most.
const ANSWERED_TIMEOUT_S: u64 = 150;
const ANSWERED_KEEP_ALIVE_S: u64 = 60;
const _: () = assert!(2 * ANSWERED_KEEP_ALIVE_S < ANSWERED_TIMEOUT_S);
const DATAGRAMS: usize = 32;
/// Datagrams a UDP socket holds for its reader: the beats of a cluster's
/// period come to its coordinator together (answering its view), 63 at
/// once at 64 nodes.
const DATAGRAMS_IN: usize = 128;
/// How long a UDP socket's send queue may stay non-empty before it is
/// taken for stuck (see [`Kind::unstick`]), in microseconds.
const STUCK_US: u64 = 3_000_000;
const DATAGRAM_BYTES: usize = 32 * 1024;
/// The largest UDP payload or echo data one Ethernet frame carries (no
/// IP fragmentation).
pub const DATAGRAM_MAX: usize = 1500 - 20 - 8;

/// A socket of one of the links.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sock {
    pub link: usize,
    pub handle: SocketHandle,
}

/// A socket to change: its link has work (`Link::dirty`).
fn touch(links: &mut [Link], s: Sock) -> &mut SocketSet<'static> {
    let l = &mut links[s.link];
    l.dirty = true;
    &mut l.sockets
}

pub fn tcp(links: &mut [Link], s: Sock) -> &mut tcp::Socket<'static> {
    touch(links, s).get_mut::<tcp::Socket>(s.handle)
}

/// A TCP socket's state, looked at only (its link gets no work).
pub fn tcp_state(links: &[Link], s: Sock) -> tcp::State {
    links[s.link].sockets.get::<tcp::Socket>(s.handle).state()
}

fn udp(links: &mut [Link], s: Sock) -> &mut udp::Socket<'static> {
    touch(links, s).get_mut::<udp::Socket>(s.handle)
}

fn icmp(links: &mut [Link], s: Sock) -> &mut icmp::Socket<'static> {
    touch(links, s).get_mut::<icmp::Socket>(s.handle)
}

/// Which end of a connection a TCP socket is to be: how often it probes
/// its peer when idle.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum End {
    Dials,
    Answers,
}

pub fn new_tcp(links: &mut [Link], link: usize, end: End) -> Sock {
    let rx = tcp::SocketBuffer::new(vec![0; TCP_BUFFER]);
    let tx = tcp::SocketBuffer::new(vec![0; TCP_BUFFER]);
    let mut socket = tcp::Socket::new(rx, tx);
    // Writes come whole from files (a 9P reply, a window of a stream):
    // holding back their last short segment for an ACK only adds a round
    // trip (and the peer may delay that ACK).
    socket.set_nagle_enabled(false);
    probe_as(&mut socket, end);
    add(links, link, socket)
}

/// A peer that stopped answering (a node that died) resets the
/// connection instead of leaving its reader waiting for ever; idle
/// connections are probed so that this is noticed too, as often as the
/// socket's `end` calls for.
fn probe_as(socket: &mut tcp::Socket, end: End) {
    let (timeout, keep_alive) = match end {
        End::Dials => (PEER_TIMEOUT_S, KEEP_ALIVE_S),
        End::Answers => (ANSWERED_TIMEOUT_S, ANSWERED_KEEP_ALIVE_S),
    };
    socket.set_timeout(Some(Duration::from_secs(timeout)));
    socket.set_keep_alive(Some(Duration::from_secs(keep_alive)));
}

/// A new socket of `link` (which so has work).
fn add(links: &mut [Link], link: usize, socket: impl smoltcp::socket::AnySocket<'static>) -> Sock {
    let l = &mut links[link];
    l.dirty = true;
    Sock { link, handle: l.sockets.add(socket) }
}

fn new_udp(links: &mut [Link], link: usize) -> Sock {
    let buffer = |n| udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; n], vec![0; DATAGRAM_BYTES]);
    add(links, link, udp::Socket::new(buffer(DATAGRAMS_IN), buffer(DATAGRAMS)))
}

fn new_icmp(links: &mut [Link], link: usize) -> Sock {
    let buffer = || icmp::PacketBuffer::new(vec![icmp::PacketMetadata::EMPTY; 8], vec![0; 8 * 1024]);
    add(links, link, icmp::Socket::new(buffer(), buffer()))
}

/// Whether a TCP socket and whether a UDP socket of `link` hold `port`.
pub fn port_users(link: &Link, port: u16) -> (bool, bool) {
    let (mut tcp, mut udp) = (false, false);
    for (_, s) in link.sockets.iter() {
        match s {
            Socket::Tcp(t) => {
                tcp |= t.local_endpoint().map(|e| e.port) == Some(port) || t.listen_endpoint().port == port
            }
            Socket::Udp(u) => udp |= u.endpoint().port == port,
            _ => {}
        }
    }
    (tcp, udp)
}

/// Whether some TCP socket of `link` listens on `port` (an announcement
/// holds it; connections that arrived on it earlier do not).
fn tcp_listens(link: &Link, port: u16) -> bool {
    link.sockets.iter().any(|(_, s)| match s {
        Socket::Tcp(t) => t.state() == tcp::State::Listen && t.listen_endpoint().port == port,
        _ => false,
    })
}

pub fn remove(links: &mut [Link], s: Sock) {
    touch(links, s).remove(s.handle);
}

/// The link whose subnet holds `ip`, else the first (its default route).
fn link_for(links: &[Link], ip: Ipv4Address) -> usize {
    links.iter().position(|l| l.iface.ip_addrs().iter().any(|a| a.contains_addr(&IpAddress::Ipv4(ip)))).unwrap_or(0)
}

fn addr_text(e: Option<IpEndpoint>) -> String {
    match e {
        Some(IpEndpoint { addr: IpAddress::Ipv4(a), port }) => format!("{}\n", Addr { ip: a.octets(), port }),
        _ => String::from("none\n"),
    }
}

/// Listening sockets per link of an announced TCP port: connections that
/// arrive together (SYNs before the first is accepted) each find one.
pub const LISTENERS_PER_LINK: usize = 4;

/// An announced TCP port.
pub struct Announce {
    pub port: u16,
    /// `LISTENERS_PER_LINK` listening sockets on every link.
    pub listeners: Vec<Sock>,
    /// Connections that arrived but no `listen` has taken yet.
    pub arrived: VecDeque<u32>,
}

pub enum Kind {
    Tcp {
        socket: Sock,
        announced: Option<Announce>,
    },
    /// No socket until `ctl` says: then one (connected) or one per link
    /// (announced, `remote` none).
    Udp {
        sockets: Vec<Sock>,
        remote: Option<IpEndpoint>,
        /// Since when each socket's send queue has not been empty (see
        /// [`Kind::unstick`]).
        busy_since: Vec<Option<u64>>,
        /// Datagrams received by a socket that was replaced (sender,
        /// payload): read first.
        held: VecDeque<(IpEndpoint, Vec<u8>)>,
        /// Reads give a `libux::net::Batch` (`ctl` `batch`).
        batch: bool,
    },
    Icmp {
        socket: Option<Sock>,
        remote: Option<Ipv4Address>,
        ident: u16,
        seq: u16,
    },
}

/// What a `ctl` line started.
pub enum Started {
    Done,
    /// A TCP connect: done once the state is known.
    Connecting,
}

impl Kind {
    pub fn new(proto: Proto, links: &mut [Link], ident: u16) -> Kind {
        match proto {
            Proto::Tcp => Kind::Tcp { socket: new_tcp(links, 0, End::Dials), announced: None },
            Proto::Udp => Kind::Udp {
                sockets: Vec::new(),
                remote: None,
                busy_since: Vec::new(),
                held: VecDeque::new(),
                batch: false,
            },
            Proto::Icmp => Kind::Icmp { socket: None, remote: None, ident, seq: 0 },
        }
    }

    pub fn proto(&self) -> Proto {
        match self {
            Kind::Tcp { .. } => Proto::Tcp,
            Kind::Udp { .. } => Proto::Udp,
            Kind::Icmp { .. } => Proto::Icmp,
        }
    }

    /// Whether a `ctl` line has set this connection up already.
    fn set_up(&self, links: &mut [Link]) -> bool {
        match self {
            Kind::Tcp { socket, announced } => announced.is_some() || tcp(links, *socket).state() != tcp::State::Closed,
            Kind::Udp { sockets, .. } => !sockets.is_empty(),
            Kind::Icmp { socket, .. } => socket.is_some(),
        }
    }

    /// Acts on a `ctl` line at `now`; `port` is a free ephemeral port (for
    /// a `connect` of TCP or UDP).
    pub fn ctl(&mut self, ctl: Ctl, links: &mut [Link], port: u16, now: Instant) -> Result<Started, Errno> {
        // Before or after the connection's set up.
        if ctl == Ctl::Batch {
            let Kind::Udp { batch, .. } = self else { return Err(Errno::InvalidArgument) };
            *batch = true;
            return Ok(Started::Done);
        }
        if self.set_up(links) {
            return Err(Errno::Busy);
        }
        match (self, ctl) {
            (Kind::Tcp { socket, announced }, Ctl::Announce(p)) => {
                // One announcement a port: a second would take the new
                // connections of the first (its clients' data with them).
                if links.iter().any(|l| tcp_listens(l, p)) {
                    return Err(Errno::Busy);
                }
                let mut listeners = Vec::new();
                for (link, k) in (0..links.len()).flat_map(|l| (0..LISTENERS_PER_LINK).map(move |k| (l, k))) {
                    // The socket made to dial listens instead.
                    let s = if link == socket.link && k == 0 {
                        probe_as(tcp(links, *socket), End::Answers);
                        *socket
                    } else {
                        new_tcp(links, link, End::Answers)
                    };
                    listeners.push(s);
                    if tcp(links, s).listen(p).is_err() {
                        for &l in listeners.iter().filter(|&&l| l != *socket) {
                            remove(links, l);
                        }
                        return Err(Errno::InvalidArgument);
                    }
                }
                *announced = Some(Announce { port: p, listeners, arrived: VecDeque::new() });
                Ok(Started::Done)
            }
            (Kind::Tcp { socket, .. }, Ctl::Connect(to)) => {
                let dest = Ipv4Address::from(to.ip);
                let link = link_for(links, dest);
                if link != socket.link {
                    remove(links, *socket);
                    *socket = new_tcp(links, link, End::Dials);
                }
                let l = &mut links[link];
                l.dirty = true;
                let s = l.sockets.get_mut::<tcp::Socket>(socket.handle);
                let remote = IpEndpoint::new(IpAddress::Ipv4(dest), to.port);
                s.connect(l.iface.context(), remote, port).map_err(|_| Errno::InvalidArgument)?;
                // Its neighbour asked for by us at once, not by the stack,
                // which asks for one a second (`glean`).
                l.nic.ask(dest, now);
                Ok(Started::Connecting)
            }
            (Kind::Udp { sockets, remote, .. }, Ctl::Connect(to)) => {
                let dest = Ipv4Address::from(to.ip);
                let s = new_udp(links, link_for(links, dest));
                if udp(links, s).bind(port).is_err() {
                    remove(links, s);
                    return Err(Errno::InvalidArgument);
                }
                sockets.push(s);
                *remote = Some(IpEndpoint::new(IpAddress::Ipv4(dest), to.port));
                Ok(Started::Done)
            }
            (Kind::Udp { sockets, .. }, Ctl::Announce(p)) => {
                if links.iter().any(|l| port_users(l, p).1) {
                    return Err(Errno::Busy);
                }
                for link in 0..links.len() {
                    let s = new_udp(links, link);
                    sockets.push(s);
                    if udp(links, s).bind(p).is_err() {
                        for s in sockets.drain(..) {
                            remove(links, s);
                        }
                        return Err(Errno::InvalidArgument);
                    }
                }
                Ok(Started::Done)
            }
            (Kind::Icmp { socket, remote, ident, .. }, Ctl::ConnectHost(ip)) => {
                let dest = Ipv4Address::from(ip);
                let s = new_icmp(links, link_for(links, dest));
                if icmp(links, s).bind(icmp::Endpoint::Ident(*ident)).is_err() {
                    remove(links, s);
                    return Err(Errno::InvalidArgument);
                }
                *socket = Some(s);
                *remote = Some(dest);
                Ok(Started::Done)
            }
            _ => Err(Errno::InvalidArgument),
        }
    }

    /// Whether a TCP connect that began `waited_us` ago finished: `None`
    /// while it goes on. It fails early only on a reset (nothing listens
    /// there), and otherwise after the peer timeout; a connection the
    /// peer closed already (a banner and goodbye) was made all the same.
    pub fn connected(&self, links: &mut [Link], waited_us: u64) -> Option<Result<(), Errno>> {
        let Kind::Tcp { socket, .. } = self else { return Some(Err(Errno::InvalidArgument)) };
        match tcp(links, *socket).state() {
            tcp::State::SynSent | tcp::State::SynReceived => None,
            tcp::State::Closed | tcp::State::Listen if waited_us >= PEER_TIMEOUT_S * 1_000_000 => {
                Some(Err(Errno::TimedOut))
            }
            tcp::State::Closed | tcp::State::Listen => Some(Err(Errno::Refused)),
            _ => Some(Ok(())),
        }
    }

    /// Reads at most `max` bytes: stream bytes (empty at the end), one
    /// whole datagram or echo reply, or (after `batch`) every datagram
    /// waiting that fits, one at least. A first datagram that does not fit is
    /// dropped and the read fails `TooLarge`: never cut, and never left
    /// at the head where every later read would fail on it (anyone on
    /// the segment may send one). `None`: nothing to read yet.
    pub fn read(&mut self, max: usize, links: &mut [Link]) -> Option<Result<Vec<u8>, Errno>> {
        match self {
            Kind::Tcp { socket, .. } => {
                let s = tcp(links, *socket);
                if s.can_recv() {
                    let mut buf = vec![0u8; max.min(s.recv_queue())];
                    let n = s.recv_slice(&mut buf).unwrap_or(0);
                    buf.truncate(n);
                    Some(Ok(buf))
                } else if !s.may_recv() && !matches!(s.state(), tcp::State::SynSent | tcp::State::Listen) {
                    Some(Ok(Vec::new()))
                } else {
                    None
                }
            }
            Kind::Udp { sockets, .. } if sockets.is_empty() => Some(Err(Errno::InvalidArgument)),
            Kind::Udp { sockets, remote, held, batch, .. } => {
                let (remote, batch) = (*remote, *batch);
                let mut out = Vec::new();
                let mut taken = 0;
                loop {
                    // The next datagram: one held, else a socket's.
                    let next = match held.front() {
                        Some((from, payload)) => Some((framed(*from, payload, remote, batch), None)),
                        None => sockets.iter().find_map(|&s| {
                            head(udp(links, s), remote).map(|(from, p)| (framed(from, p, remote, batch), Some(s)))
                        }),
                    };
                    let Some((bytes, sock)) = next else { break };
                    let fits = out.len() + bytes.len() <= max;
                    if !fits && taken > 0 {
                        // The next read's.
                        break;
                    }
                    match sock {
                        Some(s) => drop(udp(links, s).recv()),
                        None => drop(held.pop_front()),
                    }
                    if !fits {
                        return Some(Err(Errno::TooLarge));
                    }
                    if taken == 0 {
                        out = bytes;
                    } else {
                        out.extend_from_slice(&bytes);
                    }
                    taken += 1;
                    if !batch {
                        break;
                    }
                }
                (taken > 0).then_some(Ok(out))
            }
            Kind::Icmp { socket: Some(sock), ident, .. } => {
                let s = icmp(links, *sock);
                while let Ok((packet, _)) = s.recv() {
                    let Ok(p) = Icmpv4Packet::new_checked(packet) else { continue };
                    let Ok(Icmpv4Repr::EchoReply { ident: i, data, .. }) =
                        Icmpv4Repr::parse(&p, &ChecksumCapabilities::default())
                    else {
                        continue;
                    };
                    // Not ours, or larger than what the reader asked for
                    // (so not an answer to what it sent): skipped.
                    if i != *ident || data.len() > max {
                        continue;
                    }
                    return Some(Ok(data.to_vec()));
                }
                None
            }
            Kind::Icmp { socket: None, .. } => Some(Err(Errno::InvalidArgument)),
        }
    }

    /// Writes stream bytes (as many as fit: the count), one datagram (an
    /// announced port's carries a [`Datagram`] header) or one echo
    /// request. `None`: no room yet.
    pub fn write(&mut self, data: &[u8], links: &mut [Link]) -> Option<Result<u32, Errno>> {
        match self {
            Kind::Tcp { socket, .. } => {
                let s = tcp(links, *socket);
                if s.can_send() {
                    Some(Ok(s.send_slice(data).unwrap_or(0) as u32))
                } else if !s.may_send() && s.state() != tcp::State::SynSent {
                    Some(Err(Errno::BrokenPipe))
                } else {
                    None
                }
            }
            Kind::Udp { sockets, remote, .. } => {
                let (to, payload) = match *remote {
                    Some(r) => (r, data),
                    None => {
                        let Some(d) = Datagram::parse(data) else { return Some(Err(Errno::InvalidArgument)) };
                        (IpEndpoint::new(IpAddress::Ipv4(Ipv4Address::from(d.peer.ip)), d.peer.port), d.payload)
                    }
                };
                if payload.len() > DATAGRAM_MAX {
                    return Some(Err(Errno::TooLarge));
                }
                let IpAddress::Ipv4(dest) = to.addr;
                let link = link_for(links, dest);
                let Some(&sock) = sockets.iter().find(|s| s.link == link).or(sockets.first()) else {
                    return Some(Err(Errno::InvalidArgument));
                };
                let s = udp(links, sock);
                if !s.can_send() || s.payload_send_capacity() < payload.len() {
                    return None;
                }
                Some(s.send_slice(payload, to).map(|()| data.len() as u32).map_err(|_| Errno::InvalidArgument))
            }
            Kind::Icmp { socket: Some(sock), remote: Some(dest), ident, seq } => {
                if data.len() > DATAGRAM_MAX {
                    return Some(Err(Errno::TooLarge));
                }
                let repr = Icmpv4Repr::EchoRequest { ident: *ident, seq_no: *seq, data };
                let s = icmp(links, *sock);
                if !s.can_send() {
                    return None;
                }
                let Ok(buf) = s.send(repr.buffer_len(), IpAddress::Ipv4(*dest)) else {
                    return Some(Err(Errno::InvalidArgument));
                };
                repr.emit(&mut Icmpv4Packet::new_unchecked(buf), &ChecksumCapabilities::default());
                *seq = seq.wrapping_add(1);
                Some(Ok(data.len() as u32))
            }
            Kind::Icmp { .. } => Some(Err(Errno::InvalidArgument)),
        }
    }

    /// `local`, `remote` and `status`, as their files say them.
    pub fn describe(&self, links: &mut [Link]) -> (String, String, String) {
        match self {
            Kind::Tcp { socket, .. } => {
                let s = tcp(links, *socket);
                (addr_text(s.local_endpoint()), addr_text(s.remote_endpoint()), format!("{}\n", s.state()))
            }
            Kind::Udp { sockets, remote, .. } => {
                let local = sockets.first().map(|&s| {
                    let port = udp(links, s).endpoint().port;
                    let ip = links[s.link].iface.ipv4_addr().unwrap_or(Ipv4Address::UNSPECIFIED);
                    IpEndpoint::new(IpAddress::Ipv4(ip), port)
                });
                let status = match (sockets.is_empty(), remote) {
                    (true, _) => "Closed",
                    (false, Some(_)) => "Connected",
                    (false, None) => "Announced",
                };
                (addr_text(local), addr_text(*remote), format!("{status}\n"))
            }
            Kind::Icmp { remote, ident, .. } => {
                let peer = remote.map_or(String::from("none\n"), |r| format!("{r}\n"));
                (
                    format!("ident {ident}\n"),
                    peer,
                    String::from(if remote.is_some() { "Connected\n" } else { "Closed\n" }),
                )
            }
        }
    }

    /// A UDP socket whose send queue has not emptied for [`STUCK_US`] is
    /// stuck behind a datagram to a neighbour that never answers ARP (a
    /// node that died): smoltcp keeps that datagram at the head of the
    /// queue for ever, and every later one, to anyone, waits behind it.
    /// Such a socket is replaced by a fresh one on the same port: what it
    /// was sending is dropped (datagrams may be lost), what it had
    /// received is kept for the reader. How many sockets were replaced.
    pub fn unstick(&mut self, links: &mut [Link], now_us: u64) -> usize {
        let Kind::Udp { sockets, remote, busy_since, held, .. } = self else { return 0 };
        busy_since.resize(sockets.len(), None);
        let mut replaced = 0;
        for (sock, since) in sockets.iter_mut().zip(busy_since.iter_mut()) {
            if links[sock.link].sockets.get::<udp::Socket>(sock.handle).send_queue() == 0 {
                *since = None;
                continue;
            }
            let t = *since.get_or_insert(now_us);
            if now_us.saturating_sub(t) < STUCK_US {
                continue;
            }
            while let Some((from, payload)) = head(udp(links, *sock), *remote) {
                held.push_back((from, payload.to_vec()));
                let _ = udp(links, *sock).recv();
            }
            let endpoint = udp(links, *sock).endpoint();
            let fresh = new_udp(links, sock.link);
            if udp(links, fresh).bind(endpoint).is_err() {
                remove(links, fresh);
                continue;
            }
            remove(links, *sock);
            *sock = fresh;
            *since = None;
            replaced += 1;
        }
        replaced
    }

    /// Lets the sockets go: a TCP socket closes (FIN) and is returned, to
    /// be removed once closed; the others go at once.
    pub fn close(self, links: &mut [Link]) -> Option<Sock> {
        match self {
            Kind::Tcp { socket, .. } => {
                tcp(links, socket).close();
                return Some(socket);
            }
            Kind::Udp { sockets, .. } => sockets.into_iter().for_each(|s| remove(links, s)),
            Kind::Icmp { socket, .. } => socket.into_iter().for_each(|s| remove(links, s)),
        }
        None
    }
}

/// The next datagram of `s` a read may give (a connected port's from its
/// peer only: others' are dropped on the way), left on the socket: its
/// sender and payload.
fn head<'s>(s: &'s mut udp::Socket<'static>, remote: Option<IpEndpoint>) -> Option<(IpEndpoint, &'s [u8])> {
    while let Ok((_, meta)) = s.peek() {
        if remote.is_some_and(|r| r != meta.endpoint) {
            let _ = s.recv();
            continue;
        }
        break;
    }
    s.peek().ok().map(|(payload, meta)| (meta.endpoint, payload))
}

/// A datagram as a read gives it: a connected port's payload alone, an
/// announced port's after its `Datagram` header, and any port's as one of
/// a `Batch` after `batch`.
fn framed(from: IpEndpoint, payload: &[u8], remote: Option<IpEndpoint>, batch: bool) -> Vec<u8> {
    let IpAddress::Ipv4(ip) = from.addr;
    let d = Datagram { peer: Addr { ip: ip.octets(), port: from.port }, payload };
    match (batch, remote) {
        (true, _) => d.to_batched(),
        (false, Some(_)) => payload.to_vec(),
        (false, None) => d.to_bytes(),
    }
}

//! Networking as files: what the `/net` files (served by `netstack`) take
//! and give, as text in the Plan 9 forms, defined once for the server and
//! its clients: addresses are `A.B.C.D!PORT`; a connection's `ctl` takes
//! `connect A.B.C.D!PORT` (`connect A.B.C.D` for ICMP) or `announce
//! PORT`, a UDP connection's `batch`, a TCP connection's `hangup`; dial strings are
//! `PROTO!A.B.C.D!PORT` (and `PROTO!*!PORT` to announce) for `tcp` and
//! `udp`, `icmp!A.B.C.D` for echo. A datagram read from or written to an
//! announced UDP port carries the peer's address first as a [`Datagram`]
//! header line; after `batch`, a read gives a [`Batch`] of them. [`client`]
//! has `dial`, `announce` and `listen` on top of those files.

#[cfg(target_arch = "x86_64")]
pub mod client;

/// An IPv4 address and port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Addr {
    pub ip: [u8; 4],
    pub port: u16,
}

impl core::fmt::Display for Addr {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let [a, b, c, d] = self.ip;
        write!(f, "{a}.{b}.{c}.{d}!{}", self.port)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ctl {
    Connect(Addr),
    /// A connection to a host, not a port (ICMP echo).
    ConnectHost([u8; 4]),
    Announce(u16),
    /// A UDP connection's reads give every datagram waiting that fits,
    /// as a [`Batch`], not one per read: a reader woken for one takes
    /// those that came with it in the same call.
    Batch,
    /// Ends a TCP connection now, as closing its files would (the peer
    /// sees its end), though its files stay open: its data's reads and
    /// writes fail (Plan 9's `hangup`; here it also gives the
    /// connection's place among the node's back).
    Hangup,
}

/// The protocols under `/net`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Proto {
    Tcp,
    Udp,
    Icmp,
}

impl Proto {
    pub const ALL: [Proto; 3] = [Proto::Tcp, Proto::Udp, Proto::Icmp];

    /// Its directory under `/net` and its dial-string prefix.
    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Icmp => "icmp",
        }
    }

    pub fn parse(name: &str) -> Option<Proto> {
        Proto::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// A UDP datagram on an announced port: `A.B.C.D!PORT\n` (the peer it
/// came from or goes to), then the payload.
pub struct Datagram<'a> {
    pub peer: Addr,
    pub payload: &'a [u8],
}

/// The longest header line, newline included.
pub const DATAGRAM_HEADER_MAX: usize = "255.255.255.255!65535\n".len();

impl<'a> Datagram<'a> {
    pub fn parse(bytes: &'a [u8]) -> Option<Datagram<'a>> {
        let end = bytes.iter().take(DATAGRAM_HEADER_MAX).position(|&b| b == b'\n')?;
        let peer = Addr::parse(core::str::from_utf8(&bytes[..end]).ok()?)?;
        Some(Datagram { peer, payload: &bytes[end + 1..] })
    }

    /// The header line and the payload, as one read or write.
    pub fn to_bytes(&self) -> alloc::vec::Vec<u8> {
        self.after(alloc::format!("{}\n", self.peer))
    }

    /// It as one of a [`Batch`]: `A.B.C.D!PORT N\n` and the N bytes.
    pub fn to_batched(&self) -> alloc::vec::Vec<u8> {
        self.after(alloc::format!("{} {}\n", self.peer, self.payload.len()))
    }

    /// `header`, then the payload.
    fn after(&self, header: alloc::string::String) -> alloc::vec::Vec<u8> {
        let mut out = header.into_bytes();
        out.extend_from_slice(self.payload);
        out
    }
}

/// The longest header line of a datagram in a [`Batch`].
pub const BATCHED_HEADER_MAX: usize = "255.255.255.255!65535 65535\n".len();

/// What a read of a UDP connection gives after `batch`: one or more
/// datagrams, each `A.B.C.D!PORT N\n` (the peer, the payload's length)
/// and its N payload bytes, as many whole ones as the read's count
/// holds. Iterating stops at the end or at bytes not in that form.
pub struct Batch<'a> {
    rest: &'a [u8],
}

impl<'a> Batch<'a> {
    pub fn new(bytes: &'a [u8]) -> Batch<'a> {
        Batch { rest: bytes }
    }
}

impl<'a> Iterator for Batch<'a> {
    type Item = Datagram<'a>;

    fn next(&mut self) -> Option<Datagram<'a>> {
        let next = (|| {
            let end = self.rest.iter().take(BATCHED_HEADER_MAX).position(|&b| b == b'\n')?;
            let (peer, len) = core::str::from_utf8(&self.rest[..end]).ok()?.split_once(' ')?;
            if len.is_empty() || !len.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let len: u16 = len.parse().ok()?;
            let payload = self.rest.get(end + 1..end + 1 + len as usize)?;
            Some((Datagram { peer: Addr::parse(peer)?, payload }, end + 1 + len as usize))
        })();
        let Some((d, used)) = next else {
            self.rest = &[];
            return None;
        };
        self.rest = &self.rest[used..];
        Some(d)
    }
}

fn ip(text: &str) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut parts = text.split('.');
    for b in &mut out {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        *b = p.parse().ok()?;
    }
    parts.next().is_none().then_some(out)
}

fn port(text: &str) -> Option<u16> {
    text.parse().ok().filter(|&p| p != 0)
}

impl Addr {
    pub fn parse(text: &str) -> Option<Addr> {
        let (host, p) = text.split_once('!')?;
        Some(Addr { ip: ip(host)?, port: port(p)? })
    }
}

impl Ctl {
    pub fn parse(text: &str) -> Option<Ctl> {
        let mut words = text.split_whitespace();
        let ctl = match (words.next()?, words.next()) {
            ("batch", None) => return Some(Ctl::Batch),
            ("hangup", None) => return Some(Ctl::Hangup),
            ("connect", Some(a)) if !a.contains('!') => Ctl::ConnectHost(ip(a)?),
            ("connect", Some(a)) => Ctl::Connect(Addr::parse(a)?),
            ("announce", Some(p)) => Ctl::Announce(port(p)?),
            _ => return None,
        };
        words.next().is_none().then_some(ctl)
    }
}

impl core::fmt::Display for Ctl {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Ctl::Connect(a) => write!(f, "connect {a}"),
            Ctl::ConnectHost([a, b, c, d]) => write!(f, "connect {a}.{b}.{c}.{d}"),
            Ctl::Announce(port) => write!(f, "announce {port}"),
            Ctl::Batch => write!(f, "batch"),
            Ctl::Hangup => write!(f, "hangup"),
        }
    }
}

/// One NIC's line of `/net/stats`:
/// `nicK rx FRAMES tx FRAMES ringfull TIMES runts FRAMES irq TIMES`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NicStats {
    pub nic: usize,
    pub rx_frames: u64,
    pub tx_frames: u64,
    /// Times the receive ring was found full (frames then waited in the
    /// device or were dropped there).
    pub rx_ring_full: u64,
    /// Frames too short to carry a frame, dropped.
    pub rx_runts: u64,
    /// Interrupts the NIC raised (its status said so when its line
    /// fired): none while frames come means its interrupt is not where
    /// the driver waits.
    pub interrupts: u64,
}

impl core::fmt::Display for NicStats {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let NicStats { nic, rx_frames, tx_frames, rx_ring_full, rx_runts, interrupts } = self;
        writeln!(f, "nic{nic} rx {rx_frames} tx {tx_frames} ringfull {rx_ring_full} runts {rx_runts} irq {interrupts}")
    }
}

impl NicStats {
    pub fn parse(line: &str) -> Option<NicStats> {
        let mut w = line.split_whitespace();
        let nic = w.next()?.strip_prefix("nic")?.parse().ok()?;
        let mut field = |name: &str| w.next().filter(|&n| n == name).and_then(|_| w.next()?.parse().ok());
        let s = NicStats {
            nic,
            rx_frames: field("rx")?,
            tx_frames: field("tx")?,
            rx_ring_full: field("ringfull")?,
            rx_runts: field("runts")?,
            interrupts: field("irq")?,
        };
        w.next().is_none().then_some(s)
    }
}

/// How `netstack`'s clock wakes it for its timers (`/net/clock`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockWake {
    /// Its periodic interrupt, this many times a second.
    Periodic(u32),
    /// Its alarm, once a minute (a timer minutes or hours off).
    Minutely,
    /// Not at all: no timer.
    Never,
}

/// `/net/clock`, one line: `wake periodic HZ ticks N`, `wake minutely
/// ticks N` or `wake never ticks N` (N: the clock's interrupts so far).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockStats {
    pub wake: ClockWake,
    pub ticks: u64,
}

impl core::fmt::Display for ClockStats {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.wake {
            ClockWake::Periodic(hz) => write!(f, "wake periodic {hz}")?,
            ClockWake::Minutely => write!(f, "wake minutely")?,
            ClockWake::Never => write!(f, "wake never")?,
        }
        writeln!(f, " ticks {}", self.ticks)
    }
}

impl ClockStats {
    pub fn parse(line: &str) -> Option<ClockStats> {
        let words: alloc::vec::Vec<&str> = line.split_whitespace().collect();
        let (wake, rest) = match words.as_slice() {
            ["wake", "periodic", hz, rest @ ..] => (ClockWake::Periodic(hz.parse().ok()?), rest),
            ["wake", "minutely", rest @ ..] => (ClockWake::Minutely, rest),
            ["wake", "never", rest @ ..] => (ClockWake::Never, rest),
            _ => return None,
        };
        match rest {
            ["ticks", n] => Some(ClockStats { wake, ticks: n.parse().ok()? }),
            _ => None,
        }
    }
}

/// A dial string `PROTO!HOST!PORT` (`icmp!HOST`): the protocol and the
/// `ctl` line that dials it.
pub fn dial(text: &str) -> Option<(Proto, Ctl)> {
    let (proto, rest) = text.split_once('!')?;
    let proto = Proto::parse(proto)?;
    let ctl = match (proto, rest.split_once('!')) {
        (Proto::Icmp, None) => Ctl::ConnectHost(ip(rest)?),
        (Proto::Icmp, Some(_)) | (_, None) => return None,
        (_, Some(("*", p))) => Ctl::Announce(port(p)?),
        (_, Some(_)) => Ctl::Connect(Addr::parse(rest)?),
    };
    Some((proto, ctl))
}

/// Whether `opener` may open the `ctl`, `data` or `listen` of a
/// connection `maker` made (none: nobody's), as `may_act(actor, target)`
/// (`Request::MayAct`) answers: if it may act on the maker (the maker
/// itself, or anyone not restricted to its own processes), or if the
/// maker is so restricted and `opener` is one of its own (a child given
/// its descriptors). A restricted opener so reaches only its own tree's
/// connections, and nobody reaches a restricted tree's from outside it
/// but those who may act on it.
pub fn may_open_conn(
    opener: crate::rpc::Pid,
    maker: Option<crate::rpc::Pid>,
    may_act: impl Fn(crate::rpc::Pid, Option<crate::rpc::Pid>) -> bool,
) -> bool {
    if maker == Some(opener) || may_act(opener, maker) {
        return true;
    }
    // `MayAct` with no target refuses a restricted actor only.
    maker.is_some_and(|m| !may_act(m, None) && may_act(m, Some(opener)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_open_for_their_tree_and_who_may_act_on_it() {
        use crate::rpc::Pid;
        // 1 the console's shell, 2 an export listener (unrestricted), 3
        // and 4 its restricted children (one per client), 5 a child of 3.
        let parent = |p: Pid| match p {
            3 | 4 => 2,
            5 => 3,
            _ => 0,
        };
        let restricted = |p: Pid| matches!(p, 3..=5);
        let may_act = |actor: Pid, target: Option<Pid>| match target {
            None => !restricted(actor),
            Some(t) if t == actor || !restricted(actor) => true,
            Some(t) => core::iter::successors(Some(t), |&p| Some(parent(p)).filter(|&q| q != 0)).any(|p| p == actor),
        };
        let may = |opener, maker| may_open_conn(opener, maker, may_act);
        assert!(may(2, Some(2)) && may(1, Some(2)) && may(3, Some(3)));
        // A child of a restricted maker, given its descriptors.
        assert!(may(5, Some(3)));
        // A restricted sibling, or one from outside the tree: no.
        assert!(!may(4, Some(3)) && !may(3, Some(2)) && !may(5, Some(4)));
        // Unrestricted processes reach a restricted tree's connections.
        assert!(may(1, Some(3)) && may(2, Some(5)));
        // Nobody's (waiting in its listener, or its maker ended).
        assert!(may(1, None) && !may(3, None));
    }

    #[test]
    fn ctl_lines() {
        let a = Addr { ip: [10, 0, 2, 2], port: 8080 };
        assert_eq!(Ctl::parse("connect 10.0.2.2!8080\n"), Some(Ctl::Connect(a)));
        assert_eq!(Ctl::parse("announce 564"), Some(Ctl::Announce(564)));
        assert_eq!(Ctl::parse("connect 10.1.0.2"), Some(Ctl::ConnectHost([10, 1, 0, 2])));
        assert_eq!(Ctl::parse("batch\n"), Some(Ctl::Batch));
        assert_eq!(Ctl::parse("hangup\n"), Some(Ctl::Hangup));
        assert_eq!(alloc::format!("{a}"), "10.0.2.2!8080");
        for ctl in [Ctl::Connect(a), Ctl::ConnectHost([10, 1, 0, 2]), Ctl::Announce(564), Ctl::Batch, Ctl::Hangup] {
            assert_eq!(Ctl::parse(&alloc::format!("{ctl}")), Some(ctl));
        }
        for bad in [
            "",
            "connect",
            "connect 10.0.2",
            "connect 10.0.2!80",
            "connect 10.0.2.256!80",
            "connect 1.2.3.4!0",
            "connect 1.2.3.4!65536",
            "connect +1.2.3.4!80",
            "announce 0",
            "announce x",
            "announce 7 extra",
            "batch 1",
            "hangup now",
        ] {
            assert_eq!(Ctl::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn dial_strings() {
        let a = Addr { ip: [10, 0, 2, 2], port: 7 };
        assert_eq!(dial("tcp!10.0.2.2!7"), Some((Proto::Tcp, Ctl::Connect(a))));
        assert_eq!(dial("tcp!*!564"), Some((Proto::Tcp, Ctl::Announce(564))));
        assert_eq!(dial("udp!10.0.2.2!7"), Some((Proto::Udp, Ctl::Connect(a))));
        assert_eq!(dial("udp!*!7"), Some((Proto::Udp, Ctl::Announce(7))));
        assert_eq!(dial("icmp!10.1.0.2"), Some((Proto::Icmp, Ctl::ConnectHost([10, 1, 0, 2]))));
        for bad in ["tcp!host!7", "tcp!1.2.3.4", "icmp!1.2.3.4!7", "icmp!*!7", "sctp!1.2.3.4!7", "tcp", ""] {
            assert_eq!(dial(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn nic_stats_lines() {
        let s = NicStats { nic: 1, rx_frames: 617, tx_frames: 600, rx_ring_full: 292, rx_runts: 0, interrupts: 450 };
        let line = alloc::format!("{s}");
        assert_eq!(line, "nic1 rx 617 tx 600 ringfull 292 runts 0 irq 450\n");
        assert_eq!(NicStats::parse(&line), Some(s));
        for bad in [
            "",
            "nic1 rx 1 tx 2 ringfull 3 runts 4",
            "nicX rx 1 tx 2 ringfull 3 runts 4 irq 5",
            "nic0 tx 1 rx 2 ringfull 3 runts 4 irq 5",
            "nic0 rx 1 tx 2 ringfull 3 runts 4 irq 5 more",
        ] {
            assert_eq!(NicStats::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn datagram_headers() {
        let d = Datagram { peer: Addr { ip: [255, 255, 255, 255], port: 65535 }, payload: b"hi\nthere" };
        let bytes = d.to_bytes();
        assert_eq!(bytes, b"255.255.255.255!65535\nhi\nthere");
        let back = Datagram::parse(&bytes).unwrap();
        assert_eq!((back.peer, back.payload), (d.peer, &b"hi\nthere"[..]));
        assert_eq!(Datagram::parse(b"1.2.3.4!5\n").map(|d| d.payload.len()), Some(0));
        for bad in [&b"1.2.3.4!5"[..], b"hello\nworld", b"1.2.3.4!5 \nx", b"", b"0000000000000000000001.2.3.4!5\n"] {
            assert!(Datagram::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn clock_lines() {
        for (wake, line) in [
            (ClockWake::Periodic(64), "wake periodic 64 ticks 7\n"),
            (ClockWake::Minutely, "wake minutely ticks 7\n"),
            (ClockWake::Never, "wake never ticks 7\n"),
        ] {
            let c = ClockStats { wake, ticks: 7 };
            assert_eq!(alloc::format!("{c}"), line);
            assert_eq!(ClockStats::parse(line), Some(c));
        }
        for bad in
            ["", "wake", "wake periodic ticks 1", "wake hourly ticks 1", "wake never ticks", "wake never ticks 1 2"]
        {
            assert_eq!(ClockStats::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn batches_of_datagrams() {
        let a = Datagram { peer: Addr { ip: [255, 255, 255, 255], port: 65535 }, payload: b"hi\nthere" };
        let b = Datagram { peer: Addr { ip: [10, 1, 0, 2], port: 5640 }, payload: b"" };
        let mut bytes = a.to_batched();
        assert_eq!(bytes, b"255.255.255.255!65535 8\nhi\nthere");
        assert_eq!(bytes.len() - a.payload.len(), BATCHED_HEADER_MAX - 4, "the longest header but the length's");
        bytes.extend(b.to_batched());
        bytes.extend(a.to_batched());
        let got: alloc::vec::Vec<_> = Batch::new(&bytes).map(|d| (d.peer, d.payload)).collect();
        assert_eq!(got, [(a.peer, a.payload), (b.peer, b.payload), (a.peer, a.payload)]);
        // A payload longer than the bytes, a length not a number, no
        // length: the batch ends there (with what came before).
        for (bad, whole) in [
            (&b"1.2.3.4!5 3\nab"[..], 0),
            (b"1.2.3.4!5 +1\nab", 0),
            (b"1.2.3.4!5 65536\nab", 0),
            (b"1.2.3.4!5\nab", 0),
            (b"1.2.3.4!5 \nab", 0),
            (b"1.2.3.4!5 1\na1.2.3.4!5 9\nab", 1),
            (b"", 0),
        ] {
            assert_eq!(Batch::new(bad).count(), whole, "{bad:?}");
        }
        let mut batch = Batch::new(b"1.2.3.4!5 1\nax1.2.3.4!5 1\na");
        assert!(batch.next().is_some() && batch.next().is_none() && batch.next().is_none(), "it stops for good");
    }
}

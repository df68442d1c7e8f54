//! Networking as files: what the `/net` files (served by `netstack`) take
//! and give, as text in the Plan 9 forms, defined once for the server and
//! its clients: addresses are `A.B.C.D!PORT`; a connection's `ctl` takes
//! `connect A.B.C.D!PORT` or `announce PORT`; dial strings are
//! `tcp!A.B.C.D!PORT` (and `tcp!*!PORT` to announce). [`client`] has
//! `dial`, `announce` and `listen` on top of those files.

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
    Announce(u16),
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
        let ctl = match (words.next()?, words.next()?) {
            ("connect", a) => Ctl::Connect(Addr::parse(a)?),
            ("announce", p) => Ctl::Announce(port(p)?),
            _ => return None,
        };
        words.next().is_none().then_some(ctl)
    }
}

/// A dial string `tcp!HOST!PORT`: the `ctl` line that dials it.
pub fn dial(text: &str) -> Option<Ctl> {
    let rest = text.strip_prefix("tcp!")?;
    match rest.split_once('!')? {
        ("*", p) => Some(Ctl::Announce(port(p)?)),
        _ => Some(Ctl::Connect(Addr::parse(rest)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctl_lines() {
        let a = Addr { ip: [10, 0, 2, 2], port: 8080 };
        assert_eq!(Ctl::parse("connect 10.0.2.2!8080\n"), Some(Ctl::Connect(a)));
        assert_eq!(Ctl::parse("announce 564"), Some(Ctl::Announce(564)));
        assert_eq!(alloc::format!("{a}"), "10.0.2.2!8080");
        for bad in [
            "",
            "connect",
            "connect 10.0.2.2",
            "connect 10.0.2!80",
            "connect 10.0.2.256!80",
            "connect 1.2.3.4!0",
            "connect 1.2.3.4!65536",
            "connect +1.2.3.4!80",
            "announce 0",
            "announce x",
            "announce 7 extra",
            "hangup",
        ] {
            assert_eq!(Ctl::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn dial_strings() {
        assert_eq!(dial("tcp!10.0.2.2!7"), Some(Ctl::Connect(Addr { ip: [10, 0, 2, 2], port: 7 })));
        assert_eq!(dial("tcp!*!564"), Some(Ctl::Announce(564)));
        assert_eq!(dial("udp!1.2.3.4!7"), None);
        assert_eq!(dial("tcp!host!7"), None);
    }
}

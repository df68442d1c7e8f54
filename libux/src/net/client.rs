//! Dialling and announcing through the `/net` files only.

use super::{dial as parse_dial, Ctl, Proto};
use crate::fs::client::{open, File};
use crate::fs::flags;
use crate::rpc::Errno;
use alloc::format;

/// A connection: its protocol, number, `ctl` (which keeps it alive) and
/// `data`.
pub struct Conn {
    pub proto: Proto,
    pub n: u32,
    pub ctl: File,
    pub data: File,
}

/// An announced port: its protocol, connection number and `ctl`.
pub struct Announced {
    pub proto: Proto,
    pub n: u32,
    pub ctl: File,
}

/// The connection number a `ctl` file gives.
fn number(ctl: &mut File) -> Result<u32, Errno> {
    let mut buf = [0u8; 16];
    ctl.offset = 0;
    let n = ctl.read(&mut buf)?;
    core::str::from_utf8(&buf[..n]).ok().and_then(|t| t.trim().parse().ok()).ok_or(Errno::BadRequest)
}

fn data(proto: Proto, n: u32, ctl: File) -> Result<Conn, Errno> {
    let data = open(&format!("/net/{}/{n}/data", proto.name()), flags::READ | flags::WRITE)?;
    Ok(Conn { proto, n, ctl, data })
}

/// Opens `/net/PROTO/clone` and writes `line` to the new connection's
/// `ctl`.
fn clone(proto: Proto, line: Ctl) -> Result<(u32, File), Errno> {
    let mut ctl = open(&format!("/net/{}/clone", proto.name()), flags::READ | flags::WRITE)?;
    let n = number(&mut ctl)?;
    ctl.write(format!("{line}").as_bytes())?;
    Ok((n, ctl))
}

/// Connects to `tcp!A.B.C.D!PORT` (returns once connected),
/// `udp!A.B.C.D!PORT` or `icmp!A.B.C.D`.
pub fn dial(addr: &str) -> Result<Conn, Errno> {
    let Some((proto, line @ (Ctl::Connect(_) | Ctl::ConnectHost(_)))) = parse_dial(addr) else {
        return Err(Errno::InvalidArgument);
    };
    let (n, ctl) = clone(proto, line)?;
    data(proto, n, ctl)
}

/// Announces `tcp!*!PORT` or `udp!*!PORT`; a UDP port's datagrams are
/// then read and written through [`Announced::data`].
pub fn announce(addr: &str) -> Result<Announced, Errno> {
    let Some((proto, line @ Ctl::Announce(_))) = parse_dial(addr) else {
        return Err(Errno::InvalidArgument);
    };
    let (n, ctl) = clone(proto, line)?;
    Ok(Announced { proto, n, ctl })
}

impl Announced {
    /// The `data` of an announced UDP port: [`super::Datagram`]s, one
    /// per `File::write_message` and per `File::read_once` (see there).
    pub fn data(&self) -> Result<File, Errno> {
        open(&format!("/net/{}/{}/data", self.proto.name(), self.n), flags::READ | flags::WRITE)
    }

    /// Makes reads of a UDP port's `data` give every datagram waiting
    /// that fits, as a [`super::Batch`] (`ctl` `batch`).
    pub fn batch(&mut self) -> Result<(), Errno> {
        self.ctl.write(format!("{}", Ctl::Batch).as_bytes()).map(drop)
    }
}

impl Conn {
    /// The address of the other end (its `remote` file).
    pub fn remote(&self) -> Result<super::Addr, Errno> {
        let mut f = open(&format!("/net/{}/{}/remote", self.proto.name(), self.n), flags::READ)?;
        let text = f.read_to_end()?;
        let text = core::str::from_utf8(&text).map_err(|_| Errno::Io)?;
        super::Addr::parse(text.trim()).ok_or(Errno::Io)
    }
}

/// Waits for the next connection to an announced TCP port.
pub fn listen(a: &Announced) -> Result<Conn, Errno> {
    let mut ctl = open(&format!("/net/{}/{}/listen", a.proto.name(), a.n), flags::READ)?;
    let n = number(&mut ctl)?;
    data(a.proto, n, ctl)
}

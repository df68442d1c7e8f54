//! Dialling and announcing through the `/net` files only.

use super::{dial as parse_dial, Ctl};
use crate::fs::client::{open, File};
use crate::fs::flags;
use crate::rpc::Errno;
use alloc::format;

/// A TCP connection: its number, its `ctl` (which keeps it alive) and its
/// `data`.
pub struct Conn {
    pub n: u32,
    pub ctl: File,
    pub data: File,
}

/// An announced port: its connection number and `ctl`.
pub struct Announced {
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

fn data(n: u32, ctl: File) -> Result<Conn, Errno> {
    let data = open(&format!("/net/tcp/{n}/data"), flags::READ | flags::WRITE)?;
    Ok(Conn { n, ctl, data })
}

/// Connects to `tcp!A.B.C.D!PORT`; returns once connected.
pub fn dial(addr: &str) -> Result<Conn, Errno> {
    let Some(Ctl::Connect(to)) = parse_dial(addr) else {
        return Err(Errno::InvalidArgument);
    };
    let mut ctl = open("/net/tcp/clone", flags::READ | flags::WRITE)?;
    let n = number(&mut ctl)?;
    ctl.write(format!("connect {to}").as_bytes())?;
    data(n, ctl)
}

/// Announces `tcp!*!PORT`.
pub fn announce(addr: &str) -> Result<Announced, Errno> {
    let Some(Ctl::Announce(port)) = parse_dial(addr) else {
        return Err(Errno::InvalidArgument);
    };
    let mut ctl = open("/net/tcp/clone", flags::READ | flags::WRITE)?;
    let n = number(&mut ctl)?;
    ctl.write(format!("announce {port}").as_bytes())?;
    Ok(Announced { n, ctl })
}

/// Waits for the next connection to an announced port.
pub fn listen(a: &Announced) -> Result<Conn, Errno> {
    let mut ctl = open(&format!("/net/tcp/{}/listen", a.n), flags::READ)?;
    let n = number(&mut ctl)?;
    data(n, ctl)
}

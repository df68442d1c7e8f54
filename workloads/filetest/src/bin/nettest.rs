//! `nettest`: the `/net` files against misuse, printing `nettest: ok ...`
//! per check (`nettest: FAIL ...` and exit 1 on the first failure): the
//! tree, `/net/stats` and `/net/clock`; `batch` where it has no place;
//! UDP data before any `ctl`; a UDP or TCP port
//! announced twice; ephemeral ports; a datagram without its header; an echo to an
//! address nobody can have; a `listen` whose port is given up while it
//! waits (a child waits, we close). `nettest listen N` is that child.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use filetest::{check, e};
use libux::fs::client::{self as fs, File};
use libux::fs::flags;
use libux::net::{ClockStats, NicStats};
use libux::rpc::{End, Errno};

libux::entry!(main);

const RW: u32 = flags::READ | flags::WRITE;

fn text(f: &mut File) -> Result<String, String> {
    let mut buf = [0u8; 512];
    f.offset = 0;
    let n = f.read(&mut buf).map_err(e("read"))?;
    Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// A new connection of `proto`: its number and `ctl`.
fn clone(proto: &str) -> Result<(u32, File), String> {
    let mut ctl = fs::open(&format!("/net/{proto}/clone"), RW).map_err(e("clone"))?;
    let n = text(&mut ctl)?.trim().parse().map_err(|_| String::from("ctl does not say its number"))?;
    Ok((n, ctl))
}

/// A file of connection `n`: `ctl` and `data` to read and write, the
/// others (read-only) to read.
fn file(proto: &str, n: u32, name: &str) -> Result<File, String> {
    let how = if matches!(name, "ctl" | "data") { RW } else { flags::READ };
    fs::open(&format!("/net/{proto}/{n}/{name}"), how).map_err(e(name))
}

fn run() -> Result<(), String> {
    let mut names: Vec<String> = fs::list("/net").map_err(e("list /net"))?.into_iter().map(|m| m.name).collect();
    names.sort();
    check("the /net tree", names == ["clock", "icmp", "ipifc", "stats", "tcp", "udp"], format!("{names:?}"))?;
    let stats = text(&mut fs::open("/net/stats", flags::READ).map_err(e("stats"))?)?;
    let nic0 = stats.lines().next().and_then(NicStats::parse);
    check("/net/stats counts frames", nic0.is_some_and(|n| n.nic == 0 && n.rx_frames > 0), stats.clone())?;
    let clock = text(&mut fs::open("/net/clock", flags::READ).map_err(e("clock"))?)?;
    check("/net/clock says how the clock wakes", ClockStats::parse(&clock).is_some(), clock.clone())?;
    let w = fs::open("/net/clock", RW).map(drop);
    check("/net/clock is not written", w.is_err(), format!("{w:?}"))?;

    for (proto, line) in [("tcp", "batch"), ("icmp", "batch"), ("udp", "batch now")] {
        let (_, mut ctl) = clone(proto)?;
        let w = ctl.write(line.as_bytes());
        check(&format!("{line:?} refused on {proto}"), w == Err(Errno::InvalidArgument), format!("{w:?}"))?;
    }

    let (u, _ctl) = clone("udp")?;
    let mut data = file("udp", u, "data")?;
    let r = data.read_once(&mut [0u8; 64]);
    check("a UDP read before ctl is refused", r == Err(Errno::InvalidArgument), format!("{r:?}"))?;
    let w = data.write(b"lost");
    check("a UDP write before ctl is refused", w == Err(Errno::InvalidArgument), format!("{w:?}"))?;

    let (a, mut actl) = clone("udp")?;
    actl.write(b"announce 9999").map_err(e("announce 9999"))?;
    let (_, mut bctl) = clone("udp")?;
    let again = bctl.write(b"announce 9999");
    check("a UDP port announced twice is busy", again == Err(Errno::Busy), format!("{again:?}"))?;
    let status = text(&mut file("udp", a, "status")?)?;
    check("an announced UDP port says so", status == "Announced\n", status)?;
    let w = fs::open(&format!("/net/udp/{a}/status"), flags::WRITE).err();
    check("a read-only file refuses a writer", w == Some(Errno::NotPermitted), format!("{w:?}"))?;
    let mut adata = file("udp", a, "data")?;
    let w = adata.write(b"no header line");
    check("a datagram without its header is refused", w == Err(Errno::InvalidArgument), format!("{w:?}"))?;

    // More datagrams than a port's send queue holds, to an address on the
    // user network that nobody answers ARP for, then one to the host:
    // every write is taken (the stuck queue is dropped after 3 s) rather
    // than waiting for ever behind the first.
    let mut sent = 0;
    for _ in 0..40 {
        if adata.write(b"10.0.2.99!9\nnobody").is_ok() {
            sent += 1;
        }
    }
    let host = adata.write(b"10.0.2.2!9\nthe host");
    let ok = sent == 40 && host.is_ok();
    check("a datagram to a silent address does not hold up the port", ok, format!("{sent} {host:?}"))?;

    let mut ports = Vec::new();
    for _ in 0..3 {
        let (c, mut cctl) = clone("udp")?;
        cctl.write(b"connect 10.0.2.2!9").map_err(e("connect"))?;
        let local = text(&mut file("udp", c, "local")?)?;
        ports.push(local.trim().rsplit_once('!').and_then(|(_, p)| p.parse::<u16>().ok()).unwrap_or(0));
    }
    let distinct = ports.iter().all(|&p| p >= 49152) && ports[0] != ports[1] && ports[1] != ports[2];
    check("connections get distinct ephemeral ports", distinct, format!("{ports:?}"))?;

    // The host's discard port: nothing listens on it, and QEMU's user
    // network answers the SYN with a reset.
    let (_, mut rctl) = clone("tcp")?;
    let w = rctl.write(b"connect 10.0.2.2!9");
    check("a TCP connect nobody listens for is refused", w == Err(Errno::Refused), format!("{w:?}"))?;

    let (i, mut ictl) = clone("icmp")?;
    ictl.write(b"connect 0.0.0.0").map_err(e("icmp connect"))?;
    let w = file("icmp", i, "data")?.write(b"ping");
    check("an echo nobody can answer is refused, not kept", w.is_err(), format!("{w:?}"))?;

    let (t, mut tctl) = clone("tcp")?;
    tctl.write(b"announce 7777").map_err(e("announce 7777"))?;
    let (_, mut hijack) = clone("tcp")?;
    let again = hijack.write(b"announce 7777");
    check("a TCP port announced twice is busy", again == Err(Errno::Busy), format!("{again:?}"))?;
    drop(hijack);
    let n = format!("{t}");
    let child = libux::process::spawn("/bin/nettest", &["nettest", "listen", &n], &[]).map_err(e("spawn"))?;
    // Once the child's listen is waiting (the status says so), give the
    // port up.
    let mut waited = 0;
    while !text(&mut file("tcp", t, "status")?)?.contains(" 1 listening") {
        waited += 1;
        if waited > 3000 {
            return Err(String::from("the child's listen never showed in the status within 30 s"));
        }
        fs::open("/dev/sleep", flags::WRITE).and_then(|mut f| f.write(b"10")).map_err(e("/dev/sleep"))?;
    }
    drop(tctl);
    let end = libux::process::wait(Some(child)).map_err(e("wait"))?.end;
    check("a listen whose port is given up fails", end == End::Exited(3), format!("{end:?}"))
}

/// The child: waits in `listen` on connection `n`; exit 3 if it fails
/// with "not found".
fn listen(n: &str) -> i32 {
    match fs::open(&format!("/net/tcp/{n}/listen"), flags::READ) {
        Err(Errno::NotFound) => 3,
        Err(_) => 2,
        Ok(_) => 1,
    }
}

fn main() -> i32 {
    let args = libux::rt::args();
    if let [_, "listen", n] = args.as_slice() {
        return listen(n);
    }
    filetest::report(run())
}

//! The 9P figures of `cargo ux --bench`, measured in one run on a
//! two-node cluster: sequential reads of an 8 MiB file over 9P (msize
//! 1 MiB) host → node (our host client through a QEMU port forward) and
//! node → node (`ninepbench` through `mount9p`), each next to raw TCP over
//! the same link (`ninepbench serve`, a byte source on node 1), and the
//! rate of walk + getattr. Host code only: it drives the nodes' shells and
//! speaks 9P with `fs9p::host`.

use super::bench_shell::{figure_after, shell, two_shells};
use super::Args;
use fs9p::host::Client;
use fs9p::Dialect;
use qemu::image::Image;
use qemu::node::{Forward, Options};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

const FILE: usize = 8 << 20;
const MSIZE: u32 = 1 << 20;
const SOURCE_PORT: u16 = 5001;
const STATS: usize = 500;
/// Reads of each kind, taken alternately.
const ROUNDS: usize = 5;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// MB/s of `total` bytes asked of the `ninepbench serve` source at `port`.
fn raw_tcp(port: u16, total: usize) -> Result<f64, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    s.write_all(format!("{total}\n").as_bytes()).map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 1 << 16];
    let mut got = 0;
    while got < total {
        match s.read(&mut buf).map_err(|e| e.to_string())? {
            0 => return Err("the source ended early".into()),
            n => got += n,
        }
    }
    Ok(total as f64 / t0.elapsed().as_secs_f64() / 1e6)
}

pub fn run(image: &Image, args: &Args) -> Result<Vec<String>, String> {
    qemu::step("booting a two-node cluster for the 9P figures");
    let t = args.timeout;
    let [p9, ptcp] = qemu::node::free_ports(2, false)?[..] else { unreachable!("two asked") };
    let forwards =
        vec![Forward { udp: false, host: p9, node: 564 }, Forward { udp: false, host: ptcp, node: SOURCE_PORT }];
    let server = Options { forwards, ..args.opts.clone() };
    let cluster = two_shells(image, [server, args.opts.clone()], t)?;
    let (a, b) = (&cluster.nodes[0], &cluster.nodes[1]);
    shell(a, "exportfs &", "exportfs: serving", t)?;
    shell(a, &format!("ninepbench serve {SOURCE_PORT} &"), "ninepbench: source", t)?;

    let mut c =
        Client::connect(&format!("127.0.0.1:{p9}"), Dialect::L, MSIZE, "bench", "").map_err(|e| e.to_string())?;
    let data: Vec<u8> = (0..FILE).map(|i| (i % 251) as u8).collect();
    c.write_file("/tmp/big", &data).map_err(|e| e.to_string())?;
    // Rounds of each, alternately (the emulator's speed drifts with the
    // host's load): medians.
    let (mut host_9p, mut host_tcp) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let t0 = Instant::now();
        let back = c.read_file("/tmp/big").map_err(|e| e.to_string())?;
        host_9p.push(FILE as f64 / t0.elapsed().as_secs_f64() / 1e6);
        if back != data {
            return Err("FAIL: the 9P read differs from what was written".into());
        }
        host_tcp.push(raw_tcp(ptcp, FILE)?);
    }
    let (host_9p, host_tcp) = (median(host_9p), median(host_tcp));
    let t0 = Instant::now();
    for _ in 0..STATS {
        c.0.stat_path("/tmp/big").map_err(|e| e.to_string())?;
    }
    let host_stats = STATS as f64 / t0.elapsed().as_secs_f64();

    shell(b, "mount9p tcp!10.1.0.1!564 A &", "mount9p:", t)?;
    let rate = |line: String| figure_after(&line, ": ");
    let (mut tcp, mut ninep) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        tcp.push(rate(shell(b, &format!("ninepbench tcp tcp!10.1.0.1!{SOURCE_PORT} {FILE}"), "ninepbench:", t)?)?);
        ninep.push(rate(shell(b, "ninepbench read /n/A/tmp/big", "ninepbench:", t)?)?);
    }
    let (tcp, ninep) = (median(tcp), median(ninep));
    let per_second = rate(shell(b, &format!("ninepbench meta /n/A/tmp/big {STATS}"), "ninepbench:", t)?)?;
    Ok(vec![
        format!(
            "ninep: host -> node read of 8 MiB over 9P2000.L (msize 1 MiB, median of {ROUNDS}): {host_9p:.2} MB/s; raw TCP on the same forward: {host_tcp:.2} MB/s ({:.2} x raw)",
            host_9p / host_tcp
        ),
        format!(
            "ninep: node -> node read of 8 MiB through mount9p (64 KiB reads, msize 1 MiB, median of {ROUNDS}): {ninep:.2} MB/s; raw TCP on the cluster segment: {tcp:.2} MB/s ({:.2} x raw)",
            ninep / tcp
        ),
        format!("ninep: walk + getattr + clunk host -> node: {host_stats:.0} per second"),
        format!("ninep: stat through mount9p node -> node (walk + getattr + clunk): {per_second:.0} per second"),
    ])
}

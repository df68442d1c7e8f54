//! The network figures of `cargo ux --bench`, measured in one run on a
//! two-node cluster next to two Linux processes on the host's loopback
//! (the ceiling): one-way TCP throughput host -> node and node -> node
//! (`ttcp`), TCP echo throughput host -> node, 1-byte round trips host ->
//! node and node -> node, and `ping` between the nodes. Host code only: it drives the nodes' shells.

use super::bench_shell::{figure_after, line_after, shell, two_shells};
use super::Args;
use qemu::node::{self, Options};
use qemu::step;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Instant;

/// Echoes `total` bytes through `stream` (writing from a second thread);
/// MB/s of the echo.
fn echo_throughput(stream: &TcpStream, total: usize) -> Result<f64, String> {
    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    let sender = std::thread::spawn(move || {
        let chunk = vec![0x5au8; 64 * 1024];
        let mut sent = 0;
        while sent < total {
            let n = chunk.len().min(total - sent);
            writer.write_all(&chunk[..n])?;
            sent += n;
        }
        Ok::<(), std::io::Error>(())
    });
    let mut reader = stream.try_clone().map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = 0;
    while got < total {
        let n = reader.read(&mut buf).map_err(|e| format!("reading the echo: {e}"))?;
        if n == 0 {
            return Err("the echo ended early".into());
        }
        got += n;
    }
    sender.join().map_err(|_| "the sender panicked")?.map_err(|e| e.to_string())?;
    Ok(total as f64 / t0.elapsed().as_secs_f64() / 1e6)
}

/// Median microseconds of a 1-byte echo through `stream`.
fn echo_latency(stream: &mut TcpStream, rounds: usize) -> Result<f64, String> {
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut times = Vec::new();
    let mut b = [0u8; 1];
    for _ in 0..rounds {
        let t0 = Instant::now();
        stream.write_all(&[1]).and_then(|()| stream.read_exact(&mut b)).map_err(|e| e.to_string())?;
        times.push(t0.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[rounds / 2])
}

/// A TCP echo server on the host's loopback: the ceiling reference.
fn loopback_echo() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let _ = stream.set_nodelay(true);
                let mut r = stream.try_clone().expect("clone");
                let mut w = stream;
                let _ = std::io::copy(&mut r, &mut w);
            });
        }
    });
    Ok(port)
}

/// A TCP sink on the host's loopback that takes one connection.
fn loopback_sink() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    std::thread::spawn(move || {
        if let Ok((mut s, _)) = listener.accept() {
            let _ = std::io::copy(&mut s, &mut std::io::sink());
        }
    });
    Ok(port)
}

/// MB/s of sending `total` bytes one way to `port` (until the close is
/// through, when `done` says the far end has them all).
fn send_throughput(port: u16, total: usize, done: impl FnOnce() -> Result<(), String>) -> Result<f64, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    let chunk = vec![0xa5u8; 64 * 1024];
    let t0 = Instant::now();
    let mut sent = 0;
    while sent < total {
        let n = chunk.len().min(total - sent);
        s.write_all(&chunk[..n]).map_err(|e| format!("sending: {e}"))?;
        sent += n;
    }
    drop(s);
    done()?;
    Ok(total as f64 / t0.elapsed().as_secs_f64() / 1e6)
}

/// TCP figures of a two-node cluster next to the host's loopback, in one
/// run: throughput host -> node and node -> node (ttcp), echo throughput
/// and 1-byte round trips host -> node and node -> node, ICMP round trips
/// node -> node.
pub fn run(image: &qemu::image::Image, args: &Args) -> Result<Vec<String>, String> {
    const TOTAL: usize = 8 << 20;
    const ECHO: usize = 4 << 20;
    const ROUNDS: usize = 200;
    let t = args.timeout;
    step("booting a two-node cluster for the network figures");
    let [echo_port, ttcp_port] = node::free_ports(2, false)?[..] else { unreachable!("two asked") };
    let forwards = vec![
        node::Forward { udp: false, host: echo_port, node: 7 },
        node::Forward { udp: false, host: ttcp_port, node: 5001 },
    ];
    let server = Options { run: None, forwards, ..args.opts.clone() };
    let client = Options { run: None, ..args.opts.clone() };
    let cluster = two_shells(image, [server, client], t)?;
    let (a, b) = (&cluster.nodes[0], &cluster.nodes[1]);
    shell(a, "echod 7 &", "echod: listening on tcp port 7", t)?;

    let reference = loopback_echo()?;
    let mut local = TcpStream::connect(("127.0.0.1", reference)).map_err(|e| e.to_string())?;
    let local_echo = echo_throughput(&local, ECHO)?;
    let local_us = echo_latency(&mut local, ROUNDS)?;
    let local_mbs = send_throughput(loopback_sink()?, TOTAL, || Ok(()))?;

    let mut remote = TcpStream::connect(("127.0.0.1", echo_port)).map_err(|e| e.to_string())?;
    let node_echo = echo_throughput(&remote, ECHO)?;
    let node_us = echo_latency(&mut remote, ROUNDS)?;
    drop(remote);
    shell(a, "ttcp -r", "ttcp-r: listening", t)?;
    let mark = a.mark();
    let host_mbs = send_throughput(ttcp_port, TOTAL, || line_after(a, mark, "ttcp-r: ", t).map(drop))?;

    shell(a, "ttcp -r -p 5002", "ttcp-r: listening", t)?;
    let mark = a.mark();
    b.type_text("ttcp -t -p 5002 10.1.0.1\n")?;
    let n2n = figure_after(&line_after(a, mark, "ttcp-r: 8388608 bytes", t)?, "= ")?;
    let ping = figure_after(&shell(b, "ping -c 20 10.1.0.1", "ping: 10.1.0.1: 20 sent", t)?, "min/avg/max ")?;
    let rounds = format!("tcpsend -r {ROUNDS} tcp!10.1.0.1!7");
    let n2n_us = figure_after(&shell(b, &rounds, "tcpsend: ", t)?, "median ")?;
    Ok(vec![
        format!(
            "net: Linux loopback TCP (the ceiling): one way {local_mbs:.0} MB/s, echo {local_echo:.0} MB/s, 1-byte round trip median {local_us:.0} us"
        ),
        format!("net: host -> node TCP one way (ttcp -r) 8 MiB: {host_mbs:.2} MB/s ({:.4} x loopback)", host_mbs / local_mbs),
        format!("net: host -> node TCP echo 4 MiB: {node_echo:.2} MB/s ({:.4} x loopback)", node_echo / local_echo),
        format!("net: host -> node 1-byte TCP round trip median: {node_us:.0} us ({:.0} x loopback)", node_us / local_us),
        format!("net: node -> node TCP one way (ttcp) 8 MiB: {n2n:.2} MB/s ({:.4} x loopback)", n2n / local_mbs),
        format!("net: node -> node 1-byte TCP round trip median: {n2n_us:.0} us ({:.0} x loopback)", n2n_us / local_us),
        format!("net: node -> node ICMP echo (ping, 56 bytes) round trip min: {ping:.0} us ({:.0} x loopback TCP)", ping / local_us),
    ])
}

//! `cluster`: the cluster server, a daemon of every node (see the crate's
//! documentation). Threads: a pool serves `/proc/cluster` (`files`); a
//! listener takes the membership datagrams off UDP port `msg::PORT` of
//! the segment; a beater broadcasts this node's beat every
//! `membership::BEAT_US` and marks peers not heard from.
//!
//! With the secret, it exports the node's namespace to the cluster
//! (`exportfs` on tcp port 5641, asking for proof of the secret) and
//! mounts each node it admits at `/n/nodeN` (`mount9p`, proving it): a
//! file of any node is a file of every node.
//!
//! Its configuration comes from the process server's environment (the
//! host's fw_cfg files, see `libux::cluster`): `UX_CLUSTER` (`node=N
//! name=NAME features=...`), `UX_SECRET` and `UX_SEED` (hex). Without
//! `UX_CLUSTER` the node is a cluster of one and sends nothing.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use cluster_server::membership::{Config, Membership, Out, BEAT_US};
use cluster_server::msg::{self, Stats};
use fs9p::auth::from_hex;
use libux::cluster::{NodeId, NodeLine, NodeState};
use libux::fs::client::{open, File};
use libux::fs::flags;
use libux::layout::slot;
use libux::net::{Addr, Datagram};
use libux::println;
use libux::process::Clock;
use libux::rpc::Errno;
use libux::sync::Mutex;

mod calls;
mod files;
mod waits;

libux::entry!(main);

const EP: u64 = slot::FIRST_FREE;
/// The waker's event (`waits`).
const WAKER: u64 = slot::FIRST_FREE + 1;

/// The port of the node's export to the cluster's nodes (its `exportfs`,
/// which asks for proof of the secret).
const EXPORT_PORT: u16 = 5641;
/// The msize of the mounts of other nodes.
const MOUNT_MSIZE: &str = "131072";

/// A mount of a node that is up, to be tried again (its `mount9p` ended:
/// the node's export was not serving yet, say).
#[derive(Clone, Copy)]
struct Remount {
    at_us: u64,
    backoff_us: u64,
}

/// The first wait before mounting a node again, doubled each time it
/// fails again, up to the last.
const REMOUNT_FIRST_US: u64 = 1_000_000;
const REMOUNT_MAX_US: u64 = 30_000_000;

/// What the threads share.
struct State {
    members: Membership,
    /// The `mount9p` of each admitted node's export, at `/n/nodeN`.
    mounts: alloc::collections::BTreeMap<NodeId, libux::rpc::Pid>,
    /// Mounts that ended while their node was up: when to try again,
    /// and after how long the next time.
    remounts: alloc::collections::BTreeMap<NodeId, Remount>,
    clock: Clock,
    /// Our address on the segment (none: a cluster of one).
    addr: Option<[u8; 4]>,
    /// How we stand, as of the last beat.
    own: Stats,
    /// The membership port, once open.
    port: Option<Arc<File>>,
}

/// The node table, as `/proc/cluster/nodes` has it.
fn node_lines(st: &State) -> Vec<NodeLine> {
    st.members.nodes(st.clock.micros(), st.addr.unwrap_or([0; 4]), st.own)
}

fn nodes_text(st: &State) -> String {
    node_lines(st).iter().map(|l| alloc::format!("{l}")).collect()
}

fn env(key: &str) -> Option<&'static str> {
    libux::rt::start_block().env.into_iter().find_map(|e| e.strip_prefix(key)?.strip_prefix('='))
}

/// How this node stands now.
fn own_stats() -> Stats {
    match libux::process::stats() {
        Ok(s) => Stats { load: s.running, processes: s.resources.processes, free_kib: s.resources.free_bytes >> 10 },
        Err(_) => Stats::default(),
    }
}

fn main() -> i32 {
    let cfg = match env("UX_CLUSTER").map(libux::cluster::Config::parse) {
        Some(Ok(c)) => Some(c),
        Some(Err(e)) => {
            println!("cluster: UX_CLUSTER: {e}; a cluster of one");
            None
        }
        None => None,
    };
    let secret = env("UX_SECRET").and_then(from_hex).filter(|s| !s.is_empty());
    let has_secret = secret.is_some();
    // Without a seed from the host, the time stamp counter: enough for a
    // cluster of one, which sends nothing.
    // SAFETY: rdtsc has no preconditions.
    let tsc = unsafe { core::arch::x86_64::_rdtsc() };
    let seed = env("UX_SEED").and_then(from_hex).unwrap_or_else(|| tsc.to_le_bytes().to_vec());
    let alone = cfg.is_none();
    let cfg = cfg.unwrap_or(libux::cluster::Config { node: NodeId(1), name: "node1".into(), features: String::new() });
    if !alone && secret.is_none() {
        println!("cluster: no secret: this node stays out of the cluster");
    }
    let addr = (!alone && cfg.node.0 <= 254).then_some([10, 1, 0, cfg.node.0 as u8]);
    let clock = Clock::new();
    let config = Config { node: cfg.node, name: cfg.name, features: cfg.features, secret };
    let members = Membership::new(config, &seed, clock.micros());
    let mounts = alloc::collections::BTreeMap::new();
    let remounts = alloc::collections::BTreeMap::new();
    let own = own_stats();
    let state = Arc::new(Mutex::new(State { members, mounts, remounts, clock, addr, own, port: None }));

    if let Err(e) = libux::process::create_endpoint(EP) {
        println!("cluster: cannot make an endpoint: {e}");
        return 1;
    }
    // The tree's threads before its mount, which makes the node ready: a
    // node's resources are counted from then on.
    let waits = match waits::Waits::new(WAKER, cfg.node) {
        Ok(w) => w,
        Err(e) => {
            println!("cluster: cannot make the waker's event: {e}");
            return 1;
        }
    };
    let files = Arc::new(files::Files::new(waits));
    let (s, f) = (state.clone(), files.clone());
    if let Err(e) = libux::thread::spawn(move || files::wake(&s, &f)) {
        println!("cluster: cannot start the waker: {e}");
        return 1;
    }
    for _ in 0..files::POOL {
        let (s, f) = (state.clone(), files.clone());
        if let Err(e) = libux::thread::spawn(move || files::serve_calls(&s, &f, EP)) {
            println!("cluster: cannot start a thread: {e}");
        }
    }
    if let Err(e) = libux::process::mount("/proc/cluster", EP) {
        println!("cluster: cannot mount /proc/cluster: {e}");
        return 1;
    }
    if addr.is_some() {
        let (s, f) = (state.clone(), files.clone());
        let started = libux::thread::spawn(move || match start_membership(&s, &f) {
            Ok(()) => {
                println!("cluster: node {} on the segment, membership on udp port {}", cfg.node, msg::PORT);
                // The network is there now.
                if has_secret {
                    export();
                }
            }
            Err(e) => println!("cluster: no membership: {e}"),
        });
        if let Err(e) = started {
            println!("cluster: no membership: {e}");
        }
    }
    files::hear_endings(&files, || beat_now(&state))
}

/// Opens the membership port (once the network is there: daemons start
/// together) and starts the listener and the beater.
fn start_membership(state: &Arc<Mutex<State>>, files: &Arc<files::Files>) -> Result<(), Errno> {
    let port = alloc::format!("udp!*!{}", msg::PORT);
    // Daemons start together: devfs may not have mounted /dev yet (then
    // the path leads to ramfs, which has no /dev/sleep), and nothing here
    // can sleep without it.
    let mut sleep = loop {
        match open("/dev/sleep", flags::WRITE) {
            Ok(f) => break f,
            Err(_) => libux::sel4::syscall::yield_now(),
        }
    };
    // However long netstack takes to mount /net (a busy host may take
    // seconds): this thread serves nobody meanwhile.
    let mut tries = 0;
    let announced = loop {
        match libux::net::client::announce(&port) {
            Ok(a) => break a,
            Err(Errno::NoFileServer | Errno::NotFound) => {
                tries += 1;
                if tries == 100 {
                    println!("cluster: still no /net after 5 s; waiting for it");
                }
                let _ = sleep.write(b"50");
            }
            Err(e) => return Err(e),
        }
    };
    let data = Arc::new(announced.data()?);
    // The port lives while its ctl is open: for good.
    core::mem::forget(announced);
    state.lock().port = Some(data.clone());
    // Our first beat goes out before we hear anyone's: a node whose
    // number is taken then stays out only once the others have heard it
    // (they challenge it, it proves, they refuse it and say so), whichever
    // datagram comes first.
    send_beat(state, &data, broadcast_of(state));
    let (s, d, f) = (state.clone(), data.clone(), files.clone());
    libux::thread::spawn(move || listen(s, d, f))?;
    let (s, d, f) = (state.clone(), data, files.clone());
    libux::thread::spawn(move || beat(s, d, f))?;
    Ok(())
}

/// Does what the membership said.
fn carry_out(state: &Mutex<State>, files: &files::Files, data: &File, broadcast: [u8; 4], outs: Vec<Out>) {
    for o in outs {
        match o {
            Out::Log(line) => println!("{line}"),
            Out::Send(bytes) => send(data, broadcast, &bytes),
            Out::Joined(node, ip) => {
                // A node that joins (again) starts afresh.
                state.lock().remounts.remove(&node);
                mount(state, node, ip)
            }
            Out::Down(node) => files.waits.node_changed(node, true),
            Out::Ended(node) => files.waits.node_changed(node, false),
        }
    }
}

/// A process that another node waits for ended: a beat says so now,
/// not at the next.
fn beat_now(state: &Mutex<State>) {
    let own = own_stats();
    let (beat, port, addr) = {
        let mut st = state.lock();
        st.members.watched_ended();
        let now = st.clock.micros();
        (st.members.beat(now, own), st.port.clone(), st.addr)
    };
    if let (Some(bytes), Some(port), Some(ip)) = (beat, port, addr) {
        send(&port, [ip[0], ip[1], ip[2], 255], &bytes);
    }
}

/// The cluster's secret and seed as our environment has them, for the
/// export and mounts we start.
fn secret_env() -> Vec<&'static str> {
    let env = libux::rt::start_block().env;
    env.into_iter().filter(|e| e.starts_with("UX_SECRET=") || e.starts_with("UX_SEED=")).collect()
}

/// Starts the node's export to the cluster (`exportfs`, asking for proof
/// of the secret) on [`EXPORT_PORT`].
fn export() {
    let port = alloc::format!("{EXPORT_PORT}");
    match libux::process::spawn_full("/bin/exportfs", &["exportfs", &port], &secret_env(), None, &[]) {
        Ok(pid) => println!("cluster: exporting / to the cluster on tcp port {EXPORT_PORT} (pid {pid})"),
        Err(e) => println!("cluster: cannot start the export: {e}"),
    }
}

/// Mounts an admitted node's export at `/n/nodeN`, unless its mount runs.
fn mount(state: &Mutex<State>, node: NodeId, ip: [u8; 4]) {
    let running = state.lock().mounts.get(&node).copied();
    if running.is_some_and(|pid| matches!(libux::process::try_wait(Some(pid)), Ok(None))) {
        return;
    }
    let addr = alloc::format!("tcp!{}.{}.{}.{}!{EXPORT_PORT}", ip[0], ip[1], ip[2], ip[3]);
    let at = libux::cluster::mount_point(node);
    let name = at.trim_start_matches("/n/");
    // A smaller msize than a person's mount: every node holds one mount
    // of every other, and each of its 9P clients keeps two buffers of it.
    let number = alloc::format!("{node}");
    let argv = ["mount9p", "-m", MOUNT_MSIZE, "-c", &number, &addr, name];
    match libux::process::spawn_full("/bin/mount9p", &argv, &secret_env(), None, &[]) {
        Ok(pid) => {
            state.lock().mounts.insert(node, pid);
        }
        Err(e) => println!("cluster: cannot mount node {node}: {e}"),
    }
}

/// Reaps the mounts that ended and mounts again the nodes that are up,
/// each when its back-off has passed.
fn remount(state: &Mutex<State>, now: u64) {
    let mounts: Vec<(NodeId, libux::rpc::Pid)> = state.lock().mounts.iter().map(|(n, p)| (*n, *p)).collect();
    for (node, pid) in mounts {
        if let Ok(Some(_)) = libux::process::try_wait(Some(pid)) {
            let mut st = state.lock();
            st.mounts.remove(&node);
            let backoff_us =
                st.remounts.get(&node).map_or(REMOUNT_FIRST_US, |r| (r.backoff_us * 2).min(REMOUNT_MAX_US));
            st.remounts.insert(node, Remount { at_us: now + backoff_us, backoff_us });
        }
    }
    let due: Vec<(NodeId, [u8; 4])> = {
        let st = state.lock();
        // (Almost always: nothing to do, and no table to make.)
        if st.remounts.is_empty() {
            return;
        }
        let up = st.members.nodes(now, [0; 4], st.own);
        st.remounts
            .iter()
            .filter(|(node, r)| r.at_us <= now && !st.mounts.contains_key(node))
            .filter_map(|(node, _)| up.iter().find(|l| l.node == *node && l.state == NodeState::Up))
            .map(|l| (l.node, l.addr.ip))
            .collect()
    };
    for (node, ip) in due {
        println!("cluster: mounting node {node} again");
        mount(state, node, ip);
    }
}

/// The segment's broadcast address.
fn broadcast_of(state: &Mutex<State>) -> [u8; 4] {
    let ip = state.lock().addr.expect("membership on a segment");
    [ip[0], ip[1], ip[2], 255]
}

fn send(data: &File, to: [u8; 4], payload: &[u8]) {
    let d = Datagram { peer: Addr { ip: to, port: msg::PORT }, payload };
    // A datagram lost is a beat missed: the protocol copes.
    let _ = data.pwrite(0, &d.to_bytes());
}

/// Broadcasts this node's beat now, unless it stays out.
fn send_beat(state: &Mutex<State>, data: &File, broadcast: [u8; 4]) {
    let own = own_stats();
    let beat = {
        let mut st = state.lock();
        st.own = own;
        let now = st.clock.micros();
        st.members.beat(now, own)
    };
    if let Some(bytes) = beat {
        send(data, broadcast, &bytes);
    }
}

/// The listener: every datagram to the membership port.
fn listen(state: Arc<Mutex<State>>, data: Arc<File>, files: Arc<files::Files>) {
    let broadcast = broadcast_of(&state);
    let mut buf = alloc::vec![0u8; libux::net::DATAGRAM_HEADER_MAX + msg::DATAGRAM_MAX + 64];
    loop {
        let n = match data.pread_once(0, &mut buf) {
            Ok(n) => n,
            // Larger than any message: not ours.
            Err(Errno::TooLarge) => continue,
            Err(e) => return println!("cluster: the membership port failed: {e}"),
        };
        let Some(d) = Datagram::parse(&buf[..n]) else { continue };
        let outs = {
            let mut st = state.lock();
            let now = st.clock.micros();
            st.members.receive(now, d.peer.ip, d.payload)
        };
        carry_out(&state, &files, &data, broadcast, outs);
    }
}

/// The beater: a beat every `BEAT_US` to the segment, and the table's
/// changes logged.
fn beat(state: Arc<Mutex<State>>, data: Arc<File>, files: Arc<files::Files>) {
    let mut sleep = match open("/dev/sleep", flags::WRITE) {
        Ok(f) => f,
        Err(e) => return println!("cluster: /dev/sleep: {e}; not beating"),
    };
    let broadcast = broadcast_of(&state);
    let mut next = 0;
    loop {
        let now = state.lock().clock.micros();
        if now >= next {
            // On a fixed cadence, whatever the wake-ups' jitter (but never
            // a burst to catch up).
            next = (next + BEAT_US).max(now + BEAT_US / 2);
            send_beat(&state, &data, broadcast);
        }
        let outs = state.lock().members.tick(now);
        carry_out(&state, &files, &data, broadcast, outs);
        // Mounts that ended are reaped: of a node that went down, it is
        // mounted again when it joins again; of a node that is up, after a
        // while (doubling). (Programs started through `spawn` are
        // children too: their `wait` files reap them.)
        remount(&state, now);
        // Asleep until the next beat, a peer's state is due to change or a
        // mount is due again: an idle node's timer is armed for what is
        // to happen, no more often.
        let wake = {
            let st = state.lock();
            let remounts = st.remounts.values().map(|r| r.at_us).filter(|&t| t > now).min();
            [Some(next), st.members.next_change(now), remounts].into_iter().flatten().min().unwrap_or(next)
        };
        let ms = wake.saturating_sub(now).div_ceil(1000).clamp(1, BEAT_US / 1000);
        if sleep.write(alloc::format!("{ms}").as_bytes()).is_err() {
            return println!("cluster: /dev/sleep failed; not beating");
        }
    }
}

//! `cluster`: the cluster server, a daemon of every node (see the crate's
//! documentation). Threads: a pool serves `/proc/cluster` (`files`); a
//! listener takes the membership datagrams off UDP port `msg::PORT` of
//! the segment; a beater sends this node's beat to the coordinator (or,
//! on the coordinator, the view to everyone) every `membership::BEAT_US`
//! and marks peers not heard from.
//!
//! With the secret, it exports the node's namespace to the cluster
//! (`exportfs` on tcp port 5641, asking for proof of the secret) and
//! serves `/n`, where it mounts each node it admitted at `/n/nodeN`
//! (`mount9p`, proving it) at the first use (`automount`): a file of
//! any node is a file of every node.
//!
//! Its configuration comes from the process server's environment (the
//! host's fw_cfg files, see `libux::cluster`): `UX_CLUSTER` (`node=N
//! name=NAME features=...`), `UX_SECRET` (hex), and `UX_SEED`, its own
//! seed (hex, `libux::sysdesc::program_seed`). Without `UX_CLUSTER` the
//! node is a cluster of one and sends nothing.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use cluster_server::membership::{Config, Membership, Out, BEAT_US};
use cluster_server::msg::{self, Stats};
use fs9p::auth::from_hex;
use libux::cluster::{Gpid, NodeId, NodeLine, NodeState, SEGMENT_BROADCAST};
use libux::fs::client::{open, File};
use libux::fs::pool::Pool;
use libux::fs::{flags, IO_MAX};
use libux::layout::slot;
use libux::net::{Addr, Batch, Datagram};
use libux::println;
use libux::process::Clock;
use libux::rpc::{Errno, Pid};
use libux::sync::Mutex;

mod automount;
mod calls;
mod files;
mod waits;

libux::entry!(main);

const EP: u64 = slot::FIRST_FREE;
/// The waker's event (`waits`).
const WAKER: u64 = slot::FIRST_FREE + 1;
/// The endpoint `/n`'s calls come to (`automount`).
const N_EP: u64 = slot::FIRST_FREE + 2;
/// The tree's threads' events (`files::ClusterTree`), one slot per
/// thread index from here: the last of our own slots.
const HELP_EVENTS: u64 = slot::FIRST_FREE + 3;
const _: () = assert!(HELP_EVENTS + libux::layout::MAX_THREADS as u64 <= slot::FILE_CONNS);

/// The port of the node's export to the cluster's nodes (its `exportfs`,
/// which asks for proof of the secret).
const EXPORT_PORT: u16 = 5641;

/// What the threads share.
struct State {
    members: Membership,
    clock: Clock,
    /// How we stand, as of the last beat.
    own: Stats,
    /// Drained (`ClusterCtl::Drain`): our beats say so.
    draining: bool,
    /// The membership port, once open.
    port: Option<Arc<File>>,
}

/// Beats to the coordinator go on a UDP connection of their own: a
/// datagram to a node that died waits in netstack for its address (up to
/// 3 s, see "Network"), and must not hold up the beats to the next
/// coordinator or the broadcasts on the port.
static TO_COORDINATOR: Mutex<Option<([u8; 4], libux::net::client::Conn)>> = Mutex::new(None);

/// The node table, as `/proc/cluster/nodes` has it.
fn node_lines(st: &State) -> Vec<NodeLine> {
    st.members.nodes(st.clock.micros(), st.own)
}

/// This node's number, and the table as this node acts on it: a node
/// that left is a cluster of one to itself, so its own line is as it
/// serves (`up` or `draining`; `nodes` says `left`).
fn view(state: &Mutex<State>) -> (NodeId, Vec<NodeLine>) {
    let st = state.lock();
    let own = st.members.node();
    let mut lines = node_lines(&st);
    for l in lines.iter_mut().filter(|l| l.node == own && l.state == NodeState::Left) {
        l.state = if st.own.draining { NodeState::Draining } else { NodeState::Up };
    }
    (own, lines)
}

/// How `node` stands in our table, if it is there.
fn node_state(state: &Mutex<State>, node: NodeId) -> Option<NodeState> {
    view(state).1.into_iter().find(|n| n.node == node).map(|n| n.state)
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
        Ok(s) => Stats {
            load: s.running,
            processes: s.resources.processes,
            free_kib: s.resources.free_bytes >> 10,
            draining: false,
        },
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
    let addr = (!alone).then(|| cfg.node.segment_addr());
    let clock = Clock::new();
    let config =
        Config { node: cfg.node, name: cfg.name, features: cfg.features, addr: addr.unwrap_or([0; 4]), secret };
    let members = Membership::new(config, &seed, clock.micros());
    let own = own_stats();
    let state = Arc::new(Mutex::new(State { members, clock, own, draining: false, port: None }));
    let automount = Arc::new(automount::Automount::default());

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
    let files = Arc::new(files::Files::new(waits, EP));
    let (s, f) = (state.clone(), files.clone());
    if let Err(e) = libux::thread::spawn(move || files::wake(&s, &f)) {
        println!("cluster: cannot start the waker: {e}");
        return 1;
    }
    let tree = files::ClusterTree { state: state.clone(), files: files.clone(), events_at: HELP_EVENTS };
    if let Err(e) = Pool::new(tree, EP, files::POOL).start() {
        println!("cluster: cannot start the tree's threads: {e}");
        return 1;
    }
    // The other nodes' files, for a node of a cluster (only with the
    // secret can it mount them).
    if addr.is_some() && has_secret {
        if let Err(e) = serve_n(&state, &automount) {
            println!("cluster: cannot serve /n: {e}");
            return 1;
        }
    }
    if let Err(e) = libux::process::mount(libux::cluster::TREE, EP) {
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
                    let now = s.lock().clock.micros();
                    export(now);
                }
            }
            Err(e) => println!("cluster: no membership: {e}"),
        });
        if let Err(e) = started {
            println!("cluster: no membership: {e}");
        }
    }
    files::hear_endings(
        &files,
        || beat_now(&state, &files),
        |pids| {
            automount.ended(pids);
            export_ended(pids);
        },
    )
}

/// Starts `/n`'s threads, and mounts it.
fn serve_n(state: &Arc<Mutex<State>>, automount: &Arc<automount::Automount>) -> Result<(), Errno> {
    libux::process::create_endpoint(N_EP)?;
    let tree = automount::NTree { state: state.clone(), automount: automount.clone() };
    Pool::new(tree, N_EP, automount::THREADS).start()?;
    libux::process::mount("/n", N_EP)
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
    let mut announced = loop {
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
    // The beats of a period come to the coordinator together: each read
    // takes all that came (see `listen`).
    announced.batch()?;
    // The port lives while its ctl is open: for good.
    core::mem::forget(announced);
    state.lock().port = Some(data.clone());
    let (s, d, f) = (state.clone(), data.clone(), files.clone());
    libux::thread::spawn(move || listen(s, d, f))?;
    let (s, d, f) = (state.clone(), data, files.clone());
    libux::thread::spawn(move || beat(s, d, f))?;
    Ok(())
}

/// Does what the membership said.
fn carry_out(files: &files::Files, data: &File, outs: Vec<Out>) {
    for o in outs {
        match o {
            Out::Log(line) => println!("{line}"),
            Out::Broadcast(bytes) => send(data, SEGMENT_BROADCAST, &bytes),
            Out::SendTo(to, bytes) => send_to(to, &bytes),
            Out::Down(node) => files.waits.node_changed(node, true),
            Out::Ended(node) => files.waits.node_changed(node, false),
        }
    }
}

/// A process that another node waits for ended: a beat (or the
/// coordinator's view) says so now, not at the next.
fn beat_now(state: &Mutex<State>, files: &files::Files) {
    let port = {
        let mut st = state.lock();
        st.members.watched_ended();
        st.port.clone()
    };
    if let Some(port) = port {
        send_beat(state, files, &port, true);
    }
}

/// Drains this node or takes it back (`ClusterCtl`): our next beat, sent
/// now, tells the others.
fn set_draining(state: &Mutex<State>, files: &files::Files, draining: bool) {
    let port = {
        let mut st = state.lock();
        st.draining = draining;
        st.port.clone()
    };
    match port {
        Some(port) => send_beat(state, files, &port, true),
        // A cluster of one: its own line says it.
        None => state.lock().own.draining = draining,
    }
}

/// This node goes out of the cluster (`ClusterCtl::Leave`: its last beat
/// tells the others, who list it `left` at once) or, having left, joins
/// it again as a new incarnation (`ClusterCtl::Join`). `InvalidArgument`
/// for a cluster of one, or a node that is so already.
fn leave_or_join(state: &Mutex<State>, files: &files::Files, leave: bool) -> Result<(), Errno> {
    let (outs, port) = {
        let mut st = state.lock();
        let now = st.clock.micros();
        let port = st.port.clone().ok_or(Errno::InvalidArgument)?;
        let outs = if leave { st.members.leave(now) } else { st.members.join(now) };
        (outs.ok_or(Errno::InvalidArgument)?, port)
    };
    carry_out(files, &port, outs);
    Ok(())
}

/// The cluster's secret and seed as our environment has them, for the
/// export and mounts we start.
fn secret_env() -> Vec<&'static str> {
    let env = libux::rt::start_block().env;
    env.into_iter().filter(|e| e.starts_with("UX_SECRET=") || e.starts_with("UX_SEED=")).collect()
}

/// The node's export to the cluster, once started. It is no system
/// process (a daemon's child), so a process of any node may end it; the
/// node's files would then be nobody else's until it rebooted, so the
/// beater starts it again.
struct Export {
    /// Running, as far as we heard.
    pid: Option<Pid>,
    /// When it was last started (microseconds of the node's clock).
    started_us: u64,
}

static EXPORT: Mutex<Option<Export>> = Mutex::new(None);

/// An export that ended is started again no sooner than this after its
/// last start: one that cannot serve (its port taken, say) ends at once,
/// and must not be started for ever in a loop.
const EXPORT_AGAIN_US: u64 = 5_000_000;

/// Starts the node's export to the cluster (`exportfs`, asking for proof
/// of the secret) on [`EXPORT_PORT`], at `now_us`.
fn export(now_us: u64) {
    let port = alloc::format!("{EXPORT_PORT}");
    // Held across the start, so that an export that ends at once is
    // heard of (`export_ended`) only once it is recorded.
    let mut export = EXPORT.lock();
    let pid = match libux::process::spawn_full("/bin/exportfs", &["exportfs", &port], &secret_env(), None, &[]) {
        Ok(pid) => {
            println!("cluster: exporting / to the cluster on tcp port {EXPORT_PORT} (pid {pid})");
            Some(pid)
        }
        Err(e) => {
            println!("cluster: cannot start the export: {e}");
            None
        }
    };
    *export = Some(Export { pid, started_us: now_us });
}

/// Of `pids`, which ended, our export: reaped, to be started again.
fn export_ended(pids: &[Pid]) {
    let mut export = EXPORT.lock();
    let Some(Export { pid: Some(pid), .. }) = *export else { return };
    if pids.iter().any(|&e| Gpid(e).pid() == Gpid(pid).pid()) {
        let _ = libux::process::try_wait(Some(pid));
        println!("cluster: the export (pid {pid}) ended; it starts again");
        if let Some(e) = export.as_mut() {
            e.pid = None;
        }
    }
}

/// The export again, if it ended and its last start is far enough back.
fn export_again(now_us: u64) {
    let due = EXPORT
        .lock()
        .as_ref()
        .is_some_and(|e| e.pid.is_none() && now_us.saturating_sub(e.started_us) >= EXPORT_AGAIN_US);
    if due {
        export(now_us);
    }
}

fn send(data: &File, to: [u8; 4], payload: &[u8]) {
    let d = Datagram { peer: Addr { ip: to, port: msg::PORT }, payload };
    // A datagram lost is a beat missed: the protocol copes.
    let _ = data.write_message(&d.to_bytes());
}

/// Sends `payload` to the membership port of the node at `to`.
fn send_to(to: [u8; 4], payload: &[u8]) {
    let mut conn = TO_COORDINATOR.lock();
    if conn.as_ref().is_none_or(|(at, _)| *at != to) {
        // (The old one goes, and with it what it could not send.)
        *conn = None;
        let addr = alloc::format!("udp!{}.{}.{}.{}!{}", to[0], to[1], to[2], to[3], msg::PORT);
        match libux::net::client::dial(&addr) {
            Ok(c) => *conn = Some((to, c)),
            Err(e) => return println!("cluster: cannot reach {addr}: {e}"),
        }
    }
    if let Some((_, c)) = conn.as_ref() {
        // A datagram lost is a beat missed: the protocol copes.
        let _ = c.data.write_message(payload);
    }
}

/// Sends this node's beat (or, from the coordinator, its view): now if
/// `news` of ours, else if it is due (a follower's beats answer views).
fn send_beat(state: &Mutex<State>, files: &files::Files, data: &File, news: bool) {
    let own = own_stats();
    let outs = {
        let mut st = state.lock();
        let own = Stats { draining: st.draining, ..own };
        st.own = own;
        let now = st.clock.micros();
        if news {
            st.members.beat_now(now, own)
        } else {
            st.members.beat(now, own)
        }
    };
    carry_out(files, data, outs);
}

/// The listener: every datagram to the membership port, as many as came
/// in each read (a `Batch`: under TCG each read cost a coordinator about
/// 0.1 ms of host time, mostly the two address-space switches, and
/// 63 beats come together each period at 64 nodes). Its reads fit a
/// message (`msg::DATAGRAM_MAX`), so it never holds our window onto
/// netstack while it waits: the others' datagrams go out whole.
fn listen(state: Arc<Mutex<State>>, data: Arc<File>, files: Arc<files::Files>) {
    let mut buf = [0u8; IO_MAX];
    loop {
        let n = match data.pread_once(0, &mut buf) {
            Ok(n) => n,
            // Larger than any message: not ours (netstack dropped it).
            Err(Errno::TooLarge) => continue,
            Err(e) => return println!("cluster: the membership port failed: {e}"),
        };
        let outs: Vec<Out> = {
            let mut st = state.lock();
            let now = st.clock.micros();
            // What each datagram changed comes with it; what time changes
            // is the beater's.
            Batch::new(&buf[..n]).flat_map(|d| st.members.receive(now, d.peer.ip, d.payload)).collect()
        };
        carry_out(&files, &data, outs);
    }
}

/// The beater: a beat (or view) every `BEAT_US` (a follower's only if no
/// view came for it to answer), and the table's changes logged.
fn beat(state: Arc<Mutex<State>>, data: Arc<File>, files: Arc<files::Files>) {
    let mut sleep = match open("/dev/sleep", flags::WRITE) {
        Ok(f) => f,
        Err(e) => return println!("cluster: /dev/sleep: {e}; not beating"),
    };
    let mut next = 0;
    loop {
        // Datagrams that came while the host held the machine are the
        // listener's first: a seeker woken with a view in its port must
        // not take the silence for real.
        libux::sel4::syscall::yield_now();
        let (now, own_due) = {
            let st = state.lock();
            let now = st.clock.micros();
            (now, st.members.beat_due().is_some_and(|t| t <= now))
        };
        if now >= next {
            // On a fixed cadence, whatever the wake-ups' jitter (but never
            // a burst to catch up).
            next = (next + BEAT_US).max(now + BEAT_US / 2);
            send_beat(&state, &files, &data, false);
        } else if own_due {
            // A follower no view came to.
            send_beat(&state, &files, &data, false);
        }
        let outs = state.lock().members.tick(now);
        carry_out(&files, &data, outs);
        export_again(now);
        // Asleep until the next beat or a peer's state is due to change:
        // an idle node's timer is armed for what is to happen, no more
        // often.
        let wake = {
            let st = state.lock();
            let due = st.members.beat_due().map_or(next, |t| t.min(next));
            st.members.next_change(now).map_or(due, |t| t.min(due))
        };
        let ms = wake.saturating_sub(now).div_ceil(1000).clamp(1, BEAT_US / 1000);
        if sleep.write(alloc::format!("{ms}").as_bytes()).is_err() {
            return println!("cluster: /dev/sleep failed; not beating");
        }
    }
}

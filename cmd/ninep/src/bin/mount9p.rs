//! `mount9p [-2] [-m MSIZE] [-c NODE] [-i SECONDS] tcp!A.B.C.D!PORT NAME`: dials a 9P export
//! (`exportfs` on another node, a host's server), negotiates 9P2000.L
//! (`-2`: 9P2000) with a large msize (default 1 MiB), and serves it at
//! `/n/NAME` until it is killed: `ls`, `cat` and the shell's `>` work on
//! the remote files unchanged. Started with the cluster's secret in its
//! environment (by the cluster server), it proves it to the export.
//!
//! Calls are answered by a pool of threads (`libux::fs::pool`: started
//! as calls find none idle, up to [`MAX_WORKERS`]), each with its own 9P
//! client on the one connection, so that a call waiting at the server (a `wait`, a pipe)
//! holds up nobody else's; the 9P replies come back in any order
//! (`ninep::wire`). When the connection breaks, the call that finds it so
//! dials again (at most once every 10 s), and so do later ones until a
//! new connection is made, failing meanwhile; the call itself is made
//! again on the new connection if doing so changes nothing more (an
//! open, a stat, a listing: `FsRequest::is_repeatable`), else it is an
//! I/O error. Files open before the break stay I/O errors until closed.
//! A housekeeping thread closes, every second, the files of clients that
//! ended, and flushes the 9P requests still waiting for them. With `-c
//! NODE` (the cluster server's mounts of other nodes) it also follows
//! that node in `/proc/cluster/nodes`: once the node is down, the calls
//! waiting on it fail and later ones fail at once, until it is back.
//! While no call is under way and no client but the cluster server
//! holds a file, it waits instead (the next call wakes it, and it looks
//! at the node first), so an idle mount wakes nobody. A `-c` mount
//! makes no `/n/NAME` (the cluster server's `/n` lists nodes), and it
//! sends an open's walk and open together, one round trip, since the
//! cluster's exports are fs9p's, which take them in order (9P does not
//! promise that of other servers). With `-i SECONDS` a mount idle that
//! long hangs its connection up (an idle TCP connection costs a node
//! its keep-alive probes and a socket that netstack walks at every
//! wake-up; the export's end frees its child) and the next call dials
//! again, at once and quietly; files held across it (the cluster
//! server's `call` files) fail as after a break, and are opened anew.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};
use fs9p::client::{Client, Ids};
use fs9p::Dialect;
use libux::cluster::NodeId;
use libux::fs::client::{open, File};
use libux::fs::pool::{Pool, Pooled};
use libux::fs::server::Answer;
use libux::fs::{flags, FsRequest};
use libux::layout::{slot, MAX_THREADS};
use libux::process::Clock;
use libux::rpc::{Errno, Pid};
use libux::sync::{Event, Mutex};
use libux::{eprintln, println};
use ninep::remote::{Remote, Worker};
use ninep::wire::Wire;

libux::entry!(main);

/// The endpoint the mount's calls come to.
const EP: u64 = slot::FIRST_FREE;
/// Slots of the threads' events, one per thread index.
const EVENTS: u64 = slot::FIRST_FREE + 1;
/// Tag and fid shares: one per thread index, and the last for reads
/// sent ahead.
const SHARES: u16 = MAX_THREADS as u16 + 1;
/// Threads answering calls at most (the reader of the connection and
/// the housekeeper are two more, and a new reader may start before the
/// old one has ended).
const MAX_WORKERS: usize = MAX_THREADS - 3;
/// Of them, the ones a cluster mount (`-c`) keeps for the cluster
/// server's own calls: other clients' calls that wait (reads of a
/// remote `/dev/sleep`, say) cannot take every worker from the calls
/// the cluster forwards through us (beyond: `Busy`).
const RESERVED: usize = 4;
const USAGE: &str = "usage: mount9p [-2] [-m MSIZE] [-c NODE] [-i SECONDS] tcp!A.B.C.D!PORT NAME";
/// How often the housekeeper asks the process server which clients
/// ended (we are not a daemon: nobody signals us), and looks at the
/// node's state, in milliseconds, while the mount is not idle
/// ([`Mount::idle`]).
const HOUSEKEEPING_MS: u32 = 1000;
/// The longest sleep of a resting housekeeper, in milliseconds: a call
/// that comes just as a sleep starts waits at most this long for its
/// housekeeping.
const REST_STEP_MS: u64 = 10_000;
/// [`Mount::keeper`] when the housekeeper is not waiting.
const NOT_WAITING: u16 = u16::MAX;
/// Least time between two looks at a down node's state by calls (each
/// reads the cluster's node table), in microseconds.
const LOOK_EVERY_US: u64 = 100_000;
/// Least time between two attempts to dial again, in microseconds.
const REDIAL_EVERY_US: u64 = 10_000_000;

/// The mount: where it dials, the connection, and what the calls share.
struct Mount {
    dialer: Dialer,
    link: Mutex<Link>,
    remote: Mutex<Remote>,
    /// Calls under way of clients other than the one workers are
    /// reserved for.
    others: Mutex<usize>,
    /// `-c NODE`: the cluster's node the export is on, and whether it is
    /// down (then calls fail at once, and nobody dials).
    node: Option<NodeId>,
    down: AtomicBool,
    /// The node came back since the last dial: the next goes at once.
    back: AtomicBool,
    /// When a call last looked at the node's state while it was down.
    looked: Mutex<u64>,
    /// Calls under way.
    calls: AtomicUsize,
    /// `-i`: how long the mount may be idle before its connection is hung
    /// up, in microseconds.
    rest_after: Option<u64>,
    /// The connection was hung up for rest: the next call dials at once,
    /// and says nothing.
    rested: AtomicBool,
    /// The housekeeper sleeps out the rest period on `rest_clock`: a call
    /// cuts the sleep short.
    resting: AtomicBool,
    /// `/dev/sleep`, for the rest period only: a call's cancel, however
    /// late, cuts short nothing but a rest.
    rest_clock: Option<File>,
    /// The housekeeper is hanging the connection up: a call that comes
    /// meanwhile waits, then dials again (see [`Mount::rest`]).
    hanging: AtomicBool,
    /// The housekeeper's share (its event's index) while it waits for the
    /// mount to be used, else [`NOT_WAITING`].
    keeper: AtomicU16,
    clock: Clock,
    /// `-c`: the cluster server (our parent), for whose calls `RESERVED`
    /// workers are kept.
    reserved_for: Option<libux::rpc::Pid>,
    /// Where our questions about ended processes go on from.
    cursor: Mutex<u64>,
}

/// The connection now, and when it was last dialed.
struct Link {
    wire: Arc<Wire>,
    /// The msize agreed on it.
    msize: u32,
    generation: u32,
    clock: Clock,
    last_dial: Option<u64>,
}

/// The export and how to speak to it.
struct Dialer {
    addr: String,
    dialect: Dialect,
    msize: u32,
    /// What each thread (by index) waits on for its replies.
    events: Vec<Event>,
    /// The cluster's secret, to prove to the export (given by the cluster
    /// server in our environment); none: the export asks for nothing.
    secret: Option<Vec<u8>>,
    /// The export is a node's of the cluster (`-c`), and so fs9p's, which
    /// takes walks and opens in order: an open is one round trip.
    ordered: bool,
}

impl Dialer {
    /// Dials, speaks 9P and attaches, for the thread with `share`: the
    /// connection and that thread's client.
    fn connect(&self, share: u16) -> Result<(Arc<Wire>, Client<ninep::wire::Port>), String> {
        let wire = Wire::dial(&self.addr, self.dialect, self.msize, &self.events)?;
        let ids = Ids::share(share, SHARES);
        let port = wire.port(share);
        let client = match &self.secret {
            Some(secret) => {
                let prove = |challenge: &[u8]| fs9p::auth::prove(secret, challenge).to_vec();
                Client::connect_proving(port, self.dialect, self.msize, "ux", "/", ids, prove)
            }
            None => Client::connect_with(port, self.dialect, self.msize, "ux", "/", ids),
        };
        let mut client = client.map_err(|e| format!("{}: {e}", self.addr))?;
        client.set_ordered(self.ordered);
        Ok((wire, client))
    }
}

impl Mount {
    /// A client for the thread with `share` on the connection now.
    fn worker_for(&self, share: u16) -> Worker {
        let link = self.link.lock();
        let port = link.wire.port(share);
        let mut c = Client::attached(port, self.dialer.dialect, link.msize, Ids::share(share, SHARES));
        c.set_ordered(self.dialer.ordered);
        Worker { c, share, generation: link.generation }
    }

    /// A new connection for `w`, whose connection broke, unless one was
    /// made since, another thread is dialing, or the last attempt ended
    /// too recently (the call then fails).
    fn redial(&self, w: &mut Worker) {
        let Some(mut link) = self.link.try_lock() else { return };
        if link.generation != w.generation {
            drop(link);
            *w = self.worker_for(w.share);
            return;
        }
        let now = link.clock.micros();
        let rested = self.rested.swap(false, Ordering::Relaxed);
        let back = self.back.swap(false, Ordering::Relaxed) || rested;
        if !back && link.last_dial.is_some_and(|then| now.saturating_sub(then) < REDIAL_EVERY_US) {
            return;
        }
        // Other threads' calls fail meanwhile (their clients are broken
        // too): a dial of a dead node takes 20 s.
        let dialed = self.dialer.connect(w.share);
        link.last_dial = Some(link.clock.micros());
        match dialed {
            Ok((wire, c)) => {
                if !rested {
                    println!("mount9p: {}: the connection broke; connected again", self.dialer.addr);
                }
                link.wire = wire;
                link.msize = c.msize();
                link.generation += 1;
                self.remote.lock().reconnected();
                *w = Worker { c, share: w.share, generation: link.generation };
            }
            Err(e) => println!("mount9p: the connection broke; dialing again: {e}"),
        }
    }

    /// Readies `w` for a call: a client on the connection now; a new
    /// connection once a call has found the old one broken (that call
    /// failed: the next dials).
    fn ready(&self, w: &mut Worker) {
        // (`Remote::generation` follows the link's, and its lock is never
        // held long.)
        let (generation, found_broken) = {
            let r = self.remote.lock();
            (r.generation, r.found_broken)
        };
        if w.generation != generation {
            *w = self.worker_for(w.share);
        } else if w.c.transport().wire().is_broken() {
            // A node taken for down may be back before the housekeeper
            // looks again (each second): look now, so that a call made
            // once the table says `up` reaches it; at most every
            // `LOOK_EVERY_US`, as calls fail fast meanwhile.
            if let Some(node) = self.node.filter(|_| self.down.load(Ordering::Relaxed)) {
                let now = self.clock.micros();
                let due = {
                    let mut looked = self.looked.lock();
                    let due = now.saturating_sub(*looked) >= LOOK_EVERY_US;
                    if due {
                        *looked = now;
                    }
                    due
                };
                if due {
                    self.watch(node);
                }
            }
            if found_broken && !self.down.load(Ordering::Relaxed) {
                self.redial(w);
            }
        } else if w.c.is_broken() {
            // The connection is good; only this client went wrong.
            *w = self.worker_for(w.share);
        }
    }

    /// Follows `node`'s state in the cluster's table: once it is down, the
    /// connection is given up (its calls fail now, not after netstack's
    /// 20 s) and nobody dials until it is up again.
    fn watch(&self, node: NodeId) {
        let down = libux::cluster::is_down(node);
        let was = self.down.swap(down, Ordering::Relaxed);
        if down && !was {
            println!("mount9p: node {node} is down; its calls fail until it is back");
            // (A dial in progress holds the link: it fails on its own.)
            if let Some(link) = self.link.try_lock() {
                link.wire.hang_up();
            }
            self.remote.lock().found_broken = true;
        } else if was && !down {
            // Back (a new incarnation, or a node that joined again): the
            // next dial goes at once, whenever the last one was.
            self.back.store(true, Ordering::Relaxed);
        }
    }

    /// Nothing for the housekeeper to do: no call under way (which a
    /// node gone down would keep waiting), and no file held but the
    /// cluster server's (it keeps `call` files open on its mounts; it
    /// ends only with the node). Each idle mount woke every second to
    /// read the node table: at 64 nodes a node that ran `cps`, and so
    /// mounted the 63 others, read it 63 times a second for ever.
    fn idle(&self) -> bool {
        self.calls.load(Ordering::Acquire) == 0
            && self.remote.lock().holders().iter().all(|p| Some(*p) == self.reserved_for)
    }

    /// Hangs the connection up for rest (`-i`), unless it is broken
    /// already, a dial holds it, or a call came. A call that comes while
    /// it hangs up waits for it (`file`), so that no request goes out on
    /// the connection as it goes: `calls` and `hanging` each set before
    /// the other is looked at.
    fn rest(&self) {
        let Some(link) = self.link.try_lock() else { return };
        self.hanging.store(true, Ordering::SeqCst);
        if self.calls.load(Ordering::SeqCst) == 0 && !link.wire.is_broken() {
            self.rested.store(true, Ordering::Relaxed);
            link.wire.hang_up();
            self.remote.lock().found_broken = true;
        }
        self.hanging.store(false, Ordering::SeqCst);
    }

    /// While idle with `-i`: sleeps out the rest period, in steps of at
    /// most [`REST_STEP_MS`] (a call cuts a step short: `keep_house`;
    /// one that comes just as a step starts is seen at its end), then
    /// hangs the connection up unless a call came. Every call clears
    /// `resting` (one that came before it was set was under way, so not
    /// idle, or ended before the rest began).
    fn rest_unless_used(&self, clock: &File, after_us: u64) {
        self.resting.store(true, Ordering::Release);
        self.keeper.store(NOT_WAITING, Ordering::Release);
        let since = self.clock.micros();
        let undisturbed = || self.resting.load(Ordering::Acquire) && self.idle();
        while undisturbed() {
            let left_ms = after_us.saturating_sub(self.clock.micros().saturating_sub(since)) / 1000;
            if left_ms == 0 {
                self.resting.store(false, Ordering::Release);
                return self.rest();
            }
            let step = format!("{}", left_ms.min(REST_STEP_MS));
            if clock.pwrite(0, step.as_bytes()).is_err() && self.resting.load(Ordering::Acquire) {
                // Not cut short: the clock failed; rest now rather than
                // never (the next call dials again).
                self.resting.store(false, Ordering::Release);
                return self.rest();
            }
        }
        self.resting.store(false, Ordering::Release);
    }

    /// A call comes: the housekeeper, if it waits or rests, looks now.
    fn keep_house(&self) {
        if self.resting.swap(false, Ordering::AcqRel) {
            if let Some(clock) = &self.rest_clock {
                let _ = clock.cancel();
            }
        }
        let share = self.keeper.load(Ordering::Acquire);
        if share != NOT_WAITING
            && self.keeper.compare_exchange(share, NOT_WAITING, Ordering::AcqRel, Ordering::Relaxed).is_ok()
        {
            self.dialer.events[usize::from(share)].signal();
        }
    }

    /// Admits a call of `pid`'s (`req`): `Busy` if it would take a worker
    /// kept for the cluster server's calls. A close or a cancel gives
    /// back, and is never refused.
    fn admit(&self, pid: libux::rpc::Pid, req: &FsRequest) -> Result<Option<Admitted<'_>>, Errno> {
        let gives_back = matches!(req, FsRequest::Close { .. } | FsRequest::Cancel { .. });
        if gives_back || self.reserved_for.is_none_or(|r| r == pid) {
            return Ok(None);
        }
        let mut others = self.others.lock();
        if *others >= MAX_WORKERS - RESERVED {
            return Err(Errno::Busy);
        }
        *others += 1;
        Ok(Some(Admitted(self)))
    }

    /// Closes the files of clients that ended (and lets the process
    /// server take back their windows' frames), and gives up the calls
    /// still answered for them.
    fn forget_ended(&self, w: &mut Worker) {
        let mut cursor = self.cursor.lock();
        loop {
            let page = match self.remote.lock().ended_page(&mut cursor) {
                Ok(p) => p,
                Err(e) => return println!("mount9p: cannot learn which processes ended: {e}"),
            };
            let (fids, stuck) = self.remote.lock().ended(&page.pids);
            for fid in fids {
                let _ = w.c.clunk(fid);
            }
            for share in stuck {
                w.flush_share(share);
            }
            if !page.more {
                return;
            }
        }
    }
}

fn main() -> i32 {
    let args = libux::rt::args();
    let (mut dialect, mut msize, mut rest, mut node) = (Dialect::L, 1u32 << 20, Vec::new(), None);
    let mut rest_after = None;
    let mut i = 1;
    while i < args.len() {
        match args[i] {
            "-2" => dialect = Dialect::P2000,
            "-c" => match args.get(i + 1).and_then(|n| NodeId::parse(n)) {
                Some(n) => {
                    node = Some(n);
                    i += 1;
                }
                None => {
                    eprintln!("{USAGE}");
                    return 2;
                }
            },
            "-i" => match args.get(i + 1).and_then(|s| s.parse::<u64>().ok()).filter(|&s| s > 0) {
                Some(seconds) => {
                    rest_after = Some(seconds.saturating_mul(1_000_000));
                    i += 1;
                }
                None => {
                    eprintln!("{USAGE}");
                    return 2;
                }
            },
            "-m" => match args.get(i + 1).and_then(|m| m.parse().ok()) {
                Some(m) => {
                    msize = m;
                    i += 1;
                }
                None => {
                    eprintln!("{USAGE}");
                    return 2;
                }
            },
            a => rest.push(a),
        }
        i += 1;
    }
    let [addr, name] = rest[..] else {
        eprintln!("{USAGE}");
        return 2;
    };
    if name.is_empty() || name.contains('/') {
        eprintln!("{USAGE}");
        return 2;
    }
    let events: Result<Vec<Event>, Errno> = (0..MAX_THREADS as u64).map(|k| Event::create(EVENTS + k)).collect();
    let events = match events {
        Ok(e) => e,
        Err(e) => {
            eprintln!("mount9p: cannot make events: {e}");
            return 1;
        }
    };
    let secret = ninep::auth::env_hex("UX_SECRET");
    let dialer = Dialer { addr: String::from(addr), dialect, msize, events, secret, ordered: node.is_some() };
    let share = libux::thread::current().0 as u16;
    let (wire, c) = match dialer.connect(share) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mount9p: {e}");
            return 1;
        }
    };
    let at = format!("/n/{name}");
    // `/n/NAME`, so that `ls /n` shows the mount (a mount point needs no
    // directory under it; it may exist already). Not for the cluster
    // server's mounts (`-c`): its `/n` lists the nodes, and the thread
    // that would answer may be waiting for this very mount.
    if node.is_none() {
        let _ = libux::fs::client::mkdir("/n");
        let _ = libux::fs::client::mkdir(&at);
    }
    if let Err(e) = libux::process::create_endpoint(EP).and_then(|()| libux::process::mount(&at, EP)) {
        eprintln!("mount9p: cannot mount {at}: {e}");
        return 1;
    }
    println!("mount9p: {addr} mounted at {at} ({}, msize {})", c.dialect().version(), c.msize());
    let clock = Clock::new();
    let link = Link { wire, msize: c.msize(), generation: 0, clock, last_dial: None };
    let mount = Mount {
        dialer,
        link: Mutex::new(link),
        remote: Mutex::new(Remote::new(Ids::share(SHARES - 1, SHARES).tags)),
        others: Mutex::new(0),
        reserved_for: node.and_then(|_| libux::process::getppid().ok()).map(|g| libux::cluster::Gpid(g).pid()),
        node,
        down: AtomicBool::new(false),
        back: AtomicBool::new(false),
        looked: Mutex::new(0),
        calls: AtomicUsize::new(0),
        rest_after,
        rested: AtomicBool::new(false),
        resting: AtomicBool::new(false),
        rest_clock: match rest_after {
            Some(_) => open("/dev/sleep", flags::WRITE)
                .inspect_err(|e| println!("mount9p: /dev/sleep: {e}; the mount does not rest"))
                .ok(),
            None => None,
        },
        hanging: AtomicBool::new(false),
        keeper: AtomicU16::new(NOT_WAITING),
        clock,
        cursor: Mutex::new(0),
    };
    let pool = Pool::new(mount, EP, MAX_WORKERS);
    let keeper = pool.clone();
    if let Err(e) = libux::thread::spawn(move || housekeep(&keeper.served)) {
        eprintln!("mount9p: cannot start the housekeeper: {e}");
        return 1;
    }
    pool.join(Worker { c, share, generation: 0 })
}

/// Closes what clients that ended held here, and gives up the calls
/// still waiting for them (a killed `cat` of a remote pipe), and follows
/// the node, every [`HOUSEKEEPING_MS`] while the mount is not idle; else
/// waits for a call, with `-i` first resting (and then hanging up).
fn housekeep(mount: &Mount) {
    let share = libux::thread::current().0 as u16;
    let mut w = mount.worker_for(share);
    let mut clock = match open("/dev/sleep", flags::WRITE) {
        Ok(f) => f,
        Err(e) => return println!("mount9p: /dev/sleep: {e}; clients that end keep their files here"),
    };
    let period = format!("{HOUSEKEEPING_MS}");
    let event = mount.dialer.events[usize::from(share)];
    loop {
        // Said before the look, so that a call come meanwhile signals.
        mount.keeper.store(share, Ordering::Release);
        if mount.idle() {
            // (A link held is being dialed, by a call: not idle for long.)
            let connected = mount.link.try_lock().is_some_and(|l| !l.wire.is_broken());
            match (mount.rest_after, &mount.rest_clock) {
                (Some(after), Some(rest_clock)) if connected => mount.rest_unless_used(rest_clock, after),
                // (A reply's late signal wakes it too: it looks again.)
                _ => event.wait(),
            }
            continue;
        }
        mount.keeper.store(NOT_WAITING, Ordering::Release);
        if let Some(node) = mount.node {
            mount.watch(node);
        }
        if !mount.remote.lock().holders().is_empty() {
            if w.generation != mount.remote.lock().generation {
                w = mount.worker_for(share);
            }
            mount.forget_ended(&mut w);
        }
        if clock.write(period.as_bytes()).is_err() {
            return println!("mount9p: /dev/sleep failed; clients that end keep their files here");
        }
    }
}

/// A call of a client other than the one workers are kept for, counted
/// among the others' until dropped.
struct Admitted<'a>(&'a Mount);

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        *self.0.others.lock() -= 1;
    }
}

impl Pooled for Mount {
    type Worker = Worker;

    fn worker(&self) -> Worker {
        self.worker_for(libux::thread::current().0 as u16)
    }

    fn file(&self, w: &mut Worker, pid: Pid, req: FsRequest) -> Option<Result<Answer, Errno>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        // The housekeeper may be hanging the connection up for rest: this
        // call goes out on the next one (`ready` dials it).
        while self.hanging.load(Ordering::SeqCst) {
            libux::sel4::syscall::yield_now();
        }
        self.keep_house();
        self.ready(w);
        let answer = self.admit(pid, &req).and_then(|_admitted| {
            let again = req.is_repeatable().then(|| req.clone());
            let first = w.request(&self.remote, pid, req);
            // A connection that broke while idle fails the first call made
            // on it: one that doing again changes nothing more is made
            // again on a new connection.
            match again {
                Some(req) if first.is_err() && w.c.transport().wire().is_broken() => {
                    self.remote.lock().found_broken = true;
                    self.ready(w);
                    if w.c.transport().wire().is_broken() {
                        first
                    } else {
                        w.request(&self.remote, pid, req)
                    }
                }
                _ => first,
            }
        });
        if w.c.is_broken() {
            self.remote.lock().found_broken = true;
        }
        self.calls.fetch_sub(1, Ordering::AcqRel);
        Some(answer)
    }
}

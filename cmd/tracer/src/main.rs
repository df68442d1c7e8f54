//! `tracer PROGRAM [ARG...]`: runs a program with its process server
//! connection redirected to us, like `strace` for the process API. Every
//! call of the program and of its descendants (they inherit the
//! redirection) is logged as `tracer: [gpid] request = reply` and
//! relayed to the process server unchanged, without being re-encoded.
//!
//! Calls are served by a pool of threads, each receiving, relaying and
//! answering one call at a time: a call that waits long (a `Wait` for a
//! child that runs on) holds one thread while the others go on serving.
//! A tracer may itself be traced: the calls it relays reach the outer
//! tracer as relays, which it passes on as they are (logged as
//! `[pid via inner]`).
//!
//! The tracer ends when every process it has seen has exited or been
//! killed through a call it relayed. A traced process that faults is
//! reported by the process server, not here, and keeps the tracer
//! waiting: trace programs that end by exiting.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::collections::BTreeSet;
use core::sync::atomic::{AtomicU16, Ordering};
use libux::cluster::{Gpid, NodeId};
use libux::layout::{slot, MAX_THREADS};
use libux::println;
use libux::process;
use libux::rpc::client::{self, peek_reply, peek_request};
use libux::rpc::{Badge, Errno, Pid, Request, Response, MSG_CALL, MSG_RELAY};
use libux::sel4::syscall::ipc_buffer;
use libux::sync::Mutex;

libux::entry!(main);

/// Where our endpoint goes in our CSpace.
const EP: u64 = slot::FIRST_FREE;

/// What the tracer needs to remember of a request after relaying it.
enum Kind {
    Spawn,
    Exit,
    Kill(Pid),
    Other,
}

fn kind(r: &Request) -> Kind {
    match r {
        Request::Spawn(_) => Kind::Spawn,
        Request::Exit { .. } => Kind::Exit,
        Request::Kill { pid } => Kind::Kill(*pid),
        _ => Kind::Other,
    }
}

/// The processes seen and not yet ended.
static LIVE: Mutex<Seen> = Mutex::new(Seen { live: BTreeSet::new(), exited_early: BTreeSet::new() });

struct Seen {
    live: BTreeSet<Pid>,
    /// Processes that exited before the reply of the `Spawn` that made
    /// them reached us: a child runs, and may exit, while its parent's
    /// call is still on its way back through another of our threads.
    exited_early: BTreeSet<Pid>,
}

impl Seen {
    fn spawned(&mut self, pid: Pid) {
        if !self.exited_early.remove(&pid) {
            self.live.insert(pid);
        }
    }

    /// `pid` called `Exit` through us: it is ours, seen yet or not.
    fn exited(&mut self, pid: Pid) {
        if !self.live.remove(&pid) {
            self.exited_early.insert(pid);
        }
    }
}
/// The program we started.
static CHILD: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0);
/// Our node: callers reach us named by their badges (local pids), the
/// process API names them by gpid; the log and `LIVE` use gpids.
static NODE: AtomicU16 = AtomicU16::new(1);

/// `pid` (a local pid or a gpid of our node) as a gpid.
fn gpid(pid: Pid) -> Pid {
    Gpid::named(NodeId(NODE.load(Ordering::Relaxed)), pid).map_or(pid, |g| g.0)
}

fn main() -> i32 {
    let args = libux::rt::args();
    if args.len() < 2 {
        println!("usage: tracer PROGRAM [ARG...]");
        return 2;
    }
    if let Some(node) = process::getpid().ok().and_then(|me| Gpid(me).node()) {
        NODE.store(node.0, Ordering::Relaxed);
    }
    if let Err(e) = process::create_endpoint(EP) {
        println!("tracer: cannot create an endpoint: {e}");
        return 1;
    }
    // Threads first: calls may come as soon as the program runs.
    for _ in 1..MAX_THREADS {
        if let Err(e) = libux::thread::spawn(serve) {
            println!("tracer: cannot start a thread: {e}");
            return 1;
        }
    }
    let mut live = LIVE.lock();
    match process::spawn_with(args[1], &args[1..], &[], Some(EP)) {
        Ok(pid) => {
            live.live.insert(pid);
            CHILD.store(pid, Ordering::Relaxed);
        }
        Err(e) => {
            println!("tracer: cannot start {}: {e}", args[1]);
            return 1;
        }
    }
    drop(live);
    serve();
    0
}

/// Serves calls until every process seen has ended, then ends the tracer.
fn serve() {
    let mut m = client::recv_raw(EP);
    loop {
        let (pid, via) = match m.label {
            MSG_CALL => (gpid(Badge(m.badge).pid()), None),
            // A tracer under us relays for its own clients: MR1 names them.
            MSG_RELAY => (gpid(ipc_buffer().msg[1] as Pid), Some(gpid(Badge(m.badge).pid()))),
            label => {
                println!("tracer: [{}] unexpected message label {label}", m.badge);
                m = client::reply_recv_raw(EP, client::error_reply_words(Errno::BadRequest));
                continue;
            }
        };
        let request = peek_request(m.words).map(|r| (alloc::format!("{r:?}"), kind(&r)));
        let (shown, kind) = request.unwrap_or_else(|| ("(request in shared buffer)".into(), Kind::Other));
        let reply_words = match client::relay(slot::PROC_CONN, pid as u64, m.words) {
            Ok(w) => w,
            Err(e) => client::error_reply_words(e),
        };
        let reply = peek_reply(reply_words);
        // Printing is a call of our own: keep the reply safe meanwhile.
        let saved = client::save(reply_words);
        match via {
            Some(v) => println!("tracer: [{pid} via {v}] {shown} = {reply:?}"),
            None => println!("tracer: [{pid}] {shown} = {reply:?}"),
        }
        let reply_words = client::restore(&saved);
        let mut live = LIVE.lock();
        match (kind, reply) {
            (Kind::Spawn, Some(Ok(Response::Pid(p)))) => live.spawned(p),
            (Kind::Exit, _) => live.exited(pid),
            (Kind::Kill(k), Some(Ok(_))) => {
                live.live.remove(&gpid(k));
            }
            _ => {}
        }
        if live.live.is_empty() {
            drop(live);
            // The last call was an Exit or a Kill: its caller is gone.
            let _ = process::try_wait(Some(CHILD.load(Ordering::Relaxed)));
            println!("tracer: done");
            libux::rt::exit(0);
        }
        drop(live);
        m = client::reply_recv_raw(EP, reply_words);
    }
}

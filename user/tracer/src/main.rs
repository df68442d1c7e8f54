//! `tracer PROGRAM [ARG...]`: runs a program with its process server
//! connection redirected to us, like `strace` for the process API. Every
//! call of the program and of its descendants (they inherit the
//! redirection) is logged as `tracer: [pid] request = reply` and relayed
//! to the process server unchanged, without being re-encoded.
//!
//! The tracer ends when every process it has seen has exited or been
//! killed through a call it relayed. A traced process that faults is
//! reported by the process server, not here, and keeps the tracer
//! waiting: trace programs that end by exiting.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::collections::BTreeSet;
use libux::layout::slot;
use libux::println;
use libux::process;
use libux::rpc::client::{self, peek_reply, peek_request};
use libux::rpc::{Pid, Request, Response, MSG_CALL};

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

fn main() -> i32 {
    let args = libux::rt::args();
    if args.len() < 2 {
        println!("usage: tracer PROGRAM [ARG...]");
        return 2;
    }
    if let Err(e) = process::create_endpoint(EP) {
        println!("tracer: cannot create an endpoint: {e}");
        return 1;
    }
    let child = match process::spawn_with(args[1], &args[1..], &[], Some(EP)) {
        Ok(pid) => pid,
        Err(e) => {
            println!("tracer: cannot start {}: {e}", args[1]);
            return 1;
        }
    };
    let mut live: BTreeSet<Pid> = BTreeSet::new();
    live.insert(child);
    let mut m = client::recv_raw(EP);
    loop {
        let pid = m.badge as Pid;
        if m.label != MSG_CALL {
            println!("tracer: [{pid}] unexpected message label {}", m.label);
            m = client::reply_recv_raw(EP, client::error_reply_words(libux::rpc::Errno::BadRequest));
            continue;
        }
        let request = peek_request(m.words).map(|r| (alloc::format!("{r:?}"), kind(&r)));
        let (shown, kind) = request.unwrap_or_else(|| ("(request in shared buffer)".into(), Kind::Other));
        let reply_words = match client::relay(slot::PROC_CONN, pid as u64, m.words) {
            Ok(w) => w,
            Err(e) => client::error_reply_words(e),
        };
        let reply = peek_reply(reply_words);
        // Printing is a call of our own: keep the reply safe meanwhile.
        let saved = client::save(reply_words);
        println!("tracer: [{pid}] {shown} = {reply:?}");
        let reply_words = client::restore(&saved);
        match (kind, reply) {
            (Kind::Spawn, Some(Ok(Response::Pid(p)))) => {
                live.insert(p);
            }
            (Kind::Exit, _) => {
                live.remove(&pid);
            }
            (Kind::Kill(k), Some(Ok(_))) => {
                live.remove(&k);
            }
            _ => {}
        }
        if live.is_empty() {
            break;
        }
        m = client::reply_recv_raw(EP, reply_words);
    }
    let _ = process::try_wait(Some(child));
    println!("tracer: done");
    0
}

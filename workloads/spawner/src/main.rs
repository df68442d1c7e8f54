//! `spawner MODE [N]`: spawns children and waits for them, and checks
//! what the process server says about it. It prints one `spawner: ok ...`
//! line when every check of the mode passed, `spawner: FAIL ...` otherwise.
//!
//! Modes:
//! - `many N`: N children at once, each exiting with a distinct status;
//!   every status must be collected exactly once.
//! - `orphans`: a child that starts grandchildren and exits first; the
//!   grandchildren must be re-parented, and no process may be left over.
//! - `loop N`: spawn and reap `true` N times; free memory must come back
//!   to where it started and the process server's heap stay bounded.
//! - `faults`: run `faulter` with each kind and report how each ended.
//! - `oom`: run `memhog oom`, then check that spawning still works.
//! - `stopcont`: stop a child that would finish within 1000 of our time
//!   slices; it must not finish while stopped, and must after `Cont`. Then
//!   stop and continue a child while its `Wait` hangs (`waitchild`): the
//!   Wait must still be answered.
//! - `nogrants`: spawn `devprobe`, which the system description grants
//!   device memory only when the process server starts it: spawned by us
//!   it faults where the grant would be mapped.
//! - `args`: spawn a child with a 2000-byte argument (too big for the
//!   message registers: the request travels in the shared buffer) and an
//!   environment; the child (`checkargs`) checks what it got.
//! - `guards`: requests the process server must refuse without harm: a
//!   redirect to a capability that is not our endpoint, Cont of a process
//!   that is not stopped, endpoints in reserved or taken slots; and a
//!   multi-byte program name longer than the server keeps; telling of
//!   children placed on other nodes (the cluster server's alone).
//! - `killtracer`: run under `tracer`, kill the tracer: we lose our
//!   connection and are killed too (never left waiting for a reply).
//! - `chain`: spawn `true 5`, wait for it, check its status (a fixed
//!   sequence of calls, for tracing).
//! - `table`: spawn `true` without reaping until the process table is
//!   full; the refusal must be an error (no memory), every child must
//!   then be reaped exactly once, and spawning must work again.
//! - `grown`: a full table once (the process server's heap grows), then
//!   a copy of `true` in a file must run.
//! - `message`: see `message.rs`.
//! - `threads`, `threadfault`: see `threads.rs`; `images N`: see
//!   `images.rs`; `reap N`, `cluster NODES N`: see `rate.rs`; `abroad
//!   NODES N`: see `abroad.rs`.
//! - `orphan-parent`, `orphan-child`, `yields N`: roles the modes above
//!   start.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use libux::println;
use libux::process::{self, spawn, wait};
use libux::rpc::{End, Errno, FaultKind};

mod abroad;
mod images;
mod message;
mod rate;
mod threads;

libux::entry!(main);

fn main() -> i32 {
    let args = libux::rt::args();
    let n = args.get(2).and_then(|s| s.parse().ok());
    let result = match args.get(1).copied() {
        Some("many") => many(n.unwrap_or(100)),
        Some("orphans") => orphans(),
        Some("orphan-parent") => orphan_parent(),
        Some("orphan-child") => orphan_child(),
        Some("loop") => spawn_loop(n.unwrap_or(1000)),
        Some("faults") => faults(),
        Some("oom") => oom(),
        Some("chain") => chain(),
        Some("stopcont") => stop_cont(),
        Some("nogrants") => no_grants(),
        Some("args") => args_and_env(),
        Some("guards") => guards(),
        Some("killtracer") => kill_tracer(),
        Some("table") => table_full(),
        Some("grown") => grown(),
        Some("checkargs") => check_args(),
        Some("threads") => threads::threads(),
        Some("waitchild") => wait_child(),
        Some("threadfault") => threads::thread_fault(),
        Some("message") => message::message(),
        Some("images") => images::images(n.unwrap_or(100)),
        Some("reap") => rate::reap(n.unwrap_or(100)),
        Some("abroad") => match (n, args.get(3).and_then(|s| s.parse().ok())) {
            (Some(nodes), Some(n)) if (1..=u32::from(u16::MAX >> 1)).contains(&nodes) => {
                abroad::abroad(nodes as u16, n)
            }
            _ => Err(String::from("usage: spawner abroad NODES N")),
        },
        Some("cluster") => match (n, args.get(3).and_then(|s| s.parse().ok())) {
            (Some(nodes), Some(rounds)) if (1..=u32::from(u16::MAX >> 1)).contains(&nodes) => {
                rate::cluster(nodes as u16, rounds)
            }
            _ => Err(String::from("usage: spawner cluster NODES ROUNDS")),
        },
        Some("yields") => {
            for _ in 0..n.unwrap_or(1000) {
                libux::sel4::syscall::yield_now();
            }
            Ok(String::from("yields done"))
        }
        _ => Err(String::from(
            "usage: spawner many|orphans|loop|faults|oom|chain|stopcont|nogrants|args|guards|killtracer|table|grown|\
             checkargs|threads|waitchild|threadfault|message|images|reap|abroad|cluster|yields [N ...]",
        )),
    };
    match result {
        Ok(msg) => {
            println!("spawner: ok {msg}");
            0
        }
        Err(msg) => {
            println!("spawner: FAIL {msg}");
            1
        }
    }
}

fn err(what: &str, e: Errno) -> String {
    format!("{what}: {e}")
}

fn many(n: u32) -> Result<String, String> {
    let mut pids = Vec::new();
    for i in 0..n {
        let status = format!("{}", i + 1);
        pids.push(spawn("/bin/true", &["true", &status], &[]).map_err(|e| err("spawn", e))?);
    }
    let mut seen = alloc::vec![false; n as usize];
    for _ in 0..n {
        let w = wait(None).map_err(|e| err("wait", e))?;
        let i = pids.iter().position(|&p| p == w.pid).ok_or(format!("reaped unknown pid {}", w.pid))?;
        match w.end {
            End::Exited(s) if s == i as i32 + 1 && !seen[i] => seen[i] = true,
            other => return Err(format!("pid {} ended {other:?}, twice or with the wrong status", w.pid)),
        }
    }
    if process::try_wait(None) != Err(Errno::NoChild) {
        return Err(String::from("a child is left after collecting all"));
    }
    Ok(format!("collected {n} distinct exit statuses exactly once"))
}

fn orphans() -> Result<String, String> {
    let before = process::stats().map_err(|e| err("stats", e))?.resources.processes;
    let parent = spawn("/bin/spawner", &["spawner", "orphan-parent"], &[]).map_err(|e| err("spawn", e))?;
    let w = wait(Some(parent)).map_err(|e| err("wait", e))?;
    if w.end != End::Exited(0) {
        return Err(format!("orphan-parent ended {:?}", w.end));
    }
    // The grandchildren report their re-parenting, then exit; the process
    // server reaps them. Wait (bounded) for the table to shrink back.
    for _ in 0..200_000 {
        if process::stats().map_err(|e| err("stats", e))?.resources.processes == before {
            return Ok(format!("grandchildren re-parented and reaped; {before} processes as before"));
        }
        libux::sel4::syscall::yield_now();
    }
    Err(format!("{} processes left, {before} before", process::stats().unwrap().resources.processes))
}

fn orphan_parent() -> Result<String, String> {
    for _ in 0..3 {
        spawn("/bin/spawner", &["spawner", "orphan-child"], &[]).map_err(|e| err("spawn", e))?;
    }
    Ok(String::from("orphan-parent leaves three children behind"))
}

fn orphan_child() -> Result<String, String> {
    let me = process::getpid().map_err(|e| err("getpid", e))?;
    for _ in 0..200_000 {
        if process::getppid().map_err(|e| err("getppid", e))? == 0 {
            return Ok(format!("pid {me} re-parented to the process server"));
        }
        libux::sel4::syscall::yield_now();
    }
    Err(format!("pid {me} never re-parented"))
}

fn spawn_loop(n: u32) -> Result<String, String> {
    let start = process::stats().map_err(|e| err("stats", e))?;
    let mut heap_max = start.heap_used;
    for i in 0..n {
        let pid = spawn("/bin/true", &["true"], &[]).map_err(|e| err("spawn", e))?;
        let w = wait(Some(pid)).map_err(|e| err("wait", e))?;
        if w.end != End::Exited(0) {
            return Err(format!("round {i}: true ended {:?}", w.end));
        }
        if i % 64 == 0 {
            heap_max = heap_max.max(process::stats().map_err(|e| err("stats", e))?.heap_used);
        }
    }
    let end = process::stats().map_err(|e| err("stats", e))?;
    // Every finite table the process server keeps is back where it was.
    if end.resources != start.resources {
        return Err(format!("{} before, {} after {n} rounds", start.resources, end.resources));
    }
    Ok(format!(
        "{n} spawn/exit rounds: {} before and after; server heap {} bytes at start, at most {heap_max}",
        start.resources, start.heap_used
    ))
}

/// Fills the process table twice. A daemon may keep what the first burst
/// of thousands of clients made once (a connection, a thread); the second
/// must cost nothing more: the resources after each are printed for the
/// test to compare.
fn table_full() -> Result<String, String> {
    let mut said = String::new();
    for round in ["first", "second"] {
        said = one_table()?;
        let after = libux::process::stats().map_err(|e| err("stats", e))?.resources;
        println!("spawner: after the {round} full table: {after}");
    }
    Ok(said)
}

/// A full process table grows the process server's heap past its first
/// MiB; then a program that is a file still runs (an exec's view and the
/// heap's window are apart in its address space). Its file stays in
/// `/tmp`, so the node's resources are not compared.
fn grown() -> Result<String, String> {
    let said = one_table()?;
    images::run_a_copy_of_true().map_err(|e| format!("after a full table: {e}"))?;
    Ok(format!("{said}; then a file's program ran"))
}

fn one_table() -> Result<String, String> {
    let mut pids = alloc::collections::BTreeSet::new();
    let refused = loop {
        match spawn("/bin/true", &["true"], &[]) {
            Ok(pid) => {
                pids.insert(pid);
            }
            Err(e) => break e,
        }
        if pids.len() > 10_000 {
            return Err(String::from("10000 children and the table still not full"));
        }
    };
    if refused != Errno::NoMemory {
        return Err(format!("a full process table answered {refused}"));
    }
    let full = pids.len();
    // What the process server's heap came to, holding them all.
    let heap = process::stats().map_err(|e| err("stats", e))?.heap_size >> 10;
    for _ in 0..full {
        let w = wait(None).map_err(|e| err("wait", e))?;
        if !pids.remove(&w.pid) || w.end != End::Exited(0) {
            return Err(format!("wait gave {w:?}: not a child still to reap, or not a clean exit"));
        }
    }
    let again = spawn("/bin/true", &["true"], &[]).map_err(|e| err("spawn after the table was full", e))?;
    let w = wait(Some(again)).map_err(|e| err("wait", e))?;
    if w.end != End::Exited(0) {
        return Err(format!("after the table was full, true ended {:?}", w.end));
    }
    Ok(format!(
        "a full process table took {full} children, then: {refused}; each reaped once, spawning works again \
         (server heap {heap} KiB)"
    ))
}

fn faults() -> Result<String, String> {
    let mut report = String::new();
    // The stack is mapped as it is touched, up to its end.
    let deep = spawn("/bin/faulter", &["faulter", "deep"], &[]).map_err(|e| err("spawn", e))?;
    match wait(Some(deep)).map_err(|e| err("wait", e))?.end {
        End::Exited(0) => {}
        other => return Err(format!("faulter deep ended {other:?}")),
    }
    for kind in ["page", "write", "ud", "div", "gp", "steal", "overflow"] {
        let pid = spawn("/bin/faulter", &["faulter", kind], &[]).map_err(|e| err("spawn", e))?;
        let w = wait(Some(pid)).map_err(|e| err("wait", e))?;
        match w.end {
            End::Faulted(f) => {
                println!("spawner: faulter {kind}: {:?} ip {:#x} address {:#x}", f.kind, f.ip, f.addr);
                report.push_str(kind);
                report.push(' ');
            }
            other => return Err(format!("faulter {kind} ended {other:?}")),
        }
    }
    Ok(format!("faults reported: {report}"))
}

fn kill_tracer() -> Result<String, String> {
    let tracer = process::getppid().map_err(|e| err("getppid", e))?;
    println!("spawner: killing my tracer, pid {tracer}");
    let r = process::kill(tracer);
    Err(format!("still running after killing the tracer: {r:?}"))
}

fn guards() -> Result<String, String> {
    let expect = |what: &str, got: Result<(), Errno>, want: Errno| {
        if got == Err(want) {
            Ok(())
        } else {
            Err(format!("{what}: got {got:?}, want {want:?}"))
        }
    };
    let events = libux::layout::slot::EVENTS;
    let r = process::spawn_with("/bin/true", &["true"], &[], Some(events)).map(drop);
    expect("redirect to the child-events notification", r, Errno::InvalidArgument)?;
    let pid = spawn("/bin/spawner", &["spawner", "yields", "100"], &[]).map_err(|e| err("spawn", e))?;
    expect("Cont of a running process", process::cont(pid), Errno::InvalidArgument)?;
    wait(Some(pid)).map_err(|e| err("wait", e))?;
    expect("endpoint in a reserved slot", process::create_endpoint(5), Errno::InvalidArgument)?;
    process::create_endpoint(40).map_err(|e| err("create_endpoint", e))?;
    expect("endpoint in a taken slot", process::create_endpoint(40), Errno::InvalidArgument)?;
    // A mapping larger than a process may hold is refused before anything
    // is made (a million pages would need more than the process server's
    // own heap to list them), and the process server goes on.
    let huge = libux::layout::HEAP_BASE + (1 << 36);
    expect("a million-page mapping", process::map_anon(huge, 1 << 20), Errno::NoMemory)?;
    process::map_anon(huge, 16).map_err(|e| err("a 16-page mapping after it", e))?;
    process::unmap_anon(huge, 16).map_err(|e| err("unmapping it", e))?;
    // Only the cluster server tells of children on other nodes: anyone
    // else could make a process wait for a child it never had.
    let me = process::getpid().map_err(|e| err("getpid", e))?;
    let abroad = libux::cluster::Gpid::new(libux::cluster::NodeId(2), 7).map_or(0, |g| g.0);
    expect("Placed from a program", process::placed(me, abroad), Errno::NotPermitted)?;
    expect("PlacedEnded from a program", process::placed_ended(abroad, End::Exited(0)), Errno::NotPermitted)?;
    let name = "x".repeat(31) + "é-and-more";
    let pid = spawn("/bin/true", &[&name, "3"], &[]).map_err(|e| err("spawn with a long name", e))?;
    match wait(Some(pid)).map_err(|e| err("wait", e))?.end {
        End::Exited(3) => Ok(String::from(
            "bad redirects, Cont, endpoint slots, huge mappings, placed children refused; long names kept safely",
        )),
        other => Err(format!("long-named child ended {other:?}")),
    }
}

const ENV: [&str; 2] = ["HOME=/", "LANG=C"];

fn args_and_env() -> Result<String, String> {
    let big = "x".repeat(2000);
    let pid = spawn("/bin/spawner", &["spawner", "checkargs", &big], &ENV).map_err(|e| err("spawn", e))?;
    match wait(Some(pid)).map_err(|e| err("wait", e))?.end {
        End::Exited(0) => Ok(String::from("a 2000-byte argument and the environment arrived intact")),
        other => Err(format!("checkargs ended {other:?}")),
    }
}

fn check_args() -> Result<String, String> {
    let block = libux::rt::start_block();
    let big_ok = block.argv.get(2).is_some_and(|a| a.len() == 2000 && a.bytes().all(|b| b == b'x'));
    if !big_ok || block.argv.len() != 3 || block.env != ENV {
        return Err(format!("got {} arguments and environment {:?}", block.argv.len(), block.env));
    }
    Ok(format!("pid {} got its arguments and environment", block.pid))
}

fn no_grants() -> Result<String, String> {
    let pid = spawn("/bin/devprobe", &["devprobe"], &[]).map_err(|e| err("spawn", e))?;
    match wait(Some(pid)).map_err(|e| err("wait", e))?.end {
        End::Faulted(f) if f.kind == FaultKind::PageFault => {
            Ok(String::from("a spawned devprobe got no device grants"))
        }
        other => Err(format!("a spawned devprobe ended {other:?}")),
    }
}

fn stop_cont() -> Result<String, String> {
    let pid = spawn("/bin/spawner", &["spawner", "yields", "1000"], &[]).map_err(|e| err("spawn", e))?;
    process::stop(pid).map_err(|e| err("stop", e))?;
    for _ in 0..5000 {
        if process::try_wait(Some(pid)).map_err(|e| err("try_wait", e))?.is_some() {
            return Err(String::from("a stopped child finished"));
        }
        libux::sel4::syscall::yield_now();
    }
    process::cont(pid).map_err(|e| err("cont", e))?;
    let w = wait(Some(pid)).map_err(|e| err("wait", e))?;
    if w.end != End::Exited(0) {
        return Err(format!("continued child ended {:?}", w.end));
    }
    if process::stop(pid) != Err(Errno::NoSuchProcess) {
        return Err(String::from("stopping a reaped process did not fail"));
    }
    // A child stopped and continued while its Wait hangs: the Wait, made
    // again when it is continued, is answered when its own child ends.
    let waiter = spawn("/bin/spawner", &["spawner", "waitchild"], &[]).map_err(|e| err("spawn", e))?;
    let mut grandchild = None;
    for _ in 0..100_000 {
        grandchild = child_of(waiter);
        if grandchild.is_some() {
            break;
        }
        libux::sel4::syscall::yield_now();
    }
    grandchild.ok_or_else(|| String::from("the waiter's child never showed in /proc"))?;
    process::stop(waiter).map_err(|e| err("stop waiter", e))?;
    for _ in 0..1000 {
        libux::sel4::syscall::yield_now();
    }
    process::cont(waiter).map_err(|e| err("cont waiter", e))?;
    let w = wait(Some(waiter)).map_err(|e| err("wait for the waiter", e))?;
    if w.end != End::Exited(0) {
        return Err(format!("the waiter, stopped in its Wait, ended {:?}", w.end));
    }
    Ok(String::from(
        "a stopped child made no progress in 5000 of our time slices and finished after Cont; a Wait stopped and continued was answered",
    ))
}

/// A child of `parent`, from `/proc`.
fn child_of(parent: libux::rpc::Pid) -> Option<libux::rpc::Pid> {
    let entries = libux::fs::client::list("/proc").ok()?;
    entries.iter().filter(|e| e.name.parse::<u32>().is_ok()).find_map(|e| {
        let mut f = libux::fs::client::open(&format!("/proc/{}/status", e.name), libux::fs::flags::READ).ok()?;
        let text = f.read_to_end().ok()?;
        let status = libux::procfs::Status::parse(core::str::from_utf8(&text).ok()?)?;
        (status.ppid == parent).then_some(status.pid)
    })
}

/// `waitchild`: waits for a child that yields a while, then checks how it
/// ended (the test stops and continues us meanwhile).
fn wait_child() -> Result<String, String> {
    let pid = spawn("/bin/spawner", &["spawner", "yields", "30000"], &[]).map_err(|e| err("spawn", e))?;
    match wait(Some(pid)).map_err(|e| err("wait", e))?.end {
        End::Exited(0) => Ok(String::from("waitchild: the Wait was answered")),
        other => Err(format!("waitchild: child ended {other:?}")),
    }
}

fn chain() -> Result<String, String> {
    let pid = spawn("/bin/true", &["true", "5"], &[]).map_err(|e| err("spawn", e))?;
    match wait(Some(pid)).map_err(|e| err("wait", e))?.end {
        End::Exited(5) => Ok(String::from("chain: child exited with status 5")),
        other => Err(format!("chain: child ended {other:?}")),
    }
}

fn oom() -> Result<String, String> {
    let hog = spawn("/bin/memhog", &["memhog", "oom"], &[]).map_err(|e| err("spawn", e))?;
    let w = wait(Some(hog)).map_err(|e| err("wait", e))?;
    if w.end != End::Exited(0) {
        return Err(format!("memhog oom ended {:?}", w.end));
    }
    let pid = spawn("/bin/true", &["true", "7"], &[]).map_err(|e| err("spawn after exhaustion", e))?;
    match wait(Some(pid)).map_err(|e| err("wait", e))?.end {
        End::Exited(7) => Ok(String::from("spawning works again after memory exhaustion")),
        other => Err(format!("true after exhaustion ended {other:?}")),
    }
}

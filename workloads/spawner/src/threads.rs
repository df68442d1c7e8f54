//! `threads`: the process's threads run at once and share its heap, and
//! one blocked in a call that waits long (a `Wait` for a child that runs
//! on) keeps nobody else waiting.
//!
//! One thread waits for a child that only ends when killed; the others
//! each make calls and allocate, and report; only when all have reported
//! does the first thread kill the child, which ends the wait. Then every
//! thread has ended, a second round runs on the same thread objects (our
//! memory must not grow), and a thread past `MAX_THREADS` is refused.
//! `threadfault`: a thread that faults ends the whole process.

use crate::err;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use libux::layout::MAX_THREADS;
use libux::process::{self, spawn, wait};
use libux::rpc::{End, Errno, Pid};
use libux::sync::Mutex;
use libux::thread;

/// Calls each worker makes.
const CALLS: u32 = 500;

static DONE: AtomicUsize = AtomicUsize::new(0);
/// Workers that have reported stay until this is set (so that all
/// `MAX_THREADS` live at once).
static RELEASE: AtomicBool = AtomicBool::new(false);
/// What each worker found wrong, if anything.
static PROBLEMS: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// What the waiting thread got, once it has.
static WAITED: Mutex<Option<Result<End, Errno>>> = Mutex::new(None);
static CHILD: AtomicU32 = AtomicU32::new(0);

fn problem(p: String) {
    PROBLEMS.lock().push(p);
}

/// A worker: calls that must answer for us, and heap use shared with the
/// other threads.
fn work(me: Pid, seed: u64) {
    for i in 0..CALLS {
        match process::getpid() {
            Ok(p) if p == me => {}
            other => return problem(format!("GetPid answered {other:?}, not {me}")),
        }
        let v: Vec<u64> = (0..64).map(|k| seed * 1000 + i as u64 + k).collect();
        let want: u64 = (0..64).map(|k| seed * 1000 + i as u64 + k).sum();
        if v.iter().sum::<u64>() != want {
            return problem(format!("thread {seed}: heap data changed under it"));
        }
    }
}

/// Starts the workers; returns how many. A thread that has reported may
/// not have ended yet: a refusal for want of a free thread is retried.
fn start_workers(me: Pid, n: usize) -> Result<usize, String> {
    for seed in 0..n {
        let job = move || {
            work(me, seed as u64);
            DONE.fetch_add(1, Ordering::SeqCst);
            while !RELEASE.load(Ordering::SeqCst) {
                libux::sel4::syscall::yield_now();
            }
        };
        let mut tries = 0;
        while let Err(e) = thread::spawn(job) {
            tries += 1;
            if e != Errno::NoMemory || tries > 100_000 {
                return Err(err("thread", e));
            }
            libux::sel4::syscall::yield_now();
        }
    }
    Ok(n)
}

/// Waits (yielding) until `n` workers have reported, or gives up.
fn await_done(n: usize) -> Result<(), String> {
    for _ in 0..5_000_000 {
        if DONE.load(Ordering::SeqCst) >= n {
            return Ok(());
        }
        libux::sel4::syscall::yield_now();
    }
    Err(format!("only {} of {n} workers finished", DONE.load(Ordering::SeqCst)))
}

/// Our memory, from `/proc/self/status`, less our heap (which the workers'
/// allocations may grow).
fn own_memory() -> Result<u64, String> {
    let bytes = libux::fs::client::open("/proc/self/status", libux::fs::flags::READ)
        .and_then(|mut f| f.read_to_end())
        .map_err(|e| err("/proc/self/status", e))?;
    let text = core::str::from_utf8(&bytes).map_err(|_| String::from("status not UTF-8"))?;
    let memory = libux::procfs::Status::parse(text).map(|s| s.memory).ok_or_else(|| format!("bad status {text:?}"))?;
    Ok(memory - libux::rt::heap_usage().1)
}

pub fn threads() -> Result<String, String> {
    let me = process::getpid().map_err(|e| err("getpid", e))?;
    let child = spawn("/bin/spawner", &["spawner", "yields", "1000000000"], &[]).map_err(|e| err("spawn", e))?;
    CHILD.store(child, Ordering::SeqCst);
    thread::spawn(|| {
        let r = wait(Some(CHILD.load(Ordering::SeqCst))).map(|w| w.end);
        *WAITED.lock() = Some(r);
    })
    .map_err(|e| err("thread", e))?;
    let workers = start_workers(me, MAX_THREADS - 2)?;
    await_done(workers)?;
    // Every worker finished while the waiter still waited.
    if let Some(r) = *WAITED.lock() {
        return Err(format!("the wait ended before the child was killed: {r:?}"));
    }
    match thread::spawn(|| {}) {
        Err(Errno::NoMemory) => {}
        other => return Err(format!("thread {} of {MAX_THREADS} answered {other:?}", MAX_THREADS + 1)),
    }
    RELEASE.store(true, Ordering::SeqCst);
    process::kill(child).map_err(|e| err("kill", e))?;
    let mut waited = None;
    for _ in 0..5_000_000 {
        waited = *WAITED.lock();
        if waited.is_some() {
            break;
        }
        libux::sel4::syscall::yield_now();
    }
    if waited != Some(Ok(End::Killed)) {
        return Err(format!("the waiting thread got {waited:?}, not the killed child"));
    }
    if let Some(p) = PROBLEMS.lock().first() {
        return Err(p.clone());
    }
    // The threads end as they return; a second round reuses their objects.
    let before = own_memory()?;
    DONE.store(0, Ordering::SeqCst);
    let workers = start_workers(me, MAX_THREADS - 1)?;
    await_done(workers)?;
    let after = own_memory()?;
    if after != before {
        return Err(format!("a second round of threads took memory: {before} bytes before, {after} after"));
    }
    if let Some(p) = PROBLEMS.lock().first() {
        return Err(p.clone());
    }
    Ok(format!(
        "{} threads made {CALLS} calls each while one waited; a second round took no memory ({after} bytes besides the heap)",
        MAX_THREADS - 2
    ))
}

pub fn thread_fault() -> Result<String, String> {
    thread::spawn(|| {
        // SAFETY: ud2 raises an invalid-opcode fault and nothing else.
        unsafe { core::arch::asm!("ud2") }
    })
    .map_err(|e| err("thread", e))?;
    for _ in 0..5_000_000 {
        libux::sel4::syscall::yield_now();
    }
    Err(String::from("still alive after a thread faulted"))
}

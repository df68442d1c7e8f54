//! What the process server has done since boot, counted where it is done:
//! the breakdown `Request::Stats` gives (`rpc::Work`) and `ipcbench`
//! prints per spawn. We are single-threaded; the atomics only make the
//! counters statics without `unsafe`.

use core::sync::atomic::{AtomicU64, Ordering};
use libux::rpc::Work;

static CALLS: AtomicU64 = AtomicU64::new(0);
static OBJECTS: AtomicU64 = AtomicU64::new(0);
static RETYPED: AtomicU64 = AtomicU64::new(0);
static FILLED: AtomicU64 = AtomicU64::new(0);
static MAPPED: AtomicU64 = AtomicU64::new(0);

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// A message received (a call, a fault).
pub fn call() {
    add(&CALLS, 1);
}

/// A kernel object of `bytes` made from untyped memory (which the kernel
/// zeroes).
pub fn object(bytes: u64) {
    add(&OBJECTS, 1);
    add(&RETYPED, bytes);
}

/// A page copied into (through our scratch mapping).
pub fn filled() {
    add(&FILLED, 1);
}

/// A frame mapped into an address space (a process's or ours).
pub fn mapped() {
    add(&MAPPED, 1);
}

pub fn now() -> Work {
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    Work {
        calls: get(&CALLS),
        objects: get(&OBJECTS),
        retyped_bytes: get(&RETYPED),
        pages_filled: get(&FILLED),
        frames_mapped: get(&MAPPED),
    }
}

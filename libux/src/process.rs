//! The process API as programs use it: thin calls over the process server
//! connection (`layout::slot::PROC_CONN`), one per [`Request`].

use crate::cluster::Place;
use crate::layout::slot;
use crate::rpc::client::call;
use crate::rpc::{End, Errno, Exec, FdName, Pid, Request, Response, Spawn, Stats, Waited};

fn expect_done(r: Result<Response, Errno>) -> Result<(), Errno> {
    match r? {
        Response::Done => Ok(()),
        _ => Err(Errno::BadRequest),
    }
}

fn expect_pid(r: Result<Response, Errno>) -> Result<Pid, Errno> {
    match r? {
        Response::Pid(p) => Ok(p),
        _ => Err(Errno::BadRequest),
    }
}

pub fn getpid() -> Result<Pid, Errno> {
    expect_pid(call(slot::PROC_CONN, &Request::GetPid))
}

pub fn getppid() -> Result<Pid, Errno> {
    expect_pid(call(slot::PROC_CONN, &Request::GetPpid))
}

/// Starts `path` with `argv` (by convention `argv[0]` is the program name)
/// and `env`; it inherits our standard descriptors.
pub fn spawn(path: &str, argv: &[&str], env: &[&str]) -> Result<Pid, Errno> {
    spawn_with(path, argv, env, None)
}

/// [`spawn`], optionally redirecting the child's process server connection
/// to the endpoint in slot `redirect` of our CSpace.
pub fn spawn_with(path: &str, argv: &[&str], env: &[&str], redirect: Option<u64>) -> Result<Pid, Errno> {
    let standard = crate::fd::standard();
    spawn_full(path, argv, env, redirect, &crate::fd::names(&standard))
}

/// [`spawn_with`], naming the child's descriptors.
pub fn spawn_full(
    path: &str,
    argv: &[&str],
    env: &[&str],
    redirect: Option<u64>,
    fds: &[FdName],
) -> Result<Pid, Errno> {
    let spawn = Spawn {
        path,
        argv: argv.to_vec(),
        env: env.to_vec(),
        redirect,
        fds: fds.to_vec(),
        place: None,
        home_parent: None,
    };
    spawn_as(spawn)
}

/// The most general spawn: `spawn` as it stands.
pub fn spawn_as(spawn: Spawn) -> Result<Pid, Errno> {
    expect_pid(call(slot::PROC_CONN, &Request::Spawn(spawn)))
}

/// [`spawn_full`] (without a redirect: an intermediary does not reach
/// another node) on the node `place` picks; its gpid. The process
/// server starts it if `place` names this node; otherwise it answers
/// `Elsewhere` and the cluster server places it: on another node with
/// the home model (the descriptors' paths, and the program's if it is a
/// file, are ours and absolute: that node reaches them through its
/// mount of ours), or back here, where we start it ourselves.
pub fn spawn_placed(place: Place, path: &str, argv: &[&str], env: &[&str], fds: &[FdName]) -> Result<Pid, Errno> {
    let mut spawn = Spawn {
        path,
        argv: argv.to_vec(),
        env: env.to_vec(),
        redirect: None,
        fds: fds.to_vec(),
        place: Some(place),
        home_parent: None,
    };
    match anywhere(&Request::Spawn(spawn.clone()))? {
        Response::Pid(p) => Ok(p),
        Response::StartHere(node) => {
            spawn.place = Some(Place::Node(node));
            spawn_as(spawn)
        }
        _ => Err(Errno::BadRequest),
    }
}

/// Replaces our program with the ELF `image` (read into our heap), run
/// with `argv`, `env` and the descriptors `fds` (the new program opens
/// them by name, as at spawn; what we hold at file servers stays open
/// until the process ends). Returns only if it failed; then we go on as
/// we were. Only a process with one thread, and nothing it serves,
/// mounts or was granted, may.
pub fn exec(image: &[u8], argv: &[&str], env: &[&str], fds: &[FdName]) -> Errno {
    let req = Request::Exec(Exec {
        image: image.as_ptr() as u64,
        len: image.len() as u64,
        argv: argv.to_vec(),
        env: env.to_vec(),
        fds: fds.to_vec(),
    });
    match call(slot::PROC_CONN, &req) {
        Err(e) => e,
        // Answered only when relayed by an intermediary after it worked;
        // then we are gone before we read it.
        Ok(_) => Errno::BadRequest,
    }
}

/// Reaps `pid` (or any child) if it has ended, without blocking.
pub fn try_wait(pid: Option<Pid>) -> Result<Option<Waited>, Errno> {
    match anywhere(&Request::Wait { pid, hang: false })? {
        Response::Waited(w) => Ok(w),
        _ => Err(Errno::BadRequest),
    }
}

/// Whether `pid` (a gpid: of any node) has ended, without reaping it:
/// its end, or none while it runs.
pub fn has_ended(pid: Pid) -> Result<Option<Waited>, Errno> {
    match anywhere(&Request::HasEnded { pid })? {
        Response::Waited(w) => Ok(w),
        _ => Err(Errno::BadRequest),
    }
}

/// Waits until `pid` (or any child) ends and reaps it: the answer comes
/// when it has (the process server keeps the call until then). Another
/// node's process (a gpid) is waited for through the cluster server,
/// and is `End::Lost` if its node goes down.
pub fn wait(pid: Option<Pid>) -> Result<Waited, Errno> {
    match anywhere(&Request::Wait { pid, hang: true })? {
        Response::Waited(Some(w)) => Ok(w),
        _ => Err(Errno::BadRequest),
    }
}

/// Makes a call that names a process: through the process server, or,
/// if the process is another node's, the cluster server.
fn anywhere(req: &Request) -> Result<Response, Errno> {
    match call(slot::PROC_CONN, req) {
        Err(Errno::Elsewhere) => crate::cluster::call(req),
        r => r,
    }
}

/// See `Request::Placed` (the cluster server's).
pub fn placed(parent: Pid, child: Pid) -> Result<(), Errno> {
    expect_done(call(slot::PROC_CONN, &Request::Placed { parent, child }))
}

/// See `Request::PlacedEnded` (the cluster server's).
pub fn placed_ended(child: Pid, end: End) -> Result<(), Errno> {
    expect_done(call(slot::PROC_CONN, &Request::PlacedEnded { child, end }))
}

/// See `Request::MayAct`.
pub fn may_act(actor: Pid, target: Option<Pid>) -> Result<(), Errno> {
    expect_done(call(slot::PROC_CONN, &Request::MayAct { actor, target }))
}

/// See `Request::Restrict`.
pub fn restrict() -> Result<(), Errno> {
    expect_done(call(slot::PROC_CONN, &Request::Restrict))
}

/// Ends `pid` (a pid, or a gpid of any node's process).
pub fn kill(pid: Pid) -> Result<(), Errno> {
    expect_done(anywhere(&Request::Kill { pid }))
}

pub fn stop(pid: Pid) -> Result<(), Errno> {
    expect_done(anywhere(&Request::Stop { pid }))
}

pub fn cont(pid: Pid) -> Result<(), Errno> {
    expect_done(anywhere(&Request::Cont { pid }))
}

pub fn map_anon(vaddr: u64, pages: u32) -> Result<(), Errno> {
    expect_done(call(slot::PROC_CONN, &Request::MapAnon { vaddr, pages }))
}

pub fn unmap_anon(vaddr: u64, pages: u32) -> Result<(), Errno> {
    expect_done(call(slot::PROC_CONN, &Request::UnmapAnon { vaddr, pages }))
}

/// Drivers: maps `pages` physically contiguous pages at `vaddr` for DMA;
/// their physical address.
pub fn map_dma(vaddr: u64, pages: u32) -> Result<u64, Errno> {
    match call(slot::PROC_CONN, &Request::MapDma { vaddr, pages })? {
        Response::Dma { paddr } => Ok(paddr),
        _ => Err(Errno::BadRequest),
    }
}

pub fn create_endpoint(slot: u64) -> Result<(), Errno> {
    expect_done(call(slot::PROC_CONN, &Request::CreateEndpoint { slot }))
}

pub fn create_notification(slot: u64) -> Result<(), Errno> {
    expect_done(call(slot::PROC_CONN, &Request::CreateNotification { slot }))
}

/// Serves the files under `path` through our endpoint in `endpoint`.
pub fn mount(path: &str, endpoint: u64) -> Result<(), Errno> {
    expect_done(call(slot::PROC_CONN, &Request::Mount { path, endpoint }))
}

pub fn unmount(path: &str) -> Result<(), Errno> {
    expect_done(call(slot::PROC_CONN, &Request::Unmount { path }))
}

/// A private namespace for the caller (see [`Request::NewNamespace`]).
pub fn new_namespace() -> Result<(), Errno> {
    expect_done(call(slot::PROC_CONN, &Request::NewNamespace))
}

pub fn stats() -> Result<Stats, Errno> {
    match call(slot::PROC_CONN, &Request::Stats)? {
        Response::Stats(s) => Ok(s),
        _ => Err(Errno::BadRequest),
    }
}

/// A monotonic clock: the TSC at the rate the process server measured at
/// boot (`Stats::tsc_mhz`). Copies read the same clock without asking
/// again.
#[derive(Clone, Copy)]
pub struct Clock {
    mhz: u64,
}

impl Clock {
    /// Asks the process server for the TSC's rate (once).
    pub fn new() -> Clock {
        Clock { mhz: stats().map(|s| s.tsc_mhz.max(1)).unwrap_or(1) }
    }

    pub fn micros(&self) -> u64 {
        // SAFETY: rdtsc has no preconditions.
        unsafe { core::arch::x86_64::_rdtsc() / self.mhz }
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

/// The wall clock: the process server's time once (whole seconds, from
/// the CMOS clock at boot), then the TSC's count since, to the
/// nanosecond. Without a readable CMOS clock it starts at 1970.
pub struct WallClock {
    start_ns: u128,
    tsc0: u64,
    mhz: u64,
}

impl WallClock {
    pub fn new() -> WallClock {
        let s = stats().unwrap_or_default();
        // SAFETY: rdtsc has no preconditions.
        let tsc0 = unsafe { core::arch::x86_64::_rdtsc() };
        let secs = s.unix_time.unwrap_or(0).max(0) as u128;
        WallClock { start_ns: secs * 1_000_000_000, tsc0, mhz: s.tsc_mhz.max(1) }
    }

    pub fn now(&self) -> crate::fs::Time {
        // SAFETY: rdtsc has no preconditions.
        let ticks = unsafe { core::arch::x86_64::_rdtsc() }.wrapping_sub(self.tsc0) as u128;
        let ns = self.start_ns + ticks * 1000 / self.mhz as u128;
        crate::fs::Time { sec: (ns / 1_000_000_000) as u64, nsec: (ns % 1_000_000_000) as u32 }
    }
}

impl Default for WallClock {
    fn default() -> Self {
        Self::new()
    }
}

/// Daemons: which of `pids` are alive (after endings were lost).
pub fn living(pids: &[Pid]) -> Result<alloc::vec::Vec<Pid>, Errno> {
    let mut alive = alloc::vec::Vec::new();
    for chunk in pids.chunks(crate::rpc::LIVING_PER_CALL) {
        match call(slot::PROC_CONN, &Request::Living { pids: chunk.to_vec() })? {
            Response::Living(l) => alive.extend(l),
            _ => return Err(Errno::BadRequest),
        }
    }
    Ok(alive)
}

/// One answer of `Ended`: the processes that ended since a cursor, a
/// page of the process server's at a time, so that a burst of thousands
/// of endings costs a server a page of memory, not a list of them all
/// (servers take it through `fs::server::Windows::ended_page`, since the
/// call also unmaps the windows of the clients it names).
pub struct EndedPage {
    /// Sorted.
    pub pids: alloc::vec::Vec<Pid>,
    /// Another page follows.
    pub more: bool,
    /// The process server forgot some endings meanwhile: then
    /// [`gone_among`] the processes the caller holds anything for are
    /// the rest.
    pub lost: bool,
}

/// Daemons and file servers: the next page of endings after `cursor`
/// (which moves on).
pub fn ended_page(cursor: &mut u64) -> Result<EndedPage, Errno> {
    match call(slot::PROC_CONN, &Request::Ended { after: *cursor })? {
        Response::Ended { mut pids, upto, more, lost } => {
            *cursor = upto;
            pids.sort_unstable();
            pids.dedup();
            Ok(EndedPage { pids, more, lost })
        }
        _ => Err(Errno::BadRequest),
    }
}

/// Those of `tracked` (in any order, repeated) that no longer live,
/// sorted.
pub fn gone_among(mut tracked: alloc::vec::Vec<Pid>) -> Result<alloc::vec::Vec<Pid>, Errno> {
    tracked.sort_unstable();
    tracked.dedup();
    let alive = living(&tracked)?;
    tracked.retain(|p| !alive.contains(p));
    Ok(tracked)
}

//! `exportfs [PORT]`: serves the node's namespace (`/`, and with it
//! `/proc`, `/tmp`, `/bin`, `/dev`, `/net`) over 9P (9P2000 or 9P2000.L,
//! msize up to 1 MiB) on TCP PORT (default 564). Started with the
//! cluster's secret in its environment (by the cluster server), it
//! attaches only clients that prove they hold it (Tauth, see
//! `ninep::auth`); started by a person, it asks for nothing (for 9P
//! tools of other systems).
//!
//! The Plan 9 way: this listener announces the port and, for each
//! connection, spawns `exportfs -s`, a child that serves that one
//! connection with the connection's `data` file as its descriptor 0 (by
//! name, like every descriptor). The connection lives while a file of it
//! is open, so the listener keeps its own until the child has opened its
//! descriptors: the child's descriptor 3 is the write end of a pipe the
//! listener reads, opened first, and closed by the child's `main` (a
//! child that fails before that ends, which closes it too). A client that
//! sends what is not 9P gets error replies, or (a frame size out of
//! bounds, a closed stream) its connection dropped: only its own child
//! ends. One remote address holds at most [`PER_ADDRESS`] connections
//! at once (of the node's 160); beyond, its new ones are closed at once,
//! so that one host cannot take the export from the others.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::collections::{BTreeMap, VecDeque};
use alloc::format;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use fs9p::server::{rflush, Handled, IoJob, IoOp, Looked, LookupJob, Session, MAX_MSIZE};
use fs9p::HEADER;
use libux::fd;
use libux::fs::client::{open, File};
use libux::fs::{flags, IO_MAX};
use libux::layout::MAX_THREADS;
use libux::net::client::{announce, listen, Conn};
use libux::rpc::{Errno, FdName, Pid};
use libux::sel4::syscall::{self, Msg};
use libux::sync::Mutex;
use libux::{eprintln, println};
use ninep::errors::to_9p;
use ninep::osfs::{OsFile, OsFs, OsIo, OsNode};

libux::entry!(main);

const USAGE: &str = "usage: exportfs [PORT]";
/// Fids one connection may hold.
const MAX_FIDS: usize = 1024;
/// The buffers of a connection before Tversion: the session's msize
/// until then.
const BEFORE_VERSION: usize = 8192;
/// Where the child gets its end of the hand-over pipe.
const HANDOVER_FD: usize = 3;
/// Connections one remote address may hold at once.
const PER_ADDRESS: usize = 32;

fn main() -> i32 {
    let args = libux::rt::args();
    if args.get(1) == Some(&"-s") && args.len() == 2 {
        let _ = fd::close(HANDOVER_FD);
        return serve_connection();
    }
    let port = match args.get(1).map(|p| p.parse::<u16>()) {
        None => 564,
        Some(Ok(p)) if p != 0 && args.len() == 2 => p,
        _ => {
            eprintln!("{USAGE}");
            return 2;
        }
    };
    let announced = match announce(&format!("tcp!*!{port}")) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("exportfs: announce tcp!*!{port}: {e}");
            return 1;
        }
    };
    let how = if ninep::auth::env_hex("UX_SECRET").is_some() { " (clients prove the cluster's secret)" } else { "" };
    println!("exportfs: serving / on tcp!*!{port}{how}");
    let mut children = Children::default();
    loop {
        let conn = match listen(&announced) {
            Ok(conn) => conn,
            Err(e) => {
                eprintln!("exportfs: listen: {e}");
                return 1;
            }
        };
        children.reap();
        // An address we cannot read is one more unknown peer: [0; 4].
        let from = conn.remote().map_or([0; 4], |a| a.ip);
        if !children.admits(from) {
            continue;
        }
        match hand_over(&conn) {
            Ok(pid) => {
                children.by_pid.insert(pid, from);
            }
            Err(e) => eprintln!("exportfs: connection {}: {e}", conn.n),
        }
    }
}

/// The children serving connections, by the address they serve.
#[derive(Default)]
struct Children {
    by_pid: BTreeMap<Pid, [u8; 4]>,
    /// Addresses at their limit, told once until they are below it.
    full: Vec<[u8; 4]>,
}

impl Children {
    /// Reaps the children that ended, without waiting for the others.
    fn reap(&mut self) {
        while let Ok(Some(w)) = libux::process::try_wait(None) {
            self.by_pid.remove(&w.pid);
        }
        let by_pid = &self.by_pid;
        self.full.retain(|ip| by_pid.values().filter(|a| *a == ip).count() >= PER_ADDRESS);
    }

    /// Whether `from` may have one more connection (a refusal is logged
    /// once while it lasts; the connection is closed by its drop).
    fn admits(&mut self, from: [u8; 4]) -> bool {
        if self.by_pid.values().filter(|a| **a == from).count() < PER_ADDRESS {
            return true;
        }
        if !self.full.contains(&from) {
            self.full.push(from);
            let [a, b, c, d] = from;
            eprintln!("exportfs: {a}.{b}.{c}.{d} holds {PER_ADDRESS} connections; refusing more until one ends");
        }
        false
    }
}

/// Spawns the child that serves `conn` and waits until it holds it.
fn hand_over(conn: &Conn) -> Result<Pid, Errno> {
    let mut clone = open("/dev/pipe/clone", flags::READ)?;
    let mut number = [0u8; 16];
    let n = clone.read(&mut number)?;
    let pipe = core::str::from_utf8(&number[..n]).map_err(|_| Errno::BadRequest)?.trim();
    let mut reader: File = open(&format!("/dev/pipe/{pipe}/r"), flags::READ)?;
    let writer = format!("/dev/pipe/{pipe}/w");
    let standard = fd::standard();
    let mut fds = vec![
        FdName { fd: HANDOVER_FD as u8, path: &writer, flags: flags::WRITE },
        FdName { fd: fd::STDIN as u8, path: &conn.data.path, flags: flags::READ | flags::WRITE },
    ];
    fds.extend(fd::names(&standard).into_iter().filter(|f| f.fd != fd::STDIN as u8));
    // The cluster's secret and seed, if we were given them, go with it.
    let env: Vec<&str> = libux::rt::start_block()
        .env
        .into_iter()
        .filter(|e| e.starts_with("UX_SECRET=") || e.starts_with("UX_SEED="))
        .collect();
    let pid = libux::process::spawn_full("/bin/exportfs", &["exportfs", "-s"], &env, None, &fds)?;
    // The end of data: the child has opened its descriptors (or died).
    let mut byte = [0u8; 1];
    let _ = reader.read(&mut byte);
    drop(clone);
    Ok(pid)
}

/// One connection's server: the session and the file system (locked
/// together), the connection, the jobs waiting for a worker, and where
/// each running job is (for Tflush).
struct Shared {
    state: Mutex<(Session<OsNode, OsFile, OsIo>, OsFs)>,
    conn: File,
    /// Held while a whole message is written, and by a job while it ends
    /// (so that its reply goes out before any Rflush for it).
    writing: Mutex<()>,
    queue: Mutex<Queue>,
    phases: Mutex<BTreeMap<u16, Arc<Mutex<Phase>>>>,
}

/// A job for a worker: a read or write, or an open or walk that may
/// wait (with the file system as it was when the lookup was asked: a
/// walk's `..` stops at the trees attached).
enum Job {
    Io(IoJob<OsIo>),
    Lookup(LookupJob<OsNode>, OsFs),
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    /// Workers waiting on `WAKE`, not yet woken.
    idle: usize,
    /// Workers started (as jobs first found none idle).
    workers: usize,
}

/// Where a job a worker took is, as a Tflush of it needs to know.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Its worker is about to make, or is in, its call.
    Calling,
    Done,
}

/// How often a Tflush looks for the call of a job about to be made (a
/// worker yielded to between each) before it leaves the job to finish.
const CANCEL_TRIES: u32 = 1000;

/// The endpoint idle workers wait on (made with `CreateEndpoint`).
const WAKE: u64 = libux::layout::slot::FIRST_FREE;

impl Shared {
    /// Sends one whole message; false when the connection is gone.
    fn send(&self, bytes: &[u8]) -> bool {
        let _w = self.writing.lock();
        self.conn.pwrite(0, bytes).is_ok_and(|n| n == bytes.len())
    }

    /// Ends job `tag`: sends its reply, unless it was cancelled for a
    /// Tflush, then the Rflushes that waited for it.
    fn finish(&self, tag: u16, reply: &[u8], cancelled: bool) {
        let _w = self.writing.lock();
        let flushes = self.state.lock().0.finish(tag);
        self.phases.lock().remove(&tag);
        if !cancelled || flushes.is_empty() {
            let _ = self.conn.pwrite(0, reply);
        }
        let mut out = [0u8; 16];
        for f in flushes {
            let n = rflush(f, &mut out);
            let _ = self.conn.pwrite(0, &out[..n]);
        }
    }

    /// Queues a job for a worker: an idle one is woken, else one is
    /// started while there may be more.
    fn queue(self: &Arc<Self>, job: Job) {
        if let Job::Io(io) = &job {
            self.phases.lock().insert(io.tag, Arc::new(Mutex::new(Phase::Calling)));
        }
        let mut q = self.queue.lock();
        q.jobs.push_back(job);
        if q.idle > 0 {
            q.idle -= 1;
            drop(q);
            // A worker counted itself idle and waits (or is about to).
            syscall::send(WAKE, Msg::new(0, &[]));
        } else if q.workers < MAX_THREADS - 1 {
            q.workers += 1;
            drop(q);
            let shared = self.clone();
            if let Err(e) = libux::thread::spawn(move || work(shared)) {
                // The job waits for a worker that is busy now.
                eprintln!("exportfs: cannot start a worker: {e}");
                self.queue.lock().workers -= 1;
            }
        }
    }

    /// Carries out what the session made of a request whose reply (if
    /// any) is in `out`; false when the connection is gone.
    fn dispatch(self: &Arc<Self>, handled: Handled<OsIo, OsNode>, out: &[u8]) -> bool {
        match handled {
            Handled::Reply(n) => return self.send(&out[..n]),
            Handled::Io(job) => self.queue(Job::Io(job)),
            Handled::Lookup(job) => {
                let fs = self.state.lock().1.clone();
                self.queue(Job::Lookup(job, fs));
            }
            Handled::Waits => {}
            Handled::Cancel { oldtag, io } => self.cancel(oldtag, &io),
        }
        true
    }

    /// Hands back, one by one, the requests that waited behind opens and
    /// wait no more (an open ended, or a flush took one away). Each is
    /// handled and sent, or queued, under the writing lock and the
    /// session's, as `finish` ends a job: an Rflush for it cannot go out
    /// first, nor a Tflush miss a job not yet queued.
    fn resume(self: &Arc<Self>, out: &mut Vec<u8>) {
        loop {
            let _w = self.writing.lock();
            let mut st = self.state.lock();
            let (session, fs) = &mut *st;
            let msize = session.msize() as usize;
            if out.len() < msize {
                out.resize(msize, 0);
            }
            match session.resume(fs, &mut out[..msize]) {
                None => return,
                Some(Handled::Reply(n)) => {
                    drop(st);
                    if self.conn.pwrite(0, &out[..n]).is_err() {
                        return;
                    }
                }
                Some(Handled::Io(job)) => self.queue(Job::Io(job)),
                Some(Handled::Lookup(job)) => self.queue(Job::Lookup(job, fs.clone())),
                Some(Handled::Waits) => {}
                // (A Tflush never waits.)
                Some(Handled::Cancel { oldtag, io }) => {
                    drop(st);
                    drop(_w);
                    self.cancel(oldtag, &io);
                }
            }
        }
    }

    /// A lookup run apart ended: its reply (none if it was flushed), sent
    /// under the writing lock taken before the session's (an Rflush for
    /// it cannot go first), then the requests that waited behind it.
    fn looked_up(self: &Arc<Self>, job: LookupJob<OsNode>, looked: Looked<OsNode, OsFile>) {
        let mut out = Vec::new();
        {
            let _w = self.writing.lock();
            let mut st = self.state.lock();
            // (A listing's reply takes up to the msize.)
            out.resize(st.0.msize() as usize, 0);
            let reply = st.0.lookup_done(job, looked, &mut out);
            drop(st);
            if let Some(n) = reply {
                let _ = self.conn.pwrite(0, &out[..n]);
            }
        }
        self.resume(&mut out);
    }

    /// A Tflush of job `oldtag`: a job still queued ends at once; one
    /// whose worker is calling has its call given up at the file server.
    fn cancel(&self, oldtag: u16, io: &OsIo) {
        let queued = {
            let mut q = self.queue.lock();
            let at = q.jobs.iter().position(|j| matches!(j, Job::Io(io) if io.tag == oldtag));
            at.and_then(|i| q.jobs.remove(i))
        };
        if queued.is_some() {
            return self.finish(oldtag, &[], true);
        }
        let Some(phase) = self.phases.lock().get(&oldtag).cloned() else { return };
        for _ in 0..CANCEL_TRIES {
            if *phase.lock() == Phase::Done {
                return;
            }
            // The call may not have reached the file server yet (the
            // worker is about to make it), or be answered already: give
            // the worker the processor and look again. A server that
            // never waits answers 0 too: the job then ends on its own, and
            // the Rflush follows its reply.
            match io.file.cancel() {
                Ok(0) => syscall::yield_now(),
                _ => return,
            }
        }
    }
}

/// A worker: runs queued jobs, waiting on `WAKE` when there are none.
fn work(shared: Arc<Shared>) {
    let mut out = Vec::new();
    loop {
        let job = loop {
            let mut q = shared.queue.lock();
            if let Some(job) = q.jobs.pop_front() {
                break job;
            }
            q.idle += 1;
            drop(q);
            syscall::recv(WAKE);
        };
        let job = match job {
            Job::Io(job) => job,
            Job::Lookup(job, mut fs) => {
                // One flushed while queued is not made at all.
                let dropped = shared.state.lock().0.lookup_dropped(&job);
                let looked = if dropped { job.failed() } else { job.run(&mut fs) };
                shared.looked_up(job, looked);
                continue;
            }
        };
        // Room for the reply: the data a read asks for, after its header.
        let room = match job.op {
            IoOp::Read { count } => HEADER + 4 + count,
            IoOp::Write { .. } => 64,
        };
        out.resize(room.max(64), 0);
        let result = match &job.op {
            IoOp::Read { .. } => job.io.read(job.offset, job.read_area(&mut out)),
            IoOp::Write { data } => job.io.write(job.offset, data),
        };
        if let Some(p) = shared.phases.lock().get(&job.tag) {
            *p.lock() = Phase::Done;
        }
        let cancelled = result == Err(Errno::Interrupted);
        let n = job.reply(&mut out, result.map_err(to_9p));
        shared.finish(job.tag, &out[..n], cancelled);
    }
}

/// A session for our client: one that asks for proof of the cluster's
/// secret when we were given it. Our challenges come from the seed, our
/// pid and the time, so no two connections' are alike.
fn session() -> Session<OsNode, OsFile, OsIo> {
    let Some(secret) = ninep::auth::env_hex("UX_SECRET") else { return Session::new(MAX_FIDS) };
    let mut seed = ninep::auth::env_hex("UX_SEED").unwrap_or_default();
    seed.extend_from_slice(&libux::process::getpid().unwrap_or(0).to_le_bytes());
    // SAFETY: rdtsc has no preconditions.
    seed.extend_from_slice(&unsafe { core::arch::x86_64::_rdtsc() }.to_le_bytes());
    Session::guarded(MAX_FIDS, alloc::boxed::Box::new(ninep::auth::SecretGuard::new(&secret, &seed)))
}

/// Serves 9P on descriptor 0 until the client goes or misbehaves. This
/// thread reads requests and answers what does not wait; reads and writes
/// of files run on worker threads (Plan 9's exportfs has slave
/// processes), so a read that blocks stalls nobody, and a Tflush of one
/// cancels it.
fn serve_connection() -> i32 {
    // We act for a client on the network: one that asked for nothing may
    // end, stop and continue what it started through us, and nothing else
    // of the node's. A node of the cluster (it proved the secret) acts as
    // the node's own processes do: the cluster is one system.
    let proving = ninep::auth::env_hex("UX_SECRET").is_some();
    // Our own handle of the connection, shared by the threads: replies
    // are written while this thread waits in a read of descriptor 0.
    // Opened before we are restricted: the connection is our parent's
    // (it took it from its `listen`), which netstack lends only to those
    // who may act on it.
    let conn = match fd::name(fd::STDIN).ok_or(Errno::BadHandle).and_then(|(p, _)| open(&p, flags::WRITE)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("exportfs: the connection: {e}");
            return 1;
        }
    };
    if !proving {
        if let Err(e) = libux::process::restrict() {
            eprintln!("exportfs: cannot restrict myself: {e}");
            return 1;
        }
    }
    if let Err(e) = libux::process::create_endpoint(WAKE) {
        eprintln!("exportfs: cannot create an endpoint: {e}");
        return 1;
    }
    let shared = Arc::new(Shared {
        // A client that proves nothing sees none of the cluster's mounts.
        state: Mutex::new((session(), OsFs::for_client(proving))),
        conn,
        writing: Mutex::new(()),
        queue: Mutex::new(Queue::default()),
        phases: Mutex::new(BTreeMap::new()),
    });
    // Buffers of the msize agreed (until then, one a Tversion fits): a
    // connection that agreed to little holds little.
    let mut inbuf = vec![0u8; BEFORE_VERSION];
    let mut out = vec![0u8; BEFORE_VERSION];
    let mut have = 0;
    loop {
        match fs9p::frame_len(&inbuf[..have], MAX_MSIZE) {
            // Larger than the msize agreed: not 9P; drop the client.
            Ok(Some(len)) if len > inbuf.len() => return 1,
            Ok(Some(len)) if len <= have => {
                // Of the requests read here, only a flush (of a lookup
                // under way) can free what others wait behind; the rest is
                // freed as lookups end.
                let flush = inbuf[4] == fs9p::codec::ty::TFLUSH;
                let (handled, waiting, msize) = {
                    let mut st = shared.state.lock();
                    let (session, fs) = &mut *st;
                    let msize = session.msize() as usize;
                    let handled = session.handle_apart(fs, &inbuf[..len], &mut out[..msize]);
                    (handled, session.waiting(), session.msize() as usize)
                };
                if !shared.dispatch(handled, &out) {
                    return 0;
                }
                if flush && waiting {
                    shared.resume(&mut out);
                }
                inbuf.copy_within(len..have, 0);
                have -= len;
                if msize > inbuf.len() {
                    inbuf.resize(msize, 0);
                    out.resize(msize, 0);
                }
                continue;
            }
            Ok(_) => {}
            // A frame size no message may have: not 9P; drop the client.
            Err(_) => return 1,
        }
        // A message at a time (never the I/O window, which the workers'
        // replies use while this read waits).
        let room = (inbuf.len() - have).min(IO_MAX);
        match fd::read(fd::STDIN, &mut inbuf[have..have + room]) {
            Ok(0) | Err(_) => return 0,
            Ok(n) => have += n,
        }
    }
}

//! The loop of a file server whose calls may wait on others (another
//! node, the network, a process's end), written once for `mount9p` and
//! the cluster server's `/proc/cluster` and `/n`: a pool of threads on
//! the server's one endpoint, each answering one call at a time, so that
//! a call that waits holds up only its own thread. A thread is started
//! when a call takes the last idle one, up to the pool's bound; beyond
//! it, calls queue at the endpoint until a thread is free. A server
//! that never waits on others uses [`super::serve`] instead (one
//! thread; calls that wait are saved and answered later).
//!
//! The library receives, copies the call out of the IPC buffer (the
//! threads' own calls reuse it), decodes file calls and replies; the
//! server gives what each thread keeps ([`Pooled::Worker`]) and the
//! answers. A call it parks (its reply capability saved, answered later
//! by another thread) frees its thread at once.

/// How many threads a pool has, and how many wait for a call.
#[derive(Debug)]
pub struct Counts {
    idle: usize,
    threads: usize,
    max: usize,
}

impl Counts {
    pub fn new(max: usize) -> Counts {
        Counts { idle: 0, threads: 0, max }
    }

    /// A thread is about to start: it counts as idle until it takes a
    /// call.
    pub fn starting(&mut self) {
        self.threads += 1;
        self.idle += 1;
    }

    /// A thread took a call: whether to start another (none is left
    /// idle, and the bound allows one; it is counted as [`starting`]).
    ///
    /// [`starting`]: Counts::starting
    #[must_use = "a thread to start"]
    pub fn take(&mut self) -> bool {
        self.idle -= 1;
        if self.idle > 0 || self.threads >= self.max {
            return false;
        }
        self.starting();
        true
    }

    /// A thread [`take`](Counts::take) asked for could not start.
    pub fn not_started(&mut self) {
        self.threads -= 1;
        self.idle -= 1;
    }

    /// A thread finished a call and waits for the next.
    pub fn answered(&mut self) {
        self.idle += 1;
    }

    pub fn threads(&self) -> usize {
        self.threads
    }
}

#[cfg(target_os = "none")]
mod sel4 {
    use super::Counts;
    use crate::fs::server::{encode, request_bytes, Answer};
    use crate::fs::FsRequest;
    use crate::layout::event;
    use crate::rpc::client::{recv_raw, reply_recv_raw, Received};
    use crate::rpc::{Badge, Errno, Pid, MSG_CALL};
    use crate::sel4::consts::msg::MAX_LENGTH;
    use crate::sel4::syscall::ipc_buffer;
    use crate::sync::Mutex;
    use alloc::sync::Arc;

    /// What a pooled server answers.
    pub trait Pooled: Send + Sync + Sized + 'static {
        /// What a thread keeps from call to call (`mount9p`: its 9P
        /// client on the connection).
        type Worker;
        /// What a thread the pool starts keeps.
        fn worker(&self) -> Self::Worker;
        /// Answers `pid`'s file call: the answer, or `None` if it was
        /// parked (its reply capability saved, to be answered later).
        fn file(&self, w: &mut Self::Worker, pid: Pid, req: FsRequest) -> Option<Result<Answer, Errno>>;
        /// Answers a call of another label (the cluster server's
        /// forwarded process API calls); `msg` is its message registers.
        /// The reply's length in words, or `None` if it was parked.
        fn other(&self, _w: &mut Self::Worker, _pid: Pid, _m: &Received, _msg: &[u64; MAX_LENGTH]) -> Option<usize> {
            Some(encode(&Err(Errno::BadRequest)))
        }
    }

    /// A server and its threads on endpoint `ep`.
    pub struct Pool<S> {
        pub served: S,
        ep: u64,
        counts: Mutex<Counts>,
    }

    impl<S: Pooled> Pool<S> {
        /// A pool of at most `max` threads serving `served` on `ep`.
        pub fn new(served: S, ep: u64, max: usize) -> Arc<Pool<S>> {
            Arc::new(Pool { served, ep, counts: Mutex::new(Counts::new(max)) })
        }

        /// Starts a thread of the pool (the first; later ones start as
        /// calls need them).
        pub fn start(self: &Arc<Self>) -> Result<(), Errno> {
            self.counts.lock().starting();
            self.spawn()
        }

        fn spawn(self: &Arc<Self>) -> Result<(), Errno> {
            let pool = self.clone();
            match crate::thread::spawn(move || pool.serve(pool.served.worker())) {
                Ok(_) => Ok(()),
                Err(e) => {
                    self.counts.lock().not_started();
                    Err(e)
                }
            }
        }

        /// This thread joins the pool with `w` (`mount9p`'s first thread,
        /// with the client it connected with).
        pub fn join(self: &Arc<Self>, w: S::Worker) -> ! {
            self.counts.lock().starting();
            self.serve(w)
        }

        /// Answers calls on this thread with `w`, for ever.
        fn serve(self: &Arc<Self>, mut w: S::Worker) -> ! {
            let mut m = recv_raw(self.ep);
            loop {
                // (A thread's bound notification: the server's own, not
                // a call.)
                if m.badge & event::FLAG != 0 {
                    m = recv_raw(self.ep);
                    continue;
                }
                let pid = Badge(m.badge).pid();
                let words = if m.label == MSG_CALL {
                    let bytes = request_bytes(&m);
                    self.taken();
                    match bytes.as_deref().map_err(|e| *e).and_then(crate::fs::decode_request) {
                        Ok(req) => self.served.file(&mut w, pid, req).map(|a| encode(&a)),
                        Err(e) => Some(encode(&Err(e))),
                    }
                } else {
                    let msg = ipc_buffer().msg;
                    self.taken();
                    self.served.other(&mut w, pid, &m, &msg)
                };
                self.counts.lock().answered();
                m = match words {
                    Some(words) => reply_recv_raw(self.ep, words),
                    None => recv_raw(self.ep),
                };
            }
        }

        /// Counts a call taken; starts another thread when none is left
        /// idle (a call, which reuses the IPC buffer).
        fn taken(self: &Arc<Self>) {
            if self.counts.lock().take() {
                if let Err(e) = self.spawn() {
                    crate::println!("cannot start a thread: {e}");
                }
            }
        }
    }
}

#[cfg(target_os = "none")]
pub use sel4::{Pool, Pooled};

#[cfg(test)]
mod tests {
    use super::Counts;

    #[test]
    fn a_thread_starts_when_a_call_takes_the_last_idle_one() {
        let mut c = Counts::new(3);
        c.starting();
        // The only thread takes a call: a second starts.
        assert!(c.take());
        assert_eq!(c.threads(), 2);
        // The second takes one while the first is busy: a third.
        assert!(c.take());
        assert_eq!(c.threads(), 3);
        // The third takes one: the bound is reached, none starts.
        assert!(!c.take());
        assert_eq!(c.threads(), 3);
        // All answer: three idle, and a call then starts none.
        c.answered();
        c.answered();
        c.answered();
        assert!(!c.take());
        assert!(!c.take());
        assert_eq!(c.threads(), 3);
    }

    #[test]
    fn a_thread_that_could_not_start_is_asked_for_again() {
        let mut c = Counts::new(2);
        c.starting();
        assert!(c.take());
        c.not_started();
        assert_eq!(c.threads(), 1);
        // The busy thread answers and takes the next: one starts again.
        c.answered();
        assert!(c.take());
        assert_eq!(c.threads(), 2);
    }
}

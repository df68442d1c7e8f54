//! Reading every node at once. `ps` and the listing of `/proc/cluster`
//! read each node's `/proc`, a round trip through its mount (a dial and
//! a handshake first, if the mount rested): one after another, 64 nodes
//! took 3 to 15 s. The thread that must read them posts the reads on a
//! [`Board`] and wakes idle threads of the pool, which join one posting
//! each and take reads off it while the poster takes them too.
//!
//! Each read is taken by exactly one thread, and the results come back
//! in the reads' order. The thread that gives back the last result wakes
//! the poster, unless it is the poster. Who may join (each helper counts
//! as a call of the posting's client) is the program's to say; no I/O
//! here: the program gives the reads, the wake-up and the admission.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicUsize, Ordering};
use libux::rpc::Pid;
use libux::sync::Mutex;

/// Reads posted for helpers, taken by index.
pub struct Reads<T> {
    read: Box<dyn Fn(usize) -> T + Send + Sync>,
    wake: Box<dyn Fn() + Send + Sync>,
    count: usize,
    /// The next read not yet taken.
    next: AtomicUsize,
    /// Reads not yet given back.
    left: AtomicUsize,
    /// Helpers that joined.
    joined: AtomicUsize,
    results: Mutex<Vec<Option<T>>>,
}

impl<T: Send> Reads<T> {
    /// `count` reads, each `read(i)`; `wake` tells the poster the last
    /// came back.
    pub fn new(
        count: usize,
        read: impl Fn(usize) -> T + Send + Sync + 'static,
        wake: impl Fn() + Send + Sync + 'static,
    ) -> Reads<T> {
        Reads {
            read: Box::new(read),
            wake: Box::new(wake),
            count,
            next: AtomicUsize::new(0),
            left: AtomicUsize::new(count),
            joined: AtomicUsize::new(0),
            results: Mutex::new((0..count).map(|_| None).collect()),
        }
    }

    /// Takes one read and does it: `None` if none was left to take, else
    /// whether this thread gave back the last result.
    pub fn step(&self) -> Option<bool> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        if i >= self.count {
            return None;
        }
        let r = (self.read)(i);
        self.results.lock()[i] = Some(r);
        Some(self.left.fetch_sub(1, Ordering::AcqRel) == 1)
    }

    /// Takes reads until none is left; whether this thread gave back the
    /// last result.
    pub fn work(&self) -> bool {
        let mut last = false;
        while let Some(l) = self.step() {
            last = l;
        }
        last
    }

    /// Whether every read came back.
    pub fn done(&self) -> bool {
        self.left.load(Ordering::Acquire) == 0
    }

    /// How many helpers joined.
    pub fn joined(&self) -> usize {
        self.joined.load(Ordering::Relaxed)
    }

    /// The results in order, once [`done`](Reads::done).
    pub fn results(&self) -> Vec<T> {
        debug_assert!(self.done());
        self.results.lock().iter_mut().map(|r| r.take().expect("every read came back")).collect()
    }
}

/// Posted reads of any kind, as helpers see them.
pub trait Posted: Send + Sync {
    /// Whether a read is left to take.
    fn open(&self) -> bool;
    /// Joins: takes reads until none is left; wakes the poster if this
    /// thread gave back the last.
    fn help(&self);
}

impl<T: Send> Posted for Reads<T> {
    fn open(&self) -> bool {
        self.next.load(Ordering::Relaxed) < self.count
    }

    fn help(&self) {
        self.joined.fetch_add(1, Ordering::Relaxed);
        if self.work() {
            (self.wake)();
        }
    }
}

/// The reads posted now, the oldest first, each with the client it is
/// for.
#[derive(Default)]
pub struct Board {
    posted: Mutex<Vec<(Pid, Arc<dyn Posted>)>>,
}

impl Board {
    pub fn post(&self, client: Pid, reads: Arc<dyn Posted>) {
        self.posted.lock().push((client, reads));
    }

    /// Takes `reads` off the board (all taken, or given up).
    pub fn withdraw(&self, reads: &Arc<dyn Posted>) {
        self.posted.lock().retain(|(_, r)| !Arc::ptr_eq(r, reads));
    }

    /// A helper's turn: it joins the oldest posting with reads left that
    /// `admit` lets it join (given the posting's client, it answers what
    /// to hold while helping, or `None`), takes reads until none is left
    /// there, and leaves. Whether it joined one.
    pub fn help<G>(&self, admit: impl Fn(Pid) -> Option<G>) -> bool {
        let open: Vec<(Pid, Arc<dyn Posted>)> =
            self.posted.lock().iter().filter(|(_, r)| r.open()).map(|(c, r)| (*c, r.clone())).collect();
        for (client, reads) in open {
            if let Some(_held) = admit(client) {
                reads.help();
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use core::sync::atomic::AtomicBool;
    use std::vec;

    /// Reads of `count` squares, with a counter of how often each index
    /// was read and a flag the wake-up sets.
    fn squares(count: usize) -> (Arc<Reads<usize>>, Arc<Vec<AtomicUsize>>, Arc<AtomicBool>) {
        let times: Arc<Vec<AtomicUsize>> = Arc::new((0..count).map(|_| AtomicUsize::new(0)).collect());
        let woken = Arc::new(AtomicBool::new(false));
        let (t, w) = (times.clone(), woken.clone());
        let reads = Reads::new(
            count,
            move |i| {
                t[i].fetch_add(1, Ordering::Relaxed);
                std::thread::yield_now();
                i * i
            },
            move || w.store(true, Ordering::Release),
        );
        (Arc::new(reads), times, woken)
    }

    #[test]
    fn the_poster_alone_reads_everything_in_order_and_is_not_woken() {
        let (reads, times, woken) = squares(5);
        assert_eq!(reads.step(), Some(false));
        assert!(reads.work(), "the only reader gives back the last");
        assert!(reads.done());
        assert_eq!(reads.results(), vec![0, 1, 4, 9, 16]);
        assert!(times.iter().all(|t| t.load(Ordering::Relaxed) == 1));
        assert!(!woken.load(Ordering::Acquire));
        // Nothing left: more work does nothing.
        assert_eq!(reads.step(), None);
        assert!(!reads.work());
    }

    #[test]
    fn helpers_share_the_reads_each_once_and_the_last_wakes_the_poster() {
        for _ in 0..50 {
            let board = Arc::new(Board::default());
            let (reads, times, woken) = squares(64);
            let posted: Arc<dyn Posted> = reads.clone();
            board.post(7, posted.clone());
            let helpers: Vec<_> = (0..3)
                .map(|_| {
                    let b = board.clone();
                    std::thread::spawn(move || b.help(|_| Some(())))
                })
                .collect();
            let gave_last = reads.work();
            while !reads.done() {
                std::thread::yield_now();
            }
            let joined = helpers.into_iter().map(|h| h.join().unwrap()).filter(|&j| j).count();
            board.withdraw(&posted);
            assert_eq!(reads.results(), (0..64).map(|i| i * i).collect::<Vec<_>>());
            assert!(times.iter().all(|t| t.load(Ordering::Relaxed) == 1), "each read taken once");
            assert_eq!(reads.joined(), joined);
            // Exactly one of poster and helpers gave back the last: the
            // poster is woken if and only if a helper did.
            assert_eq!(woken.load(Ordering::Acquire), !gave_last);
        }
    }

    #[test]
    fn a_helper_joins_one_posting_it_is_admitted_to_and_late_ones_find_nothing() {
        let board = Board::default();
        let (first, _, _) = squares(2);
        let (second, _, _) = squares(3);
        let (a, b): (Arc<dyn Posted>, Arc<dyn Posted>) = (first.clone(), second.clone());
        board.post(1, a.clone());
        board.post(2, b.clone());
        // Client 1 has no room: the helper joins client 2's, and only it.
        let asked = Mutex::new(Vec::new());
        assert!(board.help(|client| {
            asked.lock().push(client);
            (client == 2).then_some(())
        }));
        assert_eq!(*asked.lock(), vec![1, 2]);
        assert!(second.done() && !first.done());
        assert_eq!((first.joined(), second.joined()), (0, 1));
        assert_eq!(second.results(), vec![0, 1, 4]);
        // Admitted nowhere: it joins none.
        assert!(!board.help(|_| None::<()>));
        assert!(board.help(|_| Some(())) && first.done());
        board.withdraw(&a);
        board.withdraw(&b);
        // A helper woken after everything was taken finds nothing.
        assert!(!board.help(|_| Some(())));
    }
}

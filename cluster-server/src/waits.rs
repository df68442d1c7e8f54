//! Waits that hold no thread: a call that waits for a process to end
//! (a `Wait` forwarded or written to `call`, the first read of a `wait`
//! file) is
//! parked, its reply capability saved, and answered when the process
//! ends, so that any number of waits leave the pool free for others.
//!
//! Nothing that crosses the network waits: whether a process of another
//! node has ended is asked without waiting (a `Wait` that does not hang,
//! which reaps it if it has, for a parked `Wait`; `HasEnded` for a read
//! of a `wait` file), which also has that node's cluster server watch
//! the process; when a watched process ends, its node beats at once with
//! a grown `ends` count, and the nodes that hear it ask again for the
//! waits parked on it (a beat lost is made good by the next, which says
//! the same count). A node that goes down answers its waits `lost`. Our
//! own processes' ends come from the process server (the thread that
//! hears of endings).
//!
//! Only the waker asks: an ask may reap, and so take the answer from
//! any other. A call just parked is asked about first thing, and one
//! asked about while it still runs goes back to be asked again at the
//! next news of its process (news that comes meanwhile is kept for the
//! waker's next round, so none is lost).
//!
//! A process we placed on another node for a process of ours is
//! adopted: we wait for it on nobody's behalf, which reaps it on its
//! node when it ends, and tell its end to our process server
//! (`Request::PlacedEnded`), which answers its parent's `Wait`s with it
//! as with a child of this node's (`lost` if its node goes down).

use alloc::collections::BTreeSet;
use alloc::vec::Vec;
use libux::cluster::{Gpid, NodeId};
use libux::fs::server::{take_out, Answer, ReplySlots};
use libux::layout::slot;
use libux::rpc::{Errno, Pid, Reply};
use libux::sync::{Event, Mutex};

/// Waits one client may have parked at once (all of them: as many as
/// the reply slots, `slot::REPLY_COUNT`).
const PER_CLIENT: usize = 32;

/// What a parked call asked for.
#[derive(Clone, Copy, Debug)]
pub enum Wanted {
    /// A `Wait` written to `call` (open as `handle`): its length, to
    /// answer the write with.
    Call { handle: u32, len: u32 },
    /// A read of a `wait` file: into the client's window from byte `at`
    /// (`count` cut to the room there), or answered as a message.
    Read { handle: u32, offset: u64, count: u32, at: Option<u32> },
    /// A `Wait` made on the cluster connection (`rpc::MSG_FORWARD`),
    /// answered with the process API's reply.
    Forwarded,
}

impl Wanted {
    /// The open file the call was made on, if a file's.
    fn handle(self) -> Option<u32> {
        match self {
            Wanted::Call { handle, .. } | Wanted::Read { handle, .. } => Some(handle),
            Wanted::Forwarded => None,
        }
    }
}

/// A parked call: whose, about which process, asking what.
#[derive(Clone, Copy, Debug)]
pub struct Parked {
    pub client: Pid,
    pub gpid: Gpid,
    pub wanted: Wanted,
    slot: u64,
}

/// What the waker is to look at.
#[derive(Default)]
struct Todo {
    /// Our own processes that ended.
    ended: BTreeSet<Pid>,
    /// Nodes whose watched processes ended (their beats' `ends` grew).
    nodes: BTreeSet<NodeId>,
    /// Nodes that went down.
    down: BTreeSet<NodeId>,
    /// Processes of calls parked just now.
    fresh: BTreeSet<Gpid>,
}

/// What the waker hands out to settle.
pub enum Due {
    /// A parked call, and whether its process's node went down.
    Call(Parked, bool),
    /// A process we placed to reap, and whether its node went down
    /// (nothing to reap then: it is lost).
    Placed(Gpid, bool),
}

pub struct Waits {
    parked: Mutex<Vec<Parked>>,
    /// Other nodes' processes we placed for ours, to reap as they end.
    placed: Mutex<Vec<Gpid>>,
    replies: Mutex<ReplySlots>,
    /// Our processes that another node waits for: a beat tells when one
    /// ends.
    watched: Mutex<BTreeSet<Pid>>,
    todo: Mutex<Todo>,
    /// The processes of what the waker took out last and is settling (or
    /// putting back): news of them is kept for its next round too.
    asking: Mutex<Vec<Gpid>>,
    waker: Event,
    /// This node's number.
    own: NodeId,
}

impl Waits {
    /// The waker's event goes in our CSpace's `event_slot`; `own` is
    /// this node's number.
    pub fn new(event_slot: u64, own: NodeId) -> Result<Waits, Errno> {
        Ok(Waits {
            parked: Mutex::new(Vec::new()),
            placed: Mutex::new(Vec::new()),
            replies: Mutex::new(ReplySlots::new(slot::REPLIES, slot::REPLY_COUNT)),
            watched: Mutex::new(BTreeSet::new()),
            todo: Mutex::new(Todo::default()),
            asking: Mutex::new(Vec::new()),
            waker: Event::create(event_slot)?,
            own,
        })
    }

    /// This node's number.
    pub fn own(&self) -> NodeId {
        self.own
    }

    /// Parks the call this thread is answering (its reply capability is
    /// saved: the thread must not reply), for the waker to ask about its
    /// process; `Busy` past the limits.
    pub fn park(&self, client: Pid, gpid: Gpid, wanted: Wanted) -> Result<(), Errno> {
        let mut parked = self.parked.lock();
        if let Wanted::Forwarded = wanted {
            // The same wait again: its caller was stopped and continued,
            // which took the old call's reply capability and made the call
            // anew. The old one goes (answered for nobody), or it would be
            // settled first and take the end from the new. (Two threads
            // of one process waiting for one process so wait in turn: the
            // first is answered `Interrupted`.)
            let again = |p: &Parked| p.client == client && p.gpid == gpid && matches!(p.wanted, Wanted::Forwarded);
            self.replies.lock().interrupt(&mut parked, |p| p.slot, again);
        }
        if parked.iter().filter(|p| p.client == client).count() >= PER_CLIENT {
            return Err(Errno::Busy);
        }
        let slot = self.replies.lock().save()?;
        parked.push(Parked { client, gpid, wanted, slot });
        drop(parked);
        self.todo.lock().fresh.insert(gpid);
        self.waker.signal();
        Ok(())
    }

    /// Puts back a call taken out whose process still runs.
    pub fn put_back(&self, p: Parked) {
        self.parked.lock().push(p);
    }

    /// Answers a call taken out.
    pub fn answer(&self, p: Parked, reply: &Result<Answer, Errno>) {
        self.replies.lock().answer(p.slot, reply);
    }

    /// Answers a forwarded call taken out.
    pub fn answer_forwarded(&self, p: Parked, reply: &Reply) {
        let words = libux::rpc::client::reply_words(reply);
        self.replies.lock().send(p.slot, words);
    }

    /// Calls parked by clients that ended are dropped unanswered.
    pub fn forget(&self, clients: &[Pid]) {
        let mut parked = self.parked.lock();
        self.replies.lock().forget(&mut parked, |p| p.slot, |p| clients.contains(&p.client));
    }

    /// Answers `Interrupted` the call parked on `client`'s `handle`, if
    /// there is one; how many.
    pub fn cancel(&self, client: Pid, handle: u32) -> u32 {
        let mut parked = self.parked.lock();
        self.replies.lock().interrupt(
            &mut parked,
            |p| p.slot,
            |p| p.client == client && p.wanted.handle() == Some(handle),
        )
    }

    /// Other nodes' processes we placed for ours: reaped when they end.
    pub fn adopt(&self, placed: &[Gpid]) {
        if placed.is_empty() {
            return;
        }
        self.placed.lock().extend_from_slice(placed);
        // Looked at once (they may have ended already), and only they: not
        // all their nodes' others, as news of a node would have it.
        self.todo.lock().fresh.extend(placed.iter().copied());
        self.waker.signal();
    }

    /// One that still runs, back in the list.
    pub fn readopt(&self, placed: Gpid) {
        self.placed.lock().push(placed);
    }

    /// Starts watching our process `pid` for another node; before asking
    /// whether it ended, so that an end is never missed between.
    pub fn watch(&self, pid: Pid) {
        self.watched.lock().insert(pid);
    }

    /// It ended before we watched it (or is gone).
    pub fn unwatch(&self, pid: Pid) {
        self.watched.lock().remove(&pid);
    }

    /// Our processes watched or waited for.
    pub fn tracked(&self) -> Vec<Pid> {
        let mut all: Vec<Pid> = self.watched.lock().iter().copied().collect();
        let parked = self.parked.lock();
        all.extend(parked.iter().filter(|p| p.gpid.node() == Some(self.own)).map(|p| p.gpid.pid()));
        all
    }

    /// Our processes `pids` ended: the waker looks at the calls parked on
    /// them. Whether any was watched for another node (it is to hear it).
    pub fn ended(&self, pids: &[Pid]) -> bool {
        let watched_ended = {
            let mut watched = self.watched.lock();
            pids.iter().filter(|p| watched.remove(p)).count() > 0
        };
        let ours = |g: Gpid| g.node() == Some(self.own) && pids.contains(&g.pid());
        if self.waits_for(ours) {
            self.todo.lock().ended.extend(pids.iter().copied());
            self.waker.signal();
        }
        watched_ended
    }

    /// `node`'s watched processes ended, or it went `down`.
    pub fn node_changed(&self, node: NodeId, down: bool) {
        if !self.waits_for(|g| g.node() == Some(node)) {
            return;
        }
        let mut todo = self.todo.lock();
        if down {
            todo.down.insert(node);
        } else {
            todo.nodes.insert(node);
        }
        drop(todo);
        self.waker.signal();
    }

    /// Whether a call parked, one we placed, or what the waker is settling
    /// is about a process that `of` picks.
    fn waits_for(&self, of: impl Fn(Gpid) -> bool) -> bool {
        self.parked.lock().iter().any(|p| of(p.gpid))
            || self.placed.lock().iter().any(|&g| of(g))
            || self.asking.lock().iter().any(|&g| of(g))
    }

    /// Waits until there is something to look at; the calls and placed
    /// processes to settle (taken out), each with whether its node went down. What
    /// the last call handed out is settled or back by then.
    pub fn next(&self) -> Vec<Due> {
        let own = self.own;
        self.asking.lock().clear();
        loop {
            self.waker.wait();
            let todo = core::mem::take(&mut *self.todo.lock());
            let concerned = |g: Gpid| {
                todo.fresh.contains(&g)
                    || match g.node() {
                        Some(n) if n == own => todo.ended.contains(&g.pid()),
                        Some(n) => todo.nodes.contains(&n) || todo.down.contains(&n),
                        None => true,
                    }
            };
            let down = |g: Gpid| g.node().is_some_and(|n| todo.down.contains(&n));
            // What is taken out is in `asking` before news can miss it.
            let mut parked = self.parked.lock();
            let mut placed = self.placed.lock();
            let calls = take_out(&mut parked, |p| concerned(p.gpid));
            let adopted = take_out(&mut placed, |&g| concerned(g));
            *self.asking.lock() = calls.iter().map(|p| p.gpid).chain(adopted.iter().copied()).collect();
            drop((parked, placed));
            let mut due: Vec<Due> = calls.into_iter().map(|p| Due::Call(p, down(p.gpid))).collect();
            due.extend(adopted.into_iter().map(|g| Due::Placed(g, down(g))));
            if !due.is_empty() {
                return due;
            }
        }
    }
}

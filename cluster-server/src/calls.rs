//! The `call` file's requests (formats in `cluster_server::call`):
//! carried out here for our own processes, forwarded to the process's
//! node's cluster server otherwise, through the same file of our mount
//! of that node. A `Wait` that hangs never gets here: it is parked
//! (`waits`) and settled with these once the process has ended.

use crate::waits::Waits;
use crate::{node_state, view, State};
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;
use cluster_server::call::{Call, Placed};
use cluster_server::spawn::pick;
use libux::cluster::{mount_point, Gpid, NodeId, Place, CALL};
use libux::fs::client::{open, File};
use libux::fs::flags;
use libux::procfs::{parse_end, Ctl, Status};
use libux::rpc::{End, Errno, Pid, Reply, Response, Waited};
use libux::sync::Mutex;

/// Idle `call` files kept per node.
const KEPT: usize = 4;

/// Other nodes' `call` files, open and idle: a forwarded call takes one
/// (or opens one) and puts it back, so that it costs one write and one
/// read, not a walk and an open too.
pub struct Calls {
    idle: Mutex<BTreeMap<NodeId, Vec<File>>>,
    /// What we started here for each caller (another node's export,
    /// serving that node's cluster server) and nobody has waited for.
    started: Mutex<BTreeMap<Pid, Vec<Pid>>>,
    /// Of those, the ones whose caller ended (its node went, say): nobody
    /// can wait for them any more, so we reap them when they end.
    unclaimed: Mutex<BTreeSet<Pid>>,
}

impl Calls {
    pub fn new() -> Calls {
        Calls {
            idle: Mutex::new(BTreeMap::new()),
            started: Mutex::new(BTreeMap::new()),
            unclaimed: Mutex::new(BTreeSet::new()),
        }
    }

    /// Our processes `pids` ended: what we started for those of them that
    /// called us is unclaimed, and what is unclaimed and ended is reaped
    /// (as its parent, with waits that do not hang).
    pub fn reap_unclaimed(&self, own: NodeId, pids: &[Pid]) {
        let mut newly = Vec::new();
        {
            let mut started = self.started.lock();
            for caller in pids {
                newly.extend(started.remove(caller).unwrap_or_default());
            }
        }
        let mut unclaimed = self.unclaimed.lock();
        unclaimed.extend(newly.iter().copied());
        let due: Vec<Pid> = unclaimed.iter().copied().filter(|p| pids.contains(p) || newly.contains(p)).collect();
        drop(unclaimed);
        for pid in due {
            let gpid = Gpid::new(own, pid).unwrap_or(Gpid(0));
            // Reaped, or not to be: either way no longer ours to reap.
            if self.carry_out(0, Call::Wait { gpid, hang: false }) != Ok(Response::Waited(None)) {
                self.unclaimed.lock().remove(&pid);
            }
        }
    }

    /// Our processes that we started some for, or that we started and
    /// are to reap (for `Ended`'s lost case).
    pub fn tracked(&self) -> Vec<Pid> {
        let mut all: Vec<Pid> = self.started.lock().keys().copied().collect();
        all.extend(self.unclaimed.lock().iter().copied());
        all
    }

    /// Carries out a call of `caller`'s, forwarded or written to `call`
    /// (see `cluster_server::call`): here if the process is ours, else at its
    /// node's cluster server, through our mount of that node.
    pub fn answer(&self, state: &Mutex<State>, waits: &Waits, caller: Pid, call: &Call) -> Reply {
        if let Call::Spawn(placed) = call {
            return self.spawn(state, waits, caller, placed);
        }
        let (own, nodes) = view(state);
        let gpid = call.gpid().ok_or(Errno::InvalidArgument)?;
        let node = gpid.node().ok_or(Errno::NoSuchProcess)?;
        if node == own {
            return match call {
                // Asked from another node, most likely, which is to hear
                // when it ends: watched before we look, so that no end
                // falls between.
                Call::Wait { hang: false, .. } | Call::HasEnded(_) => {
                    waits.watch(gpid.pid());
                    let r = self.carry_out(caller, call.clone());
                    if !matches!(r, Ok(Response::Waited(None))) {
                        waits.unwatch(gpid.pid());
                    }
                    r
                }
                _ => self.carry_out(caller, call.clone()),
            };
        }
        // Not lent to a client restricted to its own descendants.
        libux::process::may_act(caller, None)?;
        let lost = |call: &Call| match call {
            Call::Wait { gpid, .. } => Ok(Response::Waited(Some(Waited { pid: gpid.0, end: End::Lost }))),
            _ => Err(Errno::Lost),
        };
        let known = nodes.iter().find(|n| n.node == node).ok_or(Errno::NoSuchProcess)?;
        if known.state.is_down() {
            return lost(call);
        }
        let bytes = postcard::to_allocvec(&call.request()).map_err(|_| Errno::TooLarge)?;
        match self.forward(node, &bytes) {
            Ok(r) => libux::rpc::decode_reply(&r)?,
            // Gone down while we asked (its mount hangs up then).
            Err(_) if node_state(state, node).is_some_and(|s| s.is_down()) => lost(call),
            Err(e) => Err(e),
        }
    }

    /// Our `child`, which we started, was waited for (and so reaped).
    fn reaped(&self, child: Pid) {
        let mut started = self.started.lock();
        started.values_mut().for_each(|c| c.retain(|&p| p != child));
        started.retain(|_, c| !c.is_empty());
    }

    /// Starts a program where `placed` says, for `caller`: here (placed
    /// here by name: a node that placed it here forwarded it, and we are
    /// its parent), on another node (forwarded there, with the home
    /// model's paths), or back to the caller (placed here by load: the
    /// caller starts it, and is its parent).
    fn spawn(&self, state: &Mutex<State>, waits: &Waits, caller: Pid, placed: &Placed) -> Reply {
        // What we start is our child: not for a client that may not act
        // beyond its own descendants.
        libux::process::may_act(caller, None)?;
        let (own, nodes) = view(state);
        if placed.place == Place::Node(own) {
            // Placed here by name, and so asked from the home node, in
            // whose process's name we start it (`Spawn::home_parent`).
            let mut spawn = placed.spawn();
            spawn.place = None;
            let pid = libux::process::spawn_as(spawn)?;
            self.started.lock().entry(caller).or_default().push(Gpid(pid).pid());
            return Ok(Response::Pid(pid));
        }
        let node = pick(&placed.place, &nodes)?;
        if node == own {
            return Ok(Response::StartHere(own));
        }
        let starter = Gpid::new(own, caller).ok_or(Errno::NoSuchProcess)?;
        let there = Call::Spawn(placed.from_home(own, starter, node));
        let bytes = postcard::to_allocvec(&there.request()).map_err(|_| Errno::TooLarge)?;
        let reply = match self.forward(node, &bytes) {
            Ok(r) => libux::rpc::decode_reply(&r)?,
            Err(_) if node_state(state, node).is_some_and(|s| s.is_down()) => Err(Errno::Lost),
            Err(e) => Err(e),
        };
        let Ok(Response::Pid(child)) = reply else { return reply };
        // The caller's child, which its process server waits for with
        // its others: we reap it as it ends and tell that its end (see
        // `waits`). Told first, so that no end comes before it.
        let child = Gpid(child);
        let told = libux::process::placed(caller, child.0);
        waits.adopt(&[child]);
        if let Err(e) = told {
            // Past the limits, or the caller is gone: not to run, then
            // (killed as ourselves: the caller may be gone).
            if let Ok(kill) = postcard::to_allocvec(&Call::Act(Ctl::Kill, child).request()) {
                let _ = self.forward(node, &kill);
            }
            return Err(e);
        }
        reply
    }

    /// Asks, without waiting, whether `gpid` has ended, for `caller`:
    /// [`Ask::Reap`] as a `Wait` that does not hang (which reaps it there
    /// if it has, by its parent), [`Ask::Look`] taking nothing
    /// (`HasEnded`). Either has another node watch it. None while it
    /// runs; else the answer (an error too: waiting then answers at once).
    /// A reaping ask takes what another would get: only the waker asks.
    pub fn ask(&self, state: &Mutex<State>, waits: &Waits, caller: Pid, gpid: Gpid, ask: Ask) -> Option<Reply> {
        let ours = gpid.node() == Some(view(state).0);
        let reply = match ask {
            // (Our own process is not watched: the process server tells us
            // when it ends.)
            Ask::Reap if ours => self.carry_out(caller, Call::Wait { gpid, hang: false }),
            Ask::Reap => self.answer(state, waits, caller, &Call::Wait { gpid, hang: false }),
            // Asked for anyone (as anyone may read a `status`).
            Ask::Look => self.look(state, gpid),
        };
        (reply != Ok(Response::Waited(None))).then_some(reply)
    }

    /// `HasEnded` of `gpid`, here or at its node.
    fn look(&self, state: &Mutex<State>, gpid: Gpid) -> Reply {
        let (own, nodes) = view(state);
        let call = Call::HasEnded(gpid);
        match gpid.node() {
            Some(n) if n == own => self.carry_out(0, call),
            Some(n) if nodes.iter().any(|l| l.node == n && !l.state.is_down()) => {
                let bytes = postcard::to_allocvec(&call.request()).map_err(|_| Errno::TooLarge)?;
                libux::rpc::decode_reply(&self.forward(n, &bytes)?)?
            }
            _ => Err(Errno::Lost),
        }
    }

    /// Writes a request to `node`'s `call` file and reads the reply:
    /// through an idle one if there is one (once more through a new one
    /// if that fails: it may be of a connection that broke), else a new
    /// one.
    fn forward(&self, node: NodeId, request: &[u8]) -> Result<Vec<u8>, Errno> {
        let ask = |f: &File| -> Result<Vec<u8>, Errno> {
            // One write, however large: a request cut in two is two
            // requests, neither whole.
            f.write_message(request)?;
            let mut reply = alloc::vec![0; 256];
            let n = f.pread(0, &mut reply)?;
            reply.truncate(n);
            Ok(reply)
        };
        let idle = self.idle.lock().get_mut(&node).and_then(Vec::pop);
        let (file, reply) = match idle.map(|f| (ask(&f), f)) {
            Some((Ok(r), f)) => (f, r),
            _ => {
                let f = open(&alloc::format!("{}{CALL}", mount_point(node)), flags::READ | flags::WRITE)?;
                let r = ask(&f)?;
                (f, r)
            }
        };
        let mut idle = self.idle.lock();
        let kept = idle.entry(node).or_default();
        if kept.len() < KEPT {
            kept.push(file);
        }
        Ok(reply)
    }

    /// Carries out `call` about one of our processes, for `caller` (a
    /// local process, or the export serving another node's cluster
    /// server; 0: for ourselves).
    fn carry_out(&self, caller: Pid, call: Call) -> Reply {
        let pid = call.gpid().ok_or(Errno::InvalidArgument)?.pid();
        match call {
            Call::Act(ctl, _) => {
                libux::process::may_act(caller, Some(pid))?;
                match ctl {
                    Ctl::Kill => libux::process::kill(pid),
                    Ctl::Stop => libux::process::stop(pid),
                    Ctl::Cont => libux::process::cont(pid),
                }
                .map(|()| Response::Done)
            }
            // Anyone may wait for a process, as anyone may read its `wait`
            // file; only its parent (we are, of what we started for
            // another node) reaps it.
            Call::Wait { gpid, hang: true } => {
                let path = alloc::format!("/proc/{pid}/wait");
                let text = open(&path, flags::READ).and_then(|mut f| f.read_to_end()).map_err(|e| match e {
                    Errno::NotFound => Errno::NoSuchProcess,
                    e => e,
                })?;
                let text = String::from_utf8_lossy(&text);
                let status = Status::parse(&text).ok_or(Errno::Io)?;
                let waited = parse_end(status.state).map(|end| Waited { pid: gpid.0, end });
                if waited.is_some() {
                    self.reaped(pid);
                }
                Ok(Response::Waited(waited))
            }
            Call::Wait { hang: false, .. } => {
                // Reaped only for the caller we started it for (the export
                // serving its home node), or for ourselves: anyone else
                // may look, and not take its end from its home.
                let for_caller = caller == 0
                    || self.started.lock().get(&caller).is_some_and(|c| c.contains(&pid))
                    || self.unclaimed.lock().contains(&pid);
                match for_caller.then(|| libux::process::try_wait(Some(pid))) {
                    Some(Ok(Some(waited))) => {
                        self.reaped(pid);
                        Ok(Response::Waited(Some(waited)))
                    }
                    Some(Ok(None)) => Ok(Response::Waited(None)),
                    None | Some(Err(Errno::NoChild)) => libux::process::has_ended(pid).map(Response::Waited),
                    Some(Err(e)) => Err(e),
                }
            }
            Call::HasEnded(_) => libux::process::has_ended(pid).map(Response::Waited),
            Call::Spawn(_) => Err(Errno::InvalidArgument),
        }
    }
}

/// What a parked wait asks of its process's node (see [`Calls::ask`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ask {
    /// A `Wait`: its answer, reaped there.
    Reap,
    /// A read of a `wait` file: whether it has ended.
    Look,
}

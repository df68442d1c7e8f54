//! Serving `/n` (names in `cluster_server::ntree`): every other node's
//! files at `/n/nodeN`, mounted at their first use, as Linux's autofs
//! mounts at a lookup. A call on a path under `/n/nodeN` that reaches
//! us (nothing mounted there yet, or its mount ended) starts that node's
//! `mount9p`, waits until it serves `/n/nodeN`, and answers
//! `Remounted`: the client's library resolves the path again and finds
//! the mount. Calls for a node that is down (or unknown) find nothing.
//!
//! A pool (`libux::fs::pool`) of at most [`THREADS`] threads answers;
//! while both wait for mounts, other calls here wait their turn (a mount
//! takes a dial and an attach). A mount's `mount9p` that ends is reaped
//! as the cluster server hears of the ending (as a daemon hears of
//! every one).

use crate::State;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use cluster_server::ntree::{Made, Name};
use libux::cluster::{mount_point, Gpid, NodeId};
use libux::fs::client::{open, server_of, File};
use libux::fs::pool::Pooled;
use libux::fs::server::{Answer, Entry};
use libux::fs::{entry_bytes, flags, list_page, FsRequest};
use libux::rpc::{Errno, Pid};
use libux::sync::Mutex;

/// Threads answering calls on `/n`.
pub const THREADS: usize = 2;
/// How long a mount may take to serve (a dial, an attach and the proof of
/// the secret; a busy host may take seconds).
const MOUNT_WAIT_US: u64 = 20_000_000;
/// How often a thread waiting for a mount looks again.
const MOUNT_POLL_MS: &[u8] = b"5";
/// The msize of the mounts of other nodes: smaller than a person's
/// mount, since each of a mount's 9P clients keeps two buffers of it.
const MOUNT_MSIZE: &str = "131072";

/// How long a node's mount may sit unused before it hangs its connection
/// up (`mount9p -i`): 63 idle connections cost a node that ran `cps` on
/// 64 nodes 1.9 % of a host core. The next use dials again, as the first
/// did.
const REST_AFTER_S: &str = "60";

#[derive(Default)]
pub struct Automount {
    /// Each node mounted or being mounted.
    mounts: Mutex<BTreeMap<NodeId, Mount>>,
    made: Mutex<Made>,
}

/// A node's mount.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mount {
    /// Its `mount9p` is being started.
    Starting,
    Started(Pid),
}

/// `/n` as the pool serves it.
pub struct NTree {
    pub state: Arc<Mutex<State>>,
    pub automount: Arc<Automount>,
}

impl Pooled for NTree {
    /// A thread's clock, opened at its first wait for a mount.
    type Worker = Option<File>;

    fn worker(&self) -> Option<File> {
        None
    }

    fn file(&self, sleep: &mut Option<File>, _: Pid, req: FsRequest) -> Option<Result<Answer, Errno>> {
        Some(self.automount.answer(&self.state, sleep, req))
    }
}

impl Automount {
    fn answer(&self, state: &Mutex<State>, sleep: &mut Option<File>, req: FsRequest) -> Result<Answer, Errno> {
        let path = match req {
            FsRequest::Open { path, .. }
            | FsRequest::Stat { path }
            | FsRequest::List { path, .. }
            | FsRequest::Mkdir { path }
            | FsRequest::Remove { path }
            | FsRequest::SetAttrs { path, .. }
            | FsRequest::Rename { from: path, .. } => path,
            // We hand out no open files.
            _ => return Err(Errno::BadHandle),
        };
        let name = Name::of(path);
        if let Name::Node(node) = name {
            self.mount(state, sleep, node)?;
            return Err(Errno::Remounted);
        }
        match (req, name) {
            (FsRequest::Stat { .. }, Name::Root) => Ok(Answer::Stat(Entry::new("n", true, 0))),
            (FsRequest::Stat { .. }, Name::Other { name, deeper: false }) if self.made.lock().contains(name) => {
                Ok(Answer::Stat(Entry::new(name, true, 0)))
            }
            (FsRequest::List { from, .. }, Name::Root) => {
                let entries = self.made.lock().entries(&live_nodes(state));
                let (page, more) = list_page(&entries, from, |e| entry_bytes(&e.name, false));
                Ok(Answer::Entries(page.to_vec(), more))
            }
            (FsRequest::List { .. }, Name::Other { name, deeper: false }) if self.made.lock().contains(name) => {
                Ok(Answer::Entries(Vec::new(), false))
            }
            (FsRequest::Open { .. }, Name::Root) => Err(Errno::IsDir),
            // `/n` holds mounts, no files.
            (FsRequest::Open { flags: f, .. }, Name::Other { deeper: false, .. }) if f & flags::CREATE != 0 => {
                Err(Errno::NotPermitted)
            }
            (FsRequest::Open { .. }, Name::Other { name, deeper: false }) if self.made.lock().contains(name) => {
                Err(Errno::IsDir)
            }
            (FsRequest::Mkdir { .. }, Name::Root) => Err(Errno::Exists),
            // Where a mount may be made: `mount9p` makes its name first,
            // for `ls /n` to show (as anyone may in ramfs, within a bound).
            (FsRequest::Mkdir { .. }, Name::Other { name, deeper: false }) => {
                self.made.lock().make(name).map(|()| Answer::Done)
            }
            (FsRequest::Remove { .. }, Name::Other { name, deeper: false }) => {
                self.made.lock().remove(name).map(|()| Answer::Done)
            }
            (FsRequest::Remove { .. } | FsRequest::SetAttrs { .. } | FsRequest::Rename { .. }, Name::Root) => {
                Err(Errno::NotPermitted)
            }
            (_, Name::Other { .. }) => Err(Errno::NotFound),
            _ => Err(Errno::NotPermitted),
        }
    }

    /// Mounts `node` at `/n/nodeN` unless its mount runs, and waits until
    /// that mount serves there. Decided under the lock, done outside it
    /// (starting a process is a call that takes long): a node's mount is
    /// `Starting` meanwhile, and other callers wait for it.
    fn mount(&self, state: &Mutex<State>, sleep: &mut Option<File>, node: NodeId) -> Result<(), Errno> {
        let at = mount_point(node);
        let clock = libux::process::Clock::new();
        let start = clock.micros();
        // The mount this call waits for, once it knows it.
        let mut ours = None;
        loop {
            // A node that went down (or never was up) has nothing to mount.
            let ip = live_nodes_with_addresses(state).into_iter().find(|(n, _)| *n == node).ok_or(Errno::NotFound)?.1;
            let now = {
                let mut mounts = self.mounts.lock();
                let now = mounts.get(&node).copied();
                if now.is_none() && ours.is_none() {
                    mounts.insert(node, Mount::Starting);
                }
                now
            };
            match (now, ours) {
                (None, None) => match start_mount(node, ip) {
                    Ok(pid) => {
                        self.mounts.lock().insert(node, Mount::Started(pid));
                        ours = Some(pid);
                        continue;
                    }
                    Err(e) => {
                        self.mounts.lock().remove(&node);
                        return Err(e);
                    }
                },
                (Some(Mount::Started(pid)), _) => {
                    // (The process server names a mount's server by its
                    // own pid, the gpid's low bits.)
                    if server_of(&at)? == Gpid(pid).pid() {
                        return Ok(());
                    }
                    if matches!(libux::process::try_wait(Some(pid)), Ok(None)) {
                        ours = Some(pid);
                    } else {
                        // Ended (reaped here, or as we heard it end).
                        self.forget(node, pid);
                        // The one we waited for said why on the console;
                        // one that ended before this call is made again.
                        if ours == Some(pid) {
                            return Err(Errno::Io);
                        }
                        continue;
                    }
                }
                (Some(Mount::Starting), _) => {}
                // The mount we waited for ended and was forgotten (as we
                // heard it end, and reaped it).
                (None, Some(_)) => return Err(Errno::Io),
            }
            if clock.micros().saturating_sub(start) > MOUNT_WAIT_US {
                libux::println!("cluster: node {node}'s mount did not serve within 20 s");
                if let Some(pid) = ours {
                    let _ = libux::process::kill(pid);
                    self.forget(node, pid);
                }
                return Err(Errno::Io);
            }
            let sleep = match sleep {
                Some(f) => f,
                None => sleep.insert(open("/dev/sleep", flags::WRITE)?),
            };
            sleep.write(MOUNT_POLL_MS)?;
        }
    }

    fn forget(&self, node: NodeId, pid: Pid) {
        let mut mounts = self.mounts.lock();
        if mounts.get(&node) == Some(&Mount::Started(pid)) {
            mounts.remove(&node);
        }
    }

    /// Reaps the mounts among `pids`, processes that ended (their nodes
    /// are mounted again at the next use). The beater asked the process
    /// server about every mount each period: 63 calls a second for a
    /// node that had mounted the others of 64.
    pub fn ended(&self, pids: &[Pid]) {
        let ended: Vec<(NodeId, Pid)> = self
            .mounts
            .lock()
            .iter()
            .filter_map(|(n, m)| match m {
                Mount::Started(p) if pids.iter().any(|&e| Gpid(e).pid() == Gpid(*p).pid()) => Some((*n, *p)),
                _ => None,
            })
            .collect();
        for (node, pid) in ended {
            let _ = libux::process::try_wait(Some(pid));
            self.forget(node, pid);
        }
    }
}

/// The other nodes not down, with their addresses. A `suspect` node is
/// one whose beats came late (a host busy booting others, say): it is
/// tried, as `/proc/cluster` tries it, and a mount of one that is dead
/// fails when it goes down.
fn live_nodes_with_addresses(state: &Mutex<State>) -> Vec<(NodeId, [u8; 4])> {
    let st = state.lock();
    let own = st.members.node();
    let lines = crate::node_lines(&st);
    lines.iter().filter(|l| !l.state.is_down() && l.node != own).map(|l| (l.node, l.addr.ip)).collect()
}

fn live_nodes(state: &Mutex<State>) -> Vec<NodeId> {
    live_nodes_with_addresses(state).into_iter().map(|(n, _)| n).collect()
}

/// Starts `mount9p` of the node's export (proving the cluster's secret)
/// at `/n/nodeN`.
fn start_mount(node: NodeId, ip: [u8; 4]) -> Result<Pid, Errno> {
    let addr = alloc::format!("tcp!{}.{}.{}.{}!{}", ip[0], ip[1], ip[2], ip[3], crate::EXPORT_PORT);
    let name: String = alloc::format!("node{node}");
    let number = alloc::format!("{node}");
    let argv = ["mount9p", "-m", MOUNT_MSIZE, "-c", &number, "-i", REST_AFTER_S, &addr, &name];
    libux::process::spawn_full("/bin/mount9p", &argv, &crate::secret_env(), None, &[]).inspect_err(|e| {
        libux::println!("cluster: cannot mount node {node}: {e}");
    })
}

//! Serving `/proc/cluster` (names in `tree`, formats in `libux::cluster`).
//!
//! A pool of threads (`libux::fs::pool`, at most [`POOL`]) receives on
//! the tree's endpoint, each answering one call at a time. Reads of a
//! process's files go through to its node's `/proc` (a remote node's
//! through the cluster's 9P mount of it). At most `SLOW_MAX` calls that
//! go through run at once, `SLOW_PER_CLIENT` of them one client's, so
//! one thread always answers the others; a call beyond is `Busy`. The
//! same threads answer the process API calls that processes' servers
//! answered `Elsewhere` (`rpc::MSG_FORWARD`, on the cluster connection).
//! A call that reads every node (`ps`, the root's listing) has idle
//! threads help with the reads (`cluster_server::fanout`).
//! A call that waits for a process to end (a `Wait`, forwarded or
//! written to `call`, a read of a `wait` file) holds no thread: it is
//! parked (`waits`) and settled by the waker thread. The first thread
//! answers no calls: it hears of processes that ended, which drops what
//! they held and settles the waits for them.

use crate::calls::{Ask, Calls};
use crate::waits::{Due, Parked, Waits, Wanted};
use crate::{node_state, view, State};
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use cluster_server::call::Call;
use cluster_server::fanout::{Board, Posted, Reads};
use cluster_server::slots::{Limits, Slots};
use cluster_server::spawn::{self, line_for};
use cluster_server::tree::{proc_files, Node, ROOT_FILES};
use libux::cluster::{proc_dir, ClusterCtl, Gpid, NodeId, NodeLine, NodeState, PsLine, CTL};
use libux::fs::client::{open, stat, transact, File};
use libux::fs::handles::Handles;
use libux::fs::pool::Pooled;
use libux::fs::server::{encode, Answer, Entry, Windows};
use libux::fs::{entry_bytes, flags, list_page, window_part, window_room, FsRequest, IO_MAX};
use libux::layout::{slot, IO_WINDOW_MESSAGE_AT};
use libux::procfs::PidFile;
use libux::procfs::{pids, status_lines, Status};
use libux::rpc::client::Received;
use libux::rpc::frame;
use libux::rpc::{End, Errno, Pid, Reply, Response, MSG_FORWARD, MSG_HELP};
use libux::sel4::consts::msg::MAX_LENGTH;
use libux::sel4::syscall::{nb_send, Msg};
use libux::sel4::Notification;
use libux::sync::{Event, Mutex};

/// Threads answering calls (the first thread hears of endings instead,
/// the waker settles waits, `/n` has `automount::THREADS` and the
/// membership two: `layout::MAX_THREADS` in all, with the one that
/// starts the membership).
pub const POOL: usize = 9;
/// Calls that go through to a node's `/proc` at once.
const SLOW_MAX: u32 = POOL as u32 - 1;
/// Of them, one client's.
const SLOW_PER_CLIENT: u32 = 4;
/// The limits of calls that go through: helpers of fan-outs leave two
/// of them to calls (two `ps` at once, each with three helpers, took all
/// eight, and every other call that goes through was `Busy` until they
/// ended).
const LIMITS: Limits = Limits { all: SLOW_MAX, per_client: SLOW_PER_CLIENT, helpers_leave: 2 };
/// Files one client may hold open here.
const OPEN_MAX: usize = 64;
/// Nodes read at once for one call that reads every node (`fanout`): the
/// caller's thread and helpers, within the client's `SLOW_PER_CLIENT`.
const FAN_OUT: usize = SLOW_PER_CLIENT as usize;

/// What an open file reads and takes.
enum Content {
    /// A text made at open (`self`, `nodes`, `ps`, a listing's directory).
    Text(Vec<u8>),
    /// `spawn` or `call`: a write asks, and a read then gives the answer
    /// to the last request (the gpid started; the postcard reply).
    Transaction(Transaction, Mutex<Vec<u8>>),
    /// A process's file on its node: its `status` and `wait` lines are
    /// read whole at the first read and kept (a `wait` is reaped by it).
    /// Of a `wait` file, the process it waits for.
    Through { file: File, lines: Option<Mutex<Option<Vec<u8>>>>, waits_for: Option<Gpid> },
    /// `ctl`: each write a `ClusterCtl` line.
    Control,
}

struct Open {
    content: Content,
}

#[derive(Clone, Copy)]
enum Transaction {
    Spawn,
    Call,
}

/// The open files of the tree's clients, and the calls under way.
pub struct Files {
    open: Mutex<Handles<Arc<Open>>>,
    /// Calls that go through, in all and by client.
    slow: Mutex<Slots>,
    /// The processes each node had when `ps` last read it: a node that
    /// is down shows them as `lost`.
    last_seen: Arc<Mutex<BTreeMap<NodeId, Vec<PsLine>>>>,
    calls: Calls,
    pub waits: Waits,
    windows: Mutex<Windows>,
    /// Reads of every node under way, for helpers to take (`fanout`).
    board: Board,
    /// Our endpoint, on which a helper is woken.
    ep: u64,
}

/// A slow call under way: counted until dropped.
struct Slow<'a> {
    files: &'a Files,
    pid: Pid,
}

impl Drop for Slow<'_> {
    fn drop(&mut self) {
        self.files.slow.lock().give_back(self.pid);
    }
}

impl Files {
    /// What a `call` by `caller` and its reply tell of other nodes'
    /// processes: one placed there is listed as started until a `ps`
    /// reads that node, so that it shows as `lost` if the node dies
    /// first; one whose end was learnt (not lost with its node) is no
    /// longer listed.
    fn learnt(&self, state: &Mutex<State>, caller: Pid, call: &Call, reply: &Reply) {
        let own = own(state);
        match (call, reply) {
            (Call::Spawn(placed), Ok(Response::Pid(child))) => {
                let child = Gpid(*child);
                let (Some(node), Some(parent)) = (child.node(), Gpid::new(own, caller)) else { return };
                if node == own {
                    return;
                }
                let name = placed.argv.first().unwrap_or(&placed.path).chars().take(32).collect();
                let line = PsLine { gpid: child, node, parent, state: String::from("running"), memory: 0, name };
                self.last_seen.lock().entry(node).or_default().push(line);
            }
            (Call::Wait { .. }, Ok(Response::Waited(Some(w)))) if w.end != End::Lost => {
                let gpid = Gpid(w.pid);
                let Some(node) = gpid.node() else { return };
                if let Some(lines) = self.last_seen.lock().get_mut(&node) {
                    lines.retain(|l| l.gpid != gpid);
                }
            }
            _ => {}
        }
    }

    /// The tree's files, served on endpoint `ep`.
    pub fn new(waits: Waits, ep: u64) -> Files {
        Files {
            open: Mutex::new(Handles::new(OPEN_MAX)),
            slow: Mutex::new(Slots::default()),
            last_seen: Arc::new(Mutex::new(BTreeMap::new())),
            calls: Calls::new(),
            waits,
            windows: Mutex::new(Windows::default()),
            board: Board::default(),
            ep,
        }
    }

    /// `read` of each of `items`, for client `pid`, several at once: this
    /// thread posts the reads, wakes idle threads of the pool to join
    /// (each then counts as a call of `pid`'s, so as many join as its
    /// share of calls allows, beside the one this is), and takes reads
    /// too; it waits for the last on `event`, its thread's. The results,
    /// in the items' order.
    fn fan_out<I: Send + Sync + 'static, T: Send + 'static>(
        &self,
        pid: Pid,
        event: Option<Event>,
        items: Vec<I>,
        read: impl Fn(&I) -> T + Send + Sync + 'static,
    ) -> Vec<T> {
        let count = items.len();
        let wanted = count.min(FAN_OUT).saturating_sub(1);
        let Some(event) = event.filter(|_| wanted > 0) else {
            return items.iter().map(read).collect();
        };
        let reads = Arc::new(Reads::new(count, move |i| read(&items[i]), move || event.signal()));
        let posted: Arc<dyn Posted> = reads.clone();
        self.board.post(pid, posted.clone());
        // Before each of our reads, a wake for each helper wanted that has
        // not joined: a wake finds a thread only if one waits for a call
        // (else it is dropped), and the pool starts a thread as a call
        // takes its last idle one, so later wakes find those the first
        // started. A thread woken in vain (the client's share is used)
        // costs a switch; a read, a round trip to another node.
        let mut gave_last = false;
        loop {
            for _ in reads.joined()..wanted {
                nb_send(self.ep, Msg::new(MSG_HELP, &[]));
            }
            match reads.step() {
                Some(last) => gave_last = last,
                None => break,
            }
        }
        if !gave_last {
            // A helper has the last read: it signals when it gives it
            // back (a signal left from an earlier fan-out only makes us
            // look again).
            while !reads.done() {
                event.wait();
            }
        }
        self.board.withdraw(&posted);
        reads.results()
    }

    /// Runs `f` on client `pid`'s I/O window onto us, while its call is
    /// answered or parked; `BadRequest` if it never asked for one. Under
    /// the lock the thread that hears endings holds while the process
    /// server unmaps the windows of clients that ended, so never on one
    /// that went: no call that waits is made meanwhile.
    fn with_window<T>(&self, pid: Pid, f: impl FnOnce(&mut [u8]) -> T) -> Result<T, Errno> {
        self.windows.lock().get(pid).map(f).ok_or(Errno::BadRequest)
    }

    /// Counts a call of `pid`'s that goes through; `Busy` past the limits.
    fn slow(&self, pid: Pid) -> Result<Slow<'_>, Errno> {
        let taken = self.slow.lock().take(pid, LIMITS);
        taken.then_some(Slow { files: self, pid }).ok_or(Errno::Busy)
    }

    /// Counts a helper of `client`'s fan-out as a call of the client's,
    /// within the helpers' limit.
    fn helper(&self, client: Pid) -> Option<Slow<'_>> {
        let taken = self.slow.lock().take_helper(client, LIMITS);
        taken.then_some(Slow { files: self, pid: client })
    }

    fn get(&self, pid: Pid, handle: u32) -> Result<Arc<Open>, Errno> {
        self.open.lock().get(pid, handle).cloned()
    }

    fn insert(&self, pid: Pid, content: Content) -> Result<Answer, Errno> {
        self.open.lock().insert(pid, Arc::new(Open { content })).map(Answer::Handle)
    }

    /// Processes that ended lose what they held; their calls that wait on
    /// a node's `/proc` are given up, and so are their parked waits.
    fn ended(&self, pids: &[Pid]) {
        self.waits.forget(pids);
        let gone = self.open.lock().take_clients(pids);
        for o in gone {
            if let Content::Through { file, .. } = &o.content {
                let _ = file.cancel();
            }
        }
    }

    /// Clients holding anything here, and our processes waited for.
    fn holders(&self) -> Vec<Pid> {
        let mut all: Vec<Pid> = self.open.lock().holders();
        all.extend(self.waits.tracked());
        all.extend(self.calls.tracked());
        all
    }
}

/// This node's number.
fn own(state: &Mutex<State>) -> NodeId {
    state.lock().members.node()
}

/// The `/proc` path of `file` of the process `gpid`, from node `own`.
fn proc_path(gpid: Gpid, file: Option<PidFile>, own: NodeId) -> Result<(NodeId, String), Errno> {
    let node = gpid.node().ok_or(Errno::NotFound)?;
    let dir = alloc::format!("{}/{}", proc_dir(node, own), gpid.pid());
    Ok((node, file.map_or(dir.clone(), |f| alloc::format!("{dir}/{}", f.name()))))
}

/// `ps` for `pid` (`event` its thread's): the processes of every node
/// that is up (a node that cannot be read is left out), and those a node
/// that is down had when last read, as `lost`.
fn ps(files: &Files, pid: Pid, event: Option<Event>, own: NodeId, nodes: &[NodeLine]) -> Vec<u8> {
    // Each node's list is kept as it comes (a process placed there since
    // its read is added to it, see `Files::learnt`).
    let seen = files.last_seen.clone();
    let read = move |(node, dir): &(NodeId, String)| {
        let lines = processes(*node, dir).ok()?;
        seen.lock().insert(*node, lines.clone());
        Some(lines)
    };
    let mut read = files.fan_out(pid, event, up_dirs(own, nodes), read).into_iter();
    let mut text = String::new();
    for n in nodes {
        if n.state.is_down() {
            for l in files.last_seen.lock().get(&n.node).into_iter().flatten() {
                let lost = PsLine { state: String::from("lost"), ..l.clone() };
                text.push_str(&alloc::format!("{lost}"));
            }
            continue;
        }
        let Some(Some(lines)) = read.next() else { continue };
        text.extend(lines.iter().map(|l| alloc::format!("{l}")));
    }
    text.into_bytes()
}

/// Each of `nodes` that is up, with its `/proc` as node `own` reaches it.
fn up_dirs(own: NodeId, nodes: &[NodeLine]) -> Vec<(NodeId, String)> {
    nodes.iter().filter(|n| !n.state.is_down()).map(|n| (n.node, proc_dir(n.node, own))).collect()
}

/// The processes of `node`, whose `/proc` is at `dir`.
fn processes(node: NodeId, dir: &str) -> Result<Vec<PsLine>, Errno> {
    Ok(status_lines(dir)?.iter().filter_map(|l| PsLine::of(node, &Status::parse(l)?)).collect())
}

/// The gpids of every node that is up, for `pid`'s listing of the root
/// (`event` its thread's).
fn gpids(files: &Files, pid: Pid, event: Option<Event>, own: NodeId, nodes: &[NodeLine]) -> Vec<Gpid> {
    let read = |(node, dir): &(NodeId, String)| {
        pids(dir).unwrap_or_default().into_iter().filter_map(|p| Gpid::named(*node, p)).collect::<Vec<_>>()
    };
    let mut all: Vec<Gpid> = files.fan_out(pid, event, up_dirs(own, nodes), read).into_iter().flatten().collect();
    all.sort_unstable();
    all
}

/// Starts what a write to `spawn` says; its gpid.
fn start(state: &Mutex<State>, data: &[u8]) -> Result<Gpid, Errno> {
    let text = core::str::from_utf8(data).map_err(|_| Errno::InvalidArgument)?;
    let req = spawn::Request::parse(text)?;
    let (own, nodes) = view(state);
    let node = spawn::pick(&req.place, &nodes)?;
    let at = alloc::format!("{}/spawn", proc_dir(node, own));
    let reply = transact(&at, line_for(&req.command, own, node).as_bytes())?;
    let pid = core::str::from_utf8(&reply).ok().and_then(|t| t.trim().parse().ok()).ok_or(Errno::Io)?;
    Gpid::named(node, pid).ok_or(Errno::Io)
}

/// Answers `pid`'s `req` (`event`: the answering thread's).
fn answer(
    state: &Mutex<State>,
    files: &Files,
    event: Option<Event>,
    pid: Pid,
    req: FsRequest,
) -> Result<Answer, Errno> {
    match req {
        FsRequest::Open { path, flags: f } => {
            let node = Node::lookup(path)?;
            node.perm().check_open(f)?;
            let writes = f & (flags::WRITE | flags::TRUNCATE) != 0;
            let content = match node {
                Node::Root | Node::Process(_) => Content::Text(Vec::new()),
                Node::Own => Content::Text(alloc::format!("{}\n", own(state)).into_bytes()),
                Node::Nodes => Content::Text(crate::nodes_text(&state.lock()).into_bytes()),
                Node::Ps => {
                    let _slow = files.slow(pid)?;
                    let (own, nodes) = view(state);
                    Content::Text(ps(files, pid, event, own, &nodes))
                }
                Node::Call => Content::Transaction(Transaction::Call, Mutex::new(Vec::new())),
                // The cluster's to control: not a client restricted to its
                // own descendants' (an anonymous export's).
                Node::Ctl => {
                    libux::process::may_act(pid, None)?;
                    Content::Control
                }
                Node::Spawn => {
                    // What we start is our child: a client that may not
                    // act beyond its own descendants may not start here.
                    if writes {
                        libux::process::may_act(pid, None)?;
                    }
                    Content::Transaction(Transaction::Spawn, Mutex::new(Vec::new()))
                }
                Node::File(gpid, which) => {
                    let _slow = files.slow(pid)?;
                    let own = own(state);
                    // A `wait` file of ours is read as its `status` (the
                    // reads wait here, parked): we are the parent of what
                    // we started for another node, and a read of `wait` by
                    // the parent reaps, which would take the end from the
                    // waiter on its home node.
                    let opened =
                        if which == PidFile::Wait && gpid.node() == Some(own) { PidFile::Status } else { which };
                    let (node, path) = proc_path(gpid, Some(opened), own)?;
                    // We must not lend the client our authority: it must
                    // itself be allowed to act on the process.
                    if writes {
                        libux::process::may_act(pid, (node == own).then(|| gpid.pid()))?;
                    }
                    let file = open(&path, f & (flags::READ | flags::WRITE | flags::CREATE | flags::TRUNCATE))?;
                    let lines = matches!(which, PidFile::Status | PidFile::Wait).then(|| Mutex::new(None));
                    let waits_for = (which == PidFile::Wait).then_some(gpid);
                    Content::Through { file, lines, waits_for }
                }
            };
            files.insert(pid, content)
        }
        FsRequest::Close { handle } => {
            files.open.lock().remove(pid, handle)?;
            Ok(Answer::Done)
        }
        FsRequest::Read { handle, offset, count } => {
            let mut buf = alloc::vec![0; (count as usize).min(IO_MAX)];
            let n = read(files, pid, handle, offset, &mut buf)?;
            buf.truncate(n);
            Ok(Answer::Data(buf))
        }
        FsRequest::ReadWindow { handle, offset, count, at } => {
            let mut buf = alloc::vec![0; room(files, pid, at, count)?];
            let n = read(files, pid, handle, offset, &mut buf)?;
            put_in_window(files, pid, at, &buf[..n])?;
            Ok(Answer::Count(n as u32))
        }
        FsRequest::Write { handle, offset, data } => write(state, files, pid, handle, offset, data),
        FsRequest::WriteWindow { handle, offset, count, at } => {
            write(state, files, pid, handle, offset, &from_window(files, pid, at, count)?)
        }
        FsRequest::Stat { path } => {
            let node = Node::lookup(path)?;
            if let Node::Process(gpid) | Node::File(gpid, _) = node {
                let _slow = files.slow(pid)?;
                let which = if let Node::File(_, w) = node { Some(w) } else { None };
                stat(&proc_path(gpid, which, own(state))?.1)?;
            }
            Ok(Answer::Stat(Entry::new(libux::path::last_name(path), node.is_dir(), 0)))
        }
        FsRequest::List { path, from } => {
            let entries: Vec<Entry> = match Node::lookup(path)? {
                Node::Root => {
                    let _slow = files.slow(pid)?;
                    let (own, nodes) = view(state);
                    let fixed = libux::fs::dirtab::entries(&ROOT_FILES);
                    let procs = gpids(files, pid, event, own, &nodes)
                        .into_iter()
                        .map(|g| Entry::new(alloc::format!("{g}"), true, 0));
                    fixed.chain(procs).collect()
                }
                Node::Process(gpid) => {
                    let _slow = files.slow(pid)?;
                    stat(&proc_path(gpid, None, own(state))?.1)?;
                    proc_files().map(|r| Entry::new(r.name, false, 0)).collect()
                }
                _ => return Err(Errno::NotDir),
            };
            let (page, more) = list_page(&entries, from, |e| entry_bytes(&e.name, false));
            Ok(Answer::Entries(page.to_vec(), more))
        }
        FsRequest::Cancel { handle } => match &files.get(pid, handle)?.content {
            _ if files.waits.cancel(pid, handle) > 0 => Ok(Answer::Count(1)),
            Content::Through { file, .. } => file.cancel().map(Answer::Count),
            _ => Ok(Answer::Count(0)),
        },
        FsRequest::Truncate { .. } | FsRequest::Mkdir { .. } | FsRequest::Remove { .. } | FsRequest::Rename { .. } => {
            Err(Errno::NotPermitted)
        }
        FsRequest::SetAttrs { .. } => Err(Errno::NotSupported),
    }
}

fn read(files: &Files, pid: Pid, handle: u32, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
    let open = files.get(pid, handle)?;
    let from = |text: &[u8], buf: &mut [u8]| {
        let rest = text.get(offset.min(usize::MAX as u64) as usize..).unwrap_or(&[]);
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        n
    };
    match &open.content {
        Content::Control => Err(Errno::NotPermitted),
        Content::Text(t) => Ok(from(t, buf)),
        Content::Transaction(_, answer) => Ok(from(&answer.lock(), buf)),
        Content::Through { file, lines: None, .. } => {
            let _slow = files.slow(pid)?;
            file.pread_once(offset, buf)
        }
        Content::Through { file, lines: Some(lines), .. } => {
            if let Some(t) = &*lines.lock() {
                return Ok(from(t, buf));
            }
            let _slow = files.slow(pid)?;
            read_line(file, lines, offset, buf)
        }
    }
}

/// How many bytes a `ReadWindow` of `count` at `at` of `pid`'s window
/// may put there.
fn room(files: &Files, pid: Pid, at: u32, count: u32) -> Result<usize, Errno> {
    files.with_window(pid, |w| window_room(w, at, count).map(|p| p.len()))?.ok_or(Errno::InvalidArgument)
}

/// The `count` bytes from `at` of `pid`'s window (a `WriteWindow`'s).
fn from_window(files: &Files, pid: Pid, at: u32, count: u32) -> Result<Vec<u8>, Errno> {
    files.with_window(pid, |w| window_part(w, at, count).map(|p| p.to_vec()))?.ok_or(Errno::InvalidArgument)
}

/// Puts `bytes` in `pid`'s window from `at`.
fn put_in_window(files: &Files, pid: Pid, at: u32, bytes: &[u8]) -> Result<(), Errno> {
    let put = |w: &mut [u8]| window_part(w, at, bytes.len() as u32).map(|p| p.copy_from_slice(bytes));
    files.with_window(pid, put)?.ok_or(Errno::InvalidArgument)
}

/// Carries out `ctl`: here if it names this node, else written to that
/// node's `ctl` through our mount of it.
fn control(state: &Mutex<State>, files: &Files, ctl: ClusterCtl) -> Result<(), Errno> {
    let (own, nodes) = view(state);
    let node = ctl.node().unwrap_or(own);
    if node == own {
        return match ctl {
            ClusterCtl::Drain(_) | ClusterCtl::Undrain(_) => {
                crate::set_draining(state, files, matches!(ctl, ClusterCtl::Drain(_)));
                Ok(())
            }
            ClusterCtl::Leave(_) => crate::leave_or_join(state, files, true),
            ClusterCtl::Join => crate::leave_or_join(state, files, false),
        };
    }
    match nodes.iter().find(|n| n.node == node) {
        None => return Err(Errno::NoNode),
        Some(n) if n.state.is_down() => return Err(Errno::Lost),
        Some(_) => {}
    }
    let path = alloc::format!("{}{CTL}", libux::cluster::mount_point(node));
    let written = open(&path, flags::WRITE)?.write(alloc::format!("{ctl}\n").as_bytes()).map(|_| ());
    match written {
        // A node told to leave may take the answer with it (our mount of
        // it is given up once it is out): its leaving is the answer.
        Err(_) if matches!(ctl, ClusterCtl::Leave(_)) && node_state(state, node) == Some(NodeState::Left) => Ok(()),
        w => w,
    }
}

/// A call's reply as the `call` file is read.
fn reply_bytes(reply: &Reply) -> Result<Vec<u8>, Errno> {
    postcard::to_allocvec(reply).map_err(|_| Errno::TooLarge)
}

/// Reads a `status` or `wait` file's one line whole (a wait ends here)
/// and keeps it; from `offset` into `buf`.
fn read_line(file: &File, lines: &Mutex<Option<Vec<u8>>>, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
    let mut whole = alloc::vec![0; 256];
    let n = file.pread(0, &mut whole)?;
    whole.truncate(n);
    let rest = whole.get(offset.min(usize::MAX as u64) as usize..).unwrap_or(&[]);
    let n = rest.len().min(buf.len());
    buf[..n].copy_from_slice(&rest[..n]);
    *lines.lock() = Some(whole);
    Ok(n)
}

fn write(
    state: &Mutex<State>,
    files: &Files,
    pid: Pid,
    handle: u32,
    offset: u64,
    data: &[u8],
) -> Result<Answer, Errno> {
    let open = files.get(pid, handle)?;
    match &open.content {
        Content::Text(_) => Err(Errno::NotPermitted),
        Content::Control => {
            let ctl = core::str::from_utf8(data).ok().and_then(ClusterCtl::parse).ok_or(Errno::InvalidArgument)?;
            let _slow = files.slow(pid)?;
            control(state, files, ctl)?;
            Ok(Answer::Count(data.len() as u32))
        }
        Content::Through { file, .. } => {
            let _slow = files.slow(pid)?;
            file.pwrite(offset, data).map(|n| Answer::Count(n as u32))
        }
        Content::Transaction(kind, answer) => {
            let _slow = files.slow(pid)?;
            let new = match kind {
                Transaction::Spawn => alloc::format!("{}\n", start(state, data)?).into_bytes(),
                // Bytes that are no call fail the write, so that `echo junk
                // > call` says so; a call's reply, an error too, is read
                // back (exact, also from another node).
                Transaction::Call => {
                    let call = Call::parse(data)?;
                    let reply = files.calls.answer(state, &files.waits, pid, &call);
                    files.learnt(state, pid, &call, &reply);
                    reply_bytes(&reply)?
                }
            };
            *answer.lock() = new;
            Ok(Answer::Count(data.len() as u32))
        }
    }
}

/// Hears of processes that ended, forever, on this thread (the one the
/// events notification is bound to): gives up what they held, and has
/// the waits for them settled; `told` when one that another node waits
/// for ended; `also` with every page of them. It answers no calls: one
/// that waits long would keep it from hearing.
pub fn hear_endings(files: &Files, told: impl Fn(), also: impl Fn(&[Pid])) -> ! {
    let events = Notification(slot::EVENTS);
    let mut cursor = 0;
    loop {
        events.wait();
        let mut watched_ended = false;
        let mut gone = |pids: &[Pid]| {
            files.ended(pids);
            files.calls.reap_unclaimed(files.waits.own(), pids);
            also(pids);
            watched_ended |= files.waits.ended(pids);
        };
        if let Err(e) = hear_a_burst(files, &mut cursor, &mut gone) {
            libux::println!("cluster: cannot learn which processes ended: {e}");
        }
        // One beat however many pages the endings came in.
        if watched_ended {
            told();
        }
    }
}

/// `gone` with the processes that ended since `cursor`, a page at a time.
/// The lock of our windows is held across each `Ended` (in which the
/// process server unmaps the windows of the clients it names) until
/// they are forgotten, so no window is used meanwhile; `gone` runs
/// without it (it may wait on other nodes).
fn hear_a_burst(files: &Files, cursor: &mut u64, mut gone: impl FnMut(&[Pid])) -> Result<(), Errno> {
    loop {
        let page = files.windows.lock().ended_page(cursor, || files.holders())?;
        gone(&page.pids);
        if !page.more {
            return Ok(());
        }
    }
}

/// `/proc/cluster` as the pool serves it.
pub struct ClusterTree {
    pub state: Arc<Mutex<State>>,
    pub files: Arc<Files>,
    /// Where each thread's event goes: this slot plus its index.
    pub events_at: u64,
}

impl Pooled for ClusterTree {
    /// The thread's event, which a call that reads every node waits on
    /// (`Files::fan_out`; without one, it reads them one by one).
    type Worker = Option<Event>;

    /// Runs on the new thread.
    fn worker(&self) -> Option<Event> {
        let index = u64::from(libux::thread::current().0);
        Event::create(self.events_at + index).ok()
    }

    fn file(&self, event: &mut Option<Event>, pid: Pid, req: FsRequest) -> Option<Result<Answer, Errno>> {
        let (state, files) = (&*self.state, &*self.files);
        let (gpid, wanted) = match parks(state, files, pid, &req) {
            Ok(Some(wait)) => wait,
            Ok(None) => return Some(answer(state, files, *event, pid, req)),
            Err(e) => return Some(Err(e)),
        };
        // The waker asks whether it has ended already.
        files.waits.park(pid, gpid, wanted).err().map(Err)
    }

    fn other(&self, _: &mut Option<Event>, pid: Pid, m: &Received, msg: &[u64; MAX_LENGTH]) -> Option<usize> {
        // Our own wake-up (`Files::fan_out`): sent, not called, so no
        // reply. A helper counts as a call of the posting's client.
        if m.label == MSG_HELP && m.badge == 0 {
            self.files.board.help(|client| self.files.helper(client));
            return None;
        }
        if m.label != MSG_FORWARD {
            return Some(encode(&Err(Errno::BadRequest)));
        }
        forwarded(&self.state, &self.files, pid, m, msg)
    }
}

/// Answers a process API call that `pid`'s process server answered
/// `Elsewhere` (`libux::cluster::call`) as a write of it to `call` is
/// answered: the reply's length in words, or none if it was parked (a
/// `Wait` that hangs).
fn forwarded(state: &Mutex<State>, files: &Files, pid: Pid, m: &Received, msg: &[u64; MAX_LENGTH]) -> Option<usize> {
    let words = |reply: &Reply| Some(libux::rpc::client::reply_words(reply));
    let call = match forwarded_bytes(files, pid, m, msg).and_then(|bytes| Call::parse(&bytes)) {
        Ok(call) => call,
        Err(e) => return words(&Err(e)),
    };
    if let Call::Wait { gpid, hang: true } = call {
        let parked = may_wait_for(state, pid, gpid).and_then(|()| files.waits.park(pid, gpid, Wanted::Forwarded));
        return parked.err().and_then(|e| words(&Err(e)));
    }
    let reply = match files.slow(pid) {
        Ok(_slow) => files.calls.answer(state, &files.waits, pid, &call),
        Err(e) => Err(e),
    };
    files.learnt(state, pid, &call, &reply);
    words(&reply)
}

/// The bytes of the forwarded call `m`: inline, or in `pid`'s I/O window.
fn forwarded_bytes(files: &Files, pid: Pid, m: &Received, msg: &[u64; MAX_LENGTH]) -> Result<Vec<u8>, Errno> {
    let h = frame::header(msg, m.words)?;
    Ok(match h.place {
        frame::Place::Inline => frame::inline_bytes(msg)[..h.len].to_vec(),
        // In the message part of its window (`libux::cluster::call`).
        frame::Place::Buffer => {
            let part = |w: &mut [u8]| window_part(w, IO_WINDOW_MESSAGE_AT as u32, h.len as u32).map(|p| p.to_vec());
            files.with_window(pid, part)?.ok_or(Errno::BadRequest)?
        }
    })
}

/// Whether `pid` may wait for `gpid`: another node's process is not lent
/// to a client restricted to its own descendants.
fn may_wait_for(state: &Mutex<State>, pid: Pid, gpid: Gpid) -> Result<(), Errno> {
    if gpid.node() != Some(own(state)) {
        libux::process::may_act(pid, None)?;
    }
    Ok(())
}

/// The wait `req` of `pid`'s is, if it is one that may wait long: on
/// which open file, for which process, asking what.
fn parks(state: &Mutex<State>, files: &Files, pid: Pid, req: &FsRequest) -> Result<Option<(Gpid, Wanted)>, Errno> {
    let handle = match *req {
        FsRequest::Read { handle, .. }
        | FsRequest::ReadWindow { handle, .. }
        | FsRequest::Write { handle, .. }
        | FsRequest::WriteWindow { handle, .. } => handle,
        _ => return Ok(None),
    };
    // Only a `wait` file's first read, or a `Wait` written to `call`, may
    // wait: anything else is looked at no further (nor copied).
    let Ok(open) = files.get(pid, handle) else { return Ok(None) };
    match (&open.content, req) {
        (
            Content::Through { lines: Some(lines), waits_for: Some(gpid), .. },
            &FsRequest::Read { offset, count, .. },
        ) => {
            let wanted = Wanted::Read { handle, offset, count, at: None };
            Ok(lines.lock().is_none().then_some((*gpid, wanted)))
        }
        (
            Content::Through { lines: Some(lines), waits_for: Some(gpid), .. },
            &FsRequest::ReadWindow { offset, count, at, .. },
        ) => {
            let count = room(files, pid, at, count)? as u32;
            let wanted = Wanted::Read { handle, offset, count, at: Some(at) };
            Ok(lines.lock().is_none().then_some((*gpid, wanted)))
        }
        (Content::Transaction(Transaction::Call, _), &FsRequest::Write { data, .. }) => {
            parks_call(state, pid, handle, data)
        }
        (Content::Transaction(Transaction::Call, _), &FsRequest::WriteWindow { count, at, .. }) => {
            parks_call(state, pid, handle, &from_window(files, pid, at, count)?)
        }
        _ => Ok(None),
    }
}

/// The wait a write of `data` to `call` is, if it is a `Wait` that hangs.
fn parks_call(state: &Mutex<State>, pid: Pid, handle: u32, data: &[u8]) -> Result<Option<(Gpid, Wanted)>, Errno> {
    match Call::parse(data) {
        Ok(Call::Wait { gpid, hang: true }) => {
            may_wait_for(state, pid, gpid)?;
            Ok(Some((gpid, Wanted::Call { handle, len: data.len() as u32 })))
        }
        _ => Ok(None),
    }
}

/// What the waker asks for the parked call `p` (see `Calls::ask`): none
/// while its process runs, else the `Wait`'s answer (or anything, for a
/// read of a `wait` file, which reads its line through).
fn ask(state: &Mutex<State>, files: &Files, p: &Parked) -> Option<Reply> {
    let how = match p.wanted {
        Wanted::Call { .. } | Wanted::Forwarded => Ask::Reap,
        Wanted::Read { .. } => Ask::Look,
    };
    files.calls.ask(state, &files.waits, p.client, p.gpid, how)
}

/// Answers a parked wait whose process ended (`waited`: a `Wait`'s
/// answer) or whose node went `down`: what it asked for, which no
/// longer waits.
fn settle(state: &Mutex<State>, files: &Files, p: Parked, down: bool, waited: Option<Reply>) {
    // A `Wait`'s answer (of a node that is down: answered `lost` here).
    let wait_reply = || {
        let call = Call::Wait { gpid: p.gpid, hang: true };
        let reply = waited.unwrap_or_else(|| files.calls.answer(state, &files.waits, p.client, &call));
        files.learnt(state, p.client, &call, &reply);
        reply
    };
    let reply = match p.wanted {
        Wanted::Forwarded => return files.waits.answer_forwarded(p, &wait_reply()),
        Wanted::Call { handle, len } => files.get(p.client, handle).and_then(|open| {
            let Content::Transaction(_, answer) = &open.content else { return Err(Errno::BadHandle) };
            *answer.lock() = reply_bytes(&wait_reply())?;
            Ok(Answer::Count(len))
        }),
        Wanted::Read { .. } if down => Err(Errno::Lost),
        Wanted::Read { handle, offset, count, at } => files.get(p.client, handle).and_then(|open| {
            let Content::Through { file, lines: Some(lines), .. } = &open.content else { return Err(Errno::BadHandle) };
            // (A window's room was measured when the read came.)
            let limit = if at.is_some() { usize::MAX } else { IO_MAX };
            let mut buf = alloc::vec![0; (count as usize).min(limit)];
            let n = read_line(file, lines, offset, &mut buf)?;
            buf.truncate(n);
            match at {
                Some(at) => {
                    put_in_window(files, p.client, at, &buf)?;
                    Ok(Answer::Count(n as u32))
                }
                None => Ok(Answer::Data(buf)),
            }
        }),
    };
    files.waits.answer(p, &reply);
}

/// The waker, forever on its thread: settles the parked waits whose
/// processes ended, and answers those of a node that went down.
pub fn wake(state: &Mutex<State>, files: &Files) -> ! {
    // What we placed is waited for as ourselves.
    let me = libux::process::getpid().unwrap_or(0);
    // Its parent's process server takes its end (none: the parent is gone).
    let tell = |g: Gpid, end: End| {
        let _ = libux::process::placed_ended(g.0, end);
    };
    loop {
        let mut dues = files.waits.next();
        // Reads of `wait` files first: a `Wait` settled before them would
        // have reaped what they are to show.
        dues.sort_by_key(|d| !matches!(d, Due::Call(Parked { wanted: Wanted::Read { .. }, .. }, _)));
        for due in dues {
            match due {
                Due::Call(p, true) => settle(state, files, p, true, None),
                Due::Call(p, false) => match ask(state, files, &p) {
                    Some(waited) => settle(state, files, p, false, Some(waited)),
                    None => files.waits.put_back(p),
                },
                // Gone with its node: nothing to reap.
                Due::Placed(g, true) => tell(g, End::Lost),
                // Reaped there if it ended. (An end another waiter by gpid
                // took first is not ours to tell: lost to its parent.) A
                // question that failed on the way is asked again at the
                // node's next news.
                Due::Placed(g, false) => match files.calls.ask(state, &files.waits, me, g, Ask::Reap) {
                    Some(Ok(Response::Waited(Some(w)))) => {
                        files.learnt(state, me, &Call::Wait { gpid: g, hang: false }, &Ok(Response::Waited(Some(w))));
                        tell(g, w.end);
                    }
                    Some(Err(Errno::NoChild | Errno::NoSuchProcess | Errno::Lost)) => tell(g, End::Lost),
                    Some(_) | None => files.waits.readopt(g),
                },
            }
        }
    }
}

//! The cluster's names and file formats, defined once for the cluster
//! server that serves them and the programs that read them (`cnodes`,
//! the tests).
//!
//! A process is named cluster-wide by its **gpid**: the node's number
//! (15 bits) over its pid there (16 bits: local pids stay below 2^16),
//! printed as one decimal number, `node * 65536 + pid` (MOSIX's
//! layout): node 3's pid 1 is 196609. Pid 0 (the process server) is
//! gpid 0 everywhere.
//!
//! ```text
//! /proc/cluster/self   this node's number
//! /proc/cluster/nodes  one line per node, by number:
//!                      <node> <name> <address> <state> <load> <processes>
//!                      <free KiB> <features>
//!                      state: up | suspect | down; load: processes
//!                      running; features: comma separated, `-` if none
//! /proc/cluster/ps     one line per process of every node that is up:
//!                      <gpid> <node> <parent gpid> <state> <memory> <name>
//!                      (state, memory and name as `/proc/<pid>/status`
//!                      has them); a node that is down has the processes
//!                      it had when last read, state `lost`
//! /proc/cluster/spawn  write `[-n NODE | -a | -f FEATURE]` and a
//!                      `/proc/spawn` line; a read then gives the gpid
//! /proc/cluster/<gpid>/status, args, ctl, wait
//!                      its node's `/proc/<pid>/...`, read and written
//!                      through
//! ```
//!
//! A node's configuration comes from the host through fw_cfg (see
//! [`Config::parse`]): `opt/ux/cluster` holds `node=N name=NAME
//! features=A,B`, `opt/ux/secret` the cluster's shared secret and
//! `opt/ux/seed` the boot's random bytes (both files, so that no host
//! user sees them on QEMU's command line).

use crate::net::Addr;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use hmac::{Hmac, Mac as _};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// A node's number in its cluster: 1..=32767 (15 bits, as MOSIX's).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u16);

impl NodeId {
    pub const MAX: u16 = 32767;

    pub fn is_valid(self) -> bool {
        (1..=Self::MAX).contains(&self.0)
    }

    pub fn parse(text: &str) -> Option<NodeId> {
        text.parse().ok().map(NodeId).filter(|n| n.is_valid())
    }

    /// The node's address on the cluster's segment: its number's two
    /// bytes under 10.1 (node 3 is 10.1.0.3, node 300 10.1.1.44); every
    /// number fits below 10.1.128.0, so none is the broadcast address.
    pub fn segment_addr(self) -> [u8; 4] {
        let [high, low] = self.0.to_be_bytes();
        [10, 1, high, low]
    }
}

/// The cluster's segment, 10.1.0.0/16 ([`NodeId::segment_addr`]).
pub const SEGMENT_PREFIX: u8 = 16;
/// Its broadcast address, where the membership's seekers and views go.
pub const SEGMENT_BROADCAST: [u8; 4] = [10, 1, 255, 255];

impl core::fmt::Display for NodeId {
    /// The number (padded as asked: tables align it).
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(&self.0, f)
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeState {
    Up,
    /// Up, and drained (`ClusterCtl::Drain`): placement by load or
    /// feature passes it by.
    Draining,
    /// Not heard from for a while.
    Suspect,
    Down,
    /// Gone out of the cluster on purpose (`ClusterCtl::Leave`): as
    /// down to the others, told at once rather than after its silence.
    Left,
}

impl NodeState {
    const ALL: [NodeState; 5] =
        [NodeState::Up, NodeState::Draining, NodeState::Suspect, NodeState::Down, NodeState::Left];

    /// Whether the node is out: down, or left. Nothing is placed there,
    /// and its processes are lost to the others.
    pub fn is_down(self) -> bool {
        matches!(self, NodeState::Down | NodeState::Left)
    }

    pub fn word(self) -> &'static str {
        match self {
            NodeState::Up => "up",
            NodeState::Draining => "draining",
            NodeState::Suspect => "suspect",
            NodeState::Down => "down",
            NodeState::Left => "left",
        }
    }

    pub fn parse(word: &str) -> Option<NodeState> {
        NodeState::ALL.into_iter().find(|s| s.word() == word)
    }
}

/// How the cluster server's log says who coordinates the membership: a
/// node's own taking over (`cluster: node N coordinates the membership
/// (none heard)`, or `...; node N coordinates the membership` when the
/// last one fell silent or left), and its going over to another
/// (`cluster: node C coordinates the membership; node N follows`).
pub mod roles {
    pub const COORDINATES: &str = " coordinates the membership";
    pub const FOLLOWS: &str = " follows";

    /// Whether a node's `log` says it coordinates now: its last line on
    /// who does is its own taking over, not its following another.
    pub fn coordinates(log: &str) -> bool {
        log.lines().rev().find(|l| l.contains(COORDINATES)).is_some_and(|l| !l.ends_with(FOLLOWS))
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn the_last_word_on_who_coordinates_counts() {
            let took = "cluster: node 2 coordinates the membership (none heard)\n";
            let yielded = "cluster: node 1 coordinates the membership; node 2 follows\n";
            let took_over = "cluster: node 1 is silent; node 2 coordinates the membership\n";
            assert!(super::coordinates(took));
            assert!(!super::coordinates(&[took, yielded].concat()));
            assert!(super::coordinates(&[took, yielded, took_over].concat()));
            assert!(!super::coordinates("cluster: node 2 on the segment\n"));
        }
    }
}

/// How the cluster server's log says it changed its mind about a node
/// (`cluster: node N (NAME) is suspect`, `... is down`) or took its
/// coordinator for silent (`cluster: node N is silent; ...`): what the
/// tests and the benchmark count in a cluster that should be settled.
pub mod trouble {
    pub const SUSPECT: &str = ") is suspect";
    pub const DOWN: &str = ") is down";
    pub const SILENT: &str = " is silent; ";
    pub const ALL: [&str; 3] = [SUSPECT, DOWN, SILENT];

    /// The lines of `log` that say any of them.
    pub fn count(log: &str) -> usize {
        log.lines().filter(|l| ALL.iter().any(|w| l.contains(w))).count()
    }
}

/// A line written to [`CTL`], the cluster's control file:
///
/// ```text
/// drain NODE    placement by load or feature (`-a`, `-f`) passes the
///               node by while it stays up (`-n NODE` still reaches it,
///               and what runs there runs on); `nodes` says `draining`
/// undrain NODE  it takes such work again
/// leave NODE    the node goes out of the cluster now: the others list
///               it `left` (down to them: its processes lost to them)
///               at once, not after its silence; it lists them `down`
/// join          this node, which left, comes back as a new incarnation
/// ```
///
/// Written on any node: the node named carries it out (a drained node
/// says so in its beats, a leaving one in its last), so every node sees
/// it within a beat period. A node that left hears nobody: `join` is
/// written on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterCtl {
    Drain(NodeId),
    Undrain(NodeId),
    Leave(NodeId),
    Join,
}

impl ClusterCtl {
    pub fn parse(text: &str) -> Option<ClusterCtl> {
        let mut words = text.split_whitespace();
        let verb = words.next()?;
        if verb == "join" {
            return words.next().is_none().then_some(ClusterCtl::Join);
        }
        let node = NodeId::parse(words.next()?)?;
        if words.next().is_some() {
            return None;
        }
        match verb {
            "drain" => Some(ClusterCtl::Drain(node)),
            "undrain" => Some(ClusterCtl::Undrain(node)),
            "leave" => Some(ClusterCtl::Leave(node)),
            _ => None,
        }
    }

    /// The node it is about (none: this one).
    pub fn node(self) -> Option<NodeId> {
        match self {
            ClusterCtl::Drain(n) | ClusterCtl::Undrain(n) | ClusterCtl::Leave(n) => Some(n),
            ClusterCtl::Join => None,
        }
    }
}

impl core::fmt::Display for ClusterCtl {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ClusterCtl::Drain(n) => write!(f, "drain {n}"),
            ClusterCtl::Undrain(n) => write!(f, "undrain {n}"),
            ClusterCtl::Leave(n) => write!(f, "leave {n}"),
            ClusterCtl::Join => write!(f, "join"),
        }
    }
}

/// Where a program is to run: `rpc::Spawn::place`, and the options of
/// `/proc/cluster/spawn` and `crun` (`-n NODE`, `-a`, `-f FEATURE`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// That node.
    Node(NodeId),
    /// The least loaded node that is up.
    LeastLoaded,
    /// The least loaded node that is up and declares the feature.
    Feature(String),
}

impl Place {
    /// The placement `words` start with (`-n NODE`, `-a`, `-f FEATURE`)
    /// and how many words it takes; none if they start with no option;
    /// `InvalidArgument` for an option without a good argument.
    pub fn from_words(words: &[&str]) -> Result<Option<(Place, usize)>, crate::rpc::Errno> {
        let bad = crate::rpc::Errno::InvalidArgument;
        match words.first().copied() {
            Some("-n") => words.get(1).and_then(|n| NodeId::parse(n)).map(|n| Some((Place::Node(n), 2))).ok_or(bad),
            Some("-f") => {
                let one = |f: &&&str| !f.is_empty() && !f.contains(',') && is_features(f);
                words.get(1).filter(one).map(|f| Some((Place::Feature(String::from(*f)), 2))).ok_or(bad)
            }
            Some("-a") => Ok(Some((Place::LeastLoaded, 1))),
            _ => Ok(None),
        }
    }
}

/// A cluster-wide process id (see the module's documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Gpid(pub u32);

impl Gpid {
    /// `node`'s `pid`; none if the pid does not fit 16 bits.
    pub fn new(node: NodeId, pid: crate::rpc::Pid) -> Option<Gpid> {
        if pid == 0 {
            return Some(Gpid(0));
        }
        (node.is_valid() && pid <= 0xffff).then(|| Gpid(u32::from(node.0) << 16 | pid))
    }

    /// A pid as node `node` names it: one of its gpids (what its process
    /// server answers and `/proc` lists), or the short form, a local pid
    /// (what its servers know from badges); none for another node's.
    pub fn named(node: NodeId, pid: crate::rpc::Pid) -> Option<Gpid> {
        if pid <= crate::rpc::PID_MAX {
            return Gpid::new(node, pid);
        }
        Some(Gpid(pid)).filter(|g| g.node() == Some(node))
    }

    /// The node it is on (none for gpid 0, the process servers').
    pub fn node(self) -> Option<NodeId> {
        Some(NodeId((self.0 >> 16) as u16)).filter(|n| n.is_valid())
    }

    /// Its pid on its node.
    pub fn pid(self) -> crate::rpc::Pid {
        self.0 & 0xffff
    }

    pub fn parse(text: &str) -> Option<Gpid> {
        let g = Gpid(text.parse().ok()?);
        (g.0 == 0 || (g.node().is_some() && g.pid() != 0)).then_some(g)
    }
}

impl core::fmt::Display for Gpid {
    /// The number (padded as asked: tables align it).
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(&self.0, f)
    }
}

/// Where the cluster server's tree is mounted, in every namespace.
pub const TREE: &str = "/proc/cluster";
/// This node's number, as the cluster server serves it.
pub const SELF: &str = "/proc/cluster/self";
/// The cluster server's transaction file: a write of a process API
/// request (`rpc::Request`, postcard), then a read of its reply on the
/// same open file (as Plan 9's `/net/cs`).
pub const CALL: &str = "/proc/cluster/call";

/// The cluster's control file (lines: [`ClusterCtl`]).
pub const CTL: &str = "/proc/cluster/ctl";

/// The cluster's spawn file (see the module's documentation).
pub const SPAWN: &str = "/proc/cluster/spawn";

/// Starts what `line` says (`[-n NODE | -a | -f FEATURE]` and a
/// `/proc/spawn` line) through [`SPAWN`]; its gpid.
#[cfg(target_arch = "x86_64")]
pub fn spawn(line: &str) -> Result<Gpid, crate::rpc::Errno> {
    let answer = crate::fs::client::transact(SPAWN, line.as_bytes())?;
    core::str::from_utf8(&answer).ok().and_then(|t| Gpid::parse(t.trim())).ok_or(crate::rpc::Errno::BadRequest)
}

/// Makes a process API call about another node's process through this
/// node's cluster server, which forwards it to that node's (what
/// `process` does when the process server answers `Elsewhere`): the
/// request as it was, on the connection the process server gives
/// (`Request::ClusterConn`, asked for once), its bytes in the message
/// part of our I/O window onto the cluster server when they do not fit
/// a message.
#[cfg(target_arch = "x86_64")]
pub fn call(req: &crate::rpc::Request) -> crate::rpc::Reply {
    use crate::layout::slot::CLUSTER_CONN;
    use crate::rpc::client::{call_forwarded, fits_inline};
    use crate::rpc::BUFFER_MAX;
    let server = cluster_server()?;
    if fits_inline(req) {
        return call_forwarded(CLUSTER_CONN, req, None);
    }
    crate::fs::client::with_message_part(server, |w| {
        let buffer: &mut [u8; BUFFER_MAX] = (&mut w[..BUFFER_MAX]).try_into().expect("a window's part holds a buffer");
        call_forwarded(CLUSTER_CONN, req, Some(buffer))
    })?
}

// A forwarded call's bytes fit the message part of a window.
const _: () = assert!(crate::rpc::BUFFER_MAX <= crate::layout::IO_WINDOW_MESSAGE as usize);

/// The cluster server's pid, its connection in `slot::CLUSTER_CONN`
/// (asked for at the first call, by one thread: a second `ClusterConn`
/// replaces the slot's capability, which another thread may be using).
#[cfg(target_arch = "x86_64")]
fn cluster_server() -> Result<crate::rpc::Pid, crate::rpc::Errno> {
    use crate::rpc::{Errno, Request, Response};
    static SERVER: crate::sync::Mutex<crate::rpc::Pid> = crate::sync::Mutex::new(0);
    let mut server = SERVER.lock();
    if *server == 0 {
        match crate::rpc::client::call(crate::layout::slot::PROC_CONN, &Request::ClusterConn)? {
            Response::Resolved { server: s, .. } => *server = s,
            _ => return Err(Errno::BadRequest),
        }
    }
    Ok(*server)
}
/// The node table (see the module's documentation).
pub const NODES: &str = "/proc/cluster/nodes";

/// This node's number, from [`SELF`].
#[cfg(target_arch = "x86_64")]
pub fn own_node() -> Result<NodeId, crate::rpc::Errno> {
    let text = crate::fs::client::open(SELF, crate::fs::flags::READ).and_then(|mut f| f.read_to_end())?;
    core::str::from_utf8(&text).ok().and_then(|t| NodeId::parse(t.trim())).ok_or(crate::rpc::Errno::BadRequest)
}

/// The node table, from [`NODES`] (lines that do not parse left out).
#[cfg(target_arch = "x86_64")]
pub fn nodes() -> Result<Vec<NodeLine>, crate::rpc::Errno> {
    let text = crate::fs::client::open(NODES, crate::fs::flags::READ).and_then(|mut f| f.read_to_end())?;
    Ok(core::str::from_utf8(&text).unwrap_or("").lines().filter_map(NodeLine::parse).collect())
}

/// Whether `node` is down (or left) in the node table (false if it
/// cannot be read).
#[cfg(target_arch = "x86_64")]
pub fn is_down(node: NodeId) -> bool {
    nodes().is_ok_and(|all| all.iter().any(|l| l.node == node && l.state.is_down()))
}

/// The `/proc` of `node` from `own`: ours, or the cluster's mount of it.
pub fn proc_dir(node: NodeId, own: NodeId) -> String {
    if node == own {
        String::from("/proc")
    } else {
        format!("{}/proc", mount_point(node))
    }
}

/// Where the cluster server mounts node `node`'s export: `/n/nodeN`.
pub fn mount_point(node: NodeId) -> String {
    format!("/n/node{node}")
}

/// Whether `path` is at or under a node's mount ([`mount_point`]).
pub fn is_cluster_mount(path: &str) -> bool {
    path.strip_prefix("/n/").and_then(|rest| node_of_dir(rest.split('/').next().unwrap_or(""))).is_some()
}

/// The node whose mount is the directory `name` of `/n` (`node3`: 3).
pub fn node_of_dir(name: &str) -> Option<NodeId> {
    let digits = name.strip_prefix("node")?;
    NodeId::parse(digits).filter(|n| format!("{n}") == digits)
}

/// Longest node name.
pub const NAME_MAX: usize = 32;
/// Longest feature list (with its commas).
pub const FEATURES_MAX: usize = 128;

/// A node's configuration, from the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub node: NodeId,
    pub name: String,
    /// Comma separated; empty if none.
    pub features: String,
}

/// A name or feature: letters, digits, `.`, `_`, `-`.
fn word_ok(w: &str) -> bool {
    !w.is_empty() && w.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// Whether `name` may name a node (it is one word of a node line).
pub fn is_name(name: &str) -> bool {
    word_ok(name) && name.len() <= NAME_MAX
}

/// Whether `features` is a feature list: empty, or words and commas.
pub fn is_features(features: &str) -> bool {
    features.is_empty() || (features.len() <= FEATURES_MAX && features.split(',').all(word_ok))
}

impl Config {
    /// `node=N [name=NAME] [features=A,B,...]`, in any order; the name is
    /// `nodeN` if not given. An error names what is wrong.
    pub fn parse(text: &str) -> Result<Config, String> {
        let (mut node, mut name, mut features) = (None, None, String::new());
        for word in text.split_whitespace() {
            match word.split_once('=') {
                Some(("node", n)) => {
                    node = Some(NodeId::parse(n).ok_or_else(|| format!("node={n}: a number 1..={}", NodeId::MAX))?)
                }
                Some(("name", n)) if is_name(n) => name = Some(String::from(n)),
                Some(("name", n)) => return Err(format!("name={n}: at most {NAME_MAX} letters, digits, . _ -")),
                Some(("features", f)) if !f.is_empty() && is_features(f) => features = String::from(f),
                Some(("features", f)) => return Err(format!("features={f}: comma separated words")),
                _ => return Err(format!("{word}: not node=, name= or features=")),
            }
        }
        let node = node.ok_or("no node=")?;
        Ok(Config { node, name: name.unwrap_or_else(|| format!("node{node}")), features })
    }
}

/// One line of `/proc/cluster/nodes`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeLine {
    pub node: NodeId,
    pub name: String,
    pub addr: Addr,
    pub state: NodeState,
    pub load: u32,
    pub processes: u32,
    pub free_kib: u64,
    /// Comma separated; empty if none.
    pub features: String,
}

impl core::fmt::Display for NodeLine {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let features = if self.features.is_empty() { "-" } else { &self.features };
        writeln!(
            f,
            "{} {} {} {} {} {} {} {}",
            self.node,
            self.name,
            self.addr,
            self.state.word(),
            self.load,
            self.processes,
            self.free_kib,
            features
        )
    }
}

impl NodeLine {
    pub fn parse(line: &str) -> Option<NodeLine> {
        let w: Vec<&str> = line.split_whitespace().collect();
        let [node, name, addr, state, load, processes, free_kib, features] = w[..] else { return None };
        Some(NodeLine {
            node: NodeId::parse(node)?,
            name: String::from(name),
            addr: Addr::parse(addr)?,
            state: NodeState::parse(state)?,
            load: load.parse().ok()?,
            processes: processes.parse().ok()?,
            free_kib: free_kib.parse().ok()?,
            features: if features == "-" { String::new() } else { String::from(features) },
        })
    }
}

/// One line of `/proc/cluster/ps` (see the module's documentation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PsLine {
    pub gpid: Gpid,
    pub node: NodeId,
    pub parent: Gpid,
    pub state: String,
    pub memory: u64,
    pub name: String,
}

impl PsLine {
    /// The line of a process of `node` whose `/proc/<pid>/status` says
    /// `s`; none if its pid does not make a gpid. Its parent is of
    /// `node`, or, for a program started for another node's process (the
    /// home model), that process's gpid.
    pub fn of(node: NodeId, s: &crate::procfs::Status) -> Option<PsLine> {
        let elsewhere = |ppid| Some(Gpid(ppid)).filter(|g: &Gpid| g.node().is_some() && g.pid() != 0);
        Some(PsLine {
            gpid: Gpid::named(node, s.pid)?,
            node,
            parent: Gpid::named(node, s.ppid).or_else(|| elsewhere(s.ppid))?,
            state: String::from(s.state),
            memory: s.memory,
            name: String::from(s.name),
        })
    }

    pub fn parse(line: &str) -> Option<PsLine> {
        let w: Vec<&str> = line.split_whitespace().collect();
        let [gpid, node, parent, state, memory, name] = w[..] else { return None };
        Some(PsLine {
            gpid: Gpid::parse(gpid)?,
            node: NodeId::parse(node)?,
            parent: Gpid::parse(parent)?,
            state: String::from(state),
            memory: memory.parse().ok()?,
            name: String::from(name),
        })
    }
}

impl core::fmt::Display for PsLine {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let PsLine { gpid, node, parent, state, memory, name } = self;
        writeln!(f, "{gpid} {node} {parent} {state} {memory} {name}")
    }
}

/// HMAC-SHA-256 keyed with `key` over `parts` (RustCrypto's; nothing
/// hand-written).
pub fn hmac(key: &[u8], parts: &[&[u8]]) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    for p in parts {
        m.update(p);
    }
    m
}

/// Unpredictable bytes for nonces, challenges and incarnations:
/// HMAC-SHA-256 keyed with the boot's seed (from the host, through fw_cfg)
/// over a counter.
pub struct Nonces {
    seed: Vec<u8>,
    counter: u64,
}

impl Nonces {
    pub fn new(seed: &[u8]) -> Nonces {
        Nonces { seed: seed.into(), counter: 0 }
    }

    pub fn bytes(&mut self) -> [u8; 32] {
        self.counter += 1;
        hmac(&self.seed, &[b"ux-nonce", &self.counter.to_le_bytes()]).finalize().into_bytes().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_node_number_has_an_address_of_its_own_on_the_segment() {
        assert_eq!(NodeId(3).segment_addr(), [10, 1, 0, 3]);
        assert_eq!(NodeId(300).segment_addr(), [10, 1, 1, 44]);
        assert_eq!(NodeId(NodeId::MAX).segment_addr(), [10, 1, 127, 255]);
        let mut seen = alloc::collections::BTreeSet::new();
        for n in 1..=NodeId::MAX {
            let a = NodeId(n).segment_addr();
            assert!(a != SEGMENT_BROADCAST && a != [10, 1, 0, 0] && a[..2] == [10, 1], "{n}: {a:?}");
            assert!(seen.insert(a), "{n}");
        }
    }

    #[test]
    fn configs_parse_or_say_what_is_wrong() {
        let c = Config::parse("node=3 name=n3 features=bigmem,fast").unwrap();
        assert_eq!((c.node, c.name.as_str(), c.features.as_str()), (NodeId(3), "n3", "bigmem,fast"));
        assert_eq!(Config::parse("node=7").unwrap().name, "node7");
        for bad in ["", "node=0", "node=32768", "node=1 name=a/b", "node=1 features=a,,b", "node=1 x=y"] {
            assert!(Config::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn placements_come_from_words() {
        assert_eq!(Place::from_words(&["-n", "3", "true"]), Ok(Some((Place::Node(NodeId(3)), 2))));
        assert_eq!(Place::from_words(&["-a", "true"]), Ok(Some((Place::LeastLoaded, 1))));
        assert_eq!(Place::from_words(&["-f", "fast", "x"]), Ok(Some((Place::Feature("fast".into()), 2))));
        assert_eq!(Place::from_words(&["true", "-n"]), Ok(None));
        assert_eq!(Place::from_words(&[]), Ok(None));
        for bad in [&["-n"][..], &["-n", "0"], &["-n", "x"], &["-f"], &["-f", "a,b"], &["-f", ""]] {
            assert_eq!(Place::from_words(bad), Err(crate::rpc::Errno::InvalidArgument), "{bad:?}");
        }
    }

    #[test]
    fn node_lines_come_back() {
        let line = NodeLine {
            node: NodeId(2),
            name: "n2".into(),
            addr: Addr { ip: [10, 1, 0, 2], port: 5640 },
            state: NodeState::Suspect,
            load: 1,
            processes: 7,
            free_kib: 123456,
            features: String::new(),
        };
        let text = format!("{line}");
        assert_eq!(text, "2 n2 10.1.0.2!5640 suspect 1 7 123456 -\n");
        assert_eq!(NodeLine::parse(&text), Some(line));
        assert_eq!(NodeLine::parse("2 n2 10.1.0.2!5640 sleeping 1 7 1 -"), None);
        for state in NodeState::ALL {
            assert_eq!(NodeState::parse(state.word()), Some(state));
        }
    }

    #[test]
    fn ctl_lines_come_back_and_bad_ones_are_refused() {
        let all = [ClusterCtl::Drain(NodeId(3)), ClusterCtl::Undrain(NodeId(32767)), ClusterCtl::Leave(NodeId(1))];
        for ctl in all.into_iter().chain([ClusterCtl::Join]) {
            assert_eq!(ClusterCtl::parse(&format!("{ctl}\n")), Some(ctl));
        }
        assert_eq!(ClusterCtl::parse("  drain   2 "), Some(ClusterCtl::Drain(NodeId(2))));
        assert_eq!(ClusterCtl::parse(" join "), Some(ClusterCtl::Join));
        for bad in ["", "drain", "drain 0", "drain 32768", "drain x", "drain 2 3", "leave", "join 2", "DRAIN 2"] {
            assert_eq!(ClusterCtl::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn ids_pad_in_tables() {
        assert_eq!(format!("[{:>8}|{:<4}]", Gpid(65537), NodeId(2)), "[   65537|2   ]");
    }

    #[test]
    fn ps_lines_come_back() {
        let status = crate::procfs::Status {
            pid: 3 << 16 | 7,
            ppid: 3 << 16 | 2,
            state: "running",
            name: "sleep",
            memory: 4096,
        };
        let line = PsLine::of(NodeId(3), &status).unwrap();
        assert_eq!((line.gpid, line.parent), (Gpid(3 << 16 | 7), Gpid(3 << 16 | 2)));
        let text = format!("{line}");
        assert_eq!(text, "196615 3 196610 running 4096 sleep\n");
        assert_eq!(PsLine::parse(&text), Some(line));
        let orphan = crate::procfs::Status { ppid: 0, ..status };
        assert_eq!(PsLine::of(NodeId(3), &orphan).unwrap().parent, Gpid(0));
        let placed = crate::procfs::Status { ppid: 1 << 16 | 9, ..status };
        assert_eq!(PsLine::of(NodeId(3), &placed).unwrap().parent, Gpid(1 << 16 | 9), "its home node's");
        let bad = crate::procfs::Status { ppid: 1 << 16, ..status };
        assert_eq!(PsLine::of(NodeId(3), &bad), None);
        for bad in ["", "196615 3 196610 running 4096", "196615 0 196610 running 4096 sleep", "x 3 0 running 1 a"] {
            assert_eq!(PsLine::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn cluster_mounts_are_known_by_their_paths() {
        assert_eq!(mount_point(NodeId(7)), "/n/node7");
        for yes in ["/n/node7", "/n/node7/proc/1/ctl", "/n/node32767"] {
            assert!(is_cluster_mount(yes), "{yes}");
        }
        for no in ["/n", "/n/node", "/n/node0", "/n/node07", "/n/nodes", "/n/node7x", "/n/B/n/node7", "/proc"] {
            assert!(!is_cluster_mount(no), "{no}");
        }
    }

    #[test]
    fn gpids_are_the_node_over_the_pid() {
        let g = Gpid::new(NodeId(3), 1).unwrap();
        assert_eq!((g.0, g.node(), g.pid()), (196609, Some(NodeId(3)), 1));
        assert_eq!(format!("{g}"), "196609");
        assert_eq!(Gpid::parse("196609"), Some(g));
        let top = Gpid::new(NodeId(NodeId::MAX), 0xffff).unwrap();
        assert_eq!(top.0, (1 << 31) - 1, "31 bits");
        assert_eq!(Gpid::new(NodeId(3), 0x10000), None);
        assert_eq!(Gpid::new(NodeId(3), 0), Some(Gpid(0)));
        assert_eq!(Gpid::named(NodeId(3), 1), Some(g));
        assert_eq!(Gpid::named(NodeId(3), 196609), Some(g));
        assert_eq!(Gpid::named(NodeId(2), 196609), None, "another node's");
        assert_eq!(Gpid::named(NodeId(3), 0), Some(Gpid(0)));
        for bad in ["65536", "-1", "x", "2147483648", "196608"] {
            assert_eq!(Gpid::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn nonces_differ_by_counter_and_seed() {
        let (mut a, mut b) = (Nonces::new(b"one"), Nonces::new(b"two"));
        let (a1, a2, b1) = (a.bytes(), a.bytes(), b.bytes());
        assert!(a1 != a2 && a1 != b1);
    }
}

//! The file trees the process server serves itself, over the file
//! protocol (`libux::fs`): `/proc`, each process as files (formats in
//! `libux::procfs`), and `/bin`, the programs of the boot image, read-only.
//! Their calls come on the process server endpoint with `FILES_BADGE` in
//! the badge (and `BIN_BADGE` for `/bin`).
//!
//! They are served by the file-server loop every server uses
//! (`libux::fs::serve::Loop`: handles, open modes, waiting reads,
//! `Cancel`, listings in pages, what an ended process held). For each
//! call, [`Tree`] is a view of the process table that only reads it: a
//! write that acts (`kill`, `stop`, `cont` to a `ctl` file, a line to
//! `/proc/spawn`) and a `wait` read that reaps give [`Effect`]s, which
//! the dispatcher (`server/proc_files.rs`) carries out before the answer
//! goes; an effect that fails is the call's answer.
//!
//! A read of `/proc/<pid>/wait` that cannot be answered yet keeps its
//! reply capability until the process ends. It is then answered with a
//! non-blocking send, so a reader that has gone meanwhile costs nothing.

use crate::mem::{ROOT_CNODE, ROOT_DEPTH};
use crate::mounts::Mounts;
use crate::process::{Ended, State};
use crate::procs::Procs;
use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use libux::bootfs::BootFs;
use libux::fs::dirtab::{self, Perm};
use libux::fs::serve::{text_into, Done, Files, Held, Io, Loop, Transport};
use libux::fs::server::Entry;
use libux::fs::{flags, FsReply};
use libux::procfs::{self, Ctl, PidFile, PID_FILES};
use libux::rpc::{Errno, Pid};
use libux::sysdesc;

/// `wait` reads waiting at once, in all: each holds a root slot.
const WAITING_MAX: usize = 256;

/// A file of the trees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Node {
    BinDir,
    /// The `n`th file of the boot image.
    Bin(usize),
    ProcDir,
    /// `/proc/ps`: every process's status line.
    Ps,
    PidDir(Pid),
    File(Pid, PidFile),
    /// An open of `/proc/spawn`, by its number: what its last write
    /// started is in [`ProcFiles::spawned`].
    Spawn(u32),
}

impl Node {
    fn perm(&self) -> Perm {
        match self {
            Node::BinDir | Node::ProcDir | Node::PidDir(_) => Perm::Dir,
            Node::Bin(_) | Node::Ps => Perm::Read,
            Node::Spawn(_) => Perm::ReadWrite,
            Node::File(_, f) => dirtab::row_of(&PID_FILES, f).map_or(Perm::Read, |r| r.perm),
        }
    }
}

/// A `wait` read waiting for `pid` to end, from `offset`.
pub struct WaitFor {
    pid: Pid,
    offset: u64,
}

/// What a call asks of the process server beyond reading its table.
pub enum Effect {
    Kill(Pid),
    Stop(Pid),
    Cont(Pid),
    /// Start the command of `line` as `parent`'s child, for the open
    /// `id` of `/proc/spawn`.
    Spawn {
        id: u32,
        parent: Pid,
        line: String,
    },
    /// `reader` read the whole `wait` line of its child `pid`: reaped.
    Reap {
        pid: Pid,
        reader: Pid,
    },
}

/// What `/proc` and `/bin` keep between calls.
pub struct ProcFiles {
    pub core: Loop<Node, WaitFor>,
    /// Per open of `/proc/spawn`: the child its last write started.
    pub spawned: BTreeMap<u32, Pid>,
    next_spawn: u32,
    /// Answers to send once the current call is answered: reply slot and
    /// the encoded reply (`Transport::answer` here, and `hanging`'s).
    pub ready: Vec<(u64, Vec<u8>)>,
}

impl ProcFiles {
    /// Whether a read waits for `pid`'s end.
    pub fn waits_for(&self, pid: Pid) -> bool {
        self.core.held().waiting().any(|(_, w)| w.pid == pid)
    }

    /// The view of the tables for `caller`'s call (`bin`: on `/bin`),
    /// the loop, and the transport: each borrows its own fields.
    pub fn view<'a>(
        &'a mut self,
        procs: &'a Procs,
        bootfs: &'a BootFs<'static>,
        mounts: &'a Mounts,
        kernel: &'a mut crate::kernel::Kernel,
        caller: Pid,
        bin: bool,
    ) -> (Tree<'a>, &'a mut Loop<Node, WaitFor>, Replies<'a>) {
        let ProcFiles { core, spawned, next_spawn, ready } = self;
        let tree = Tree { procs, bootfs, mounts, spawned, next_spawn, caller, bin, ending: &[], effects: Vec::new() };
        let waiting = core.held().waiting().count();
        (tree, core, Replies { kernel, ready, waiting })
    }
}

impl Default for ProcFiles {
    fn default() -> Self {
        ProcFiles { core: Loop::new::<Tree>(), spawned: BTreeMap::new(), next_spawn: 0, ready: Vec::new() }
    }
}

/// The view of the tables one call gets.
pub struct Tree<'a> {
    procs: &'a Procs,
    bootfs: &'a BootFs<'static>,
    mounts: &'a Mounts,
    spawned: &'a mut BTreeMap<u32, Pid>,
    next_spawn: &'a mut u32,
    /// Who calls (`self` names it).
    caller: Pid,
    /// The call is on `/bin`.
    bin: bool,
    /// Processes that just ended, how, and their names: a `wait` read of
    /// one whose record went with it still gets its line.
    pub ending: &'a [Ended],
    /// What the call asked for, for the server to carry out.
    pub effects: Vec<Effect>,
}

/// Saved replies in root slots, answered after the call in hand (the IPC
/// buffer is the call's until then); no windows onto these trees.
pub struct Replies<'a> {
    kernel: &'a mut crate::kernel::Kernel,
    ready: &'a mut Vec<(u64, Vec<u8>)>,
    /// Calls waiting now.
    waiting: usize,
}

impl Transport for Replies<'_> {
    fn save(&mut self) -> Result<u64, Errno> {
        if self.waiting >= WAITING_MAX {
            return Err(Errno::NoMemory);
        }
        let slot = self.kernel.mem.slot()?;
        if ROOT_CNODE.save_caller(slot, ROOT_DEPTH).is_err() {
            self.kernel.mem.free_slot(slot);
            return Err(Errno::BadRequest);
        }
        Ok(slot)
    }

    fn answer(&mut self, slot: u64, reply: &FsReply) {
        self.ready.push((slot, encode(reply)));
    }

    fn drop_call(&mut self, slot: u64) {
        self.kernel.delete_root(slot);
    }

    fn window(&mut self, _: Pid) -> Option<&mut [u8]> {
        None
    }
}

pub fn encode(reply: &FsReply) -> Vec<u8> {
    postcard::to_allocvec(reply).unwrap_or_else(|_| postcard::to_allocvec(&FsReply::Err(Errno::TooLarge)).unwrap())
}

impl Tree<'_> {
    /// The node a path names; `self` is the caller's own directory.
    fn node(&self, path: &str) -> Result<Node, Errno> {
        let mut parts = path.split('/').filter(|p| !p.is_empty());
        let first = parts.next();
        if self.bin {
            let node = match first {
                None => Node::BinDir,
                Some(name) if name != sysdesc::BOOTFS_NAME => {
                    Node::Bin(self.bootfs.files().position(|(n, _)| n == name).ok_or(Errno::NotFound)?)
                }
                Some(_) => return Err(Errno::NotFound),
            };
            return if parts.next().is_some() { Err(Errno::NotDir) } else { Ok(node) };
        }
        let pid = match first {
            None => return Ok(Node::ProcDir),
            Some("spawn") => {
                return if parts.next().is_some() { Err(Errno::NotDir) } else { Ok(Node::Spawn(0)) };
            }
            Some("ps") => {
                return if parts.next().is_some() { Err(Errno::NotDir) } else { Ok(Node::Ps) };
            }
            Some("self") => self.caller,
            // A gpid of this node's, or its short form (the local pid).
            Some(n) => n.parse::<Pid>().ok().and_then(|p| self.procs.local_pid(p).ok()).ok_or(Errno::NotFound)?,
        };
        if !self.procs.contains_key(&pid) {
            return Err(Errno::NotFound);
        }
        let node = match parts.next() {
            None => Node::PidDir(pid),
            Some(name) => Node::File(pid, dirtab::find(&PID_FILES, name).ok_or(Errno::NotFound)?.kind),
        };
        if parts.next().is_some() {
            return Err(Errno::NotDir);
        }
        Ok(node)
    }

    fn bin_file(&self, n: usize) -> Option<(&'static str, &'static [u8])> {
        self.bootfs.files().nth(n)
    }

    /// The text of a `/proc` file.
    fn content(&self, node: &Node) -> Result<String, Errno> {
        match node {
            Node::File(pid, PidFile::Status) => self.procs.status_line(*pid).ok_or(Errno::NotFound),
            // In pid order (the table's), made anew at each read: one
            // read of its size gives one moment's list.
            Node::Ps => Ok(self.procs.keys().filter_map(|&p| self.procs.status_line(p)).collect()),
            Node::File(pid, PidFile::Args) => self.procs.get(pid).map(|p| p.args.clone()).ok_or(Errno::NotFound),
            Node::File(pid, PidFile::Ns) => {
                let p = self.procs.get(pid).ok_or(Errno::NotFound)?;
                let table = self.mounts.table(p.ns).filter(|_| p.live().is_some());
                let entries = table.map(|t| t.entries()).unwrap_or_default();
                Ok(entries.into_iter().map(|(point, m)| procfs::ns_line(point, self.procs.gpid(m.server))).collect())
            }
            Node::Spawn(id) => {
                Ok(self.spawned.get(id).map_or(String::new(), |c| alloc::format!("{}\n", self.procs.gpid(*c))))
            }
            Node::File(_, PidFile::Ctl) => Ok(String::new()),
            _ => Err(Errno::IsDir),
        }
    }

    /// The status line of `pid` if it has ended.
    fn ended_line(&self, pid: Pid) -> Option<String> {
        match self.procs.get(&pid).map(|p| &p.state) {
            Some(State::Zombie(_)) => self.procs.status_line(pid),
            Some(State::Live(_)) => None,
            // Gone with its end (no parent to wait), or reaped before.
            None => Some(match self.ending.iter().find(|e| e.pid == pid) {
                Some(e) => {
                    let name = e.name.as_deref().unwrap_or("?");
                    procfs::status_line(self.procs.gpid(pid), 0, &procfs::ended_state(&e.end), name, 0)
                }
                None => procfs::status_line(self.procs.gpid(pid), 0, "gone", "?", 0),
            }),
        }
    }

    /// Part of `pid`'s ended line from `offset` into `into`, if it ended;
    /// a parent that has the whole line has reaped it.
    fn wait_line(&mut self, reader: Pid, pid: Pid, offset: u64, into: &mut [u8]) -> Option<usize> {
        let line = self.ended_line(pid)?;
        let n = text_into(&line, offset, into);
        if offset as usize + n >= line.len() {
            self.effects.push(Effect::Reap { pid, reader });
        }
        Some(n)
    }

    /// Name, directory or not, and size of a node (`path` names it).
    fn describe(&self, node: &Node, name: &str) -> Result<Entry, Errno> {
        Ok(match node {
            Node::BinDir | Node::ProcDir | Node::PidDir(_) => Entry::new(name, true, self.listing(node)?.len() as u64),
            Node::Bin(n) => Entry::new(name, false, self.bin_file(*n).map_or(0, |(_, b)| b.len() as u64)),
            Node::File(_, PidFile::Wait | PidFile::Ctl) | Node::Spawn(_) => Entry::new(name, false, 0),
            other => Entry::new(name, false, self.content(other)?.len() as u64),
        })
    }

    fn listing(&self, node: &Node) -> Result<Vec<Entry>, Errno> {
        match node {
            Node::BinDir => {
                let mut all: Vec<Entry> = self
                    .bootfs
                    .files()
                    .filter(|(n, _)| *n != sysdesc::BOOTFS_NAME)
                    .map(|(n, b)| Entry::new(n, false, b.len() as u64))
                    .collect();
                all.sort_by(|a, b| a.name.cmp(&b.name));
                Ok(all)
            }
            Node::ProcDir => {
                let files = PID_FILES.len() as u64;
                let mut all: Vec<Entry> =
                    self.procs.keys().map(|&p| Entry::new(self.procs.gpid(p).to_string(), true, files)).collect();
                all.push(Entry::new("self", true, files));
                all.push(Entry::new("spawn", false, 0));
                all.push(self.describe(&Node::Ps, "ps")?);
                Ok(all)
            }
            Node::PidDir(pid) => PID_FILES.iter().map(|r| self.describe(&Node::File(*pid, r.kind), r.name)).collect(),
            _ => Err(Errno::NotDir),
        }
    }

    /// `/bin` is read-only; `/proc` as its rows say.
    fn read_only(&self) -> Errno {
        if self.bin {
            Errno::ReadOnly
        } else {
            Errno::NotPermitted
        }
    }
}

impl Files for Tree<'_> {
    type Node = Node;
    type Wait = WaitFor;
    /// One reader may be a server for many (exportfs reads `wait` files
    /// for all its clients); the bound in all is `WAITING_MAX`.
    const MAX_WAITING: usize = WAITING_MAX;
    /// Every read of a `wait` file gets the same line, and a stopped
    /// reader's reads are dropped (`forget_waits`): two reads of one
    /// handle both wait (exportfs sends a 9P client's reads ahead).
    const REPLACES_WAITING: bool = false;

    fn open(&mut self, _: &Held<Self>, _: Pid, path: &str, f: u32) -> Result<Io<Node, WaitFor>, Errno> {
        let node = match self.node(path)? {
            Node::BinDir | Node::Bin(_) if f & (flags::WRITE | flags::CREATE | flags::TRUNCATE) != 0 => {
                return Err(Errno::ReadOnly)
            }
            node => node,
        };
        node.perm().check_open(f)?;
        Ok(Io::Now(match node {
            Node::Spawn(_) => {
                *self.next_spawn = self.next_spawn.wrapping_add(1);
                Node::Spawn(*self.next_spawn)
            }
            node => node,
        }))
    }

    fn close(&mut self, node: Node) {
        if let Node::Spawn(id) = node {
            self.spawned.remove(&id);
        }
    }

    fn read(
        &mut self,
        _: &Held<Self>,
        pid: Pid,
        node: Node,
        offset: u64,
        into: &mut [u8],
    ) -> Result<Io<usize, WaitFor>, Errno> {
        match node {
            Node::File(waited, PidFile::Wait) => Ok(match self.wait_line(pid, waited, offset, into) {
                Some(n) => Io::Now(n),
                None => Io::Wait(WaitFor { pid: waited, offset }),
            }),
            Node::Bin(n) => {
                let (_, image) = self.bin_file(n).ok_or(Errno::NotFound)?;
                let from = (offset as usize).min(image.len());
                let n = (image.len() - from).min(into.len());
                into[..n].copy_from_slice(&image[from..from + n]);
                Ok(Io::Now(n))
            }
            node => Ok(Io::Now(text_into(&self.content(&node)?, offset, into))),
        }
    }

    fn write(&mut self, pid: Pid, node: Node, _: u64, data: &[u8]) -> Result<Io<u32, WaitFor>, Errno> {
        let text = core::str::from_utf8(data).map_err(|_| Errno::InvalidArgument)?;
        let effect = match node {
            Node::File(target, PidFile::Ctl) => {
                if target == 0 || self.procs.live(target).is_err() {
                    return Err(Errno::NoSuchProcess);
                }
                self.procs.may_act_on(pid, target)?;
                match Ctl::parse(text).ok_or(Errno::InvalidArgument)? {
                    // As `Request::Stop`: a process does not stop itself.
                    Ctl::Stop if target == pid => return Err(Errno::InvalidArgument),
                    Ctl::Stop => Effect::Stop(target),
                    Ctl::Cont => Effect::Cont(target),
                    Ctl::Kill => Effect::Kill(target),
                }
            }
            Node::Spawn(id) => Effect::Spawn { id, parent: pid, line: text.into() },
            _ => return Err(Errno::BadHandle),
        };
        self.effects.push(effect);
        Ok(Io::Now(data.len() as u32))
    }

    fn truncate(&mut self, _: Node, _: u64) -> Result<(), Errno> {
        Err(self.read_only())
    }

    fn stat(&mut self, path: &str) -> Result<Entry, Errno> {
        let node = self.node(path)?;
        self.describe(&node, libux::path::last_name(path))
    }

    fn list(&mut self, path: &str) -> Result<Vec<Entry>, Errno> {
        let node = self.node(path)?;
        self.listing(&node)
    }

    fn mkdir(&mut self, _: &str) -> Result<(), Errno> {
        Err(self.read_only())
    }

    fn remove(&mut self, _: &str) -> Result<Option<Node>, Errno> {
        Err(self.read_only())
    }

    fn rename(&mut self, _: &str, _: &str) -> Result<Option<Node>, Errno> {
        Err(self.read_only())
    }

    fn retry(&mut self, pid: Pid, wait: &mut WaitFor, into: &mut [u8]) -> Option<Result<Done<Node>, Errno>> {
        self.wait_line(pid, wait.pid, wait.offset, into).map(|n| Ok(Done::Read(n)))
    }
}

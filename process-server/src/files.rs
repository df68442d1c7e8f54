//! The file trees the process server serves itself, over the file
//! protocol (`libux::fs`): `/proc`, each process as files (formats in
//! `libux::procfs`), and `/bin`, the programs of the boot image, read-only.
//! Their calls come on the process server endpoint with `FILES_BADGE` in
//! the badge (and `BIN_BADGE` for `/bin`).
//!
//! A read of `/proc/<pid>/wait` that cannot be answered yet keeps its
//! reply capability until the process ends. It is then answered with a
//! non-blocking send, so a reader that has gone meanwhile costs nothing.

use crate::mem::{ROOT_CNODE, ROOT_DEPTH};
use crate::process::{Grants, State};
use crate::server::Server;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use libux::fs::dirtab::{self, Perm};
use libux::fs::handles::Handles;
use libux::fs::{entry_bytes, flags, list_page, FileStat, FsReply, FsRequest, FsResponse, IO_MAX};
use libux::procfs::{self, Ctl, PidFile, PID_FILES};
use libux::rpc::{End, Errno, FdName, Pid, Spawn};
use libux::sysdesc;

/// Open files one process may hold here.
const MAX_OPEN: usize = 64;

impl Default for Files {
    fn default() -> Self {
        Files { open: Handles::new(MAX_OPEN), waiting: Vec::new(), ready: Vec::new() }
    }
}
/// Reads of `wait` files waiting at once, in all.
const MAX_WAITING: usize = 256;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Node {
    BinDir,
    Bin(String),
    ProcDir,
    PidDir(Pid),
    File(Pid, PidFile),
    Spawn,
}

impl Node {
    fn perm(&self) -> Perm {
        match self {
            Node::BinDir | Node::ProcDir | Node::PidDir(_) => Perm::Dir,
            Node::Bin(_) => Perm::Read,
            Node::Spawn => Perm::ReadWrite,
            Node::File(_, f) => dirtab::row_of(&PID_FILES, f).map_or(Perm::Read, |r| r.perm),
        }
    }
}

struct OpenFile {
    node: Node,
    flags: u32,
    /// `/proc/spawn`: the child the last write made.
    spawned: Option<Pid>,
}

pub struct Files {
    open: Handles<OpenFile>,
    /// Unanswered `wait` reads (one per reader at most).
    waiting: Vec<WaitRead>,
    /// Answers to send once the current call is answered: reply slot and
    /// the encoded reply.
    pub ready: Vec<(u64, Vec<u8>)>,
}

/// A `wait` read answered when `pid` ends.
struct WaitRead {
    pid: Pid,
    reader: Pid,
    /// The reader's handle of the `wait` file.
    handle: u32,
    /// The root slot holding the reply capability.
    slot: u64,
    offset: usize,
    count: usize,
}

/// The part of `text` a read at `offset` of `count` bytes gets, and
/// whether it reaches the end.
fn part(text: &str, offset: usize, count: usize) -> (&[u8], bool) {
    let from = offset.min(text.len());
    let to = from.saturating_add(count).min(text.len()).min(from + IO_MAX);
    (&text.as_bytes()[from..to], to == text.len())
}

/// What a file call gets.
pub enum FileOutcome {
    /// The encoded `FsReply`.
    Reply(Vec<u8>),
    /// Answered later (the reply capability is saved).
    Deferred,
}

fn encode(reply: &FsReply) -> Vec<u8> {
    postcard::to_allocvec(reply).unwrap_or_else(|_| postcard::to_allocvec(&FsReply::Err(Errno::TooLarge)).unwrap())
}

fn stat(name: &str, is_dir: bool, size: u64) -> FileStat<'_> {
    FileStat { name, is_dir, size, version: 0, attrs: None }
}

impl Server {
    /// Answers one file call from `caller` (`bin`: on the `/bin` tree).
    pub fn file_call(&mut self, caller: Pid, bin: bool, bytes: &[u8]) -> FileOutcome {
        let req = match libux::fs::decode_request(bytes) {
            Ok(r) => r,
            Err(e) => return FileOutcome::Reply(encode(&Err(e))),
        };
        let mut data = Vec::new();
        let mut names = Vec::new();
        match self.file_request(caller, bin, req, &mut data, &mut names) {
            Ok(Some(r)) => FileOutcome::Reply(encode(&Ok(r))),
            Ok(None) => FileOutcome::Deferred,
            Err(e) => FileOutcome::Reply(encode(&Err(e))),
        }
    }

    /// `Ok(None)`: deferred. Read data is built in `data`, listings in
    /// `names`: the response borrows them.
    fn file_request<'d>(
        &mut self,
        caller: Pid,
        bin: bool,
        req: FsRequest,
        data: &'d mut Vec<u8>,
        names: &'d mut Vec<(String, bool, u64)>,
    ) -> Result<Option<FsResponse<'d>>, Errno> {
        match req {
            FsRequest::Open { path, flags: f } => {
                let node = self.node(caller, bin, path)?;
                self.check_open(&node, f)?;
                let handle = self.files.open.insert(caller, OpenFile { node, flags: f, spawned: None })?;
                Ok(Some(FsResponse::Handle(handle)))
            }
            FsRequest::Read { handle, offset, count } => {
                let o = self.files.open.get(caller, handle)?;
                if o.flags & flags::READ == 0 {
                    return Err(Errno::BadHandle);
                }
                let content = match (&o.node.clone(), o.spawned) {
                    (&Node::File(pid, PidFile::Wait), _) => match self.ended_line(pid) {
                        Some(line) => {
                            let (bytes, whole) = part(&line, offset as usize, count as usize);
                            data.extend_from_slice(bytes);
                            // Reaped once the reader has the whole line.
                            if whole {
                                self.reap_for(pid, caller);
                            }
                            return Ok(Some(FsResponse::Data(data)));
                        }
                        None => {
                            let (offset, count) = (offset as usize, count as usize);
                            return self.defer_wait(caller, handle, pid, offset, count).map(|()| None);
                        }
                    },
                    (Node::Spawn, Some(pid)) => alloc::format!("{}\n", self.gpid(pid)),
                    (Node::Spawn, None) => String::new(),
                    (Node::Bin(name), _) => {
                        let image = self.bootfs.get(name).ok_or(Errno::NotFound)?;
                        let from = (offset as usize).min(image.len());
                        let to = from.saturating_add(count as usize).min(image.len()).min(from + IO_MAX);
                        data.extend_from_slice(&image[from..to]);
                        return Ok(Some(FsResponse::Data(data)));
                    }
                    (node, _) => self.content(node)?,
                };
                data.extend_from_slice(part(&content, offset as usize, count as usize).0);
                Ok(Some(FsResponse::Data(data)))
            }
            FsRequest::Write { handle, data: bytes, .. } => {
                let o = self.files.open.get(caller, handle)?;
                if o.flags & flags::WRITE == 0 {
                    return Err(Errno::BadHandle);
                }
                let text = core::str::from_utf8(bytes).map_err(|_| Errno::InvalidArgument)?;
                match o.node.clone() {
                    Node::File(pid, PidFile::Ctl) => {
                        self.control(caller, pid, Ctl::parse(text).ok_or(Errno::InvalidArgument)?)?;
                    }
                    Node::Spawn => {
                        let child = self.spawn_line(caller, text)?;
                        if let Ok(o) = self.files.open.get_mut(caller, handle) {
                            o.spawned = Some(child);
                        }
                    }
                    _ => return Err(Errno::BadHandle),
                }
                Ok(Some(FsResponse::Count(bytes.len() as u32)))
            }
            FsRequest::Close { handle } => {
                self.files.open.remove(caller, handle)?;
                Ok(Some(FsResponse::Done))
            }
            FsRequest::Stat { path } => {
                let node = self.node(caller, bin, path)?;
                let (name, is_dir, size) = self.describe(&node, path)?;
                names.push((name, is_dir, size));
                Ok(Some(FsResponse::Stat(stat(&names[0].0, is_dir, size))))
            }
            FsRequest::List { path, from } => {
                let node = self.node(caller, bin, path)?;
                let all = self.listing(&node)?;
                let (page, more) = list_page(&all, from, |(n, _, _)| entry_bytes(n, false));
                names.extend_from_slice(page);
                let entries = names.iter().map(|(n, d, s)| stat(n, *d, *s)).collect();
                Ok(Some(FsResponse::Entries { entries, more }))
            }
            // No windows onto our own trees: a message at a time.
            FsRequest::ReadWindow { .. } | FsRequest::WriteWindow { .. } => Err(Errno::BadRequest),
            FsRequest::Truncate { .. } | FsRequest::Mkdir { .. } | FsRequest::Remove { .. } => {
                Err(if bin { Errno::ReadOnly } else { Errno::NotPermitted })
            }
            FsRequest::Rename { .. } => Err(if bin { Errno::ReadOnly } else { Errno::NotPermitted }),
            FsRequest::SetAttrs { .. } => Err(Errno::NotSupported),
            FsRequest::Cancel { handle } => {
                self.files.open.get(caller, handle)?;
                let (gone, kept) = self.files.waiting.drain(..).partition(|w| w.reader == caller && w.handle == handle);
                self.files.waiting = kept;
                let gone: Vec<WaitRead> = gone;
                let n = gone.len() as u32;
                for w in gone {
                    self.files.ready.push((w.slot, encode(&Err(Errno::Interrupted))));
                }
                Ok(Some(FsResponse::Count(n)))
            }
        }
    }

    /// The node a path names; `self` is the caller's own directory.
    fn node(&self, caller: Pid, bin: bool, path: &str) -> Result<Node, Errno> {
        let mut parts = path.split('/').filter(|p| !p.is_empty());
        let first = parts.next();
        if bin {
            let node = match first {
                None => Node::BinDir,
                Some(name) if name != sysdesc::BOOTFS_NAME && self.bootfs.get(name).is_some() => {
                    Node::Bin(String::from(name))
                }
                Some(_) => return Err(Errno::NotFound),
            };
            return if parts.next().is_some() { Err(Errno::NotDir) } else { Ok(node) };
        }
        let pid = match first {
            None => return Ok(Node::ProcDir),
            Some("spawn") => {
                return if parts.next().is_some() { Err(Errno::NotDir) } else { Ok(Node::Spawn) };
            }
            Some("self") => caller,
            // A gpid of this node's, or its short form (the local pid).
            Some(n) => n.parse::<Pid>().ok().and_then(|p| self.local_pid(p).ok()).ok_or(Errno::NotFound)?,
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

    /// `/bin` is read-only; `/proc` as its rows say.
    fn check_open(&self, node: &Node, f: u32) -> Result<(), Errno> {
        match node {
            Node::BinDir | Node::Bin(_) if f & (flags::WRITE | flags::CREATE | flags::TRUNCATE) != 0 => {
                Err(Errno::ReadOnly)
            }
            node => node.perm().check_open(f),
        }
    }

    /// The text of a `/proc` file.
    fn content(&self, node: &Node) -> Result<String, Errno> {
        match node {
            Node::File(pid, PidFile::Status) => self.status_line(*pid).ok_or(Errno::NotFound),
            Node::File(pid, PidFile::Args) => self.procs.get(pid).map(|p| p.args.clone()).ok_or(Errno::NotFound),
            Node::File(pid, PidFile::Ns) => {
                let p = self.procs.get(pid).ok_or(Errno::NotFound)?;
                let table = self.mounts.table(p.ns).filter(|_| p.live().is_some());
                let entries = table.map(|t| t.entries()).unwrap_or_default();
                Ok(entries.into_iter().map(|(point, m)| procfs::ns_line(point, self.gpid(m.server))).collect())
            }
            Node::File(_, PidFile::Ctl) | Node::Spawn => Ok(String::new()),
            _ => Err(Errno::IsDir),
        }
    }

    pub fn status_line(&self, pid: Pid) -> Option<String> {
        let p = self.procs.get(&pid)?;
        let (state, memory) = match &p.state {
            State::Live(l) => {
                let memory = l.arena.bytes() + Server::blocks_bytes(&l.blocks);
                (String::from(if l.stopped { "stopped" } else { "running" }), memory)
            }
            State::Zombie(end) => (procfs::ended_state(end), 0),
        };
        Some(procfs::status_line(self.gpid(pid), self.parent_gpid(p), &state, &p.name, memory))
    }

    /// The status line of `pid` if it has ended.
    fn ended_line(&mut self, pid: Pid) -> Option<String> {
        match self.procs.get(&pid).map(|p| &p.state) {
            Some(State::Zombie(_)) => self.status_line(pid),
            // Gone already: reaped, or ended with no parent to wait.
            None => Some(procfs::status_line(self.gpid(pid), 0, "gone", "?", 0)),
            Some(State::Live(_)) => None,
        }
    }

    /// A parent that read a child's `wait` has reaped it.
    fn reap_for(&mut self, pid: Pid, reader: Pid) {
        if self.procs.get(&pid).is_some_and(|p| p.ppid == reader && matches!(p.state, State::Zombie(_))) {
            self.procs.remove(&pid);
        }
    }

    /// Drops the waiting reads of `reader` (and its hanging `Wait`s): it was
    /// stopped or ended, which cancels the calls it was blocked in.
    pub fn forget_waits(&mut self, reader: Pid) {
        self.forget_hanging(reader);
        if self.files.waiting.iter().all(|w| w.reader != reader) {
            return;
        }
        let (gone, kept): (Vec<_>, Vec<_>) = self.files.waiting.drain(..).partition(|w| w.reader == reader);
        self.files.waiting = kept;
        for w in gone {
            self.kernel.delete_root(w.slot);
        }
    }

    fn defer_wait(&mut self, reader: Pid, handle: u32, pid: Pid, offset: usize, count: usize) -> Result<(), Errno> {
        if self.files.waiting.len() >= MAX_WAITING {
            return Err(Errno::NoMemory);
        }
        let slot = self.kernel.mem.slot()?;
        if ROOT_CNODE.save_caller(slot, ROOT_DEPTH).is_err() {
            self.kernel.mem.free_slot(slot);
            return Err(Errno::BadRequest);
        }
        self.files.waiting.push(WaitRead { pid, reader, handle, slot, offset, count });
        Ok(())
    }

    /// After `pid` ended as `end`: answer the reads waiting for it, forget
    /// the waits and files it held.
    pub fn files_after_end(&mut self, pid: Pid, end: &End) {
        let (answered, rest): (Vec<_>, Vec<_>) = self.files.waiting.drain(..).partition(|w| w.pid == pid);
        self.files.waiting = rest;
        // Formatted only for a reader: most processes end unwatched.
        let line = if answered.is_empty() {
            String::new()
        } else {
            self.status_line(pid).unwrap_or_else(|| {
                let name = self.procs.get(&pid).map_or("?", |p| p.name.as_str());
                procfs::status_line(self.gpid(pid), 0, &procfs::ended_state(end), name, 0)
            })
        };
        for w in answered {
            let (bytes, whole) = part(&line, w.offset, w.count);
            self.files.ready.push((w.slot, encode(&Ok(FsResponse::Data(bytes)))));
            if whole {
                self.reap_for(pid, w.reader);
            }
        }
        self.forget_waits(pid);
        self.files.open.take_clients(&[pid]);
    }

    /// Sends the answers `files_after_end` prepared; the IPC buffer is
    /// ours to use until the current call is answered.
    pub fn send_ready(&mut self) {
        for (slot, reply) in core::mem::take(&mut self.files.ready) {
            let words = crate::server::frame_inline(&reply);
            let m = &libux::sel4::syscall::ipc_buffer().msg;
            let info = libux::sel4::MessageInfo::new(libux::rpc::MSG_REPLY, 0, 0, words as u64);
            libux::sel4::syscall::nb_send(slot, libux::sel4::syscall::Msg { info, mr: [m[0], m[1], m[2], m[3]] });
            self.kernel.delete_root(slot);
        }
    }

    fn control(&mut self, caller: Pid, pid: Pid, ctl: Ctl) -> Result<(), Errno> {
        if pid == 0 || self.procs.live(pid).is_err() {
            return Err(Errno::NoSuchProcess);
        }
        self.may_act_on(caller, pid)?;
        match ctl {
            // As `Request::Stop`: a process does not stop itself.
            Ctl::Stop if pid == caller => Err(Errno::InvalidArgument),
            Ctl::Kill => {
                self.end(pid, End::Killed);
                Ok(())
            }
            Ctl::Stop => self.set_stopped(pid, true).map(drop),
            Ctl::Cont => self.set_stopped(pid, false).map(drop),
        }
    }

    fn spawn_line(&mut self, parent: Pid, line: &str) -> Result<Pid, Errno> {
        let command = procfs::SpawnCommand::parse(line).map_err(|e| match e {
            procfs::SpawnLineError::TooLong => Errno::TooLarge,
            _ => Errno::InvalidArgument,
        })?;
        let argv: Vec<&str> = command.argv.iter().map(String::as_str).collect();
        let fds = command.fds.iter().map(|r| FdName { fd: r.fd, path: &r.path, flags: r.flags() }).collect();
        let path = argv[0];
        let child = self.procs.new_pid()?;
        let spawn =
            Spawn { path, argv: argv.clone(), env: Vec::new(), redirect: None, fds, place: None, home_parent: None };
        self.create(child, parent, &spawn, &Grants::DEFAULT)?;
        Ok(child)
    }

    /// Name, directory or not, and size of a node (`path` names it).
    fn describe(&self, node: &Node, path: &str) -> Result<(String, bool, u64), Errno> {
        let name = libux::path::last_name(path);
        let name = String::from(name);
        Ok(match node {
            Node::BinDir | Node::ProcDir | Node::PidDir(_) => {
                let n = self.listing(node)?.len() as u64;
                (name, true, n)
            }
            Node::Bin(prog) => (name, false, self.bootfs.get(prog).map_or(0, |b| b.len() as u64)),
            Node::File(_, PidFile::Wait | PidFile::Ctl) | Node::Spawn => (name, false, 0),
            other => (name, false, self.content(other)?.len() as u64),
        })
    }

    fn listing(&self, node: &Node) -> Result<Vec<(String, bool, u64)>, Errno> {
        match node {
            Node::BinDir => {
                let mut all: Vec<_> = self
                    .bootfs
                    .files()
                    .filter(|(n, _)| *n != sysdesc::BOOTFS_NAME)
                    .map(|(n, b)| (String::from(n), false, b.len() as u64))
                    .collect();
                all.sort();
                Ok(all)
            }
            Node::ProcDir => {
                let mut all: Vec<_> =
                    self.procs.keys().map(|&p| (self.gpid(p).to_string(), true, PID_FILES.len() as u64)).collect();
                all.push((String::from("self"), true, PID_FILES.len() as u64));
                all.push((String::from("spawn"), false, 0));
                Ok(all)
            }
            Node::PidDir(pid) => PID_FILES.iter().map(|r| self.describe(&Node::File(*pid, r.kind), r.name)).collect(),
            _ => Err(Errno::NotDir),
        }
    }
}

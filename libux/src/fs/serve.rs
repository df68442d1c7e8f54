//! The file-server loop, written once (as lib9p's `Srv` or Redox's
//! `Scheme`): a server implements [`Files`], what its files are and do;
//! [`Serve`] owns the rest: decoding calls, the handles each client holds,
//! the clients' I/O windows, calls that wait (their reply capabilities
//! saved until [`Files::retry`] can answer them), `Cancel`, listings in
//! pages, and what a process that ended held. A handle reads only if it
//! was opened to read, and writes or truncates only if opened to write.
//!
//! [`Serve`] is plain logic over a [`Transport`] (saved replies, windows),
//! tested on the host with a fake one; [`run`] is the loop over seL4. A
//! server with a loop of its own (the process server) keeps a [`Loop`]
//! and hands it a view of its files and its transport at each call.

use super::flags::{READ, WRITE};
use super::handles::Handles;
use super::server::{Answer, Entry};
use super::{entry_bytes, list_page, AttrChanges, FileStat, FsReply, FsRequest, FsResponse, IO_MAX};
use crate::rpc::{Errno, Pid};
use alloc::string::String;
use alloc::vec::Vec;

pub use super::handles::Handle;

/// What a call that may wait gives: its result now, or what it waits for
/// (the server's own description, handed back to [`Files::retry`]).
pub enum Io<T, W> {
    Now(T),
    Wait(W),
}

/// What a waiting call gives once it can be answered.
pub enum Done<N> {
    /// A file opened (the open waited): it gets a handle.
    Opened(N),
    /// Bytes read into the buffer `retry` was given.
    Read(usize),
    /// Bytes written (or what else the call counts).
    Count(u32),
}

/// What a file server is: its files, their handles' meaning, and what its
/// calls that wait are. Paths are absolute within the server. Methods
/// that are not given have the answer of a server without such files.
pub trait Files {
    /// What a handle refers to.
    type Node: Copy + PartialEq;
    /// A call that waits.
    type Wait;
    /// Handles one client may hold, opens still waiting included (more:
    /// `TooMany`).
    const MAX_OPEN: usize = 64;
    /// Calls of one client that may wait at once (more: `Busy`), so that
    /// no client takes the saved replies the server's clients share.
    const MAX_WAITING: usize = 32;
    /// Whether a call that waits where one of its kind waits (on the same
    /// handle, or an open of the same path) takes the old one's place
    /// ([`Loop`]'s rule for restarted calls). A server whose waiting
    /// reads give the same answer to every reader, and that drops a
    /// stopped client's waiting calls itself (the process server's
    /// `wait` files), keeps both: a 9P client may send two reads of one
    /// file ahead.
    const REPLACES_WAITING: bool = true;

    fn open(
        &mut self,
        held: &Held<Self>,
        pid: Pid,
        path: &str,
        flags: u32,
    ) -> Result<Io<Self::Node, Self::Wait>, Errno>;
    /// A handle went (closed, or its process ended).
    fn close(&mut self, _node: Self::Node) {}
    /// Reads into `into` (as many bytes as the call asked, at most).
    fn read(
        &mut self,
        held: &Held<Self>,
        pid: Pid,
        node: Self::Node,
        offset: u64,
        into: &mut [u8],
    ) -> Result<Io<usize, Self::Wait>, Errno>;
    /// A write that waits keeps its own copy of `data`.
    fn write(&mut self, pid: Pid, node: Self::Node, offset: u64, data: &[u8]) -> Result<Io<u32, Self::Wait>, Errno>;
    fn truncate(&mut self, _node: Self::Node, _size: u64) -> Result<(), Errno> {
        Err(Errno::NotPermitted)
    }
    fn stat(&mut self, path: &str) -> Result<Entry, Errno>;
    fn list(&mut self, path: &str) -> Result<Vec<Entry>, Errno>;
    fn mkdir(&mut self, _path: &str) -> Result<(), Errno> {
        Err(Errno::NotPermitted)
    }
    /// The node whose handles go with it, if it had any.
    fn remove(&mut self, _path: &str) -> Result<Option<Self::Node>, Errno> {
        Err(Errno::NotPermitted)
    }
    /// The node the rename replaced, whose handles go with it.
    fn rename(&mut self, _from: &str, _to: &str) -> Result<Option<Self::Node>, Errno> {
        Err(Errno::NotPermitted)
    }
    fn set_attrs(&mut self, _path: &str, _changes: &AttrChanges) -> Result<(), Errno> {
        Err(Errno::NotSupported)
    }
    /// Tries a waiting call again (a read's bytes go in `into`): `None`
    /// while it must wait longer.
    fn retry(&mut self, pid: Pid, wait: &mut Self::Wait, into: &mut [u8]) -> Option<Result<Done<Self::Node>, Errno>>;
    /// Events (interrupts) came: `bits` of `layout::event`.
    fn event(&mut self, _held: &Held<Self>, _bits: u64) {}
    /// Before each call is answered and waiting calls are retried: the
    /// server's own work (a stack's poll, the clock).
    fn run(&mut self, _held: &Held<Self>) {}
    /// Before waiting for the next message (arming timers).
    fn idle(&mut self, _held: &Held<Self>) {}
    /// Processes ended; what they held here is gone already.
    fn ended(&mut self, _pids: &[Pid]) {}
}

/// Where a waiting call waits: on a handle, or in an open of a path.
#[derive(Clone, PartialEq, Eq, Debug)]
enum On {
    Handle(Handle),
    Open(String),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Open {
        flags: u32,
    },
    /// Into the caller's window from its byte `at`, or into a message.
    Read {
        at: Option<u32>,
        max: usize,
    },
    Write,
}

impl Kind {
    /// Where a waiting call's bytes go: a `ReadWindow`'s room in `pid`'s
    /// window, a message's at the front of `buf`; `None` if the window
    /// is gone.
    fn room<'a, T: Transport>(&self, io: &'a mut T, pid: Pid, buf: &'a mut [u8]) -> Option<&'a mut [u8]> {
        match *self {
            Kind::Read { at: Some(at), max } => io.window(pid).and_then(|w| super::window_room(w, at, max as u32)),
            Kind::Read { at: None, max } => Some(&mut buf[..max]),
            Kind::Open { .. } | Kind::Write => Some(&mut buf[..0]),
        }
    }

    /// Whether the call takes from the file (rather than gives to it).
    fn takes(self) -> bool {
        !matches!(self, Kind::Write)
    }
}

/// A call waiting for its answer.
pub struct Waiting<W> {
    pid: Pid,
    on: On,
    kind: Kind,
    slot: u64,
    wait: W,
}

struct Opened<N> {
    node: N,
    flags: u32,
}

/// What clients hold: handles and waiting calls. Servers see it (a
/// client's share of something, what waits) and the library changes it.
pub struct Clients<N, W> {
    handles: Handles<Opened<N>>,
    waiting: Vec<Waiting<W>>,
}

/// What the clients of a [`Files`] server hold.
pub type Held<F> = Clients<<F as Files>::Node, <F as Files>::Wait>;

impl<N: Copy + PartialEq, W> Clients<N, W> {
    /// The nodes `pid` holds handles of.
    pub fn nodes_of(&self, pid: Pid) -> impl Iterator<Item = N> + '_ {
        self.handles.of(pid).map(|o| o.node)
    }

    /// What waits, and for whom.
    pub fn waiting(&self) -> impl Iterator<Item = (Pid, &W)> + '_ {
        self.waiting.iter().map(|w| (w.pid, &w.wait))
    }

    fn node(&self, pid: Pid, h: Handle) -> Result<N, Errno> {
        self.handles.get(pid, h).map(|o| o.node)
    }

    /// The node of `pid`'s handle `h` if it was opened for `mode` (as
    /// Plan 9's system calls check a channel's mode before its device
    /// sees the call).
    fn opened_for(&self, pid: Pid, h: Handle, mode: u32) -> Result<N, Errno> {
        match self.handles.get(pid, h) {
            Ok(o) if o.flags & mode != 0 => Ok(o.node),
            _ => Err(Errno::BadHandle),
        }
    }

    /// Processes anything is held for.
    pub fn pids(&self) -> Vec<Pid> {
        let mut all: Vec<Pid> = self.handles.holders();
        all.extend(self.waiting.iter().map(|w| w.pid));
        all.sort_unstable();
        all.dedup();
        all
    }
}

/// What the loop needs of the system: saved replies and client windows.
pub trait Transport {
    /// Keeps the reply capability of the call being answered; its slot.
    fn save(&mut self) -> Result<u64, Errno>;
    /// Answers the call saved in `slot`.
    fn answer(&mut self, slot: u64, reply: &FsReply);
    /// Drops the call saved in `slot` (its caller ended).
    fn drop_call(&mut self, slot: u64);
    /// `pid`'s I/O window, while its call is answered (or waits); none
    /// where clients have no windows (then a call naming one is
    /// `BadRequest`).
    fn window(&mut self, pid: Pid) -> Option<&mut [u8]>;
}

/// An answer to the call in hand, until it is encoded (read bytes stay in
/// the loop's buffer).
pub enum Out {
    Answer(Answer),
    /// Bytes read into the buffer.
    Read(usize),
}

/// The loop's own state, apart from the server's files and the
/// transport: what clients hold and the bytes of the call in hand. A
/// server that is not a [`Serve`] (the process server's `/proc`, a view
/// of its tables made for each call) keeps one and hands it its files
/// and transport at each call.
pub struct Loop<N, W> {
    held: Clients<N, W>,
    /// Bytes read for the call in hand; for a waiting one.
    buf: [u8; IO_MAX],
    later: [u8; IO_MAX],
}

impl<N: Copy + PartialEq, W> Loop<N, W> {
    /// The loop of a server of `F`'s kind (its limits).
    pub fn new<F: Files<Node = N, Wait = W>>() -> Self {
        let held = Clients { handles: Handles::new(F::MAX_OPEN), waiting: Vec::new() };
        Loop { held, buf: [0; IO_MAX], later: [0; IO_MAX] }
    }

    pub fn held(&self) -> &Clients<N, W> {
        &self.held
    }

    /// Answers `pid`'s call; `None`: it waits (its reply is saved).
    pub fn call<F, T>(&mut self, files: &mut F, io: &mut T, pid: Pid, req: FsRequest) -> Option<Result<Out, Errno>>
    where
        F: Files<Node = N, Wait = W>,
        T: Transport,
    {
        let done = |a| Some(Ok(Out::Answer(a)));
        let held = &mut self.held;
        let r = match req {
            FsRequest::Open { path, flags } => {
                // An open that waits holds its handle's place.
                let opening = held.waiting.iter().filter(|w| w.pid == pid && matches!(w.kind, Kind::Open { .. }));
                if held.handles.count_of(pid) + opening.count() >= F::MAX_OPEN {
                    return Some(Err(Errno::TooMany));
                }
                match files.open(held, pid, path, flags) {
                    Ok(Io::Now(node)) => held.handles.insert(pid, Opened { node, flags }).map(Answer::Handle),
                    Ok(Io::Wait(w)) => {
                        return self.wait(files, io, pid, On::Open(canonical(path)), Kind::Open { flags }, w)
                    }
                    Err(e) => Err(e),
                }
            }
            FsRequest::Close { handle } => held.handles.remove(pid, handle).map(|o| {
                files.close(o.node);
                Answer::Done
            }),
            FsRequest::Read { handle, offset, count } => return self.read(files, io, pid, handle, offset, count, None),
            FsRequest::ReadWindow { handle, offset, count, at } => {
                return self.read(files, io, pid, handle, offset, count, Some(at))
            }
            FsRequest::Write { handle, offset, data } => {
                return match held.opened_for(pid, handle, WRITE).and_then(|n| files.write(pid, n, offset, data)) {
                    Ok(w) => self.written(files, io, pid, handle, w),
                    Err(e) => Some(Err(e)),
                };
            }
            FsRequest::WriteWindow { handle, offset, count, at } => {
                let wrote = match (held.opened_for(pid, handle, WRITE), io.window(pid)) {
                    (Err(e), _) => Err(e),
                    (_, None) => Err(Errno::BadRequest),
                    (Ok(n), Some(window)) => match super::window_part(window, at, count) {
                        None => Err(Errno::InvalidArgument),
                        Some(data) => files.write(pid, n, offset, data),
                    },
                };
                return match wrote {
                    Ok(w) => self.written(files, io, pid, handle, w),
                    Err(e) => Some(Err(e)),
                };
            }
            FsRequest::Truncate { handle, size } => {
                held.opened_for(pid, handle, WRITE).and_then(|n| files.truncate(n, size)).map(|()| Answer::Done)
            }
            FsRequest::Stat { path } => files.stat(path).map(Answer::Stat),
            FsRequest::List { path, from } => files.list(path).map(|all| {
                let (page, more) = list_page(&all, from, |e| entry_bytes(&e.name, e.attrs.is_some()));
                Answer::Entries(page.to_vec(), more)
            }),
            FsRequest::Mkdir { path } => files.mkdir(path).map(|()| Answer::Done),
            FsRequest::Remove { path } => files.remove(path).map(|gone| {
                // Handles of a removed node must not reach what reuses it.
                held.handles.retain(|o| Some(o.node) != gone);
                Answer::Done
            }),
            FsRequest::Rename { from, to } => files.rename(from, to).map(|replaced| {
                held.handles.retain(|o| Some(o.node) != replaced);
                Answer::Done
            }),
            FsRequest::SetAttrs { path, changes } => files.set_attrs(path, &changes).map(|()| Answer::Done),
            FsRequest::Cancel { handle } => match held.node(pid, handle) {
                Ok(_) => Ok(Answer::Count(self.interrupt(io, |w| w.pid == pid && w.on == On::Handle(handle)))),
                Err(e) => Err(e),
            },
        };
        match r {
            Ok(a) => done(a),
            Err(e) => Some(Err(e)),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn read<F, T>(
        &mut self,
        files: &mut F,
        io: &mut T,
        pid: Pid,
        handle: Handle,
        offset: u64,
        count: u32,
        at: Option<u32>,
    ) -> Option<Result<Out, Errno>>
    where
        F: Files<Node = N, Wait = W>,
        T: Transport,
    {
        let node = match self.held.opened_for(pid, handle, READ) {
            Ok(n) => n,
            Err(e) => return Some(Err(e)),
        };
        let into = match at {
            None => &mut self.buf[..(count as usize).min(IO_MAX)],
            Some(at) => match io.window(pid).map(|w| super::window_room(w, at, count)) {
                Some(Some(part)) => part,
                Some(None) => return Some(Err(Errno::InvalidArgument)),
                None => return Some(Err(Errno::BadRequest)),
            },
        };
        let max = into.len();
        match files.read(&self.held, pid, node, offset, into) {
            Ok(Io::Now(n)) if at.is_some() => Some(Ok(Out::Answer(Answer::Count(n as u32)))),
            Ok(Io::Now(n)) => Some(Ok(Out::Read(n))),
            Ok(Io::Wait(w)) => self.wait(files, io, pid, On::Handle(handle), Kind::Read { at, max }, w),
            Err(e) => Some(Err(e)),
        }
    }

    fn written<F, T>(
        &mut self,
        files: &mut F,
        io: &mut T,
        pid: Pid,
        handle: Handle,
        w: Io<u32, W>,
    ) -> Option<Result<Out, Errno>>
    where
        F: Files<Node = N, Wait = W>,
        T: Transport,
    {
        match w {
            Io::Now(n) => Some(Ok(Out::Answer(Answer::Count(n)))),
            Io::Wait(w) => self.wait(files, io, pid, On::Handle(handle), Kind::Write, w),
        }
    }

    /// A call that may wait: tried at once ([`Files::retry`]), so that a
    /// server need not; else kept until `retry` answers it. A new call
    /// that waits where one of its kind waits takes its place: the old one
    /// was restarted (its process was stopped and continued, and the
    /// kernel gave up its reply capability), or another thread did the
    /// same at once. Answering the old one would lose its data.
    #[allow(clippy::too_many_arguments)]
    fn wait<F, T>(
        &mut self,
        files: &mut F,
        io: &mut T,
        pid: Pid,
        on: On,
        kind: Kind,
        mut wait: W,
    ) -> Option<Result<Out, Errno>>
    where
        F: Files<Node = N, Wait = W>,
        T: Transport,
    {
        // (Its room in the window was measured a moment ago.)
        let Some(into) = kind.room(io, pid, &mut self.buf) else { return Some(Err(Errno::BadRequest)) };
        if let Some(r) = files.retry(pid, &mut wait, into) {
            return Some(match (r, kind) {
                (Err(e), _) => Err(e),
                (Ok(Done::Opened(node)), Kind::Open { flags }) => {
                    match self.held.handles.insert(pid, Opened { node, flags }) {
                        Ok(h) => Ok(Out::Answer(Answer::Handle(h))),
                        Err(e) => {
                            files.close(node);
                            Err(e)
                        }
                    }
                }
                (Ok(Done::Read(n)), Kind::Read { at: Some(_), .. }) => Ok(Out::Answer(Answer::Count(n as u32))),
                (Ok(Done::Read(n)), Kind::Read { at: None, .. }) => Ok(Out::Read(n)),
                (Ok(Done::Count(n)), Kind::Write) => Ok(Out::Answer(Answer::Count(n))),
                _ => Err(Errno::BadRequest),
            });
        }
        if F::REPLACES_WAITING {
            self.interrupt(io, |w| w.pid == pid && w.on == on && w.kind.takes() == kind.takes());
        }
        if self.held.waiting.iter().filter(|w| w.pid == pid).count() >= F::MAX_WAITING {
            return Some(Err(Errno::Busy));
        }
        match io.save() {
            Ok(slot) => {
                self.held.waiting.push(Waiting { pid, on, kind, slot, wait });
                None
            }
            Err(e) => Some(Err(e)),
        }
    }

    /// Answers the waiting calls `which` picks `Interrupted`; how many.
    fn interrupt<T: Transport>(&mut self, io: &mut T, which: impl Fn(&Waiting<W>) -> bool) -> u32 {
        let gone = super::server::take_out(&mut self.held.waiting, which);
        for w in &gone {
            io.answer(w.slot, &Err(Errno::Interrupted));
        }
        gone.len() as u32
    }

    /// Answers every waiting call that can be answered now.
    pub fn wake<F, T>(&mut self, files: &mut F, io: &mut T)
    where
        F: Files<Node = N, Wait = W>,
        T: Transport,
    {
        let mut i = 0;
        while i < self.held.waiting.len() {
            let w = &mut self.held.waiting[i];
            let Some(into) = w.kind.room(io, w.pid, &mut self.later) else {
                // Its window gone (the process server keeps it while the
                // client lives): the read fails.
                let w = self.held.waiting.remove(i);
                io.answer(w.slot, &Err(Errno::BadRequest));
                continue;
            };
            let Some(r) = files.retry(w.pid, &mut w.wait, into) else {
                i += 1;
                continue;
            };
            let w = self.held.waiting.remove(i);
            let reply: FsReply = match (r, w.kind) {
                (Err(e), _) => Err(e),
                (Ok(Done::Opened(node)), Kind::Open { flags }) => {
                    self.held.handles.insert(w.pid, Opened { node, flags }).map(FsResponse::Handle).inspect_err(|_| {
                        files.close(node);
                    })
                }
                (Ok(Done::Read(n)), Kind::Read { at: Some(_), .. }) => Ok(FsResponse::Count(n as u32)),
                (Ok(Done::Read(n)), Kind::Read { at: None, .. }) => Ok(FsResponse::Data(&self.later[..n])),
                (Ok(Done::Count(n)), Kind::Write) => Ok(FsResponse::Count(n)),
                // A server's slip; the caller is not left waiting.
                _ => Err(Errno::BadRequest),
            };
            io.answer(w.slot, &reply);
        }
    }

    /// Processes that ended lose their handles (each closed) and their
    /// waiting calls.
    pub fn ended<F, T>(&mut self, files: &mut F, io: &mut T, pids: &[Pid])
    where
        F: Files<Node = N, Wait = W>,
        T: Transport,
    {
        for o in self.held.handles.take_clients(pids) {
            files.close(o.node);
        }
        self.drop_waiting(io, pids);
        files.ended(pids);
    }

    /// The waiting calls of `pids` are dropped unanswered (they ended, or
    /// were stopped, which cancels the call a thread was blocked in).
    pub fn drop_waiting<T: Transport>(&mut self, io: &mut T, pids: &[Pid]) {
        for w in super::server::take_out(&mut self.held.waiting, |w| pids.contains(&w.pid)) {
            io.drop_call(w.slot);
        }
    }

    /// The reply to the call in hand, borrowing read bytes.
    pub fn reply<'a>(&'a self, out: &'a Result<Out, Errno>) -> FsReply<'a> {
        match out {
            Err(e) => Err(*e),
            Ok(Out::Read(n)) => Ok(FsResponse::Data(&self.buf[..*n])),
            Ok(Out::Answer(a)) => Ok(response(a)),
        }
    }
}

/// A file server: its [`Files`], the loop's state, and the transport.
pub struct Serve<F: Files, T: Transport> {
    pub files: F,
    pub io: T,
    core: Loop<F::Node, F::Wait>,
}

impl<F: Files, T: Transport> Serve<F, T> {
    pub fn new(files: F, io: T) -> Self {
        Serve { files, io, core: Loop::new::<F>() }
    }

    pub fn held(&self) -> &Held<F> {
        self.core.held()
    }

    /// Answers `pid`'s call; `None`: it waits (its reply is saved).
    pub fn call(&mut self, pid: Pid, req: FsRequest) -> Option<Result<Out, Errno>> {
        self.core.call(&mut self.files, &mut self.io, pid, req)
    }

    /// Answers every waiting call that can be answered now.
    pub fn wake(&mut self) {
        self.core.wake(&mut self.files, &mut self.io)
    }

    /// Processes that ended lose their handles (each closed) and their
    /// waiting calls.
    pub fn ended(&mut self, pids: &[Pid]) {
        self.core.ended(&mut self.files, &mut self.io, pids)
    }

    /// The reply to the call in hand, borrowing read bytes.
    pub fn reply<'a>(&'a self, out: &'a Result<Out, Errno>) -> FsReply<'a> {
        self.core.reply(out)
    }
}

/// One spelling of a path (no empty names), so that a restarted open is
/// known however it was written.
fn canonical(path: &str) -> String {
    let mut c = String::new();
    for name in path.split('/').filter(|n| !n.is_empty()) {
        c.push('/');
        c.push_str(name);
    }
    c
}

fn stat(e: &Entry) -> FileStat<'_> {
    FileStat { name: &e.name, is_dir: e.is_dir, size: e.size, version: e.version, attrs: e.attrs }
}

/// The protocol's form of an answer (borrowing it).
pub fn response(a: &Answer) -> FsResponse<'_> {
    match a {
        Answer::Done => FsResponse::Done,
        Answer::Handle(h) => FsResponse::Handle(*h),
        Answer::Data(d) => FsResponse::Data(d),
        Answer::Count(n) => FsResponse::Count(*n),
        Answer::Stat(e) => FsResponse::Stat(stat(e)),
        Answer::Entries(e, more) => FsResponse::Entries { entries: e.iter().map(stat).collect(), more: *more },
    }
}

/// The part of `text` from `offset` that fits `into`; its length.
pub fn text_into(text: &str, offset: u64, into: &mut [u8]) -> usize {
    let from = (offset as usize).min(text.len());
    let n = (text.len() - from).min(into.len());
    into[..n].copy_from_slice(&text.as_bytes()[from..from + n]);
    n
}

#[cfg(target_os = "none")]
mod sel4 {
    use super::*;
    use crate::fs::server::{encode_reply, ReplySlots, Windows};
    use crate::layout::{event, slot};
    use crate::rpc::client::{recv_raw, reply_recv_raw};
    use crate::rpc::Badge;

    /// Saved replies in `slot::REPLIES`; windows as the process server
    /// maps them.
    pub struct Kernel {
        slots: ReplySlots,
        windows: Windows,
        ended_cursor: u64,
    }

    impl<F: Files> Serve<F, Kernel> {
        /// Drops what the processes that ended held, as the process
        /// server tells them, a page at a time.
        fn hear_endings(&mut self) -> Result<(), Errno> {
            loop {
                let core = &self.core;
                let page = self.io.windows.ended_page(&mut self.io.ended_cursor, || core.held().pids())?;
                self.ended(&page.pids);
                if !page.more {
                    return Ok(());
                }
            }
        }
    }

    impl Transport for Kernel {
        fn save(&mut self) -> Result<u64, Errno> {
            self.slots.save()
        }

        fn answer(&mut self, slot: u64, reply: &FsReply) {
            self.slots.answer_reply(slot, reply);
        }

        fn drop_call(&mut self, slot: u64) {
            self.slots.drop_call(slot);
        }

        fn window(&mut self, pid: Pid) -> Option<&mut [u8]> {
            // One thread: no window is in use while we ask `Ended`.
            self.windows.get(pid)
        }
    }

    /// Mounts endpoint `ep` (made already) at `at` and serves `files` on
    /// it, for ever.
    pub fn run<F: Files>(ep: u64, at: &str, files: F) -> ! {
        let io = Kernel {
            slots: ReplySlots::new(slot::REPLIES, slot::REPLY_COUNT),
            windows: Windows::default(),
            ended_cursor: 0,
        };
        // On the heap, buffers and all: the stack stays as shallow as it
        // was at start, so that no page of it is first touched (and
        // mapped) at some later call.
        let mut s = alloc::boxed::Box::new(Serve::new(files, io));
        let mut req = alloc::boxed::Box::new([0; crate::rpc::INLINE_MAX]);
        s.files.run(s.core.held());
        s.files.idle(s.core.held());
        // Mounted only now: a daemon's mount makes the node ready, and
        // the node's resources are counted from then on, so what the loop
        // allocates comes first (a mount first let a daemon's heap grow
        // after ready when it was the last to mount).
        if let Err(e) = crate::process::mount(at, ep) {
            crate::println!("cannot mount {at}: {e}");
            crate::rt::exit(1);
        }
        let mut m = recv_raw(ep);
        loop {
            let mut out = None;
            if m.badge & event::FLAG != 0 {
                s.files.event(s.core.held(), m.badge & !(event::FLAG | event::ENDED));
                if m.badge & event::ENDED != 0 {
                    if let Err(e) = s.hear_endings() {
                        crate::println!("cannot learn which processes ended: {e}");
                    }
                }
                s.files.run(s.core.held());
            } else {
                // Out of the IPC buffer first: the server's own work may
                // make calls (a log line) that overwrite it.
                let bytes = crate::fs::server::request_into(&m, &mut req);
                s.files.run(s.core.held());
                out = match bytes.and_then(crate::fs::decode_request) {
                    Ok(req) => s.call(Badge(m.badge).pid(), req),
                    Err(e) => Some(Err(e)),
                };
            }
            // Others' answers first: the IPC buffer then holds ours.
            s.wake();
            s.files.idle(s.core.held());
            m = match &out {
                None => recv_raw(ep),
                Some(out) => reply_recv_raw(ep, encode_reply(&s.reply(out))),
            };
        }
    }
}

#[cfg(target_os = "none")]
pub use sel4::run;

#[cfg(test)]
mod tests;

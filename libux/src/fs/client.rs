//! Files as programs use them: open, read, write, close, and the path
//! operations, each going to the file server a path resolves to.

use super::{flags, AttrChanges, Attrs, FileStat, FsReply, FsRequest, FsResponse, IO_MAX};
use crate::layout::slot;
use crate::rpc::client::call;
use crate::rpc::frame::{self, Place};
use crate::rpc::{Errno, Pid, Request, Response, MSG_CALL, MSG_REPLY};
use crate::sel4::consts::error;
use crate::sel4::syscall::{self, ipc_buffer, Msg};
use crate::sel4::MessageInfo;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Slots for file server connections (`slot::FILE_CONNS`), a bit each.
const CONN_FIRST: u64 = slot::FILE_CONNS;
const CONN_WORDS: usize = (slot::FILE_CONN_COUNT / 64) as usize;
static CONN_USED: [AtomicU64; CONN_WORDS] = [const { AtomicU64::new(0) }; CONN_WORDS];

fn take_slot() -> Result<u64, Errno> {
    for (w, word) in CONN_USED.iter().enumerate() {
        let mut bits = word.load(Ordering::Relaxed);
        while bits != u64::MAX {
            let b = bits.trailing_ones() as u64;
            // Threads take slots too: claim the bit only if still free.
            match word.compare_exchange(bits, bits | 1 << b, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return Ok(CONN_FIRST + w as u64 * 64 + b),
                Err(now) => bits = now,
            }
        }
    }
    Err(Errno::NoMemory)
}

fn give_slot(s: u64) {
    let i = (s - CONN_FIRST) as usize;
    CONN_USED[i / 64].fetch_and(!(1 << (i % 64)), Ordering::Relaxed);
}

/// A connection to the file server for `path`.
struct Resolved {
    conn: u64,
    mount: String,
    inner: String,
    server: Pid,
    window: Option<u64>,
}

fn resolve(path: &str) -> Result<Resolved, Errno> {
    if path.len() > crate::path::PATH_MAX {
        return Err(Errno::NameTooLong);
    }
    let into = take_slot()?;
    match call(slot::PROC_CONN, &Request::Resolve { path, into }) {
        Ok(Response::Resolved { mount, path, server, window }) => {
            Ok(Resolved { conn: into, mount, inner: path, server, window })
        }
        Ok(_) => {
            give_slot(into);
            Err(Errno::BadRequest)
        }
        Err(e) => {
            give_slot(into);
            Err(e)
        }
    }
}

/// One call to a file server; the reply borrows the IPC buffer, which the
/// next call overwrites, so use it before then (heap growth leaves it be).
fn fs_call(conn: u64, req: &FsRequest) -> FsReply<'static> {
    let buf = ipc_buffer();
    let words = frame::encode(req, &mut buf.msg, None, 0)?;
    let m = &buf.msg;
    let out = Msg { info: MessageInfo::new(MSG_CALL, 0, 0, words as u64), mr: [m[0], m[1], m[2], m[3]] };
    let reply = syscall::call(conn, out);
    let buf = ipc_buffer();
    buf.msg[..4].copy_from_slice(&reply.mr);
    match reply.info.label() {
        MSG_REPLY => {}
        // The kernel's answer to a call on an empty slot: the connection
        // was revoked, since its server ended or took its tree down (also
        // while the call waited: `process-server/src/hangup.rs`).
        error::INVALID_CAPABILITY => return Err(Errno::ServerGone),
        _ => return Err(Errno::NoFileServer),
    }
    let h = frame::header(&buf.msg, reply.info.length() as usize)?;
    if h.place != Place::Inline {
        return Err(Errno::BadRequest);
    }
    super::decode_reply(&frame::inline_bytes(&buf.msg)[..h.len])?
}

/// Runs one path operation on the server `path` leads to (again on the
/// new one, if that server mounted one there meanwhile).
fn on_path<T>(path: &str, op: impl Fn(u64, &str) -> Result<T, Errno>) -> Result<T, Errno> {
    remounting(path, |path| {
        let r = resolve(path)?;
        let out = op(r.conn, &r.inner);
        give_slot(r.conn);
        out
    })
}

fn done(r: FsReply) -> Result<(), Errno> {
    match r? {
        FsResponse::Done => Ok(()),
        _ => Err(Errno::BadRequest),
    }
}

/// `File::window` before it is asked for, and when there is none.
const UNASKED: u64 = 0;
const NO_WINDOW: u64 = u64::MAX;

/// An open file.
pub struct File {
    conn: u64,
    handle: u32,
    /// Its file server (0: the process server's trees, which have no
    /// windows).
    server: Pid,
    /// Our I/O window onto its server, for transfers larger than a
    /// message: `UNASKED` until the first such transfer asks for it
    /// (`Request::Window`), `NO_WINDOW` if there is none.
    window: AtomicU64,
    /// Where the next read or write goes (files; devices ignore it).
    pub offset: u64,
    /// The absolute path it was opened by.
    pub path: String,
}

/// `op` on `path`, once more if its server mounted something over the
/// path meanwhile (`Errno::Remounted`: the cluster server's `/n`, which
/// mounts a node at its first use): the second resolution finds the
/// new mount.
fn remounting<T>(path: &str, op: impl Fn(&str) -> Result<T, Errno>) -> Result<T, Errno> {
    match op(path) {
        Err(Errno::Remounted) => op(path),
        other => other,
    }
}

/// Opens `path` with `flags` (see [`flags`]).
pub fn open(path: &str, open_flags: u32) -> Result<File, Errno> {
    remounting(path, |path| open_once(path, open_flags))
}

fn open_once(path: &str, open_flags: u32) -> Result<File, Errno> {
    let Resolved { conn, mount, inner, server, window } = resolve(path)?;
    match fs_call(conn, &FsRequest::Open { path: &inner, flags: open_flags & !flags::APPEND }) {
        Ok(FsResponse::Handle(handle)) => {
            let full = match (mount.as_str(), inner.as_str()) {
                ("/", inner) => String::from(inner),
                (mount, "/") => String::from(mount),
                (mount, inner) => alloc::format!("{mount}{inner}"),
            };
            let window = AtomicU64::new(match window {
                Some(at) => at,
                None if server == 0 => NO_WINDOW,
                None => UNASKED,
            });
            let mut file = File { conn, handle, server, window, offset: 0, path: full };
            if open_flags & flags::APPEND != 0 {
                file.offset = stat_on(conn, &inner)?.size;
            }
            Ok(file)
        }
        other => {
            give_slot(conn);
            Err(other.err().unwrap_or(Errno::BadRequest))
        }
    }
}

/// Asks a transaction file (Plan 9's `/net/cs`; here `/proc/spawn`,
/// `/proc/cluster/spawn`, `/proc/cluster/call`): writes `request` to
/// `path`, opened for reading and writing, and reads the answer back on
/// the same open file.
pub fn transact(path: &str, request: &[u8]) -> Result<Vec<u8>, Errno> {
    let mut f = open(path, flags::READ | flags::WRITE)?;
    f.write(request)?;
    f.offset = 0;
    f.read_to_end()
}

/// Opens `path` for writing, made if missing and emptied if not.
pub fn create(path: &str) -> Result<File, Errno> {
    open(path, flags::WRITE | flags::CREATE | flags::TRUNCATE)
}

/// Which parts of which I/O windows threads are using: the bulk part
/// and the message part (`layout::IO_WINDOW_MESSAGE`) of each, each held
/// until its call is answered. Nobody waits long for a part: its holder
/// may be blocked in a read (or a write to a full pipe) that takes long.
/// Reads use only the bulk part; writes the bulk part if free, else the
/// message part, so that a message finds that part free unless another
/// writer holds it.
static PART_BUSY: [[AtomicBool; 2]; crate::layout::MAX_IO_WINDOWS as usize] =
    [const { [const { AtomicBool::new(false) }; 2] }; crate::layout::MAX_IO_WINDOWS as usize];

/// How often a write that fits one part of the window tries again for
/// a part that another thread holds (yielding between) before it goes
/// as messages (`File::pwrite`) or fails `Busy` (`File::write_message`).
const PART_TRIES: u32 = 1000;

/// A part of an I/O window.
#[derive(Clone, Copy)]
enum Part {
    Bulk = 0,
    Message = 1,
}

impl Part {
    /// Where it starts in the window.
    fn at(self) -> u32 {
        match self {
            Part::Bulk => 0,
            Part::Message => crate::layout::IO_WINDOW_MESSAGE_AT as u32,
        }
    }

    fn len(self) -> usize {
        match self {
            Part::Bulk => crate::layout::IO_WINDOW as usize,
            Part::Message => crate::layout::IO_WINDOW_MESSAGE as usize,
        }
    }

    fn busy(self, window: usize) -> Option<&'static AtomicBool> {
        PART_BUSY.get(window).map(|parts| &parts[self as usize])
    }

    /// The parts a write may use, best first: the message part is kept
    /// for messages while the bulk part is free.
    const FOR_WRITE: [Part; 2] = [Part::Bulk, Part::Message];

    /// The parts a message of `len` bytes fits, best first.
    fn for_message(len: usize) -> &'static [Part] {
        if len <= Part::Message.len() {
            &[Part::Message, Part::Bulk]
        } else {
            &[Part::Bulk]
        }
    }
}

/// The use of one part of one I/O window by one thread, until dropped.
struct Lease {
    window: usize,
    part: Part,
}

impl Lease {
    /// `part` of the window at `at`, if no other thread holds it.
    fn take(at: u64, part: Part) -> Option<Lease> {
        let window = ((at - crate::layout::IO_WINDOWS) / crate::layout::IO_WINDOW_SPAN) as usize;
        part.busy(window)?.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).ok()?;
        Some(Lease { window, part })
    }

    /// The first of `parts` of the window at `at` that is free; trying
    /// `tries` times more (yielding between) while all are held.
    fn take_any(at: u64, parts: &[Part], tries: u32) -> Option<Lease> {
        let mut tried = 0;
        loop {
            if let Some(l) = parts.iter().find_map(|&p| Lease::take(at, p)) {
                return Some(l);
            }
            if tried == tries {
                return None;
            }
            tried += 1;
            syscall::yield_now();
        }
    }

    /// Where the part starts in the window (`FsRequest::ReadWindow::at`).
    fn at(&self) -> u32 {
        self.part.at()
    }

    fn len(&self) -> usize {
        self.part.len()
    }

    /// The part's bytes.
    fn bytes(&mut self) -> &mut [u8] {
        let at = crate::layout::IO_WINDOWS + self.window as u64 * crate::layout::IO_WINDOW_SPAN + self.at() as u64;
        // SAFETY: the process server maps IO_WINDOW_SPAN bytes at every
        // window address it gives us, for as long as we live; the lease
        // makes this thread the one user of this part of them.
        unsafe { core::slice::from_raw_parts_mut(at as *mut u8, self.len()) }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(busy) = self.part.busy(self.window) {
            busy.store(false, Ordering::Release);
        }
    }
}

/// Runs `f` on the message part of our I/O window onto `server` (one we
/// hold a connection to; made if need be), this thread its one user
/// meanwhile: `Busy` while another thread keeps it longer than a moment.
pub fn with_message_part<R>(server: Pid, f: impl FnOnce(&mut [u8]) -> R) -> Result<R, Errno> {
    let at = match call(slot::PROC_CONN, &Request::Window { server })? {
        Response::Window(at) => at,
        _ => return Err(Errno::BadRequest),
    };
    let mut lease = Lease::take_any(at, &[Part::Message], PART_TRIES).ok_or(Errno::Busy)?;
    Ok(f(lease.bytes()))
}

impl File {
    /// Transfers from now on go a message at a time, never through the I/O
    /// window (to measure the difference).
    pub fn inline_only(&mut self) {
        self.window.store(NO_WINDOW, Ordering::Relaxed);
    }

    /// Our window onto its server, asked for at the first transfer that
    /// needs it.
    fn window(&self) -> Option<u64> {
        let mut at = self.window.load(Ordering::Relaxed);
        if at == UNASKED {
            at = match call(slot::PROC_CONN, &Request::Window { server: self.server }) {
                Ok(Response::Window(at)) => at,
                _ => NO_WINDOW,
            };
            self.window.store(at, Ordering::Relaxed);
        }
        (at != NO_WINDOW).then_some(at)
    }

    /// Reads into `buf` from the current offset; 0 at the end. A read the
    /// server answers in full is followed by another, until `buf` is full.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, Errno> {
        let n = self.pread(self.offset, buf)?;
        self.offset += n as u64;
        Ok(n)
    }

    /// Reads with one call to the server (at most a window's worth): what
    /// it answers, whole. For files where each read is a message (a
    /// datagram, an echo reply), which a second call would run into.
    /// While another thread holds the window's bulk part the call asks
    /// for at most a message's worth ([`IO_MAX`]): a datagram larger than
    /// that is then dropped (`TooLarge`); a thread among others reads
    /// datagrams into a buffer of at most `IO_MAX`.
    pub fn read_once(&mut self, buf: &mut [u8]) -> Result<usize, Errno> {
        let (n, _) = self.read_at(self.offset, buf)?;
        self.offset += n as u64;
        Ok(n)
    }

    /// Reads at `offset` as [`File::read`] does (calls answered in full
    /// are followed by more, until `buf` is full), leaving the file's
    /// offset alone: threads sharing the file read where they choose.
    pub fn pread(&self, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        let mut total = 0;
        while total < buf.len() {
            let (n, asked) = self.read_at(offset + total as u64, &mut buf[total..])?;
            total += n;
            if n < asked {
                break;
            }
        }
        Ok(total)
    }

    /// One read call at `offset` (as [`File::read_once`]), leaving the
    /// file's offset alone: a stream's reader among threads.
    pub fn pread_once(&self, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        self.read_at(offset, buf).map(|(n, _)| n)
    }

    /// One read call at `offset`, through the I/O window when `buf` is
    /// larger than a message carries: the bytes read and the count asked.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(usize, usize), Errno> {
        let handle = self.handle;
        let lease = (buf.len() > IO_MAX).then(|| self.window()).flatten().and_then(|w| Lease::take(w, Part::Bulk));
        let count = buf.len().min(lease.as_ref().map_or(IO_MAX, Lease::len));
        let n = match lease {
            Some(mut lease) => {
                let at = lease.at();
                match fs_call(self.conn, &FsRequest::ReadWindow { handle, offset, count: count as u32, at })? {
                    FsResponse::Count(n) if n as usize <= count => {
                        buf[..n as usize].copy_from_slice(&lease.bytes()[..n as usize]);
                        n as usize
                    }
                    _ => return Err(Errno::BadRequest),
                }
            }
            None => match fs_call(self.conn, &FsRequest::Read { handle, offset, count: count as u32 })? {
                FsResponse::Data(d) if d.len() <= count => {
                    buf[..d.len()].copy_from_slice(d);
                    d.len()
                }
                _ => return Err(Errno::BadRequest),
            },
        };
        Ok((n, count))
    }

    /// Writes all of `data` at the current offset (a device may take it
    /// in parts: a pipe takes what fits, and blocks only when full).
    pub fn write(&mut self, data: &[u8]) -> Result<usize, Errno> {
        let n = self.pwrite(self.offset, data)?;
        self.offset += n as u64;
        Ok(n)
    }

    /// Writes all of `data` at `offset`, leaving the file's offset alone.
    /// Up to 8 KiB (`layout::IO_WINDOW_MESSAGE`) goes in one call, waiting
    /// a moment for a part of the window that other threads hold; more,
    /// or with both parts held on, goes in calls of what the part taken
    /// holds, or of a message's worth: whole for a stream, but a message
    /// file would take each call as a message of its own
    /// ([`File::write_message`] refuses instead).
    pub fn pwrite(&self, offset: u64, data: &[u8]) -> Result<usize, Errno> {
        let mut done = 0;
        // Waited for a part once: the rest goes without waiting again.
        let mut waited = false;
        while done < data.len() {
            let at = offset + done as u64;
            let rest = data.len() - done;
            let tries = if rest <= Part::Message.len() && !waited { PART_TRIES } else { 0 };
            let mut lease = (rest > IO_MAX).then(|| self.window()).flatten().and_then(|w| {
                let lease = Lease::take_any(w, &Part::FOR_WRITE, tries);
                waited |= lease.is_none();
                lease
            });
            let chunk = &data[done..done + rest.min(lease.as_ref().map_or(IO_MAX, Lease::len))];
            match self.write_once(at, chunk, lease.as_mut())? {
                0 => return Err(Errno::BadRequest),
                n => done += n as usize,
            }
        }
        Ok(done)
    }

    /// Writes `msg` as one call, whole or not at all: for files where
    /// each write is a message (a datagram, a `ctl` line, a call).
    /// `pwrite` may send it in parts (with both parts of the window held
    /// by other threads), and each would be a message of its own; this
    /// waits a moment for a part, then refuses with `Busy`; `TooLarge`
    /// past the window's bulk part; `BadRequest` if the server took only
    /// part of it; `NotSupported` with no window to carry one larger than
    /// a message.
    pub fn write_message(&self, msg: &[u8]) -> Result<(), Errno> {
        let mut lease = None;
        if msg.len() > IO_MAX {
            if msg.len() > Part::Bulk.len() {
                return Err(Errno::TooLarge);
            }
            let window = self.window().ok_or(Errno::NotSupported)?;
            lease = Some(Lease::take_any(window, Part::for_message(msg.len()), PART_TRIES).ok_or(Errno::Busy)?);
        }
        match self.write_once(0, msg, lease.as_mut())? {
            n if n as usize == msg.len() => Ok(()),
            _ => Err(Errno::BadRequest),
        }
    }

    /// One write call of `chunk` at `offset`: through `lease`'s part of
    /// the window, or inline (then at most [`IO_MAX`] bytes). How many
    /// bytes the server took.
    fn write_once(&self, offset: u64, chunk: &[u8], lease: Option<&mut Lease>) -> Result<u32, Errno> {
        let count = chunk.len() as u32;
        let req = match lease {
            Some(lease) => {
                lease.bytes()[..chunk.len()].copy_from_slice(chunk);
                FsRequest::WriteWindow { handle: self.handle, offset, count, at: lease.at() }
            }
            None => FsRequest::Write { handle: self.handle, offset, data: chunk },
        };
        match fs_call(self.conn, &req)? {
            FsResponse::Count(n) if n <= count => Ok(n),
            _ => Err(Errno::BadRequest),
        }
    }

    /// Gives up the calls of ours waiting on this file (another thread's
    /// read, say): they fail with `Interrupted`. Answers how many did.
    pub fn cancel(&self) -> Result<u32, Errno> {
        match fs_call(self.conn, &FsRequest::Cancel { handle: self.handle })? {
            FsResponse::Count(n) => Ok(n),
            _ => Err(Errno::BadRequest),
        }
    }

    pub fn truncate(&mut self, size: u64) -> Result<(), Errno> {
        done(fs_call(self.conn, &FsRequest::Truncate { handle: self.handle, size }))
    }

    /// Reads everything from the current offset to the end.
    pub fn read_to_end(&mut self) -> Result<Vec<u8>, Errno> {
        let mut all = Vec::new();
        let mut chunk = [0u8; IO_MAX];
        loop {
            let n = self.read(&mut chunk)?;
            if n == 0 {
                return Ok(all);
            }
            all.extend_from_slice(&chunk[..n]);
        }
    }

    /// Closes the file, reporting the server's answer (dropping a `File`
    /// closes it too, without one).
    pub fn close(self) -> Result<(), Errno> {
        let r = done(fs_call(self.conn, &FsRequest::Close { handle: self.handle }));
        give_slot(self.conn);
        core::mem::forget(self);
        r
    }
}

impl Drop for File {
    fn drop(&mut self) {
        let _ = fs_call(self.conn, &FsRequest::Close { handle: self.handle });
        give_slot(self.conn);
    }
}

/// A file's metadata, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metadata {
    pub name: String,
    pub is_dir: bool,
    pub size: u64,
    pub version: u32,
    /// Modes, owners, times, identity: from a file server that keeps them.
    pub attrs: Option<Attrs>,
}

impl From<&FileStat<'_>> for Metadata {
    fn from(s: &FileStat) -> Self {
        Metadata { name: String::from(s.name), is_dir: s.is_dir, size: s.size, version: s.version, attrs: s.attrs }
    }
}

/// Changes what the file server keeps of the file at `path` (its mode,
/// owners, times): all of `changes`, or none and why.
pub fn set_attrs(path: &str, changes: AttrChanges) -> Result<(), Errno> {
    on_path(path, |conn, inner| done(fs_call(conn, &FsRequest::SetAttrs { path: inner, changes })))
}

pub fn stat(path: &str) -> Result<Metadata, Errno> {
    on_path(path, stat_on)
}

/// `stat` of `inner` through connection `conn` to its file server.
fn stat_on(conn: u64, inner: &str) -> Result<Metadata, Errno> {
    match fs_call(conn, &FsRequest::Stat { path: inner })? {
        FsResponse::Stat(s) => Ok(Metadata::from(&s)),
        _ => Err(Errno::BadRequest),
    }
}

/// The entries of the directory at `path`: its server's, in its order
/// (name order, ours), and the mount points in it (`mount_points`) as
/// directories, each before the first entry whose name sorts after it.
pub fn list(path: &str) -> Result<Vec<Metadata>, Errno> {
    let mut all = on_path(path, |conn, inner| {
        let mut all = Vec::new();
        loop {
            match fs_call(conn, &FsRequest::List { path: inner, from: all.len() as u32 })? {
                // "More" with nothing now would never end.
                FsResponse::Entries { entries, more: true } if entries.is_empty() => return Err(Errno::BadRequest),
                FsResponse::Entries { entries, more } => {
                    all.extend(entries.iter().map(Metadata::from));
                    if !more {
                        return Ok(all);
                    }
                }
                _ => return Err(Errno::BadRequest),
            }
        }
    })?;
    // The mount points in it, which its server need not have (`/proc` is
    // in no server's `/`).
    for name in mount_points(path)? {
        if !all.iter().any(|m| m.name == name) {
            let at = all.iter().position(|m| m.name > name).unwrap_or(all.len());
            all.insert(at, Metadata { name, is_dir: true, size: 0, version: 0, attrs: None });
        }
    }
    Ok(all)
}

/// The names of the mount points directly under directory `path` in our
/// namespace (`rpc::Request::MountPoints`), sorted.
pub fn mount_points(path: &str) -> Result<Vec<String>, Errno> {
    let mut names = Vec::new();
    loop {
        match call(slot::PROC_CONN, &Request::MountPoints { path, from: names.len() as u32 })? {
            // "More" with nothing now would never end.
            Response::Names { names: page, more } if !(more && page.is_empty()) => {
                names.extend(page);
                if !more {
                    return Ok(names);
                }
            }
            _ => return Err(Errno::BadRequest),
        }
    }
}

pub fn mkdir(path: &str) -> Result<(), Errno> {
    on_path(path, |conn, inner| done(fs_call(conn, &FsRequest::Mkdir { path: inner })))
}

pub fn remove(path: &str) -> Result<(), Errno> {
    on_path(path, |conn, inner| done(fs_call(conn, &FsRequest::Remove { path: inner })))
}

/// Renames within one file server.
pub fn rename(from: &str, to: &str) -> Result<(), Errno> {
    remounting(from, |from| rename_once(from, to))
}

fn rename_once(from: &str, to: &str) -> Result<(), Errno> {
    let f = resolve(from)?;
    let r = (|| {
        let t = resolve(to)?;
        give_slot(t.conn);
        if t.mount != f.mount {
            return Err(Errno::InvalidArgument);
        }
        done(fs_call(f.conn, &FsRequest::Rename { from: &f.inner, to: &t.inner }))
    })();
    give_slot(f.conn);
    r
}

/// The process serving `path` now, by its pid on this node (not a gpid;
/// 0: the process server's own trees).
pub fn server_of(path: &str) -> Result<Pid, Errno> {
    let r = resolve(path)?;
    give_slot(r.conn);
    Ok(r.server)
}

/// Changes the working directory to `path`, which must be a directory.
pub fn chdir(path: &str) -> Result<(), Errno> {
    if !stat(path)?.is_dir {
        return Err(Errno::NotDir);
    }
    match call(slot::PROC_CONN, &Request::Chdir { path })? {
        Response::Done => Ok(()),
        _ => Err(Errno::BadRequest),
    }
}

pub fn getcwd() -> Result<String, Errno> {
    match call(slot::PROC_CONN, &Request::Getcwd)? {
        Response::Path(p) => Ok(p),
        _ => Err(Errno::BadRequest),
    }
}

//! The process server protocol: what travels on a process server
//! connection, defined once for the client library, the process server and
//! any intermediary.
//!
//! A call is a postcard-encoded [`Request`]; the answer a postcard-encoded
//! [`Reply`] (`Result<Response, Errno>`). Every request gets a reply, except
//! `Exit`, after which the caller no longer exists.
//!
//! # Framing
//!
//! The bytes travel in seL4 message registers:
//!
//! ```text
//! label  MSG_CALL (a process's own call), MSG_RELAY (an intermediary's
//!        call on behalf of a process it interposes on), MSG_FORWARD (a
//!        process's call that its process server answered `Elsewhere`,
//!        made again to the cluster server, on a connection that also
//!        carries the file protocol's MSG_CALLs) or MSG_REPLY
//! MR0    byte length, with IN_BUFFER (bit 63) set when the bytes are in
//!        the caller's shared buffer page instead of the registers, and
//!        INLINE_ONLY (bit 62) set when the caller's shared buffer is not
//!        free for the reply (another thread of it is using it)
//! MR1    MSG_RELAY: the id of the process the call is made for; else 0
//! MR2..  the bytes, packed little-endian, up to INLINE_MAX of them
//! ```
//!
//! Bytes that do not fit inline go in the process's shared buffer page
//! (`layout::SHARED_BUFFER`, which the process server also maps), up to
//! `BUFFER_MAX`. An intermediary relays a call by changing only the label
//! and MR1 (see [`frame`]): it never needs to decode the bytes, and a call
//! whose bytes are in a shared buffer is read by the process server from
//! the buffer of the process the call is made for.

use serde::{Deserialize, Serialize};

pub const MSG_CALL: u64 = 1;
pub const MSG_RELAY: u64 = 2;
pub const MSG_REPLY: u64 = 3;
pub const MSG_FORWARD: u64 = 4;
/// A server's wake-up of one of its own idle threads, sent (not called)
/// on its endpoint through its own unbadged capability: no client's
/// call carries badge 0 (the cluster server's fan-out of reads).
pub const MSG_HELP: u64 = 5;
pub const IN_BUFFER: u64 = 1 << 63;
/// In a call's MR0: a reply that does not fit inline is `TooLarge`, never
/// put in the caller's shared buffer.
pub const INLINE_ONLY: u64 = 1 << 62;
/// Header words before the bytes.
pub const HEADER_WORDS: usize = 2;
/// Bytes that fit in the message registers.
pub const INLINE_MAX: usize = (crate::sel4::consts::msg::MAX_LENGTH - HEADER_WORDS) * 8;
/// Bytes that fit in the shared buffer page.
pub const BUFFER_MAX: usize = 4096;

/// Process ids fit in a badge (28 bits in this kernel) with room for the
/// flags below and `layout::event::FLAG`.
pub type Pid = u32;
/// The largest process id: 16 bits, so that the node's number fits above
/// it in a cluster-wide id (`cluster::Gpid`). A pid is given again only
/// after its process was reaped and the ids after it were given.
pub const PID_MAX: Pid = (1 << 16) - 1;
/// Set in the badge of a process's fault endpoint.
pub const FAULT_BADGE: u64 = 1 << 27;
/// Set in the badge of a connection to the file trees the process server
/// serves itself (`/proc`, `/bin`): such calls speak the file protocol.
pub const FILES_BADGE: u64 = 1 << 25;
/// With `FILES_BADGE`: the `/bin` tree.
pub const BIN_BADGE: u64 = 1 << 24;

const _: () = assert!((FAULT_BADGE | FILES_BADGE | BIN_BADGE | PID_MAX as u64) & !crate::sel4::BADGE_MASK == 0);

/// The badge of a capability to a server's endpoint: who a message comes
/// from (a local process id, always within a badge's 28 bits; ids that
/// name processes across a cluster will not fit, which is why this is a
/// type of its own) and what kind of message it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Badge(pub u64);

impl Badge {
    /// A process's connection (to the process server or a file server).
    pub const fn connection(pid: Pid) -> Badge {
        Badge(pid as u64)
    }

    /// Where the kernel sends `pid`'s faults.
    pub const fn fault(pid: Pid) -> Badge {
        Badge(pid as u64 | FAULT_BADGE)
    }

    /// `pid`'s connection to the process server's own trees (`/proc`, or
    /// `/bin` if `bin`).
    pub const fn files(pid: Pid, bin: bool) -> Badge {
        Badge(pid as u64 | FILES_BADGE | if bin { BIN_BADGE } else { 0 })
    }

    /// The process the message comes from.
    pub const fn pid(self) -> Pid {
        (self.0 & PID_MAX as u64) as Pid
    }

    pub const fn is_fault(self) -> bool {
        self.0 & FAULT_BADGE != 0
    }

    pub const fn is_files(self) -> bool {
        self.0 & FILES_BADGE != 0
    }

    pub const fn is_bin(self) -> bool {
        self.0 & BIN_BADGE != 0
    }
}

/// A call to the process server.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub enum Request<'a> {
    GetPid,
    GetPpid,
    /// Start a program: one of the boot image, or a file (see `Spawn::path`).
    #[serde(borrow)]
    Spawn(Spawn<'a>),
    /// End the caller with `status`.
    Exit {
        status: i32,
    },
    /// Reap a child that has ended: `pid`, or any child if `None`, its
    /// children placed on other nodes included (`Placed`). `pid` may be a
    /// gpid: one of this node's is the local process, a placed child's
    /// the child; any other node's is `Elsewhere`, and `cluster::call`
    /// waits for it through the cluster server, for whoever asks (it is
    /// reaped there by the cluster server that placed or started it, or
    /// not at all).
    /// With `hang`, the answer comes when one has ended (whoever serves
    /// the connection keeps the reply until then, so an intermediary can
    /// answer it for a child it knows of); without, `Waited(None)` means
    /// none has ended yet.
    Wait {
        pid: Option<Pid>,
        hang: bool,
    },
    /// Whether process `pid` has ended, without reaping it: `Waited` with
    /// its end, or `Waited(None)` while it runs. Anyone may ask (as anyone
    /// may read its `status`). Another node's gpid is `Elsewhere`: that
    /// node's cluster server answers it (`cluster::call`), and watches
    /// the process, so that its node beats when it ends.
    HasEnded {
        pid: Pid,
    },
    /// End a process at once. Here and in `Stop`, `Cont` and `MayAct`,
    /// `pid` may be a gpid (see `Wait`).
    Kill {
        pid: Pid,
    },
    /// Suspend a process until `Cont`.
    Stop {
        pid: Pid,
    },
    Cont {
        pid: Pid,
    },
    /// Map `pages` zeroed pages at `vaddr` (page aligned, inside the heap
    /// window `layout::HEAP_BASE..HEAP_END`).
    MapAnon {
        vaddr: u64,
        pages: u32,
    },
    /// Drivers of a PCI device: map `pages` (at most `DMA_MAX_PAGES`)
    /// physically contiguous zeroed pages at `vaddr` (page aligned, inside
    /// `layout::DMA_BASE..DMA_END`; x86 DMA is cache-coherent); answers
    /// their physical address.
    MapDma {
        vaddr: u64,
        pages: u32,
    },
    /// Unmap pages mapped by `MapAnon`; their memory is reused.
    UnmapAnon {
        vaddr: u64,
        pages: u32,
    },
    /// Put a new endpoint in the caller's CSpace at `slot` (at least
    /// `slot::FIRST_FREE`).
    CreateEndpoint {
        slot: u64,
    },
    /// Put a new notification in the caller's CSpace at `slot` (at least
    /// `slot::FIRST_FREE`): what a thread waits on without losing the
    /// reply capability of a call it is answering (see `sync::Event`).
    CreateNotification {
        slot: u64,
    },
    /// Process server statistics.
    Stats,
    /// Serve the files under `path` through the endpoint in `endpoint`
    /// (a slot of the caller's, made with `CreateEndpoint`), in the
    /// caller's namespace. Programs the process server started may mount
    /// anywhere; others at most `USER_MOUNTS` each, and in the system's
    /// namespace only at `/n/NAME`.
    Mount {
        path: &'a str,
        endpoint: u64,
    },
    /// Stop serving `path` (only its server may; every mount of a process
    /// goes when it ends).
    Unmount {
        path: &'a str,
    },
    /// Find the file server for `path` (absolute, or relative to the
    /// working directory): put a connection to it, badged with the
    /// caller's id, in the caller's slot `into`, and answer with the path
    /// within that server, the server, and the caller's I/O window onto
    /// it if one was made (`Window`).
    Resolve {
        path: &'a str,
        into: u64,
    },
    /// The caller's I/O window onto file server `server` (one it has
    /// resolved a path to), made at the first such call: 18 frames shared
    /// with the server (see `layout::IO_WINDOWS`), which a program pays
    /// for only when it first moves more than a message at once.
    Window {
        server: Pid,
    },
    /// Set the working directory.
    Chdir {
        path: &'a str,
    },
    Getcwd,
    /// The names of the mount points directly under directory `path`
    /// (absolute, or relative to the working directory) in the caller's
    /// namespace, sorted, from the `from`th: a page of them
    /// (`fs::list_page`), and whether more follow. A listing of `path`
    /// shows them with its server's entries (`fs::client::list`).
    MountPoints {
        path: &'a str,
        from: u32,
    },
    /// Write bytes to the console log, whole (never interleaved with
    /// another call's). For programs with no standard output: daemons, and
    /// whatever the system description starts.
    Write {
        bytes: &'a [u8],
    },
    /// Daemons: which processes ended after the `after`th ending (0: since
    /// boot). The process server remembers the last `ENDED_KEPT`.
    Ended {
        after: u64,
    },
    /// Daemons, after `Ended` said endings were lost: which of `pids` (at
    /// most `LIVING_PER_CALL`) are alive.
    Living {
        pids: alloc::vec::Vec<Pid>,
    },
    /// Give the caller a private namespace, a copy of the one it has:
    /// its mounts and unmounts then change only what it and the children
    /// it spawns later see (children share their parent's namespace).
    NewNamespace,
    /// Start another thread in the caller's address space and CSpace, at
    /// `entry` with `arg` in `rdi`, its own stack and IPC buffer (see
    /// `layout::thread_stack_top`); answers its index (at most
    /// `layout::MAX_THREADS` threads live at once, the first included).
    Thread {
        entry: u64,
        arg: u64,
    },
    /// End the calling thread `index` (never the first: it ends the
    /// process with `Exit`). No answer: the thread is gone.
    ThreadExit {
        index: u32,
    },
    /// From now on the caller, and every process it spawns later, may kill,
    /// stop or continue only itself and its descendants (what a server
    /// acting for a remote client does first). It cannot be undone.
    Restrict,
    /// Whether `actor` may kill, stop or continue `target` (a process
    /// here), or a process on another node (`None`): `Done` or
    /// `NotPermitted`. For a server that acts for its clients (the
    /// cluster server), which must not lend them its own authority.
    MayAct {
        actor: Pid,
        target: Option<Pid>,
    },
    /// Replace the caller's program with the ELF image in its own memory
    /// (what `/bin/exec` does for a program that is a file): same pid,
    /// parent, children, namespace, working directory and connection; new
    /// address space, arguments and descriptors, nothing else of the old.
    /// Only a process with one thread, no endpoints, mounts or device
    /// grants may; on success there is no answer (the caller is gone).
    #[serde(borrow)]
    Exec(Exec<'a>),
    /// Put a connection to this node's cluster server, badged with the
    /// caller's id, in the caller's slot `layout::slot::CLUSTER_CONN`,
    /// and answer `Resolved` for its tree (`/proc/cluster`, its server,
    /// the caller's window onto it if made). The cluster server is the
    /// daemon the system description marks `cluster`, whatever the
    /// caller's namespace holds: the intermediary for the calls answered
    /// `Elsewhere`, which the caller sends it as they were.
    ClusterConn,
    /// File servers: whether client `client` has an I/O window onto the
    /// caller (`Done`, else `InvalidArgument`), asked before the first
    /// use of a client's window (see `fs::server::Windows`).
    HasWindow {
        client: Pid,
    },
    /// The cluster server alone: our process `parent` has a child on
    /// another node, `child` (a gpid), which it placed there. Its `Wait`s
    /// take it in from then on (for any child, or for it by gpid), and
    /// are answered when the cluster server tells its end
    /// (`PlacedEnded`). `Busy` past `PLACED_MAX` children abroad, or
    /// `PLACED_NODE_MAX` of all the node's processes.
    Placed {
        parent: Pid,
        child: Pid,
    },
    /// The cluster server alone: the placed `child` ended (`Lost` with
    /// its node), reaped there; its parent's `Wait` takes it.
    PlacedEnded {
        child: Pid,
        end: End,
    },
}

/// Children on other nodes one process may have at once (not waited for).
pub const PLACED_MAX: usize = 1024;
/// And all of a node's processes together (each is a few words of the
/// process server's fixed heap).
pub const PLACED_NODE_MAX: usize = 16384;

impl Request<'_> {
    /// Calls that may be answered much later, or never (the caller, or
    /// the calling thread, is gone): the caller does not hold its shared
    /// buffer meanwhile (their answers are small), which a thread that
    /// ended would hold for ever.
    pub fn may_wait(&self) -> bool {
        matches!(self, Request::Wait { hang: true, .. } | Request::ThreadExit { .. } | Request::Exit { .. })
    }
}

/// The most pages one `MapDma` maps (one 64 KiB chunk of memory).
pub const DMA_MAX_PAGES: u32 = 16;

/// At most this many pids in one `Request::Living`.
pub const LIVING_PER_CALL: usize = 128;

/// How many endings `Request::Ended` can tell of.
pub const ENDED_KEPT: usize = 1024;
/// At most this many pids in one `Response::Ended`.
pub const ENDED_PER_REPLY: usize = 128;

/// A descriptor a spawned process starts with, named by the path and the
/// flags it is opened with (`fs::flags`): the child opens it itself, before
/// `main`, so that what it holds at every file server is its own (and goes
/// when it ends).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdName<'a> {
    pub fd: u8,
    pub path: &'a str,
    pub flags: u32,
}

/// Arguments of [`Request::Spawn`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Spawn<'a> {
    /// `/bin/NAME` or `NAME`: a program of the boot image; any other path
    /// with a `/` names a file, which `/bin/exec` (started in its place,
    /// with the same pid) reads and runs (`Request::Exec`).
    pub path: &'a str,
    #[serde(borrow)]
    pub argv: alloc::vec::Vec<&'a str>,
    #[serde(borrow)]
    pub env: alloc::vec::Vec<&'a str>,
    /// Redirect the child's process server connection to the endpoint in
    /// this slot of the caller's CSpace: the caller becomes the child's
    /// intermediary, and so for all of the child's descendants.
    pub redirect: Option<u64>,
    /// The descriptors it starts with.
    #[serde(borrow)]
    pub fds: alloc::vec::Vec<FdName<'a>>,
    /// Where it is to run: none, or this node, here; elsewhere the process
    /// server answers `Elsewhere` and the cluster server places it (see
    /// `process::spawn_placed`).
    pub place: Option<crate::cluster::Place>,
    /// Started for a process of another node (its gpid), as the cluster
    /// server starts a placed program: the parent `GetPpid` and `/proc`
    /// name (the home model), while the caller stays the parent that
    /// reaps it. Only a daemon may say.
    pub home_parent: Option<Pid>,
}

/// Arguments of [`Request::Exec`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Exec<'a> {
    /// Where the image lies in the caller's anonymous memory (its heap),
    /// and its length (at most [`IMAGE_MAX`]).
    pub image: u64,
    pub len: u64,
    #[serde(borrow)]
    pub argv: alloc::vec::Vec<&'a str>,
    #[serde(borrow)]
    pub env: alloc::vec::Vec<&'a str>,
    #[serde(borrow)]
    pub fds: alloc::vec::Vec<FdName<'a>>,
}

/// The largest program image `Exec` takes.
pub const IMAGE_MAX: u64 = 16 << 20;

/// A successful answer.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub enum Response {
    Done,
    Pid(Pid),
    Waited(Option<Waited>),
    Stats(Stats),
    /// The working directory.
    Path(alloc::string::String),
    /// `MountPoints`: a page of names, and whether more follow.
    Names {
        names: alloc::vec::Vec<alloc::string::String>,
        more: bool,
    },
    /// `Resolve`: the mount point the path lies under, and the path within
    /// that file server.
    Resolved {
        mount: alloc::string::String,
        path: alloc::string::String,
        /// The file server (0: the process server's own trees).
        server: Pid,
        /// Where the window onto it is mapped, if it was made.
        window: Option<u64>,
    },
    /// `Window`: where it is mapped.
    Window(u64),
    /// `Living`: the pids asked about that are alive.
    Living(alloc::vec::Vec<Pid>),
    /// `Thread`: the new thread's index.
    Thread(u32),
    /// `MapDma`: the physical address of the first page.
    Dma {
        paddr: u64,
    },
    /// `Ended`: the pids, the number of the last ending told, whether
    /// more follow, and whether endings were forgotten before they could be
    /// told (more than `ENDED_KEPT` since `after`).
    Ended {
        pids: alloc::vec::Vec<Pid>,
        upto: u64,
        more: bool,
        lost: bool,
    },
    /// A placed `Spawn` the cluster server placed on the caller's own
    /// node: the caller starts it itself, placed there (so that it is
    /// the parent).
    StartHere(crate::cluster::NodeId),
}

pub type Reply = Result<Response, Errno>;

/// A child that has ended, and how.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waited {
    pub pid: Pid,
    pub end: End,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Exited(i32),
    Killed,
    Faulted(Fault),
    /// Its node went down (a process of another node, waited for through
    /// the cluster server).
    Lost,
}

/// A fault that stopped a process.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    pub kind: FaultKind,
    /// Instruction pointer of the faulting instruction.
    pub ip: u64,
    /// The address that faulted (page faults); 0 otherwise.
    pub addr: u64,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// Access to an unmapped address, or a write to a read-only page.
    PageFault,
    /// Invalid opcode (#UD).
    InvalidOpcode,
    /// Divide error (#DE).
    DivideError,
    /// General protection (#GP).
    GeneralProtection,
    /// Another CPU exception, by vector.
    Exception(u64),
    /// A system call number the kernel does not know.
    UnknownSyscall(u64),
    /// Any other seL4 fault type.
    Other(u64),
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    pub resources: Resources,
    /// Processes live and not stopped: the node's load.
    pub running: u32,
    /// The process server's own heap.
    pub heap_used: u64,
    pub heap_size: u64,
    /// The time stamp counter's rate, from the kernel (to turn cycles
    /// into time).
    pub tsc_mhz: u64,
    /// Now, in seconds since 1970-01-01 UTC (`time::Civil`): the CMOS
    /// clock as read at boot, plus the time since; `None` if it could not
    /// be read.
    pub unix_time: Option<i64>,
    /// What the process server has done since boot.
    pub work: Work,
}

/// Counts of the process server's work since boot (`ipcbench` prints the
/// difference a spawn makes).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Work {
    /// Messages received: calls (relayed ones once) and faults.
    pub calls: u64,
    /// Kernel objects made from untyped memory (frames, tables, CNodes,
    /// TCBs, endpoints, ...), and the bytes they took, which the kernel
    /// zeroes.
    pub objects: u64,
    pub retyped_bytes: u64,
    /// Pages copied into through the scratch mapping (program segments,
    /// zeroing reused frames).
    pub pages_filled: u64,
    /// Frames mapped into an address space (a process's or ours).
    pub frames_mapped: u64,
}

/// The process server's finite resources: after a workload has ended
/// every one must be back where it was (what the leak tests compare).
/// Its `Display` is the process server's report line after `ux: `.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Resources {
    /// Untyped memory not in use, in bytes.
    pub free_bytes: u64,
    /// Live and zombie processes.
    pub processes: u32,
    /// Slots of the process server's root CNode that nothing holds
    /// (empty, or holding free memory): every process, mapped page and
    /// endpoint copy takes some, and they are finite.
    pub free_slots: u64,
    /// Shared buffer pages handed to processes (one per live process).
    pub buffers: u32,
    /// Private namespaces in use (`NewNamespace`).
    pub namespaces: u32,
}

impl core::fmt::Display for Resources {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let Resources { free_bytes, processes, free_slots, buffers, namespaces } = self;
        let kib = free_bytes >> 10;
        write!(
            f,
            "{kib} KiB of untyped memory free, {processes} processes, {free_slots} root slots free, \
             {buffers} buffers, {namespaces} namespaces"
        )
    }
}

/// Why a call failed.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Errno {
    /// The request could not be decoded, or its framing is wrong.
    BadRequest,
    /// The request or its answer does not fit the transport.
    TooLarge,
    NoSuchProcess,
    /// The process has no such child (or no children at all).
    NoChild,
    NoSuchProgram,
    /// The program image is not a loadable executable.
    BadImage,
    NoMemory,
    /// An address outside the allowed window, unaligned, or (un)mapped
    /// already.
    BadAddress,
    InvalidArgument,
    NotPermitted,
    // File errors (the file protocol, `crate::fs`, shares this type).
    NotFound,
    Exists,
    NotDir,
    IsDir,
    NotEmpty,
    NoSpace,
    /// No such open file.
    BadHandle,
    NameTooLong,
    /// Nothing is mounted where the path leads.
    NoFileServer,
    /// A write to a file system that cannot be written.
    ReadOnly,
    /// A write to a pipe nobody reads any more.
    BrokenPipe,
    /// Already in use (a second reader of the console, say).
    Busy,
    /// The device or the remote file server behind the file failed (a 9P
    /// mount whose connection broke, say).
    Io,
    /// A call that waited was given up: its caller asked (`FsRequest::Cancel`,
    /// a 9P Tflush), or a new call on the same file took its place.
    Interrupted,
    /// A limit of one client's was reached (files open, pipes or
    /// connections held), before any limit of the whole node.
    TooMany,
    /// The process named is another node's (a gpid, see `cluster::Gpid`):
    /// the process server acts on its own node's only, and the call goes
    /// to the cluster server instead (`cluster::call`).
    Elsewhere,
    /// The process's node is down: it is lost with it.
    Lost,
    /// The server does not do that at all (a file server that keeps no
    /// modes or times asked to change them).
    NotSupported,
    /// No node that is up fits a placement (`cluster::Place`).
    NoNode,
    /// A server mounted something over the path just now (the cluster
    /// server's `/n`, which mounts a node at its first use): resolve the
    /// path again. `libux::fs::client` does, once; a caller sees it only
    /// if its namespace was copied before the mount.
    Remounted,
    /// A TCP connect was answered with a reset: nothing listens there.
    Refused,
    /// A TCP connect was not answered at all (`netstack`'s peer timeout).
    TimedOut,
    /// The file server ended (or took its tree down) before answering:
    /// the call, and every later one on the same open file, fails (Plan
    /// 9's I/O on a hung-up channel).
    ServerGone,
}

impl core::fmt::Display for Errno {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Errno::BadRequest => "bad request",
            Errno::TooLarge => "message too large",
            Errno::NoSuchProcess => "no such process",
            Errno::NoChild => "no such child",
            Errno::NoSuchProgram => "no such program",
            Errno::BadImage => "not an executable image",
            Errno::NoMemory => "out of memory",
            Errno::BadAddress => "bad address",
            Errno::InvalidArgument => "invalid argument",
            Errno::NotPermitted => "not permitted",
            Errno::NotFound => "file does not exist",
            Errno::Exists => "file exists",
            Errno::NotDir => "not a directory",
            Errno::IsDir => "is a directory",
            Errno::NotEmpty => "directory not empty",
            Errno::NoSpace => "no space left",
            Errno::BadHandle => "bad file descriptor",
            Errno::NameTooLong => "name too long",
            Errno::NoFileServer => "no file server for that path",
            Errno::ReadOnly => "read-only file system",
            Errno::BrokenPipe => "broken pipe",
            Errno::Busy => "busy",
            Errno::Io => "i/o error",
            Errno::Interrupted => "interrupted",
            Errno::TooMany => "too many open files",
            Errno::Elsewhere => "on another node",
            Errno::Lost => "lost with its node",
            Errno::NotSupported => "not supported",
            Errno::NoNode => "no node that is up fits the placement",
            Errno::Remounted => "mounted after this namespace was made",
            Errno::Refused => "connection refused",
            Errno::TimedOut => "connection timed out",
            Errno::ServerGone => "file server gone",
        })
    }
}

/// What the process server puts at the top of a new process's stack.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct StartBlock<'a> {
    pub pid: Pid,
    #[serde(borrow)]
    pub argv: alloc::vec::Vec<&'a str>,
    #[serde(borrow)]
    pub env: alloc::vec::Vec<&'a str>,
    #[serde(borrow)]
    pub fds: alloc::vec::Vec<FdName<'a>>,
}

/// Decodes a request's bytes.
pub fn decode_request(bytes: &[u8]) -> Result<Request<'_>, Errno> {
    postcard::from_bytes(bytes).map_err(|_| Errno::BadRequest)
}

/// Decodes a reply's bytes.
pub fn decode_reply(bytes: &[u8]) -> Result<Reply, Errno> {
    postcard::from_bytes(bytes).map_err(|_| Errno::BadRequest)
}

impl StartBlock<'_> {
    pub fn encode(&self) -> Result<alloc::vec::Vec<u8>, Errno> {
        postcard::to_allocvec(self).map_err(|_| Errno::TooLarge)
    }

    pub fn decode(bytes: &[u8]) -> Result<StartBlock<'_>, Errno> {
        postcard::from_bytes(bytes).map_err(|_| Errno::BadRequest)
    }
}

#[cfg(target_arch = "x86_64")]
pub mod client;
pub mod frame;

#[cfg(test)]
mod badge_tests {
    use super::*;

    #[test]
    fn badges_tell_who_and_what() {
        let (conn, fault, proc_, bin) =
            (Badge::connection(PID_MAX), Badge::fault(7), Badge::files(9, false), Badge::files(9, true));
        assert_eq!((conn.pid(), conn.is_fault(), conn.is_files()), (PID_MAX, false, false));
        assert_eq!((fault.pid(), fault.is_fault(), fault.is_files()), (7, true, false));
        assert_eq!((proc_.pid(), proc_.is_files(), proc_.is_bin()), (9, true, false));
        assert_eq!((bin.pid(), bin.is_files(), bin.is_bin()), (9, true, true));
        for b in [conn, fault, proc_, bin] {
            assert_eq!(b.0 & !crate::sel4::BADGE_MASK, 0, "{b:?} fits a badge");
        }
    }
}

//! The start-up contract between the process server and the programs it
//! starts: where things are in a new process's CSpace and address space,
//! and what its first registers hold.
//!
//! A new process starts at its ELF entry with `rsp` at the top of its
//! stack, `rdi` = the address of its IPC buffer, `rsi`/`rdx` = address and
//! length of its start block (postcard-encoded [`crate::rpc::StartBlock`]:
//! argv, environment, descriptors), written in its shared buffer, and
//! `r8` = the bytes of heap mapped at [`HEAP_BASE`]; it writes its own
//! thread-local words (`THREAD_LOCAL`). The root task instead gets the
//! boot information address in `rdi` and `rsp` = 0.

/// A process's CSpace has 2^CNODE_BITS slots, resolved with a guard of
/// zeros so that a slot number is its capability pointer.
pub const CNODE_BITS: u8 = 10;
/// It is two levels: a root CNode whose entries are leaf CNodes of
/// 2^CNODE_LEAF_BITS slots, each made by the process server when a slot
/// in it is first filled (every leaf at once for a daemon). A process
/// pays for the slots it uses, not for 1,024.
pub const CNODE_LEAF_BITS: u8 = 5;
const _: () = assert!(CNODE_BITS > CNODE_LEAF_BITS && CNODE_BITS - CNODE_LEAF_BITS <= 5);

/// Well-known slots in every process's CSpace.
pub mod slot {
    /// The process server connection: an endpoint badged with the
    /// process's id, or an intermediary's endpoint.
    pub const PROC_CONN: u64 = 1;
    /// Daemons only: their own CNode (with the guard that makes a slot
    /// number its capability pointer, so invoke it with depth 64), to save
    /// reply capabilities and answer calls later.
    pub const CNODE: u64 = 2;
    /// Where the kernel sends the process's faults (the process server's
    /// endpoint with the fault badge).
    pub const FAULT_EP: u64 = 3;
    /// The process's events notification (see [`super::event`]): the
    /// process server signals it when a child exits, faults or is killed
    /// (see `process::wait`), granted interrupts signal it, and daemons
    /// hear of every process that ends.
    pub const EVENTS: u64 = 4;
    /// The connection to this node's cluster server, badged with the
    /// process's id, which the process server puts here when asked
    /// (`Request::ClusterConn`): where calls it answers `Elsewhere` go.
    pub const CLUSTER_CONN: u64 = 5;
    /// Device grants from the system description, in the order listed
    /// (`sysdesc::MAX_GRANTS` of each kind): I/O port ranges,
    pub const IO_PORTS: u64 = 8;
    /// and interrupt handlers (each signals [`EVENTS`] with
    /// [`super::event::irq`] of its index).
    pub const IRQ_HANDLERS: u64 = 11;
    /// First slot a process may fill itself (e.g. `CreateEndpoint`).
    pub const FIRST_FREE: u64 = 32;
    /// File server connections the client library takes for open files
    /// (`fs::client`): `FILE_CONNS..FILE_CONNS + FILE_CONN_COUNT`.
    pub const FILE_CONNS: u64 = 256;
    pub const FILE_CONN_COUNT: u64 = 512;
    /// A server's saved reply capabilities (`fs::server::ReplySlots`):
    /// `REPLIES..REPLIES + REPLY_COUNT`, in its own CNode.
    pub const REPLIES: u64 = 768;
    pub const REPLY_COUNT: u64 = 256;

    const _: () = assert!(FILE_CONNS >= FIRST_FREE && FILE_CONN_COUNT.is_multiple_of(64));
    const _: () = assert!(FILE_CONNS + FILE_CONN_COUNT <= REPLIES);
    const _: () = assert!(REPLIES + REPLY_COUNT <= 1 << super::CNODE_BITS);
}

/// Bits of the events notification's word. A daemon's or a driver's
/// notification is bound to its thread, so a receive on its endpoint also
/// returns events: their badge has [`event::FLAG`] set, which no
/// connection badge has.
pub mod event {
    /// In no connection's badge (see `rpc::PID_MAX` and the flags there).
    pub const FLAG: u64 = 1 << 26;
    /// The `i`th interrupt granted by the system description (of at most
    /// `sysdesc::MAX_GRANTS`) fired.
    pub const fn irq(i: usize) -> u64 {
        1 << i
    }
    /// A child ended.
    pub const CHILD: u64 = 1 << 3;
    /// Some process ended (daemons only): ask the process server which
    /// (`Request::Ended`).
    pub const ENDED: u64 = 1 << 4;

    const _: () = assert!(crate::sysdesc::MAX_GRANTS <= 3);
    const _: () = assert!(FLAG & crate::rpc::PID_MAX as u64 == 0 && FLAG & crate::rpc::FAULT_BADGE == 0);
    const _: () = assert!(FLAG & (crate::rpc::FILES_BADGE | crate::rpc::BIN_BADGE) == 0);
    const _: () = assert!(FLAG & !crate::sel4::BADGE_MASK == 0);
}

/// A process's memory comes from the process server in chunks of
/// 2^`MEMORY_CHUNK_BITS` bytes (what `/proc/<pid>/status` counts).
pub const MEMORY_CHUNK_BITS: u32 = 16;

/// Where every program is linked (see `libux/ux.ld`).
pub const IMAGE_BASE: u64 = 0x40_0000;
/// The probe word at the very start of the images that use it (`rt::PROBE`): two
/// processes reading "the same address" here see their own values only if
/// their address spaces are separate.
pub const PROBE: u64 = IMAGE_BASE;
/// Program segments lie below this (`elf::LOAD_END`): 768 MiB.
pub const LOAD_END: u64 = 0x3000_0000;
/// What a process needs at start, its IPC buffer, the shared buffer, its
/// stack and the first pages of its heap, lies in these 2 MiB: one page
/// table maps it all, and the page directory of the program's image
/// (both are in the first GiB), which a process makes, maps and deletes
/// at every spawn; spread out, they took four more.
pub const START_REGION: u64 = 0x3FE0_0000;
/// A process's (its first thread's) IPC buffer page.
pub const IPC_BUFFER: u64 = START_REGION;
/// The page shared with the process server for messages that do not fit
/// in the message registers (one per process, whichever thread holds it).
pub const SHARED_BUFFER: u64 = IPC_BUFFER + 0x1000;
/// Top of the stack; `STACK_PAGES` pages below it are the stack, the page
/// below those is left unmapped as a guard. The first thread's top
/// `STACK_EAGER` pages are mapped at start, the rest when first touched
/// (the process server maps them at the page fault and resumes); other
/// threads' stacks are mapped whole.
pub const STACK_TOP: u64 = START_REGION + 0x10_0000;
pub const STACK_PAGES: u64 = 16;
pub const STACK_EAGER: u64 = 2;

/// Threads a process may have at once, its first included
/// (`rpc::Request::Thread`).
pub const MAX_THREADS: usize = 16;
/// Thread `k`'s IPC buffer page (thread 0's is [`IPC_BUFFER`]).
pub const fn thread_ipc_buffer(k: usize) -> u64 {
    IPC_BUFFER + k as u64 * 0x2000
}
/// The top of thread `k`'s stack (thread 0's is [`STACK_TOP`]): stacks of
/// `STACK_PAGES` pages, each with an unmapped guard below, 1 MiB apart.
pub const fn thread_stack_top(k: usize) -> u64 {
    STACK_TOP - k as u64 * 0x10_0000
}
/// Where in its IPC buffer page a thread's own words are (its TLS base,
/// `fs`): the word's own address, then the thread's index. The seL4 IPC
/// buffer takes the first 1 KiB of the page.
pub const THREAD_LOCAL: u64 = 2048;

const _: () = assert!(thread_ipc_buffer(1) > SHARED_BUFFER);
// The IPC buffers lie below the first thread's stack and its guard.
const _: () = assert!(thread_ipc_buffer(MAX_THREADS) <= STACK_TOP - (STACK_PAGES + 1) * 0x1000);
// The other threads' stacks lie between the program and the start region,
// which shares the program's page directory.
const _: () = assert!(thread_stack_top(MAX_THREADS) - 0x10_0000 >= LOAD_END);
const _: () = assert!(START_REGION.is_multiple_of(0x20_0000) && START_REGION >> 30 == IMAGE_BASE >> 30);
const _: () = assert!((STACK_PAGES + 1) * 0x1000 <= 0x10_0000);
const _: () = assert!(STACK_EAGER >= 1 && STACK_EAGER <= STACK_PAGES);
/// The window anonymous memory (`MapAnon`, the heap) may use: from a
/// page above the stack's top (a gap) to `HEAP_END`.
pub const HEAP_BASE: u64 = STACK_TOP + 0x1000;
pub const HEAP_END: u64 = 0x80_0000_0000;
/// Heap pages the process server maps at start, at `HEAP_BASE`, where
/// the runtime's heap begins (most programs allocate before `main`:
/// mapping them then spares each a `MapAnon` call). One for a program:
/// most use less (measured high-water marks: `true` 32 bytes, `echo`
/// 80, `cat` 160, `ps` 1.9 KiB; `ls /bin` 12.8 KiB grows past two pages
/// anyway). The runtime is told how many bytes in `r8`.
pub const HEAP_EAGER: u64 = 1;
/// A daemon's, which allocates its tables before it serves: two, so
/// its heap grows in the steps it always has (and the node's resources
/// at "ready" include that growth).
pub const HEAP_EAGER_DAEMON: u64 = 2;
const _: () = assert!(HEAP_BASE + HEAP_EAGER_DAEMON * 0x1000 <= START_REGION + 0x20_0000);

/// The window DMA memory (`Request::MapDma`) may use.
pub const DMA_BASE: u64 = HEAP_END;
pub const DMA_END: u64 = DEVICE_BASE;
/// Where device memory grants are mapped, one after another (uncached).
pub const DEVICE_BASE: u64 = 0x88_0000_0000;
const _: () = assert!(DMA_BASE < DMA_END && DEVICE_BASE < IO_WINDOWS);

/// I/O windows: memory a client and a file server share for transfers
/// larger than a message (`fs::FsRequest::ReadWindow`). A client's window
/// onto its `n`th file server is at `IO_WINDOWS + n * IO_WINDOW_SPAN`,
pub const IO_WINDOWS: u64 = 0x90_0000_0000;
/// its first part the bulk part, the most one read or write moves (a
/// program's natural buffer size),
pub const IO_WINDOW: u64 = 64 * 1024;
/// then a part for messages (a datagram, a `ctl` line, a call): written
/// whole there by one thread while another holds the bulk part, as a
/// read that waits for data may do for long;
pub const IO_WINDOW_MESSAGE: u64 = 8 * 1024;
/// where the message part starts in a window (a server reading a message
/// from a client's window looks here);
pub const IO_WINDOW_MESSAGE_AT: u64 = IO_WINDOW;
pub const IO_WINDOW_SPAN: u64 = IO_WINDOW + IO_WINDOW_MESSAGE;
/// at most this many file servers;
pub const MAX_IO_WINDOWS: u64 = 64;
/// and the server sees it at `CLIENT_WINDOWS + pid * IO_WINDOW_SPAN`.
pub const CLIENT_WINDOWS: u64 = 0x100_0000_0000;

/// Where a file server sees the window of client `pid`.
pub const fn client_window(pid: crate::rpc::Pid) -> u64 {
    CLIENT_WINDOWS + pid as u64 * IO_WINDOW_SPAN
}

const _: () = assert!(IO_WINDOWS >= HEAP_END && IO_WINDOWS + MAX_IO_WINDOWS * IO_WINDOW_SPAN <= CLIENT_WINDOWS);
const _: () = assert!(client_window(crate::rpc::PID_MAX) + IO_WINDOW_SPAN <= 1 << 47);
const _: () = assert!(IO_WINDOW_SPAN.is_multiple_of(4096));

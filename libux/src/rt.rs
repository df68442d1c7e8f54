//! The runtime every seL4 program here links: the process entry point,
//! the heap, the console `print!`/`println!` use, the probe word, the
//! start block (argv, environment) and the panic handler.
//!
//! The heap is shared by a process's threads (see [`crate::thread`]);
//! each thread finds its own IPC buffer through its TLS base. The root task brings its own entry point and stack (the kernel starts
//! it with `rsp` = 0) and calls [`init_root`].

use crate::console::{Serial, COM1};
use crate::layout::{self, slot};
use crate::rpc::{self, Request, Response, StartBlock};
use crate::sel4::syscall;
use crate::sel4::IoPort;
use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::fmt::Write;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use linked_list_allocator::Heap;

/// The probe word, linked at [`crate::layout::PROBE`] in the images that
/// use it (the process server and `hello`, which show with it that their
/// address spaces are separate). Unused, it is not linked: a page fewer
/// for every other process.
#[unsafe(link_section = ".ux.probe")]
pub static PROBE: AtomicU64 = AtomicU64::new(0);

/// A process's entry: `rsp` is set by the process server, `rdi` is the
/// IPC buffer (also found through the TLS base), `rsi`/`rdx` the start
/// block (in the shared buffer), `r8` the bytes of heap mapped at
/// `layout::HEAP_BASE`. Calls the program's `main`.
///
/// # Safety
/// Only the kernel calls this, as a new thread's first instruction.
#[unsafe(naked)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn _start() -> ! {
    // The first thread's thread-local words, at the TLS base the process
    // server set (`layout::THREAD_LOCAL` into the IPC buffer, in `rdi`):
    // their own address, then index 0. Nothing reads them before this.
    core::arch::naked_asm!(
        "lea rax, [rdi + {local}]",
        "mov [rax], rax",
        "mov qword ptr [rax + 8], 0",
        "mov rcx, r8",
        "xor ebp, ebp",
        "and rsp, -16",
        "call {start}",
        "ud2",
        local = const layout::THREAD_LOCAL,
        start = sym process_start,
    )
}

unsafe extern "Rust" {
    /// Defined by [`crate::entry!`].
    fn ux_main() -> i32;
}

static START_BLOCK: AtomicU64 = AtomicU64::new(0);
static START_LEN: AtomicU64 = AtomicU64::new(0);

extern "C" fn process_start(_ipc_buffer: u64, start: u64, len: u64, heap: u64) -> ! {
    HEAP.adopt_eager(heap);
    // The process server wrote the start block in the shared buffer, which
    // the next large message overwrites: it is kept on the heap, for good.
    // SAFETY: `len` bytes at `start`, in our mapped shared buffer.
    let block = unsafe { core::slice::from_raw_parts(start as *const u8, len as usize) };
    let kept: &'static [u8] = alloc::vec::Vec::leak(block.to_vec());
    START_BLOCK.store(kept.as_ptr() as u64, Ordering::Relaxed);
    START_LEN.store(len, Ordering::Relaxed);
    if let Err((fd, e)) = crate::fd::open_inherited(&start_block().fds) {
        crate::println!("{}: cannot open descriptor {fd}: {e}", args().first().copied().unwrap_or("?"));
        exit(127);
    }
    // SAFETY: defined by the program through `entry!`.
    let status = unsafe { ux_main() };
    exit(status)
}

/// Defines the program's `main`: `fn() -> i32`, whose result is the exit
/// status.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[unsafe(no_mangle)]
        fn ux_main() -> i32 {
            $main()
        }
    };
}

/// The start block the process server wrote for us.
pub fn start_block() -> StartBlock<'static> {
    let (at, len) = (START_BLOCK.load(Ordering::Relaxed), START_LEN.load(Ordering::Relaxed));
    if at == 0 {
        return StartBlock {
            pid: 0,
            argv: alloc::vec::Vec::new(),
            env: alloc::vec::Vec::new(),
            fds: alloc::vec::Vec::new(),
        };
    }
    // SAFETY: `process_start` kept `len` bytes at `at` for good.
    let bytes = unsafe { core::slice::from_raw_parts(at as *const u8, len as usize) };
    StartBlock::decode(bytes).expect("the process server writes a valid start block")
}

/// Command-line arguments, `argv[0]` first.
pub fn args() -> alloc::vec::Vec<&'static str> {
    start_block().argv
}

static CONSOLE: AtomicU64 = AtomicU64::new(0);
static IS_ROOT: AtomicBool = AtomicBool::new(false);

/// Start-up for the root task, which holds the IPC buffer the kernel made,
/// the I/O port capability `console` (initialised here), and a heap of its
/// own making.
///
/// # Safety
/// `ipc_buffer` must be the root task's IPC buffer and `heap` a region the
/// task owns and never uses otherwise.
pub unsafe fn init_root(ipc_buffer: u64, console: IoPort, heap: &'static mut [u8]) {
    // SAFETY: per this function's contract.
    unsafe {
        syscall::set_root_ipc_buffer(ipc_buffer as *mut _);
        HEAP.with(|h| h.main.init(heap.as_mut_ptr(), heap.len()));
    }
    IS_ROOT.store(true, Ordering::Relaxed);
    CONSOLE.store(console.0, Ordering::Relaxed);
    Serial::new(console, COM1).init();
}

/// Collects one `print!`'s output so that it reaches its descriptor (or
/// the console) whole.
struct LineWriter {
    buf: [u8; 512],
    len: usize,
    fd: usize,
}

impl LineWriter {
    fn new(fd: usize) -> Self {
        LineWriter { buf: [0; 512], len: 0, fd }
    }

    fn flush(&mut self) {
        let bytes = &self.buf[..self.len];
        if crate::fd::is_open(self.fd) {
            let _ = crate::fd::write(self.fd, bytes);
        } else if IS_ROOT.load(Ordering::Relaxed) {
            let mut serial = Serial::new(IoPort(CONSOLE.load(Ordering::Relaxed)), COM1);
            for &b in bytes {
                if b == b'\n' {
                    serial.write_byte(b'\r');
                }
                serial.write_byte(b);
            }
        } else {
            let _ = rpc::client::call(slot::PROC_CONN, &Request::Write { bytes });
        }
        self.len = 0;
    }
}

impl Write for LineWriter {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for chunk in s.as_bytes().chunks(self.buf.len()) {
            if self.len + chunk.len() > self.buf.len() {
                self.flush();
            }
            self.buf[self.len..self.len + chunk.len()].copy_from_slice(chunk);
            self.len += chunk.len();
        }
        Ok(())
    }
}

/// Writes bytes to the console log as they are: the root task's serial
/// port, or the process server's log for a process.
pub fn write_console(bytes: &[u8]) {
    let mut w = LineWriter::new(usize::MAX);
    for chunk in bytes.chunks(w.buf.len()) {
        w.buf[..chunk.len()].copy_from_slice(chunk);
        w.len = chunk.len();
        w.flush();
    }
}

/// Prints to descriptor `fd`, or to the console log when it is not open.
#[doc(hidden)]
pub fn _print(fd: usize, args: core::fmt::Arguments) {
    let mut w = LineWriter::new(fd);
    let _ = w.write_fmt(args);
    w.flush();
}

/// Prints to standard output.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::rt::_print($crate::fd::STDOUT, format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! println {
    () => { $crate::print!("\n") };
    ($($arg:tt)*) => { $crate::rt::_print($crate::fd::STDOUT, format_args!("{}\n", format_args!($($arg)*))) };
}

/// Prints to standard error.
#[macro_export]
macro_rules! eprintln {
    ($($arg:tt)*) => { $crate::rt::_print($crate::fd::STDERR, format_args!("{}\n", format_args!($($arg)*))) };
}

/// Ends the process with `status`; never returns.
pub fn exit(status: i32) -> ! {
    if IS_ROOT.load(Ordering::Relaxed) {
        // Nobody to tell: the root task just stops.
        loop {
            let _ = crate::sel4::Tcb(crate::sel4::consts::init_cap::TCB).suspend();
            syscall::yield_now();
        }
    }
    let _ = rpc::client::call(slot::PROC_CONN, &Request::Exit { status });
    // Only reached if the process server refused the exit (a broken
    // connection, say): fault, which ends any process.
    loop {
        // SAFETY: ud2 raises an invalid-opcode fault and nothing else.
        unsafe { core::arch::asm!("ud2") }
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    crate::eprintln!("panic: {info}");
    exit(101)
}

/// The heap: a first-fit list allocator. A process's heap starts in the
/// pages the process server mapped (`layout::HEAP_EAGER`) and grows by
/// mapping pages with `MapAnon` at the top of the lower half
/// of the heap window, doubling (see `GROW_MIN`). The root task's starts
/// in a region of its image and goes on in a window whose pages it maps
/// itself ([`set_root_growth`]), a second list heap, since nothing may
/// be mapped just past its image. A list allocator cannot give back what it grew by, so a
/// process's large blocks ([`LARGE`] bytes and more: a connection's
/// buffers, say) are not in it: each is pages of its own in the upper
/// half, mapped when allocated and unmapped when freed, so what a burst
/// of clients took comes back when they go.
struct Allocator {
    heap: UnsafeCell<Heaps>,
    /// The index + 1 of the thread using `heap`, or 0.
    holder: AtomicU64,
    /// Held by the one thread growing the heap.
    growing: crate::sync::Mutex<()>,
    /// End of the mapped heap (processes only).
    top: AtomicU64,
    large: crate::sync::Mutex<Large>,
}

/// The list heaps: a process's one, or the root task's two.
struct Heaps {
    main: Heap,
    /// The root task's growth window, once it has grown (empty before).
    extra: Heap,
}

/// Gives `heap` the `bytes` at `at`: its first, or the next above it.
///
/// # Safety
/// The bytes are mapped, unused, and (if the heap has any) directly
/// above its top.
unsafe fn add(heap: &mut Heap, at: u64, bytes: u64) {
    // SAFETY: the caller's promise.
    unsafe {
        if heap.size() == 0 {
            heap.init(at as *mut u8, bytes as usize)
        } else {
            heap.extend(bytes as usize)
        }
    }
}

impl Heaps {
    /// A block from the first heap with room.
    fn allocate(&mut self, layout: Layout) -> Result<NonNull<u8>, ()> {
        self.main.allocate_first_fit(layout).or_else(|()| self.extra.allocate_first_fit(layout))
    }

    fn in_extra(&self, ptr: *mut u8) -> bool {
        self.extra.size() > 0 && ptr >= self.extra.bottom() && ptr < self.extra.top()
    }
}

/// How the root task's heap grows: the window up to `limit`, mapped up
/// to `top`, and what maps up to `bytes` of fresh pages at `at` in it,
/// saying how many it mapped. `map` runs inside an allocation and must
/// not allocate.
struct RootGrowth {
    limit: u64,
    top: u64,
    map: fn(at: u64, bytes: u64) -> u64,
}

static ROOT_GROWTH: crate::sync::Mutex<Option<RootGrowth>> = crate::sync::Mutex::new(None);

/// Bytes the root task's heap grows by at least.
const ROOT_GROW_MIN: u64 = 256 * 1024;

/// Lets the root task's heap grow into `[base, limit)` once its first
/// region is full, by `map`, which maps up to `bytes` of fresh pages at
/// `at`, returns how many it mapped, and must not allocate (it runs
/// inside an allocation).
pub fn set_root_growth(base: u64, limit: u64, map: fn(at: u64, bytes: u64) -> u64) {
    *ROOT_GROWTH.lock() = Some(RootGrowth { limit, top: base, map });
}

/// Blocks of at least this many bytes get pages of their own.
pub const LARGE: usize = 32 * 1024;
/// Where large blocks go: 256 GiB up, the upper half of the heap window.
const LARGE_BASE: u64 = layout::HEAP_END / 2;
/// Address ranges come in classes of 2^k pages (k < `CLASSES`: up to
/// 1 GiB a block); a freed range is kept for the next block of its class,
/// up to `KEPT` ranges in all (beyond, its addresses are not used again:
/// the window is 256 GiB; reusing them keeps the page tables that map
/// them from growing).
const CLASSES: usize = 19;
/// Freed ranges kept: their list (the address, with the class in the low
/// bits) is an ordinary small block, allocated once: 16 KiB, below
/// `LARGE`, so keeping it never asks for a large block.
const KEPT: usize = 2048;

/// The address ranges of large blocks.
struct Large {
    /// Below this, every range has been handed out once.
    next: u64,
    free: alloc::vec::Vec<u64>,
}

impl Large {
    /// The class of a block of `bytes`, and its pages.
    fn class(bytes: usize) -> Option<(usize, u64)> {
        let pages = (bytes as u64).div_ceil(PAGE);
        let k = pages.next_power_of_two().trailing_zeros() as usize;
        (k < CLASSES).then_some((k, pages))
    }

    fn take(&mut self, k: usize) -> Option<u64> {
        if let Some(i) = self.free.iter().rposition(|&e| e & (PAGE - 1) == k as u64) {
            return Some(self.free.swap_remove(i) & !(PAGE - 1));
        }
        let at = self.next;
        let end = at.checked_add((1u64 << k) * PAGE).filter(|&e| e <= layout::HEAP_END)?;
        self.next = end;
        Some(at)
    }

    fn give(&mut self, k: usize, at: u64) {
        if at + (1u64 << k) * PAGE == self.next {
            self.next = at; // the last handed out: simply not handed out
            return;
        }
        if self.free.capacity() == 0 {
            // 16 KiB from the small heap, which never takes this lock.
            let _ = self.free.try_reserve_exact(KEPT);
        }
        if self.free.len() < self.free.capacity().min(KEPT) {
            self.free.push(at | k as u64);
        }
    }
}

/// `MapAnon` or `UnmapAnon`, from anywhere: an allocation may happen
/// while a message sits in the IPC buffer (being decoded, say), and the
/// call must leave that message as it found it.
fn anon(req: &Request) -> bool {
    let message = rpc::client::save(crate::sel4::consts::msg::MAX_LENGTH);
    let done = rpc::client::call(slot::PROC_CONN, req) == Ok(Response::Done);
    rpc::client::restore(&message);
    done
}

// SAFETY: `holder` gives the heap to one thread at a time.
unsafe impl Sync for Allocator {}

/// Bytes the heap grows by at least: at first a little (most programs
/// need little, and every page mapped is a page made and zeroed at each
/// spawn), then as much as it has, up to `GROW_MAX` a time.
const GROW_MIN: u64 = 16 * 1024;
const GROW_MAX: u64 = 1024 * 1024;
const PAGE: u64 = 4096;

impl Allocator {
    fn with<R>(&self, f: impl FnOnce(&mut Heaps) -> R) -> R {
        let me = syscall::thread_index() as u64 + 1;
        while let Err(holder) = self.holder.compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed) {
            assert!(holder != me, "heap re-entered");
            syscall::yield_now();
        }
        // SAFETY: `holder` makes this the only reference.
        let r = f(unsafe { &mut *self.heap.get() });
        self.holder.store(0, Ordering::Release);
        r
    }

    /// Takes the `bytes` the process server mapped for a new process's
    /// heap (`layout::HEAP_EAGER`) as its start.
    fn adopt_eager(&self, bytes: u64) {
        if bytes == 0 {
            return;
        }
        self.top.store(layout::HEAP_BASE + bytes, Ordering::Relaxed);
        // SAFETY: mapped for us at start, at the heap's base; nothing else
        // uses them.
        self.with(|h| unsafe { h.main.init(layout::HEAP_BASE as *mut u8, bytes as usize) });
    }

    /// Maps at least `need` more bytes at the top of the root task's
    /// growth window.
    fn grow_root(&self, need: u64) -> bool {
        let mut growth = ROOT_GROWTH.lock();
        let Some(g) = growth.as_mut() else { return false };
        let bytes = need.max(ROOT_GROW_MIN).next_multiple_of(PAGE).min(g.limit.saturating_sub(g.top));
        if bytes < need {
            return false;
        }
        // Mapping takes system calls, which write the IPC buffer, where a
        // request being decoded may sit (as for `anon`).
        let message = rpc::client::save(crate::sel4::consts::msg::MAX_LENGTH);
        let mapped = (g.map)(g.top, bytes).min(bytes);
        rpc::client::restore(&message);
        if mapped == 0 {
            return false;
        }
        // What was mapped is the heap's, if less than asked: the window's
        // top never stays behind a mapped page.
        let top = g.top;
        g.top += mapped;
        // SAFETY: the pages were just mapped, directly above the window's
        // part in use.
        self.with(|h| unsafe { add(&mut h.extra, top, mapped) });
        true
    }

    /// Maps at least `need` more bytes at the top of a process's heap.
    fn grow(&self, need: u64) -> bool {
        if IS_ROOT.load(Ordering::Relaxed) {
            return self.grow_root(need);
        }
        let top = match self.top.load(Ordering::Relaxed) {
            0 => layout::HEAP_BASE,
            t => t,
        };
        let step = (top - layout::HEAP_BASE).clamp(GROW_MIN, GROW_MAX);
        let bytes = need.max(step).next_multiple_of(PAGE);
        if top + bytes > LARGE_BASE {
            return false;
        }
        if !anon(&Request::MapAnon { vaddr: top, pages: (bytes / PAGE) as u32 }) {
            return false;
        }
        self.top.store(top + bytes, Ordering::Relaxed);
        // SAFETY: the pages were just mapped, directly above the heap.
        self.with(|h| unsafe { add(&mut h.main, top, bytes) });
        true
    }
}

impl Allocator {
    /// Whether a block of `layout` gets pages of its own.
    fn is_large(layout: &Layout) -> bool {
        layout.size() >= LARGE && layout.align() <= PAGE as usize && !IS_ROOT.load(Ordering::Relaxed)
    }

    /// Fresh pages (zeroed) for a large block, or null.
    fn alloc_large(&self, bytes: usize) -> *mut u8 {
        let Some((k, pages)) = Large::class(bytes) else { return core::ptr::null_mut() };
        let Some(at) = self.large.lock().take(k) else { return core::ptr::null_mut() };
        if anon(&Request::MapAnon { vaddr: at, pages: pages as u32 }) {
            return at as *mut u8;
        }
        self.large.lock().give(k, at);
        core::ptr::null_mut()
    }

    fn free_large(&self, at: u64, bytes: usize) {
        let (k, pages) = Large::class(bytes).expect("it was allocated");
        // Unmapped, its frames go back to the node; its addresses to the
        // next block of its class. A block we could not unmap keeps its
        // addresses (they are still mapped).
        if anon(&Request::UnmapAnon { vaddr: at, pages: pages as u32 }) {
            self.large.lock().give(k, at);
        }
    }
}

unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if Self::is_large(&layout) {
            return self.alloc_large(layout.size());
        }
        if let Ok(p) = self.with(|h| h.allocate(layout)) {
            return p.as_ptr();
        }
        // One thread grows the heap at a time; the others, once it has,
        // find room in what it added.
        let _growing = self.growing.lock();
        loop {
            if let Ok(p) = self.with(|h| h.allocate(layout)) {
                return p.as_ptr();
            }
            // Room for the block, its alignment and the list's bookkeeping.
            if !self.grow((layout.size() + layout.align() + 64) as u64) {
                return core::ptr::null_mut();
            }
        }
    }

    /// Large blocks are fresh pages, zero already.
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if Self::is_large(&layout) {
            return self.alloc_large(layout.size());
        }
        // SAFETY: as `alloc`'s contract.
        let p = unsafe { self.alloc(layout) };
        if !p.is_null() {
            // SAFETY: `alloc` gave `layout.size()` bytes at `p`.
            unsafe { core::ptr::write_bytes(p, 0, layout.size()) };
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if Self::is_large(&layout) {
            return self.free_large(ptr as u64, layout.size());
        }
        // SAFETY: `ptr` came from `alloc` with this layout.
        self.with(|h| unsafe {
            let heap = if h.in_extra(ptr) { &mut h.extra } else { &mut h.main };
            heap.deallocate(NonNull::new_unchecked(ptr), layout)
        })
    }
}

#[global_allocator]
static HEAP: Allocator = Allocator {
    heap: UnsafeCell::new(Heaps { main: Heap::empty(), extra: Heap::empty() }),
    holder: AtomicU64::new(0),
    growing: crate::sync::Mutex::new(()),
    top: AtomicU64::new(0),
    large: crate::sync::Mutex::new(Large { next: LARGE_BASE, free: alloc::vec::Vec::new() }),
};

/// Bytes of the heap in use and in all.
pub fn heap_usage() -> (u64, u64) {
    HEAP.with(|h| ((h.main.used() + h.extra.used()) as u64, (h.main.size() + h.extra.size()) as u64))
}

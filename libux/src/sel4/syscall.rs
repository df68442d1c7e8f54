//! The seL4 system calls, through the x86_64 `syscall` instruction.
//!
//! Registers: syscall number in `rdx`, capability (or badge on return) in
//! `rdi`, message info in `rsi`, message registers 0-3 in `r10`, `r8`,
//! `r9`, `r15`. The kernel returns with `sysretq` after zeroing `rsp`, so
//! the stack pointer is kept in `r12`, which the kernel preserves.

use super::consts::syscall as sys;
use super::{CPtr, IpcBuffer, MessageInfo};
use core::arch::asm;
use core::sync::atomic::{AtomicPtr, Ordering};

/// A message as it travels in registers: info word and the first four
/// message registers. Registers past the fourth live in the IPC buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Msg {
    pub info: MessageInfo,
    pub mr: [u64; 4],
}

impl Msg {
    pub const fn new(label: u64, mr: &[u64]) -> Msg {
        let mut regs = [0; 4];
        let mut i = 0;
        while i < mr.len() && i < 4 {
            regs[i] = mr[i];
            i += 1;
        }
        Msg { info: MessageInfo::new(label, 0, 0, mr.len() as u64), mr: regs }
    }
}

/// The root task's IPC buffer. Every other thread finds its own through
/// its TLS base (`layout::THREAD_LOCAL`), which the process server sets.
static ROOT_IPC_BUFFER: AtomicPtr<IpcBuffer> = AtomicPtr::new(core::ptr::null_mut());

/// Records where the root task's IPC buffer is mapped (the root task is
/// single-threaded and has no TLS base).
///
/// # Safety
/// `buffer` must point to the root task's mapped, registered IPC buffer.
pub unsafe fn set_root_ipc_buffer(buffer: *mut IpcBuffer) {
    ROOT_IPC_BUFFER.store(buffer, Ordering::Relaxed);
}

/// This thread's own words at its TLS base: their address (so that one
/// `fs`-relative load finds them) and its index.
fn thread_local() -> *const [u64; 2] {
    let at: u64;
    // SAFETY: the process server sets every thread's TLS base to its
    // thread-local words, whose first word is their own address.
    unsafe { asm!("mov {}, qword ptr fs:[0]", out(reg) at, options(nostack, readonly, preserves_flags)) };
    at as *const [u64; 2]
}

/// This thread's IPC buffer.
pub fn ipc_buffer() -> &'static mut IpcBuffer {
    let root = ROOT_IPC_BUFFER.load(Ordering::Relaxed);
    let p = if root.is_null() { (thread_local() as u64 - crate::layout::THREAD_LOCAL) as *mut IpcBuffer } else { root };
    // SAFETY: the thread's own buffer; a thread never holds two of these
    // references across a system call.
    unsafe { &mut *p }
}

/// This thread's index in its process (0: the first; the root task's is 0).
pub fn thread_index() -> usize {
    if !ROOT_IPC_BUFFER.load(Ordering::Relaxed).is_null() {
        return 0;
    }
    // SAFETY: see `thread_local`; the words live as long as the thread.
    unsafe { (*thread_local())[1] as usize }
}

#[inline(always)]
fn send_recv(number: isize, dest: CPtr, msg: Msg) -> (u64, Msg) {
    let (badge, info);
    let [mut m0, mut m1, mut m2, mut m3] = msg.mr;
    // SAFETY: the seL4 syscall ABI as described in the module docs; the
    // kernel writes only the registers named here and memory it owns
    // through capabilities (hence no `nomem`).
    unsafe {
        asm!(
            "mov r12, rsp",
            "syscall",
            "mov rsp, r12",
            inout("rdx") number => _,
            inout("rdi") dest => badge,
            inout("rsi") msg.info.0 => info,
            inout("r10") m0,
            inout("r8") m1,
            inout("r9") m2,
            inout("r15") m3,
            out("rcx") _,
            out("r11") _,
            out("r12") _,
        );
    }
    (badge, Msg { info: MessageInfo(info), mr: [m0, m1, m2, m3] })
}

/// Call: send on `dest` and wait for the reply. Returns the reply.
#[inline(always)]
pub fn call(dest: CPtr, msg: Msg) -> Msg {
    send_recv(sys::CALL, dest, msg).1
}

/// Send (blocking) on `dest`.
#[inline(always)]
pub fn send(dest: CPtr, msg: Msg) {
    send_recv(sys::SEND, dest, msg);
}

/// Send on `dest` if a receiver waits; otherwise drop the message.
#[inline(always)]
pub fn nb_send(dest: CPtr, msg: Msg) {
    send_recv(sys::NB_SEND, dest, msg);
}

/// Wait for a message on `src`. Returns the sender's badge and message.
#[inline(always)]
pub fn recv(src: CPtr) -> (u64, Msg) {
    send_recv(sys::RECV, src, Msg::new(0, &[]))
}

/// Poll `src`: like [`recv`] but returns at once if nothing is waiting
/// (then the badge is 0 and the message empty).
#[inline(always)]
pub fn nb_recv(src: CPtr) -> (u64, Msg) {
    send_recv(sys::NB_RECV, src, Msg::new(0, &[]))
}

/// Reply to the last caller.
#[inline(always)]
pub fn reply(msg: Msg) {
    send_recv(sys::REPLY, 0, msg);
}

/// Reply to the last caller, then wait on `src` in one system call.
#[inline(always)]
pub fn reply_recv(src: CPtr, msg: Msg) -> (u64, Msg) {
    send_recv(sys::REPLY_RECV, src, msg)
}

/// Give up the rest of this time slice.
#[inline(always)]
pub fn yield_now() {
    send_recv(sys::YIELD, 0, Msg::new(0, &[]));
}

/// Write one byte through the kernel's console. Debug kernels only.
pub fn debug_put_char(c: u8) {
    send_recv(sys::DEBUG_PUT_CHAR, c as u64, Msg::new(0, &[]));
}

/// Stop the whole machine. Debug kernels only.
pub fn debug_halt() -> ! {
    send_recv(sys::DEBUG_HALT, 0, Msg::new(0, &[]));
    unreachable!("DebugHalt returned")
}

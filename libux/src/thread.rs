//! Threads: more seL4 threads in the caller's address space and CSpace,
//! made by the process server (`Request::Thread`), each with its own stack
//! (`layout::thread_stack_top`), IPC buffer and thread-local words
//! (`layout::THREAD_LOCAL`). They are the one mechanism for concurrency in
//! a process: a thread makes a call that may take long (a read that
//! blocks, a relayed `Wait`) while the others go on. A fault or a panic in
//! any thread ends the process; a thread that returns ends itself.
//!
//! What threads share is the heap, descriptors, file connections (a busy
//! I/O window sends a thread to message-sized transfers, never to waiting)
//! and the shared buffer (see `rpc::client::call`); their data they share
//! through [`crate::sync::Mutex`].

use crate::layout::slot;
use crate::rpc::{client, Errno, Request, Response};
use crate::sel4::syscall;
use alloc::boxed::Box;

/// A thread of this process, by index (0: the first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThreadId(pub u32);

type Job = Box<dyn FnOnce() + Send>;

/// Runs `f` on a new thread.
pub fn spawn(f: impl FnOnce() + Send + 'static) -> Result<ThreadId, Errno> {
    let job: Box<Job> = Box::new(Box::new(f));
    let arg = Box::into_raw(job) as u64;
    let r = client::call(slot::PROC_CONN, &Request::Thread { entry: entry as *const () as u64, arg });
    match r {
        Ok(Response::Thread(index)) => Ok(ThreadId(index)),
        other => {
            // SAFETY: no thread started, so the job is still ours.
            drop(unsafe { Box::from_raw(arg as *mut Job) });
            Err(other.err().unwrap_or(Errno::BadRequest))
        }
    }
}

/// The calling thread.
pub fn current() -> ThreadId {
    ThreadId(syscall::thread_index() as u32)
}

/// A new thread's first instruction: `rsp` at the top of its stack, `rdi`
/// its job.
#[unsafe(naked)]
extern "C" fn entry() -> ! {
    core::arch::naked_asm!("xor ebp, ebp", "and rsp, -16", "call {start}", "ud2", start = sym start)
}

extern "C" fn start(job: u64) -> ! {
    // SAFETY: `spawn` passed a boxed job and gave up ownership of it.
    let job = unsafe { Box::from_raw(job as *mut Job) };
    job();
    exit()
}

/// Ends the calling thread; the first thread ends the process (status 0).
pub fn exit() -> ! {
    let index = syscall::thread_index();
    if index == 0 {
        crate::rt::exit(0)
    }
    let _ = client::call(slot::PROC_CONN, &Request::ThreadExit { index: index as u32 });
    // Only reached if the process server refused: end the process.
    crate::rt::exit(101)
}

//! The runtime every seL4 program here links: entry point with its own
//! stack (the kernel starts threads with `rsp` = 0), the console
//! `print!`/`println!` use, the probe word, and the panic handler.

use crate::console::{Serial, COM1};
use crate::layout::slot;
use crate::proto;
use crate::sel4::syscall::{self, Msg};
use crate::sel4::IoPort;
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

const STACK_SIZE: usize = 64 * 1024;

#[repr(C, align(16))]
struct Stack([u8; STACK_SIZE]);

static mut STACK: Stack = Stack([0; STACK_SIZE]);

/// The probe word, linked at [`crate::layout::PROBE`] in every image.
#[unsafe(link_section = ".ux.probe")]
#[unsafe(no_mangle)]
pub static PROBE: AtomicU64 = AtomicU64::new(0);

/// Sets up the stack and calls `ux_main(rdi, rsi)`, which the program
/// defines with [`crate::entry!`].
///
/// # Safety
/// Only the kernel (root task) or the process server (children) call this.
#[unsafe(naked)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn _start() -> ! {
    core::arch::naked_asm!(
        "lea rsp, [rip + {stack} + {size}]",
        "xor ebp, ebp",
        "call ux_main",
        "ud2",
        stack = sym STACK,
        size = const STACK_SIZE,
    )
}

/// Defines the program's entry point: `fn(a0: u64, a1: u64) -> !`, called
/// with the first two start registers (see [`crate::layout`]).
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[unsafe(no_mangle)]
        extern "C" fn ux_main(a0: u64, a1: u64) -> ! {
            $main(a0, a1)
        }
    };
}

static CONSOLE: AtomicU64 = AtomicU64::new(0);
static IS_ROOT: AtomicBool = AtomicBool::new(false);

/// Start-up for a process: IPC buffer and console from the well-known
/// slots.
pub fn init_process(ipc_buffer: u64) {
    // SAFETY: the process server maps and registers this page for us.
    unsafe { syscall::set_ipc_buffer(ipc_buffer as *mut _) };
    CONSOLE.store(slot::CONSOLE, Ordering::Relaxed);
}

/// Start-up for the root task, which holds the IPC buffer the kernel made
/// and the I/O port capability `console` (initialised here).
pub fn init_root(ipc_buffer: u64, console: IoPort) {
    // SAFETY: the kernel maps and registers the root task's buffer.
    unsafe { syscall::set_ipc_buffer(ipc_buffer as *mut _) };
    IS_ROOT.store(true, Ordering::Relaxed);
    CONSOLE.store(console.0, Ordering::Relaxed);
    Serial::new(console, COM1).init();
}

/// The serial console.
pub fn console() -> Serial<IoPort> {
    Serial::new(IoPort(CONSOLE.load(Ordering::Relaxed)), COM1)
}

#[doc(hidden)]
pub fn _print(args: core::fmt::Arguments) {
    let _ = console().write_fmt(args);
}

#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::rt::_print(format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! println {
    () => { $crate::print!("\n") };
    ($($arg:tt)*) => { $crate::rt::_print(format_args!("{}\n", format_args!($($arg)*))) };
}

/// Ends the process: tells the process server and never returns.
pub fn exit(status: u64) -> ! {
    if !IS_ROOT.load(Ordering::Relaxed) {
        syscall::send(slot::PROC_CONN, Msg::new(proto::label::EXIT, &[status]));
    }
    // The root task has nobody to tell; a process whose EXIT was lost is
    // suspended by the process server when it faults here.
    loop {
        let _ = crate::sel4::Tcb(crate::sel4::consts::init_cap::TCB).suspend();
        syscall::yield_now();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    crate::println!("panic: {info}");
    exit(101)
}

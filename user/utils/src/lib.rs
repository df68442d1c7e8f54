//! What the utilities in `/bin` share: raw output to standard output (or
//! the console log for a program started without descriptors), usage
//! messages, and error reports. Each utility is one file in `src/bin`.
#![no_std]

extern crate alloc;

use libux::fd;
use libux::rpc::Errno;

/// Writes bytes as they are to standard output.
pub fn out(bytes: &[u8]) -> Result<(), Errno> {
    if fd::is_open(fd::STDOUT) {
        fd::write(fd::STDOUT, bytes).map(drop)
    } else {
        libux::rt::write_console(bytes);
        Ok(())
    }
}

/// Prints `usage: ...` to standard error; the status for it.
pub fn usage(text: &str) -> i32 {
    libux::eprintln!("usage: {text}");
    2
}

/// Reports `what` failing with `e` as `prog: what: e`; the status for it.
pub fn fail(prog: &str, what: &str, e: Errno) -> i32 {
    libux::eprintln!("{prog}: {what}: {e}");
    1
}

/// A monotonic clock in microseconds (the TSC at the rate the kernel
/// reports).
pub struct Clock {
    mhz: u64,
}

impl Clock {
    pub fn new() -> Clock {
        Clock { mhz: libux::process::stats().map(|s| s.tsc_mhz.max(1)).unwrap_or(1) }
    }

    pub fn micros(&self) -> u64 {
        // SAFETY: rdtsc has no preconditions.
        unsafe { core::arch::x86_64::_rdtsc() / self.mhz }
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

/// FNV-1a, 64 bits: the checksum `ttcp` prints on both ends.
pub struct Fnv(pub u64);

impl Fnv {
    pub fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    pub fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x100_0000_01b3);
        }
    }
}

impl Default for Fnv {
    fn default() -> Self {
        Self::new()
    }
}

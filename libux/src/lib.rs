//! `libux`: the low-level system library shared by every program on a node.
//!
//! It owns the seL4 system-call interface ([`sel4`]), the formats the boot
//! process reads ([`bootfs`], [`elf`], [`fw_cfg`]), the serial console
//! driver ([`console`]) over [`port`] I/O, the process start-up contract
//! ([`layout`]), the process server protocol ([`rpc`]) with its client
//! ([`process`]), the file protocol ([`fs`]) with descriptors ([`fd`]),
//! the `/proc` formats ([`procfs`]), path names ([`path`]) and the mount
//! table logic ([`namespace`]), the lock threads share data with
//! ([`sync`]), and, on the target, the runtime ([`rt`]) and threads
//! ([`thread`]).
//!
//! It depends on no server crate. Everything except the `asm!` system calls
//! and the runtime is plain `no_std` logic, tested on the host with
//! `cargo test -p libux`.
#![no_std]

extern crate alloc;

pub mod bootfs;
pub mod cluster;
pub mod console;
pub mod crc;
pub mod elf;
pub mod fs;
pub mod fw_cfg;
pub mod hpet;
pub mod layout;
mod le;
pub mod namespace;
pub mod net;
pub mod path;
pub mod port;
pub mod rpc;
pub mod sel4;
pub mod sync;
pub mod sysdesc;
pub mod time;

#[cfg(target_arch = "x86_64")]
pub mod fd;
#[cfg(target_arch = "x86_64")]
pub mod process;
pub mod procfs;
#[cfg(target_os = "none")]
pub mod rt;
#[cfg(target_os = "none")]
pub mod thread;

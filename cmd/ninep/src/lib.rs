//! 9P in the OS: the glue between `fs9p` (protocol, host-tested there)
//! and the node's files and network (`libux`).
//!
//! - `exportfs` serves the node's namespace (`/`, with `/proc`, `/tmp`,
//!   `/bin`, `/dev`, `/net`) over 9P on TCP 564: a listener announces the
//!   port and hands each connection to a child of its own that serves it
//!   ([`osfs`]: `fs9p::server::Filesystem` over `libux::fs::client`).
//! - `mount9p ADDRESS NAME` dials an export and serves it at `/n/NAME`,
//!   answering the OS file protocol with 9P requests ([`remote`]), many
//!   at once on one connection ([`wire`], with replies sorted by tag in
//!   [`mux`]).
//! - `ninepbench` (figures).
//!
//! Everything here reaches the system only through files and the process
//! API: no capability beyond a process's well-known slots, no network but
//! the `/net` files. The pure parts ([`errors`], [`mux`]) are host-tested.
#![no_std]

extern crate alloc;

#[cfg(feature = "program")]
pub mod auth;
pub mod errors;
pub mod mux;
#[cfg(feature = "program")]
pub mod osfs;
#[cfg(feature = "program")]
pub mod remote;
#[cfg(feature = "program")]
pub mod wire;

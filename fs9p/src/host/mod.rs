//! Host builds (feature `std`): a [`Filesystem`](crate::server::Filesystem)
//! exporting a host directory ([`DirFs`]), serving sessions over TCP
//! ([`serve`]), and a client ([`Client`]). The tests and people debugging
//! a node from the host use these, through `u9p`.

mod client;
mod dirfs;
mod tcp;

pub use client::{Client, ClientError, Tcp};
pub use dirfs::DirFs;
pub use tcp::{read_frame, serve, serve_connection};

//! Host builds (feature `std`): a [`Filesystem`](crate::server::Filesystem)
//! exporting a host directory ([`DirFs`]), serving sessions over TCP
//! ([`serve`]), and a client ([`Client`]). The tests and people debugging
//! a node from the host use these, through `u9p`.

mod acting;
mod client;
mod dirfs;
mod tcp;

pub use client::{Client, ClientError, Tcp};
pub use dirfs::{DirFs, DirNode, Users};
pub use tcp::{read_frame, serve, serve_connection, MAX_CONNECTIONS};

/// Whether this process runs as root (and so may act as its clients).
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Raises this process's limit of open files to the most it may have:
/// each client's open fids are open files here.
pub fn raise_open_files_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    limit.current = limit.maximum;
    let _ = setrlimit(Resource::Nofile, limit);
}

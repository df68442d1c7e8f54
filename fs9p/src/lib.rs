//! `fs9p`: the 9P2000 and 9P2000.L protocols.
//!
//! Built so far: the message codec ([`codec`], with the types in [`msg`]):
//! every message of both dialects, zero-copy decoding with strict bounds
//! checks (a length that lies, a truncated message, a string that is not
//! UTF-8 or runs past the message, an unknown type: each is a
//! [`DecodeError`], never a panic, and nothing is allocated, so no
//! untrusted length sizes an allocation), and encoding into a caller's
//! buffer. Host-tested and fuzzed (`fs9p/fuzz`).
//!
//! The server ([`server`]): a session per connection, generic over a
//! [`server::Filesystem`], speaking either dialect. The client
//! ([`client`]): requests, replies matched by tag, fids, walks and file
//! operations, generic over a byte-stream [`client::Transport`]. With the
//! `std` feature, [`host`] adds what runs on a host: a file system
//! exporting a directory, a TCP transport, the client over TCP, and the
//! `u9p` command line.
//!
//! The OS glue (the export of a node's namespace over `/net`, the client
//! file server that mounts a remote export) is in `cmd/ninep`: this crate
//! stays free of `libux` and seL4, and knows nothing of the cluster.
#![no_std]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod auth;
pub mod client;
pub mod codec;
pub mod error;
#[cfg(feature = "std")]
pub mod host;
pub mod msg;
pub mod server;

pub use codec::{decode, encode, frame_len, DecodeError, EncodeError};
pub use error::Error;
pub use msg::*;

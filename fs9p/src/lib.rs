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
//! [`server::Filesystem`], speaking either dialect. With the `std`
//! feature, [`host`] adds what runs on a host: a file system exporting a
//! directory, a TCP transport, a client, and the `u9p` command line.
//!
//! To come (issue "fs9p"): the in-OS export over `/net` and the client
//! file server that mounts a remote export. This crate may use `libux` and
//! the `netstack` file interface, and knows nothing of the cluster.
#![no_std]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod codec;
pub mod error;
#[cfg(feature = "std")]
pub mod host;
pub mod msg;
pub mod server;

pub use codec::{decode, encode, frame_len, DecodeError, EncodeError};
pub use error::Error;
pub use msg::*;

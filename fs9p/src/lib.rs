//! `fs9p`: the 9P2000 / 9P2000.L codec, and the 9P server and client file
//! servers built on it.
//!
//! Not built yet: this crate is a placeholder in the layout so that its
//! place and its rules are fixed. It will own the message codec (no_std,
//! host-tested and fuzzed), the server (generic over a transport and a file
//! system) and the client mount. It may use `libux` and the `netstack`
//! file interface, and must know nothing of the cluster.
#![no_std]

//! The logic of the device server (`devfs`), free of seL4 so that it is
//! tested on the host: the console's line discipline ([`line`]), what
//! `/dev/consctl` takes ([`consctl`]) and pipes ([`pipe`]). The server
//! (`main.rs`) owns the hardware and the protocol.
#![no_std]

extern crate alloc;

pub mod consctl;
pub mod line;
pub mod pipe;

//! The logic of the device server (`devfs`), free of seL4 so that it is
//! tested on the host: the console's line discipline ([`line`]), what
//! `/dev/consctl` takes ([`consctl`]), pipes ([`pipe`]) and the HPET's
//! alarm ([`hpet`], over registers the server maps). The server
//! (`main.rs`) owns the hardware and the protocol.
#![no_std]

extern crate alloc;

pub mod consctl;
pub mod hpet;
pub mod line;
pub mod pipe;

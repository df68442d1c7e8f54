//! `netstack`: the NIC driver and the `smoltcp` TCP/IP stack.
//!
//! The library is the logic tested on the host: the virtio split
//! virtqueue ([`virtq`]), the clock's rate for the stack's timers
//! ([`clock`]), neighbours' addresses gleaned from their frames
//! ([`glean`]); the text of the `/net` files is `libux::net`.
//! The program (`main.rs`, feature `server`) is an ordinary process that
//! holds only what the system description grants it: the I/O ports and
//! interrupts of its PCI devices (legacy virtio-net NICs), the CMOS
//! clock, and memory for DMA; it reaches the process server only through
//! `libux`'s protocol, and serves networking as files at `/net`.
#![no_std]

extern crate alloc;

pub mod clock;
pub mod glean;
pub mod virtq;

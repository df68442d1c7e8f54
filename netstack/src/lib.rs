//! `netstack`: the NIC driver and the `smoltcp` TCP/IP stack, serving
//! networking as files under `/net`.
//!
//! Not built yet: this crate is a placeholder in the layout so that its
//! place and its rules are fixed. It will run as an ordinary process that
//! holds only the I/O ports, device memory and interrupt the system
//! description grants it, and it reaches the process server only through
//! `libux`'s protocol.
#![no_std]

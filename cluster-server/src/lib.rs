//! `cluster-server`: membership, cluster-wide process ids, and
//! `/proc/cluster`, forwarding process API calls to local or remote process
//! servers over 9P.
//!
//! Not built yet: this crate is a placeholder in the layout so that its
//! place and its rules are fixed. It will interpose on processes through
//! the redirectable process server connection (`libux`) and talk to other
//! nodes through `fs9p`; it never links process server internals.
#![no_std]

//! `cluster-server`: the cluster's membership, its node table, and
//! `/proc/cluster`.
//!
//! The program (`cluster`, a daemon of every node) finds the other nodes
//! on the cluster's segment, admits those that prove they hold the
//! cluster's secret ([`membership`], over the datagrams of [`msg`]), and
//! serves the node table at `/proc/cluster/nodes` (formats in
//! `libux::cluster`). It reaches the system only through files (`/net`,
//! `/dev`) and the process API; it never links process server internals.
//! The protocol and the table are `no_std` and host-tested; only the
//! program's glue needs a node.
#![no_std]

extern crate alloc;

pub mod call;
pub mod fanout;
pub mod membership;
pub mod msg;
pub mod ntree;
pub mod slots;
pub mod spawn;
pub mod tree;

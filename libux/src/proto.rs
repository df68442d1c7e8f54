//! Messages on the process server connection, in the bootstrap form this
//! stage of the system needs: a label and up to four words in message
//! registers. Badges name the sender: the process id, with
//! [`FAULT_BADGE`] set on the copy handed to the kernel as the fault
//! endpoint.

/// Set in the badge of a process's fault endpoint.
pub const FAULT_BADGE: u64 = 1 << 27;

/// Request labels.
pub mod label {
    /// `[probe address, probe value]`: the caller reports the word it sees
    /// at the probe address. Reply: `[process id]`.
    pub const HELLO: u64 = 1;
    /// `[status]`: the caller is done. No reply.
    pub const EXIT: u64 = 2;
    /// No arguments, empty reply: the cheapest round trip, for benchmarks.
    pub const NULL: u64 = 3;
    /// Reply to a request the server does not know: `[its label]`.
    pub const BAD_REQUEST: u64 = 0xf_ffff;
}

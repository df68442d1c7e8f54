//! How many calls that go through (to a node's `/proc`, to another node)
//! run at once: each holds a thread of the tree's pool for as long as the
//! node takes, so they are counted in all and per client, and a call
//! beyond the limits is refused (`Busy`), never queued. Helpers of a
//! fan-out (`fanout`) count as calls of the fan-out's client, within a
//! lower limit, so that fan-outs never take the last slots from calls.
//! Counting only: the program keeps a [`Slots`] under its lock.

use alloc::collections::BTreeMap;
use libux::rpc::Pid;

/// The limits.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Calls through at once, in all.
    pub all: u32,
    /// Of them, one client's.
    pub per_client: u32,
    /// Of `all`, what helpers of fan-outs leave to calls.
    pub helpers_leave: u32,
}

/// The calls through now, by client (a client holding none has no
/// entry, so the map holds at most `Limits::all` entries).
#[derive(Default, Debug)]
pub struct Slots {
    held: BTreeMap<Pid, u32>,
}

impl Slots {
    /// Counts a call of `pid`'s, if the limits allow it.
    pub fn take(&mut self, pid: Pid, limits: Limits) -> bool {
        self.take_within(pid, limits.all, limits.per_client)
    }

    /// Counts a helper of `client`'s fan-out as a call of the client's,
    /// if the limits allow it and it leaves `helpers_leave` slots.
    pub fn take_helper(&mut self, client: Pid, limits: Limits) -> bool {
        self.take_within(client, limits.all.saturating_sub(limits.helpers_leave), limits.per_client)
    }

    fn take_within(&mut self, pid: Pid, all: u32, per_client: u32) -> bool {
        let used: u32 = self.held.values().sum();
        if used >= all || self.held.get(&pid).is_some_and(|&mine| mine >= per_client) {
            return false;
        }
        *self.held.entry(pid).or_insert(0) += 1;
        true
    }

    /// A call of `pid`'s (or a helper for it) is done.
    pub fn give_back(&mut self, pid: Pid) {
        if let Some(n) = self.held.get_mut(&pid) {
            *n -= 1;
            if *n == 0 {
                self.held.remove(&pid);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits { all: 8, per_client: 4, helpers_leave: 2 };

    #[test]
    fn a_client_takes_its_share_and_no_more() {
        let mut s = Slots::default();
        assert!((0..4).all(|_| s.take(1, LIMITS)));
        assert!(!s.take(1, LIMITS));
        assert!(s.take(2, LIMITS));
        s.give_back(1);
        assert!(s.take(1, LIMITS));
    }

    #[test]
    fn calls_take_every_slot_but_helpers_leave_some() {
        let mut s = Slots::default();
        // Two fan-outs: each client's call and three helpers would be
        // eight; helpers stop at six, leaving two to anyone's calls.
        assert!(s.take(1, LIMITS) && s.take(2, LIMITS));
        let helpers =
            (0..3).filter(|_| s.take_helper(1, LIMITS)).count() + (0..3).filter(|_| s.take_helper(2, LIMITS)).count();
        assert_eq!(helpers, 4);
        assert!(s.take(3, LIMITS) && s.take(4, LIMITS));
        assert!(!s.take(5, LIMITS), "past the limit in all");
        assert!(!s.take_helper(1, LIMITS));
    }

    #[test]
    fn refused_or_done_clients_leave_no_entry() {
        let mut s = Slots::default();
        assert!((1..=8).all(|pid| s.take(pid, LIMITS)));
        for pid in 100..1000 {
            assert!(!s.take(pid, LIMITS) && !s.take_helper(pid, LIMITS));
        }
        assert_eq!(s.held.len(), 8);
        (1..=8).for_each(|pid| s.give_back(pid));
        // Given back more often than taken: nothing happens.
        s.give_back(1);
        assert!(s.held.is_empty());
    }
}

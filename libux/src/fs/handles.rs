//! A file server's handles: per client (a process, by its badge), each
//! naming what the server keeps for one open file. One table for every
//! server, so that a client's limit, its handles' lookup and what goes
//! when it ends are the same everywhere.

use crate::rpc::{Errno, Pid};
use alloc::collections::BTreeMap;
use alloc::vec::Vec;

/// A client's name for a file it opened.
pub type Handle = u32;

pub struct Handles<V> {
    map: BTreeMap<(Pid, Handle), V>,
    next: Handle,
    /// Handles one client may hold.
    per_client: usize,
}

impl<V> Handles<V> {
    pub const fn new(per_client: usize) -> Self {
        Handles { map: BTreeMap::new(), next: 0, per_client }
    }

    /// A new handle of `pid`'s for `v`; `TooMany` when it holds its limit.
    pub fn insert(&mut self, pid: Pid, v: V) -> Result<Handle, Errno> {
        if self.count_of(pid) >= self.per_client {
            return Err(Errno::TooMany);
        }
        loop {
            self.next = self.next.wrapping_add(1);
            if !self.map.contains_key(&(pid, self.next)) {
                self.map.insert((pid, self.next), v);
                return Ok(self.next);
            }
        }
    }

    pub fn get(&self, pid: Pid, h: Handle) -> Result<&V, Errno> {
        self.map.get(&(pid, h)).ok_or(Errno::BadHandle)
    }

    pub fn get_mut(&mut self, pid: Pid, h: Handle) -> Result<&mut V, Errno> {
        self.map.get_mut(&(pid, h)).ok_or(Errno::BadHandle)
    }

    pub fn remove(&mut self, pid: Pid, h: Handle) -> Result<V, Errno> {
        self.map.remove(&(pid, h)).ok_or(Errno::BadHandle)
    }

    /// What `pid` holds.
    pub fn of(&self, pid: Pid) -> impl Iterator<Item = &V> + '_ {
        self.map.range((pid, 0)..=(pid, Handle::MAX)).map(|(_, v)| v)
    }

    pub fn count_of(&self, pid: Pid) -> usize {
        self.of(pid).count()
    }

    /// Takes out what the processes `pids` held (they ended).
    pub fn take_clients(&mut self, pids: &[Pid]) -> Vec<V> {
        let keys: Vec<(Pid, Handle)> = self.map.keys().filter(|(p, _)| pids.contains(p)).copied().collect();
        keys.iter().filter_map(|k| self.map.remove(k)).collect()
    }

    /// Takes out every handle, with its owner and name.
    pub fn take_all(&mut self) -> Vec<((Pid, Handle), V)> {
        core::mem::take(&mut self.map).into_iter().collect()
    }

    /// Keeps the handles whose values `keep` says.
    pub fn retain(&mut self, mut keep: impl FnMut(&V) -> bool) {
        self.map.retain(|_, v| keep(v));
    }

    /// The clients that hold a handle, once each, in order.
    pub fn holders(&self) -> Vec<Pid> {
        let mut all: Vec<Pid> = self.map.keys().map(|(p, _)| *p).collect();
        all.dedup();
        all
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_per_client_and_bounded() {
        let mut t = Handles::new(2);
        let a = t.insert(1, 'a').unwrap();
        let b = t.insert(1, 'b').unwrap();
        assert_ne!(a, b);
        assert_eq!(t.insert(1, 'c'), Err(Errno::TooMany));
        let c = t.insert(2, 'c').unwrap();
        assert_eq!(t.get(1, a), Ok(&'a'));
        assert_eq!(t.get(2, a), Err(Errno::BadHandle), "another client's handle is not ours");
        *t.get_mut(2, c).unwrap() = 'C';
        assert_eq!(t.of(2).collect::<Vec<_>>(), [&'C']);
        assert_eq!(t.holders(), [1, 2]);
        assert_eq!(t.remove(1, a), Ok('a'));
        assert_eq!(t.remove(1, a), Err(Errno::BadHandle));
        t.insert(1, 'd').unwrap();
        assert_eq!(t.count_of(1), 2);
    }

    #[test]
    fn what_ended_clients_held_comes_out() {
        let mut t = Handles::new(8);
        for (pid, v) in [(1, 10), (2, 20), (1, 11), (3, 30)] {
            t.insert(pid, v).unwrap();
        }
        let mut gone = t.take_clients(&[1, 3]);
        gone.sort();
        assert_eq!(gone, [10, 11, 30]);
        assert_eq!(t.holders(), [2]);
        t.retain(|&v| v != 20);
        assert!(t.is_empty());
        t.insert(4, 40).unwrap();
        assert_eq!(t.take_all().len(), 1);
        assert_eq!(t.len(), 0);
    }
}

//! Namespaces: which file server answers for which part of the path
//! space. A mount table's lookups take the longest mount point that is a
//! whole-component prefix of a normalised path (`/tmp` covers `/tmp/x`,
//! not `/tmpx`). [`Namespaces`] holds the system's table and the private
//! copies processes made of theirs. The process server owns them; the
//! logic lives here so that it is host-tested.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MountError {
    /// Something is mounted at that exact point already.
    Busy,
    NotMounted,
    /// The table is full.
    TooMany,
}

/// Mount points (normalised paths) and what is mounted there.
#[derive(Clone, Debug)]
pub struct MountTable<T> {
    mounts: Vec<(String, T)>,
    max: usize,
}

/// Whether normalised `path` lies at or below normalised mount point `at`.
fn covers(at: &str, path: &str) -> bool {
    at == "/" || path == at || (path.starts_with(at) && path.as_bytes().get(at.len()) == Some(&b'/'))
}

impl<T> MountTable<T> {
    pub fn new(max: usize) -> Self {
        MountTable { mounts: Vec::new(), max }
    }

    pub fn mount(&mut self, at: &str, what: T) -> Result<(), MountError> {
        if self.mounts.iter().any(|(p, _)| p == at) {
            return Err(MountError::Busy);
        }
        if self.mounts.len() >= self.max {
            return Err(MountError::TooMany);
        }
        self.mounts.push((String::from(at), what));
        Ok(())
    }

    pub fn unmount(&mut self, at: &str) -> Result<T, MountError> {
        let i = self.mounts.iter().position(|(p, _)| p == at).ok_or(MountError::NotMounted)?;
        Ok(self.mounts.swap_remove(i).1)
    }

    /// What answers for `path`, and the path relative to its mount point
    /// (`/` for the mount point itself).
    pub fn resolve<'p>(&self, path: &'p str) -> Option<(&T, &'p str)> {
        let (at, what) = self.mounts.iter().filter(|(at, _)| covers(at, path)).max_by_key(|(at, _)| at.len())?;
        let rest = if at == "/" { path } else { &path[at.len()..] };
        Some((what, if rest.is_empty() { "/" } else { rest }))
    }

    /// The names of the mount points directly under directory `dir`
    /// (normalised), sorted: a listing of `dir` shows them, since a mount
    /// point need not be a directory of the tree it is in (`/proc` is in
    /// no file server's `/`).
    pub fn children(&self, dir: &str) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .mounts
            .iter()
            .filter_map(|(at, _)| {
                let (parent, name) = at.rsplit_once('/')?;
                let parent = if parent.is_empty() { "/" } else { parent };
                (parent == dir && !name.is_empty()).then_some(name)
            })
            .collect();
        names.sort_unstable();
        names
    }

    /// What is mounted, wherever.
    pub fn mounted(&self) -> impl Iterator<Item = &T> {
        self.mounts.iter().map(|(_, t)| t)
    }

    /// Mount points and what is mounted there, in path order.
    pub fn entries(&self) -> Vec<(&str, &T)> {
        let mut all: Vec<(&str, &T)> = self.mounts.iter().map(|(p, t)| (p.as_str(), t)).collect();
        all.sort_unstable_by_key(|(p, _)| *p);
        all
    }

    /// Removes the mounts of whatever `gone` says; returns them.
    fn unmount_where(&mut self, gone: impl Fn(&T) -> bool) -> Vec<T> {
        if !self.mounts.iter().any(|(_, t)| gone(t)) {
            return Vec::new();
        }
        let (out, kept) = core::mem::take(&mut self.mounts).into_iter().partition(|(_, t)| gone(t));
        self.mounts = kept;
        out.into_iter().map(|(_, t)| t).collect()
    }
}

/// A namespace's id: [`SYSTEM`] or a private one's (never reused).
pub type NsId = u64;

/// The system's namespace, which every process has until it asks for one
/// of its own.
pub const SYSTEM: NsId = 0;

/// The system's namespace and private copies, each a [`MountTable`] with
/// the number of processes that have it. A mounted `T` may be in several
/// (a copy shares what it copied): what a `T` holds is released when the
/// calls here say it is mounted nowhere any more.
pub struct Namespaces<T> {
    tables: BTreeMap<NsId, (MountTable<T>, usize)>,
    next: NsId,
    max_private: usize,
}

impl<T: Clone + Ord> Namespaces<T> {
    /// The system's namespace alone; each table holds at most
    /// `max_mounts`, and at most `max_private` private ones exist.
    pub fn new(max_mounts: usize, max_private: usize) -> Self {
        let mut tables = BTreeMap::new();
        tables.insert(SYSTEM, (MountTable::new(max_mounts), 0));
        Namespaces { tables, next: 1, max_private }
    }

    /// Namespace `ns`, while some process has it.
    pub fn get(&self, ns: NsId) -> Option<&MountTable<T>> {
        self.tables.get(&ns).map(|(t, _)| t)
    }

    pub fn get_mut(&mut self, ns: NsId) -> Option<&mut MountTable<T>> {
        self.tables.get_mut(&ns).map(|(t, _)| t)
    }

    /// Private namespaces in use (the system's is not counted).
    pub fn private(&self) -> usize {
        self.tables.len() - 1
    }

    /// How many processes have `ns`.
    pub fn users(&self, ns: NsId) -> usize {
        self.tables.get(&ns).map_or(0, |&(_, n)| n)
    }

    /// One more process has `ns`.
    pub fn enter(&mut self, ns: NsId) {
        if let Some((_, n)) = self.tables.get_mut(&ns) {
            *n += 1;
        }
    }

    /// One process less has `ns`: a private namespace nobody has goes;
    /// returns what it held that is now mounted nowhere.
    pub fn leave(&mut self, ns: NsId) -> Vec<T> {
        let Some((_, n)) = self.tables.get_mut(&ns) else {
            return Vec::new();
        };
        *n = n.saturating_sub(1);
        if *n > 0 || ns == SYSTEM {
            return Vec::new();
        }
        let (table, _) = self.tables.remove(&ns).expect("looked up above");
        let held: BTreeSet<T> = table.mounts.into_iter().map(|(_, m)| m).collect();
        held.into_iter().filter(|m| !self.mounted_anywhere(m)).collect()
    }

    /// A new private namespace, a copy of `ns`, that nobody has yet.
    pub fn copy(&mut self, ns: NsId) -> Result<NsId, MountError> {
        if self.tables.len() > self.max_private {
            return Err(MountError::TooMany);
        }
        let table = self.get(ns).ok_or(MountError::NotMounted)?.clone();
        let id = self.next;
        self.next += 1;
        self.tables.insert(id, (table, 0));
        Ok(id)
    }

    fn all_mounted(&self) -> impl Iterator<Item = &T> {
        self.tables.values().flat_map(|(t, _)| t.mounted())
    }

    /// Whether `what` is mounted in any namespace.
    pub fn mounted_anywhere(&self, what: &T) -> bool {
        self.all_mounted().any(|m| m == what)
    }

    /// How many different mounted values, in all namespaces, `counts`
    /// says count.
    pub fn distinct(&self, counts: impl Fn(&T) -> bool) -> usize {
        self.all_mounted().filter(|m| counts(m)).collect::<BTreeSet<_>>().len()
    }

    /// Removes every mount of whatever `gone` says, in every namespace;
    /// returns what is now mounted nowhere, once each.
    pub fn unmount_everywhere(&mut self, gone: impl Fn(&T) -> bool) -> Vec<T> {
        let out: BTreeSet<T> = self.tables.values_mut().flat_map(|(t, _)| t.unmount_where(&gone)).collect();
        out.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_shows_the_mount_points_directly_under_it() {
        let mut t = MountTable::new(16);
        for at in ["/", "/proc", "/dev", "/proc/cluster", "/n/node3/deep", "/n"] {
            t.mount(at, ()).unwrap();
        }
        assert_eq!(t.children("/"), ["dev", "n", "proc"]);
        assert_eq!(t.children("/proc"), ["cluster"]);
        // Only direct children: `/n/node3` is no mount point.
        assert!(t.children("/n").is_empty());
        assert_eq!(t.children("/n/node3"), ["deep"]);
        assert!(t.children("/tmp").is_empty() && t.children("/pro").is_empty());
    }

    #[test]
    fn longest_whole_component_prefix_wins() {
        let mut t = MountTable::new(8);
        t.mount("/", "ramfs").unwrap();
        t.mount("/tmp", "tmpfs").unwrap();
        t.mount("/n/b", "remote").unwrap();
        assert_eq!(t.resolve("/etc/x"), Some((&"ramfs", "/etc/x")));
        assert_eq!(t.resolve("/tmp"), Some((&"tmpfs", "/")));
        assert_eq!(t.resolve("/tmp/a/b"), Some((&"tmpfs", "/a/b")));
        assert_eq!(t.resolve("/tmpx"), Some((&"ramfs", "/tmpx")));
        assert_eq!(t.resolve("/n/b/proc/1"), Some((&"remote", "/proc/1")));
        assert_eq!(t.resolve("/n"), Some((&"ramfs", "/n")));
    }

    #[test]
    fn mounting_and_unmounting() {
        let mut t = MountTable::new(2);
        assert_eq!(t.resolve("/x"), None);
        t.mount("/a", 1).unwrap();
        assert_eq!(t.mount("/a", 2), Err(MountError::Busy));
        t.mount("/b", 3).unwrap();
        assert_eq!(t.mount("/c", 4), Err(MountError::TooMany));
        assert_eq!(t.unmount("/a"), Ok(1));
        assert_eq!(t.unmount("/a"), Err(MountError::NotMounted));
        assert_eq!(t.resolve("/a/x"), None);
        assert_eq!(t.entries(), [("/b", &3)]);
    }

    #[test]
    fn a_copy_is_private_and_shares_what_it_copied() {
        let mut ns = Namespaces::new(8, 2);
        let sys = SYSTEM;
        ns.get_mut(sys).unwrap().mount("/", 1).unwrap();
        let a = ns.copy(sys).unwrap();
        ns.enter(a);
        ns.get_mut(a).unwrap().mount("/n/x", 2).unwrap();
        assert_eq!(ns.get(a).unwrap().resolve("/n/x/f"), Some((&2, "/f")));
        assert_eq!(ns.get(sys).unwrap().resolve("/n/x/f"), Some((&1, "/n/x/f")));
        assert_eq!(ns.get(a).unwrap().entries(), [("/", &1), ("/n/x", &2)]);
        ns.get_mut(sys).unwrap().mount("/n/y", 3).unwrap();
        assert_eq!(ns.get(a).unwrap().resolve("/n/y"), Some((&1, "/n/y")), "copies are independent");
        assert!(ns.mounted_anywhere(&2) && ns.distinct(|&m| m == 1) == 1 && ns.distinct(|&m| m < 3) == 2);
        // A copy of the copy, with two users; then one too many.
        assert_eq!(ns.copy(99), Err(MountError::NotMounted));
        let b = ns.copy(a).unwrap();
        ns.enter(b);
        ns.enter(b);
        assert_eq!(ns.copy(b), Err(MountError::TooMany));
        // Server 2 ends: gone from both, and reported once.
        assert_eq!(ns.unmount_everywhere(|&m| m == 2), [2]);
        assert!(!ns.mounted_anywhere(&2));
        ns.get_mut(b).unwrap().mount("/n/z", 4).unwrap();
        // Nobody has a any more: it goes, but what it held is elsewhere.
        assert_eq!(ns.leave(a), []);
        assert!(ns.get(a).is_none() && ns.mounted_anywhere(&1));
        // b goes with its second user, and 4 with it.
        assert_eq!((ns.leave(b), ns.users(b)), (Vec::new(), 1));
        assert_eq!(ns.leave(b), [4]);
        assert!(ns.get(b).is_none() && ns.mounted_anywhere(&3));
        assert_eq!(ns.leave(sys), [], "the system's namespace stays");
        assert!(ns.get(sys).is_some());
        assert_eq!(ns.copy(sys).map(|n| n > b), Ok(true), "ids are not reused");
    }
}

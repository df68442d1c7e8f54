//! A mount table: which file server answers for which part of the path
//! space. Lookups take the longest mount point that is a whole-component
//! prefix of a normalised path (`/tmp` covers `/tmp/x`, not `/tmpx`).
//! The process server owns the system's table; the logic lives here so
//! that it is host-tested.

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

    /// Mount points, for listing.
    pub fn points(&self) -> impl Iterator<Item = &str> {
        self.mounts.iter().map(|(p, _)| p.as_str())
    }

    /// What is mounted, wherever.
    pub fn mounted(&self) -> impl Iterator<Item = &T> {
        self.mounts.iter().map(|(_, t)| t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(t.points().collect::<Vec<_>>(), ["/b"]);
    }
}

//! `ramfs`: a bounded in-memory file system, the logic of the server that
//! will hold `/` and `/tmp` (issue "files and namespace"). `no_std` and
//! host-tested; the server around it comes with the file protocol.
//!
//! Files and directories live in a slot vector indexed by [`NodeId`]
//! (slots of removed nodes are reused; each node also has an inode number
//! never reused, [`Stat::ino`], which a rename keeps). The byte budget
//! counts what file contents hold (holes hold nothing: files may be
//! sparse) and names; a write, create or rename that would exceed it
//! fails with [`Error::NoSpace`] and changes nothing, so deleting makes
//! room again.
//!
//! Each node keeps a mode, owners and three times, as POSIX has them:
//! creating stamps all three; a write or truncate the modification and
//! change times; a rename or a change of attributes the change time;
//! adding or removing an entry the directory's modification and change
//! times. Reads leave the access time alone (as `noatime`). The time is
//! what the server last said it is ([`Ramfs::set_now`]).
#![no_std]

extern crate alloc;

mod data;

use data::Data;

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

/// A node's index. The root is always 0.
pub type NodeId = usize;
pub const ROOT: NodeId = 0;
/// The longest name (POSIX NAME_MAX).
pub const NAME_MAX: usize = 255;
/// Bytes of the budget one node costs besides its name and contents: its
/// bookkeeping, so that empty files cannot exhaust the heap for free.
pub const NODE_COST: usize = 128;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    NotFound,
    Exists,
    NotDir,
    IsDir,
    NotEmpty,
    NoSpace,
    /// A name that is empty, `.`, `..`, or has `/` or NUL in it; or a
    /// rename of a directory into itself.
    Invalid,
    NameTooLong,
}

#[derive(Clone, Debug)]
enum Kind {
    File(Data),
    Dir(BTreeMap<String, NodeId>),
}

/// Seconds and nanoseconds since 1970-01-01 UTC.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Time {
    pub sec: u64,
    pub nsec: u32,
}

/// A node's mode, owners and times.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Attrs {
    /// Permission bits (07777).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub atime: Time,
    pub mtime: Time,
    pub ctime: Time,
}

/// What [`Ramfs::set_attrs`] changes: each that is `Some`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub atime: Option<Time>,
    pub mtime: Option<Time>,
}

/// What a new file's and directory's permissions are.
pub const FILE_MODE: u32 = 0o644;
pub const DIR_MODE: u32 = 0o755;

#[derive(Clone, Debug)]
struct Node {
    parent: NodeId,
    name: String,
    kind: Kind,
    /// Bumped on every change, for 9P qid versions and caches.
    version: u32,
    ino: u64,
    attrs: Attrs,
}

impl Node {
    /// The contents changed, at `now`.
    fn modified(&mut self, now: Time) {
        self.version = self.version.wrapping_add(1);
        self.attrs.mtime = now;
        self.attrs.ctime = now;
    }
}

/// What `stat` reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stat {
    pub id: NodeId,
    /// The node's number for its whole life; never another node's.
    pub ino: u64,
    pub name: String,
    pub is_dir: bool,
    /// Bytes of a file; entries of a directory.
    pub size: u64,
    /// Bytes the contents hold (less than `size` for a sparse file).
    pub stored: u64,
    pub version: u32,
    pub attrs: Attrs,
}

pub struct Ramfs {
    nodes: Vec<Option<Node>>,
    free: Vec<NodeId>,
    budget: usize,
    used: usize,
    now: Time,
    next_ino: u64,
}

fn check_name(name: &str) -> Result<(), Error> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
        return Err(Error::Invalid);
    }
    if name.len() > NAME_MAX {
        return Err(Error::NameTooLong);
    }
    Ok(())
}

impl Ramfs {
    /// An empty file system holding at most `budget` bytes.
    pub fn new(budget: usize) -> Self {
        let attrs = Attrs { mode: DIR_MODE, ..Attrs::default() };
        let root =
            Node { parent: ROOT, name: String::new(), kind: Kind::Dir(BTreeMap::new()), version: 0, ino: 1, attrs };
        Ramfs { nodes: alloc::vec![Some(root)], free: Vec::new(), budget, used: 0, now: Time::default(), next_ino: 2 }
    }

    /// What time it is, for what changes next.
    pub fn set_now(&mut self, now: Time) {
        self.now = now;
    }

    /// Bytes in use and the budget.
    pub fn usage(&self) -> (usize, usize) {
        (self.used, self.budget)
    }

    fn node(&self, id: NodeId) -> Result<&Node, Error> {
        self.nodes.get(id).and_then(Option::as_ref).ok_or(Error::NotFound)
    }

    fn node_mut(&mut self, id: NodeId) -> Result<&mut Node, Error> {
        self.nodes.get_mut(id).and_then(Option::as_mut).ok_or(Error::NotFound)
    }

    fn entries(&self, dir: NodeId) -> Result<&BTreeMap<String, NodeId>, Error> {
        match &self.node(dir)?.kind {
            Kind::Dir(e) => Ok(e),
            Kind::File(_) => Err(Error::NotDir),
        }
    }

    fn charge(&mut self, bytes: usize) -> Result<(), Error> {
        self.used = self.used.checked_add(bytes).filter(|&u| u <= self.budget).ok_or(Error::NoSpace)?;
        Ok(())
    }

    /// The child `name` of directory `dir`; `..` is the parent (the root's
    /// is the root).
    pub fn lookup(&self, dir: NodeId, name: &str) -> Result<NodeId, Error> {
        let entries = self.entries(dir)?;
        match name {
            "." => Ok(dir),
            ".." => Ok(self.node(dir)?.parent),
            _ => entries.get(name).copied().ok_or(Error::NotFound),
        }
    }

    /// The node at an absolute, normalised path.
    pub fn walk(&self, path: &str) -> Result<NodeId, Error> {
        path.split('/').filter(|p| !p.is_empty()).try_fold(ROOT, |at, name| self.lookup(at, name))
    }

    /// Makes a file or directory `name` in `dir`.
    pub fn create(&mut self, dir: NodeId, name: &str, is_dir: bool) -> Result<NodeId, Error> {
        check_name(name)?;
        if self.entries(dir)?.contains_key(name) {
            return Err(Error::Exists);
        }
        self.charge(NODE_COST + name.len())?;
        let kind = if is_dir { Kind::Dir(BTreeMap::new()) } else { Kind::File(Data::default()) };
        let now = self.now;
        let mode = if is_dir { DIR_MODE } else { FILE_MODE };
        let attrs = Attrs { mode, atime: now, mtime: now, ctime: now, ..Attrs::default() };
        let node = Node { parent: dir, name: String::from(name), kind, version: 0, ino: self.next_ino, attrs };
        self.next_ino += 1;
        let id = match self.free.pop() {
            Some(id) => {
                self.nodes[id] = Some(node);
                id
            }
            None => {
                self.nodes.push(Some(node));
                self.nodes.len() - 1
            }
        };
        let parent = self.node_mut(dir)?;
        parent.modified(now);
        if let Kind::Dir(e) = &mut parent.kind {
            e.insert(String::from(name), id);
        }
        Ok(id)
    }

    pub fn read(&self, id: NodeId, offset: u64, buf: &mut [u8]) -> Result<usize, Error> {
        let Kind::File(data) = &self.node(id)?.kind else { return Err(Error::IsDir) };
        Ok(data.read(usize::try_from(offset).unwrap_or(usize::MAX), buf))
    }

    /// Writes `bytes` at `offset`, growing the file (a hole over any gap)
    /// within the budget.
    pub fn write(&mut self, id: NodeId, offset: u64, bytes: &[u8]) -> Result<usize, Error> {
        if bytes.is_empty() {
            // Nothing written changes nothing, the size included.
            return match &self.node(id)?.kind {
                Kind::File(_) => Ok(0),
                Kind::Dir(_) => Err(Error::IsDir),
            };
        }
        let offset = usize::try_from(offset).map_err(|_| Error::NoSpace)?;
        let end = offset.checked_add(bytes.len()).ok_or(Error::NoSpace)?;
        let cost = match &self.node(id)?.kind {
            Kind::File(d) => d.write_cost(offset, end),
            Kind::Dir(_) => return Err(Error::IsDir),
        };
        self.charge(cost)?;
        let now = self.now;
        let node = self.node_mut(id)?;
        node.modified(now);
        let Kind::File(data) = &mut node.kind else { unreachable!("checked above") };
        data.write(offset, bytes);
        Ok(bytes.len())
    }

    pub fn truncate(&mut self, id: NodeId, size: u64) -> Result<(), Error> {
        let size = usize::try_from(size).map_err(|_| Error::NoSpace)?;
        let (cost, before) = match &self.node(id)?.kind {
            Kind::File(d) => (d.resize_cost(size), d.stored()),
            Kind::Dir(_) => return Err(Error::IsDir),
        };
        self.charge(cost)?;
        let now = self.now;
        let node = self.node_mut(id)?;
        node.modified(now);
        let Kind::File(d) = &mut node.kind else { unreachable!("checked above") };
        d.resize(size);
        let after = d.stored();
        // A shrink gives back what the cut bytes held.
        self.used -= (before + cost) - after;
        Ok(())
    }

    /// Changes a node's mode, owners or times; its change time is now.
    pub fn set_attrs(&mut self, id: NodeId, c: &Changes) -> Result<(), Error> {
        let now = self.now;
        let node = self.node_mut(id)?;
        let a = &mut node.attrs;
        a.mode = c.mode.map_or(a.mode, |m| m & 0o7777);
        a.uid = c.uid.unwrap_or(a.uid);
        a.gid = c.gid.unwrap_or(a.gid);
        a.atime = c.atime.unwrap_or(a.atime);
        a.mtime = c.mtime.unwrap_or(a.mtime);
        a.ctime = now;
        node.version = node.version.wrapping_add(1);
        Ok(())
    }

    /// Removes a file or an empty directory (not the root).
    pub fn remove(&mut self, id: NodeId) -> Result<(), Error> {
        if id == ROOT {
            return Err(Error::Invalid);
        }
        let node = self.node(id)?;
        let freed = NODE_COST
            + node.name.len()
            + match &node.kind {
                Kind::File(d) => d.stored(),
                Kind::Dir(e) if e.is_empty() => 0,
                Kind::Dir(_) => return Err(Error::NotEmpty),
            };
        let (parent, name) = (node.parent, node.name.clone());
        let now = self.now;
        let p = self.node_mut(parent)?;
        p.modified(now);
        if let Kind::Dir(e) = &mut p.kind {
            e.remove(&name);
        }
        self.nodes[id] = None;
        self.free.push(id);
        self.used -= freed;
        Ok(())
    }

    /// Moves `id` to `name` in directory `to`, replacing a file there.
    pub fn rename(&mut self, id: NodeId, to: NodeId, name: &str) -> Result<(), Error> {
        check_name(name)?;
        if id == ROOT {
            return Err(Error::Invalid);
        }
        // A directory may not move into its own subtree.
        let mut at = to;
        loop {
            if at == id {
                return Err(Error::Invalid);
            }
            if at == ROOT {
                break;
            }
            at = self.node(at)?.parent;
        }
        let moving_dir = matches!(self.node(id)?.kind, Kind::Dir(_));
        if let Some(&old) = self.entries(to)?.get(name) {
            if old == id {
                return Ok(());
            }
            match (&self.node(old)?.kind, moving_dir) {
                (Kind::Dir(_), _) => return Err(Error::Exists),
                (Kind::File(_), true) => return Err(Error::NotDir),
                (Kind::File(_), false) => self.remove(old)?,
            }
        }
        let old_name_len = self.node(id)?.name.len();
        if name.len() > old_name_len {
            self.charge(name.len() - old_name_len)?;
        } else {
            self.used -= old_name_len - name.len();
        }
        let node = self.node(id)?;
        let (from, old_name) = (node.parent, node.name.clone());
        let now = self.now;
        for (dir, add) in [(from, false), (to, true)] {
            let d = self.node_mut(dir)?;
            d.modified(now);
            if let Kind::Dir(e) = &mut d.kind {
                if add {
                    e.insert(String::from(name), id);
                } else {
                    e.remove(&old_name);
                }
            }
        }
        let node = self.node_mut(id)?;
        node.parent = to;
        node.name = String::from(name);
        node.attrs.ctime = now;
        Ok(())
    }

    pub fn stat(&self, id: NodeId) -> Result<Stat, Error> {
        let n = self.node(id)?;
        let (is_dir, size, stored) = match &n.kind {
            Kind::File(d) => (false, d.len() as u64, d.stored() as u64),
            Kind::Dir(e) => (true, e.len() as u64, 0),
        };
        Ok(Stat {
            id,
            ino: n.ino,
            name: if id == ROOT { String::from("/") } else { n.name.clone() },
            is_dir,
            size,
            stored,
            version: n.version,
            attrs: n.attrs,
        })
    }

    /// The entries of a directory, in name order.
    pub fn list(&self, dir: NodeId) -> Result<Vec<Stat>, Error> {
        self.entries(dir)?.values().map(|&id| self.stat(id)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn files_and_directories() {
        let mut fs = Ramfs::new(1 << 20);
        let tmp = fs.create(ROOT, "tmp", true).unwrap();
        let a = fs.create(tmp, "a", false).unwrap();
        assert_eq!(fs.write(a, 0, b"hi").unwrap(), 2);
        assert_eq!(fs.walk("/tmp/a"), Ok(a));
        assert_eq!(fs.walk("/tmp/../tmp/./a"), Ok(a));
        let mut buf = [0u8; 8];
        assert_eq!(fs.read(a, 0, &mut buf), Ok(2));
        assert_eq!(&buf[..2], b"hi");
        assert_eq!(fs.read(a, 10, &mut buf), Ok(0), "past the end reads nothing");
        fs.write(a, 4, b"!").unwrap();
        assert_eq!(fs.read(a, 0, &mut buf), Ok(5));
        assert_eq!(&buf[..5], b"hi\0\0!", "a gap reads as zeros");
        assert_eq!(fs.create(tmp, "a", true), Err(Error::Exists));
        assert_eq!(fs.create(a, "x", false), Err(Error::NotDir));
        assert_eq!(fs.read(tmp, 0, &mut buf), Err(Error::IsDir));
        assert_eq!(fs.remove(tmp), Err(Error::NotEmpty));
        assert_eq!(fs.remove(ROOT), Err(Error::Invalid));
        for bad in ["", ".", "..", "a/b", "a\0"] {
            assert_eq!(fs.create(tmp, bad, false), Err(Error::Invalid), "{bad:?}");
        }
        assert_eq!(fs.create(tmp, &"n".repeat(256), false), Err(Error::NameTooLong));
    }

    #[test]
    fn a_megabyte_round_trips_and_stat_agrees() {
        let mut fs = Ramfs::new(2 << 20);
        let f = fs.create(ROOT, "big", false).unwrap();
        let data: Vec<u8> = (0..1 << 20).map(|i| (i * 7 % 251) as u8).collect();
        for (i, chunk) in data.chunks(4000).enumerate() {
            fs.write(f, (i * 4000) as u64, chunk).unwrap();
        }
        let mut back = vec![0u8; 1 << 20];
        assert_eq!(fs.read(f, 0, &mut back), Ok(1 << 20));
        assert_eq!(back, data);
        let st = fs.stat(f).unwrap();
        assert_eq!((st.name.as_str(), st.is_dir, st.size), ("big", false, 1 << 20));
        assert_eq!(fs.list(ROOT).unwrap(), [st]);
    }

    #[test]
    fn the_budget_is_enforced_and_freed() {
        let node = NODE_COST + 1;
        let mut fs = Ramfs::new(node + 100);
        let f = fs.create(ROOT, "f", false).unwrap();
        assert_eq!(fs.write(f, 0, &[1; 99]), Ok(99));
        assert_eq!(fs.write(f, 99, &[1; 10]), Err(Error::NoSpace));
        assert_eq!(fs.create(ROOT, "g", false), Err(Error::NoSpace));
        assert_eq!(fs.stat(f).unwrap().size, 99, "a refused write changes nothing");
        assert_eq!(fs.write(f, u64::MAX, &[1]), Err(Error::NoSpace));
        assert_eq!(fs.write(f, u64::MAX - 1, &[1]), Err(Error::NoSpace), "no overflow past the budget");
        assert_eq!(fs.truncate(f, u64::MAX - 1), Err(Error::NoSpace));
        fs.remove(f).unwrap();
        assert_eq!(fs.usage(), (0, node + 100));
        let g = fs.create(ROOT, "g", false).unwrap();
        assert_eq!(fs.write(g, 0, &[2; 99]), Ok(99));
        fs.truncate(g, 10).unwrap();
        assert_eq!(fs.usage(), (node + 10, node + 100));
        assert_eq!(fs.walk("/f"), Err(Error::NotFound));
        assert_eq!(g, f, "the removed node's slot is reused");
    }

    #[test]
    fn usage_follows_truncates_renames_and_removes() {
        let mut fs = Ramfs::new(1 << 16);
        let d = fs.create(ROOT, "d", true).unwrap();
        let f = fs.create(ROOT, "f", false).unwrap();
        let base = 2 * (NODE_COST + 1);
        fs.write(f, 0, b"0123456789").unwrap();
        fs.truncate(f, 1000).unwrap();
        assert_eq!(fs.usage().0, base + 1000, "growing by truncate is charged");
        // A longer name costs its extra bytes; a shorter one gives back.
        fs.rename(f, d, "longer").unwrap();
        assert_eq!(fs.usage().0, base + 1000 + 5);
        fs.rename(f, ROOT, "g").unwrap();
        assert_eq!(fs.usage().0, base + 1000);
        // A name past the budget is refused and changes nothing.
        let (used, budget) = fs.usage();
        let long = "n".repeat(NAME_MAX);
        let mut tight = Ramfs::new(NODE_COST + 10);
        let t = tight.create(ROOT, "t", false).unwrap();
        assert_eq!(tight.rename(t, ROOT, &long), Err(Error::NoSpace));
        assert_eq!(tight.walk("/t"), Ok(t));
        // NAME_MAX itself is a valid name.
        assert!(fs.rename(f, ROOT, &long).is_ok() && fs.usage() == (used + NAME_MAX - 1, budget));
        // Empty directories go; then nothing is in use.
        fs.remove(f).unwrap();
        fs.remove(d).unwrap();
        assert_eq!((fs.usage().0, fs.walk("/d")), (0, Err(Error::NotFound)));
    }

    #[test]
    fn empty_files_are_not_free() {
        let mut fs = Ramfs::new(10 * (NODE_COST + 2));
        let made = (0..100).take_while(|i| fs.create(ROOT, &alloc::format!("{i:02}"), false).is_ok()).count();
        assert_eq!(made, 10);
    }

    #[test]
    fn renames() {
        let mut fs = Ramfs::new(1 << 16);
        let a = fs.create(ROOT, "a", true).unwrap();
        let b = fs.create(a, "b", true).unwrap();
        let f = fs.create(ROOT, "f", false).unwrap();
        let g = fs.create(ROOT, "g", false).unwrap();
        fs.write(g, 0, b"old").unwrap();
        assert_eq!(fs.rename(a, b, "loop"), Err(Error::Invalid), "into its own subtree");
        assert_eq!(fs.rename(a, a, "self"), Err(Error::Invalid));
        fs.rename(f, b, "moved").unwrap();
        assert_eq!(fs.walk("/a/b/moved"), Ok(f));
        assert_eq!(fs.walk("/f"), Err(Error::NotFound));
        fs.rename(f, ROOT, "g").unwrap();
        assert_eq!(fs.walk("/g"), Ok(f), "a file is replaced");
        assert_eq!(fs.rename(b, ROOT, "g"), Err(Error::NotDir));
        assert_eq!(fs.rename(f, ROOT, "a"), Err(Error::Exists));
        assert_eq!(fs.lookup(b, ".."), Ok(a));
        assert_eq!(fs.lookup(ROOT, ".."), Ok(ROOT));
        let names: Vec<String> = fs.list(ROOT).unwrap().into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["a", "g"]);
    }

    #[test]
    fn attributes_times_and_inode_numbers() {
        let mut fs = Ramfs::new(1 << 16);
        let t = |sec| Time { sec, nsec: 5 };
        fs.set_now(t(10));
        let d = fs.create(ROOT, "d", true).unwrap();
        let f = fs.create(d, "f", false).unwrap();
        let st = fs.stat(f).unwrap();
        assert_eq!((st.attrs.mode, st.attrs.atime, st.attrs.mtime, st.attrs.ctime), (FILE_MODE, t(10), t(10), t(10)));
        assert_eq!(fs.stat(d).unwrap().attrs.mode, DIR_MODE);
        // A write changes the modification and change times only.
        fs.set_now(t(20));
        fs.write(f, 0, b"x").unwrap();
        let a = fs.stat(f).unwrap().attrs;
        assert_eq!((a.atime, a.mtime, a.ctime), (t(10), t(20), t(20)));
        // Attributes as asked; the change time is now.
        fs.set_now(t(30));
        let c = Changes { mode: Some(0o104600), uid: Some(7), gid: Some(8), mtime: Some(t(1)), atime: None };
        fs.set_attrs(f, &c).unwrap();
        let a = fs.stat(f).unwrap().attrs;
        assert_eq!((a.mode, a.uid, a.gid, a.mtime, a.ctime), (0o4600, 7, 8, t(1), t(30)));
        // A rename keeps the inode number; both directories change.
        fs.set_now(t(40));
        fs.rename(f, ROOT, "g").unwrap();
        let moved = fs.stat(f).unwrap();
        assert_eq!((moved.ino, moved.attrs.ctime, moved.attrs.mtime), (st.ino, t(40), t(1)));
        assert_eq!((fs.stat(d).unwrap().attrs.mtime, fs.stat(ROOT).unwrap().attrs.mtime), (t(40), t(40)));
        // A removed node's slot is reused, its number never.
        fs.remove(f).unwrap();
        let h = fs.create(ROOT, "h", false).unwrap();
        assert_eq!(h, f);
        assert_ne!(fs.stat(h).unwrap().ino, st.ino);
        assert_eq!(fs.set_attrs(99, &c), Err(Error::NotFound));
    }

    #[test]
    fn sparse_files_cost_what_they_hold() {
        let base = NODE_COST + 1;
        let mut fs = Ramfs::new(base + 100);
        let f = fs.create(ROOT, "f", false).unwrap();
        assert_eq!(fs.write(f, 2 << 30, b"x"), Ok(1));
        let st = fs.stat(f).unwrap();
        assert_eq!((st.size, st.stored, fs.usage().0), ((2 << 30) + 1, 1, base + 1));
        let mut buf = [9u8; 2];
        assert_eq!(fs.read(f, (2 << 30) - 1, &mut buf), Ok(2));
        assert_eq!(buf, [0, b'x']);
        // Growing must fill out the partial last block: past this budget,
        // refused and nothing changed.
        assert_eq!(fs.truncate(f, 1 << 40), Err(Error::NoSpace));
        assert_eq!((fs.stat(f).unwrap().size, fs.usage().0), ((2 << 30) + 1, base + 1));
        // Shrinking into the hole gives the byte back.
        fs.truncate(f, 1 << 30).unwrap();
        assert_eq!((fs.stat(f).unwrap().stored, fs.usage().0), (0, base));
        fs.remove(f).unwrap();
        assert_eq!(fs.usage().0, 0);
        // An empty write anywhere costs nothing and changes no size.
        let g = fs.create(ROOT, "g", false).unwrap();
        assert_eq!(fs.write(g, 16383, b""), Ok(0));
        assert_eq!((fs.stat(g).unwrap().size, fs.usage().0), (0, base));
    }
}

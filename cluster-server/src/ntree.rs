//! The names of a cluster node's `/n` (served by the program's
//! `automount`): `/n/nodeN`, where node N's files are mounted at their
//! first use, and the names other mounts made there (`mount9p ADDR A`
//! makes `/n/A`, so that `ls /n` shows it). An idle cluster holds no
//! connections between its nodes; a cluster of 64 holds no 63 mounts
//! per node.

use alloc::collections::BTreeSet;
use alloc::string::String;
use alloc::vec::Vec;
use libux::cluster::{node_of_dir, NodeId};
use libux::fs::server::Entry;
use libux::rpc::Errno;

/// Names that mounts may make here at most (each a mount point of
/// `/n/NAME`; a namespace holds 64 mounts in all).
pub const MADE_MAX: usize = 64;
/// Longest such name (the process server's limit on a user's mount
/// point is 256 bytes, `/n/` included).
pub const MADE_NAME_MAX: usize = 64;

/// What a path of the tree (relative to `/n`) names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Name<'a> {
    /// `/n` itself.
    Root,
    /// `/n/nodeN`, or a path under it: node N's files, once mounted.
    Node(NodeId),
    /// `/n/NAME` (`deeper`: a path under it) for any other name.
    Other { name: &'a str, deeper: bool },
}

impl<'a> Name<'a> {
    pub fn of(path: &'a str) -> Name<'a> {
        let rest = path.trim_start_matches('/');
        if rest.is_empty() {
            return Name::Root;
        }
        let (name, deeper) = match rest.split_once('/') {
            Some((name, under)) => (name, !under.trim_start_matches('/').is_empty()),
            None => (rest, false),
        };
        match node_of_dir(name) {
            Some(node) => Name::Node(node),
            None => Name::Other { name, deeper },
        }
    }
}

/// The names mounts made.
#[derive(Default)]
pub struct Made {
    names: BTreeSet<String>,
}

impl Made {
    pub fn contains(&self, name: &str) -> bool {
        self.names.contains(name)
    }

    /// `mkdir /n/NAME`.
    pub fn make(&mut self, name: &str) -> Result<(), Errno> {
        if name.len() > MADE_NAME_MAX || name.chars().any(char::is_control) {
            return Err(Errno::InvalidArgument);
        }
        if self.names.contains(name) {
            return Err(Errno::Exists);
        }
        if self.names.len() >= MADE_MAX {
            return Err(Errno::NoSpace);
        }
        self.names.insert(String::from(name));
        Ok(())
    }

    /// `rm /n/NAME`.
    pub fn remove(&mut self, name: &str) -> Result<(), Errno> {
        self.names.remove(name).then_some(()).ok_or(Errno::NotFound)
    }

    /// The listing of `/n`: a directory for each node in `nodes` and each
    /// name made, in name order.
    pub fn entries(&self, nodes: &[NodeId]) -> Vec<Entry> {
        let nodes = nodes.iter().map(|n| alloc::format!("node{n}"));
        let all: BTreeSet<String> = nodes.chain(self.names.iter().cloned()).collect();
        all.into_iter().map(|name| Entry::new(name, true, 0)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_the_root_a_node_or_another_mount() {
        assert_eq!(Name::of("/"), Name::Root);
        assert_eq!(Name::of(""), Name::Root);
        assert_eq!(Name::of("/node3"), Name::Node(NodeId(3)));
        assert_eq!(Name::of("/node3/proc/1/status"), Name::Node(NodeId(3)));
        assert_eq!(Name::of("/A"), Name::Other { name: "A", deeper: false });
        assert_eq!(Name::of("/A/"), Name::Other { name: "A", deeper: false });
        assert_eq!(Name::of("/A/x"), Name::Other { name: "A", deeper: true });
        // Only a node's own spelling is its mount.
        for other in ["node03", "node0", "nodes", "node", "node3x", "node32768"] {
            assert_eq!(Name::of(&alloc::format!("/{other}")), Name::Other { name: other, deeper: false });
        }
    }

    #[test]
    fn made_names_are_listed_with_the_nodes_and_bounded() {
        let mut m = Made::default();
        m.make("B").unwrap();
        m.make("A").unwrap();
        assert_eq!(m.make("A"), Err(Errno::Exists));
        let names: Vec<String> = m.entries(&[NodeId(3), NodeId(12)]).into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["A", "B", "node12", "node3"]);
        assert!(m.entries(&[]).iter().all(|e| e.is_dir));
        assert_eq!(m.make(&"x".repeat(MADE_NAME_MAX + 1)), Err(Errno::InvalidArgument));
        assert_eq!(m.make("a\nb"), Err(Errno::InvalidArgument));
        for k in 2..MADE_MAX {
            m.make(&alloc::format!("m{k}")).unwrap();
        }
        assert_eq!(m.make("one-more"), Err(Errno::NoSpace));
        m.remove("A").unwrap();
        assert_eq!(m.remove("A"), Err(Errno::NotFound));
        m.make("one-more").unwrap();
    }
}

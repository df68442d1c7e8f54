//! The names of `/proc/cluster` (formats in `libux::cluster`):
//!
//! ```text
//! self, nodes, ps         text, made when opened
//! spawn                   write a placement and a spawn line; read the gpid
//! call                    write a process API request about a process of
//!                         any node; read its reply (`libux::cluster::call`)
//! ctl                     write `drain NODE` or `undrain NODE`
//!                         (`libux::cluster::ClusterCtl`)
//! <gpid>/                 a process of any node, by its cluster-wide id:
//! <gpid>/status|args|ctl|wait
//!                         its node's `/proc/<pid>/...`, read and written
//!                         through (this node's `/proc`, or the cluster's
//!                         mount of the other node's)
//! ```

use libux::cluster::Gpid;
use libux::fs::dirtab::{self, row, Perm, Row};
use libux::procfs::{PidFile, PID_FILES};
use libux::rpc::Errno;

/// A name of the tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Node {
    Root,
    /// This node's number.
    Own,
    Nodes,
    Ps,
    Spawn,
    Call,
    Ctl,
    Process(Gpid),
    File(Gpid, PidFile),
}

/// The files of the root, before the processes' directories.
pub const ROOT_FILES: [Row<Node>; 6] = [
    row("self", Perm::Read, Node::Own),
    row("nodes", Perm::Read, Node::Nodes),
    row("ps", Perm::Read, Node::Ps),
    row("spawn", Perm::ReadWrite, Node::Spawn),
    row("call", Perm::ReadWrite, Node::Call),
    row("ctl", Perm::Write, Node::Ctl),
];

/// The files of a process's directory: its node's `/proc/<pid>` but
/// `ns` (mounts name that node's servers).
pub fn proc_files() -> impl Iterator<Item = &'static Row<PidFile>> {
    PID_FILES.iter().filter(|r| r.kind != PidFile::Ns)
}

impl Node {
    /// The node `path` (absolute within the tree) names.
    pub fn lookup(path: &str) -> Result<Node, Errno> {
        let mut parts = path.split('/').filter(|p| !p.is_empty());
        let Some(first) = parts.next() else { return Ok(Node::Root) };
        let node = match dirtab::lookup(&ROOT_FILES, first) {
            Ok(node) => node,
            Err(_) => {
                let gpid = Gpid::parse(first).filter(|g| g.node().is_some()).ok_or(Errno::NotFound)?;
                match parts.next() {
                    None => return Ok(Node::Process(gpid)),
                    Some(name) => {
                        let file = proc_files().find(|r| r.name == name).ok_or(Errno::NotFound)?;
                        Node::File(gpid, file.kind)
                    }
                }
            }
        };
        match parts.next() {
            None => Ok(node),
            Some(_) => Err(Errno::NotDir),
        }
    }

    pub fn is_dir(self) -> bool {
        self.perm() == Perm::Dir
    }

    /// What may be done with it, as its row says.
    pub fn perm(self) -> Perm {
        match self {
            Node::Root | Node::Process(_) => Perm::Dir,
            Node::File(_, f) => dirtab::row_of(&PID_FILES, &f).map_or(Perm::Read, |r| r.perm),
            other => dirtab::row_of(&ROOT_FILES, &other).map_or(Perm::Read, |r| r.perm),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lead_to_nodes() {
        assert_eq!(Node::lookup("/"), Ok(Node::Root));
        assert_eq!(Node::lookup(""), Ok(Node::Root));
        assert_eq!(Node::lookup("/ps"), Ok(Node::Ps));
        assert_eq!(Node::lookup("/self"), Ok(Node::Own));
        assert_eq!(Node::lookup("/call"), Ok(Node::Call));
        let g = Gpid(3 << 16 | 7);
        assert_eq!(Node::lookup("/196615"), Ok(Node::Process(g)));
        assert_eq!(Node::lookup("/196615/wait"), Ok(Node::File(g, PidFile::Wait)));
        assert_eq!(Node::lookup("/196615/ctl/"), Ok(Node::File(g, PidFile::Ctl)));
        for (bad, e) in [
            ("/196615/ns", Errno::NotFound),
            ("/196615/nope", Errno::NotFound),
            ("/7", Errno::NotFound),
            ("/0", Errno::NotFound),
            ("/x", Errno::NotFound),
            ("/196608", Errno::NotFound),
            ("/ps/x", Errno::NotDir),
            ("/196615/wait/x", Errno::NotDir),
        ] {
            assert_eq!(Node::lookup(bad), Err(e), "{bad}");
        }
        assert!(Node::Root.is_dir() && Node::Process(g).is_dir() && !Node::Ps.is_dir());
        assert_eq!(Node::File(g, PidFile::Ctl).perm(), Perm::Write);
        assert_eq!(Node::Spawn.perm(), Perm::ReadWrite);
        assert_eq!(Node::Nodes.perm(), Perm::Read);
        assert_eq!((Node::lookup("/ctl"), Node::Ctl.perm()), (Ok(Node::Ctl), Perm::Write));
    }
}

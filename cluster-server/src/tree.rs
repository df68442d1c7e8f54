//! The names of `/proc/cluster` (formats in `libux::cluster`):
//!
//! ```text
//! self, nodes, ps         text, made when opened
//! spawn                   write a placement and a spawn line; read the gpid
//! call                    write a process API request about a process of
//!                         any node; read its reply (`libux::cluster::call`)
//! <gpid>/                 a process of any node, by its cluster-wide id:
//! <gpid>/status|args|ctl|wait
//!                         its node's `/proc/<pid>/...`, read and written
//!                         through (this node's `/proc`, or the cluster's
//!                         mount of the other node's)
//! ```

use libux::cluster::Gpid;
use libux::rpc::Errno;

/// A file of a process's directory, as its node's `/proc` has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcFile {
    Status,
    Args,
    Ctl,
    Wait,
}

impl ProcFile {
    pub const ALL: [ProcFile; 4] = [ProcFile::Status, ProcFile::Args, ProcFile::Ctl, ProcFile::Wait];

    pub fn name(self) -> &'static str {
        match self {
            ProcFile::Status => "status",
            ProcFile::Args => "args",
            ProcFile::Ctl => "ctl",
            ProcFile::Wait => "wait",
        }
    }
}

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
    Process(Gpid),
    File(Gpid, ProcFile),
}

/// The files of the root, before the processes' directories.
pub const ROOT_FILES: [(&str, Node); 5] =
    [("self", Node::Own), ("nodes", Node::Nodes), ("ps", Node::Ps), ("spawn", Node::Spawn), ("call", Node::Call)];

impl Node {
    /// The node `path` (absolute within the tree) names.
    pub fn lookup(path: &str) -> Result<Node, Errno> {
        let mut parts = path.split('/').filter(|p| !p.is_empty());
        let Some(first) = parts.next() else { return Ok(Node::Root) };
        let node = match ROOT_FILES.iter().find(|(name, _)| *name == first) {
            Some((_, n)) => *n,
            None => {
                let gpid = Gpid::parse(first).filter(|g| g.node().is_some()).ok_or(Errno::NotFound)?;
                match parts.next() {
                    None => return Ok(Node::Process(gpid)),
                    Some(name) => {
                        let file = ProcFile::ALL.into_iter().find(|f| f.name() == name).ok_or(Errno::NotFound)?;
                        Node::File(gpid, file)
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
        matches!(self, Node::Root | Node::Process(_))
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
        assert_eq!(Node::lookup("/196615/wait"), Ok(Node::File(g, ProcFile::Wait)));
        assert_eq!(Node::lookup("/196615/ctl/"), Ok(Node::File(g, ProcFile::Ctl)));
        for (bad, e) in [
            ("/196615/ns", Errno::NotFound),
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
    }
}

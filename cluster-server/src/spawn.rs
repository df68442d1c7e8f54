//! What `/proc/cluster/spawn` takes: `[-n NODE | -a | -f FEATURE]` then a
//! `/proc/spawn` line (`libux::procfs::SpawnCommand`: descriptors, then
//! the program and its arguments). The node: `-n` names it, `-a` (the
//! default) is the least loaded node that is up, `-f` the least loaded
//! that is up and declares the feature.
//!
//! The home model (MOSIX's home node, Plan 9's `cpu`): the descriptors'
//! paths are the writer's, on its node (the home); the line the running
//! node's `/proc/spawn` gets names the same files from there, through the
//! cluster's mount of the home node (`/n/nodeH`). So a program run on
//! another node reads and writes its starter's pipes and console.

use alloc::format;
use alloc::string::String;
use libux::cluster::{mount_point, NodeId, NodeLine, NodeState, Place};
use libux::procfs::{SpawnCommand, SpawnLineError};
use libux::rpc::Errno;

/// A parsed write to `/proc/cluster/spawn`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub place: Place,
    pub command: SpawnCommand,
}

impl Request {
    pub fn parse(text: &str) -> Result<Request, Errno> {
        let text = text.trim_start_matches([' ', '\t']);
        let (place, rest) = if let Some(rest) = text.strip_prefix("-n ") {
            let (n, rest) = word(rest.trim_start());
            (Place::Node(NodeId::parse(&n).ok_or(Errno::InvalidArgument)?), rest)
        } else if let Some(rest) = text.strip_prefix("-f ") {
            let (f, rest) = word(rest.trim_start());
            if f.is_empty() {
                return Err(Errno::InvalidArgument);
            }
            (Place::Feature(f), rest)
        } else if let Some(rest) = text.strip_prefix("-a ") {
            (Place::LeastLoaded, rest)
        } else {
            (Place::LeastLoaded, text)
        };
        let command = SpawnCommand::parse(rest).map_err(|e| match e {
            SpawnLineError::TooLong => Errno::TooLarge,
            _ => Errno::InvalidArgument,
        })?;
        Ok(Request { place, command })
    }
}

/// The first word of `text`, and what follows it.
fn word(text: &str) -> (String, &str) {
    text.split_once([' ', '\t']).map_or((String::from(text), ""), |(w, r)| (String::from(w), r))
}

/// The node `place` picks among `nodes`: `NoNode` when none that is up
/// fits. A node named with `-n` is taken as the table has it (suspect or
/// drained too: its mount answers), `NoNode` if the table has no such
/// node, `Lost` if it is down or left.
pub fn pick(place: &Place, nodes: &[NodeLine]) -> Result<NodeId, Errno> {
    let up = nodes.iter().filter(|n| n.state == NodeState::Up);
    let chosen = match place {
        Place::Node(id) => {
            let named = nodes.iter().find(|n| n.node == *id).ok_or(Errno::NoNode)?;
            return if named.state.is_down() { Err(Errno::Lost) } else { Ok(*id) };
        }
        Place::LeastLoaded => up.min_by_key(|n| (n.load, n.node)),
        Place::Feature(f) => up.filter(|n| n.features.split(',').any(|x| x == f)).min_by_key(|n| (n.load, n.node)),
    };
    chosen.map(|n| n.node).ok_or(Errno::NoNode)
}

/// `path` (absolute, on `home`) as a program on `running` names it.
pub fn from_home(path: &str, home: NodeId, running: NodeId) -> String {
    if home == running {
        return String::from(path);
    }
    let there = mount_point(running);
    match path.strip_prefix(there.as_str()) {
        // A file of the running node itself, through our mount of it.
        Some(rest) if rest.is_empty() || rest.starts_with('/') => {
            if rest.is_empty() {
                String::from("/")
            } else {
                String::from(rest)
            }
        }
        // Another node's files are at the same place on every node.
        _ if libux::cluster::is_cluster_mount(path) => String::from(path),
        _ => format!("{}{path}", mount_point(home)),
    }
}

/// The `/proc/spawn` line for `running`, of `command` written on `home`:
/// descriptors, and a program that is a file (not `/bin/NAME`), name the
/// starter's files.
pub fn line_for(command: &SpawnCommand, home: NodeId, running: NodeId) -> String {
    let mut c = command.clone();
    for f in &mut c.fds {
        f.path = from_home(&f.path, home, running);
    }
    let program = &mut c.argv[0];
    if program.starts_with('/') && !program.starts_with("/bin/") {
        *program = from_home(program, home, running);
    }
    c.line()
}

#[cfg(test)]
mod tests {
    use super::*;
    use libux::cluster::NodeLine;

    fn node(n: u16, state: &str, load: u32, features: &str) -> NodeLine {
        let f = if features.is_empty() { "-" } else { features };
        NodeLine::parse(&format!("{n} node{n} 10.1.0.{n}!5640 {state} {load} 3 1000 {f}")).unwrap()
    }

    #[test]
    fn placements_parse() {
        let r = Request::parse("-n 3 1>/dev/cons /bin/echo hi").unwrap();
        assert_eq!(r.place, Place::Node(NodeId(3)));
        assert_eq!((r.command.fds.len(), r.command.argv.join(" ")), (1, String::from("/bin/echo hi")));
        assert_eq!(Request::parse("-f fast true").unwrap().place, Place::Feature(String::from("fast")));
        assert_eq!(Request::parse("-a true").unwrap().place, Place::LeastLoaded);
        assert_eq!(Request::parse("true\n").unwrap().place, Place::LeastLoaded);
        for bad in ["-n 0 true", "-n x true", "-n 3", "", "-f  ", "1>rel true"] {
            assert!(Request::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_least_loaded_node_that_is_up_and_fits() {
        let nodes = [node(1, "up", 4, ""), node(2, "down", 0, "fast"), node(3, "up", 1, "fast"), node(4, "up", 1, "")];
        assert_eq!(pick(&Place::LeastLoaded, &nodes), Ok(NodeId(3)));
        assert_eq!(pick(&Place::Feature(String::from("fast")), &nodes), Ok(NodeId(3)));
        assert_eq!(pick(&Place::Feature(String::from("big")), &nodes), Err(Errno::NoNode));
        assert_eq!(pick(&Place::LeastLoaded, &nodes[1..2]), Err(Errno::NoNode));
        // Named: as the table has it.
        assert_eq!(pick(&Place::Node(NodeId(4)), &nodes), Ok(NodeId(4)));
        assert_eq!(pick(&Place::Node(NodeId(2)), &nodes), Err(Errno::Lost));
        assert_eq!(pick(&Place::Node(NodeId(9)), &nodes), Err(Errno::NoNode));
        let suspect = [node(5, "suspect", 0, "")];
        assert_eq!(pick(&Place::Node(NodeId(5)), &suspect), Ok(NodeId(5)));
    }

    #[test]
    fn the_home_nodes_files_from_another() {
        let (home, there) = (NodeId(1), NodeId(2));
        assert_eq!(from_home("/dev/cons", home, there), "/n/node1/dev/cons");
        assert_eq!(from_home("/n/node2/tmp/x", home, there), "/tmp/x");
        assert_eq!(from_home("/n/node2", home, there), "/");
        assert_eq!(from_home("/n/node3/tmp/x", home, there), "/n/node3/tmp/x");
        assert_eq!(from_home("/n/node22/x", home, there), "/n/node22/x");
        assert_eq!(from_home("/n/other/x", home, there), "/n/node1/n/other/x");
        assert_eq!(from_home("/dev/cons", home, home), "/dev/cons");
        let c = SpawnCommand::parse("0</dev/pipe/3/r 1>/dev/cons cat").unwrap();
        assert_eq!(line_for(&c, home, there), "0</n/node1/dev/pipe/3/r 1>/n/node1/dev/cons cat");
        // A program that is a file is the starter's; one of /bin is anyone's.
        let c = SpawnCommand::parse("/tmp/prog /tmp/arg").unwrap();
        assert_eq!(line_for(&c, home, there), "/n/node1/tmp/prog /tmp/arg");
        let c = SpawnCommand::parse("/bin/cat /tmp/arg").unwrap();
        assert_eq!(line_for(&c, home, there), "/bin/cat /tmp/arg");
        let c = SpawnCommand::parse("/n/node2/tmp/prog").unwrap();
        assert_eq!(line_for(&c, home, there), "/tmp/prog");
    }
}

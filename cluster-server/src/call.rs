//! What `/proc/cluster/call` takes: a process API request
//! (`libux::rpc::Request`, postcard) that names a process by its gpid,
//! or a `Spawn` with a placement; the reply (`rpc::Reply`) is read back
//! on the same open file. Only the calls a process server answers
//! `Elsewhere` for come here: `Kill`, `Stop`, `Cont`, `Wait` for one
//! process and `HasEnded`, and `Spawn` placed elsewhere or by load. The
//! cluster server of the process's node (of the node placed on) carries
//! a call out; any other node's forwards it there, through the same file
//! of that node's tree (the request's bytes are one protocol, local or
//! remote).

use crate::spawn::from_home;
use alloc::string::String;
use alloc::vec::Vec;
use libux::cluster::{Gpid, NodeId, Place};
use libux::procfs::Ctl;
use libux::rpc::{decode_request, Errno, FdName, Request, Spawn};

/// The longest request taken (a `Spawn` with its arguments; the others
/// are a few bytes).
pub const REQUEST_MAX: usize = 4096;

/// A call the file takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    /// `kill`, `stop` or `cont` the process.
    Act(Ctl, Gpid),
    /// Wait for the process to end (`hang`), or reap it if it has.
    Wait { gpid: Gpid, hang: bool },
    /// Tell whether the process has ended, reaping nothing.
    HasEnded(Gpid),
    /// Start a program where it says.
    Spawn(Placed),
}

/// A `Spawn` with a placement, owned. Its paths are absolute: of its
/// home node (the starter's), until [`Placed::from_home`] makes them the
/// running node's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placed {
    pub place: Place,
    pub path: String,
    pub argv: Vec<String>,
    pub env: Vec<String>,
    /// Descriptor, path, open flags.
    pub fds: Vec<(u8, String, u32)>,
    /// The process of the home node it is started for, once placed.
    pub home_parent: Option<Gpid>,
}

impl Call {
    /// The call `bytes` encode: `InvalidArgument` for a request this file
    /// does not take or one that names no process of a node,
    /// `BadRequest` for bytes that are no request.
    pub fn parse(bytes: &[u8]) -> Result<Call, Errno> {
        if bytes.len() > REQUEST_MAX {
            return Err(Errno::TooLarge);
        }
        let gpid = |pid| Some(Gpid(pid)).filter(|g| g.node().is_some() && g.pid() != 0).ok_or(Errno::InvalidArgument);
        match decode_request(bytes)? {
            Request::Kill { pid } => Ok(Call::Act(Ctl::Kill, gpid(pid)?)),
            Request::Stop { pid } => Ok(Call::Act(Ctl::Stop, gpid(pid)?)),
            Request::Cont { pid } => Ok(Call::Act(Ctl::Cont, gpid(pid)?)),
            Request::Wait { pid: Some(pid), hang } => Ok(Call::Wait { gpid: gpid(pid)?, hang }),
            Request::HasEnded { pid } => Ok(Call::HasEnded(gpid(pid)?)),
            Request::Spawn(s) => Placed::of(s).map(Call::Spawn),
            _ => Err(Errno::InvalidArgument),
        }
    }

    /// The process it names (none: a spawn's).
    pub fn gpid(&self) -> Option<Gpid> {
        match self {
            Call::Act(_, g) | Call::Wait { gpid: g, .. } | Call::HasEnded(g) => Some(*g),
            Call::Spawn(_) => None,
        }
    }

    /// The request again, to forward to the process's node.
    pub fn request(&self) -> Request<'_> {
        match self {
            Call::Act(Ctl::Kill, g) => Request::Kill { pid: g.0 },
            Call::Act(Ctl::Stop, g) => Request::Stop { pid: g.0 },
            Call::Act(Ctl::Cont, g) => Request::Cont { pid: g.0 },
            Call::Wait { gpid, hang } => Request::Wait { pid: Some(gpid.0), hang: *hang },
            Call::HasEnded(gpid) => Request::HasEnded { pid: gpid.0 },
            Call::Spawn(p) => Request::Spawn(p.spawn()),
        }
    }
}

impl Placed {
    /// A placed `Spawn` that can cross nodes: with a placement, without
    /// a redirect (an intermediary is of one node), with absolute paths.
    fn of(s: Spawn) -> Result<Placed, Errno> {
        let absolute = |p: &str| p.starts_with('/');
        let place = s.place.ok_or(Errno::InvalidArgument)?;
        let program_ok = absolute(s.path) || !s.path.contains('/');
        if s.redirect.is_some() || !program_ok || !s.fds.iter().all(|f| absolute(f.path)) {
            return Err(Errno::InvalidArgument);
        }
        Ok(Placed {
            place,
            path: String::from(s.path),
            argv: s.argv.into_iter().map(String::from).collect(),
            env: s.env.into_iter().map(String::from).collect(),
            fds: s.fds.into_iter().map(|f| (f.fd, String::from(f.path), f.flags)).collect(),
            home_parent: s.home_parent.map(Gpid),
        })
    }

    /// It as `running` is to start it for `parent` of node `home` (the
    /// home model): placed there, the descriptors, and a program that is
    /// a file (not `/bin/NAME`), naming the home node's files.
    pub fn from_home(&self, home: NodeId, parent: Gpid, running: NodeId) -> Placed {
        let program = |p: &String| {
            if p.starts_with('/') && !p.starts_with("/bin/") {
                from_home(p, home, running)
            } else {
                p.clone()
            }
        };
        Placed {
            place: Place::Node(running),
            path: program(&self.path),
            argv: self.argv.clone(),
            env: self.env.clone(),
            fds: self.fds.iter().map(|(fd, p, f)| (*fd, from_home(p, home, running), *f)).collect(),
            home_parent: Some(parent),
        }
    }

    /// The descriptors as the process API names them.
    pub fn fd_names(&self) -> Vec<FdName<'_>> {
        self.fds.iter().map(|(fd, path, flags)| FdName { fd: *fd, path, flags: *flags }).collect()
    }

    /// The process API's request for it.
    pub fn spawn(&self) -> Spawn<'_> {
        Spawn {
            path: &self.path,
            argv: self.argv.iter().map(String::as_str).collect(),
            env: self.env.iter().map(String::as_str).collect(),
            redirect: None,
            fds: self.fd_names(),
            place: Some(self.place.clone()),
            home_parent: self.home_parent.map(|g| g.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(r: &Request) -> alloc::vec::Vec<u8> {
        postcard::to_allocvec(r).unwrap()
    }

    #[test]
    fn calls_about_a_process_of_a_node_and_nothing_else() {
        let g = Gpid(3 << 16 | 9);
        for (req, call) in [
            (Request::Kill { pid: g.0 }, Call::Act(Ctl::Kill, g)),
            (Request::Stop { pid: g.0 }, Call::Act(Ctl::Stop, g)),
            (Request::Cont { pid: g.0 }, Call::Act(Ctl::Cont, g)),
            (Request::Wait { pid: Some(g.0), hang: true }, Call::Wait { gpid: g, hang: true }),
            (Request::HasEnded { pid: g.0 }, Call::HasEnded(g)),
        ] {
            assert_eq!(Call::parse(&bytes(&req)), Ok(call.clone()));
            assert_eq!(call.request(), req);
            assert_eq!(call.gpid(), Some(g));
        }
        for req in [
            Request::GetPid,
            Request::Wait { pid: None, hang: true },
            Request::Kill { pid: 9 },
            Request::Kill { pid: 3 << 16 },
            Request::HasEnded { pid: 9 },
        ] {
            assert_eq!(Call::parse(&bytes(&req)), Err(Errno::InvalidArgument), "{req:?}");
        }
        assert_eq!(Call::parse(&[0xff; 3]), Err(Errno::BadRequest));
        assert_eq!(Call::parse(&[0; REQUEST_MAX + 1]), Err(Errno::TooLarge));
    }

    fn spawn<'a>(path: &'a str, fds: Vec<FdName<'a>>, place: Option<Place>) -> Request<'a> {
        Request::Spawn(Spawn {
            path,
            argv: alloc::vec![path, "x"],
            env: alloc::vec!["A=1"],
            redirect: None,
            fds,
            place,
            home_parent: None,
        })
    }

    #[test]
    fn a_placed_spawn_crosses_with_the_home_nodes_paths() {
        let cons = FdName { fd: 1, path: "/dev/cons", flags: 2 };
        let req = spawn("/tmp/prog", alloc::vec![cons], Some(Place::LeastLoaded));
        let Ok(Call::Spawn(p)) = Call::parse(&bytes(&req)) else { panic!() };
        assert_eq!(Call::Spawn(p.clone()).request(), req, "the same request again");
        assert_eq!(Call::Spawn(p.clone()).gpid(), None);
        let starter = Gpid(1 << 16 | 7);
        let there = p.from_home(NodeId(1), starter, NodeId(2));
        assert_eq!(there.place, Place::Node(NodeId(2)));
        assert_eq!(there.home_parent, Some(starter));
        assert_eq!(Call::parse(&bytes(&Call::Spawn(there.clone()).request())), Ok(Call::Spawn(there.clone())));
        assert_eq!((there.path.as_str(), there.argv[0].as_str()), ("/n/node1/tmp/prog", "/tmp/prog"));
        assert_eq!(there.fd_names(), [FdName { fd: 1, path: "/n/node1/dev/cons", flags: 2 }]);
        assert_eq!(there.env, ["A=1"]);
        // One of /bin, or a bare name, is the running node's own.
        let Ok(Call::Spawn(p)) = Call::parse(&bytes(&spawn("/bin/true", alloc::vec![], Some(Place::LeastLoaded))))
        else {
            panic!()
        };
        assert_eq!(p.from_home(NodeId(1), starter, NodeId(2)).path, "/bin/true");
        // Not without a placement, with a redirect, or with a relative path.
        let relative = FdName { fd: 0, path: "in", flags: 1 };
        for bad in [
            spawn("/bin/true", alloc::vec![], None),
            spawn("tmp/prog", alloc::vec![], Some(Place::LeastLoaded)),
            spawn("/bin/true", alloc::vec![relative], Some(Place::LeastLoaded)),
        ] {
            assert_eq!(Call::parse(&bytes(&bad)), Err(Errno::InvalidArgument), "{bad:?}");
        }
        let Request::Spawn(mut s) = spawn("/bin/true", alloc::vec![], Some(Place::LeastLoaded)) else { panic!() };
        s.redirect = Some(40);
        assert_eq!(Call::parse(&bytes(&Request::Spawn(s))), Err(Errno::InvalidArgument));
    }
}

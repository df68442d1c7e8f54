//! What `/proc/cluster/call` takes: a process API request
//! (`libux::rpc::Request`, postcard) that names a process by its gpid;
//! the reply (`rpc::Reply`) is read back on the same open file. Only the
//! calls about another process that a process server answers
//! `Elsewhere` for come here: `Kill`, `Stop`, `Cont`, and `Wait` for one
//! process. The cluster server of the process's node carries a call out;
//! any other node's forwards it there, through the same file of that
//! node's tree (the request's bytes are one protocol, local or remote).

use libux::cluster::Gpid;
use libux::procfs::Ctl;
use libux::rpc::{decode_request, Errno, Request};

/// The longest request taken (these are a few bytes).
pub const REQUEST_MAX: usize = 64;

/// A call the file takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    /// `kill`, `stop` or `cont` the process.
    Act(Ctl, Gpid),
    /// Wait for the process to end (`hang`), or tell whether it has.
    Wait { gpid: Gpid, hang: bool },
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
            _ => Err(Errno::InvalidArgument),
        }
    }

    pub fn gpid(self) -> Gpid {
        match self {
            Call::Act(_, g) | Call::Wait { gpid: g, .. } => g,
        }
    }

    /// The request again, to forward to the process's node.
    pub fn request(self) -> Request<'static> {
        match self {
            Call::Act(Ctl::Kill, g) => Request::Kill { pid: g.0 },
            Call::Act(Ctl::Stop, g) => Request::Stop { pid: g.0 },
            Call::Act(Ctl::Cont, g) => Request::Cont { pid: g.0 },
            Call::Wait { gpid, hang } => Request::Wait { pid: Some(gpid.0), hang },
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
        ] {
            assert_eq!(Call::parse(&bytes(&req)), Ok(call));
            assert_eq!(call.request(), req);
            assert_eq!(call.gpid(), g);
        }
        for req in [
            Request::GetPid,
            Request::Wait { pid: None, hang: true },
            Request::Kill { pid: 9 },
            Request::Kill { pid: 3 << 16 },
        ] {
            assert_eq!(Call::parse(&bytes(&req)), Err(Errno::InvalidArgument), "{req:?}");
        }
        assert_eq!(Call::parse(&[0xff; 3]), Err(Errno::BadRequest));
        assert_eq!(Call::parse(&[0; REQUEST_MAX + 1]), Err(Errno::TooLarge));
    }
}

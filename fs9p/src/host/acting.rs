//! Acting as a client's user: a server running as root does each
//! operation with the attaching user's ids and groups, so the host's own
//! permission checks decide (as diod does). Linux keeps credentials per
//! thread, so [`Acting`] switches only the calling thread's, and puts the
//! server's back when dropped; the other threads serving other clients
//! are untouched.

use crate::error::Error;
use nix::unistd::{getgrouplist, User as HostUser};
use rustix::fs::{Gid, Uid};
use rustix::process::{getegid, getgroups};
use rustix::thread::{set_thread_groups, set_thread_res_gid, set_thread_res_uid};
use std::ffi::CString;
use std::vec::Vec;

/// A user's ids, as the host knows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cred {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    /// Stands for another (root, squashed): what that one asks for its
    /// files' groups is not this one's to give.
    pub squashed: bool,
}

impl Cred {
    /// The host's user with id `uid`, or with `name`; `None` if the host
    /// knows no such user.
    pub fn lookup(uid: Option<u32>, name: &str) -> Option<Cred> {
        let user = match uid {
            Some(id) => HostUser::from_uid(nix::unistd::Uid::from_raw(id)).ok()??,
            None => HostUser::from_name(name).ok()??,
        };
        let cname = CString::new(user.name.as_bytes()).ok()?;
        let groups = getgrouplist(&cname, user.gid).ok()?;
        Some(Cred {
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
            groups: groups.into_iter().map(|g| g.as_raw()).collect(),
            squashed: false,
        })
    }
}

impl Cred {
    /// The same user, creating files with group `gid`: one of its groups
    /// (any, for root; its own, when it stands for a squashed root).
    pub fn with_group(&self, gid: u32) -> Result<Cred, Error> {
        if self.squashed {
            return Ok(self.clone());
        }
        if gid != self.gid && self.uid != 0 && !self.groups.contains(&gid) {
            return Err(Error::NotPermitted);
        }
        Ok(Cred { gid, ..self.clone() })
    }
}

/// The server's own groups, to come back to.
pub struct Own {
    gid: Gid,
    groups: Vec<Gid>,
}

impl Own {
    pub fn now() -> std::io::Result<Own> {
        Ok(Own { gid: getegid(), groups: getgroups()? })
    }
}

/// The calling thread acts as a user until this is dropped.
pub struct Acting<'a> {
    own: &'a Own,
}

/// Makes the calling thread act as `cred` (the saved user id stays root,
/// so the thread can come back). Root acting as root (with its own group)
/// changes nothing: root's rights do not depend on its groups.
pub fn act<'a>(cred: &Cred, own: &'a Own) -> Result<Option<Acting<'a>>, Error> {
    if cred.uid == 0 && cred.gid == own.gid.as_raw() {
        return Ok(None);
    }
    let groups: Vec<Gid> = cred.groups.iter().map(|&g| Gid::from_raw_unchecked(g)).collect();
    let acting = Acting { own };
    set_thread_groups(&groups).map_err(|_| Error::NotPermitted)?;
    set_thread_res_gid(None, Gid::from_raw_unchecked(cred.gid), None).map_err(|_| Error::NotPermitted)?;
    set_thread_res_uid(None, Uid::from_raw_unchecked(cred.uid), None).map_err(|_| Error::NotPermitted)?;
    Ok(Some(acting))
}

impl Drop for Acting<'_> {
    fn drop(&mut self) {
        // Failing to come back would leave a thread serving others with a
        // client's rights: nothing may go on after that.
        set_thread_res_uid(None, Uid::ROOT, None).expect("the server takes back its user id");
        set_thread_res_gid(None, self.own.gid, None).expect("the server takes back its group id");
        set_thread_groups(&self.own.groups).expect("the server takes back its groups");
    }
}

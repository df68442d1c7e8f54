//! Requests that change the tree (Tremove, Tunlinkat, Tsetattr, Twstat,
//! Trenameat, Trename): read once from the request into a [`Change`],
//! then carried out in the session or, for what the file system says may
//! wait, apart as a lookup (a remove under another node's tree waits
//! for that node as a walk there does).

use super::{valid_name, wstat_changes, Changes, Filesystem, Session, AT_REMOVEDIR};
use crate::error::Error;
use crate::msg::Msg;
use alloc::string::{String, ToString};

/// A change to the tree, owning what it names.
#[derive(Debug)]
pub(super) enum Change<N> {
    Remove(N),
    /// Tunlinkat: `dir`'s entry `name`, which must be a directory when
    /// `dir_only` (`AT_REMOVEDIR`) and must not be otherwise.
    Unlink {
        dir: N,
        name: String,
        dir_only: bool,
    },
    /// Tsetattr, or Twstat (`wstat`; it may also rename in place).
    Set {
        node: N,
        changes: Changes,
        rename: Option<String>,
        wstat: bool,
    },
    Rename {
        node: N,
        to: N,
        name: String,
    },
    RenameAt {
        from: N,
        old: String,
        to: N,
        new: String,
    },
}

impl<N: Clone> Change<N> {
    /// The nodes whose file systems may make it wait: what it changes,
    /// and where a rename puts it.
    pub(super) fn nodes(&self) -> impl Iterator<Item = &N> {
        let (node, to) = match self {
            Change::Remove(node) | Change::Set { node, .. } => (node, None),
            Change::Unlink { dir, .. } => (dir, None),
            Change::Rename { node, to, .. } => (node, Some(to)),
            Change::RenameAt { from, to, .. } => (from, Some(to)),
        };
        core::iter::once(node).chain(to)
    }

    /// The reply once it is made.
    pub(super) fn done(&self) -> Msg<'static> {
        match self {
            Change::Remove(_) => Msg::Rremove,
            Change::Unlink { .. } => Msg::Runlinkat,
            Change::Set { wstat: false, .. } => Msg::Rsetattr,
            Change::Set { wstat: true, .. } => Msg::Rwstat,
            Change::Rename { .. } => Msg::Rrename,
            Change::RenameAt { .. } => Msg::Rrenameat,
        }
    }

    /// Carries it out, on any thread (no session needed).
    pub(super) fn apply<F: Filesystem<Node = N>>(&self, fs: &mut F) -> Result<(), Error> {
        match self {
            Change::Remove(node) => fs.remove(node),
            Change::Unlink { dir, name, dir_only } => {
                let (node, meta) = fs.walk(dir, name)?;
                // AT_REMOVEDIR says which the caller meant, as unlinkat(2).
                match (meta.is_dir(), dir_only) {
                    (true, false) => Err(Error::IsDir),
                    (false, true) => Err(Error::NotDir),
                    _ => fs.remove(&node),
                }
            }
            Change::Set { node, changes, rename, .. } => {
                if !changes.is_empty() {
                    fs.setattr(node, changes)?;
                }
                match rename {
                    Some(name) => {
                        let (parent, _) = fs.walk(node, "..")?;
                        fs.rename(node, &parent, name)
                    }
                    None => Ok(()),
                }
            }
            Change::Rename { node, to, name } => fs.rename(node, to, name),
            Change::RenameAt { from, old, to, new } => {
                let (node, _) = fs.walk(from, old)?;
                fs.rename(&node, to, new)
            }
        }
    }
}

impl<N: Clone, H, J: Clone> Session<N, H, J> {
    /// The change `msg` asks for; `None` for a request that changes
    /// nothing. The session is not touched (a Tremove's fid is clunked by
    /// whoever carries it out).
    pub(super) fn change_of(&self, msg: &Msg) -> Option<Result<Change<N>, Error>> {
        self.change(msg).transpose()
    }

    fn change(&self, msg: &Msg) -> Result<Option<Change<N>>, Error> {
        let node = |fid: u32| self.fid(fid).map(|f| f.node.clone());
        let change = match *msg {
            Msg::Tremove { fid } => Change::Remove(node(fid)?),
            Msg::Tunlinkat { dirfd, name, flags } => {
                valid_name(name)?;
                Change::Unlink { dir: node(dirfd)?, name: name.to_string(), dir_only: flags & AT_REMOVEDIR != 0 }
            }
            Msg::Tsetattr { fid, ref attr } => {
                Change::Set { node: node(fid)?, changes: Changes::from_setattr(attr), rename: None, wstat: false }
            }
            Msg::Twstat { fid, ref stat } => {
                let node = node(fid)?;
                let changes = wstat_changes(stat)?;
                let rename = match stat.name {
                    "" => None,
                    name => Some(valid_name(name).map(|()| name.to_string())?),
                };
                Change::Set { node, changes, rename, wstat: true }
            }
            Msg::Trename { fid, dfid, name } => {
                valid_name(name)?;
                Change::Rename { node: node(fid)?, to: node(dfid)?, name: name.to_string() }
            }
            Msg::Trenameat { olddirfid, oldname, newdirfid, newname } => {
                valid_name(oldname)?;
                valid_name(newname)?;
                let (from, to) = (node(olddirfid)?, node(newdirfid)?);
                Change::RenameAt { from, old: oldname.to_string(), to, new: newname.to_string() }
            }
            _ => return Ok(None),
        };
        Ok(Some(change))
    }
}

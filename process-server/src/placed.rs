//! A process's children on other nodes, which the cluster server placed
//! there for it (`Request::Placed`): kept with the parent until it waits
//! for them, with their ends once the cluster server tells them
//! (`Request::PlacedEnded`; it reaps them there as they end), so that
//! the parent's `Wait`s, for any child or for one by gpid, take them in
//! as they take its children here.

use alloc::vec::Vec;
use libux::cluster::Gpid;
use libux::rpc::{End, Errno, Waited, PLACED_MAX};

/// One child abroad, and its end once told.
struct Child {
    gpid: Gpid,
    end: Option<End>,
}

/// A live process's children abroad, oldest first.
#[derive(Default)]
pub struct Placed(Vec<Child>);

impl Placed {
    /// Takes in `gpid`, placed for us; `Busy` past `PLACED_MAX`. (A gpid
    /// listed and ended may come again: its node reused the id.)
    pub fn add(&mut self, gpid: Gpid) -> Result<(), Errno> {
        if self.0.iter().any(|c| c.gpid == gpid && c.end.is_none()) {
            return Ok(());
        }
        if self.0.len() >= PLACED_MAX {
            return Err(Errno::Busy);
        }
        self.0.push(Child { gpid, end: None });
        Ok(())
    }

    pub fn has(&self, gpid: Gpid) -> bool {
        self.0.iter().any(|c| c.gpid == gpid)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// `gpid` ended as `end`; whether it is one of ours (and was not
    /// told ended before).
    pub fn ended(&mut self, gpid: Gpid, end: End) -> bool {
        match self.0.iter_mut().find(|c| c.gpid == gpid && c.end.is_none()) {
            Some(c) => {
                c.end = Some(end);
                true
            }
            None => false,
        }
    }

    /// Takes out a child that ended and is `which` (any, if `None`; the
    /// oldest first).
    pub fn reap(&mut self, which: Option<Gpid>) -> Option<Waited> {
        let i = self.0.iter().position(|c| c.end.is_some() && which.is_none_or(|w| w == c.gpid))?;
        let c = self.0.remove(i);
        Some(Waited { pid: c.gpid.0, end: c.end.expect("ended") })
    }
}

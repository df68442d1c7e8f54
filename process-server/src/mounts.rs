//! The namespace policy: the mount tables of every namespace, who may
//! mount where, and the connections (badged copies of a file server's
//! endpoint) that resolving a path hands a process. It reads the process
//! table (a process's namespace, working directory and rights) and keeps
//! each process's connections in its record; it takes kernel slots; it
//! starts and ends no process.

use crate::kernel::Kernel;
use crate::mem::{ROOT_CNODE, ROOT_DEPTH};
use crate::process::ConnRoot;
use crate::procs::Procs;
use alloc::string::String;
use alloc::vec::Vec;
use libux::cluster;
use libux::layout;
use libux::namespace::{self, MountError, MountTable, Namespaces, NsId};
use libux::rpc::{Badge, Errno, Pid, Response, BIN_BADGE};
use libux::sel4::{CapRights, Endpoint};

/// Mount points in one namespace: the node's own and a cluster's
/// automounts of up to about 150 other nodes (with 64, a node of 64 could
/// mount only 57 others, and `cps` missed the rest).
const MAX_MOUNTS: usize = 160;
/// Private namespaces at once (at most 32 x 160 user mount points of 256
/// bytes: 1.3 MiB of our 8 MiB heap).
const MAX_NAMESPACES: usize = 32;
/// Mounts (endpoint copies) one process the system description did not
/// start may hold.
const USER_MOUNTS: usize = 4;
/// The longest mount point of such a process: with `MAX_NAMESPACES` and
/// `MAX_MOUNTS`, this bounds what the tables can take of our heap.
const USER_MOUNT_POINT_MAX: usize = 256;

/// What a mount point leads to: the serving process and our copy of its
/// endpoint; for our own trees (`/proc`, `/bin`), server 0 and the
/// tree's badge bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mounted {
    pub server: Pid,
    pub endpoint: u64,
}

pub struct Mounts {
    namespaces: Namespaces<Mounted>,
    /// The daemon the system description marks `cluster`: its mount of
    /// `cluster::TREE` in the system's namespace is what `ClusterConn`
    /// connects to.
    pub cluster: Option<Pid>,
}

/// `/n/NAME`: where any process may mount a file server in the system's
/// namespace.
fn user_mount_point(at: &str) -> bool {
    at.strip_prefix("/n/").is_some_and(|name| !name.is_empty() && !name.contains('/'))
}

/// `path` normalised against `pid`'s working directory.
pub fn normalize(procs: &Procs, pid: Pid, path: &str) -> Result<String, Errno> {
    let cwd = procs.get(&pid).map_or("/", |p| p.cwd.as_str());
    libux::path::normalize(cwd, path).map_err(|e| match e {
        libux::path::PathError::Invalid => Errno::InvalidArgument,
        libux::path::PathError::TooLong | libux::path::PathError::NameTooLong => Errno::NameTooLong,
    })
}

impl Mounts {
    /// The system's namespace, with our own trees in it.
    pub fn new() -> Mounts {
        let mut m = Mounts { namespaces: Namespaces::new(MAX_MOUNTS, MAX_NAMESPACES), cluster: None };
        let system = m.namespaces.get_mut(namespace::SYSTEM).expect("the system's namespace is never dropped");
        for (at, bits) in [("/proc", 0), ("/bin", BIN_BADGE)] {
            system.mount(at, Mounted { server: 0, endpoint: bits }).expect("a fresh mount table has room");
        }
        m
    }

    /// Private namespaces now.
    pub fn private(&self) -> usize {
        self.namespaces.private()
    }

    /// The mount table of namespace `ns`.
    pub fn table(&self, ns: NsId) -> Option<&MountTable<Mounted>> {
        self.namespaces.get(ns)
    }

    /// A new process joins namespace `ns`.
    pub fn enter(&mut self, ns: NsId) {
        self.namespaces.enter(ns);
    }

    /// `pid` mounts the endpoint in its `endpoint` slot at `path`.
    pub fn mount(
        &mut self,
        procs: &mut Procs,
        kernel: &mut Kernel,
        pid: Pid,
        path: &str,
        endpoint: u64,
    ) -> Result<(), Errno> {
        let p = procs.get(&pid).ok_or(Errno::NoSuchProcess)?;
        let live = p.live().filter(|l| l.endpoints.contains(&endpoint)).ok_or(Errno::InvalidArgument)?;
        let (system, ns, made_ns, cnode, ppid) = (p.system, p.ns, p.made_ns, live.cspace.root, p.ppid);
        let at = normalize(procs, pid, path)?;
        // `/n/nodeN` is where the cluster server's mounts of the other
        // nodes go, through which it forwards their calls: nobody else may
        // take one (or a call for node N would reach whoever did).
        let cluster = self.cluster.is_some_and(|c| c == pid || c == ppid);
        if cluster::is_cluster_mount(&at) && !made_ns && !cluster {
            return Err(Errno::NotPermitted);
        }
        // Programs we started (the system description's) serve files
        // anywhere. Any other only at `/n/NAME` (remote mounts such as
        // `mount9p`'s), where it shadows nothing of the node's own, unless
        // it made the namespace it mounts in: then it shadows only what
        // it and the children it spawns from then on see.
        if !system && !made_ns && !user_mount_point(&at) {
            return Err(Errno::NotPermitted);
        }
        // Nor may one of those fill the tables, or our heap.
        if !system && (at.len() > USER_MOUNT_POINT_MAX || at.chars().any(char::is_control)) {
            return Err(Errno::InvalidArgument);
        }
        if !system && self.namespaces.distinct(|m| m.server == pid) >= USER_MOUNTS {
            return Err(Errno::NoMemory);
        }
        let ep = kernel.copy_in(cnode, endpoint)?;
        let table = self.namespaces.get_mut(ns).expect("a live process's namespace");
        if let Err(e) = table.mount(&at, Mounted { server: pid, endpoint: ep }) {
            kernel.delete_root(ep);
            return Err(match e {
                MountError::Busy => Errno::Exists,
                _ => Errno::NoMemory,
            });
        }
        if let Some(p) = procs.get_mut(&pid) {
            p.mounted = true;
        }
        Ok(())
    }

    /// `pid` takes down its mount at `path`.
    pub fn unmount(&mut self, procs: &mut Procs, kernel: &mut Kernel, pid: Pid, path: &str) -> Result<(), Errno> {
        let at = normalize(procs, pid, path)?;
        let ns = procs.get(&pid).ok_or(Errno::NoSuchProcess)?.ns;
        let table = self.namespaces.get_mut(ns).expect("a live process's namespace");
        match table.resolve(&at) {
            Some((m, "/")) if m.server == pid => {}
            Some((_, "/")) => return Err(Errno::NotPermitted),
            _ => return Err(Errno::InvalidArgument),
        }
        let mounted = table.unmount(&at).map_err(|_| Errno::InvalidArgument)?;
        if !self.namespaces.mounted_anywhere(&mounted) {
            release(procs, kernel, mounted);
        }
        Ok(())
    }

    /// The mount table `pid` sees.
    pub fn table_of(&self, procs: &Procs, pid: Pid) -> Result<&MountTable<Mounted>, Errno> {
        let ns = procs.get(&pid).ok_or(Errno::NoSuchProcess)?.ns;
        Ok(self.namespaces.get(ns).expect("a live process's namespace"))
    }

    /// A page of the names of the mount points directly under `path` in
    /// `pid`'s namespace, from the `from`th (`Request::MountPoints`).
    pub fn mount_points(&self, procs: &Procs, pid: Pid, path: &str, from: u32) -> Result<Response, Errno> {
        let dir = normalize(procs, pid, path)?;
        let names = self.table_of(procs, pid)?.children(&dir);
        let (page, more) = libux::fs::list_page(&names, from, |n| libux::fs::entry_bytes(n, false));
        Ok(Response::Names { names: page.iter().map(|&n| String::from(n)).collect(), more })
    }

    /// Gives `pid` a private copy of its namespace; one it has alone
    /// already is that.
    pub fn new_namespace(&mut self, procs: &mut Procs, pid: Pid) -> Result<(), Errno> {
        let old = procs.get(&pid).ok_or(Errno::NoSuchProcess)?.ns;
        let ns = if old == namespace::SYSTEM || self.namespaces.users(old) > 1 {
            let ns = self.namespaces.copy(old).map_err(|_| Errno::NoMemory)?;
            self.namespaces.enter(ns);
            // Others still have it: nothing is released.
            self.namespaces.leave(old);
            ns
        } else {
            old
        };
        if let Some(p) = procs.get_mut(&pid) {
            p.ns = ns;
            p.made_ns = true;
        }
        Ok(())
    }

    /// A process that ended leaves its namespace, which goes if nobody
    /// else has it, with whatever only it had mounted.
    pub fn leave(&mut self, procs: &mut Procs, kernel: &mut Kernel, ns: NsId) {
        for mounted in self.namespaces.leave(ns) {
            release(procs, kernel, mounted);
        }
    }

    /// Drops every mount `pid` served, in every namespace.
    pub fn unmount_all(&mut self, procs: &mut Procs, kernel: &mut Kernel, pid: Pid) {
        for mounted in self.namespaces.unmount_everywhere(|m| m.server == pid) {
            release(procs, kernel, mounted);
        }
    }

    /// `Request::Resolve`: the file server `path` leads `pid` to, its
    /// connection put in `pid`'s slot `into`. Our own trees are served on
    /// `ours`.
    pub fn resolve(
        &self,
        procs: &mut Procs,
        kernel: &mut Kernel,
        ours: Endpoint,
        pid: Pid,
        path: &str,
        into: u64,
    ) -> Result<Response, Errno> {
        if !(layout::slot::FIRST_FREE..1 << layout::CNODE_BITS).contains(&into) {
            return Err(Errno::InvalidArgument);
        }
        let full = normalize(procs, pid, path)?;
        let (m, rest) = self.table_of(procs, pid)?.resolve(&full).ok_or(Errno::NoFileServer)?;
        let (m, rest) = (*m, String::from(rest));
        let at = &full[..full.len() - if rest == "/" { 0 } else { rest.len() }];
        let mount = String::from(if at.is_empty() { "/" } else { at });
        let (window, root) = match m.server {
            0 => (None, None),
            server => (crate::windows::made(procs, pid, server), Some(conn_root(procs, kernel, pid, m)?)),
        };
        let live = procs.live_mut(pid)?;
        live.cspace.reach(&mut kernel.mem, &mut live.arena, into)?;
        let cnode = live.cspace.root;
        // The slot is the caller's to reuse: whatever was there goes.
        let _ = cnode.delete(into, layout::CNODE_BITS);
        match root {
            Some(root) => cnode.copy(into, layout::CNODE_BITS, ROOT_CNODE, root, ROOT_DEPTH, CapRights::CALL),
            // Our own trees: the endpoint is the tree's badge bits.
            None => {
                let badge = Badge::files(pid, m.endpoint == BIN_BADGE).0;
                cnode.mint(into, layout::CNODE_BITS, ROOT_CNODE, ours.0, ROOT_DEPTH, CapRights::CALL, badge)
            }
        }
        .map_err(|_| Errno::InvalidArgument)?;
        Ok(Response::Resolved { mount, path: rest, server: m.server, window })
    }

    /// `Request::ClusterConn`: `pid`'s connection to the cluster server's
    /// tree as the system's namespace has it (a copy of the one its files
    /// there would use, so it goes when the cluster server does), put in
    /// its slot `CLUSTER_CONN`. `NoFileServer` until the cluster server
    /// has mounted its tree, or if someone else's is there.
    pub fn cluster_conn(&self, procs: &mut Procs, kernel: &mut Kernel, pid: Pid) -> Result<Response, Errno> {
        let system = self.namespaces.get(namespace::SYSTEM).expect("the system's namespace is never dropped");
        let m = match system.resolve(cluster::TREE) {
            Some((m, "/")) if self.cluster.is_some_and(|c| c == m.server) => *m,
            _ => return Err(Errno::NoFileServer),
        };
        let root = conn_root(procs, kernel, pid, m)?;
        let window = crate::windows::made(procs, pid, m.server);
        let into = layout::slot::CLUSTER_CONN;
        let live = procs.live_mut(pid)?;
        live.cspace.reach(&mut kernel.mem, &mut live.arena, into)?;
        let cnode = live.cspace.root;
        let _ = cnode.delete(into, layout::CNODE_BITS);
        cnode
            .copy(into, layout::CNODE_BITS, ROOT_CNODE, root, ROOT_DEPTH, CapRights::CALL)
            .map_err(|_| Errno::InvalidArgument)?;
        let (mount, path) = (String::from(cluster::TREE), String::from("/"));
        Ok(Response::Resolved { mount, path, server: m.server, window })
    }
}

/// `client`'s badged connection to the file server `m`: every connection
/// it is given is a copy of this one, so that all go, wherever they were
/// passed, when it ends; a file server never hears from a process that
/// has ended.
fn conn_root(procs: &mut Procs, kernel: &mut Kernel, client: Pid, m: Mounted) -> Result<u64, Errno> {
    let live = procs.live(client)?;
    if let Some(c) = live.conn_roots.iter().find(|c| (c.server, c.endpoint) == (m.server, m.endpoint)) {
        return Ok(c.root);
    }
    let root = kernel.mem.slot()?;
    let b = Badge::connection(client).0;
    if ROOT_CNODE.mint(root, ROOT_DEPTH, ROOT_CNODE, m.endpoint, ROOT_DEPTH, CapRights::CALL, b).is_err() {
        kernel.mem.free_slot(root);
        return Err(Errno::InvalidArgument);
    }
    if let Ok(live) = procs.live_mut(client) {
        live.conn_roots.push(ConnRoot { server: m.server, endpoint: m.endpoint, root });
    }
    Ok(root)
}

/// A mount no namespace has any more: every connection to it is revoked
/// (our copy of the endpoint is going: its slot may be reused for
/// another), and the copy deleted.
fn release(procs: &mut Procs, kernel: &mut Kernel, m: Mounted) {
    if m.server == 0 {
        return;
    }
    let mut roots = Vec::new();
    for p in procs.values_mut() {
        if let Some(live) = p.live_mut() {
            live.conn_roots.retain(|c| {
                let going = (c.server, c.endpoint) == (m.server, m.endpoint);
                if going {
                    roots.push(c.root);
                }
                !going
            });
        }
    }
    for root in roots {
        let _ = ROOT_CNODE.revoke(root, ROOT_DEPTH);
        kernel.delete_root(root);
    }
    kernel.delete_root(m.endpoint);
}

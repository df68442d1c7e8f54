//! Several nodes on one Ethernet segment: each node's second NIC is on
//! QEMU's multicast socket network (`-netdev socket,mcast=GROUP:PORT,
//! localaddr=127.0.0.1`), so frames go from QEMU to QEMU with no process
//! in the middle, and a node started later (by another `cargo ux`, on
//! this host or, with a LAN's address, another) joins by using the same
//! group and port. Node `k` gets MAC 52:54:00:00:HH:LL (HH and LL the
//! bytes of k) and, from its netstack, the address 10.1.HH.LL/16
//! (`NodeId::segment_addr`); its first NIC stays on a user
//! network of its own (DHCP, and port forwards from the host).
//!
//! A cluster has a secret (32 random bytes, hex, in a file only its owner
//! may read) that its nodes get through fw_cfg (`opt/ux/secret`), and
//! each node its configuration (`opt/ux/cluster`: `node=N name=NAME
//! features=...`); every node, in a cluster or not, gets a seed of its
//! own (`private::Seed`).

use crate::image::Image;
use crate::node::{ClusterLink, Node, Options, Secret};
use std::path::PathBuf;
use std::time::Duration;

/// Nodes one invocation may start (at 128 MiB each, more than this
/// host holds); their numbers may be any of 1 to 32767.
pub const MAX_NODES: usize = 250;
/// The largest node number.
pub const MAX_NUMBER: u16 = libux::cluster::NodeId::MAX;

/// A cluster's segment: a multicast group and port on the loopback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub group: [u8; 4],
    pub port: u16,
}

impl Segment {
    /// A segment no other cluster of this host uses now.
    pub fn new() -> Result<Segment, String> {
        let port = crate::node::free_port(true)?;
        // The port tells clusters apart; the group follows it.
        Ok(Segment { group: [230, 0, (port >> 8) as u8, port as u8], port })
    }

    /// `GROUP:PORT`, as `--segment` takes it.
    pub fn parse(text: &str) -> Option<Segment> {
        let (group, port) = text.split_once(':')?;
        let ip: std::net::Ipv4Addr = group.parse().ok()?;
        ip.is_multicast().then_some(())?;
        Some(Segment { group: ip.octets(), port: port.parse().ok().filter(|&p| p != 0)? })
    }

    /// A socket that receives every frame on the segment, as each QEMU
    /// does (to look at the segment from the host: what went over it).
    pub fn tap(&self) -> Result<std::net::UdpSocket, String> {
        use socket2::{Domain, Protocol, Socket, Type};
        let e = |e: std::io::Error| format!("tapping segment {self}: {e}");
        let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).map_err(e)?;
        // The QEMUs have the port too.
        socket.set_reuse_address(true).map_err(e)?;
        let group = std::net::Ipv4Addr::from(self.group);
        socket.bind(&std::net::SocketAddrV4::new(group, self.port).into()).map_err(e)?;
        socket.join_multicast_v4(&group, &std::net::Ipv4Addr::LOCALHOST).map_err(e)?;
        Ok(socket.into())
    }

    /// QEMU's `-netdev` for a node's NIC on it.
    pub fn netdev(&self) -> String {
        let [a, b, c, d] = self.group;
        format!("socket,id=net1,mcast={a}.{b}.{c}.{d}:{},localaddr=127.0.0.1", self.port)
    }
}

impl std::fmt::Display for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [a, b, c, d] = self.group;
        write!(f, "{a}.{b}.{c}.{d}:{}", self.port)
    }
}

/// Running nodes; dropping it stops them all.
pub struct Cluster {
    pub nodes: Vec<Node>,
    /// Each node's number, as `nodes`.
    pub numbers: Vec<u16>,
    pub segment: Segment,
    /// The secret's file.
    pub secret: PathBuf,
    dir: PathBuf,
    /// Whether the files are ours to remove (not another run's).
    owned: bool,
}

impl Cluster {
    /// Waits until every node has its cluster address and its shell.
    pub fn wait_for_shells(&self, timeout: Duration) -> Result<(), String> {
        for (node, n) in self.nodes.iter().zip(&self.numbers) {
            let ip = std::net::Ipv4Addr::from(libux::cluster::NodeId(*n).segment_addr());
            let address = format!("netstack: NIC 1: address {ip}/{} (node {n})", libux::cluster::SEGMENT_PREFIX);
            for line in [address.as_str(), "ux: started sh as pid"] {
                node.wait_for(line, timeout).map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }

    /// Starts one more node on the segment: number `opts.node_number`, or
    /// the next after the last.
    pub fn add(&mut self, image: &Image, opts: &Options, echo: bool) -> Result<&Node, String> {
        let number = opts.node_number.unwrap_or_else(|| self.numbers.iter().max().map_or(1, |n| n + 1));
        if number > MAX_NUMBER || number == 0 {
            return Err(format!("node numbers are 1 to {MAX_NUMBER}, not {number}"));
        }
        let secret = match &opts.secret {
            Secret::Cluster => Some(self.secret.clone()),
            Secret::Missing => None,
            Secret::Own(hex) => Some(crate::private::write(&self.dir.join(format!("secret-of-{number}")), hex)?),
        };
        let link = ClusterLink { node: number, segment: self.segment, secret };
        let o = Options { cluster: Some(link), ..opts.clone() };
        self.nodes.push(Node::start_labelled(image, &o, echo, &format!("node{number}"))?);
        self.numbers.push(number);
        Ok(self.nodes.last().expect("just pushed"))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // The nodes first: they hold the files.
        self.nodes.clear();
        if self.owned {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Where a cluster started by this process keeps its files.
fn cluster_dir() -> Result<PathBuf, String> {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let k = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if k == 0 {
        crate::private::sweep(&crate::out_dir().join("cluster"));
    }
    let dir = crate::out_dir().join("cluster").join(format!("{}-{k}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}

/// How a cluster is joined: a segment and a secret of a running one, or
/// new ones.
#[derive(Clone, Debug, Default)]
pub struct Join {
    pub segment: Option<Segment>,
    pub secret: Option<PathBuf>,
}

/// Boots `opts.len()` nodes (node `k + 1` with `opts[k]`, unless it names
/// its number) on a new segment, with a new secret.
pub fn start(image: &Image, opts: &[Options], echo: bool) -> Result<Cluster, String> {
    start_on(image, opts, echo, &Join::default(), 1)
}

/// Boots nodes `first`, `first + 1`, ... on `join`'s segment with its
/// secret (new ones where it has none).
pub fn start_on(image: &Image, opts: &[Options], echo: bool, join: &Join, first: u16) -> Result<Cluster, String> {
    if opts.is_empty() || opts.len() > MAX_NODES {
        return Err(format!("a cluster has 1 to {MAX_NODES} nodes, not {}", opts.len()));
    }
    let dir = cluster_dir()?;
    let segment = match join.segment {
        Some(s) => s,
        None => Segment::new()?,
    };
    let secret = match &join.secret {
        Some(path) => path.clone(),
        None => crate::private::write(&dir.join("secret"), &crate::private::random_hex()?)?,
    };
    let mut cluster = Cluster { nodes: Vec::new(), numbers: Vec::new(), segment, secret, dir, owned: true };
    for (k, o) in opts.iter().enumerate() {
        let number = o.node_number.unwrap_or(first + k as u16);
        cluster.add(image, &Options { node_number: Some(number), ..o.clone() }, echo)?;
    }
    Ok(cluster)
}

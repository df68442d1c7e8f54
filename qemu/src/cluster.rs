//! Several nodes on one Ethernet segment: each node's second NIC sends its
//! frames as UDP datagrams to a hub on 127.0.0.1 (QEMU's `-netdev
//! socket,udp=`), and the hub, a thread here, copies every frame to every
//! other node. All traffic stays on this machine's loopback. Node `k`
//! (from 1) gets MAC 52:54:00:00:01:kk and, from its netstack, the address
//! 10.1.0.k/24; its first NIC stays on a user network of its own (DHCP,
//! and port forwards from the host).

use crate::image::Image;
use crate::node::{ClusterLink, Node, Options};
use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Nodes a cluster may have (addresses 10.1.0.1 to .250).
pub const MAX_NODES: usize = 250;

/// The hub: copies each datagram to every node but its sender.
pub struct Hub {
    pub port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Hub {
    /// Starts a hub for nodes that send from `node_ports`.
    pub fn start(node_ports: Vec<u16>) -> Result<Hub, String> {
        let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("hub: {e}"))?;
        let port = socket.local_addr().map_err(|e| e.to_string())?.port();
        socket.set_read_timeout(Some(Duration::from_millis(100))).map_err(|e| e.to_string())?;
        let stop = Arc::new(AtomicBool::new(false));
        let done = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut frame = [0u8; 65536];
            while !done.load(Ordering::Relaxed) {
                let Ok((n, from)) = socket.recv_from(&mut frame) else { continue };
                for &p in node_ports.iter().filter(|&&p| p != from.port()) {
                    let _ = socket.send_to(&frame[..n], ("127.0.0.1", p));
                }
            }
        });
        Ok(Hub { port, stop, thread: Some(thread) })
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Running nodes and their hub; dropping it stops them all.
pub struct Cluster {
    pub nodes: Vec<Node>,
    _hub: Hub,
}

impl Cluster {
    /// Waits until every node has its cluster address and its shell.
    pub fn wait_for_shells(&self, timeout: Duration) -> Result<(), String> {
        for (k, node) in self.nodes.iter().enumerate() {
            let address = format!("netstack: NIC 1: address 10.1.0.{}/24 (node {})", k + 1, k + 1);
            for line in [address.as_str(), "ux: started sh as pid"] {
                node.wait_for(line, timeout).map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }
}

/// Boots `opts.len()` nodes (node `k + 1` with `opts[k]`) on one segment.
pub fn start(image: &Image, opts: &[Options], echo: bool) -> Result<Cluster, String> {
    if opts.is_empty() || opts.len() > MAX_NODES {
        return Err(format!("a cluster has 1 to {MAX_NODES} nodes, not {}", opts.len()));
    }
    // The UDP ports the nodes send from.
    let ports = crate::node::free_ports(opts.len(), true)?;
    let hub = Hub::start(ports.clone())?;
    let mut nodes = Vec::new();
    for (k, o) in opts.iter().enumerate() {
        let link = ClusterLink { node: k as u8 + 1, hub_port: hub.port, local_port: ports[k] };
        let o = Options { cluster: Some(link), ..o.clone() };
        nodes.push(Node::start_labelled(image, &o, echo, &format!("node{}", k + 1))?);
    }
    Ok(Cluster { nodes, _hub: hub })
}

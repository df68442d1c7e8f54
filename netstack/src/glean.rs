//! Neighbours' hardware addresses gleaned from their IPv4 frames, handed
//! to the stack as the ARP replies it would otherwise have asked for.
//!
//! On the cluster's segment every node speaks before it is spoken to:
//! the coordinator's views reach every node, a follower's beat reaches
//! the coordinator. `smoltcp` fills its neighbour cache from ARP alone,
//! so each follower's first beat waited on an ARP request (a broadcast:
//! a wake-up of every node; 63 of them while 64 nodes formed, each
//! answered by a coordinator that had a thirtieth of a core). A frame
//! from a neighbour names its address pair already: the stack is given
//! it as a reply to us, which it takes into its cache as it would a
//! real one, and keeps there while the neighbour goes on speaking
//! ([`REFRESH_MS`]).
//!
//! Only frames to us (our address or a broadcast) from a unicast
//! hardware address and a neighbour on our network count. Trust is the
//! same as ARP's, which any node of the segment can forge: none.
//!
//! A neighbour we have not heard is asked for when a connection to it
//! starts ([`Gleaner::ask`]), by us and not by the stack: `smoltcp` asks
//! for one neighbour a second across all (its cache's rate limit), so a
//! follower dialing the other 63 nodes in a row (a `cps`, which mounts
//! them) waited about a second for each: 67 s.

use alloc::collections::BTreeMap;
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr, Ipv4Address,
    Ipv4Cidr, Ipv4Packet,
};

/// An ARP request or reply in its Ethernet frame.
pub const ARP_FRAME_LEN: usize = 14 + 28;
pub type ArpFrame = [u8; ARP_FRAME_LEN];

/// A neighbour is given again this long after it was last given: the
/// stack forgets an entry 60 s after it was filled, and a neighbour that
/// only broadcasts to us (the coordinator) would be asked for again.
pub const REFRESH_MS: u64 = 30_000;

/// Neighbours remembered; beyond, the one given longest ago goes (the
/// stack's cache holds 256).
pub const NEIGHBOURS: usize = 256;

/// A neighbour given, or heard answering us, this long ago is still in the
/// stack's cache (which forgets an entry 60 s after it was filled).
const HELD_MS: u64 = 50_000;

/// A neighbour asked for is not asked for again sooner.
pub const ASK_EVERY_MS: u64 = 1_000;

pub struct Gleaner {
    own: Ipv4Cidr,
    own_mac: EthernetAddress,
    /// Each neighbour given: its hardware address, and when (ms).
    given: BTreeMap<Ipv4Address, (EthernetAddress, u64)>,
    /// Each neighbour asked for by [`Gleaner::ask`], and when (ms).
    asked: BTreeMap<Ipv4Address, u64>,
}

impl Gleaner {
    /// For the interface at `own` (address and network) with `own_mac`.
    pub fn new(own: Ipv4Cidr, own_mac: EthernetAddress) -> Gleaner {
        Gleaner { own, own_mac, given: BTreeMap::new(), asked: BTreeMap::new() }
    }

    /// The reply to hand the stack before `frame`, received at `now_ms`,
    /// if the frame names a neighbour not given lately (or at another
    /// hardware address).
    pub fn glean(&mut self, frame: &[u8], now_ms: u64) -> Option<ArpFrame> {
        let eth = EthernetFrame::new_checked(frame).ok()?;
        if eth.ethertype() == EthernetProtocol::Arp {
            // The stack takes a neighbour's reply to us itself: known to
            // it now.
            let (ip, mac) = self.answer(&eth)?;
            remember(&mut self.given, ip, (mac, now_ms), |&(_, at)| at);
            return None;
        }
        let (ip, mac) = self.neighbour(&eth)?;
        if let Some(&(given, at)) = self.given.get(&ip) {
            if given == mac && now_ms.saturating_sub(at) < REFRESH_MS {
                return None;
            }
        }
        remember(&mut self.given, ip, (mac, now_ms), |&(_, at)| at);
        Some(self.reply(ip, mac))
    }

    /// An ARP request for `ip`, to send as a connection to it starts: none
    /// if it is not a neighbour, the stack has it (given or heard lately),
    /// or it was asked for less than [`ASK_EVERY_MS`] ago.
    pub fn ask(&mut self, ip: Ipv4Address, now_ms: u64) -> Option<ArpFrame> {
        let lately = |at: u64, within: u64| now_ms.saturating_sub(at) < within;
        if !self.is_neighbour(ip)
            || self.given.get(&ip).is_some_and(|&(_, at)| lately(at, HELD_MS))
            || self.asked.get(&ip).is_some_and(|&at| lately(at, ASK_EVERY_MS))
        {
            return None;
        }
        remember(&mut self.asked, ip, now_ms, |&at| at);
        Some(self.arp(
            ArpOperation::Request,
            EthernetAddress::BROADCAST,
            (self.own_mac, self.own.address()),
            (EthernetAddress([0; 6]), ip),
        ))
    }

    /// Who answered us, if the ARP frame `eth` is a neighbour's reply to
    /// us.
    fn answer(&self, eth: &EthernetFrame<&[u8]>) -> Option<(Ipv4Address, EthernetAddress)> {
        if eth.dst_addr() != self.own_mac {
            return None;
        }
        match ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).ok()?).ok()? {
            ArpRepr::EthernetIpv4 {
                operation: ArpOperation::Reply,
                source_hardware_addr: mac,
                source_protocol_addr: ip,
                target_protocol_addr,
                ..
            } if target_protocol_addr == self.own.address() && mac.is_unicast() && self.is_neighbour(ip) => {
                Some((ip, mac))
            }
            _ => None,
        }
    }

    /// Whether `ip` is a host of our network other than us: not its own
    /// address nor its broadcast (a /32 has neither, and no neighbour).
    fn is_neighbour(&self, ip: Ipv4Address) -> bool {
        let network = self.own.network();
        self.own.contains_addr(&ip)
            && Some(ip) != network.broadcast()
            && ip != network.address()
            && ip != self.own.address()
    }

    /// The sender of `eth`, if it is a neighbour's IPv4 frame to us.
    fn neighbour(&self, eth: &EthernetFrame<&[u8]>) -> Option<(Ipv4Address, EthernetAddress)> {
        if eth.ethertype() != EthernetProtocol::Ipv4 || !eth.src_addr().is_unicast() {
            return None;
        }
        if eth.dst_addr() != self.own_mac && !eth.dst_addr().is_broadcast() {
            return None;
        }
        let src = Ipv4Packet::new_checked(eth.payload()).ok()?.src_addr();
        self.is_neighbour(src).then_some((src, eth.src_addr()))
    }

    /// `ip` is at `mac`: a reply to us, as the neighbour would send it.
    fn reply(&self, ip: Ipv4Address, mac: EthernetAddress) -> ArpFrame {
        self.arp(ArpOperation::Reply, self.own_mac, (mac, ip), (self.own_mac, self.own.address()))
    }

    /// An ARP frame to `dst` (the Ethernet frame's source is the ARP
    /// sender's hardware address).
    fn arp(
        &self,
        operation: ArpOperation,
        dst: EthernetAddress,
        (source_hardware_addr, source_protocol_addr): (EthernetAddress, Ipv4Address),
        (target_hardware_addr, target_protocol_addr): (EthernetAddress, Ipv4Address),
    ) -> ArpFrame {
        let mut out = [0u8; ARP_FRAME_LEN];
        let mut eth = EthernetFrame::new_unchecked(&mut out[..]);
        EthernetRepr { src_addr: source_hardware_addr, dst_addr: dst, ethertype: EthernetProtocol::Arp }.emit(&mut eth);
        let arp = ArpRepr::EthernetIpv4 {
            operation,
            source_hardware_addr,
            source_protocol_addr,
            target_hardware_addr,
            target_protocol_addr,
        };
        arp.emit(&mut ArpPacket::new_unchecked(eth.payload_mut()));
        out
    }
}

/// Puts `ip`'s `value` in `map`, which holds [`NEIGHBOURS`] at most: the
/// one of the least `age` goes first.
fn remember<V>(map: &mut BTreeMap<Ipv4Address, V>, ip: Ipv4Address, value: V, age: impl Fn(&V) -> u64) {
    if map.len() >= NEIGHBOURS && !map.contains_key(&ip) {
        if let Some(oldest) = map.iter().min_by_key(|(_, v)| age(v)).map(|(ip, _)| *ip) {
            map.remove(&oldest);
        }
    }
    map.insert(ip, value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use smoltcp::wire::{IpProtocol, Ipv4Repr};

    const OWN_MAC: EthernetAddress = EthernetAddress([0x52, 0x54, 0, 0, 0, 2]);
    const PEER_MAC: EthernetAddress = EthernetAddress([0x52, 0x54, 0, 0, 0, 1]);

    fn gleaner() -> Gleaner {
        Gleaner::new(Ipv4Cidr::new(Ipv4Address::new(10, 1, 0, 2), 16), OWN_MAC)
    }

    /// An IPv4 frame (8 bytes of UDP-ish payload) from `src` at `mac`.
    fn frame(mac: EthernetAddress, dst: EthernetAddress, src: Ipv4Address) -> alloc::vec::Vec<u8> {
        let ip = Ipv4Repr {
            src_addr: src,
            dst_addr: Ipv4Address::new(10, 1, 255, 255),
            next_header: IpProtocol::Udp,
            payload_len: 8,
            hop_limit: 64,
        };
        let mut out = alloc::vec![0u8; 14 + ip.buffer_len() + 8];
        let mut eth = EthernetFrame::new_unchecked(&mut out[..]);
        EthernetRepr { src_addr: mac, dst_addr: dst, ethertype: EthernetProtocol::Ipv4 }.emit(&mut eth);
        ip.emit(&mut Ipv4Packet::new_unchecked(eth.payload_mut()), &smoltcp::phy::ChecksumCapabilities::default());
        out
    }

    #[test]
    fn a_neighbours_frame_is_the_reply_the_stack_would_have_asked_for() {
        let mut g = gleaner();
        let peer = Ipv4Address::new(10, 1, 0, 1);
        let reply = g.glean(&frame(PEER_MAC, EthernetAddress::BROADCAST, peer), 0).expect("a reply");
        let eth = EthernetFrame::new_checked(&reply[..]).unwrap();
        assert_eq!((eth.src_addr(), eth.dst_addr(), eth.ethertype()), (PEER_MAC, OWN_MAC, EthernetProtocol::Arp));
        let arp = ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).unwrap()).unwrap();
        assert_eq!(
            arp,
            ArpRepr::EthernetIpv4 {
                operation: ArpOperation::Reply,
                source_hardware_addr: PEER_MAC,
                source_protocol_addr: peer,
                target_hardware_addr: OWN_MAC,
                target_protocol_addr: Ipv4Address::new(10, 1, 0, 2),
            }
        );
        // Given once, again only when the stack may have forgotten it, or
        // when the neighbour's hardware address is another.
        assert_eq!(g.glean(&frame(PEER_MAC, OWN_MAC, peer), 1_000), None);
        assert!(g.glean(&frame(PEER_MAC, OWN_MAC, peer), REFRESH_MS).is_some());
        let moved = EthernetAddress([0x52, 0x54, 0, 0, 0, 9]);
        assert!(g.glean(&frame(moved, OWN_MAC, peer), REFRESH_MS + 1).is_some());
    }

    #[test]
    fn only_a_neighbours_unicast_frames_to_us_count() {
        let mut g = gleaner();
        let other = EthernetAddress([0x52, 0x54, 0, 0, 0, 3]);
        let cases = [
            // Not a neighbour: another network, ourselves, the network's
            // own and broadcast addresses.
            frame(PEER_MAC, OWN_MAC, Ipv4Address::new(10, 2, 0, 1)),
            frame(PEER_MAC, OWN_MAC, Ipv4Address::new(10, 1, 0, 2)),
            frame(PEER_MAC, OWN_MAC, Ipv4Address::new(10, 1, 0, 0)),
            frame(PEER_MAC, OWN_MAC, Ipv4Address::new(10, 1, 255, 255)),
            // A broadcast or multicast sender; a frame for another node.
            frame(EthernetAddress::BROADCAST, OWN_MAC, Ipv4Address::new(10, 1, 0, 1)),
            frame(EthernetAddress([0x01, 0, 0x5e, 0, 0, 1]), OWN_MAC, Ipv4Address::new(10, 1, 0, 1)),
            frame(PEER_MAC, other, Ipv4Address::new(10, 1, 0, 1)),
        ];
        for (i, f) in cases.iter().enumerate() {
            assert_eq!(g.glean(f, 0), None, "case {i}");
        }
        // Not IPv4, or cut short anywhere.
        let good = frame(PEER_MAC, OWN_MAC, Ipv4Address::new(10, 1, 0, 1));
        let mut arp = good.clone();
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(g.glean(&arp, 0), None);
        for len in 0..good.len() - 8 {
            assert_eq!(g.glean(&good[..len], 0), None, "{len} bytes");
        }
    }

    #[test]
    fn a_neighbour_not_heard_is_asked_for_once_a_second_at_most() {
        let mut g = gleaner();
        let peer = Ipv4Address::new(10, 1, 0, 9);
        let ask = g.ask(peer, 0).expect("an ARP request");
        let eth = EthernetFrame::new_checked(&ask[..]).unwrap();
        assert_eq!(
            (eth.src_addr(), eth.dst_addr(), eth.ethertype()),
            (OWN_MAC, EthernetAddress::BROADCAST, EthernetProtocol::Arp)
        );
        let arp = ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).unwrap()).unwrap();
        assert_eq!(
            arp,
            ArpRepr::EthernetIpv4 {
                operation: ArpOperation::Request,
                source_hardware_addr: OWN_MAC,
                source_protocol_addr: Ipv4Address::new(10, 1, 0, 2),
                target_hardware_addr: EthernetAddress([0; 6]),
                target_protocol_addr: peer,
            }
        );
        assert_eq!(g.ask(peer, ASK_EVERY_MS - 1), None);
        assert!(g.ask(peer, ASK_EVERY_MS).is_some());
        // Not for ourselves, another network, the network's own or
        // broadcast address.
        for ip in [[10, 1, 0, 2], [10, 2, 0, 1], [10, 1, 0, 0], [10, 1, 255, 255]] {
            assert_eq!(g.ask(Ipv4Address::from(ip), 0), None, "{ip:?}");
        }
    }

    #[test]
    fn a_neighbour_heard_or_answering_is_not_asked_for() {
        let mut g = gleaner();
        let heard = Ipv4Address::new(10, 1, 0, 1);
        assert!(g.glean(&frame(PEER_MAC, OWN_MAC, heard), 0).is_some());
        assert_eq!(g.ask(heard, 1_000), None);
        // Its entry may be gone from the stack's cache by now.
        assert!(g.ask(heard, HELD_MS).is_some());
        // A neighbour's reply to our request: the stack takes it itself,
        // and it is known.
        let answering = Ipv4Address::new(10, 1, 0, 7);
        let mac = EthernetAddress([0x52, 0x54, 0, 0, 0, 7]);
        let reply = g.arp(ArpOperation::Reply, OWN_MAC, (mac, answering), (OWN_MAC, Ipv4Address::new(10, 1, 0, 2)));
        assert_eq!(g.glean(&reply, 2_000), None);
        assert_eq!(g.ask(answering, 2_001), None);
        // A reply to another node, or a request, teaches nothing.
        let other = Ipv4Address::new(10, 1, 0, 8);
        let to_other = g.arp(ArpOperation::Reply, mac, (mac, other), (mac, Ipv4Address::new(10, 1, 0, 3)));
        assert_eq!(g.glean(&to_other, 3_000), None);
        assert!(g.ask(other, 3_000).is_some());
    }

    #[test]
    fn it_remembers_at_most_the_stacks_cache() {
        let mut g = gleaner();
        for n in 0..NEIGHBOURS as u16 + 10 {
            let [a, b] = (n + 3).to_be_bytes();
            let mac = EthernetAddress([0x52, 0x54, 0, 0, a, b]);
            assert!(g.glean(&frame(mac, OWN_MAC, Ipv4Address::new(10, 1, a, b)), u64::from(n)).is_some());
        }
        assert_eq!(g.given.len(), NEIGHBOURS);
        // The first ten went; the last stays given.
        assert!(!g.given.contains_key(&Ipv4Address::new(10, 1, 0, 3)));
        let [a, b] = (NEIGHBOURS as u16 + 12).to_be_bytes();
        assert!(g.given.contains_key(&Ipv4Address::new(10, 1, a, b)));
    }
}

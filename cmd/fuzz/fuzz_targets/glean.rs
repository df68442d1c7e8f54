//! netstack hands its stack a reply for any frame from the segment that
//! names a neighbour: whatever the bytes, the gleaner never panics, and
//! each reply it makes is an ARP reply to us about a neighbour.
#![no_main]
use libfuzzer_sys::fuzz_target;
use netstack::glean::Gleaner;
use smoltcp::wire::{ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, Ipv4Address, Ipv4Cidr};

fuzz_target!(|data: &[u8]| {
    let own = Ipv4Cidr::new(Ipv4Address::new(10, 1, 0, 2), 16);
    let mac = EthernetAddress([0x52, 0x54, 0, 0, 0, 2]);
    let mut g = Gleaner::new(own, mac);
    // Pieces split at 0xfe bytes: several frames, a second apart.
    for (i, frame) in data.split(|&b| b == 0xfe).enumerate() {
        let Some(reply) = g.glean(frame, i as u64 * 1000) else { continue };
        let eth = EthernetFrame::new_checked(&reply[..]).expect("an Ethernet frame");
        assert_eq!(eth.dst_addr(), mac);
        let arp = ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).expect("an ARP packet")).expect("ARP");
        let ArpRepr::EthernetIpv4 { operation, source_protocol_addr, target_protocol_addr, .. } = arp else {
            panic!("not Ethernet/IPv4")
        };
        assert_eq!(operation, ArpOperation::Reply);
        assert_eq!(target_protocol_addr, own.address());
        assert!(own.contains_addr(&source_protocol_addr) && source_protocol_addr != own.address());
    }
});

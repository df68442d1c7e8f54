//! The `/net` texts (`libux::net`): `ctl` lines come from any process,
//! datagram headers and batches carry bytes from the network. Whatever
//! the bytes, nothing panics, and what parses says itself again the same.
#![no_main]
use libfuzzer_sys::fuzz_target;
use libux::net::{Batch, ClockStats, Ctl, Datagram, NicStats};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = core::str::from_utf8(data) {
        if let Some(ctl) = Ctl::parse(text) {
            assert_eq!(Ctl::parse(&format!("{ctl}")), Some(ctl));
        }
        if let Some(s) = NicStats::parse(text) {
            assert_eq!(NicStats::parse(&format!("{s}")), Some(s));
        }
        if let Some(c) = ClockStats::parse(text) {
            assert_eq!(ClockStats::parse(&format!("{c}")), Some(c));
        }
    }
    if let Some(d) = Datagram::parse(data) {
        let again = d.to_bytes();
        let back = Datagram::parse(&again).expect("its own header");
        assert_eq!((back.peer, back.payload), (d.peer, d.payload));
    }
    // A batch made again of what it gave gives the same datagrams (the
    // bytes may differ: `01.2.3.4` reads as `1.2.3.4`).
    let whole: Vec<Datagram> = Batch::new(data).collect();
    let again: Vec<u8> = whole.iter().flat_map(|d| d.to_batched()).collect();
    assert!(again.len() <= data.len(), "the form made is the shortest");
    let back: Vec<_> = Batch::new(&again).map(|d| (d.peer, d.payload)).collect();
    assert_eq!(back, whole.iter().map(|d| (d.peer, d.payload)).collect::<Vec<_>>());
});

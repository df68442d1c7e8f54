//! `netstack` parses `ctl` lines and announced UDP ports' datagram headers
//! from any process, and programs parse dial strings from their users:
//! any bytes give a value or `None`, never a panic; a parsed header or
//! ctl line formats back to one that parses the same.
#![no_main]
use libfuzzer_sys::fuzz_target;
use libux::net::{dial, Ctl, Datagram};

fuzz_target!(|data: &[u8]| {
    if let Some(d) = Datagram::parse(data) {
        let again = d.to_bytes();
        let back = Datagram::parse(&again).expect("a formatted header parses");
        assert_eq!((back.peer, back.payload), (d.peer, d.payload));
    }
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    if let Some(ctl) = Ctl::parse(text) {
        assert_eq!(Ctl::parse(&ctl.to_string()), Some(ctl), "a formatted ctl line parses the same");
    }
    let _ = dial(text);
});

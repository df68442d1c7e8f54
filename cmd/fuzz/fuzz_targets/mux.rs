//! `mount9p` sorts whatever a 9P server sends by tag: any bytes, in any
//! pieces, either go to a client that asked or break the connection,
//! never panic, and nothing lands in an inbox unasked.
#![no_main]
use fs9p::Dialect;
use libfuzzer_sys::fuzz_target;
use ninep::mux::{Framer, Mux};

fuzz_target!(|data: &[u8]| {
    let Some((&head, rest)) = data.split_first() else { return };
    let mut mux = Mux::new(if head & 1 == 0 { Dialect::L } else { Dialect::P2000 }, 4);
    let mut framer = Framer::new(512);
    // Tags 0..8 outstanding, two a share.
    for tag in 0u16..8 {
        let mut frame = [0u8; 7];
        frame[5..7].copy_from_slice(&tag.to_le_bytes());
        mux.sent(tag / 2, &frame);
    }
    if head & 2 != 0 {
        mux.interrupt(u16::from(head >> 4));
    }
    let piece = 1 + (head as usize >> 2) % 64;
    let mut buf = [0u8; 600];
    for chunk in rest.chunks(piece) {
        framer.room(64)[..chunk.len()].copy_from_slice(chunk);
        let Ok(frames) = framer.filled(64, chunk.len()) else { return };
        for frame in frames {
            assert!(frame.len() <= 512);
            match mux.deliver(frame) {
                Ok(Some(s)) => {
                    assert!(s < 4 && mux.has(s));
                    while mux.take(s, &mut buf) > 0 {}
                }
                // No sent-ahead reads here: everything has a share.
                Ok(None) => unreachable!("a reply kept for nobody"),
                Err(_) => {
                    assert!(mux.is_broken());
                    return;
                }
            }
        }
    }
});

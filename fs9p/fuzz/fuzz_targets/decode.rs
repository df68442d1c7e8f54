//! Any bytes from a 9P peer decode to a message or an error, in both
//! dialects, and a decoded message encodes back to bytes that decode to
//! the same message; directory-read data (9P2000.L entries, 9P2000
//! stats) decodes entry by entry or stops with an error.
#![no_main]
use fs9p::codec::{dirents, stats};
use fs9p::{decode, encode, frame_len, Dialect};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = frame_len(data, 1 << 20);
    dirents(data).for_each(drop);
    stats(data).for_each(drop);
    for dialect in [Dialect::P2000, Dialect::L] {
        if let Ok(frame) = decode(data, dialect) {
            let mut out = vec![0u8; data.len()];
            let n = encode(&frame, &mut out).expect("a decoded message fits its own size");
            assert_eq!(decode(&out[..n], dialect), Ok(frame));
        }
    }
});

//! File servers decode whatever a client sends: request bytes must give a
//! request or an error, never a panic; what decodes must encode again to
//! the same request. Replies (decoded by clients) likewise.
#![no_main]
use libfuzzer_sys::fuzz_target;
use libux::fs::{decode_reply, decode_request};

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = decode_request(data) {
        let again = postcard::to_allocvec(&req).expect("a decoded request encodes");
        assert_eq!(decode_request(&again), Ok(req));
    }
    if let Ok(reply) = decode_reply(data) {
        let again = postcard::to_allocvec(&reply).expect("a decoded reply encodes");
        assert_eq!(decode_reply(&again), Ok(reply));
    }
});

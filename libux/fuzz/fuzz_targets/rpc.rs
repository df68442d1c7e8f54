//! The process server decodes whatever a process sends: framing headers
//! and request bytes must give a request or an error, never a panic; what
//! decodes must encode again to a message that decodes the same.
#![no_main]
use libfuzzer_sys::fuzz_target;
use libux::rpc::{decode_reply, decode_request, frame};
use libux::sel4::consts::msg::MAX_LENGTH;

fuzz_target!(|data: &[u8]| {
    let mut mrs = [0u64; MAX_LENGTH];
    for (w, chunk) in mrs.iter_mut().zip(data.chunks(8)) {
        let mut b = [0u8; 8];
        b[..chunk.len()].copy_from_slice(chunk);
        *w = u64::from_le_bytes(b);
    }
    let words = data.len().div_ceil(8).min(MAX_LENGTH);
    if let Ok(h) = frame::header(&mrs, words) {
        if h.place == frame::Place::Inline {
            let _ = decode_request(&frame::inline_bytes(&mrs)[..h.len]);
        }
    }
    let _ = decode_reply(data);
    if let Ok(req) = decode_request(data) {
        let mut out = [0u64; MAX_LENGTH];
        let mut buf = [0u8; libux::rpc::BUFFER_MAX];
        if let Ok(w) = frame::encode(&req, &mut out, Some(&mut buf), 0) {
            let h = frame::header(&out, w).expect("our own header");
            let bytes = match h.place {
                frame::Place::Inline => &frame::inline_bytes(&out)[..h.len],
                frame::Place::Buffer => &buf[..h.len],
            };
            assert_eq!(decode_request(bytes).as_ref(), Ok(&req));
        }
    }
});

//! Packing message bytes into message registers and back (see the framing
//! in [`super`]). Works on the message-register array of an IPC buffer, so
//! it is host-testable.

use super::{Errno, BUFFER_MAX, HEADER_WORDS, INLINE_MAX, INLINE_ONLY, IN_BUFFER};
use crate::sel4::consts::msg::MAX_LENGTH;

/// Where a message's bytes are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    Inline,
    Buffer,
}

/// A decoded header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub len: usize,
    pub place: Place,
    /// MR1: the process a relayed call is made for.
    pub on_behalf: u64,
    /// The caller's shared buffer may not take the reply.
    pub inline_only: bool,
}

/// Reads and checks the header of a message of `words` words.
pub fn header(mrs: &[u64; MAX_LENGTH], words: usize) -> Result<Header, Errno> {
    if words < HEADER_WORDS {
        return Err(Errno::BadRequest);
    }
    let place = if mrs[0] & IN_BUFFER != 0 { Place::Buffer } else { Place::Inline };
    let len = (mrs[0] & !(IN_BUFFER | INLINE_ONLY)) as usize;
    let ok = match place {
        // The bytes must be within the words actually sent.
        Place::Inline => len <= INLINE_MAX && len.div_ceil(8) <= words - HEADER_WORDS,
        Place::Buffer => len <= BUFFER_MAX,
    };
    if !ok {
        return Err(Errno::BadRequest);
    }
    Ok(Header { len, place, on_behalf: mrs[1], inline_only: mrs[0] & INLINE_ONLY != 0 })
}

/// The inline bytes area of the message registers.
pub fn inline_bytes(mrs: &[u64; MAX_LENGTH]) -> &[u8; INLINE_MAX] {
    // SAFETY: u64 words have no padding and at least u8's alignment; the
    // array is MAX_LENGTH words, of which HEADER_WORDS precede the area.
    unsafe { &*(mrs[HEADER_WORDS..].as_ptr() as *const [u8; INLINE_MAX]) }
}

pub fn inline_bytes_mut(mrs: &mut [u64; MAX_LENGTH]) -> &mut [u8; INLINE_MAX] {
    // SAFETY: as above.
    unsafe { &mut *(mrs[HEADER_WORDS..].as_mut_ptr() as *mut [u8; INLINE_MAX]) }
}

/// Writes a header for `len` bytes; returns the message length in words.
pub fn set_header(mrs: &mut [u64; MAX_LENGTH], len: usize, place: Place, on_behalf: u64) -> usize {
    mrs[0] = len as u64 | if place == Place::Buffer { IN_BUFFER } else { 0 };
    mrs[1] = on_behalf;
    match place {
        Place::Inline => HEADER_WORDS + len.div_ceil(8),
        Place::Buffer => HEADER_WORDS,
    }
}

/// Encodes `value` into the message registers, or into `buffer` when it
/// does not fit inline. Returns the message length in words.
pub fn encode<T: serde::Serialize>(
    value: &T,
    mrs: &mut [u64; MAX_LENGTH],
    buffer: Option<&mut [u8; BUFFER_MAX]>,
    on_behalf: u64,
) -> Result<usize, Errno> {
    if let Ok(bytes) = postcard::to_slice(value, inline_bytes_mut(mrs)) {
        let len = bytes.len();
        return Ok(set_header(mrs, len, Place::Inline, on_behalf));
    }
    let buffer = buffer.ok_or(Errno::TooLarge)?;
    let len = postcard::to_slice(value, buffer).map_err(|_| Errno::TooLarge)?.len();
    Ok(set_header(mrs, len, Place::Buffer, on_behalf))
}

#[cfg(test)]
mod tests {
    use super::super::{Request, Spawn};
    use super::*;
    use alloc::vec;

    fn regs() -> [u64; MAX_LENGTH] {
        [0; MAX_LENGTH]
    }

    #[test]
    fn small_requests_travel_inline() {
        let mut mrs = regs();
        let words = encode(&Request::Kill { pid: 42 }, &mut mrs, None, 0).unwrap();
        let h = header(&mrs, words).unwrap();
        assert_eq!((h.place, h.on_behalf), (Place::Inline, 0));
        let bytes = &inline_bytes(&mrs)[..h.len];
        assert_eq!(postcard::from_bytes::<Request>(bytes).unwrap(), Request::Kill { pid: 42 });
        assert_eq!(words, HEADER_WORDS + h.len.div_ceil(8));
    }

    #[test]
    fn large_requests_use_the_buffer_and_huge_ones_fail() {
        let long = "x".repeat(2000);
        let req = Request::Spawn(Spawn {
            path: "/bin/hello",
            argv: vec![&long],
            env: vec![],
            redirect: None,
            fds: vec![],
            place: None,
            home_parent: None,
        });
        let mut mrs = regs();
        assert_eq!(encode(&req, &mut mrs, None, 0), Err(Errno::TooLarge));
        let mut buf = [0u8; BUFFER_MAX];
        let words = encode(&req, &mut mrs, Some(&mut buf), 7).unwrap();
        assert_eq!(words, HEADER_WORDS);
        let h = header(&mrs, words).unwrap();
        assert_eq!((h.place, h.on_behalf), (Place::Buffer, 7));
        assert_eq!(postcard::from_bytes::<Request>(&buf[..h.len]).unwrap(), req);
        assert!(!h.inline_only);
        mrs[0] |= INLINE_ONLY;
        assert_eq!(header(&mrs, words).map(|h| (h.len, h.inline_only)), Ok((h.len, true)));
        let huge = "y".repeat(5000);
        let req = Request::Spawn(Spawn {
            path: "/bin/hello",
            argv: vec![&huge],
            env: vec![],
            redirect: None,
            fds: vec![],
            place: None,
            home_parent: None,
        });
        assert_eq!(encode(&req, &mut mrs, Some(&mut buf), 0), Err(Errno::TooLarge));
    }

    #[test]
    fn console_writes_borrow_their_bytes() {
        let mut mrs = regs();
        let req = Request::Write { bytes: b"hello\n\xff" };
        let words = encode(&req, &mut mrs, None, 0).unwrap();
        let h = header(&mrs, words).unwrap();
        assert_eq!(super::super::decode_request(&inline_bytes(&mrs)[..h.len]), Ok(req));
    }

    #[test]
    fn the_inline_area_is_the_registers_after_the_header() {
        // The inline area is exactly the message registers after the
        // header: inline_bytes casts them to it.
        assert_eq!(HEADER_WORDS * 8 + INLINE_MAX, MAX_LENGTH * 8);
        // A full inline area still travels inline, in every word there is.
        let mut mrs = regs();
        assert_eq!(set_header(&mut mrs, INLINE_MAX, Place::Inline, 0), MAX_LENGTH);
        assert_eq!(header(&mrs, MAX_LENGTH).map(|h| h.len), Ok(INLINE_MAX));
    }

    #[test]
    fn headers_that_lie_are_rejected() {
        let mut mrs = regs();
        assert_eq!(header(&mrs, 1), Err(Errno::BadRequest));
        mrs[0] = 100; // 100 bytes claimed, 2 words sent
        assert_eq!(header(&mrs, HEADER_WORDS + 2), Err(Errno::BadRequest));
        // 24 bytes need all of three words after the header.
        mrs[0] = 24;
        assert_eq!(header(&mrs, HEADER_WORDS + 2), Err(Errno::BadRequest));
        assert_eq!(header(&mrs, HEADER_WORDS + 3).map(|h| h.len), Ok(24));
        mrs[0] = INLINE_MAX as u64 + 1;
        assert_eq!(header(&mrs, MAX_LENGTH), Err(Errno::BadRequest));
        mrs[0] = IN_BUFFER | (BUFFER_MAX as u64 + 1);
        assert_eq!(header(&mrs, HEADER_WORDS), Err(Errno::BadRequest));
        mrs[0] = IN_BUFFER | 10;
        assert!(header(&mrs, HEADER_WORDS).is_ok());
    }

    #[test]
    fn garbage_bytes_decode_to_errors_not_panics() {
        let mut seed = 0x1234_5678_9abc_def1u64;
        let mut buf = [0u8; 64];
        for _ in 0..50_000 {
            for b in buf.iter_mut() {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                *b = seed as u8;
            }
            let n = (seed % 64) as usize;
            let _ = postcard::from_bytes::<Request>(&buf[..n]);
            let _ = postcard::from_bytes::<super::super::Reply>(&buf[..n]);
        }
    }
}

//! The proof this project's exports ask for with a [`crate::server::Guard`]:
//! the client answers a challenge with HMAC-SHA-256 keyed with a shared
//! secret over `"ux-9p"` and the challenge (RustCrypto's `hmac` and
//! `sha2`; nothing hand-written). The cluster's exports use it with the
//! cluster's secret; `u9p --secret FILE` answers it from the host.

use alloc::vec::Vec;
use hmac::{Hmac, Mac};
use sha2::Sha256;

fn mac(secret: &[u8], challenge: &[u8]) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    m.update(b"ux-9p");
    m.update(challenge);
    m
}

/// The answer to `challenge` that proves its writer holds `secret`.
pub fn prove(secret: &[u8], challenge: &[u8]) -> [u8; 32] {
    mac(secret, challenge).finalize().into_bytes().into()
}

/// Whether `answer` is [`prove`]'s, compared in constant time.
pub fn proves(secret: &[u8], challenge: &[u8], answer: &[u8]) -> bool {
    mac(secret, challenge).verify_slice(answer).is_ok()
}

/// Hex text (a secret or a seed, as the host writes them: one line) as
/// bytes; none if it is not hex.
pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    hex::decode(text.trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proofs_hold_for_the_secret_and_challenge_only() {
        let p = prove(b"secret", b"challenge");
        assert!(proves(b"secret", b"challenge", &p));
        assert!(!proves(b"secreT", b"challenge", &p));
        assert!(!proves(b"secret", b"challengE", &p));
        assert!(!proves(b"secret", b"challenge", &p[..31]));
    }

    #[test]
    fn hex_is_read_strictly() {
        assert_eq!(from_hex("00ff10\n"), Some(alloc::vec![0, 255, 16]));
        assert_eq!(from_hex("0"), None);
        assert_eq!(from_hex("zz"), None);
    }
}

//! The membership protocol's datagrams, on UDP port [`PORT`] of the
//! cluster's segment, postcard-encoded, one message a datagram:
//!
//! ```text
//! Beat      broadcast every BEAT_US, and at once when a process that
//!           another node waits for ends: a Beat body (who the sender
//!           is, its incarnation, a sequence number, how it stands,
//!           how many such processes ended) and
//!           HMAC-SHA-256(secret, "ux-beat" | body); no MAC from a node
//!           that has no secret
//! Challenge to a sender not yet admitted: a fresh 16-byte nonce
//! Proof     the answer: HMAC-SHA-256(secret, "ux-proof" | from |
//!           incarnation | to | nonce)
//! Refused   why a node is kept out (no secret, wrong secret, number in
//!           use); unauthenticated: it only makes a log line
//! ```
//!
//! A node is admitted once it proved, for a nonce of ours, that it holds
//! the secret; then only beats of that incarnation with a valid MAC and a
//! growing sequence number count. So a recorded beat replayed later, or a
//! beat of a node that went down and came back (a new incarnation), is
//! never taken for a live node's.

use hmac::Mac as _;
use libux::cluster::{hmac, is_features, is_name, NodeId, Nonces};
use serde::{Deserialize, Serialize};

/// The membership port.
pub const PORT: u16 = 5640;
/// The largest datagram the protocol sends (names and features are
/// bounded: `libux::cluster::NAME_MAX`, `FEATURES_MAX`).
pub const DATAGRAM_MAX: usize = 512;

pub type Mac = [u8; 32];
pub type Nonce = [u8; 16];
/// A node's life from one boot: random, so that a node that comes back is
/// told from the one that went down.
pub type Incarnation = u64;

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    Beat { body: &'a [u8], mac: Option<Mac> },
    Challenge { from: NodeId, to: NodeId, to_incarnation: Incarnation, nonce: Nonce },
    Proof { from: NodeId, incarnation: Incarnation, to: NodeId, nonce: Nonce, mac: Mac },
    Refused { from: NodeId, to: NodeId, to_incarnation: Incarnation, reason: Refusal },
}

/// What a beat says of its sender.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Beat<'a> {
    pub node: NodeId,
    pub incarnation: Incarnation,
    /// Grows with every beat of an incarnation.
    pub seq: u64,
    /// Since its cluster server started: of two nodes claiming one number,
    /// the one up longer keeps it.
    pub uptime_ms: u64,
    pub name: &'a str,
    pub features: &'a str,
    pub stats: Stats,
    /// How many of the sender's processes that another node waits for
    /// have ended, this incarnation: a node that waits for one of them
    /// asks again when it grows (see `cluster-server`'s `waits`).
    pub ends: u64,
}

/// How a node stands, as its beats report it.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Processes running (not stopped, not ended).
    pub load: u32,
    pub processes: u32,
    pub free_kib: u64,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Refusal {
    NoSecret,
    WrongSecret,
    NumberInUse,
}

impl core::fmt::Display for Refusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Refusal::NoSecret => "no secret",
            Refusal::WrongSecret => "wrong secret",
            Refusal::NumberInUse => "node number in use",
        })
    }
}

impl<'a> Message<'a> {
    pub fn decode(bytes: &'a [u8]) -> Option<Message<'a>> {
        let m = postcard::from_bytes(bytes).ok()?;
        (bytes.len() <= DATAGRAM_MAX).then_some(m)
    }

    pub fn encode(&self) -> alloc::vec::Vec<u8> {
        postcard::to_allocvec(self).expect("encoding to a vector does not fail")
    }
}

impl<'a> Beat<'a> {
    pub fn decode(bytes: &'a [u8]) -> Option<Beat<'a>> {
        let b: Beat = postcard::from_bytes(bytes).ok()?;
        // Its words go into node lines: they must be words.
        (is_name(b.name) && is_features(b.features) && b.node.is_valid()).then_some(b)
    }

    pub fn encode(&self) -> alloc::vec::Vec<u8> {
        postcard::to_allocvec(self).expect("encoding to a vector does not fail")
    }
}

/// The MAC of a beat's body.
pub fn beat_mac(secret: &[u8], body: &[u8]) -> Mac {
    hmac(secret, &[b"ux-beat", body]).finalize().into_bytes().into()
}

pub fn beat_mac_ok(secret: &[u8], body: &[u8], mac: &Mac) -> bool {
    hmac(secret, &[b"ux-beat", body]).verify_slice(mac).is_ok()
}

fn proof_parts<'a>(from: &'a [u8; 2], inc: &'a [u8; 8], to: &'a [u8; 2], nonce: &'a Nonce) -> [&'a [u8]; 5] {
    [b"ux-proof", from, inc, to, nonce]
}

/// The proof that `from` (of `incarnation`) holds the secret, for `to`'s
/// `nonce`.
pub fn proof_mac(secret: &[u8], from: NodeId, incarnation: Incarnation, to: NodeId, nonce: &Nonce) -> Mac {
    let (f, i, t) = (from.0.to_le_bytes(), incarnation.to_le_bytes(), to.0.to_le_bytes());
    hmac(secret, &proof_parts(&f, &i, &t, nonce)).finalize().into_bytes().into()
}

pub fn proof_ok(secret: &[u8], from: NodeId, incarnation: Incarnation, to: NodeId, nonce: &Nonce, mac: &Mac) -> bool {
    let (f, i, t) = (from.0.to_le_bytes(), incarnation.to_le_bytes(), to.0.to_le_bytes());
    hmac(secret, &proof_parts(&f, &i, &t, nonce)).verify_slice(mac).is_ok()
}

/// A fresh nonce.
pub fn nonce(n: &mut Nonces) -> Nonce {
    n.bytes()[..16].try_into().expect("16 of 32 bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_come_back_and_junk_is_refused() {
        let beat = Beat {
            node: NodeId(3),
            incarnation: 77,
            seq: 9,
            uptime_ms: 1200,
            name: "n3",
            features: "bigmem,fast",
            stats: Stats { load: 2, processes: 9, free_kib: 1 << 20 },
            ends: 4,
        };
        let body = beat.encode();
        assert_eq!(Beat::decode(&body), Some(beat));
        let m = Message::Beat { body: &body, mac: Some(beat_mac(b"s", &body)) };
        let bytes = m.encode();
        assert_eq!(Message::decode(&bytes), Some(m));
        assert_eq!(Message::decode(&bytes[..bytes.len() - 1]), None);
        assert_eq!(Message::decode(&[0xff; 600]), None);
        let bad = Beat { node: NodeId(0), ..Beat::decode(&body).unwrap() };
        assert_eq!(Beat::decode(&bad.encode()), None);
        let bad = Beat { name: "two words", ..Beat::decode(&body).unwrap() };
        assert_eq!(Beat::decode(&bad.encode()), None);
    }

    #[test]
    fn macs_hold_only_for_the_same_secret_and_words() {
        let body = b"beat";
        assert!(beat_mac_ok(b"secret", body, &beat_mac(b"secret", body)));
        assert!(!beat_mac_ok(b"secreT", body, &beat_mac(b"secret", body)));
        assert!(!beat_mac_ok(b"secret", b"beaT", &beat_mac(b"secret", body)));
        let n = [7; 16];
        let p = proof_mac(b"k", NodeId(1), 5, NodeId(2), &n);
        assert!(proof_ok(b"k", NodeId(1), 5, NodeId(2), &n, &p));
        assert!(!proof_ok(b"k", NodeId(1), 6, NodeId(2), &n, &p));
        assert!(!proof_ok(b"k", NodeId(2), 5, NodeId(1), &n, &p));
        assert!(!proof_ok(b"k", NodeId(1), 5, NodeId(2), &[8; 16], &p));
        // A beat's MAC is no proof.
        assert_ne!(beat_mac(b"k", &n), proof_mac(b"k", NodeId(1), 5, NodeId(2), &n));
    }
}

//! The membership protocol's datagrams, on UDP port [`PORT`] of the
//! cluster's segment, postcard-encoded, one message a datagram:
//!
//! ```text
//! Beat     a node's state (who it is, its incarnation, a growing sequence
//!          number, how it stands, how many of its processes another node
//!          waits for ended) and the last view of its coordinator it
//!          heard (`echo`), whether it is the sender's last (it leaves
//!          the cluster), with HMAC-SHA-256(secret, "ux-beat" | body);
//!          no MAC from a node that has no secret. To the coordinator
//!          alone; broadcast while the node knows none.
//! View     the coordinator's table: for each node its incarnation,
//!          address, the sequence number of its last beat, how long ago
//!          that came, and what the beat said; HMAC-SHA-256(secret,
//!          "ux-view" | body). Broadcast every beat period and at news,
//!          in as many datagrams as the table needs.
//! Refused  why a node is kept out (no secret, wrong secret, number in
//!          use); unauthenticated: it only makes a log line
//! ```
//!
//! Freshness without challenges: a beat echoes a view the coordinator
//! sent lately, and a view echoes each node's latest beat, so neither
//! side takes a recorded datagram replayed later for a live node's. Both
//! carry MACs, so only holders of the secret make them.

use hmac::Mac as _;
use libux::cluster::{hmac, is_features, is_name, NodeId};
use serde::{Deserialize, Serialize};

/// The membership port.
pub const PORT: u16 = 5640;
/// The largest datagram the protocol sends: one Ethernet frame.
pub const DATAGRAM_MAX: usize = 1400;

pub type Mac = [u8; 32];
/// A node's life from one boot: random, so that a node that comes back is
/// told from the one that went down.
pub type Incarnation = u64;

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    Beat { body: &'a [u8], mac: Option<Mac> },
    View { body: &'a [u8], mac: Mac },
    Refused { from: NodeId, to: NodeId, to_incarnation: Incarnation, reason: Refusal },
}

/// Which view: of which coordinator's life, and which of its datagrams.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewId {
    pub coordinator: NodeId,
    pub incarnation: Incarnation,
    pub seq: u64,
}

/// What a beat says of its sender.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Beat<'a> {
    pub node: NodeId,
    pub incarnation: Incarnation,
    /// Grows with every beat of an incarnation.
    pub seq: u64,
    pub name: &'a str,
    pub features: &'a str,
    pub stats: Stats,
    /// How many of the sender's processes that another node waits for
    /// have ended, this incarnation: a node that waits for one of them
    /// asks again when it grows (see `cluster-server`'s `waits`).
    pub ends: u64,
    /// The coordinator's latest view the sender heard.
    pub echo: Option<ViewId>,
    /// The sender's last beat: it leaves the cluster (`ClusterCtl::Leave`).
    pub leaving: bool,
}

/// One node of a view.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Entry<'a> {
    pub node: NodeId,
    pub incarnation: Incarnation,
    pub addr: [u8; 4],
    /// Its latest beat's sequence number (the coordinator's own: its
    /// beat counter).
    pub seq: u64,
    /// Since the coordinator heard it, in milliseconds.
    pub age_ms: u32,
    /// Admitted (its beat echoed a fresh view); else it is only being
    /// shown its own beat, so that it can tell the view is fresh.
    pub admitted: bool,
    pub name: &'a str,
    pub features: &'a str,
    pub stats: Stats,
    pub ends: u64,
    /// It left the cluster (its last beat said so).
    pub left: bool,
}

/// A coordinator's table, or a part of it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct View<'a> {
    pub id: ViewId,
    #[serde(borrow)]
    pub entries: alloc::vec::Vec<Entry<'a>>,
}

/// How a node stands, as its beats report it.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Processes running (not stopped, not ended).
    pub load: u32,
    pub processes: u32,
    pub free_kib: u64,
    /// Drained (`libux::cluster::ClusterCtl::Drain`): no work placed by
    /// load or feature.
    pub draining: bool,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Refusal {
    NoSecret,
    WrongSecret,
    /// Held by the node at this address.
    NumberInUse {
        by: [u8; 4],
    },
}

impl core::fmt::Display for Refusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Refusal::NoSecret => "no secret",
            Refusal::WrongSecret => "wrong secret",
            Refusal::NumberInUse { .. } => "node number in use",
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

impl<'a> View<'a> {
    pub fn decode(bytes: &'a [u8]) -> Option<View<'a>> {
        let v: View = postcard::from_bytes(bytes).ok()?;
        let words = |e: &Entry| is_name(e.name) && is_features(e.features) && e.node.is_valid();
        (v.id.coordinator.is_valid() && v.entries.iter().all(words)).then_some(v)
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

/// The MAC of a view's body (another label than a beat's: one is never
/// taken for the other).
pub fn view_mac(secret: &[u8], body: &[u8]) -> Mac {
    hmac(secret, &[b"ux-view", body]).finalize().into_bytes().into()
}

pub fn view_mac_ok(secret: &[u8], body: &[u8], mac: &Mac) -> bool {
    hmac(secret, &[b"ux-view", body]).verify_slice(mac).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beat() -> Beat<'static> {
        Beat {
            node: NodeId(3),
            incarnation: 77,
            seq: 9,
            name: "n3",
            features: "bigmem,fast",
            stats: Stats { load: 2, processes: 9, free_kib: 1 << 20, draining: true },
            ends: 4,
            echo: Some(ViewId { coordinator: NodeId(1), incarnation: 5, seq: 40 }),
            leaving: true,
        }
    }

    #[test]
    fn messages_come_back_and_junk_is_refused() {
        let body = beat().encode();
        assert_eq!(Beat::decode(&body), Some(beat()));
        let m = Message::Beat { body: &body, mac: Some(beat_mac(b"s", &body)) };
        let bytes = m.encode();
        assert_eq!(Message::decode(&bytes), Some(m));
        assert_eq!(Message::decode(&bytes[..bytes.len() - 1]), None);
        assert_eq!(Message::decode(&[0xff; 1600]), None);
        let bad = Beat { node: NodeId(0), ..beat() };
        assert_eq!(Beat::decode(&bad.encode()), None);
        let bad = Beat { name: "two words", ..beat() };
        assert_eq!(Beat::decode(&bad.encode()), None);
    }

    #[test]
    fn views_come_back_and_bad_words_are_refused() {
        let e = Entry {
            node: NodeId(2),
            incarnation: 8,
            addr: [10, 1, 0, 2],
            seq: 3,
            age_ms: 120,
            admitted: true,
            name: "n2",
            features: "",
            stats: Stats::default(),
            ends: 0,
            left: true,
        };
        let v =
            View { id: ViewId { coordinator: NodeId(1), incarnation: 5, seq: 41 }, entries: alloc::vec![e.clone()] };
        assert_eq!(View::decode(&v.encode()), Some(v.clone()));
        let bad = View { entries: alloc::vec![Entry { features: "a b", ..e }], ..v };
        assert_eq!(View::decode(&bad.encode()), None);
    }

    #[test]
    fn macs_hold_only_for_the_same_secret_words_and_kind() {
        let body = b"beat";
        assert!(beat_mac_ok(b"secret", body, &beat_mac(b"secret", body)));
        assert!(!beat_mac_ok(b"secreT", body, &beat_mac(b"secret", body)));
        assert!(!beat_mac_ok(b"secret", b"beaT", &beat_mac(b"secret", body)));
        assert!(view_mac_ok(b"secret", body, &view_mac(b"secret", body)));
        // A beat's MAC is no view's.
        assert!(!view_mac_ok(b"secret", body, &beat_mac(b"secret", body)));
    }
}

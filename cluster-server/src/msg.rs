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

use hmac::{Hmac, Mac as _};
use libux::cluster::{hmac, is_features, is_name, NodeId};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The membership port.
pub const PORT: u16 = 5640;
/// The largest datagram the protocol sends: with its header line (the
/// longer, a `Batch`'s, as the listener reads them), one
/// file call's message (`libux::fs::IO_MAX`), so that each is read and
/// written whole in one call, whatever else a node's threads do with
/// their window onto netstack. (At 1,400 bytes, a view of 32 nodes went
/// through the window, which the listener held while it waited: the
/// beater's views went out cut in two, and the followers, hearing none
/// whole, took their coordinator for silent.)
pub const DATAGRAM_MAX: usize = libux::fs::IO_MAX - libux::net::BATCHED_HEADER_MAX;

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
    /// A page of the whole table, sent every period: followers answer it
    /// with their beats (news views carry what changed only).
    pub whole: bool,
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

/// The cluster's secret made an HMAC key once: each MAC starts from a
/// copy of the keyed state, rather than hashing the key's two pads
/// again (two of a beat's five SHA-256 blocks; a coordinator checks
/// every node's beats, and under TCG each check cost about 0.13 ms of
/// the host's time).
#[derive(Clone)]
pub struct MacKey(Hmac<Sha256>);

/// What a MAC is over: a beat's or a view's body (labelled apart, so
/// that one is never taken for the other).
#[derive(Clone, Copy)]
pub enum Signed {
    Beat,
    View,
}

impl MacKey {
    pub fn new(secret: &[u8]) -> MacKey {
        MacKey(hmac(secret, &[]))
    }

    fn over(&self, what: Signed, body: &[u8]) -> Hmac<Sha256> {
        let mut m = self.0.clone();
        m.update(match what {
            Signed::Beat => b"ux-beat",
            Signed::View => b"ux-view",
        });
        m.update(body);
        m
    }

    /// The MAC of `body`.
    pub fn mac(&self, what: Signed, body: &[u8]) -> Mac {
        self.over(what, body).finalize().into_bytes().into()
    }

    /// Whether `mac` is the MAC of `body` (compared in constant time).
    pub fn holds(&self, what: Signed, body: &[u8], mac: &Mac) -> bool {
        self.over(what, body).verify_slice(mac).is_ok()
    }
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
        let m = Message::Beat { body: &body, mac: Some(MacKey::new(b"s").mac(Signed::Beat, &body)) };
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
        let v = View {
            id: ViewId { coordinator: NodeId(1), incarnation: 5, seq: 41 },
            whole: true,
            entries: alloc::vec![e.clone()],
        };
        assert_eq!(View::decode(&v.encode()), Some(v.clone()));
        let bad = View { entries: alloc::vec![Entry { features: "a b", ..e }], ..v };
        assert_eq!(View::decode(&bad.encode()), None);
    }

    #[test]
    fn the_largest_beat_and_view_entry_fit_a_datagram() {
        let name = "n".repeat(libux::cluster::NAME_MAX);
        let features = "f".repeat(libux::cluster::FEATURES_MAX);
        let stats = Stats { load: u32::MAX, processes: u32::MAX, free_kib: u64::MAX, draining: true };
        let beat = Beat {
            incarnation: u64::MAX,
            seq: u64::MAX,
            name: &name,
            features: &features,
            stats,
            ends: u64::MAX,
            ..beat()
        };
        let body = beat.encode();
        let m = Message::Beat { body: &body, mac: Some([0xff; 32]) }.encode();
        assert!(m.len() <= DATAGRAM_MAX, "a beat of {} bytes", m.len());
        assert!(Message::decode(&m).is_some());
        let e = Entry {
            node: NodeId(NodeId::MAX),
            incarnation: u64::MAX,
            addr: [255; 4],
            seq: u64::MAX,
            age_ms: u32::MAX,
            admitted: true,
            name: &name,
            features: &features,
            stats,
            ends: u64::MAX,
            left: true,
        };
        let id = ViewId { coordinator: NodeId(NodeId::MAX), incarnation: u64::MAX, seq: u64::MAX };
        let body = View { id, whole: false, entries: alloc::vec![e] }.encode();
        let m = Message::View { body: &body, mac: [0xff; 32] }.encode();
        assert!(m.len() <= DATAGRAM_MAX, "a view of one entry of {} bytes", m.len());
    }

    #[test]
    fn macs_hold_only_for_the_same_secret_words_and_kind() {
        let body = b"beat";
        let (key, other) = (MacKey::new(b"secret"), MacKey::new(b"secreT"));
        let mac = key.mac(Signed::Beat, body);
        assert!(key.holds(Signed::Beat, body, &mac));
        assert!(!other.holds(Signed::Beat, body, &mac));
        assert!(!key.holds(Signed::Beat, b"beaT", &mac));
        assert!(key.holds(Signed::View, body, &key.mac(Signed::View, body)));
        // A beat's MAC is no view's.
        assert!(!key.holds(Signed::View, body, &mac));
        // From the keyed state or from the key anew, one MAC: the form
        // on the wire stays HMAC-SHA-256(secret, label | body).
        let whole = hmac(b"secret", &[b"ux-beat", body]).finalize().into_bytes();
        assert_eq!(mac, <[u8; 32]>::from(whole));
        // A copy of the key is used again and again: each MAC starts anew.
        assert_eq!(key.mac(Signed::Beat, body), mac);
    }
}

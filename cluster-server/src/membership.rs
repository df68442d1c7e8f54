//! Who is in the cluster: the node table and the membership protocol
//! ([`crate::msg`]) as a state machine, fed datagrams and the time, giving
//! datagrams to send and lines to log. No I/O here (the program does it),
//! so every rule is tested on the host.
//!
//! - Every [`BEAT_US`] a node broadcasts a beat. A peer not yet admitted
//!   (or of a new incarnation) is challenged; its proof admits it.
//! - A peer not heard for [`SUSPECT_US`] is `suspect`, for [`DOWN_US`]
//!   `down`. A node that comes back (a new incarnation) is challenged
//!   again and rejoins.
//! - Refused, and logged on both sides: a node with no secret, with the
//!   wrong one, or with a number an admitted node that is up holds. Of two
//!   nodes claiming one number, the one up longer keeps it; the other
//!   stays out (and says so).

use crate::msg::{self, Beat, Incarnation, Message, Nonce, Refusal, Stats};
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use libux::cluster::Nonces;
use libux::cluster::{NodeId, NodeLine, NodeState};
use libux::net::Addr;

/// How often a node beats, in microseconds. Every beat wakes every other
/// node (about 1 ms of a host core under TCG): at 500 ms, beats were
/// most of what an idle node of four cost.
pub const BEAT_US: u64 = 750_000;
/// Not heard for this long: suspect (two beats missed).
pub const SUSPECT_US: u64 = 1_500_000;
/// Not heard for this long: down (three beats missed; within the 3 s the
/// cluster promises: the beater wakes when a state is due to change,
/// [`Membership::next_change`]).
pub const DOWN_US: u64 = 2_500_000;
/// A challenge not answered for this long is sent again.
const RECHALLENGE_US: u64 = 1_000_000;
/// Nonces of one challenge a proof may answer.
const NONCES_KEPT: usize = 4;
/// The same refusal is sent and logged at most this often.
const REFUSE_EVERY_US: u64 = 5_000_000;

/// This node, as the host configured it.
#[derive(Clone, Debug)]
pub struct Config {
    pub node: NodeId,
    pub name: String,
    pub features: String,
    /// The cluster's shared secret; none: the node stays out.
    pub secret: Option<Vec<u8>>,
}

/// What the program is to do.
#[derive(Debug, PartialEq, Eq)]
pub enum Out {
    /// Broadcast the bytes on the segment (to the membership port). Every
    /// message names whom it is for; none is sent to one address, which
    /// would wait for the address of a node that may be dead.
    Send(Vec<u8>),
    Log(String),
    /// A node turned down.
    Down(NodeId),
    /// A node's processes that another node waits for: some ended.
    Ended(NodeId),
}

/// An admitted node.
#[derive(Clone, Debug)]
pub struct Peer {
    pub addr: [u8; 4],
    pub incarnation: Incarnation,
    pub name: String,
    pub features: String,
    pub stats: Stats,
    seq: u64,
    /// Its beats' `ends`, as last heard.
    ends: u64,
    heard_us: u64,
    /// The state last logged (a change is logged once).
    logged: NodeState,
}

struct Challenge {
    incarnation: Incarnation,
    /// The nonces sent, oldest first (at most `NONCES_KEPT`): a proof for
    /// any of them admits, so that on a host so busy that a proof takes
    /// longer than `RECHALLENGE_US`, the challenge sent since does not
    /// make it void.
    nonces: Vec<Nonce>,
    sent_us: u64,
    /// What the challenged node's beat said of it, shown once admitted.
    name: String,
    features: String,
    stats: Stats,
    seq: u64,
    ends: u64,
}

pub struct Membership {
    cfg: Config,
    incarnation: Incarnation,
    seq: u64,
    /// Our processes that another node waits for, ended (`Beat::ends`).
    ends: u64,
    started_us: u64,
    peers: BTreeMap<NodeId, Peer>,
    challenges: BTreeMap<NodeId, Challenge>,
    /// Last refusal sent to each (node, incarnation), and when.
    refused: BTreeMap<(NodeId, Incarnation), u64>,
    /// Refusals of us logged, and when.
    refused_us: BTreeMap<(NodeId, Refusal), u64>,
    /// Another node holds our number: we stay out, silent.
    out_of_cluster: bool,
    nonces: Nonces,
}

impl Membership {
    /// `seed`: the boot's unpredictable bytes; `now_us`: the clock now.
    pub fn new(cfg: Config, seed: &[u8], now_us: u64) -> Membership {
        let mut nonces = Nonces::new(seed);
        let incarnation = u64::from_le_bytes(nonces.bytes()[..8].try_into().expect("8 of 32 bytes"));
        Membership {
            cfg,
            incarnation,
            seq: 0,
            ends: 0,
            started_us: now_us,
            peers: BTreeMap::new(),
            challenges: BTreeMap::new(),
            refused: BTreeMap::new(),
            refused_us: BTreeMap::new(),
            out_of_cluster: false,
            nonces,
        }
    }

    pub fn node(&self) -> NodeId {
        self.cfg.node
    }

    pub fn incarnation(&self) -> Incarnation {
        self.incarnation
    }

    /// One of our processes that another node waits for ended: the next
    /// beat says so (send one at once).
    pub fn watched_ended(&mut self) {
        self.ends += 1;
    }

    /// The beat to broadcast now, unless we stay out.
    pub fn beat(&mut self, now_us: u64, stats: Stats) -> Option<Vec<u8>> {
        if self.out_of_cluster {
            return None;
        }
        self.seq += 1;
        let beat = Beat {
            node: self.cfg.node,
            incarnation: self.incarnation,
            seq: self.seq,
            uptime_ms: now_us.saturating_sub(self.started_us) / 1000,
            name: &self.cfg.name,
            features: &self.cfg.features,
            stats,
            ends: self.ends,
        };
        let body = beat.encode();
        let mac = self.cfg.secret.as_deref().map(|s| msg::beat_mac(s, &body));
        Some(Message::Beat { body: &body, mac }.encode())
    }

    /// Peers whose state changed since the last tick, logged.
    pub fn tick(&mut self, now_us: u64) -> Vec<Out> {
        let mut out = Vec::new();
        for (node, p) in self.peers.iter_mut() {
            let state = state_of(p.heard_us, now_us);
            if state != p.logged {
                p.logged = state;
                out.push(Out::Log(format!("cluster: node {node} ({}) is {}", p.name, state.word())));
                if state == NodeState::Down {
                    out.push(Out::Down(*node));
                }
            }
        }
        out
    }

    /// When [`Membership::tick`] next has something to tell if nothing is
    /// heard meanwhile: now for a change not told yet, else the earliest
    /// time a peer turns suspect or down; none when every peer is down.
    pub fn next_change(&self, now_us: u64) -> Option<u64> {
        let due = |p: &Peer| match state_of(p.heard_us, now_us) {
            s if s != p.logged => Some(now_us),
            NodeState::Up => Some(p.heard_us + SUSPECT_US),
            NodeState::Suspect => Some(p.heard_us + DOWN_US),
            NodeState::Down => None,
        };
        self.peers.values().filter_map(due).min()
    }

    /// A datagram from `from`.
    pub fn receive(&mut self, now_us: u64, from: [u8; 4], bytes: &[u8]) -> Vec<Out> {
        let mut out = Vec::new();
        match Message::decode(bytes) {
            Some(Message::Beat { body, mac }) => self.on_beat(now_us, from, body, mac, &mut out),
            Some(Message::Challenge { from: node, to, to_incarnation, nonce }) => {
                // (Also when we stay out: the challenger then refuses us
                // for the number, and says so.)
                if to == self.cfg.node && to_incarnation == self.incarnation {
                    if let Some(secret) = &self.cfg.secret {
                        let mac = msg::proof_mac(secret, self.cfg.node, self.incarnation, node, &nonce);
                        let proof =
                            Message::Proof { from: self.cfg.node, incarnation: self.incarnation, to: node, nonce, mac };
                        out.push(Out::Send(proof.encode()));
                    }
                }
            }
            Some(Message::Proof { from: node, incarnation, to, nonce, mac }) if to == self.cfg.node => {
                self.on_proof(now_us, from, node, incarnation, nonce, &mac, &mut out)
            }
            Some(Message::Refused { from: node, to, to_incarnation, reason })
                if to == self.cfg.node && to_incarnation == self.incarnation =>
            {
                let last = self.refused_us.get(&(node, reason)).copied();
                if last.is_none_or(|t| now_us.saturating_sub(t) >= REFUSE_EVERY_US) {
                    self.refused_us.insert((node, reason), now_us);
                    out.push(Out::Log(format!("cluster: node {node} at {} refused us: {reason}", addr(from))));
                }
            }
            // Not for us, or not the protocol: nothing to say.
            Some(_) | None => {}
        }
        out
    }

    fn on_beat(&mut self, now_us: u64, from: [u8; 4], body: &[u8], mac: Option<msg::Mac>, out: &mut Vec<Out>) {
        let Some(beat) = Beat::decode(body) else { return };
        let Some(secret) = self.cfg.secret.clone() else {
            // We can judge nobody: we stay out (and others refuse us).
            return;
        };
        let Some(mac) = mac else {
            return self.refuse(now_us, from, beat.node, beat.incarnation, Refusal::NoSecret, out);
        };
        if !msg::beat_mac_ok(&secret, body, &mac) {
            return self.refuse(now_us, from, beat.node, beat.incarnation, Refusal::WrongSecret, out);
        }
        if beat.node == self.cfg.node {
            if beat.incarnation != self.incarnation {
                self.same_number(now_us, from, &beat, out);
            }
            return;
        }
        if let Some(p) = self.peers.get_mut(&beat.node) {
            if p.incarnation == beat.incarnation {
                // Only a later beat of the admitted incarnation counts.
                if beat.seq > p.seq {
                    p.seq = beat.seq;
                    p.heard_us = now_us;
                    p.stats = beat.stats;
                    p.addr = from;
                    if beat.ends != p.ends {
                        p.ends = beat.ends;
                        out.push(Out::Ended(beat.node));
                    }
                    if p.name != beat.name || p.features != beat.features {
                        p.name = beat.name.into();
                        p.features = beat.features.into();
                    }
                }
                return;
            }
        }
        // Someone new, or an incarnation not admitted: prove it.
        let again = match self.challenges.get(&beat.node) {
            Some(c) => c.incarnation != beat.incarnation || now_us.saturating_sub(c.sent_us) >= RECHALLENGE_US,
            None => true,
        };
        if again {
            let nonce = msg::nonce(&mut self.nonces);
            let mut nonces = match self.challenges.remove(&beat.node) {
                Some(c) if c.incarnation == beat.incarnation => c.nonces,
                _ => Vec::new(),
            };
            if nonces.len() == NONCES_KEPT {
                nonces.remove(0);
            }
            nonces.push(nonce);
            let challenge = Challenge {
                incarnation: beat.incarnation,
                nonces,
                sent_us: now_us,
                name: beat.name.into(),
                features: beat.features.into(),
                stats: beat.stats,
                seq: beat.seq,
                ends: beat.ends,
            };
            self.challenges.insert(beat.node, challenge);
            let c = Message::Challenge { from: self.cfg.node, to: beat.node, to_incarnation: beat.incarnation, nonce };
            out.push(Out::Send(c.encode()));
        }
    }

    /// Another node with our number, whose beat holds: the one up longer
    /// keeps the number.
    fn same_number(&mut self, now_us: u64, from: [u8; 4], beat: &Beat, out: &mut Vec<Out>) {
        let ours = (now_us.saturating_sub(self.started_us) / 1000, self.incarnation);
        if (beat.uptime_ms, beat.incarnation) > ours {
            if !self.out_of_cluster {
                self.out_of_cluster = true;
                self.peers.clear();
                out.push(Out::Log(format!(
                    "cluster: node number {} is in use by the node at {}; this node stays out of the cluster",
                    self.cfg.node,
                    addr(from)
                )));
            }
        } else {
            self.refuse(now_us, from, beat.node, beat.incarnation, Refusal::NumberInUse, out);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_proof(
        &mut self,
        now_us: u64,
        from: [u8; 4],
        node: NodeId,
        incarnation: Incarnation,
        nonce: Nonce,
        mac: &msg::Mac,
        out: &mut Vec<Out>,
    ) {
        let Some(secret) = self.cfg.secret.clone() else { return };
        let ours =
            self.challenges.get(&node).is_some_and(|c| c.incarnation == incarnation && c.nonces.contains(&nonce));
        if !ours {
            return;
        }
        let challenge = self.challenges.remove(&node).expect("just found");
        if !msg::proof_ok(&secret, node, incarnation, self.cfg.node, &nonce, mac) {
            return self.refuse(now_us, from, node, incarnation, Refusal::WrongSecret, out);
        }
        if let Some(p) = self.peers.get(&node) {
            if p.incarnation != incarnation && state_of(p.heard_us, now_us) != NodeState::Down {
                return self.refuse(now_us, from, node, incarnation, Refusal::NumberInUse, out);
            }
        }
        let rejoined = self.peers.contains_key(&node);
        let peer = Peer {
            addr: from,
            incarnation,
            name: challenge.name,
            features: challenge.features,
            stats: challenge.stats,
            seq: challenge.seq,
            ends: challenge.ends,
            heard_us: now_us,
            logged: NodeState::Up,
        };
        self.peers.insert(node, peer);
        let how = if rejoined { "rejoined (a new incarnation)" } else { "joined" };
        out.push(Out::Log(format!("cluster: node {node} at {} {how}", addr(from))));
    }

    fn refuse(&mut self, now_us: u64, to: [u8; 4], node: NodeId, inc: Incarnation, why: Refusal, out: &mut Vec<Out>) {
        let last = self.refused.get(&(node, inc)).copied();
        if last.is_some_and(|t| now_us.saturating_sub(t) < REFUSE_EVERY_US) {
            return;
        }
        // A table one sender cannot grow without bound.
        if self.refused.len() >= 256 {
            self.refused.retain(|_, t| now_us.saturating_sub(*t) < REFUSE_EVERY_US);
        }
        self.refused.insert((node, inc), now_us);
        out.push(Out::Log(format!("cluster: refused node {node} at {}: {why}", addr(to))));
        let m = Message::Refused { from: self.cfg.node, to: node, to_incarnation: inc, reason: why };
        out.push(Out::Send(m.encode()));
    }

    /// The node table: this node and every admitted one, by number.
    pub fn nodes(&self, now_us: u64, own_addr: [u8; 4], own: Stats) -> Vec<NodeLine> {
        let me = NodeLine {
            node: self.cfg.node,
            name: self.cfg.name.clone(),
            addr: Addr { ip: own_addr, port: msg::PORT },
            state: NodeState::Up,
            load: own.load,
            processes: own.processes,
            free_kib: own.free_kib,
            features: self.cfg.features.clone(),
        };
        let mut all = alloc::vec![me];
        all.extend(self.peers.iter().map(|(node, p)| NodeLine {
            node: *node,
            name: p.name.clone(),
            addr: Addr { ip: p.addr, port: msg::PORT },
            state: state_of(p.heard_us, now_us),
            load: p.stats.load,
            processes: p.stats.processes,
            free_kib: p.stats.free_kib,
            features: p.features.clone(),
        }));
        all.sort_by_key(|l| l.node);
        all
    }
}

fn state_of(heard_us: u64, now_us: u64) -> NodeState {
    match now_us.saturating_sub(heard_us) {
        t if t < SUSPECT_US => NodeState::Up,
        t if t < DOWN_US => NodeState::Suspect,
        _ => NodeState::Down,
    }
}

fn addr(ip: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3])
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: [u8; 4] = [10, 1, 0, 1];
    const B: [u8; 4] = [10, 1, 0, 2];
    const C: [u8; 4] = [10, 1, 0, 3];

    fn node(n: u16, secret: Option<&[u8]>, seed: &[u8], now: u64) -> Membership {
        let cfg =
            Config { node: NodeId(n), name: format!("n{n}"), features: String::new(), secret: secret.map(Vec::from) };
        Membership::new(cfg, seed, now)
    }

    fn logs(outs: &[Out]) -> Vec<&str> {
        outs.iter().filter_map(|o| if let Out::Log(l) = o { Some(l.as_str()) } else { None }).collect()
    }

    /// Runs the exchange that `first` (a datagram from `from_ip` to
    /// `to`) starts between two nodes until it ends; every log line.
    fn exchange(
        now: u64,
        from: (&mut Membership, [u8; 4]),
        to: (&mut Membership, [u8; 4]),
        first: Vec<u8>,
    ) -> Vec<String> {
        let (mut x, mut y) = (from, to);
        let mut next = alloc::vec![first];
        let mut all = Vec::new();
        for _ in 0..8 {
            let mut replies = Vec::new();
            for bytes in next {
                for o in y.0.receive(now, x.1, &bytes) {
                    match o {
                        Out::Send(bytes) => replies.push(bytes),
                        Out::Log(l) => all.push(l),
                        Out::Down(_) | Out::Ended(_) => {}
                    }
                }
            }
            if replies.is_empty() {
                break;
            }
            next = replies;
            core::mem::swap(&mut x, &mut y);
        }
        all
    }

    fn states(m: &Membership, now: u64) -> Vec<(u16, NodeState)> {
        m.nodes(now, [0; 4], Stats::default()).iter().map(|l| (l.node.0, l.state)).collect()
    }

    #[test]
    fn nodes_with_the_secret_admit_each_other_and_see_each_other_go_down_and_come_back() {
        let (mut a, mut b) = (node(1, Some(b"s"), b"a", 0), node(2, Some(b"s"), b"b", 0));
        let beat = a.beat(0, Stats { load: 1, processes: 5, free_kib: 99 }).unwrap();
        let log = exchange(0, (&mut a, A), (&mut b, B), beat);
        assert_eq!(log, ["cluster: node 1 at 10.1.0.1 joined"]);
        // What its beat said is there from the start.
        let table = b.nodes(0, B, Stats::default());
        assert_eq!((table[0].name.as_str(), table[0].processes, table[0].state), ("n1", 5, NodeState::Up));
        let beat = a.beat(100, Stats { load: 1, processes: 5, free_kib: 99 }).unwrap();
        assert!(b.receive(100, A, &beat).is_empty());
        assert_eq!(b.next_change(100), Some(100 + SUSPECT_US), "the beater sleeps until it may turn suspect");
        let table = b.nodes(100, B, Stats::default());
        assert_eq!((table[0].name.as_str(), table[0].processes, table[0].state), ("n1", 5, NodeState::Up));
        // A replayed beat does not keep it up.
        assert!(b.receive(SUSPECT_US, A, &beat).is_empty());
        assert_eq!(logs(&b.tick(150 + SUSPECT_US)), ["cluster: node 1 (n1) is suspect"]);
        assert_eq!(b.next_change(150 + SUSPECT_US), Some(100 + DOWN_US), "the next is its going down");
        let down = b.tick(150 + DOWN_US);
        assert_eq!(b.next_change(150 + DOWN_US), None, "nobody left to watch");
        assert_eq!(logs(&down), ["cluster: node 1 (n1) is down"]);
        assert!(matches!(down[..], [Out::Log(_), Out::Down(NodeId(1))]), "the waits for its processes hear it");
        assert_eq!(states(&b, 150 + DOWN_US), [(1, NodeState::Down), (2, NodeState::Up)]);
        // It boots again: a new incarnation, challenged, and back.
        let mut a2 = node(1, Some(b"s"), b"a, again", 5_000_000);
        let beat = a2.beat(5_000_000, Stats::default()).unwrap();
        let log = exchange(5_000_000, (&mut a2, A), (&mut b, B), beat);
        assert_eq!(log, ["cluster: node 1 at 10.1.0.1 rejoined (a new incarnation)"]);
        assert_eq!(states(&b, 5_000_000), [(1, NodeState::Up), (2, NodeState::Up)]);
    }

    #[test]
    fn a_beat_tells_when_a_process_waited_for_ended() {
        let (mut a, mut b) = (node(1, Some(b"s"), b"a", 0), node(2, Some(b"s"), b"b", 0));
        let beat = a.beat(0, Stats::default()).unwrap();
        exchange(0, (&mut a, A), (&mut b, B), beat);
        let beat = a.beat(10, Stats::default()).unwrap();
        assert!(b.receive(10, A, &beat).is_empty(), "nothing ended");
        a.watched_ended();
        let beat = a.beat(20, Stats::default()).unwrap();
        assert!(matches!(b.receive(20, A, &beat)[..], [Out::Ended(NodeId(1))]));
        // Told once: the next beats say the same count; a replay nothing.
        assert!(b.receive(20, A, &beat).is_empty());
        let beat = a.beat(30, Stats::default()).unwrap();
        assert!(b.receive(30, A, &beat).is_empty());
    }

    #[test]
    fn a_wrong_secret_or_none_is_refused_and_both_sides_say_so() {
        for (secret, why) in [(Some(&b"wrong"[..]), "wrong secret"), (None, "no secret")] {
            let (mut a, mut c) = (node(1, Some(b"s"), b"a", 0), node(3, secret, b"c", 0));
            let beat = c.beat(0, Stats::default()).unwrap();
            let log = exchange(0, (&mut c, C), (&mut a, A), beat);
            assert_eq!(
                log,
                [
                    format!("cluster: refused node 3 at 10.1.0.3: {why}"),
                    format!("cluster: node 1 at 10.1.0.1 refused us: {why}")
                ]
            );
            assert_eq!(states(&a, 0), [(1, NodeState::Up)]);
            // The other way round: its challenge of us is answered, and our
            // proof does not hold for it: it admits nobody.
            let beat = a.beat(10, Stats::default()).unwrap();
            exchange(10, (&mut a, A), (&mut c, C), beat);
            assert_eq!(states(&c, 10), [(3, NodeState::Up)]);
        }
    }

    #[test]
    fn a_forged_proof_admits_nobody() {
        let (mut a, mut b) = (node(1, Some(b"s"), b"a", 0), node(2, Some(b"s"), b"b", 0));
        let beat = b.beat(0, Stats::default()).unwrap();
        let outs = a.receive(0, B, &beat);
        let Some(Out::Send(bytes)) = outs.first() else { panic!("no challenge") };
        let Some(Message::Challenge { nonce, to_incarnation, .. }) = Message::decode(bytes) else { panic!() };
        let forged =
            Message::Proof { from: NodeId(2), incarnation: to_incarnation, to: NodeId(1), nonce, mac: [0; 32] };
        assert_eq!(logs(&a.receive(1, B, &forged.encode())), ["cluster: refused node 2 at 10.1.0.2: wrong secret"]);
        assert_eq!(states(&a, 1), [(1, NodeState::Up)]);
    }

    /// The challenge `a` sends for `b`'s beat at `now`.
    fn challenge_for(a: &mut Membership, b: &mut Membership, now: u64) -> Vec<u8> {
        let beat = b.beat(now, Stats::default()).unwrap();
        let outs = a.receive(now, B, &beat);
        let Some(Out::Send(bytes)) = outs.into_iter().next() else { panic!("no challenge at {now}") };
        assert!(matches!(Message::decode(&bytes), Some(Message::Challenge { .. })));
        bytes
    }

    /// `b`'s proof for `challenge`.
    fn proof_of(b: &mut Membership, challenge: &[u8], now: u64) -> Vec<u8> {
        let outs = b.receive(now, A, challenge);
        let Some(Out::Send(bytes)) = outs.into_iter().next() else { panic!("no proof") };
        bytes
    }

    #[test]
    fn a_proof_slower_than_the_next_challenge_still_admits() {
        let (mut a, mut b) = (node(1, Some(b"s"), b"a", 0), node(2, Some(b"s"), b"b", 0));
        // On a busy host the proof comes after the challenge was sent again.
        let first = challenge_for(&mut a, &mut b, 0);
        let second = challenge_for(&mut a, &mut b, RECHALLENGE_US);
        assert_ne!(first, second, "a fresh nonce");
        let late = proof_of(&mut b, &first, RECHALLENGE_US + 1);
        assert_eq!(logs(&a.receive(RECHALLENGE_US + 2, B, &late)), ["cluster: node 2 at 10.1.0.2 joined"]);
        // But only the last few nonces count.
        let (mut a, mut b) = (node(1, Some(b"s"), b"a", 0), node(2, Some(b"s"), b"b", 0));
        let oldest = challenge_for(&mut a, &mut b, 0);
        for k in 1..=NONCES_KEPT as u64 {
            challenge_for(&mut a, &mut b, k * RECHALLENGE_US);
        }
        let stale = proof_of(&mut b, &oldest, 9 * RECHALLENGE_US);
        assert!(a.receive(9 * RECHALLENGE_US, B, &stale).is_empty());
        assert_eq!(states(&a, 9 * RECHALLENGE_US), [(1, NodeState::Up)]);
    }

    #[test]
    fn a_second_node_with_a_number_in_use_stays_out() {
        let (mut a, mut b) = (node(1, Some(b"s"), b"a", 0), node(2, Some(b"s"), b"b", 0));
        let beat = a.beat(0, Stats::default()).unwrap();
        exchange(0, (&mut a, A), (&mut b, B), beat);
        let beat = a.beat(2_900_000, Stats::default()).unwrap();
        assert!(b.receive(2_900_000, A, &beat).is_empty());
        // A second node 1 starts later, while the first is up.
        let mut late = node(1, Some(b"s"), b"late", 3_000_000);
        let beat = late.beat(3_000_000, Stats::default()).unwrap();
        let log = exchange(3_000_000, (&mut late, C), (&mut b, B), beat.clone());
        assert_eq!(
            log,
            [
                "cluster: refused node 1 at 10.1.0.3: node number in use",
                "cluster: node 2 at 10.1.0.2 refused us: node number in use"
            ]
        );
        let log = exchange(3_000_000, (&mut late, C), (&mut a, A), beat);
        assert_eq!(
            log,
            [
                "cluster: refused node 1 at 10.1.0.3: node number in use",
                "cluster: node 1 at 10.1.0.1 refused us: node number in use"
            ]
        );
        // It hears the first one: it says so, and beats no more.
        let beat = a.beat(3_100_000, Stats::default()).unwrap();
        let outs = late.receive(3_100_000, A, &beat);
        assert_eq!(
            logs(&outs),
            ["cluster: node number 1 is in use by the node at 10.1.0.1; this node stays out of the cluster"]
        );
        assert!(late.beat(3_200_000, Stats::default()).is_none());
        assert_eq!(states(&b, 3_100_000), [(1, NodeState::Up), (2, NodeState::Up)]);
    }

    #[test]
    fn junk_changes_nothing() {
        let mut a = node(1, Some(b"s"), b"a", 0);
        for junk in [&[][..], &[0], &[1, 2, 3], &[0xff; 40]] {
            assert!(a.receive(0, B, junk).is_empty());
        }
        assert_eq!(states(&a, 0), [(1, NodeState::Up)]);
    }
}

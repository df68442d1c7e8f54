//! Who is in the cluster: the node table and the membership protocol
//! ([`crate::msg`]) as a state machine, fed datagrams and the time, giving
//! datagrams to send and lines to log. No I/O here (the program does it),
//! so every rule is tested on the host.
//!
//! One node, the **coordinator**, hears every node's beat and broadcasts
//! the table (a view); every other node (a follower) sends its beat to the
//! coordinator alone and learns the others from the views. So an idle
//! node wakes about twice a beat period whatever the cluster's size
//! (everyone beating to everyone cost each node a wake-up per node), and
//! a node joins with two datagrams, not a challenge and proof per pair.
//!
//! - A node that knows no coordinator **seeks**: it broadcasts its beats.
//!   It follows the first coordinator whose view it hears. If none speaks
//!   for [`SUSPECT_US`] and no node of a lower number was heard, it
//!   coordinates. Of two coordinators, the one of the higher number
//!   yields (and its followers go over) when it hears the other's view.
//! - The coordinator admits a node whose beat (with a valid MAC) echoes
//!   one of its views of the last [`DOWN_US`]; a follower believes views
//!   that echo one of its beats of the last [`DOWN_US`], and after that
//!   only views with a growing number. Until admitted, a node is shown in
//!   the views (not admitted) so that it can see its beat echoed.
//! - The coordinator marks a node not heard for [`SUSPECT_US`] `suspect`,
//!   for [`DOWN_US`] `down`; followers age the views' entries the same
//!   way, for at most one beat period past the last view, so that a
//!   silent coordinator does not make everyone look down.
//! - A coordinator silent for [`SUSPECT_US`] is replaced by the lowest
//!   numbered node up in its last view: that node coordinates (giving
//!   every node a beat period's grace to beat to it), the others beat to
//!   it.
//! - Refused by the coordinator, and logged on both sides: a node with no
//!   secret, with the wrong one, or with a number a node that is up holds
//!   (it may join once that node is down).

use crate::msg::{self, Beat, Entry, Incarnation, Message, Refusal, Stats, View, ViewId};
use alloc::collections::{BTreeMap, VecDeque};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use libux::cluster::Nonces;
use libux::cluster::{NodeId, NodeLine, NodeState};
use libux::net::Addr;

/// How often a node beats (and the coordinator sends its view), in
/// microseconds.
pub const BEAT_US: u64 = 750_000;
/// Not heard for this long: suspect (two beats missed); a coordinator
/// silent this long is replaced, a seeker that heard none coordinates.
pub const SUSPECT_US: u64 = 1_500_000;
/// Not heard for this long: down (three beats missed; within the 3 s the
/// cluster promises: the beater wakes when a state is due to change,
/// [`Membership::next_change`]).
pub const DOWN_US: u64 = 2_500_000;
/// News (a node joined, turned, or says a process ended) goes out in a
/// view at once, but at most this often: a burst of news is one view.
const NEWS_GAP_US: u64 = 100_000;
/// Beats and views sent that an echo may name (at most; older than
/// [`DOWN_US`] they count no more).
const SENT_KEPT: usize = 64;
/// The same refusal is sent and logged at most this often.
const REFUSE_EVERY_US: u64 = 5_000_000;
/// Bytes of entries in one view datagram (an entry is at most about 200:
/// its name and features are bounded).
const VIEW_ENTRIES_MAX: usize = msg::DATAGRAM_MAX - 200;

/// This node, as the host configured it.
#[derive(Clone, Debug)]
pub struct Config {
    pub node: NodeId,
    pub name: String,
    pub features: String,
    /// Its address on the segment.
    pub addr: [u8; 4],
    /// The cluster's shared secret; none: the node stays out.
    pub secret: Option<Vec<u8>>,
}

/// What the program is to do.
#[derive(Debug, PartialEq, Eq)]
pub enum Out {
    /// Broadcast the bytes on the segment (to the membership port).
    Broadcast(Vec<u8>),
    /// Send them to one node (its membership port).
    SendTo([u8; 4], Vec<u8>),
    /// Send a beat now (to a new coordinator): [`Membership::beat`].
    BeatNow,
    Log(String),
    /// A node turned down.
    Down(NodeId),
    /// A node's processes that another node waits for: some ended.
    Ended(NodeId),
}

/// A node of the table.
#[derive(Clone, Debug)]
pub struct Peer {
    pub addr: [u8; 4],
    pub incarnation: Incarnation,
    pub name: String,
    pub features: String,
    pub stats: Stats,
    /// Its latest beat's sequence number: only a later one counts.
    seq: u64,
    /// Its beats' `ends`, as last heard.
    ends: u64,
    heard_us: u64,
    /// Shown in `nodes` (the coordinator shows the others in its views
    /// only, until they are admitted).
    admitted: bool,
    /// Another incarnation of its number was admitted before.
    rejoining: bool,
    /// The state last logged (a change is logged once).
    logged: NodeState,
}

/// The coordinator this node follows.
struct Following {
    node: NodeId,
    incarnation: Incarnation,
    addr: [u8; 4],
    /// Its latest view's number (the echo of our beats).
    seq: u64,
    /// When a view of it last came.
    heard_us: u64,
    /// One of its views echoed a fresh beat of ours: it is the
    /// coordinator, and its views are believed.
    believed: bool,
}

enum Role {
    /// No coordinator known: beats to everyone. `lower_us`: when a node
    /// of a lower number was last heard (it is to coordinate, not us).
    Seeking {
        since_us: u64,
        lower_us: Option<u64>,
    },
    Following(Following),
    /// `news`: something to tell before the next beat period.
    Coordinating {
        view_seq: u64,
        last_view_us: u64,
        news: bool,
    },
}

pub struct Membership {
    cfg: Config,
    incarnation: Incarnation,
    seq: u64,
    /// Our processes that another node waits for, ended (`Beat::ends`).
    ends: u64,
    /// How we stand, as of the last beat.
    own: Stats,
    role: Role,
    peers: BTreeMap<NodeId, Peer>,
    /// Our beats (as a follower) or views (as the coordinator) lately
    /// sent: number and time.
    sent: VecDeque<(u64, u64)>,
    /// Last refusal sent to each (node, incarnation), and when.
    refused: BTreeMap<(NodeId, Incarnation), u64>,
    /// Refusals of us logged, and when.
    refused_us: BTreeMap<(NodeId, Refusal), u64>,
    /// We were refused, this incarnation.
    refused_once: bool,
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
            own: Stats::default(),
            role: Role::Seeking { since_us: now_us, lower_us: None },
            peers: BTreeMap::new(),
            sent: VecDeque::new(),
            refused: BTreeMap::new(),
            refused_us: BTreeMap::new(),
            refused_once: false,
        }
    }

    pub fn node(&self) -> NodeId {
        self.cfg.node
    }

    /// The coordinator, if known (ourselves included).
    pub fn coordinator(&self) -> Option<NodeId> {
        match &self.role {
            Role::Seeking { .. } => None,
            Role::Following(f) => f.believed.then_some(f.node),
            Role::Coordinating { .. } => Some(self.cfg.node),
        }
    }

    /// One of our processes that another node waits for ended: the next
    /// beat says so (send one at once).
    pub fn watched_ended(&mut self) {
        self.ends += 1;
        if let Role::Coordinating { news, .. } = &mut self.role {
            *news = true;
        }
    }

    /// What to send now, every [`BEAT_US`] (or at [`Out::BeatNow`]): our
    /// beat, to the coordinator or to everyone; the coordinator's view.
    pub fn beat(&mut self, now_us: u64, stats: Stats) -> Vec<Out> {
        self.own = stats;
        if let Role::Coordinating { .. } = self.role {
            return self.views(now_us);
        }
        self.seq += 1;
        let (to, echo) = match &self.role {
            Role::Following(f) => {
                (Some(f.addr), Some(ViewId { coordinator: f.node, incarnation: f.incarnation, seq: f.seq }))
            }
            _ => (None, None),
        };
        let beat = Beat {
            node: self.cfg.node,
            incarnation: self.incarnation,
            seq: self.seq,
            name: &self.cfg.name,
            features: &self.cfg.features,
            stats,
            ends: self.ends,
            echo,
        };
        let body = beat.encode();
        let mac = self.cfg.secret.as_deref().map(|s| msg::beat_mac(s, &body));
        let bytes = Message::Beat { body: &body, mac }.encode();
        remember(&mut self.sent, self.seq, now_us);
        alloc::vec![match to {
            Some(addr) => Out::SendTo(addr, bytes),
            None => Out::Broadcast(bytes),
        }]
    }

    /// The coordinator's table, in as many datagrams as it takes.
    fn views(&mut self, now_us: u64) -> Vec<Out> {
        let Role::Coordinating { view_seq, last_view_us, news } = &mut self.role else { return Vec::new() };
        let Some(secret) = self.cfg.secret.as_deref() else { return Vec::new() };
        let me = Entry {
            node: self.cfg.node,
            incarnation: self.incarnation,
            addr: self.cfg.addr,
            seq: self.seq,
            age_ms: 0,
            admitted: true,
            name: &self.cfg.name,
            features: &self.cfg.features,
            stats: self.own,
            ends: self.ends,
        };
        let others = self.peers.iter().map(|(node, p)| Entry {
            node: *node,
            incarnation: p.incarnation,
            addr: p.addr,
            seq: p.seq,
            age_ms: (now_us.saturating_sub(p.heard_us) / 1000).min(u32::MAX as u64) as u32,
            admitted: p.admitted,
            name: &p.name,
            features: &p.features,
            stats: p.stats,
            ends: p.ends,
        });
        let mut pages: Vec<Vec<Entry>> = alloc::vec![Vec::new()];
        let mut bytes = 0;
        for e in core::iter::once(me).chain(others) {
            let size = postcard::experimental::serialized_size(&e).unwrap_or(VIEW_ENTRIES_MAX);
            if bytes + size > VIEW_ENTRIES_MAX {
                pages.push(Vec::new());
                bytes = 0;
            }
            bytes += size;
            pages.last_mut().expect("one page at least").push(e);
        }
        let mut out = Vec::new();
        for entries in pages {
            *view_seq += 1;
            let view = View {
                id: ViewId { coordinator: self.cfg.node, incarnation: self.incarnation, seq: *view_seq },
                entries,
            };
            let body = view.encode();
            let mac = msg::view_mac(secret, &body);
            out.push(Out::Broadcast(Message::View { body: &body, mac }.encode()));
            remember(&mut self.sent, *view_seq, now_us);
        }
        *last_view_us = now_us;
        *news = false;
        out
    }

    /// A view now if there is news and the last one is not too recent.
    fn news_out(&mut self, now_us: u64, out: &mut Vec<Out>) {
        if let Role::Coordinating { last_view_us, news: true, .. } = self.role {
            if now_us.saturating_sub(last_view_us) >= NEWS_GAP_US {
                out.extend(self.views(now_us));
            }
        }
    }

    fn news(&mut self) {
        if let Role::Coordinating { news, .. } = &mut self.role {
            *news = true;
        }
    }

    /// How long ago `node` was heard, as this node can tell: a follower
    /// ages the views' entries for at most a beat period past the last
    /// view (the coordinator itself by the views' own times).
    fn age_us(&self, node: NodeId, heard_us: u64, now_us: u64) -> u64 {
        let clock = match &self.role {
            Role::Following(f) if f.node != node => now_us.min(f.heard_us + BEAT_US),
            _ => now_us,
        };
        clock.saturating_sub(heard_us)
    }

    fn state(&self, node: NodeId, p: &Peer, now_us: u64) -> NodeState {
        state_of(self.age_us(node, p.heard_us, now_us))
    }

    /// Peers whose state changed since the last tick, logged; the
    /// coordinator replaced, a seeker turned coordinator; news sent.
    pub fn tick(&mut self, now_us: u64) -> Vec<Out> {
        let mut out = Vec::new();
        self.roles(now_us, &mut out);
        let changed: Vec<(NodeId, NodeState)> = self
            .peers
            .iter()
            .filter(|(_, p)| p.admitted)
            .map(|(node, p)| (*node, self.state(*node, p, now_us)))
            .filter(|(node, s)| self.peers[node].logged != *s)
            .collect();
        for (node, state) in changed {
            let p = self.peers.get_mut(&node).expect("just found");
            p.logged = state;
            out.push(Out::Log(format!("cluster: node {node} ({}) is {}", p.name, state.word())));
            if state == NodeState::Down {
                out.push(Out::Down(node));
            }
            self.news();
        }
        self.news_out(now_us, &mut out);
        out
    }

    /// A seeker that heard nobody lower coordinates; a follower whose
    /// coordinator fell silent goes to the next one, or seeks.
    fn roles(&mut self, now_us: u64, out: &mut Vec<Out>) {
        match &self.role {
            Role::Seeking { since_us, lower_us } => {
                let quiet = |t: u64| now_us.saturating_sub(t) >= SUSPECT_US;
                if self.may_coordinate() && quiet(*since_us) && lower_us.is_none_or(quiet) {
                    out.push(Out::Log(format!(
                        "cluster: node {} coordinates the membership (none heard)",
                        self.cfg.node
                    )));
                    self.coordinate();
                }
            }
            Role::Following(f) if now_us.saturating_sub(f.heard_us) >= SUSPECT_US => {
                let (old, believed) = (f.node, f.believed);
                if !believed {
                    self.role = Role::Seeking { since_us: now_us, lower_us: None };
                    return;
                }
                let next = self
                    .peers
                    .iter()
                    .filter(|(node, p)| **node != old && p.admitted && self.state(**node, p, now_us) != NodeState::Down)
                    .map(|(node, p)| (*node, p.incarnation, p.addr))
                    .find(|(node, _, _)| *node < self.cfg.node);
                match next {
                    None => {
                        out.push(Out::Log(format!(
                            "cluster: node {old} is silent; node {} coordinates the membership",
                            self.cfg.node
                        )));
                        // Every node that was up gets a beat period to
                        // beat to us before it is suspect.
                        let clock = |p: &Peer| now_us.min(f.heard_us + BEAT_US).saturating_sub(p.heard_us);
                        let grace = now_us.saturating_sub(BEAT_US);
                        for (node, p) in self.peers.iter_mut() {
                            if *node != old && state_of(clock(p)) != NodeState::Down {
                                p.heard_us = p.heard_us.max(grace);
                            }
                        }
                        self.coordinate();
                    }
                    Some((node, incarnation, addr)) => {
                        let f = Following { node, incarnation, addr, seq: 0, heard_us: now_us, believed: false };
                        self.role = Role::Following(f);
                        out.push(Out::BeatNow);
                    }
                }
            }
            _ => {}
        }
    }

    /// Views from now on; what was sent as a follower names no view.
    fn coordinate(&mut self) {
        self.sent.clear();
        self.role = Role::Coordinating { view_seq: 0, last_view_us: 0, news: true };
    }

    /// A node refused (wrong secret, number in use) or without the
    /// secret never coordinates: its views would be nobody's.
    fn may_coordinate(&self) -> bool {
        self.cfg.secret.is_some() && !self.refused_once
    }

    /// When [`Membership::tick`] next has something to do if nothing is
    /// heard meanwhile: now for a change not told yet, else the earliest
    /// time a peer turns suspect or down, the coordinator is due to be
    /// replaced, a seeker to coordinate, or news to go out.
    pub fn next_change(&self, now_us: u64) -> Option<u64> {
        let due = |(node, p): (&NodeId, &Peer)| {
            let age = self.age_us(*node, p.heard_us, now_us);
            let at = |limit: u64| {
                let t = now_us + limit.saturating_sub(age);
                // A follower's clock for others stops a period past the
                // last view: nothing changes before the next.
                match &self.role {
                    Role::Following(f) if f.node != *node && t > f.heard_us + BEAT_US => None,
                    _ => Some(t),
                }
            };
            match state_of(age) {
                s if s != p.logged => Some(now_us),
                NodeState::Up => at(SUSPECT_US),
                NodeState::Suspect => at(DOWN_US),
                NodeState::Down => None,
            }
        };
        let peers = self.peers.iter().filter(|(_, p)| p.admitted).filter_map(due).min();
        let role = match &self.role {
            Role::Seeking { since_us, lower_us } if self.may_coordinate() => {
                Some((since_us + SUSPECT_US).max(lower_us.map_or(0, |t| t + SUSPECT_US)))
            }
            Role::Seeking { .. } => None,
            Role::Following(f) => Some(f.heard_us + SUSPECT_US),
            Role::Coordinating { last_view_us, news: true, .. } => Some(last_view_us + NEWS_GAP_US),
            Role::Coordinating { .. } => None,
        };
        [peers, role].into_iter().flatten().min()
    }

    /// A datagram from `from`.
    pub fn receive(&mut self, now_us: u64, from: [u8; 4], bytes: &[u8]) -> Vec<Out> {
        let mut out = Vec::new();
        match Message::decode(bytes) {
            Some(Message::Beat { body, mac }) => self.on_beat(now_us, from, body, mac, &mut out),
            Some(Message::View { body, mac }) => self.on_view(now_us, from, body, &mac, &mut out),
            Some(Message::Refused { from: node, to, to_incarnation, reason })
                if to == self.cfg.node && to_incarnation == self.incarnation =>
            {
                self.refused_once = true;
                let last = self.refused_us.get(&(node, reason)).copied();
                if last.is_none_or(|t| now_us.saturating_sub(t) >= REFUSE_EVERY_US) {
                    self.refused_us.insert((node, reason), now_us);
                    out.push(Out::Log(match reason {
                        Refusal::NumberInUse { by } => format!(
                            "cluster: node number {} is in use by the node at {}; this node stays out of the cluster",
                            self.cfg.node,
                            addr(by)
                        ),
                        _ => format!("cluster: node {node} at {} refused us: {reason}", addr(from)),
                    }));
                }
            }
            // Not for us, or not the protocol: nothing to say.
            Some(_) | None => {}
        }
        self.news_out(now_us, &mut out);
        out
    }

    fn on_beat(&mut self, now_us: u64, from: [u8; 4], body: &[u8], mac: Option<msg::Mac>, out: &mut Vec<Out>) {
        let Some(beat) = Beat::decode(body) else { return };
        let Some(secret) = self.cfg.secret.as_deref() else { return };
        let valid = mac.is_some_and(|m| msg::beat_mac_ok(secret, body, &m));
        if let Role::Seeking { lower_us, .. } = &mut self.role {
            // A lower node that holds the secret is to coordinate.
            if valid && beat.node < self.cfg.node {
                *lower_us = Some(now_us);
            }
        }
        // Only the coordinator judges beats.
        let Role::Coordinating { .. } = self.role else { return };
        let Some(mac) = mac else {
            return self.refuse(now_us, from, beat.node, beat.incarnation, Refusal::NoSecret, out);
        };
        if !msg::beat_mac_ok(secret, body, &mac) {
            return self.refuse(now_us, from, beat.node, beat.incarnation, Refusal::WrongSecret, out);
        }
        if beat.node == self.cfg.node {
            let by = Refusal::NumberInUse { by: self.cfg.addr };
            return self.refuse(now_us, from, beat.node, beat.incarnation, by, out);
        }
        let fresh = beat.echo.is_some_and(|e| self.echoes_us(e, now_us));
        let rejoining = match self.peers.get(&beat.node) {
            Some(p) if p.incarnation == beat.incarnation => {
                // Only a later beat of the incarnation counts.
                if beat.seq <= p.seq {
                    return;
                }
                p.rejoining
            }
            Some(p) if p.admitted && self.state(beat.node, p, now_us) != NodeState::Down => {
                let by = Refusal::NumberInUse { by: p.addr };
                return self.refuse(now_us, from, beat.node, beat.incarnation, by, out);
            }
            // Someone new, or back as a new incarnation: shown its beat
            // in the views until one of its beats echoes them.
            Some(p) => {
                let node = beat.node;
                self.peers.insert(node, pending(&beat, from, now_us, p.admitted || p.rejoining));
                self.news();
                if !fresh {
                    return;
                }
                self.peers[&node].rejoining
            }
            None => {
                self.peers.insert(beat.node, pending(&beat, from, now_us, false));
                self.news();
                if !fresh {
                    return;
                }
                false
            }
        };
        let p = self.peers.get_mut(&beat.node).expect("in the table");
        let was = state_of(now_us.saturating_sub(p.heard_us));
        p.seq = beat.seq;
        p.heard_us = now_us;
        p.stats = beat.stats;
        p.addr = from;
        p.name = beat.name.into();
        p.features = beat.features.into();
        let mut news = was != NodeState::Up;
        if beat.ends != p.ends {
            p.ends = beat.ends;
            out.push(Out::Ended(beat.node));
            news = true;
        }
        if !p.admitted && fresh {
            p.admitted = true;
            p.logged = NodeState::Up;
            let how = if rejoining { "rejoined (a new incarnation)" } else { "joined" };
            out.push(Out::Log(format!("cluster: node {} at {} {how}", beat.node, addr(from))));
            news = true;
        }
        if news {
            self.news();
        }
    }

    /// Whether `echo` names a view of ours sent within [`DOWN_US`].
    fn echoes_us(&self, echo: ViewId, now_us: u64) -> bool {
        echo.coordinator == self.cfg.node && echo.incarnation == self.incarnation && self.sent_lately(echo.seq, now_us)
    }

    fn sent_lately(&self, seq: u64, now_us: u64) -> bool {
        self.sent.iter().any(|&(s, t)| s == seq && now_us.saturating_sub(t) < DOWN_US)
    }

    fn on_view(&mut self, now_us: u64, from: [u8; 4], body: &[u8], mac: &msg::Mac, out: &mut Vec<Out>) {
        let Some(view) = View::decode(body) else { return };
        let id = view.id;
        let Some(secret) = self.cfg.secret.as_deref() else { return };
        if !msg::view_mac_ok(secret, body, mac) || id.coordinator == self.cfg.node {
            return;
        }
        // Ours to follow? The first heard, or a lower one than ours, or a
        // new one once ours is silent.
        let follow = match &self.role {
            Role::Seeking { .. } => true,
            Role::Following(f) if f.node == id.coordinator && f.incarnation == id.incarnation => {
                if id.seq <= f.seq {
                    return;
                }
                false
            }
            Role::Following(f) => id.coordinator < f.node || now_us.saturating_sub(f.heard_us) >= SUSPECT_US,
            Role::Coordinating { .. } => {
                if id.coordinator > self.cfg.node {
                    return;
                }
                out.push(Out::Log(format!(
                    "cluster: node {} coordinates the membership; node {} follows",
                    id.coordinator, self.cfg.node
                )));
                true
            }
        };
        if follow {
            if let Role::Coordinating { .. } = self.role {
                // Our views' numbers are no beats'.
                self.sent.clear();
            }
            let f = Following {
                node: id.coordinator,
                incarnation: id.incarnation,
                addr: from,
                seq: id.seq,
                heard_us: now_us,
                believed: false,
            };
            self.role = Role::Following(f);
            out.push(Out::BeatNow);
        }
        let echoed = view
            .entries
            .iter()
            .any(|e| e.node == self.cfg.node && e.incarnation == self.incarnation && self.sent_lately(e.seq, now_us));
        let Role::Following(f) = &mut self.role else { return };
        if !follow && !f.believed && !echoed {
            // Not believed yet, but heard: our beats name this view.
            f.seq = id.seq;
            f.heard_us = now_us;
            return;
        }
        f.seq = id.seq;
        f.addr = from;
        f.heard_us = now_us;
        f.believed |= echoed;
        if !f.believed {
            return;
        }
        for e in &view.entries {
            if e.node != self.cfg.node && e.admitted {
                self.learn(now_us, e, (e.node == id.coordinator).then_some(from), out);
            }
        }
    }

    /// A believed view's entry: the node joins our table, or is updated.
    fn learn(&mut self, now_us: u64, e: &Entry, coordinator_at: Option<[u8; 4]>, out: &mut Vec<Out>) {
        let addr_of = coordinator_at.unwrap_or(e.addr);
        let heard_us = if coordinator_at.is_some() { now_us } else { now_us.saturating_sub(e.age_ms as u64 * 1000) };
        match self.peers.get_mut(&e.node) {
            Some(p) if p.incarnation == e.incarnation && p.admitted => {
                p.heard_us = p.heard_us.max(heard_us);
                p.seq = p.seq.max(e.seq);
                p.stats = e.stats;
                p.addr = addr_of;
                if p.name != e.name || p.features != e.features {
                    p.name = e.name.into();
                    p.features = e.features.into();
                }
                if p.ends != e.ends {
                    p.ends = e.ends;
                    out.push(Out::Ended(e.node));
                }
            }
            old => {
                let back = old.is_some_and(|p| p.incarnation != e.incarnation && (p.admitted || p.rejoining));
                let how = if back { "rejoined (a new incarnation)" } else { "joined" };
                out.push(Out::Log(format!("cluster: node {} at {} {how}", e.node, addr(addr_of))));
                let p = Peer {
                    addr: addr_of,
                    incarnation: e.incarnation,
                    name: e.name.into(),
                    features: e.features.into(),
                    stats: e.stats,
                    seq: e.seq,
                    ends: e.ends,
                    heard_us,
                    admitted: true,
                    rejoining: false,
                    logged: NodeState::Up,
                };
                let logged = self.state(e.node, &p, now_us);
                self.peers.insert(e.node, Peer { logged, ..p });
            }
        }
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
        out.push(Out::Broadcast(m.encode()));
    }

    /// The node table: this node and every admitted one, by number.
    pub fn nodes(&self, now_us: u64, own: Stats) -> Vec<NodeLine> {
        let me = NodeLine {
            node: self.cfg.node,
            name: self.cfg.name.clone(),
            addr: Addr { ip: self.cfg.addr, port: msg::PORT },
            state: NodeState::Up,
            load: own.load,
            processes: own.processes,
            free_kib: own.free_kib,
            features: self.cfg.features.clone(),
        };
        let mut all = alloc::vec![me];
        all.extend(self.peers.iter().filter(|(_, p)| p.admitted).map(|(node, p)| NodeLine {
            node: *node,
            name: p.name.clone(),
            addr: Addr { ip: p.addr, port: msg::PORT },
            state: self.state(*node, p, now_us),
            load: p.stats.load,
            processes: p.stats.processes,
            free_kib: p.stats.free_kib,
            features: p.features.clone(),
        }));
        all.sort_by_key(|l| l.node);
        all
    }
}

/// A node the coordinator heard but has not admitted.
fn pending(beat: &Beat, from: [u8; 4], now_us: u64, rejoining: bool) -> Peer {
    Peer {
        addr: from,
        incarnation: beat.incarnation,
        name: beat.name.into(),
        features: beat.features.into(),
        stats: beat.stats,
        seq: beat.seq,
        ends: beat.ends,
        heard_us: now_us,
        admitted: false,
        rejoining,
        logged: NodeState::Up,
    }
}

fn remember(sent: &mut VecDeque<(u64, u64)>, seq: u64, now_us: u64) {
    if sent.len() == SENT_KEPT {
        sent.pop_front();
    }
    sent.push_back((seq, now_us));
}

fn state_of(age_us: u64) -> NodeState {
    match age_us {
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

    const MS: u64 = 1000;

    /// A segment of nodes: broadcasts reach every other node that is up,
    /// a datagram to an address the node there.
    struct Segment {
        nodes: Vec<Sim>,
        now: u64,
        /// Datagrams in flight: from whom, to whom (none: everyone), bytes.
        flying: VecDeque<(usize, Option<[u8; 4]>, Vec<u8>)>,
        /// Every datagram sent, as (sender, bytes): for replays.
        record: Vec<(usize, Vec<u8>)>,
    }

    struct Sim {
        m: Membership,
        addr: [u8; 4],
        up: bool,
        next_beat: u64,
        log: Vec<(u64, String)>,
        downs: Vec<NodeId>,
        ended: Vec<NodeId>,
        heard: usize,
    }

    fn config(n: u16, secret: Option<&[u8]>) -> Config {
        let addr = [10, 1, 0, n as u8];
        Config { node: NodeId(n), name: format!("n{n}"), features: String::new(), addr, secret: secret.map(Vec::from) }
    }

    impl Segment {
        fn new() -> Segment {
            Segment { nodes: Vec::new(), now: 0, flying: VecDeque::new(), record: Vec::new() }
        }

        /// Starts node `n`; its index.
        fn start(&mut self, n: u16, secret: Option<&[u8]>) -> usize {
            let seed = format!("{n} at {}", self.now);
            let m = Membership::new(config(n, secret), seed.as_bytes(), self.now);
            let sim = Sim {
                m,
                addr: [10, 1, 0, n as u8],
                up: true,
                next_beat: self.now,
                log: Vec::new(),
                downs: Vec::new(),
                ended: Vec::new(),
                heard: 0,
            };
            self.nodes.push(sim);
            self.nodes.len() - 1
        }

        fn carry(&mut self, k: usize, outs: Vec<Out>) {
            for o in outs {
                match o {
                    Out::Broadcast(b) => self.flying.push_back((k, None, b)),
                    Out::SendTo(to, b) => self.flying.push_back((k, Some(to), b)),
                    Out::BeatNow => {
                        let outs = self.nodes[k].m.beat(self.now, Stats::default());
                        self.carry(k, outs);
                    }
                    Out::Log(l) => self.nodes[k].log.push((self.now, l)),
                    Out::Down(n) => self.nodes[k].downs.push(n),
                    Out::Ended(n) => self.nodes[k].ended.push(n),
                }
            }
        }

        fn deliver(&mut self) {
            while let Some((from, to, bytes)) = self.flying.pop_front() {
                self.record.push((from, bytes.clone()));
                let src = self.nodes[from].addr;
                for k in 0..self.nodes.len() {
                    let n = &mut self.nodes[k];
                    if k == from || !n.up || to.is_some_and(|a| a != n.addr) {
                        continue;
                    }
                    n.heard += 1;
                    let outs = n.m.receive(self.now, src, &bytes);
                    self.carry(k, outs);
                }
            }
        }

        /// Runs the segment for `us`, in steps of 10 ms.
        fn run(&mut self, us: u64) {
            let end = self.now + us;
            while self.now < end {
                for k in 0..self.nodes.len() {
                    if !self.nodes[k].up {
                        continue;
                    }
                    if self.now >= self.nodes[k].next_beat {
                        self.nodes[k].next_beat = self.now + BEAT_US;
                        let outs = self.nodes[k].m.beat(self.now, Stats::default());
                        self.carry(k, outs);
                    }
                    let outs = self.nodes[k].m.tick(self.now);
                    self.carry(k, outs);
                    self.deliver();
                }
                self.now += 10 * MS;
            }
        }

        /// What node `k`'s table says: number and state.
        fn table(&self, k: usize) -> Vec<(u16, NodeState)> {
            self.nodes[k].m.nodes(self.now, Stats::default()).iter().map(|l| (l.node.0, l.state)).collect()
        }

        fn logged(&self, k: usize, line: &str) -> Option<u64> {
            self.nodes[k].log.iter().find(|(_, l)| l == line).map(|(t, _)| *t)
        }
    }

    fn all_up(nodes: impl IntoIterator<Item = u16>) -> Vec<(u16, NodeState)> {
        nodes.into_iter().map(|n| (n, NodeState::Up)).collect()
    }

    fn formed(n: u16) -> Segment {
        let mut s = Segment::new();
        for k in 1..=n {
            s.start(k, Some(b"s"));
            s.run(37 * MS);
        }
        s.run(3_000 * MS);
        s
    }

    #[test]
    fn sixteen_nodes_form_and_an_idle_node_hears_a_view_a_period() {
        let mut s = formed(16);
        for k in 0..16 {
            assert_eq!(s.table(k), all_up(1..=16), "node {}", k + 1);
            for j in (1..=16).filter(|&j| j != k + 1) {
                let joined = format!("cluster: node {j} at 10.1.0.{j} joined");
                assert!(s.logged(k, &joined).is_some(), "node {} never logged {joined}: {:?}", k + 1, s.nodes[k].log);
            }
        }
        assert_eq!(s.nodes[0].m.coordinator(), Some(NodeId(1)));
        assert!(s.nodes.iter().all(|n| n.m.coordinator() == Some(NodeId(1))));
        // Ten beat periods, idle: each follower hears the coordinator's
        // view (one datagram for 16 nodes) once a period; the coordinator
        // every follower's beat.
        for n in &mut s.nodes {
            n.heard = 0;
        }
        s.run(10 * BEAT_US);
        for n in &s.nodes[1..] {
            assert!((9..=11).contains(&n.heard), "a follower heard {} datagrams", n.heard);
        }
        assert!((135..=165).contains(&s.nodes[0].heard), "the coordinator heard {}", s.nodes[0].heard);
    }

    #[test]
    fn a_dead_node_is_down_everywhere_within_3_s_and_comes_back_as_a_new_incarnation() {
        let mut s = formed(5);
        s.nodes[3].up = false;
        let killed = s.now;
        s.run(4_000 * MS);
        for k in [0, 1, 2, 4] {
            let t = s.logged(k, "cluster: node 4 (n4) is down").unwrap_or_else(|| panic!("{:?}", s.nodes[k].log));
            assert!(t - killed <= 3_000 * MS, "node {} saw it down after {} ms", k + 1, (t - killed) / MS);
            assert_eq!(s.nodes[k].downs, [NodeId(4)], "the waits for its processes hear it");
            assert_eq!(s.table(k)[3], (4, NodeState::Down));
        }
        // Nobody else was ever taken for down.
        assert!(s.nodes.iter().all(|n| n.log.iter().filter(|(_, l)| l.ends_with("is down")).count() <= 1));
        s.start(4, Some(b"s"));
        s.run(3_000 * MS);
        for k in [0, 1, 2, 4] {
            assert!(
                s.logged(k, "cluster: node 4 at 10.1.0.4 rejoined (a new incarnation)").is_some(),
                "{:?}",
                s.nodes[k].log
            );
            assert_eq!(s.table(k), all_up(1..=5));
        }
        assert_eq!(s.table(5), all_up(1..=5), "the new one sees all");
    }

    #[test]
    fn when_the_coordinator_dies_the_next_takes_over_and_nobody_else_goes_down() {
        let mut s = formed(6);
        s.nodes[0].up = false;
        let killed = s.now;
        s.run(5_000 * MS);
        assert!(
            s.logged(1, "cluster: node 1 is silent; node 2 coordinates the membership").is_some(),
            "{:?}",
            s.nodes[1].log
        );
        for k in 1..6 {
            let t = s.logged(k, "cluster: node 1 (n1) is down").unwrap_or_else(|| panic!("{:?}", s.nodes[k].log));
            assert!(t - killed <= 3_000 * MS, "node {} saw it down after {} ms", k + 1, (t - killed) / MS);
            assert_eq!(s.nodes[k].downs, [NodeId(1)], "node {}: {:?}", k + 1, s.nodes[k].log);
            assert_eq!(s.nodes[k].m.coordinator(), Some(NodeId(2)));
            let mut want = all_up(1..=6);
            want[0].1 = NodeState::Down;
            assert_eq!(s.table(k), want);
        }
        // Back: it follows node 2 (coordinators stay while they live).
        s.start(1, Some(b"s"));
        s.run(3_000 * MS);
        assert_eq!(s.table(6), all_up(1..=6));
        assert_eq!(s.nodes[6].m.coordinator(), Some(NodeId(2)));
        assert!(s.logged(1, "cluster: node 1 at 10.1.0.1 rejoined (a new incarnation)").is_some());
    }

    #[test]
    fn two_coordinators_meet_and_the_lower_stays() {
        let mut s = formed(3);
        // Nodes 4 and 5 formed apart (a partition), then it heals.
        let mut other = Segment::new();
        other.now = s.now;
        for n in [4, 5] {
            other.start(n, Some(b"s"));
        }
        other.run(3_000 * MS);
        assert_eq!(other.nodes[0].m.coordinator(), Some(NodeId(4)));
        s.now = other.now;
        s.nodes.append(&mut other.nodes);
        s.run(4_000 * MS);
        for k in 0..5 {
            assert_eq!(s.table(k), all_up(1..=5), "node {}: {:?}", k + 1, s.nodes[k].log);
            assert_eq!(s.nodes[k].m.coordinator(), Some(NodeId(1)));
        }
        assert!(s.logged(3, "cluster: node 1 coordinates the membership; node 4 follows").is_some());
    }

    #[test]
    fn a_wrong_secret_or_none_is_refused_both_sides_say_so_and_it_stays_out() {
        for (secret, why) in [(Some(&b"wrong"[..]), "wrong secret"), (None, "no secret")] {
            let mut s = formed(2);
            let c = s.start(3, secret);
            s.run(5_000 * MS);
            assert!(s.logged(0, &format!("cluster: refused node 3 at 10.1.0.3: {why}")).is_some());
            assert!(s.logged(c, &format!("cluster: node 1 at 10.1.0.1 refused us: {why}")).is_some());
            assert_eq!(s.table(0), all_up(1..=2));
            assert_eq!(s.table(1), all_up(1..=2));
            assert_eq!(s.table(c), all_up([3]), "it believes nobody");
            assert_eq!(s.nodes[c].m.coordinator(), None, "and never coordinates");
        }
    }

    #[test]
    fn a_second_node_with_a_number_in_use_stays_out_until_the_first_is_down() {
        let mut s = formed(3);
        let dup = s.start(2, Some(b"s"));
        s.run(3_000 * MS);
        assert!(s.logged(0, "cluster: refused node 2 at 10.1.0.2: node number in use").is_some());
        let line = "cluster: node number 2 is in use by the node at 10.1.0.2; this node stays out of the cluster";
        assert!(s.logged(dup, line).is_some(), "{:?}", s.nodes[dup].log);
        for k in 0..3 {
            assert_eq!(s.table(k), all_up(1..=3));
        }
        assert_eq!(s.nodes[dup].m.coordinator(), None);
        // The first goes: the second is let in, as a new incarnation.
        s.nodes[1].up = false;
        s.run(6_000 * MS);
        assert!(s.logged(0, "cluster: node 2 at 10.1.0.2 rejoined (a new incarnation)").is_some());
        assert_eq!(s.table(dup), all_up(1..=3));
    }

    #[test]
    fn an_ended_process_is_told_to_every_node_at_once() {
        let mut s = formed(3);
        s.nodes[2].m.watched_ended();
        let outs = s.nodes[2].m.beat(s.now, Stats::default());
        s.carry(2, outs);
        s.deliver();
        assert_eq!(s.nodes[0].ended, [NodeId(3)], "the coordinator hears the beat");
        assert_eq!(s.nodes[1].ended, [NodeId(3)], "a follower its view, at once");
        s.run(3_000 * MS);
        assert_eq!(s.nodes[1].ended, [NodeId(3)], "told once");
        // The coordinator's own: in its next view.
        s.nodes[0].m.watched_ended();
        s.run(200 * MS);
        assert_eq!(s.nodes[1].ended, [NodeId(3), NodeId(1)]);
    }

    #[test]
    fn replayed_datagrams_bring_back_nobody() {
        let mut s = formed(3);
        s.nodes[2].up = false;
        s.run(4_000 * MS);
        assert_eq!(s.table(1)[2], (3, NodeState::Down));
        // Everything node 3 and node 1 ever sent, again.
        let old: Vec<(usize, Vec<u8>)> = s.record.iter().filter(|(k, _)| *k != 1).cloned().collect();
        for (k, bytes) in old {
            let from = s.nodes[k].addr;
            for j in [0, 1] {
                let outs = s.nodes[j].m.receive(s.now, from, &bytes);
                assert!(!outs.iter().any(|o| matches!(o, Out::Log(l) if l.contains("joined"))), "{outs:?}");
            }
        }
        s.run(100 * MS);
        assert_eq!(s.table(0)[2], (3, NodeState::Down));
        assert_eq!(s.table(1)[2], (3, NodeState::Down));
    }

    #[test]
    fn junk_changes_nothing() {
        let mut s = formed(2);
        for junk in [&[][..], &[0], &[1, 2, 3], &[0xff; 40], &[2; 300]] {
            for k in 0..2 {
                let outs = s.nodes[k].m.receive(s.now, [10, 1, 0, 9], junk);
                assert!(outs.is_empty(), "{outs:?}");
            }
        }
        assert_eq!(s.table(0), all_up(1..=2));
        assert_eq!(s.table(1), all_up(1..=2));
    }
}

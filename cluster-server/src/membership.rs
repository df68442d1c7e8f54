//! Who is in the cluster: the node table and the membership protocol
//! ([`crate::msg`]) as a state machine, fed datagrams and the time, giving
//! datagrams to send and lines to log. No I/O here (the program does it),
//! so every rule is tested on the host.
//!
//! One node, the **coordinator**, hears every node's beat and broadcasts
//! the table (a view); every other node (a follower) sends its beat to the
//! coordinator alone, in answer to each period's view (so the coordinator
//! takes them together), and learns the others from the views. So an idle
//! node wakes about twice a beat period whatever the cluster's size
//! (everyone beating to everyone cost each node a wake-up per node), and
//! a node joins with two datagrams, not a challenge and proof per pair.
//!
//! - A node that knows no coordinator **seeks**: it broadcasts its beats,
//!   at most one a period (a new node first when it has listened a period
//!   and a news gap), but none while it hears a coordinator's views: it
//!   answers those, to the coordinator alone, so that joining a running
//!   cluster broadcasts nothing. If none speaks for [`SUSPECT_US`] and no
//!   lower node holding the secret was heard, it coordinates.
//! - A node goes over to a coordinator only on a view that echoes one of
//!   its beats of the last [`DOWN_US`] (to a coordinator it does not
//!   follow it sends a beat first); after that it believes only that
//!   coordinator's views, with growing numbers. So a recorded view moves
//!   nobody (replayed to a seeker, it only holds back its broadcasts and
//!   its coordinating while it answers the view to its sender, as a live
//!   coordinator's would). Of two coordinators, the higher yields (its
//!   followers too) once the lower's view echoes it.
//! - The coordinator admits a node whose beat (with a valid MAC) echoes
//!   one of its views of the last [`DOWN_US`]; until then the node is
//!   shown in the views (not admitted) so that it can see its beat echoed.
//! - The coordinator marks a node not heard for [`SUSPECT_US`] `suspect`,
//!   for [`DOWN_US`] `down`, and says so in a view at once (down) or at
//!   the next (suspect); followers take the states as the views give them
//!   and hold them while no coordinator speaks (`HOLD_US`), so a silent
//!   coordinator (even with its successor) makes nobody else look down.
//! - A coordinator silent for [`SUSPECT_US`] is replaced by the lowest
//!   numbered node up in its last view: that node coordinates (giving
//!   every node a beat period's grace to beat to it), the others beat to
//!   it, and seek again if it does not take over.
//! - Refused by the coordinator, and logged on both sides: a node with no
//!   secret, with the wrong one, or with a number a node that is up holds
//!   (it may join once that node is down). Refusals are not
//!   authenticated: they only make a log line.

use crate::msg::{self, Beat, Entry, Incarnation, MacKey, Message, Refusal, Signed, Stats, View, ViewId};
use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use libux::cluster::roles::{COORDINATES, FOLLOWS};
use libux::cluster::Nonces;
use libux::cluster::{NodeId, NodeLine, NodeState};
use libux::net::Addr;

/// How often a node beats (and the coordinator sends its view), in
/// microseconds. Everything an idle node does for the membership comes
/// once a period, so this sets its cost: at 750 ms the coordinator of 64
/// idle nodes took 1.5-1.8 % of a host core and its followers 0.7-0.8 %,
/// at a second 1.1-1.4 % and 0.5-0.6 % (the same host, one after the
/// other). Longer would not leave `DOWN_US` a missed beat's margin.
pub const BEAT_US: u64 = 1_000_000;
/// Not heard for this long: suspect (a beat missed); a coordinator
/// silent this long is replaced, a seeker that heard none coordinates.
pub const SUSPECT_US: u64 = 2_000_000;
/// Not heard for this long: down (two beats in a row missed: one alone
/// makes a node suspect); within the 3 s the cluster promises, as the
/// beater wakes when a state is due to change
/// ([`Membership::next_change`]) and the listener ticks at every view.
pub const DOWN_US: u64 = 2_500_000;
/// While no coordinator speaks, a follower holds the others' entries as
/// the last view had them for this long (a period past it, then this
/// long), so that a coordinator's death, and even its successor's, does
/// not make every node look down before a new one speaks.
const HOLD_US: u64 = 5_000_000;
/// News (a node joined, turned, or says a process ended) goes out in a
/// view of the entries that changed at once, but at most this often: a
/// burst of news is one view.
const NEWS_GAP_US: u64 = 100_000;
/// A gap longer than this between two times the program gives us (the
/// beater wakes every period at least) means the host held this
/// machine: see [`Membership::resumed`].
const HELD_US: u64 = 2 * BEAT_US;
/// A follower beats in answer to each period's view, so that the
/// coordinator takes the beats of a period together, in a few wake-ups
/// (one datagram at a time, each woke it: the interrupt, the switches and
/// the host's thread wake-ups cost it 0.7 ms a beat, against 0.11 ms in
/// bursts). Without a view it beats on its own this long after its last
/// beat: little past a period, so that a view lost or late leaves the
/// coordinator almost the margin it had before to `SUSPECT_US`.
const OWN_BEAT_US: u64 = BEAT_US + BEAT_US / 10;
/// A new node listens this long before it broadcasts its first beat: in a
/// running cluster it hears the coordinator's view first (one comes every
/// period) and beats to the coordinator alone, sparing every node of the
/// segment a broadcast to take in. Half a period was too short while 64
/// nodes formed: a node whose half period passed between two views
/// broadcast, and went on broadcasting every period until admitted.
const LISTEN_US: u64 = BEAT_US + NEWS_GAP_US;
/// Beats and views sent that an echo may name (at most; older than
/// [`DOWN_US`] they count no more).
const SENT_KEPT: usize = 64;
/// The same refusal is sent and logged at most this often.
const REFUSE_EVERY_US: u64 = 5_000_000;
/// Refusals remembered (sent, and of us): beyond, new ones are dropped
/// unsaid, so a flood of forged beats grows no table and no broadcast.
const REFUSALS_KEPT: usize = 64;
/// Nodes heard but not admitted that the coordinator keeps at once.
const PENDING_MAX: usize = 256;
/// Bytes of entries in one view datagram (room for the header and MAC).
const VIEW_ENTRIES_MAX: usize = msg::DATAGRAM_MAX - 100;

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
    Log(String),
    /// A node turned down (or a new incarnation replaced it).
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
    /// When a view last carried it. A follower ages it from there while
    /// views come (by a period at most: a view's first page comes a
    /// period after the page that last carried a node in a later one).
    viewed_us: u64,
    /// The state last logged (a change is logged once).
    logged: NodeState,
    /// Its last beat said it leaves (or a view said it left).
    left: bool,
}

/// What a coordinator has to tell before its next view of the whole
/// table. A view sent for news carries only the entries that changed
/// (and its own): 64 nodes joining one by one made two views each of
/// four pages for every node, and each page costs each node a wake-up.
#[derive(Debug, PartialEq, Eq)]
enum News {
    Quiet,
    Of(BTreeSet<NodeId>),
    /// Everything (a new coordinator's first view).
    All,
}

/// The coordinator this node follows: one of its views echoed a fresh
/// beat of ours.
struct Following {
    node: NodeId,
    incarnation: Incarnation,
    addr: [u8; 4],
    /// Its latest view's number (the echo of our beats).
    seq: u64,
    /// When a view of it last came.
    heard_us: u64,
}

enum Role {
    /// No coordinator followed. Beats go to `toward` (the next
    /// coordinator, while it takes over) or to everyone. `lower_us`: when
    /// a coordinator's view, or a lower node's beat, was last heard (then
    /// another is to coordinate, not us). `viewed_us`: when a
    /// coordinator's view last came: each is answered to it (`on_view`),
    /// so our own beats go to nobody while views come. (While 64 nodes
    /// formed, the coordinator, with a core's thirtieth, took seconds to
    /// admit a node; each seeker broadcast meanwhile, 200 broadcasts in
    /// all, each a wake-up of every node, which the coordinator's
    /// backlog grew with.)
    Seeking {
        since_us: u64,
        lower_us: Option<u64>,
        toward: Option<[u8; 4]>,
        viewed_us: Option<u64>,
    },
    Following(Following),
    /// `news`: what to tell before the next beat period.
    Coordinating {
        last_view_us: u64,
        news: News,
    },
    /// Out of the cluster (`leave`): nothing sent, nothing heard, until
    /// `join`.
    Left,
}

pub struct Membership {
    cfg: Config,
    /// The secret as an HMAC key, made once (none without a secret).
    key: Option<MacKey>,
    /// Where incarnations come from (a node that joins again is a new one).
    nonces: Nonces,
    incarnation: Incarnation,
    seq: u64,
    /// Our views' numbers, for this incarnation (however often we
    /// coordinate in it).
    view_seq: u64,
    /// Our processes that another node waits for, ended (`Beat::ends`).
    ends: u64,
    /// How we stand, as of the last beat.
    own: Stats,
    role: Role,
    /// Admitted nodes (down ones too: a new incarnation replaces them).
    peers: BTreeMap<NodeId, Peer>,
    /// The coordinator's: nodes heard, shown their beat in the views
    /// until one echoes a view.
    pending: BTreeMap<NodeId, Peer>,
    /// When the last view we follow came: others' entries are held past
    /// it (`HOLD_US`); none while we coordinate or never followed.
    last_view_us: Option<u64>,
    /// The coordinator that fell silent: its entry ages (it is the one
    /// that may be dead).
    silent: Option<NodeId>,
    /// Our beats and our views lately sent: number and time.
    beats_sent: VecDeque<(u64, u64)>,
    views_sent: VecDeque<(u64, u64)>,
    /// When we last sent a beat to a coordinator we do not follow.
    probed_us: Option<u64>,
    /// Last refusal sent to each (node, incarnation), and when.
    refused: BTreeMap<(NodeId, Incarnation), u64>,
    /// Refusals of us logged, and when.
    refused_us: BTreeMap<(NodeId, Refusal), u64>,
    /// The latest time the program gave us (a beat, a tick, a datagram).
    seen_us: u64,
    /// How long the host held us, in all (`resumed`): every time we keep
    /// is on our own clock, the program's less this, so that a hold moves
    /// none of them on.
    held_us: u64,
    /// A seeker broadcasts no beat before this (`LISTEN_US`).
    listen_until_us: u64,
    /// When we last sent a beat.
    beat_sent_us: u64,
}

impl Membership {
    /// `seed`: the boot's unpredictable bytes; `now_us`: the clock now.
    pub fn new(cfg: Config, seed: &[u8], now_us: u64) -> Membership {
        Membership::fresh(cfg, Nonces::new(seed), now_us)
    }

    /// A new incarnation of the node, seeking, knowing nobody.
    fn fresh(cfg: Config, mut nonces: Nonces, now_us: u64) -> Membership {
        let incarnation = new_incarnation(&mut nonces);
        Membership {
            key: cfg.secret.as_deref().map(MacKey::new),
            cfg,
            nonces,
            incarnation,
            seq: 0,
            view_seq: 0,
            ends: 0,
            own: Stats::default(),
            role: Role::Seeking { since_us: now_us, lower_us: None, toward: None, viewed_us: None },
            peers: BTreeMap::new(),
            pending: BTreeMap::new(),
            last_view_us: None,
            silent: None,
            beats_sent: VecDeque::new(),
            views_sent: VecDeque::new(),
            probed_us: None,
            refused: BTreeMap::new(),
            seen_us: now_us,
            held_us: 0,
            refused_us: BTreeMap::new(),
            listen_until_us: now_us + LISTEN_US,
            beat_sent_us: 0,
        }
    }

    pub fn node(&self) -> NodeId {
        self.cfg.node
    }

    /// The coordinator, if known (ourselves included).
    pub fn coordinator(&self) -> Option<NodeId> {
        match &self.role {
            Role::Seeking { .. } => None,
            Role::Following(f) => Some(f.node),
            Role::Coordinating { .. } => Some(self.cfg.node),
            Role::Left => None,
        }
    }

    /// This node goes out of the cluster: its last beat, marked leaving,
    /// goes to the coordinator (which tells the others in a view at
    /// once), or to everyone while it seeks or coordinates (followers of
    /// a coordinator that leaves turn to the next at once). Every other
    /// node is down to it from now on. `None` if it is out already.
    pub fn leave(&mut self, now_us: u64) -> Option<Vec<Out>> {
        let now_us = self.resumed(now_us);
        let to = match &self.role {
            Role::Left => return None,
            Role::Following(f) => {
                Some((f.addr, ViewId { coordinator: f.node, incarnation: f.incarnation, seq: f.seq }))
            }
            Role::Seeking { .. } | Role::Coordinating { .. } => None,
        };
        self.role = Role::Left;
        let bytes = self.beat_bytes(now_us, to.map(|t| t.1));
        let mut out = alloc::vec![match to {
            Some((addr, _)) => Out::SendTo(addr, bytes),
            None => Out::Broadcast(bytes),
        }];
        out.push(Out::Log(format!("cluster: node {} left the cluster", self.cfg.node)));
        for (node, p) in self.peers.iter_mut() {
            if !p.logged.is_down() {
                p.logged = NodeState::Down;
                out.push(Out::Down(*node));
            }
        }
        self.pending.clear();
        Some(out)
    }

    /// This node, which left, comes back as a new incarnation (the others
    /// tell it from the one that left, whose processes they lost): it
    /// seeks the coordinator afresh. `None` if it did not leave.
    pub fn join(&mut self, now_us: u64) -> Option<Vec<Out>> {
        let Role::Left = self.role else { return None };
        let nonces = core::mem::replace(&mut self.nonces, Nonces::new(&[]));
        let own = self.own;
        // A new incarnation starts its own clock, held nowhere yet.
        *self = Membership { own, ..Membership::fresh(self.cfg.clone(), nonces, now_us) };
        let mut out = alloc::vec![Out::Log(format!("cluster: node {} joins the cluster again", self.cfg.node))];
        out.extend(self.beat_at(now_us, self.own));
        Some(out)
    }

    /// One of our processes that another node waits for ended: the next
    /// beat says so (send one at once).
    pub fn watched_ended(&mut self) {
        self.ends += 1;
        self.news(self.cfg.node);
    }

    /// What to send now, every [`BEAT_US`]: our beat, to the coordinator
    /// or to everyone; the coordinator's view. A follower that answered a
    /// view lately sends nothing (see [`OWN_BEAT_US`]), nor does a seeker
    /// that hears a coordinator's views (it answers them) or that beat
    /// less than a period ago.
    pub fn beat(&mut self, now_us: u64, stats: Stats) -> Vec<Out> {
        let now_us = self.resumed(now_us);
        // A follower that answered a view lately, and a seeker that beat
        // less than a period ago (its first beat goes out when it has
        // listened, off the beater's cadence), send nothing.
        let lately = match self.role {
            Role::Following(_) => OWN_BEAT_US,
            Role::Seeking { toward: None, .. } => BEAT_US,
            _ => 0,
        };
        if now_us.saturating_sub(self.beat_sent_us) < lately {
            self.own = stats;
            return Vec::new();
        }
        self.beat_at(now_us, stats)
    }

    /// Our beat now, whenever the last went (news of ours: a watched
    /// process ended, we drain).
    pub fn beat_now(&mut self, now_us: u64, stats: Stats) -> Vec<Out> {
        let now_us = self.resumed(now_us);
        self.beat_at(now_us, stats)
    }

    /// When a follower beats on its own if no view comes first, and when
    /// a new seeker that heard no view broadcasts its first beat (as soon
    /// as it has listened, not at the beater's next period: the nodes
    /// started with it must hear it before they may coordinate, at
    /// [`SUSPECT_US`]); on the program's clock, as `now_us`. None for the
    /// others, who beat every period.
    pub fn beat_due(&self) -> Option<u64> {
        match self.role {
            Role::Following(_) => Some(self.beat_sent_us + OWN_BEAT_US + self.held_us),
            Role::Seeking { toward: None, viewed_us: None, .. } if self.beat_sent_us < self.listen_until_us => {
                Some(self.listen_until_us + self.held_us)
            }
            _ => None,
        }
    }

    /// [`Membership::beat`] at `now_us` on our own clock.
    fn beat_at(&mut self, now_us: u64, stats: Stats) -> Vec<Out> {
        self.own = stats;
        if let Role::Coordinating { news, .. } = &mut self.role {
            // Every period, the whole table.
            *news = News::All;
            return self.views(now_us);
        }
        let (to, echo) = match &self.role {
            Role::Following(f) => {
                (Some(f.addr), Some(ViewId { coordinator: f.node, incarnation: f.incarnation, seq: f.seq }))
            }
            Role::Seeking { toward: None, .. } if now_us < self.listen_until_us => return Vec::new(),
            Role::Seeking { toward: None, viewed_us: Some(t), .. } if now_us.saturating_sub(*t) < SUSPECT_US => {
                return Vec::new()
            }
            Role::Seeking { toward, .. } => (*toward, None),
            Role::Coordinating { .. } | Role::Left => return Vec::new(),
        };
        let bytes = self.beat_bytes(now_us, echo);
        alloc::vec![match to {
            Some(addr) => Out::SendTo(addr, bytes),
            None => Out::Broadcast(bytes),
        }]
    }

    /// A new beat of ours, remembered for the echoes.
    fn beat_bytes(&mut self, now_us: u64, echo: Option<ViewId>) -> Vec<u8> {
        self.seq += 1;
        let beat = Beat {
            node: self.cfg.node,
            incarnation: self.incarnation,
            seq: self.seq,
            name: &self.cfg.name,
            features: &self.cfg.features,
            stats: self.own,
            ends: self.ends,
            echo,
            leaving: matches!(self.role, Role::Left),
        };
        let body = beat.encode();
        let mac = self.key.as_ref().map(|k| k.mac(Signed::Beat, &body));
        remember(&mut self.beats_sent, self.seq, now_us);
        self.beat_sent_us = now_us;
        Message::Beat { body: &body, mac }.encode()
    }

    /// The coordinator's table as its news has it (all of it, or what
    /// changed, with its own entry), in as many datagrams as it takes.
    fn views(&mut self, now_us: u64) -> Vec<Out> {
        let Some(key) = self.key.clone() else { return Vec::new() };
        let Role::Coordinating { news, .. } = &mut self.role else { return Vec::new() };
        let news = core::mem::replace(news, News::Quiet);
        let told = |node: &NodeId| match &news {
            News::All => true,
            News::Of(nodes) => nodes.contains(node),
            News::Quiet => false,
        };
        let whole = news == News::All;
        let out = self.pages(now_us, &key, told, None, whole).into_iter().map(Out::Broadcast).collect();
        if let Role::Coordinating { last_view_us, .. } = &mut self.role {
            *last_view_us = now_us;
        }
        out
    }

    /// The entries of the nodes `told` picks (ours always, then `first`'s:
    /// a node not yet following believes only a page that has its own), as
    /// signed view datagrams of a page each.
    fn pages(
        &mut self,
        now_us: u64,
        key: &MacKey,
        told: impl Fn(&NodeId) -> bool,
        first: Option<NodeId>,
        whole: bool,
    ) -> Vec<Vec<u8>> {
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
            left: false,
        };
        fn entry<'p>(node: &NodeId, p: &'p Peer, admitted: bool, now_us: u64) -> Entry<'p> {
            Entry {
                node: *node,
                incarnation: p.incarnation,
                addr: p.addr,
                seq: p.seq,
                age_ms: (now_us.saturating_sub(p.heard_us) / 1000).min(u32::MAX as u64) as u32,
                admitted,
                name: &p.name,
                features: &p.features,
                stats: p.stats,
                ends: p.ends,
                left: p.left,
            }
        }
        let told = |n: &NodeId| told(n) && Some(*n) != first;
        let head = first.and_then(|n| self.peers.get_key_value(&n)).map(|(n, p)| entry(n, p, true, now_us));
        let admitted = self.peers.iter().filter(|(n, _)| told(n)).map(|(n, p)| entry(n, p, true, now_us));
        let pending = self.pending.iter().filter(|(n, _)| told(n)).map(|(n, p)| entry(n, p, false, now_us));
        let mut pages: Vec<Vec<Entry>> = alloc::vec![Vec::new()];
        let mut bytes = 0;
        for e in core::iter::once(me).chain(head).chain(admitted).chain(pending) {
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
            self.view_seq += 1;
            let id = ViewId { coordinator: self.cfg.node, incarnation: self.incarnation, seq: self.view_seq };
            let body = View { id, whole, entries }.encode();
            let mac = key.mac(Signed::View, &body);
            out.push(Message::View { body: &body, mac }.encode());
            remember(&mut self.views_sent, self.view_seq, now_us);
        }
        out
    }

    /// A view now if there is news and the last one is not too recent.
    fn news_out(&mut self, now_us: u64, out: &mut Vec<Out>) {
        if let Role::Coordinating { last_view_us, news } = &self.role {
            if *news != News::Quiet && now_us.saturating_sub(*last_view_us) >= NEWS_GAP_US {
                out.extend(self.views(now_us));
            }
        }
    }

    /// `node`'s entry changed: a view to tell it goes out soon.
    fn news(&mut self, node: NodeId) {
        if let Role::Coordinating { news, .. } = &mut self.role {
            match news {
                News::Quiet => *news = News::Of(BTreeSet::from([node])),
                News::Of(nodes) => {
                    nodes.insert(node);
                }
                News::All => {}
            }
        }
    }

    /// The clock `node`'s entry ages by: ours for our own judgements (as
    /// coordinator, and of the coordinator we follow); a follower takes
    /// the others' states as the last view gave them (their ages there
    /// are up to a beat period old already: aging them again between
    /// views would make every node look suspect before each view), and
    /// holds them while no coordinator speaks, for `HOLD_US` past the
    /// next view's due time; then they age again, should the follower be
    /// the one cut off.
    fn clock_for(&self, node: NodeId, p: &Peer, now_us: u64) -> u64 {
        let Some(last) = self.last_view_us else { return now_us };
        match &self.role {
            Role::Coordinating { .. } => now_us,
            Role::Following(f) if f.node == node => now_us,
            _ if self.silent == Some(node) => now_us,
            _ => {
                let carried = p.viewed_us.clamp(last.saturating_sub(BEAT_US), last);
                carried + now_us.saturating_sub(last + BEAT_US + HOLD_US)
            }
        }
    }

    fn state(&self, node: NodeId, p: &Peer, now_us: u64) -> NodeState {
        if let Role::Left = self.role {
            return NodeState::Down;
        }
        if p.left {
            return NodeState::Left;
        }
        state_of(self.clock_for(node, p, now_us).saturating_sub(p.heard_us))
    }

    /// Peers whose state changed since the last tick, logged; the
    /// coordinator replaced, a seeker turned coordinator; news sent.
    pub fn tick(&mut self, now_us: u64) -> Vec<Out> {
        let now_us = self.resumed(now_us);
        let mut out = Vec::new();
        // Out of the cluster, nothing changes: every other node is down.
        if let Role::Left = self.role {
            return out;
        }
        self.changes(now_us, &mut out);
        out
    }

    /// [`Membership::tick`] at `now_us` on our own clock.
    fn changes(&mut self, now_us: u64, out: &mut Vec<Out>) {
        self.roles(now_us, out);
        let changed: Vec<(NodeId, NodeState)> = self
            .peers
            .iter()
            .map(|(node, p)| (*node, self.state(*node, p, now_us)))
            .filter(|(node, s)| self.peers[node].logged != *s)
            .collect();
        for (node, state) in changed {
            let p = self.peers.get_mut(&node).expect("just found");
            let was_down = p.logged.is_down();
            p.logged = state;
            out.push(Out::Log(match state {
                NodeState::Left => format!("cluster: node {node} ({}) left the cluster", p.name),
                _ => format!("cluster: node {node} ({}) is {}", p.name, state.word()),
            }));
            if state.is_down() && !was_down {
                out.push(Out::Down(node));
                self.news(node);
            }
        }
        self.news_out(now_us, out);
    }

    /// A seeker that heard nobody lower coordinates; a follower whose
    /// coordinator fell silent turns to the next one, or coordinates.
    fn roles(&mut self, now_us: u64, out: &mut Vec<Out>) {
        let quiet = |t: u64| now_us.saturating_sub(t) >= SUSPECT_US;
        match &mut self.role {
            Role::Seeking { since_us, toward, .. } if toward.is_some() && quiet(*since_us) => {
                // The next coordinator did not take over: everyone.
                *toward = None;
                *since_us = now_us;
            }
            Role::Seeking { since_us, lower_us, toward: None, .. }
                if self.cfg.secret.is_some() && quiet(*since_us) && lower_us.is_none_or(quiet) =>
            {
                out.push(Out::Log(format!("cluster: node {}{COORDINATES} (none heard)", self.cfg.node)));
                self.coordinate(now_us);
            }
            Role::Following(f) if quiet(f.heard_us) => {
                let old = f.node;
                self.silent = Some(old);
                let next = self
                    .peers
                    .iter()
                    .filter(|(node, p)| **node != old && !self.state(**node, p, now_us).is_down())
                    .map(|(node, p)| (*node, p.addr))
                    .find(|(node, _)| *node < self.cfg.node);
                match next {
                    None => {
                        let how = if self.peers.get(&old).is_some_and(|p| p.left) { "left" } else { "is silent" };
                        out.push(Out::Log(format!("cluster: node {old} {how}; node {}{COORDINATES}", self.cfg.node)));
                        self.coordinate(now_us);
                    }
                    Some((_, addr)) => {
                        self.role =
                            Role::Seeking { since_us: now_us, lower_us: None, toward: Some(addr), viewed_us: None };
                        out.extend(self.beat_at(now_us, self.own));
                    }
                }
            }
            _ => {}
        }
    }

    /// We coordinate from now on. Every node that was up, as we held it
    /// (the silent coordinator aside), gets a beat period to beat to us
    /// before it may turn suspect.
    fn coordinate(&mut self, now_us: u64) {
        let grace = now_us.saturating_sub(BEAT_US);
        let held: Vec<(NodeId, u64)> = self
            .peers
            .iter()
            .filter(|(node, p)| Some(**node) != self.silent && !self.state(**node, p, now_us).is_down())
            .map(|(node, p)| (*node, p.heard_us.max(grace)))
            .collect();
        for (node, heard) in held {
            self.peers.get_mut(&node).expect("just found").heard_us = heard;
        }
        self.last_view_us = None;
        self.role = Role::Coordinating { last_view_us: 0, news: News::All };
    }

    /// When [`Membership::tick`] next has something to do if nothing is
    /// heard meanwhile: now for a change not told yet, else the earliest
    /// time a peer turns suspect or down, the coordinator is due to be
    /// replaced, a seeker to coordinate, or news to go out (on the
    /// program's clock, as `now_us`).
    pub fn next_change(&self, now_us: u64) -> Option<u64> {
        self.next_change_at(self.own_clock(now_us)).map(|t| t + self.held_us)
    }

    /// [`Membership::next_change`] on our own clock.
    fn next_change_at(&self, now_us: u64) -> Option<u64> {
        if let Role::Left = self.role {
            return None;
        }
        let due = |(node, p): (&NodeId, &Peer)| {
            if p.left {
                return (p.logged != NodeState::Left).then_some(now_us);
            }
            let clock = self.clock_for(*node, p, now_us);
            let age = clock.saturating_sub(p.heard_us);
            // A held clock stands still: look again when it moves (a view
            // meanwhile ticks the listener).
            let at = |limit: u64| {
                if clock == now_us {
                    Some(now_us + limit.saturating_sub(age))
                } else {
                    self.last_view_us.map(|l| (l + BEAT_US + HOLD_US).max(now_us + 1))
                }
            };
            match state_of(age) {
                s if s != p.logged => Some(now_us),
                NodeState::Up | NodeState::Draining => at(SUSPECT_US),
                NodeState::Suspect => at(DOWN_US),
                NodeState::Down | NodeState::Left => None,
            }
        };
        let peers = self.peers.iter().filter_map(due).min();
        let role = match &self.role {
            Role::Seeking { since_us, toward: Some(_), .. } => Some(since_us + SUSPECT_US),
            Role::Seeking { since_us, lower_us, toward: None, .. } if self.cfg.secret.is_some() => {
                Some((since_us + SUSPECT_US).max(lower_us.map_or(0, |t| t + SUSPECT_US)))
            }
            Role::Seeking { .. } => None,
            Role::Following(f) => Some(f.heard_us + SUSPECT_US),
            Role::Coordinating { last_view_us, news } if *news != News::Quiet => Some(last_view_us + NEWS_GAP_US),
            Role::Coordinating { .. } | Role::Left => None,
        };
        [peers, role].into_iter().flatten().min()
    }

    /// A datagram from `from`, and what it changed (as [`Membership::tick`]
    /// tells it).
    pub fn receive(&mut self, now_us: u64, from: [u8; 4], bytes: &[u8]) -> Vec<Out> {
        let now_us = self.resumed(now_us);
        let mut out = Vec::new();
        if let Role::Left = self.role {
            return out;
        }
        let changed = match Message::decode(bytes) {
            Some(Message::Beat { body, mac }) => self.on_beat(now_us, from, body, mac, &mut out),
            Some(Message::View { body, mac }) => {
                self.on_view(now_us, from, body, &mac, &mut out);
                true
            }
            Some(Message::Refused { from: node, to, to_incarnation, reason })
                if to == self.cfg.node && to_incarnation == self.incarnation =>
            {
                if remembered(&mut self.refused_us, (node, reason), now_us) {
                    out.push(Out::Log(match reason {
                        Refusal::NumberInUse { by } => format!(
                            "cluster: node number {} is in use by the node at {}; this node stays out of the cluster",
                            self.cfg.node,
                            addr(by)
                        ),
                        _ => format!("cluster: node {node} at {} refused us: {reason}", addr(from)),
                    }));
                }
                false
            }
            // Not for us, or not the protocol: nothing to say.
            Some(_) | None => false,
        };
        // What it changed (a view's states, a node back) is told now, not
        // at the beater's next wake; a routine beat changes nothing, and
        // looking at every node after each of a period's beats cost the
        // coordinator of 64 a walk of 64 nodes 63 times a period.
        if changed {
            self.changes(now_us, &mut out);
        } else {
            self.news_out(now_us, &mut out);
        }
        out
    }

    /// Whether the beat may change what [`Membership::tick`] reports
    /// (a node back up, leaving, admitted): a routine one, the
    /// coordinator's lot 63 times a period at 64 nodes, does not.
    fn on_beat(&mut self, now_us: u64, from: [u8; 4], body: &[u8], mac: Option<msg::Mac>, out: &mut Vec<Out>) -> bool {
        let Some(beat) = Beat::decode(body) else { return false };
        // Our own, broadcast while we sought and looped back by the
        // segment after we began to coordinate: no news (it was refused
        // as a second node with our number, and we heard that refusal).
        if beat.node == self.cfg.node && beat.incarnation == self.incarnation {
            return false;
        }
        let Some(key) = self.key.as_ref() else { return false };
        let valid = mac.is_some_and(|m| key.holds(Signed::Beat, body, &m));
        if valid && beat.leaving {
            self.on_leaving(now_us, &beat);
            return true;
        }
        if let Role::Seeking { lower_us, .. } = &mut self.role {
            // A lower node that holds the secret is to coordinate.
            if valid && beat.node < self.cfg.node {
                *lower_us = Some(now_us);
            }
        }
        // Only the coordinator judges beats.
        let Role::Coordinating { .. } = self.role else { return false };
        if mac.is_none() {
            self.refuse(now_us, from, beat.node, beat.incarnation, Refusal::NoSecret, out);
            return false;
        }
        if !valid {
            self.refuse(now_us, from, beat.node, beat.incarnation, Refusal::WrongSecret, out);
            return false;
        }
        if beat.node == self.cfg.node {
            let by = Refusal::NumberInUse { by: self.cfg.addr };
            self.refuse(now_us, from, beat.node, beat.incarnation, by, out);
            return false;
        }
        if let Some(p) = self.peers.get_mut(&beat.node).filter(|p| p.incarnation == beat.incarnation) {
            // Only a later beat of the incarnation counts.
            if beat.seq <= p.seq {
                return false;
            }
            let was = state_of(now_us.saturating_sub(p.heard_us));
            update(p, &beat, from, now_us);
            let ended = beat.ends != p.ends;
            if ended {
                p.ends = beat.ends;
                out.push(Out::Ended(beat.node));
                self.news(beat.node);
            }
            if was != NodeState::Up {
                self.news(beat.node);
            }
            return ended || was != NodeState::Up;
        }
        if let Some(p) = self.peers.get(&beat.node) {
            if !self.state(beat.node, p, now_us).is_down() {
                let by = Refusal::NumberInUse { by: p.addr };
                self.refuse(now_us, from, beat.node, beat.incarnation, by, out);
                return false;
            }
        }
        // Someone new, or back as a new incarnation: shown its beat in the
        // views until one of its beats echoes one of them.
        let fresh = beat.echo.is_some_and(|e| {
            e.coordinator == self.cfg.node
                && e.incarnation == self.incarnation
                && lately(&self.views_sent, e.seq, now_us)
        });
        match self.pending.get(&beat.node) {
            Some(p) if p.incarnation == beat.incarnation && beat.seq <= p.seq => return false,
            None if self.pending.len() >= PENDING_MAX => return false,
            _ => {}
        }
        let mut p = Peer {
            addr: from,
            incarnation: beat.incarnation,
            name: String::new(),
            features: String::new(),
            stats: beat.stats,
            seq: beat.seq,
            ends: beat.ends,
            heard_us: now_us,
            viewed_us: now_us,
            logged: NodeState::Up,
            left: false,
        };
        update(&mut p, &beat, from, now_us);
        self.news(beat.node);
        if !fresh {
            self.pending.insert(beat.node, p);
            return true;
        }
        self.pending.remove(&beat.node);
        let back = self.retire(beat.node, out);
        self.peers.insert(beat.node, p);
        // The whole table, to it alone and at once: the news view tells it
        // only of itself and us, not before the news gap, and a node
        // admitted on a beat that answered a view it heard while it
        // sought does not follow us until a view echoes it. Meanwhile it
        // would know none of the others, whose files and processes it may
        // be asked for at once (a `crun` to it opens its descriptors at
        // the home node, `/n/nodeH`).
        if let Some(key) = self.key.clone() {
            let pages = self.pages(now_us, &key, |_| true, Some(beat.node), false);
            out.extend(pages.into_iter().map(|page| Out::SendTo(from, page)));
        }
        let how = if back { "rejoined (a new incarnation)" } else { "joined" };
        out.push(Out::Log(format!("cluster: node {} at {} {how}", beat.node, addr(from))));
        true
    }

    /// A node's last beat, authenticated: it leaves. The coordinator
    /// tells the others in a view at once; a follower whose coordinator
    /// it is turns to the next now, not after its silence. (A replay
    /// is no later than the beat the node's entry has.)
    fn on_leaving(&mut self, now_us: u64, beat: &Beat) {
        let Some(p) = self.peers.get_mut(&beat.node) else { return };
        if p.incarnation != beat.incarnation || beat.seq <= p.seq {
            return;
        }
        p.seq = beat.seq;
        p.left = true;
        self.news(beat.node);
        if let Role::Following(f) = &mut self.role {
            if f.node == beat.node && f.incarnation == beat.incarnation {
                f.heard_us = now_us.saturating_sub(SUSPECT_US);
            }
        }
    }

    /// A node's admitted incarnation gives way to another: if it was not
    /// told down yet, it is now (the waits for its processes hear it).
    /// Whether there was one.
    fn retire(&mut self, node: NodeId, out: &mut Vec<Out>) -> bool {
        let Some(p) = self.peers.get_mut(&node) else { return false };
        if !p.logged.is_down() {
            p.logged = NodeState::Down;
            out.push(Out::Log(format!("cluster: node {node} ({}) is down", p.name)));
            out.push(Out::Down(node));
        }
        true
    }

    fn on_view(&mut self, now_us: u64, from: [u8; 4], body: &[u8], mac: &msg::Mac, out: &mut Vec<Out>) {
        let Some(view) = View::decode(body) else { return };
        let id = view.id;
        let Some(key) = self.key.as_ref() else { return };
        if !key.holds(Signed::View, body, mac) || id.coordinator == self.cfg.node {
            return;
        }
        // A coordinator that left says nothing more: a view of it sent
        // before its leaving beat, come late (or replayed), moves nobody.
        if self.peers.get(&id.coordinator).is_some_and(|p| p.left && p.incarnation == id.incarnation) {
            return;
        }
        if let Role::Following(f) = &mut self.role {
            if f.node == id.coordinator && f.incarnation == id.incarnation {
                // Ours: only a later view counts.
                if id.seq <= f.seq {
                    return;
                }
                f.seq = id.seq;
                f.addr = from;
                f.heard_us = now_us;
                self.last_view_us = Some(now_us);
                self.learn_all(now_us, from, &view, out);
                // A period's view: our beat answers it (once a period:
                // not again for its other pages).
                if view.whole && now_us.saturating_sub(self.beat_sent_us) >= BEAT_US / 2 {
                    out.extend(self.beat_at(now_us, self.own));
                }
                return;
            }
        }
        // Another coordinator's: worth going over to? The first a seeker
        // hears, a lower one than ours, any once ours is silent.
        let better = match &mut self.role {
            Role::Seeking { lower_us, viewed_us, .. } => {
                *lower_us = Some(now_us);
                *viewed_us = Some(now_us);
                true
            }
            Role::Following(f) => id.coordinator < f.node || now_us.saturating_sub(f.heard_us) >= SUSPECT_US,
            Role::Coordinating { .. } => id.coordinator < self.cfg.node,
            Role::Left => false,
        };
        if !better {
            return;
        }
        // Only a view that echoes a beat we sent lately is believed: a
        // recorded view, replayed, moves nobody. Else we beat to it (at
        // most once a half period), and its next view will echo us.
        let echoed = view.entries.iter().any(|e| {
            e.node == self.cfg.node && e.incarnation == self.incarnation && lately(&self.beats_sent, e.seq, now_us)
        });
        if !echoed {
            if self.probed_us.is_none_or(|t| now_us.saturating_sub(t) >= BEAT_US / 2) {
                self.probed_us = Some(now_us);
                let bytes = self.beat_bytes(now_us, Some(id));
                out.push(Out::SendTo(from, bytes));
            }
            return;
        }
        if let Role::Coordinating { .. } = self.role {
            out.push(Out::Log(format!(
                "cluster: node {}{COORDINATES}; node {}{FOLLOWS}",
                id.coordinator, self.cfg.node
            )));
            self.pending.clear();
        }
        let f =
            Following { node: id.coordinator, incarnation: id.incarnation, addr: from, seq: id.seq, heard_us: now_us };
        self.rebase(now_us);
        self.silent = None;
        self.role = Role::Following(f);
        self.last_view_us = Some(now_us);
        // Our next beat names the view: send it now, not a period on.
        out.extend(self.beat_at(now_us, self.own));
        self.learn_all(now_us, from, &view, out);
    }

    /// Our own hold is nobody's silence. The program's time `now_us` on
    /// our own clock, which a gap of more than [`HELD_US`] since the
    /// program last gave us the time sets back by the gap less a period,
    /// as if the hold had not been: every time we keep (when peers were
    /// heard, views and beats sent, refusals logged) then stands as it
    /// did. A follower the host held for 3 s took its coordinator for
    /// down on resuming (before its listener read the views waiting) and
    /// told the waits for that node's processes so; a coordinator so held
    /// took everyone. What really died meanwhile is found a hold later.
    fn resumed(&mut self, now_us: u64) -> u64 {
        self.held_us += self.unseen_hold(now_us);
        self.seen_us = self.seen_us.max(now_us);
        self.own_clock(now_us)
    }

    /// How much of the time since the program last gave it to us was a
    /// hold: a gap of more than [`HELD_US`], less a period.
    fn unseen_hold(&self, now_us: u64) -> u64 {
        let gap = now_us.saturating_sub(self.seen_us);
        if gap > HELD_US {
            gap - BEAT_US
        } else {
            0
        }
    }

    /// The program's time `now_us` on our own clock. A hold not yet seen
    /// counts too: a query (`nodes`, from a file server's thread) may
    /// come after one before the beater or the listener does.
    fn own_clock(&self, now_us: u64) -> u64 {
        now_us.saturating_sub(self.held_us + self.unseen_hold(now_us))
    }

    /// Every peer's age as we held it goes on from now, as if a view had
    /// just carried it: the view that brings us over to a coordinator may
    /// be news, carrying few entries, and counted from it the others would
    /// look a period older, or, after a silence, down.
    fn rebase(&mut self, now_us: u64) {
        let ages: Vec<(NodeId, u64)> = self
            .peers
            .iter()
            .map(|(node, p)| (*node, self.clock_for(*node, p, now_us).saturating_sub(p.heard_us)))
            .collect();
        for (node, age) in ages {
            let p = self.peers.get_mut(&node).expect("just listed");
            p.heard_us = now_us.saturating_sub(age);
            p.viewed_us = now_us;
        }
    }

    /// A believed view's admitted entries.
    fn learn_all(&mut self, now_us: u64, from: [u8; 4], view: &View, out: &mut Vec<Out>) {
        for e in &view.entries {
            if e.node != self.cfg.node && e.admitted {
                self.learn(now_us, e, (e.node == view.id.coordinator).then_some(from), out);
            }
        }
    }

    /// A believed view's entry: the node joins our table, or is updated.
    fn learn(&mut self, now_us: u64, e: &Entry, coordinator_at: Option<[u8; 4]>, out: &mut Vec<Out>) {
        let addr_of = coordinator_at.unwrap_or(e.addr);
        let heard_us = if coordinator_at.is_some() { now_us } else { now_us.saturating_sub(e.age_ms as u64 * 1000) };
        match self.peers.get_mut(&e.node) {
            Some(p) if p.incarnation == e.incarnation => {
                p.heard_us = p.heard_us.max(heard_us);
                p.viewed_us = now_us;
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
                p.left |= e.left;
            }
            _ => {
                let back = self.retire(e.node, out);
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
                    viewed_us: now_us,
                    logged: NodeState::Up,
                    left: e.left,
                };
                let logged = self.state(e.node, &p, now_us);
                self.peers.insert(e.node, Peer { logged, ..p });
            }
        }
    }

    fn refuse(&mut self, now_us: u64, to: [u8; 4], node: NodeId, inc: Incarnation, why: Refusal, out: &mut Vec<Out>) {
        if !remembered(&mut self.refused, (node, inc), now_us) {
            return;
        }
        out.push(Out::Log(format!("cluster: refused node {node} at {}: {why}", addr(to))));
        let m = Message::Refused { from: self.cfg.node, to: node, to_incarnation: inc, reason: why };
        out.push(Out::Broadcast(m.encode()));
    }

    /// The node table: this node and every admitted one, by number.
    pub fn nodes(&self, now_us: u64, own: Stats) -> Vec<NodeLine> {
        let now_us = self.own_clock(now_us);
        let me = NodeLine {
            node: self.cfg.node,
            name: self.cfg.name.clone(),
            addr: Addr { ip: self.cfg.addr, port: msg::PORT },
            state: match self.role {
                Role::Left => NodeState::Left,
                _ if own.draining => NodeState::Draining,
                _ => NodeState::Up,
            },
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
            state: match self.state(*node, p, now_us) {
                NodeState::Up if p.stats.draining => NodeState::Draining,
                state => state,
            },
            load: p.stats.load,
            processes: p.stats.processes,
            free_kib: p.stats.free_kib,
            features: p.features.clone(),
        }));
        all.sort_by_key(|l| l.node);
        all
    }
}

fn new_incarnation(nonces: &mut Nonces) -> Incarnation {
    u64::from_le_bytes(nonces.bytes()[..8].try_into().expect("8 of 32 bytes"))
}

/// What a later beat of an incarnation says.
fn update(p: &mut Peer, beat: &Beat, from: [u8; 4], now_us: u64) {
    p.seq = beat.seq;
    p.heard_us = now_us;
    p.stats = beat.stats;
    p.addr = from;
    if p.name != beat.name || p.features != beat.features {
        p.name = beat.name.into();
        p.features = beat.features.into();
    }
}

/// Whether a refusal keyed `key` is due (not said within
/// [`REFUSE_EVERY_US`]), remembering it if so; none is due while the
/// table is full of recent ones.
fn remembered<K: Ord>(table: &mut BTreeMap<K, u64>, key: K, now_us: u64) -> bool {
    let recent = |t: &u64| now_us.saturating_sub(*t) < REFUSE_EVERY_US;
    if table.get(&key).is_some_and(recent) {
        return false;
    }
    if table.len() >= REFUSALS_KEPT {
        table.retain(|_, t| recent(t));
        if table.len() >= REFUSALS_KEPT {
            return false;
        }
    }
    table.insert(key, now_us);
    true
}

fn remember(sent: &mut VecDeque<(u64, u64)>, seq: u64, now_us: u64) {
    if sent.len() == SENT_KEPT {
        sent.pop_front();
    }
    sent.push_back((seq, now_us));
}

/// Whether `seq` was sent within [`DOWN_US`].
fn lately(sent: &VecDeque<(u64, u64)>, seq: u64, now_us: u64) -> bool {
    sent.iter().any(|&(s, t)| s == seq && now_us.saturating_sub(t) < DOWN_US)
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
        /// Datagrams are delivered at the end of each step, not as each
        /// node sends them: nodes that act in the same step do not hear
        /// each other first.
        deferred: bool,
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
        /// What its beats say of it.
        stats: Stats,
        /// How often it beats (a beater woken late beats less often).
        period: u64,
        /// Datagrams it broadcast.
        broadcasts: usize,
        /// It hears nothing before this (a backlog: datagrams lost).
        deaf_until: u64,
    }

    fn config(n: u16, secret: Option<&[u8]>) -> Config {
        let addr = [10, 1, 0, n as u8];
        Config { node: NodeId(n), name: format!("n{n}"), features: String::new(), addr, secret: secret.map(Vec::from) }
    }

    impl Segment {
        fn new() -> Segment {
            Segment { nodes: Vec::new(), now: 0, flying: VecDeque::new(), record: Vec::new(), deferred: false }
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
                stats: Stats::default(),
                period: BEAT_US,
                broadcasts: 0,
                deaf_until: 0,
            };
            self.nodes.push(sim);
            self.nodes.len() - 1
        }

        fn carry(&mut self, k: usize, outs: Vec<Out>) {
            for o in outs {
                match o {
                    Out::Broadcast(b) => {
                        self.nodes[k].broadcasts += 1;
                        self.flying.push_back((k, None, b));
                    }
                    Out::SendTo(to, b) => self.flying.push_back((k, Some(to), b)),
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
                    if k == from || !n.up || to.is_some_and(|a| a != n.addr) || self.now < n.deaf_until {
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
                    // Every period, and when its own beat is due (as the
                    // beater wakes).
                    let due = self.nodes[k].m.beat_due().is_some_and(|t| t <= self.now);
                    if self.now >= self.nodes[k].next_beat || due {
                        if self.now >= self.nodes[k].next_beat {
                            self.nodes[k].next_beat = self.now + self.nodes[k].period;
                        }
                        let stats = self.nodes[k].stats;
                        let outs = self.nodes[k].m.beat(self.now, stats);
                        self.carry(k, outs);
                    }
                    let outs = self.nodes[k].m.tick(self.now);
                    self.carry(k, outs);
                    if !self.deferred {
                        self.deliver();
                    }
                }
                self.deliver();
                self.now += 10 * MS;
            }
        }

        /// What node `k`'s table says: number and state.
        fn table(&self, k: usize) -> Vec<(u16, NodeState)> {
            self.nodes[k].m.nodes(self.now, self.nodes[k].stats).iter().map(|l| (l.node.0, l.state)).collect()
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
    fn a_drained_node_is_draining_everywhere_until_taken_back() {
        let mut s = formed(3);
        // A follower, and the coordinator, whose beats only it hears.
        // (The program beats at once when it drains or comes back.)
        let beat_now = |s: &mut Segment, k: usize| {
            let (now, stats) = (s.now, s.nodes[k].stats);
            let outs = s.nodes[k].m.beat_now(now, stats);
            s.carry(k, outs);
        };
        for k in [1, 0] {
            s.nodes[k].stats.draining = true;
            beat_now(&mut s, k);
            s.run(2 * BEAT_US);
            let mut want = all_up(1..=3);
            want[k].1 = NodeState::Draining;
            for j in 0..3 {
                assert_eq!(s.table(j), want, "node {} while node {} drains", j + 1, k + 1);
            }
            s.nodes[k].stats.draining = false;
            beat_now(&mut s, k);
            s.run(2 * BEAT_US);
            for j in 0..3 {
                assert_eq!(s.table(j), all_up(1..=3), "node {} after node {} came back", j + 1, k + 1);
            }
        }
    }

    #[test]
    fn a_node_that_leaves_is_left_everywhere_at_once_and_joins_again() {
        let mut s = formed(4);
        // A follower, then the coordinator (its followers turn to the
        // next at once).
        for k in [2, 0] {
            let n = k as u16 + 1;
            for sim in &mut s.nodes {
                sim.downs.clear();
            }
            // (The coordinator's view of now, made and not yet sent.)
            let stats = s.nodes[k].stats;
            let late = if k == 0 { s.nodes[k].m.beat(s.now, stats) } else { Vec::new() };
            let outs = s.nodes[k].m.leave(s.now).expect("it was in");
            s.carry(k, outs);
            assert!(s.nodes[k].m.leave(s.now).is_none(), "it left already");
            let left = s.now;
            s.deliver();
            // That view comes after the leaving beat: it moves nobody
            // back to the coordinator that left.
            s.carry(k, late);
            s.run(300 * MS);
            if k == 0 {
                assert!(s.logged(1, "cluster: node 1 left; node 2 coordinates the membership").is_some());
                // Its followers turned to the next at once.
                for j in 1..4 {
                    assert_eq!(s.nodes[j].m.coordinator(), Some(NodeId(2)), "node {} follows", j + 1);
                }
            }
            for j in (0..4).filter(|&j| j != k) {
                let line = format!("cluster: node {n} (n{n}) left the cluster");
                let t = s.logged(j, &line).unwrap_or_else(|| panic!("node {}: {:?}", j + 1, s.nodes[j].log));
                assert!(t - left <= 200 * MS, "node {} heard it after {} ms", j + 1, (t - left) / MS);
                assert_eq!(s.nodes[j].downs, [NodeId(n)], "node {}: its processes are lost", j + 1);
                assert_eq!(s.table(j)[k], (n, NodeState::Left));
            }
            // It hears nobody, sends nothing, and has lost the others.
            let others: Vec<NodeId> = (1..=4).filter(|&j| j != n).map(NodeId).collect();
            assert_eq!(s.nodes[k].downs, others);
            let want: Vec<_> = (1..=4).map(|j| (j, if j == n { NodeState::Left } else { NodeState::Down })).collect();
            assert_eq!(s.table(k), want);
            s.nodes[k].heard = 0;
            s.run(3_000 * MS);
            assert!(s.nodes[k].m.beat(s.now, Stats::default()).is_empty());
            for j in (0..4).filter(|&j| j != k) {
                assert_eq!(s.nodes[j].downs, [NodeId(n)], "nobody else went down for node {}", j + 1);
            }
            let outs = s.nodes[k].m.join(s.now).expect("it had left");
            s.carry(k, outs);
            assert!(s.nodes[k].m.join(s.now).is_none(), "it is in already");
            s.run(3_000 * MS);
            for j in 0..4 {
                assert_eq!(s.table(j), all_up(1..=4), "node {} after node {n} joined again", j + 1);
            }
            let back = format!("cluster: node {n} at 10.1.0.{n} rejoined (a new incarnation)");
            assert!(s.logged((k + 1) % 4, &back).is_some(), "{:?}", s.nodes[(k + 1) % 4].log);
        }
        // Every datagram ever sent, the leaving beats among them, replayed:
        // nobody goes out.
        let record = core::mem::take(&mut s.record);
        for (from, bytes) in record {
            for k in (0..4).filter(|&k| k != from) {
                let src = s.nodes[from].addr;
                let outs = s.nodes[k].m.receive(s.now, src, &bytes);
                s.carry(k, outs);
            }
        }
        s.run(300 * MS);
        for j in 0..4 {
            assert_eq!(s.table(j), all_up(1..=4), "node {} after the replay", j + 1);
        }
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
    fn forty_nodes_started_in_any_order_stay_formed_with_views_in_pages() {
        let mut s = Segment::new();
        // Node 1 among the last: the cluster formed round node 2 stays so.
        let order = [2, 5, 3, 9, 4, 6, 7, 8, 10, 12, 11].into_iter().chain(13..=30).chain([1]).chain(31..=40);
        for k in order {
            s.start(k, Some(b"s"));
            s.run(137 * MS);
        }
        s.run(3_000 * MS);
        s.nodes.sort_by_key(|n| n.m.node());
        let logged: Vec<usize> = s.nodes.iter().map(|n| n.log.len()).collect();
        for n in &mut s.nodes {
            n.heard = 0;
        }
        s.run(20 * BEAT_US);
        let coordinator = s.nodes[0].m.coordinator();
        assert!(coordinator.is_some());
        for (k, (n, logged)) in s.nodes.iter().zip(logged).enumerate() {
            assert_eq!(s.table(k), all_up(1..=40), "node {}", k + 1);
            assert_eq!(n.m.coordinator(), coordinator, "node {}", k + 1);
            assert_eq!(n.log[logged..], [], "node {} changed its mind", k + 1);
            // Forty entries take two datagrams at least, and each got
            // through whole (`Message::decode` takes none larger).
            if Some(n.m.node()) != coordinator {
                assert!(n.heard >= 40, "node {} heard {} datagrams", k + 1, n.heard);
            }
        }
    }

    /// A follower the host stopped for 3 s (the coordinator took it for
    /// down) comes back on a view of news, which carries only it and the
    /// coordinator: it takes no other node for down (it took all three
    /// while each entry aged from that view, and its coordinator before
    /// it knew its own hold), and all are up again soon.
    #[test]
    fn a_follower_back_from_a_pause_takes_no_other_node_for_down() {
        let mut s = formed(5);
        let logged = s.nodes[4].log.len();
        s.nodes[4].up = false;
        s.run(3_000 * MS);
        s.nodes[4].up = true;
        // Asked before its beater or listener ran (a file server's thread
        // may be first), it still holds every node up.
        let asked = s.nodes[4].m.nodes(s.now, Stats::default());
        assert!(asked.iter().all(|l| l.state == NodeState::Up), "{asked:?}");
        s.run(3 * BEAT_US);
        assert_eq!(s.table(4), all_up(1..=5));
        // Nor its coordinator: the hold was its own (`resumed`).
        let downs = s.nodes[4].log[logged..].iter().filter(|(_, l)| l.ends_with("is down"));
        assert_eq!(downs.count(), 0, "{:?}", &s.nodes[4].log[logged..]);
        assert_eq!(s.nodes[4].downs, []);
        // The coordinator took it for down meanwhile, and up again.
        assert!(s.logged(0, "cluster: node 5 (n5) is down").is_some());
        // A coordinator held as long takes nobody for down either.
        let logged = s.nodes[0].log.len();
        s.nodes[0].up = false;
        s.run(3_000 * MS);
        s.nodes[0].up = true;
        s.run(4 * BEAT_US);
        let downs = s.nodes[0].log[logged..].iter().filter(|(_, l)| l.ends_with("is down"));
        assert_eq!(downs.count(), 0, "{:?}", &s.nodes[0].log[logged..]);
    }

    /// A node joining forty: the view sent for its news carries only it
    /// and the coordinator; the views of every period carry all.
    #[test]
    fn news_views_carry_what_changed_and_period_views_everything() {
        let mut s = formed(40);
        let from = s.record.len();
        let joiner = s.start(41, Some(b"s"));
        s.run(2 * BEAT_US);
        assert!(s.nodes.iter().enumerate().all(|(k, _)| s.table(k) == all_up(1..=41)));
        assert!(s.nodes[joiner].m.coordinator() == s.nodes[0].m.coordinator());
        // Each view: its nodes, and whether it has node 41 admitted.
        let views: Vec<(Vec<u16>, bool)> = s.record[from..]
            .iter()
            .filter_map(|(_, b)| match Message::decode(b) {
                Some(Message::View { body, .. }) => View::decode(body).map(|v| {
                    let nodes = v.entries.iter().map(|e| e.node.0).collect();
                    (nodes, v.entries.iter().any(|e| e.node.0 == 41 && e.admitted))
                }),
                _ => None,
            })
            .collect();
        // It listened first, heard a period's view, and its first beat
        // echoed it: admitted at once, in the news.
        assert!(views.contains(&(alloc::vec![1, 41], true)), "node 41 admitted in news: {views:?}");
        let views: Vec<Vec<u16>> = views.into_iter().map(|(v, _)| v).collect();
        // A period's pages together name all 41.
        let mut all: Vec<u16> = views.iter().filter(|v| v.len() > 2).flatten().copied().collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all, (1..=41).collect::<Vec<u16>>());
    }

    /// Nodes whose beats come a little late (a busy host wakes their
    /// beaters 20 ms after the period) are heard 770 ms apart: up at the
    /// coordinator, and so at every follower, though a view's first page
    /// comes a period after the page that last gave them (64 QEMUs on 2
    /// processors: 58 followers took such nodes, in a view's later pages,
    /// for suspect a few times a minute while the coordinator never did).
    #[test]
    fn a_follower_takes_states_as_the_views_give_them_whatever_page_comes_first() {
        let mut s = formed(40);
        for n in &mut s.nodes[25..] {
            n.period = BEAT_US + 20 * MS;
        }
        let logged: Vec<usize> = s.nodes.iter().map(|n| n.log.len()).collect();
        s.run(40 * BEAT_US);
        for (k, (n, logged)) in s.nodes.iter().zip(logged).enumerate() {
            assert_eq!(s.table(k), all_up(1..=40), "node {}", k + 1);
            assert_eq!(n.log[logged..], [], "node {} changed its mind", k + 1);
        }
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
        // What the tests on real nodes count says so.
        let log: String = s.nodes[0].log.iter().map(|(_, l)| format!("{l}\n")).collect();
        assert!(log.contains("cluster: node 4 (n4) is down") && libux::cluster::trouble::count(&log) >= 1);
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
        let silent = "cluster: node 1 is silent; node 2 coordinates the membership";
        assert!(s.logged(1, silent).is_some(), "{:?}", s.nodes[1].log);
        assert_eq!(libux::cluster::trouble::count(silent), 1);
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

    /// Idle followers beat in answer to the period's view: the coordinator
    /// takes a period's beats at one moment, not one at a time all over
    /// the period (each a wake-up of its own).
    #[test]
    fn followers_answer_the_periods_view_together() {
        let mut s = formed(16);
        s.run(3 * BEAT_US);
        let mut moments = Vec::new();
        for _ in 0..4 * BEAT_US / (10 * MS) {
            let before = s.nodes[0].heard;
            s.run(10 * MS);
            if s.nodes[0].heard > before {
                moments.push(s.nodes[0].heard - before);
            }
        }
        // Four periods: four moments (five, if the window cuts one), each
        // with all fifteen followers' beats.
        assert!(moments.len() <= 5, "beats heard at {} moments: {moments:?}", moments.len());
        assert!(moments.iter().filter(|&&n| n == 15).count() >= 3, "{moments:?}");
        assert!(s.nodes.iter().enumerate().all(|(k, _)| s.table(k) == all_up(1..=16)));
    }

    /// A node admitted to forty knows all of them at once (its files and
    /// processes may be asked for at once), not only after the next
    /// period's view; the others learn of it from one news view.
    #[test]
    fn a_node_admitted_knows_every_node_at_once() {
        let mut s = formed(40);
        let joiner = s.start(41, Some(b"s"));
        let mut waited = 0;
        while s.nodes[joiner].m.coordinator().is_none() {
            s.run(10 * MS);
            waited += 10 * MS;
            assert!(waited < 2 * BEAT_US, "node 41 follows nobody");
        }
        assert!(s.logged(0, "cluster: node 41 at 10.1.0.41 joined").is_some());
        assert_eq!(s.table(joiner), all_up(1..=41), "the joiner's table as it begins to follow");
        s.run(NEWS_GAP_US + 10 * MS);
        assert_eq!(s.table(1), all_up(1..=41), "a follower's, a news gap on");
    }

    /// A node heard again after it turned suspect is up in the
    /// coordinator's log at that beat, not at the beater's next wake; a
    /// routine beat after it says nothing (the coordinator no longer
    /// looks at every node after each).
    #[test]
    fn a_beat_back_from_suspect_is_told_at_once_and_a_routine_one_not() {
        let mut s = formed(3);
        s.nodes[2].up = false;
        s.run(SUSPECT_US + 100 * MS);
        assert!(s.logged(0, "cluster: node 3 (n3) is suspect").is_some(), "{:?}", s.nodes[0].log);
        let beat = |s: &mut Segment| {
            let (now, stats) = (s.now, s.nodes[2].stats);
            let outs = s.nodes[2].m.beat_now(now, stats);
            let Some(Out::SendTo(_, bytes)) = outs.into_iter().next() else { panic!("a follower's beat") };
            s.nodes[0].m.receive(now, [10, 1, 0, 3], &bytes)
        };
        let outs = beat(&mut s);
        assert!(outs.contains(&Out::Log(String::from("cluster: node 3 (n3) is up"))), "{outs:?}");
        s.now += 10 * MS;
        let outs = beat(&mut s);
        assert!(!outs.iter().any(|o| matches!(o, Out::Log(_))), "{outs:?}");
    }

    /// A node joining a running cluster broadcasts nothing: it hears a
    /// view while it listens and answers it to the coordinator alone, and
    /// goes on answering views, not broadcasting, while the coordinator
    /// (busy, its datagrams waiting) does not hear it.
    #[test]
    fn a_joiner_broadcasts_nothing_while_it_hears_views() {
        let mut s = formed(8);
        s.nodes[0].deaf_until = s.now + 1_200 * MS;
        let joiner = s.start(9, Some(b"s"));
        s.run(4 * BEAT_US);
        assert_eq!(s.nodes[joiner].broadcasts, 0, "{:?}", s.nodes[joiner].log);
        assert_eq!(s.nodes[joiner].m.coordinator(), Some(NodeId(1)));
        assert_eq!(s.table(0), all_up(1..=9));
        assert_eq!(s.table(joiner), all_up(1..=9));
    }

    /// Sixty-four nodes started at the same moment (each hears the others
    /// only after the step they act in): each broadcasts its beat once,
    /// when it has listened (nobody coordinates yet: each must say that
    /// it is there), the lowest alone coordinates, and the others answer
    /// its views, broadcasting nothing more.
    #[test]
    fn sixty_four_nodes_started_together_broadcast_a_beat_each() {
        let mut s = Segment { deferred: true, ..Segment::new() };
        for k in 1..=64 {
            s.start(k, Some(b"s"));
        }
        s.run(4_000 * MS);
        let coordinated = (0..64)
            .filter(|&k| {
                s.logged(k, &format!("cluster: node {} coordinates the membership (none heard)", k + 1)).is_some()
            })
            .count();
        assert_eq!(coordinated, 1, "nodes that coordinated at first");
        for k in 0..64 {
            assert_eq!(s.table(k), all_up(1..=64), "node {}", k + 1);
        }
        let most = s.nodes[1..].iter().map(|n| n.broadcasts).max().unwrap_or(0);
        let all: usize = s.nodes[1..].iter().map(|n| n.broadcasts).sum();
        assert!(most <= 1, "followers broadcast {all} beats, one {most}");
    }

    #[test]
    fn a_coordinator_hearing_its_own_beat_late_refuses_nobody() {
        let mut m = Membership::new(config(1, Some(b"s")), b"seed", 0);
        // Seeking, it listens first, then broadcasts its beat, which the
        // segment brings back only after it has begun to coordinate.
        assert_eq!(m.beat(0, Stats::default()), Vec::new(), "a new node listens first");
        let Some(Out::Broadcast(own)) = m.beat(LISTEN_US, Stats::default()).into_iter().next() else {
            panic!("a seeker broadcasts its beat");
        };
        // (Its beater ticks every period at least.)
        m.tick(BEAT_US);
        let outs = m.tick(SUSPECT_US + 1);
        assert_eq!(m.coordinator(), Some(NodeId(1)), "{outs:?}");
        let outs = m.receive(SUSPECT_US + 2, [10, 1, 0, 1], &own);
        assert!(!outs.iter().any(|o| matches!(o, Out::Log(_) | Out::Broadcast(_))), "{outs:?}");
        assert_eq!(m.nodes(SUSPECT_US + 2, Stats::default()).len(), 1);
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
            // (With a wrong secret it may coordinate itself: its views
            // are nobody's, as above.)
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
        let outs = s.nodes[2].m.beat_now(s.now, Stats::default());
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
    fn another_coordinators_recorded_view_moves_nobody() {
        let mut s = formed(3);
        // A view of node 4's, coordinating elsewhere, recorded.
        let mut other = Segment::new();
        other.start(4, Some(b"s"));
        other.run(3_000 * MS);
        let (_, view) = other
            .record
            .iter()
            .rev()
            .find(|(_, b)| matches!(Message::decode(b), Some(Message::View { .. })))
            .cloned()
            .unwrap();
        // And one of node 1's own, from before.
        let (_, old) = s
            .record
            .iter()
            .find(|(k, b)| *k == 0 && matches!(Message::decode(b), Some(Message::View { .. })))
            .cloned()
            .unwrap();
        s.run(1_000 * MS);
        for bytes in [view, old] {
            let outs = s.nodes[1].m.receive(s.now, [10, 1, 0, 66], &bytes);
            // At most a beat to it, to see whether it answers.
            assert!(outs.iter().all(|o| matches!(o, Out::SendTo([10, 1, 0, 66], _))), "{outs:?}");
            assert_eq!(s.nodes[1].m.coordinator(), Some(NodeId(1)));
        }
        s.run(3_000 * MS);
        assert_eq!(s.table(1), all_up(1..=3));
        assert!(s.nodes.iter().all(|n| n.downs.is_empty()));
    }

    #[test]
    fn a_forged_refusal_keeps_nobody_from_coordinating() {
        let mut s = Segment::new();
        let a = s.start(1, Some(b"s"));
        let inc = s.nodes[a].m.incarnation;
        let forged =
            Message::Refused { from: NodeId(9), to: NodeId(1), to_incarnation: inc, reason: Refusal::WrongSecret };
        let outs = s.nodes[a].m.receive(0, [10, 1, 0, 9], &forged.encode());
        assert_eq!(outs.len(), 1, "logged: {outs:?}");
        s.run(SUSPECT_US + BEAT_US);
        assert_eq!(s.nodes[a].m.coordinator(), Some(NodeId(1)));
    }

    #[test]
    fn the_coordinator_and_the_next_die_together_and_nobody_else_goes_down() {
        let mut s = formed(6);
        s.nodes[0].up = false;
        s.nodes[1].up = false;
        s.run(8_000 * MS);
        for k in 2..6 {
            let mut downs = s.nodes[k].downs.clone();
            downs.sort();
            assert_eq!(downs, [NodeId(1), NodeId(2)], "node {}: {:?}", k + 1, s.nodes[k].log);
            assert_eq!(s.nodes[k].m.coordinator(), Some(NodeId(3)));
            let want: Vec<_> = (1..=6).map(|n| (n, if n <= 2 { NodeState::Down } else { NodeState::Up })).collect();
            assert_eq!(s.table(k), want);
        }
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

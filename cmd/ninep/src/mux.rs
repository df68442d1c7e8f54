//! Replies of one 9P connection shared by many clients, sorted by tag.
//!
//! Each client (a `mount9p` thread with its own `fs9p::client::Client`
//! and share of tags, `fs9p::client::Ids::share`) sends its requests on
//! the connection itself; whoever reads the connection hands each reply
//! here, and it lands in the inbox of the client whose request has that
//! tag. So many calls are in flight on one connection and come back in
//! any order (Plan 9's mount driver does the same for its processes).
//!
//! A reply for no outstanding request breaks the connection: the server
//! is not speaking 9P to us. A request given up with Tflush is answered
//! here with an "interrupted" error when the server's Rflush came before
//! any reply to it (the server then sends none).

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::vec::Vec;
use fs9p::{encode, frame_len, Dialect, Error, Frame, Msg};

/// Which client (share) a reply goes to.
pub type Share = u16;

pub struct Mux {
    dialect: Dialect,
    /// Whole replies for each share, in the order they came (the first
    /// perhaps partly taken already).
    inbox: Vec<VecDeque<Vec<u8>>>,
    /// Tags of requests sent and not answered, and whose they are.
    outstanding: BTreeMap<u16, Dest>,
    /// Replies to reads sent ahead, kept for whoever takes them by tag.
    kept: BTreeMap<u16, Vec<u8>>,
    /// Reads sent ahead that nobody wants any more: dropped on arrival.
    abandoned: BTreeSet<u16>,
    /// Who waits for which kept reply.
    kept_waiting: BTreeMap<u16, Share>,
    broken: bool,
}

/// Where a reply goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dest {
    Share(Share),
    /// Kept for any client to take (a read sent ahead by one thread for
    /// the call another will answer).
    Kept,
}

/// The connection carries what is not 9P.
#[derive(Debug, PartialEq, Eq)]
pub struct Broken;

/// Cuts the bytes read off the connection into replies, for their reader
/// alone (no lock while it waits for the network). A reply of a megabyte
/// is moved, not copied, on its way to its inbox.
pub struct Framer {
    msize: u32,
    /// Bytes read that are not a whole reply yet.
    partial: Vec<u8>,
}

impl Framer {
    pub fn new(msize: u32) -> Framer {
        Framer { msize, partial: Vec::new() }
    }

    /// Where the next `n` bytes read go; hand them over with
    /// [`Framer::filled`].
    pub fn room(&mut self, n: usize) -> &mut [u8] {
        let at = self.partial.len();
        self.partial.resize(at + n, 0);
        &mut self.partial[at..]
    }

    /// The first `n` bytes of the last `room` of `room` bytes were read:
    /// the whole replies now there.
    pub fn filled(&mut self, room: usize, n: usize) -> Result<Vec<Vec<u8>>, Broken> {
        self.partial.truncate(self.partial.len() - room + n);
        let mut frames = Vec::new();
        loop {
            match frame_len(&self.partial, self.msize) {
                Ok(Some(len)) if len <= self.partial.len() => {
                    // What follows the reply (little, as a rule) is what
                    // is copied.
                    let rest = self.partial.split_off(len);
                    frames.push(core::mem::replace(&mut self.partial, rest));
                }
                Ok(_) => return Ok(frames),
                Err(_) => return Err(Broken),
            }
        }
    }
}

impl Mux {
    /// For `shares` clients speaking `dialect`.
    pub fn new(dialect: Dialect, shares: usize) -> Mux {
        Mux {
            dialect,
            inbox: (0..shares).map(|_| VecDeque::new()).collect(),
            outstanding: BTreeMap::new(),
            kept: BTreeMap::new(),
            abandoned: BTreeSet::new(),
            kept_waiting: BTreeMap::new(),
            broken: false,
        }
    }

    /// Notes the request `frame` that `share` is sending.
    pub fn sent(&mut self, share: Share, frame: &[u8]) {
        if let Some(tag) = tag_of(frame) {
            self.outstanding.insert(tag, Dest::Share(share));
        }
    }

    /// Notes the request `frame` being sent, whose reply is to be kept
    /// until taken by tag ([`Mux::take_kept`]) or abandoned.
    pub fn sent_kept(&mut self, frame: &[u8]) {
        if let Some(tag) = tag_of(frame) {
            self.outstanding.insert(tag, Dest::Kept);
        }
    }

    /// Hands a whole reply (from a [`Framer`]) to whoever asked: the share
    /// to wake, if any.
    pub fn deliver(&mut self, frame: Vec<u8>) -> Result<Option<Share>, Broken> {
        let tag = match tag_of(&frame) {
            Some(t) if !self.broken => t,
            _ => return Err(self.broke()),
        };
        match self.outstanding.remove(&tag) {
            Some(Dest::Share(share)) => {
                self.inbox[share as usize].push_back(frame);
                Ok(Some(share))
            }
            Some(Dest::Kept) if self.abandoned.remove(&tag) => Ok(None),
            Some(Dest::Kept) => {
                self.kept.insert(tag, frame);
                Ok(self.kept_waiting.remove(&tag))
            }
            None => Err(self.broke()),
        }
    }

    /// The kept reply `tag`, once come; else `share` is noted as waiting
    /// for it (to be woken when it comes).
    pub fn take_kept(&mut self, tag: u16, share: Share) -> Option<Vec<u8>> {
        let frame = self.kept.remove(&tag);
        if frame.is_none() {
            self.kept_waiting.insert(tag, share);
        }
        frame
    }

    /// Nobody will take the kept reply `tag`: dropped now, or when it
    /// comes.
    pub fn abandon(&mut self, tag: u16) {
        self.kept_waiting.remove(&tag);
        if self.kept.remove(&tag).is_none() && self.outstanding.get(&tag) == Some(&Dest::Kept) {
            self.abandoned.insert(tag);
        }
    }

    fn broke(&mut self) -> Broken {
        self.broken = true;
        Broken
    }

    /// Marks the connection gone (it ended, or failed).
    pub fn close(&mut self) {
        self.broken = true;
    }

    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Whether `share` has replies waiting.
    pub fn has(&self, share: Share) -> bool {
        !self.inbox[share as usize].is_empty()
    }

    /// Moves the first bytes of `share`'s replies into `buf`; how many.
    pub fn take(&mut self, share: Share, buf: &mut [u8]) -> usize {
        let inbox = &mut self.inbox[share as usize];
        let mut n = 0;
        while let Some(first) = inbox.front_mut() {
            let k = first.len().min(buf.len() - n);
            buf[n..n + k].copy_from_slice(&first[..k]);
            n += k;
            if k < first.len() {
                first.drain(..k);
                break;
            }
            inbox.pop_front();
        }
        n
    }

    /// Tags `share` waits for replies to.
    pub fn outstanding_of(&self, share: Share) -> Vec<u16> {
        self.outstanding.iter().filter(|(_, d)| **d == Dest::Share(share)).map(|(t, _)| *t).collect()
    }

    /// After the Rflush of `tag`: when its reply has not come, it never
    /// will; its client gets an "interrupted" error instead. The share
    /// answered so, if any.
    pub fn interrupt(&mut self, tag: u16) -> Option<Share> {
        let Some(Dest::Share(share)) = self.outstanding.get(&tag).copied() else { return None };
        self.outstanding.remove(&tag);
        let msg = match self.dialect {
            Dialect::L => Msg::Rlerror { ecode: Error::Interrupted.errno() },
            Dialect::P2000 => Msg::Rerror { ename: Error::Interrupted.message() },
        };
        let mut out = [0u8; 64];
        let n = encode(&Frame { tag, msg }, &mut out).expect("an error reply fits 64 bytes");
        self.inbox[share as usize].push_back(out[..n].to_vec());
        Some(share)
    }
}

/// The tag of a whole frame.
fn tag_of(frame: &[u8]) -> Option<u16> {
    frame.get(5..7).map(|t| u16::from_le_bytes([t[0], t[1]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(tag: u16, data: &[u8]) -> Vec<u8> {
        let mut out = alloc::vec![0u8; 64 + data.len()];
        let n = encode(&Frame { tag, msg: Msg::Rread { data } }, &mut out).unwrap();
        out.truncate(n);
        out
    }

    fn request(tag: u16) -> Vec<u8> {
        let mut out = [0u8; 64];
        let n = encode(&Frame { tag, msg: Msg::Tread { fid: 1, offset: 0, count: 9 } }, &mut out).unwrap();
        out[..n].to_vec()
    }

    /// `bytes` through a framer in reads of `piece` bytes (into rooms of
    /// twice that), delivered: who got replies, or where it broke.
    fn feed(f: &mut Framer, m: &mut Mux, bytes: &[u8], piece: usize) -> Result<Vec<Share>, Broken> {
        let mut woken = Vec::new();
        for chunk in bytes.chunks(piece) {
            f.room(2 * piece)[..chunk.len()].copy_from_slice(chunk);
            for frame in f.filled(2 * piece, chunk.len())? {
                woken.extend(m.deliver(frame)?);
            }
        }
        Ok(woken)
    }

    #[test]
    fn replies_reach_their_senders_in_any_order_and_in_any_pieces() {
        for piece in [1, 3, 64, 1000] {
            let (mut f, mut m) = (Framer::new(8192), Mux::new(Dialect::L, 3));
            m.sent(0, &request(5));
            m.sent(2, &request(700));
            let (a, b) = (reply(700, b"second"), reply(5, b"first"));
            let stream: Vec<u8> = [a.clone(), b.clone()].concat();
            // Nobody gets half a reply.
            assert_eq!(feed(&mut f, &mut m, &stream, piece), Ok(alloc::vec![2, 0]), "{piece}");
            let mut buf = [0u8; 100];
            let n = m.take(2, &mut buf);
            assert_eq!(&buf[..n], &a[..]);
            // A reply taken in parts.
            let n = m.take(0, &mut buf[..4]);
            let k = m.take(0, &mut buf[n..]);
            assert_eq!(&buf[..n + k], &b[..]);
            assert!(!m.has(0) && !m.has(1) && m.outstanding_of(0).is_empty());
        }
    }

    #[test]
    fn a_reply_nobody_asked_for_breaks_the_connection() {
        let (mut f, mut m) = (Framer::new(8192), Mux::new(Dialect::L, 2));
        m.sent(1, &request(3));
        assert_eq!(feed(&mut f, &mut m, &reply(4, b"x"), 100), Err(Broken));
        assert!(m.is_broken());
        assert_eq!(m.deliver(reply(3, b"x")), Err(Broken));
    }

    #[test]
    fn reads_sent_ahead_are_kept_for_whoever_takes_them_or_dropped() {
        let (mut f, mut m) = (Framer::new(8192), Mux::new(Dialect::L, 2));
        m.sent_kept(&request(40));
        m.sent_kept(&request(41));
        m.sent_kept(&request(42));
        // Share 1 waits for 40 before it comes; 41 comes first, then is
        // abandoned; 42 is abandoned before it comes.
        assert_eq!(m.take_kept(40, 1), None);
        m.abandon(42);
        let stream = [reply(41, b"b"), reply(40, b"a"), reply(42, b"c")].concat();
        assert_eq!(feed(&mut f, &mut m, &stream, 7), Ok(alloc::vec![1]));
        assert_eq!(m.take_kept(40, 0), Some(reply(40, b"a")));
        m.abandon(41);
        assert_eq!(m.take_kept(41, 0), None);
        // Kept reads are nobody's to flush, and never land in an inbox.
        assert!(m.outstanding_of(0).is_empty() && m.interrupt(41).is_none());
        assert!(!m.has(0) && !m.has(1) && !m.is_broken());
    }

    #[test]
    fn a_frame_larger_than_the_msize_breaks_the_connection() {
        let (mut f, mut m) = (Framer::new(256), Mux::new(Dialect::L, 1));
        m.sent(0, &request(1));
        assert_eq!(feed(&mut f, &mut m, &reply(1, &[0; 300]), 100), Err(Broken));
    }

    #[test]
    fn a_flushed_request_is_interrupted_once_and_only_if_unanswered() {
        let (mut f, mut m) = (Framer::new(8192), Mux::new(Dialect::P2000, 2));
        m.sent(1, &request(9));
        m.sent(1, &request(10));
        assert_eq!(m.outstanding_of(1), [9, 10]);
        // 10 was answered before its Rflush: nothing to make up.
        feed(&mut f, &mut m, &reply(10, b"late"), 100).unwrap();
        assert_eq!(m.interrupt(10), None);
        assert_eq!(m.interrupt(9), Some(1));
        assert_eq!(m.interrupt(9), None);
        let mut buf = [0u8; 200];
        let n = m.take(1, &mut buf);
        let first = frame_len(&buf[..n], 8192).unwrap().unwrap();
        let frame = fs9p::decode(&buf[first..n], Dialect::P2000).unwrap();
        assert_eq!(frame.tag, 9);
        assert!(matches!(frame.msg, Msg::Rerror { ename } if ename == Error::Interrupted.message()));
        // And a reply for it now would be one nobody waits for.
        assert_eq!(feed(&mut f, &mut m, &reply(9, b""), 100), Err(Broken));
    }
}

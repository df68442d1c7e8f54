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

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use fs9p::{encode, frame_len, Dialect, Error, Frame, Msg};

/// Which client (share) a reply goes to.
pub type Share = u16;

pub struct Mux {
    dialect: Dialect,
    msize: u32,
    /// Bytes read off the connection that are not a whole reply yet.
    partial: Vec<u8>,
    /// Whole replies for each share, in the order they came.
    inbox: Vec<Vec<u8>>,
    /// Tags of requests sent and not answered, and whose they are.
    outstanding: BTreeMap<u16, Share>,
    broken: bool,
}

/// The connection carries what is not 9P.
#[derive(Debug, PartialEq, Eq)]
pub struct Broken;

impl Mux {
    /// For `shares` clients speaking `dialect` with messages up to `msize`.
    pub fn new(dialect: Dialect, msize: u32, shares: usize) -> Mux {
        Mux {
            dialect,
            msize,
            partial: Vec::new(),
            inbox: (0..shares).map(|_| Vec::new()).collect(),
            outstanding: BTreeMap::new(),
            broken: false,
        }
    }

    /// Notes the request `frame` that `share` is sending.
    pub fn sent(&mut self, share: Share, frame: &[u8]) {
        if let Some(tag) = frame.get(5..7) {
            self.outstanding.insert(u16::from_le_bytes([tag[0], tag[1]]), share);
        }
    }

    /// Takes `bytes` read off the connection; the shares whose inboxes got
    /// a reply.
    pub fn received(&mut self, bytes: &[u8]) -> Result<Vec<Share>, Broken> {
        if self.broken {
            return Err(Broken);
        }
        self.partial.extend_from_slice(bytes);
        let mut woken = Vec::new();
        let mut at = 0;
        loop {
            match frame_len(&self.partial[at..], self.msize) {
                Ok(Some(len)) if len <= self.partial.len() - at => {
                    let frame = &self.partial[at..at + len];
                    let tag = u16::from_le_bytes([frame[5], frame[6]]);
                    let Some(share) = self.outstanding.remove(&tag) else { return Err(self.broke()) };
                    self.inbox[share as usize].extend_from_slice(frame);
                    if !woken.contains(&share) {
                        woken.push(share);
                    }
                    at += len;
                }
                Ok(_) => break,
                Err(_) => return Err(self.broke()),
            }
        }
        self.partial.drain(..at);
        Ok(woken)
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
        let n = inbox.len().min(buf.len());
        buf[..n].copy_from_slice(&inbox[..n]);
        inbox.drain(..n);
        n
    }

    /// Tags `share` waits for replies to.
    pub fn outstanding_of(&self, share: Share) -> Vec<u16> {
        self.outstanding.iter().filter(|(_, s)| **s == share).map(|(t, _)| *t).collect()
    }

    /// After the Rflush of `tag`: when its reply has not come, it never
    /// will; its client gets an "interrupted" error instead. The share
    /// answered so, if any.
    pub fn interrupt(&mut self, tag: u16) -> Option<Share> {
        let share = self.outstanding.remove(&tag)?;
        let msg = match self.dialect {
            Dialect::L => Msg::Rlerror { ecode: Error::Interrupted.errno() },
            Dialect::P2000 => Msg::Rerror { ename: Error::Interrupted.message() },
        };
        let mut out = [0u8; 64];
        let n = encode(&Frame { tag, msg }, &mut out).expect("an error reply fits 64 bytes");
        self.inbox[share as usize].extend_from_slice(&out[..n]);
        Some(share)
    }
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

    #[test]
    fn replies_reach_their_senders_in_any_order_and_in_any_pieces() {
        let mut m = Mux::new(Dialect::L, 8192, 3);
        m.sent(0, &request(5));
        m.sent(2, &request(700));
        let (a, b) = (reply(700, b"second"), reply(5, b"first"));
        let stream: Vec<u8> = [a.clone(), b.clone()].concat();
        // A byte at a time: nobody gets half a reply.
        let mut woken = Vec::new();
        for byte in &stream {
            woken.extend(m.received(core::slice::from_ref(byte)).unwrap());
        }
        assert_eq!(woken, [2, 0]);
        let mut buf = [0u8; 100];
        let n = m.take(2, &mut buf);
        assert_eq!(&buf[..n], &a[..]);
        let n = m.take(0, &mut buf);
        assert_eq!(&buf[..n], &b[..]);
        assert!(!m.has(1) && m.outstanding_of(0).is_empty());
    }

    #[test]
    fn a_reply_nobody_asked_for_breaks_the_connection() {
        let mut m = Mux::new(Dialect::L, 8192, 2);
        m.sent(1, &request(3));
        assert_eq!(m.received(&reply(4, b"x")), Err(Broken));
        assert!(m.is_broken());
        assert_eq!(m.received(&reply(3, b"x")), Err(Broken));
    }

    #[test]
    fn a_frame_larger_than_the_msize_breaks_the_connection() {
        let mut m = Mux::new(Dialect::L, 256, 1);
        m.sent(0, &request(1));
        assert_eq!(m.received(&reply(1, &[0; 300])), Err(Broken));
    }

    #[test]
    fn a_flushed_request_is_interrupted_once_and_only_if_unanswered() {
        let mut m = Mux::new(Dialect::P2000, 8192, 2);
        m.sent(1, &request(9));
        m.sent(1, &request(10));
        assert_eq!(m.outstanding_of(1), [9, 10]);
        // 10 was answered before its Rflush: nothing to make up.
        m.received(&reply(10, b"late")).unwrap();
        assert_eq!(m.interrupt(10), None);
        assert_eq!(m.interrupt(9), Some(1));
        assert_eq!(m.interrupt(9), None);
        let mut buf = [0u8; 200];
        let n = m.take(1, &mut buf);
        let first = frame_len(&buf[..n], 8192).unwrap().unwrap();
        let frame = fs9p::decode(&buf[first..n], Dialect::P2000).unwrap();
        assert_eq!(frame.tag, 9);
        assert!(matches!(frame.msg, Msg::Rerror { ename } if ename == "interrupted"));
        // And a reply for it now would be one nobody waits for.
        assert_eq!(m.received(&reply(9, b"")), Err(Broken));
    }
}

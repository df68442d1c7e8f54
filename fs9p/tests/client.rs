//! The client (`fs9p::client`) against our server session over an
//! in-memory transport, in both dialects: whole-path operations, fids
//! given back, replies delivered a few bytes at a time, and connections
//! that break (closed, a reply with the wrong tag, garbage): an error on
//! that call and on every later one, never a hang.

use fs9p::client::{Client, ClientError, Transport};
use fs9p::server::{Changes, Filesystem, Make, Meta, Session, User};
use fs9p::{Dialect, Error, OpenMode, Qid};
use std::collections::BTreeMap;

/// Files by path ("" is the root); `None` is a directory.
#[derive(Default)]
struct MemFs(BTreeMap<String, Option<Vec<u8>>>);

fn child(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

impl Filesystem for MemFs {
    type Node = String;
    type File = String;
    type Io = ();

    fn attach(&mut self, _: User, _: &str) -> Result<(String, Meta), Error> {
        self.0.entry(String::new()).or_insert(None);
        Ok((String::new(), self.meta(&String::new())?))
    }
    fn walk(&mut self, dir: &String, name: &str) -> Result<(String, Meta), Error> {
        let p = if name == ".." {
            dir.rsplit_once('/').map_or(String::new(), |(p, _)| p.to_string())
        } else {
            child(dir, name)
        };
        let meta = self.meta(&p)?;
        Ok((p, meta))
    }
    fn meta(&mut self, node: &String) -> Result<Meta, Error> {
        let f = self.0.get(node).ok_or(Error::NotFound)?;
        let name = node.rsplit('/').next().unwrap_or("/");
        Ok(match f {
            None => Meta::dir(node.len() as u64, 0, 0o755, name),
            Some(d) => Meta::file(node.len() as u64, 0, 0o644, d.len() as u64, name),
        })
    }
    fn open(&mut self, node: &String, mode: OpenMode) -> Result<(String, Meta), Error> {
        if let (true, Some(Some(d))) = (mode.truncate, self.0.get_mut(node)) {
            d.clear();
        }
        Ok((node.clone(), self.meta(node)?))
    }
    fn read(&mut self, node: &mut String, offset: u64, buf: &mut [u8]) -> Result<usize, Error> {
        let d = self.0.get(node).and_then(|f| f.as_ref()).ok_or(Error::IsDir)?;
        let from = (offset as usize).min(d.len());
        let n = buf.len().min(d.len() - from);
        buf[..n].copy_from_slice(&d[from..from + n]);
        Ok(n)
    }
    fn write(&mut self, node: &mut String, offset: u64, data: &[u8]) -> Result<usize, Error> {
        let d = self.0.get_mut(node).and_then(|f| f.as_mut()).ok_or(Error::IsDir)?;
        let end = offset as usize + data.len();
        if d.len() < end {
            d.resize(end, 0);
        }
        d[offset as usize..end].copy_from_slice(data);
        Ok(data.len())
    }
    fn create(
        &mut self,
        dir: &String,
        name: &str,
        _: u32,
        _: Option<u32>,
        _: OpenMode,
    ) -> Result<(String, String, Meta), Error> {
        let p = child(dir, name);
        if self.0.contains_key(&p) {
            return Err(Error::Exists);
        }
        self.0.insert(p.clone(), Some(Vec::new()));
        Ok((p.clone(), p.clone(), self.meta(&p)?))
    }
    fn make(&mut self, dir: &String, name: &str, what: Make, _: u32, _: Option<u32>) -> Result<(String, Meta), Error> {
        let p = child(dir, name);
        if what != Make::Dir {
            return Err(Error::NotSupported);
        }
        if self.0.contains_key(&p) {
            return Err(Error::Exists);
        }
        self.0.insert(p.clone(), None);
        Ok((p.clone(), self.meta(&p)?))
    }
    fn remove(&mut self, node: &String) -> Result<(), Error> {
        let prefix = format!("{node}/");
        if self.0.keys().any(|k| k.starts_with(&prefix)) {
            return Err(Error::NotEmpty);
        }
        self.0.remove(node).map(drop).ok_or(Error::NotFound)
    }
    fn list(&mut self, dir: &String) -> Result<Vec<Meta>, Error> {
        let names: Vec<String> = self
            .0
            .keys()
            .filter(|k| !k.is_empty() && k.rsplit_once('/').map_or("", |(p, _)| p) == dir.as_str())
            .cloned()
            .collect();
        names.iter().map(|n| self.meta(n)).collect()
    }
    fn rename(&mut self, node: &String, to: &String, name: &str) -> Result<(), Error> {
        let f = self.0.remove(node).ok_or(Error::NotFound)?;
        self.0.insert(child(to, name), f);
        Ok(())
    }
    fn setattr(&mut self, node: &String, c: &Changes) -> Result<(), Error> {
        let size =
            c.size.filter(|_| *c == Changes { size: c.size, ..Changes::default() }).ok_or(Error::NotSupported)?;
        let d = self.0.get_mut(node).and_then(|f| f.as_mut()).ok_or(Error::IsDir)?;
        d.resize(size as usize, 0);
        Ok(())
    }
}

/// What the test transport does to the server's replies.
#[derive(Clone, Copy, PartialEq)]
enum Fault {
    None,
    /// The stream ends once this many replies were delivered.
    CloseAfter(usize),
    /// The next reply's tag is changed.
    WrongTag,
    /// The next reply is replaced by garbage of a plausible size.
    Garbage,
    /// The next two replies come in the opposite order (as from a server
    /// that answers requests concurrently).
    Swap,
}

/// A server session behind a byte stream that hands out at most `chunk`
/// bytes per receive.
struct Loop {
    session: Session<String, String>,
    fs: MemFs,
    pending: Vec<u8>,
    /// A reply held back (`Fault::Swap`).
    held: Option<Vec<u8>>,
    chunk: usize,
    replies: usize,
    fault: Fault,
    /// Requests sent since the last receive, and the most there were.
    unanswered: usize,
    most_unanswered: usize,
}

impl Transport for Loop {
    type Error = String;

    fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.unanswered += 1;
        self.most_unanswered = self.most_unanswered.max(self.unanswered);
        let mut out = vec![0u8; 1 << 20];
        let n = self.session.handle(&mut self.fs, bytes, &mut out[..self.session.msize() as usize]);
        let mut reply = out[..n].to_vec();
        match self.fault {
            Fault::WrongTag => reply[5] ^= 1,
            Fault::Garbage => reply[4..].fill(0xee),
            _ => {}
        }
        if matches!(self.fault, Fault::CloseAfter(k) if self.replies >= k) {
            return Ok(());
        }
        self.replies += 1;
        if self.fault == Fault::Swap {
            match self.held.take() {
                None => {
                    self.held = Some(reply);
                    return Ok(());
                }
                Some(first) => {
                    self.fault = Fault::None;
                    self.pending.extend_from_slice(&reply);
                    self.pending.extend_from_slice(&first);
                    return Ok(());
                }
            }
        }
        self.pending.extend_from_slice(&reply);
        Ok(())
    }

    fn recv(&mut self, buf: &mut [u8]) -> Result<usize, String> {
        self.unanswered = 0;
        let n = buf.len().min(self.chunk).min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(n)
    }
}

fn client(dialect: Dialect, chunk: usize, max_fids: usize) -> Client<Loop> {
    let t = Loop {
        session: Session::new(max_fids),
        fs: MemFs::default(),
        pending: Vec::new(),
        held: None,
        chunk,
        replies: 0,
        fault: Fault::None,
        unanswered: 0,
        most_unanswered: 0,
    };
    Client::connect(t, dialect, 65536, "tester", "").unwrap()
}

fn names(c: &mut Client<Loop>, path: &str) -> Vec<String> {
    let mut n: Vec<String> = c.list(path).unwrap().into_iter().map(|e| e.name).collect();
    n.sort();
    n
}

#[test]
fn whole_path_operations_in_both_dialects() {
    for dialect in [Dialect::L, Dialect::P2000] {
        for chunk in [usize::MAX, 3] {
            let mut c = client(dialect, chunk, 16);
            assert_eq!(c.dialect(), dialect);
            let data: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
            c.mkdir_path("d").unwrap();
            c.write_file("d/big", &data).unwrap();
            assert_eq!(c.read_file("d/big").unwrap(), data);
            c.write_file("d/small", b"hi").unwrap();
            assert_eq!(names(&mut c, "d"), ["big", "small"]);
            let entries = c.list("d").unwrap();
            let big = entries.iter().find(|e| e.name == "big").unwrap();
            match dialect {
                Dialect::P2000 => assert_eq!(big.size, Some(200_000), "9P2000 stats carry sizes"),
                Dialect::L => assert_eq!(big.size, None),
            }
            let info = c.stat_path("d/big").unwrap();
            assert!(!info.is_dir && info.size == 200_000);
            assert!(c.stat_path("d").unwrap().is_dir);
            let fid = c.walk("d/big").unwrap();
            c.truncate(fid, 10).unwrap();
            let dir = c.walk("d").unwrap();
            c.rename(fid, dir, "renamed").unwrap();
            c.clunk(fid).unwrap();
            c.clunk(dir).unwrap();
            assert_eq!(names(&mut c, "d"), ["renamed", "small"]);
            assert_eq!(c.read_file("d/renamed").unwrap(), &data[..10]);
            assert!(matches!(c.read_file("d/nonesuch"), Err(ClientError::Server(Error::NotFound))));
            assert!(matches!(c.remove_path("d"), Err(ClientError::Server(Error::NotEmpty))));
            c.remove_path("d/renamed").unwrap();
            c.remove_path("d/small").unwrap();
            c.remove_path("d").unwrap();
            assert!(names(&mut c, "").is_empty());
            assert!(!c.is_broken());
        }
    }
}

#[test]
fn fids_are_given_back() {
    // With 4 fids at the server, a leak would run out within a few rounds.
    let mut c = client(Dialect::L, usize::MAX, 4);
    c.write_file("f", b"x").unwrap();
    for _ in 0..1000 {
        assert_eq!(c.read_file("f").unwrap(), b"x");
        assert!(c.read_file("missing").is_err());
        assert!(c.stat_path("f").is_ok());
    }
    let deep = vec!["a"; 40].join("/");
    assert!(matches!(c.walk(&deep), Err(ClientError::Server(Error::NotFound))));
    assert_eq!(c.read_file("f").unwrap(), b"x", "a failed long walk gives its fid back");
}

#[test]
fn a_broken_connection_fails_every_call_at_once() {
    for fault in [Fault::CloseAfter(0), Fault::WrongTag, Fault::Garbage] {
        let mut c = client(Dialect::L, usize::MAX, 16);
        c.write_file("f", b"data").unwrap();
        let t = c.transport_mut();
        t.fault = fault;
        t.replies = 0;
        assert!(c.read_file("f").is_err(), "the call that meets the fault");
        assert!(c.is_broken());
        for _ in 0..3 {
            assert!(matches!(c.read_file("f"), Err(ClientError::Lost)), "later calls");
            assert!(matches!(c.list(""), Err(ClientError::Lost)));
        }
    }
}

#[test]
fn reads_sent_ahead_meet_their_reads_in_order() {
    for dialect in [Dialect::L, Dialect::P2000] {
        let mut c = client(dialect, 3, 16);
        let a: Vec<u8> = (0..5000u32).map(|i| (i % 249) as u8).collect();
        let b: Vec<u8> = (0..5000u32).map(|i| (i % 13) as u8).collect();
        c.write_file("a", &a).unwrap();
        c.write_file("b", &b).unwrap();
        let fa = c.walk("a").unwrap();
        c.open(fa, OpenMode::READ).unwrap();
        c.read_ahead(fa, 0, 1000).unwrap();
        c.read_ahead(fa, 1000, 1000).unwrap();
        // Other calls take those replies off the stream and go on.
        assert_eq!(c.stat_path("b").unwrap().size, 5000);
        assert_eq!(names(&mut c, ""), ["a", "b"]);
        let mut buf = vec![0u8; 1000];
        let n = c.read(fa, 1000, &mut buf).unwrap();
        assert_eq!(&buf[..n], &a[1000..2000], "the second read ahead, the first dropped");
        let n = c.read(fa, 0, &mut buf).unwrap();
        assert_eq!(&buf[..n], &a[..1000], "a plain read after them");
        // Still on the wire when asked for, directly.
        c.read_ahead(fa, 2000, 1000).unwrap();
        let n = c.read(fa, 2000, &mut buf).unwrap();
        assert_eq!(&buf[..n], &a[2000..3000]);

        // What was read ahead of a fid does not outlive it: its number
        // comes back for another file.
        c.read_ahead(fa, 0, 1000).unwrap();
        c.clunk(fa).unwrap();
        let fb = c.walk("b").unwrap();
        assert_eq!(fb, fa, "the fid number is given out again");
        c.open(fb, OpenMode::READ_WRITE).unwrap();
        let n = c.read(fb, 0, &mut buf).unwrap();
        assert_eq!(&buf[..n], &b[..1000]);
        // A write drops what was read ahead of the file.
        c.read_ahead(fb, 0, 10).unwrap();
        c.write(fb, 0, b"new").unwrap();
        let n = c.read(fb, 0, &mut buf[..10]).unwrap();
        assert_eq!(&buf[..n], b"new\x03\x04\x05\x06\x07\x08\x09");
        // So do a truncate, and a write through another fid.
        c.read_ahead(fb, 0, 10).unwrap();
        c.truncate(fb, 2).unwrap();
        assert_eq!(c.read(fb, 0, &mut buf[..10]).unwrap(), 2);
        c.read_ahead(fb, 0, 10).unwrap();
        c.write_file("b", b"ZZZ").unwrap();
        let n = c.read(fb, 0, &mut buf[..10]).unwrap();
        assert_eq!(&buf[..n], b"ZZZ");
        // Past the end, and no more than `AHEAD_MAX` at once.
        for k in 0..5 {
            c.read_ahead(fb, 10_000 + k, 100).unwrap();
        }
        assert_eq!(c.read(fb, 10_000, &mut buf).unwrap(), 0);
        c.cancel_ahead().unwrap();
        c.clunk(fb).unwrap();
        assert!(!c.is_broken());
    }
}

#[test]
fn reads_sent_ahead_may_be_answered_in_any_order() {
    let mut c = client(Dialect::L, 5, 16);
    let data: Vec<u8> = (0..3000u32).map(|i| (i % 241) as u8).collect();
    c.write_file("f", &data).unwrap();
    let fid = c.walk("f").unwrap();
    c.open(fid, OpenMode::READ).unwrap();
    c.transport_mut().fault = Fault::Swap;
    c.read_ahead(fid, 0, 1000).unwrap();
    c.read_ahead(fid, 1000, 1000).unwrap();
    let mut buf = vec![0u8; 1000];
    for at in [0, 1000, 2000] {
        let n = c.read(fid, at as u64, &mut buf).unwrap();
        assert_eq!(&buf[..n], &data[at..at + 1000], "at {at}");
    }
    assert_eq!(c.read_file("f").unwrap(), data);
    assert!(!c.is_broken());
}

#[test]
fn an_ordered_server_gets_an_opens_walk_and_open_together() {
    use fs9p::client::OpenHow;
    let read = OpenHow { read: true, ..OpenHow::default() };
    for dialect in [Dialect::L, Dialect::P2000] {
        for swap in [false, true] {
            // With 4 fids at the server, a fid kept would run out.
            let mut c = client(dialect, 3, 4);
            c.mkdir_path("d").unwrap();
            c.write_file("d/f", b"data").unwrap();
            let sent_together = |c: &mut Client<Loop>, ordered: bool| {
                c.set_ordered(ordered);
                c.transport_mut().most_unanswered = 0;
                // (A server answering one request at a time can swap
                // nothing.)
                if swap && ordered {
                    c.transport_mut().fault = Fault::Swap;
                }
                let fid = c.open_path("d/f", read).unwrap();
                let mut buf = [0u8; 16];
                assert_eq!(c.read(fid, 0, &mut buf).unwrap(), 4);
                assert_eq!(&buf[..4], b"data");
                c.clunk(fid).unwrap();
                c.transport_mut().most_unanswered
            };
            assert_eq!(sent_together(&mut c, false), 1, "one request at a time");
            assert_eq!(sent_together(&mut c, true), 2, "the walk and the open at once");
            for _ in 0..8 {
                assert!(matches!(c.open_path("d/none", read), Err(ClientError::Server(Error::NotFound))));
                assert!(matches!(c.open_path("d/f/x", read), Err(ClientError::Server(_))));
                // Walked, but the open is refused: the fid is clunked.
                let write = OpenHow { write: true, ..OpenHow::default() };
                assert!(matches!(c.open_path("d", write), Err(ClientError::Server(_))));
            }
            let fid = c.open_path("", read).unwrap();
            c.clunk(fid).unwrap();
            assert!(!c.is_broken());
        }
    }
}

#[test]
fn a_clunk_sent_later_gives_its_fid_back_once_answered() {
    for swap in [false, true] {
        // With 4 fids at the server, a fid never given back runs out.
        let mut c = client(Dialect::L, 3, 4);
        c.write_file("f", b"data").unwrap();
        for round in 0..20 {
            let fid = c.walk("f").unwrap();
            c.open(fid, OpenMode::READ).unwrap();
            if swap && round % 2 == 0 {
                // Its answer comes after the next call's.
                c.transport_mut().fault = Fault::Swap;
            }
            c.transport_mut().unanswered = 0;
            c.clunk_later(fid).unwrap();
            assert_eq!(c.transport_mut().unanswered, 1, "sent, not waited for");
            assert_eq!(c.read_file("f").unwrap(), b"data");
        }
        // More than CLUNKING_MAX at once: the oldest answers are taken.
        let fids: Vec<u32> = (0..3).map(|_| c.walk("f").unwrap()).collect();
        for fid in fids {
            c.clunk_later(fid).unwrap();
        }
        for _ in 0..fs9p::client::CLUNKING_MAX + 2 {
            let fid = c.walk("f").unwrap();
            c.clunk_later(fid).unwrap();
        }
        assert_eq!(c.read_file("f").unwrap(), b"data");
        assert!(!c.is_broken());
    }
}

#[test]
fn a_broken_connection_forgets_reads_sent_ahead() {
    let mut c = client(Dialect::L, usize::MAX, 16);
    c.write_file("f", b"data").unwrap();
    let fid = c.walk("f").unwrap();
    c.open(fid, OpenMode::READ).unwrap();
    c.transport_mut().fault = Fault::WrongTag;
    c.read_ahead(fid, 0, 4).unwrap();
    assert!(matches!(c.stat_path("f"), Err(ClientError::Protocol(_))));
    let mut buf = [0u8; 4];
    assert!(matches!(c.read(fid, 0, &mut buf), Err(ClientError::Lost)), "at once, not from the stream");
    assert!(c.is_broken());
}

#[test]
fn msize_iounit_and_error_texts() {
    let mut c = client(Dialect::L, usize::MAX, 16);
    assert_eq!((c.msize(), c.iounit()), (65536, 65536 - 24));
    let e = c.read_file("nonesuch").unwrap_err();
    assert_eq!(e.to_string(), "server: file does not exist");
    assert_eq!(ClientError::<String>::Protocol("garbage").to_string(), "protocol: garbage");
    assert_eq!(ClientError::<String>::Lost.to_string(), "connection lost");
    assert_eq!(ClientError::Transport("reset".to_string()).to_string(), "reset");
}

/// Tags wrap around without ever being NOTAG, which only Tversion uses.
#[test]
fn tags_skip_notag() {
    struct Tags(Loop, Vec<u16>);
    impl Transport for Tags {
        type Error = String;
        fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
            self.1.push(u16::from_le_bytes([bytes[5], bytes[6]]));
            self.0.send(bytes)
        }
        fn recv(&mut self, buf: &mut [u8]) -> Result<usize, String> {
            self.0.recv(buf)
        }
    }
    let l = Loop {
        session: Session::new(16),
        fs: MemFs::default(),
        pending: Vec::new(),
        held: None,
        chunk: usize::MAX,
        replies: 0,
        fault: Fault::None,
        unanswered: 0,
        most_unanswered: 0,
    };
    let mut c = Client::connect(Tags(l, Vec::new()), Dialect::L, 8192, "u", "").unwrap();
    for _ in 0..66_000 {
        c.stat(0).unwrap();
    }
    let tags = &c.transport().1;
    assert_eq!(tags[0], fs9p::NOTAG);
    assert!(tags[1..].iter().all(|&t| t != fs9p::NOTAG));
    assert!(tags.contains(&0) && tags.contains(&(fs9p::NOTAG - 1)), "they wrapped");
}

#[test]
fn a_walk_failing_after_sixteen_names_gives_its_fid_back() {
    // A walk longer than MAXWELEM takes two Twalks; when the second
    // fails, the fid the first made must be clunked at the server.
    let mut c = client(Dialect::L, usize::MAX, 4);
    let deep: Vec<String> = (1..=16).map(|n| vec!["d"; n].join("/")).collect();
    for d in &deep {
        c.mkdir_path(d).unwrap();
    }
    c.write_file("f", b"x").unwrap();
    let missing = format!("{}/d/e", deep[15]);
    for _ in 0..4 {
        assert!(matches!(c.walk(&missing), Err(ClientError::Server(Error::NotFound))));
    }
    assert_eq!(c.read_file("f").unwrap(), b"x");
}

/// A server that answers each request with the next scripted reply,
/// under the request's tag.
struct Script(std::collections::VecDeque<fs9p::Msg<'static>>, Vec<u8>);

impl Transport for Script {
    type Error = String;
    fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        let tag = u16::from_le_bytes([bytes[5], bytes[6]]);
        let msg = self.0.pop_front().ok_or("nothing scripted")?;
        let mut out = vec![0u8; 1024];
        let n = fs9p::encode(&fs9p::Frame { tag, msg }, &mut out).unwrap();
        self.1.extend_from_slice(&out[..n]);
        Ok(())
    }
    fn recv(&mut self, buf: &mut [u8]) -> Result<usize, String> {
        let n = buf.len().min(self.1.len());
        buf[..n].copy_from_slice(&self.1[..n]);
        self.1.drain(..n);
        Ok(n)
    }
}

fn scripted(replies: Vec<fs9p::Msg<'static>>) -> Result<Client<Script>, ClientError<String>> {
    Client::connect(Script(replies.into(), Vec::new()), Dialect::P2000, 8192, "u", "")
}

#[test]
fn version_replies_are_checked() {
    use fs9p::Msg::*;
    let attach = || Rattach { qid: Qid::default() };
    let c = scripted(vec![Rversion { msize: 4096, version: "9P2000" }, attach()]).unwrap();
    assert_eq!(c.msize(), 4096, "the server's smaller msize");
    let c = scripted(vec![Rversion { msize: 1 << 20, version: "9P2000" }, attach()]).unwrap();
    assert_eq!(c.msize(), 8192, "never more than asked");
    assert_eq!(scripted(vec![Rversion { msize: 256, version: "9P2000" }, attach()]).unwrap().msize(), 256);
    for bad in [Rversion { msize: 255, version: "9P2000" }, Rversion { msize: 8192, version: "9P2000.L" }] {
        assert!(matches!(scripted(vec![bad]), Err(ClientError::Server(Error::NotSupported))));
    }
    assert!(matches!(scripted(vec![Rerror { ename: "no" }]), Err(ClientError::Protocol(_))));
}

#[test]
fn a_server_claiming_more_written_than_sent_breaks_the_connection() {
    use fs9p::Msg::*;
    let version = Rversion { msize: 8192, version: "9P2000" };
    let mut c =
        scripted(vec![version, Rattach { qid: Qid::default() }, Rwrite { count: 2 }, Rwrite { count: 3 }]).unwrap();
    assert_eq!(c.write(0, 0, b"abc").unwrap(), 2, "a short write is fine");
    assert!(matches!(c.write(0, 0, b"ab"), Err(ClientError::Protocol(_))));
    assert!(c.is_broken());
}

#[test]
fn open_path_creates_only_when_asked() {
    use fs9p::client::OpenHow;
    let mut c = client(Dialect::P2000, usize::MAX, 16);
    let read = OpenHow { read: true, ..OpenHow::default() };
    assert!(matches!(c.open_path("new", read), Err(ClientError::Server(Error::NotFound))));
    assert!(matches!(c.stat_path("new"), Err(ClientError::Server(Error::NotFound))), "not made");
    let create = OpenHow { write: true, create: true, ..OpenHow::default() };
    let fid = c.open_path("new", create).unwrap();
    c.clunk(fid).unwrap();
    let exclusive = OpenHow { exclusive: true, ..create };
    assert!(matches!(c.open_path("new", exclusive), Err(ClientError::Server(Error::Exists))));
    let fid = c.open_path("new", create).unwrap();
    c.clunk(fid).unwrap();
}

/// Another client makes the file between our walk and our create: an open
/// that may create opens it as it is; an exclusive one fails.
#[test]
fn a_create_that_loses_the_race_opens_what_the_other_made() {
    use fs9p::client::OpenHow;
    use fs9p::Msg::*;
    let qid = Qid::default();
    let race = |then: Vec<fs9p::Msg<'static>>| {
        let mut replies = vec![
            Rversion { msize: 8192, version: "9P2000" },
            Rattach { qid },
            // The walk to the file finds nothing; the walk to its
            // directory (none: the root's clone) and the create, which
            // finds the file made meanwhile.
            Rerror { ename: "file does not exist" },
            Rwalk { wqids: Default::default() },
            Rerror { ename: "file already exists" },
            Rclunk,
        ];
        replies.extend(then);
        scripted(replies).unwrap()
    };
    let append = OpenHow { write: true, create: true, ..OpenHow::default() };
    let mut c = race(vec![Rwalk { wqids: [qid].into_iter().collect() }, Ropen { qid, iounit: 0 }]);
    c.open_path("shared", append).expect("opened as the other made it");
    let exclusive = OpenHow { exclusive: true, ..append };
    let mut c = race(vec![]);
    assert!(matches!(c.open_path("shared", exclusive), Err(ClientError::Server(Error::Exists))));
}

#[test]
fn short_and_mistyped_replies() {
    use fs9p::Msg::*;
    let version = || Rversion { msize: 8192, version: "9P2000" };
    let attach = || Rattach { qid: Qid::default() };
    // A server that takes none of a write: write_file says no space.
    let wqids = [Qid::default()].into_iter().collect();
    let open = Ropen { qid: Qid::default(), iounit: 0 };
    let mut c = scripted(vec![version(), attach(), Rwalk { wqids }, open, Rwrite { count: 0 }, Rclunk]).unwrap();
    assert!(matches!(c.write_file("f", b"data"), Err(ClientError::Server(Error::NoSpace))));
    assert!(!c.is_broken());
    // A reply of another type than the request's breaks the connection,
    // even where any reply would do.
    let mut c = scripted(vec![version(), attach(), Rwrite { count: 0 }]).unwrap();
    assert!(matches!(c.clunk(0), Err(ClientError::Protocol(_))));
    assert!(c.is_broken());
}

#[test]
fn a_write_keeps_what_was_read_ahead_of_other_files() {
    let mut c = client(Dialect::L, usize::MAX, 16);
    c.write_file("one", b"first file").unwrap();
    c.write_file("three", b"").unwrap();
    let one = c.walk("one").unwrap();
    c.open(one, OpenMode::READ).unwrap();
    let three = c.walk("three").unwrap();
    c.open(three, OpenMode::WRITE).unwrap();
    assert!(c.file_of(one).is_some() && c.file_of(one) != c.file_of(three));
    // A copy from one file to another: the read sent ahead stays.
    c.read_ahead(one, 0, 100).unwrap();
    c.write(three, 0, b"x").unwrap();
    let sent = c.transport_mut().replies;
    let mut buf = [0u8; 100];
    let n = c.read(one, 0, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"first file");
    assert_eq!(c.transport_mut().replies, sent, "answered by the read sent ahead, not a new one");
    // A write to the same file through another fid drops it.
    let again = c.walk("one").unwrap();
    c.open(again, OpenMode::WRITE).unwrap();
    c.read_ahead(one, 0, 100).unwrap();
    c.write(again, 0, b"F").unwrap();
    let n = c.read(one, 0, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"First file");
    // Once clunked, a fid stands for no file.
    c.clunk(again).unwrap();
    assert_eq!(c.file_of(again), None);
}

/// A guard whose challenge is a counter and whose answer is the
/// challenge reversed (a stand-in for the cluster's HMAC).
struct Reverse(u8);

impl fs9p::server::Guard for Reverse {
    fn challenge(&mut self) -> Vec<u8> {
        self.0 += 1;
        vec![self.0, 1, 2, 3]
    }

    fn verify(&self, challenge: &[u8], answer: &[u8]) -> bool {
        challenge.iter().rev().eq(answer.iter())
    }
}

fn guarded_loop() -> Loop {
    Loop {
        session: Session::guarded(16, Box::new(Reverse(0))),
        fs: MemFs::default(),
        pending: Vec::new(),
        held: None,
        chunk: 7,
        replies: 0,
        fault: Fault::None,
        unanswered: 0,
        most_unanswered: 0,
    }
}

#[test]
fn a_guarded_session_attaches_only_clients_that_prove_themselves() {
    use fs9p::client::{ClientError, Ids};
    let reverse = |c: &[u8]| c.iter().rev().copied().collect::<Vec<u8>>();
    for dialect in [Dialect::L, Dialect::P2000] {
        // The answer holds: attached, and the files are there.
        let mut c = Client::connect_proving(guarded_loop(), dialect, 65536, "u", "", Ids::ALL, reverse).unwrap();
        c.write_file("/f", b"proven").unwrap();
        assert_eq!(c.read_file("/f").unwrap(), b"proven");
        // A wrong answer, and no answer at all: refused.
        let wrong = Client::connect_proving(guarded_loop(), dialect, 65536, "u", "", Ids::ALL, |c| c.to_vec());
        assert!(matches!(wrong.err(), Some(ClientError::Server(Error::Permission))), "{dialect:?}");
        let none = Client::connect(guarded_loop(), dialect, 65536, "u", "");
        assert!(matches!(none.err(), Some(ClientError::Server(Error::Permission))), "{dialect:?}");
    }
    // A server that asks for nothing says so to a client that offers proof
    // (in 9P2000.L's errno that is ENOENT, which NotFound shares).
    let open = Loop { session: Session::new(16), ..guarded_loop() };
    let r = Client::connect_proving(open, Dialect::P2000, 65536, "u", "", Ids::ALL, reverse);
    assert!(matches!(r.err(), Some(ClientError::Server(Error::NoAuthRequired))));
}

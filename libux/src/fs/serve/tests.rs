//! `Serve` with a fake transport and a small server: `/box` (a read waits
//! for the next write), `/motd` (text), `/gate` (an open waits until
//! `/box` was written).

use super::*;
use crate::fs::flags::{READ, WRITE};
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::ToString;
use alloc::vec;

#[derive(Default)]
struct Fake {
    next_slot: u64,
    /// Answers of saved calls, by slot, as text.
    answered: Vec<(u64, String)>,
    dropped: Vec<u64>,
    windows: BTreeMap<Pid, Vec<u8>>,
}

impl Transport for Fake {
    fn save(&mut self) -> Result<u64, Errno> {
        self.next_slot += 1;
        Ok(self.next_slot)
    }
    fn answer(&mut self, slot: u64, reply: &FsReply) {
        self.answered.push((slot, format!("{reply:?}")));
    }
    fn drop_call(&mut self, slot: u64) {
        self.dropped.push(slot);
    }
    fn window(&mut self, pid: Pid) -> Option<&mut [u8]> {
        Some(self.windows.entry(pid).or_insert_with(|| vec![0; 64]))
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Node {
    Box,
    Motd,
    Gate,
}

enum Wait {
    Box,
    Gate,
}

#[derive(Default)]
struct Toy {
    boxed: Vec<u8>,
    closed: Vec<Node>,
    ended: Vec<Pid>,
}

impl Files for Toy {
    type Node = Node;
    type Wait = Wait;
    const MAX_OPEN: usize = 3;
    const MAX_WAITING: usize = 2;

    fn open(&mut self, _: &Held<Self>, _: Pid, path: &str, _: u32) -> Result<Io<Node, Wait>, Errno> {
        match path.trim_matches('/') {
            "box" => Ok(Io::Now(Node::Box)),
            "motd" => Ok(Io::Now(Node::Motd)),
            "gate" if self.boxed.is_empty() => Ok(Io::Wait(Wait::Gate)),
            "gate" => Ok(Io::Now(Node::Gate)),
            _ => Err(Errno::NotFound),
        }
    }
    fn close(&mut self, node: Node) {
        self.closed.push(node);
    }
    fn read(
        &mut self,
        _: &Held<Self>,
        _: Pid,
        node: Node,
        offset: u64,
        into: &mut [u8],
    ) -> Result<Io<usize, Wait>, Errno> {
        match node {
            Node::Motd => Ok(Io::Now(text_into("hello\n", offset, into))),
            // Tried at once by `Serve`: answered now when there is data.
            Node::Box => Ok(Io::Wait(Wait::Box)),
            Node::Gate => Err(Errno::BadHandle),
        }
    }
    fn write(&mut self, _: Pid, node: Node, _: u64, data: &[u8]) -> Result<Io<u32, Wait>, Errno> {
        match node {
            Node::Box => {
                self.boxed.extend_from_slice(data);
                Ok(Io::Now(data.len() as u32))
            }
            _ => Err(Errno::NotPermitted),
        }
    }
    fn stat(&mut self, path: &str) -> Result<Entry, Errno> {
        Ok(Entry::new(crate::path::last_name(path), path == "/", 0))
    }
    fn list(&mut self, _: &str) -> Result<Vec<Entry>, Errno> {
        Ok((0..100).map(|i| Entry::new(format!("file{i:03}"), false, 0)).collect())
    }
    fn remove(&mut self, path: &str) -> Result<Option<Node>, Errno> {
        (path == "/motd").then_some(Some(Node::Motd)).ok_or(Errno::NotPermitted)
    }
    fn retry(&mut self, _: Pid, wait: &mut Wait, into: &mut [u8]) -> Option<Result<Done<Node>, Errno>> {
        if self.boxed.is_empty() {
            return None;
        }
        Some(Ok(match wait {
            Wait::Gate => Done::Opened(Node::Gate),
            Wait::Box => {
                let n = self.boxed.len().min(into.len());
                into[..n].copy_from_slice(&self.boxed[..n]);
                self.boxed.drain(..n);
                Done::Read(n)
            }
        }))
    }
    fn ended(&mut self, pids: &[Pid]) {
        self.ended.extend_from_slice(pids);
    }
}

fn serve() -> Serve<Toy, Fake> {
    Serve::new(Toy::default(), Fake::default())
}

/// The reply to a call answered at once, as text.
fn now(s: &mut Serve<Toy, Fake>, pid: Pid, req: FsRequest) -> String {
    let out = s.call(pid, req).expect("answered now");
    format!("{:?}", s.reply(&out))
}

fn open(s: &mut Serve<Toy, Fake>, pid: Pid, path: &str) -> Handle {
    match s.call(pid, FsRequest::Open { path, flags: READ | WRITE }) {
        Some(Ok(Out::Answer(Answer::Handle(h)))) => h,
        _ => panic!("open {path}"),
    }
}

#[test]
fn files_open_read_and_close() {
    let mut s = serve();
    let h = open(&mut s, 1, "/motd");
    assert_eq!(now(&mut s, 1, FsRequest::Read { handle: h, offset: 1, count: 3 }), "Ok(Data([101, 108, 108]))");
    // Another process's handles are not ours.
    assert_eq!(now(&mut s, 2, FsRequest::Read { handle: h, offset: 0, count: 3 }), "Err(BadHandle)");
    assert_eq!(now(&mut s, 1, FsRequest::Close { handle: h }), "Ok(Done)");
    assert_eq!(s.files.closed, [Node::Motd]);
    assert_eq!(now(&mut s, 1, FsRequest::Read { handle: h, offset: 0, count: 3 }), "Err(BadHandle)");
    assert_eq!(now(&mut s, 1, FsRequest::Open { path: "/nope", flags: READ }), "Err(NotFound)");
}

#[test]
fn a_handle_does_what_it_was_opened_for() {
    let mut s = serve();
    let Some(Ok(Out::Answer(Answer::Handle(r)))) = s.call(1, FsRequest::Open { path: "/box", flags: READ }) else {
        panic!("open");
    };
    assert_eq!(now(&mut s, 1, FsRequest::Write { handle: r, offset: 0, data: b"x" }), "Err(BadHandle)");
    assert_eq!(now(&mut s, 1, FsRequest::Truncate { handle: r, size: 0 }), "Err(BadHandle)");
    let Some(Ok(Out::Answer(Answer::Handle(w)))) = s.call(1, FsRequest::Open { path: "/motd", flags: WRITE }) else {
        panic!("open");
    };
    assert_eq!(now(&mut s, 1, FsRequest::Read { handle: w, offset: 0, count: 1 }), "Err(BadHandle)");
}

#[test]
fn a_client_holds_at_most_max_open() {
    let mut s = serve();
    for _ in 0..3 {
        open(&mut s, 1, "/motd");
    }
    assert_eq!(now(&mut s, 1, FsRequest::Open { path: "/motd", flags: READ }), "Err(TooMany)");
    open(&mut s, 2, "/motd");
}

#[test]
fn a_read_that_waits_is_answered_when_it_can_be() {
    let mut s = serve();
    let (r, w) = (open(&mut s, 1, "/box"), open(&mut s, 2, "/box"));
    assert!(s.call(1, FsRequest::Read { handle: r, offset: 0, count: 4 }).is_none());
    s.wake();
    assert!(s.io.answered.is_empty());
    assert_eq!(now(&mut s, 2, FsRequest::Write { handle: w, offset: 0, data: b"abcdef" }), "Ok(Count(6))");
    s.wake();
    assert_eq!(s.io.answered, [(1, "Ok(Data([97, 98, 99, 100]))".to_string())]);
    // Into the window, counted.
    assert_eq!(now(&mut s, 1, FsRequest::ReadWindow { handle: r, offset: 0, count: 64, at: 0 }), "Ok(Count(2))");
    assert_eq!(&s.io.windows[&1][..2], b"ef");
    // A read into a part of the window that waits lands there.
    assert!(s.call(1, FsRequest::ReadWindow { handle: r, offset: 0, count: 64, at: 32 }).is_none());
    assert_eq!(now(&mut s, 2, FsRequest::Write { handle: w, offset: 0, data: b"gh" }), "Ok(Count(2))");
    s.wake();
    assert_eq!(s.io.answered[1], (2, "Ok(Count(2))".to_string()));
    assert_eq!((&s.io.windows[&1][..2], &s.io.windows[&1][32..34]), (&b"ef"[..], &b"gh"[..]));
    assert_eq!(
        now(&mut s, 1, FsRequest::ReadWindow { handle: r, offset: 0, count: 1, at: 64 }),
        "Err(InvalidArgument)"
    );
}

#[test]
fn a_second_read_where_one_waits_takes_its_place() {
    let mut s = serve();
    let r = open(&mut s, 1, "/box");
    assert!(s.call(1, FsRequest::Read { handle: r, offset: 0, count: 4 }).is_none());
    assert!(s.call(1, FsRequest::ReadWindow { handle: r, offset: 0, count: 4, at: 0 }).is_none());
    assert_eq!(s.io.answered, [(1, "Err(Interrupted)".to_string())]);
    // Another process's read on its own handle is no restart.
    let r2 = open(&mut s, 2, "/box");
    assert!(s.call(2, FsRequest::Read { handle: r2, offset: 0, count: 4 }).is_none());
    assert_eq!(s.io.answered.len(), 1);
    assert_eq!(now(&mut s, 1, FsRequest::Cancel { handle: r }), "Ok(Count(1))");
    assert_eq!(now(&mut s, 1, FsRequest::Cancel { handle: r }), "Ok(Count(0))");
    assert_eq!(s.io.answered[1], (2, "Err(Interrupted)".to_string()));
    assert_eq!(s.held().waiting().count(), 1);
}

#[test]
fn an_open_that_waits_gets_its_handle_when_it_can() {
    let mut s = serve();
    assert!(s.call(1, FsRequest::Open { path: "/gate", flags: READ }).is_none());
    let w = open(&mut s, 2, "/box");
    now(&mut s, 2, FsRequest::Write { handle: w, offset: 0, data: b"x" });
    s.wake();
    let (slot, reply) = &s.io.answered[0];
    assert_eq!(*slot, 1);
    let h: Handle = reply.strip_prefix("Ok(Handle(").and_then(|r| r.strip_suffix("))")).unwrap().parse().unwrap();
    assert_eq!(s.held().nodes_of(1).collect::<Vec<_>>(), [Node::Gate]);
    assert_eq!(now(&mut s, 1, FsRequest::Close { handle: h }), "Ok(Done)");
}

#[test]
fn what_an_ended_process_held_goes() {
    let mut s = serve();
    let (a, _) = (open(&mut s, 1, "/box"), open(&mut s, 1, "/motd"));
    open(&mut s, 2, "/motd");
    assert!(s.call(1, FsRequest::Read { handle: a, offset: 0, count: 4 }).is_none());
    assert_eq!(s.held().pids(), [1, 2]);
    s.ended(&[1]);
    assert_eq!(s.io.dropped, [1]);
    assert_eq!(s.files.closed, [Node::Box, Node::Motd]);
    assert_eq!(s.files.ended, [1]);
    assert_eq!(s.held().pids(), [2]);
    assert!(s.io.answered.is_empty());
}

#[test]
fn listings_come_in_pages() {
    let mut s = serve();
    let mut from = 0;
    let mut names = Vec::new();
    loop {
        let Some(Ok(Out::Answer(Answer::Entries(page, more)))) = s.call(1, FsRequest::List { path: "/", from }) else {
            panic!("list");
        };
        assert!(!page.is_empty());
        from += page.len() as u32;
        names.extend(page.into_iter().map(|e| e.name));
        if !more {
            break;
        }
    }
    assert_eq!(names.len(), 100);
    assert!(from > 0 && names[99] == "file099");
}

#[test]
fn a_removed_file_takes_its_handles() {
    let mut s = serve();
    let (m, b) = (open(&mut s, 1, "/motd"), open(&mut s, 1, "/box"));
    assert_eq!(now(&mut s, 1, FsRequest::Remove { path: "/motd" }), "Ok(Done)");
    assert_eq!(now(&mut s, 1, FsRequest::Read { handle: m, offset: 0, count: 1 }), "Err(BadHandle)");
    assert_eq!(now(&mut s, 1, FsRequest::Write { handle: b, offset: 0, data: b"y" }), "Ok(Count(1))");
    assert_eq!(now(&mut s, 1, FsRequest::Mkdir { path: "/d" }), "Err(NotPermitted)");
}

#[test]
fn a_window_write_beyond_the_window_is_refused() {
    let mut s = serve();
    let b = open(&mut s, 1, "/box");
    assert_eq!(
        now(&mut s, 1, FsRequest::WriteWindow { handle: b, offset: 0, count: 65, at: 0 }),
        "Err(InvalidArgument)"
    );
    s.io.window(1).unwrap()[..2].copy_from_slice(b"hi");
    assert_eq!(now(&mut s, 1, FsRequest::WriteWindow { handle: b, offset: 0, count: 2, at: 0 }), "Ok(Count(2))");
    assert_eq!(s.files.boxed, b"hi");
    assert_eq!(
        now(&mut s, 1, FsRequest::WriteWindow { handle: b, offset: 0, count: 8, at: 60 }),
        "Err(InvalidArgument)"
    );
    s.io.window(1).unwrap()[62..].copy_from_slice(b"yo");
    assert_eq!(now(&mut s, 1, FsRequest::WriteWindow { handle: b, offset: 0, count: 2, at: 62 }), "Ok(Count(2))");
    assert_eq!(s.files.boxed, b"hiyo");
}

/// Any sequence of calls from a few clients: no panic, no handle beyond
/// the limit, and every call that waited answered or dropped exactly
/// once by the time its client ended.
#[test]
fn every_waiting_call_is_answered_or_dropped_once() {
    let mut s = serve();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let paths = ["/box", "/motd", "/gate", "/nope", "/"];
    for round in 0..20_000 {
        let pid = 1 + next(3) as Pid;
        let handle = next(8) as Handle;
        let path = paths[next(paths.len() as u64) as usize];
        // Reads outnumber writes, so that reads wait.
        let req = match next(12) {
            0 => FsRequest::Open { path, flags: [READ, WRITE, READ | WRITE][next(3) as usize] },
            1 => FsRequest::Close { handle },
            2 | 9 | 10 => FsRequest::Read { handle, offset: next(8), count: next(70) as u32 },
            3 | 11 => FsRequest::ReadWindow { handle, offset: 0, count: next(70) as u32, at: next(70) as u32 },
            4 => FsRequest::Write { handle, offset: 0, data: b"data" },
            5 => FsRequest::WriteWindow { handle, offset: 0, count: next(70) as u32, at: next(70) as u32 },
            6 => FsRequest::Cancel { handle },
            7 => FsRequest::Remove { path },
            _ => FsRequest::List { path, from: next(120) as u32 },
        };
        let _ = s.call(pid, req);
        s.wake();
        if round % 997 == 0 {
            s.ended(&[pid]);
        }
        for pid in 1..4 {
            assert!(s.held().nodes_of(pid).count() <= Toy::MAX_OPEN);
        }
    }
    s.ended(&[1, 2, 3]);
    assert_eq!(s.held().pids(), [] as [Pid; 0]);
    let mut settled: Vec<u64> =
        s.io.answered.iter().map(|(slot, _)| *slot).chain(s.io.dropped.iter().copied()).collect();
    settled.sort_unstable();
    let all: Vec<u64> = (1..=s.io.next_slot).collect();
    assert_eq!(settled, all, "each saved call settled exactly once");
    assert!(s.io.next_slot > 50, "calls waited: {}", s.io.next_slot);
}

#[test]
fn an_open_that_waits_holds_a_handles_place() {
    let mut s = serve();
    open(&mut s, 1, "/box");
    assert!(s.call(1, FsRequest::Open { path: "/gate", flags: READ }).is_none());
    open(&mut s, 1, "/motd");
    // Two handles and one open waiting: the limit of three is reached.
    assert_eq!(now(&mut s, 1, FsRequest::Open { path: "/motd", flags: READ }), "Err(TooMany)");
    let w = open(&mut s, 2, "/box");
    now(&mut s, 2, FsRequest::Write { handle: w, offset: 0, data: b"x" });
    s.wake();
    assert!(s.io.answered[0].1.starts_with("Ok(Handle("), "{:?}", s.io.answered);
    assert_eq!(s.held().nodes_of(1).count(), 3);
}

#[test]
fn a_restarted_open_is_known_however_it_is_spelled() {
    let mut s = serve();
    assert!(s.call(1, FsRequest::Open { path: "/gate", flags: READ }).is_none());
    assert!(s.call(1, FsRequest::Open { path: "//gate/", flags: READ }).is_none());
    assert_eq!(s.io.answered, [(1, "Err(Interrupted)".to_string())]);
    assert_eq!(s.held().waiting().count(), 1);
}

#[test]
fn a_client_may_have_only_so_many_calls_waiting() {
    let mut s = serve();
    let handles: Vec<Handle> = (0..3).map(|_| open(&mut s, 1, "/box")).collect();
    assert!(s.call(1, FsRequest::Read { handle: handles[0], offset: 0, count: 1 }).is_none());
    assert!(s.call(1, FsRequest::Read { handle: handles[1], offset: 0, count: 1 }).is_none());
    assert_eq!(now(&mut s, 1, FsRequest::Read { handle: handles[2], offset: 0, count: 1 }), "Err(Busy)");
    // Others still wait.
    let other = open(&mut s, 2, "/box");
    assert!(s.call(2, FsRequest::Read { handle: other, offset: 0, count: 1 }).is_none());
}

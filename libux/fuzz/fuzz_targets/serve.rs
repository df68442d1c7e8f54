//! The file-server loop (`libux::fs::serve`) takes whatever clients send:
//! any sequence of requests from a few clients, decoded from the bytes,
//! must give answers, never a panic, keep each client within its handle
//! limit, and settle every call that waited exactly once (answered, or
//! dropped when its client ends).
#![no_main]
use libfuzzer_sys::fuzz_target;
use libux::fs::serve::{Done, Files, Held, Io, Serve, Transport};
use libux::fs::server::Entry;
use libux::fs::{decode_request, FsReply};
use libux::rpc::{Errno, Pid};
use std::collections::BTreeMap;

#[derive(Default)]
struct Fake {
    saved: u64,
    settled: Vec<u64>,
    windows: BTreeMap<Pid, Vec<u8>>,
}

impl Transport for Fake {
    fn save(&mut self) -> Result<u64, Errno> {
        self.saved += 1;
        Ok(self.saved)
    }
    fn answer(&mut self, slot: u64, _: &FsReply) {
        self.settled.push(slot);
    }
    fn drop_call(&mut self, slot: u64) {
        self.settled.push(slot);
    }
    fn window(&mut self, pid: Pid) -> Option<&mut [u8]> {
        Some(self.windows.entry(pid).or_insert_with(|| vec![0; 4096]))
    }
}

/// `/pipe`: reads wait for writes; `/gate`: an open waits for a write.
#[derive(Default)]
struct Pipe {
    bytes: Vec<u8>,
}

impl Files for Pipe {
    type Node = u8;
    type Wait = bool;
    const MAX_OPEN: usize = 4;

    fn open(&mut self, _: &Held<Self>, _: Pid, path: &str, _: u32) -> Result<Io<u8, bool>, Errno> {
        match path {
            "/pipe" => Ok(Io::Now(0)),
            "/gate" if self.bytes.is_empty() => Ok(Io::Wait(true)),
            "/gate" => Ok(Io::Now(1)),
            _ => Err(Errno::NotFound),
        }
    }
    fn read(&mut self, _: &Held<Self>, pid: Pid, _: u8, _: u64, into: &mut [u8]) -> Result<Io<usize, bool>, Errno> {
        Ok(match self.retry(pid, &mut false, into) {
            Some(Ok(Done::Read(n))) => Io::Now(n),
            _ => Io::Wait(false),
        })
    }
    fn write(&mut self, _: Pid, _: u8, _: u64, data: &[u8]) -> Result<Io<u32, bool>, Errno> {
        self.bytes.extend_from_slice(data);
        Ok(Io::Now(data.len() as u32))
    }
    fn stat(&mut self, path: &str) -> Result<Entry, Errno> {
        Ok(Entry::new(path, false, 0))
    }
    fn list(&mut self, _: &str) -> Result<Vec<Entry>, Errno> {
        Ok((0..40).map(|i| Entry::new(format!("{i}"), false, 0)).collect())
    }
    fn retry(&mut self, _: Pid, opening: &mut bool, into: &mut [u8]) -> Option<Result<Done<u8>, Errno>> {
        if self.bytes.is_empty() {
            return None;
        }
        if *opening {
            return Some(Ok(Done::Opened(1)));
        }
        let n = self.bytes.len().min(into.len());
        into[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes.drain(..n);
        Some(Ok(Done::Read(n)))
    }
}

fuzz_target!(|data: &[u8]| {
    let mut s = Serve::new(Pipe::default(), Fake::default());
    let mut rest = data;
    // Each call: a byte naming the client (and whether it ends after),
    // a length byte, and that many bytes of request.
    while let [who, len, tail @ ..] = rest {
        let len = (*len as usize).min(tail.len());
        let (bytes, after) = tail.split_at(len);
        rest = after;
        let pid = 1 + (who & 3) as Pid;
        if let Ok(req) = decode_request(bytes) {
            let _ = s.call(pid, req);
        }
        s.wake();
        if who & 0x80 != 0 {
            s.ended(&[pid]);
        }
        assert!(s.held().nodes_of(pid).count() <= Pipe::MAX_OPEN);
    }
    s.ended(&[1, 2, 3, 4]);
    let mut settled = s.io.settled.clone();
    settled.sort_unstable();
    assert!(settled.iter().copied().eq(1..=s.io.saved), "every saved call settled once");
});

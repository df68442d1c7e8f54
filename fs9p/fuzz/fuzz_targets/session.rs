//! Any bytes a 9P client sends, split into frames, reach a session that
//! runs reads and writes of some files apart, and opens and walks
//! (`handle_apart`):
//! no panic, every reply the session writes decodes, jobs and lookups
//! finish in any order, requests that waited behind one come back,
//! and the number of jobs in flight stays within its bound.
#![no_main]
use fs9p::server::{Changes, Filesystem, Handled, IoOp, Make, Meta, Session, User, MAX_IN_FLIGHT, MAX_MSIZE};
use fs9p::{decode, frame_len, Dialect, Error, OpenMode};
use libfuzzer_sys::fuzz_target;

/// A root with a plain file `f` and a device `dev` (run apart).
struct Fs;

impl Filesystem for Fs {
    type Node = u8;
    type File = u8;
    type Io = u8;

    fn io(&mut self, file: &u8) -> Option<u8> {
        (*file == 2).then_some(2)
    }
    fn may_wait(&self, node: &u8) -> bool {
        *node != 1
    }
    fn walk_may_wait(&self, _: &u8, names: &[&str]) -> bool {
        names.first() == Some(&"dev")
    }
    fn attach(&mut self, _: User, _: &str) -> Result<(u8, Meta), Error> {
        Ok((0, self.meta(&0)?))
    }
    fn walk(&mut self, dir: &u8, name: &str) -> Result<(u8, Meta), Error> {
        let node = match (dir, name) {
            (_, "..") | (0, "") => 0,
            (0, "f") => 1,
            (0, "dev") => 2,
            _ => return Err(Error::NotFound),
        };
        Ok((node, self.meta(&node)?))
    }
    fn meta(&mut self, node: &u8) -> Result<Meta, Error> {
        Ok(if *node == 0 { Meta::dir(0, 0, 0o755, "/") } else { Meta::file(*node as u64, 0, 0o644, 5, "n") })
    }
    fn open(&mut self, node: &u8, _: OpenMode) -> Result<(u8, Meta), Error> {
        Ok((*node, self.meta(node)?))
    }
    fn read(&mut self, _: &mut u8, offset: u64, buf: &mut [u8]) -> Result<usize, Error> {
        let data = b"hello";
        let from = (offset as usize).min(data.len());
        let n = buf.len().min(data.len() - from);
        buf[..n].copy_from_slice(&data[from..from + n]);
        Ok(n)
    }
    fn write(&mut self, _: &mut u8, _: u64, data: &[u8]) -> Result<usize, Error> {
        Ok(data.len())
    }
    fn create(&mut self, _: &u8, _: &str, _: u32, _: Option<u32>, _: OpenMode) -> Result<(u8, u8, Meta), Error> {
        Err(Error::Permission)
    }
    fn make(&mut self, _: &u8, _: &str, _: Make, _: u32, _: Option<u32>) -> Result<(u8, Meta), Error> {
        Err(Error::Permission)
    }
    fn remove(&mut self, _: &u8) -> Result<(), Error> {
        Err(Error::Permission)
    }
    fn list(&mut self, _: &u8) -> Result<Vec<Meta>, Error> {
        Ok(vec![self.meta(&1)?, self.meta(&2)?])
    }
    fn rename(&mut self, _: &u8, _: &u8, _: &str) -> Result<(), Error> {
        Err(Error::Permission)
    }
    fn setattr(&mut self, _: &u8, _: &Changes) -> Result<(), Error> {
        Ok(())
    }
}

/// Half the runs ask for proof: the challenge is `[7]`, the answer `[9]`.
struct Seven;

impl fs9p::server::Guard for Seven {
    fn challenge(&mut self) -> Vec<u8> {
        vec![7]
    }
    fn verify(&self, _: &[u8], answer: &[u8]) -> bool {
        answer == [9]
    }
}

fuzz_target!(|data: &[u8]| {
    let mut s: Session<u8, u8, u8> =
        if data.first().is_some_and(|b| b & 1 == 1) { Session::guarded(16, Box::new(Seven)) } else { Session::new(16) };
    let mut out = vec![0u8; MAX_MSIZE as usize];
    let mut jobs = Vec::new();
    let mut opens = Vec::new();
    let mut rest = data;
    while let Ok(Some(len)) = frame_len(rest, 1 << 16) {
        if len > rest.len() {
            break;
        }
        let (frame, more) = rest.split_at(len);
        rest = more;
        let msize = s.msize() as usize;
        let mut handled = Some(s.handle_apart(&mut Fs, frame, &mut out[..msize]));
        while let Some(h) = handled {
            match h {
                Handled::Reply(n) => {
                    assert!(decode(&out[..n], Dialect::L).is_ok() || decode(&out[..n], Dialect::P2000).is_ok())
                }
                Handled::Io(job) => jobs.push(job),
                Handled::Lookup(job) => opens.push(job),
                Handled::Waits => {}
                Handled::Cancel { oldtag, .. } => {
                    jobs.retain(|j| j.tag != oldtag);
                    s.finish(oldtag);
                }
            }
            // Every other lookup ends, the oldest first; what waited comes back.
            if opens.len() % 2 == 0 && !opens.is_empty() {
                let job = opens.remove(0);
                let r = job.run(&mut Fs);
                if let Some(n) = s.lookup_done(job, r, &mut out[..msize]) {
                    assert!(decode(&out[..n], Dialect::L).is_ok() || decode(&out[..n], Dialect::P2000).is_ok());
                }
            }
            handled = s.resume(&mut Fs, &mut out[..msize]);
        }
        assert!(s.in_flight() <= MAX_IN_FLIGHT);
        // Every other job ends, the latest first.
        if jobs.len() % 2 == 0 {
            if let Some(job) = jobs.pop() {
                let r = match &job.op {
                    IoOp::Read { .. } => Ok(job.read_area(&mut out).len().min(3)),
                    IoOp::Write { data } => Ok(data.len()),
                };
                let n = job.reply(&mut out, r);
                assert!(decode(&out[..n], Dialect::L).is_ok() || decode(&out[..n], Dialect::P2000).is_ok());
                s.finish(job.tag);
            }
        }
    }
});

//! The server session (`fs9p::server`) message by message: requests as
//! bytes in, replies decoded, against a file system that records what
//! reaches it. Untrusted clients speak to this code, so each limit and
//! check is tried on both sides.

use fs9p::server::{
    rflush, Changes, Filesystem, Handled, IoOp, Make, Meta, Session, SetTime, Time, User, DMDIR, MAX_IN_FLIGHT,
    MAX_LOOKUPS_APART, MAX_MSIZE,
};
use fs9p::*;
use std::collections::BTreeMap;

/// Files by path ("" is the root, `None` a directory), and what was
/// asked of them.
#[derive(Default)]
struct Fs {
    files: BTreeMap<String, Option<Vec<u8>>>,
    opens: Vec<(String, OpenMode)>,
    changes: Vec<(String, Changes)>,
    /// Path, directory or not, permission bits.
    creates: Vec<(String, bool, u32)>,
    renames: Vec<(String, String, String)>,
    /// Opens and walks run apart (`Filesystem::lookups_apart`).
    lookups_apart: bool,
}

fn child(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

impl Filesystem for Fs {
    type Node = String;
    type File = String;
    /// Files named `dev...` are read and written apart, like devices.
    type Io = String;

    fn io(&mut self, file: &String) -> Option<String> {
        file.starts_with("dev").then(|| file.clone())
    }

    fn may_wait(&self, node: &String) -> bool {
        self.lookups_apart && node.contains("listen")
    }

    fn walk_may_wait(&self, _: &String, _: &[&str]) -> bool {
        self.lookups_apart
    }

    fn attach(&mut self, _: User, aname: &str) -> Result<(String, Meta), Error> {
        if aname == "refused" {
            return Err(Error::Permission);
        }
        self.files.entry(String::new()).or_insert(None);
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
        let f = self.files.get(node).ok_or(Error::NotFound)?;
        let name = node.rsplit('/').next().unwrap_or("");
        let mut m = match f {
            None => Meta::dir(node.len() as u64, 0, 0o755, name),
            Some(d) => Meta::file(node.len() as u64, 0, 0o640, d.len() as u64, name),
        };
        (m.atime, m.mtime, m.ctime) = (Time::from_secs(1_000), Time::from_secs(1_000), Time::from_secs(1_000));
        Ok(m)
    }
    fn open(&mut self, node: &String, mode: OpenMode) -> Result<(String, Meta), Error> {
        self.opens.push((node.clone(), mode));
        Ok((node.clone(), self.meta(node)?))
    }
    fn read(&mut self, node: &mut String, offset: u64, buf: &mut [u8]) -> Result<usize, Error> {
        let d = self.files[node.as_str()].as_ref().ok_or(Error::IsDir)?;
        let from = (offset as usize).min(d.len());
        let n = buf.len().min(d.len() - from);
        buf[..n].copy_from_slice(&d[from..from + n]);
        Ok(n)
    }
    fn write(&mut self, node: &mut String, offset: u64, data: &[u8]) -> Result<usize, Error> {
        let d = self.files.get_mut(node.as_str()).unwrap().as_mut().ok_or(Error::IsDir)?;
        let end = offset as usize + data.len();
        d.resize(d.len().max(end), 0);
        d[offset as usize..end].copy_from_slice(data);
        Ok(data.len())
    }
    fn create(
        &mut self,
        dir: &String,
        name: &str,
        perm: u32,
        _: Option<u32>,
        mode: OpenMode,
    ) -> Result<(String, String, Meta), Error> {
        let p = child(dir, name);
        self.creates.push((p.clone(), false, perm));
        if self.files.contains_key(&p) {
            return Err(Error::Exists);
        }
        self.files.insert(p.clone(), Some(Vec::new()));
        let (file, meta) = self.open(&p, mode)?;
        Ok((p, file, meta))
    }
    fn make(
        &mut self,
        dir: &String,
        name: &str,
        what: Make,
        perm: u32,
        _: Option<u32>,
    ) -> Result<(String, Meta), Error> {
        if what != Make::Dir {
            return Err(Error::NotSupported);
        }
        let p = child(dir, name);
        self.creates.push((p.clone(), true, perm));
        if self.files.contains_key(&p) {
            return Err(Error::Exists);
        }
        self.files.insert(p.clone(), None);
        Ok((p.clone(), self.meta(&p)?))
    }
    fn remove(&mut self, node: &String) -> Result<(), Error> {
        let prefix = format!("{node}/");
        if self.files.keys().any(|k| k.starts_with(&prefix)) {
            return Err(Error::NotEmpty);
        }
        self.files.remove(node).map(drop).ok_or(Error::NotFound)
    }
    fn list(&mut self, dir: &String) -> Result<Vec<Meta>, Error> {
        let in_dir = |k: &String| !k.is_empty() && k.rsplit_once('/').map_or("", |(p, _)| p) == dir.as_str();
        let names: Vec<String> = self.files.keys().filter(|k| in_dir(k)).cloned().collect();
        names.iter().map(|n| self.meta(n)).collect()
    }
    fn rename(&mut self, node: &String, to: &String, name: &str) -> Result<(), Error> {
        self.renames.push((node.clone(), to.clone(), name.to_string()));
        Ok(())
    }
    fn setattr(&mut self, node: &String, changes: &Changes) -> Result<(), Error> {
        self.changes.push((node.clone(), *changes));
        Ok(())
    }
}

/// A session with `max_fids` fids and a file system holding `/d/f`
/// ("hello") and `/e` (empty).
struct T {
    s: Session<String, String, String>,
    fs: Fs,
    dialect: Dialect,
}

impl T {
    fn new(dialect: Dialect, max_fids: usize) -> T {
        let mut fs = Fs::default();
        fs.files.insert(String::new(), None);
        fs.files.insert("d".into(), None);
        fs.files.insert("d/f".into(), Some(b"hello".to_vec()));
        fs.files.insert("e".into(), Some(Vec::new()));
        let mut t = T { s: Session::new(max_fids), fs, dialect };
        let version = dialect.version();
        assert_eq!(t.call(Msg::Tversion { msize: 8192, version }), Msg::Rversion { msize: 8192, version });
        t
    }

    /// Sends raw request bytes; returns the reply's tag and message. The
    /// reply buffer is msize bytes, the least `handle` takes; its bytes
    /// are leaked (they are small) so that replies outlive later calls.
    fn raw(&mut self, request: &[u8]) -> (u16, Msg<'static>) {
        let mut reply = vec![0u8; self.s.msize() as usize];
        let n = self.s.handle(&mut self.fs, request, &mut reply);
        reply.truncate(n);
        let f = decode(Vec::leak(reply), self.dialect).expect("the reply decodes");
        (f.tag, f.msg)
    }

    fn call(&mut self, msg: Msg) -> Msg<'static> {
        let mut req = vec![0u8; 1 << 17];
        let n = encode(&Frame { tag: 5, msg }, &mut req).unwrap();
        let (tag, reply) = self.raw(&req[..n]);
        assert_eq!(tag, 5, "the reply carries the request's tag");
        reply
    }

    /// The error a call failed with, in either dialect's words.
    fn err(&mut self, msg: Msg) -> Error {
        match self.call(msg) {
            Msg::Rerror { ename } => Error::from_message(ename),
            Msg::Rlerror { ecode } => Error::from_errno(ecode),
            other => panic!("not an error: {other:?}"),
        }
    }

    fn attach(&mut self, fid: u32) {
        let m = Msg::Tattach { fid, afid: NOFID, uname: "u", aname: "", n_uname: self.l() };
        assert!(matches!(self.call(m), Msg::Rattach { .. }));
    }

    fn walk(&mut self, fid: u32, newfid: u32, path: &[&'static str]) -> Msg<'static> {
        self.call(Msg::Twalk { fid, newfid, wnames: path.iter().copied().collect() })
    }

    fn l(&self) -> Option<u32> {
        (self.dialect == Dialect::L).then_some(0)
    }
}

#[test]
fn version_negotiation() {
    let mut t = T::new(Dialect::P2000, 8);
    // msize is clamped to what the server allows, both ways.
    assert_eq!(
        t.call(Msg::Tversion { msize: 100, version: "9P2000" }),
        Msg::Rversion { msize: 256, version: "9P2000" }
    );
    let huge = Msg::Tversion { msize: u32::MAX, version: "9P2000" };
    assert_eq!(t.call(huge), Msg::Rversion { msize: MAX_MSIZE, version: "9P2000" });
    assert_eq!(t.s.msize(), MAX_MSIZE);
    // An unknown version is answered "unknown" and changes nothing.
    t.attach(1);
    let other = Msg::Tversion { msize: 8192, version: "9P1" };
    assert_eq!(t.call(other), Msg::Rversion { msize: 8192, version: "unknown" });
    assert_eq!(t.err(Msg::Tclunk { fid: 1 }), Error::BadFid, "a new version drops every fid");
    assert!(matches!(t.call(Msg::Tclunk { fid: 1 }), Msg::Rerror { .. }), "still 9P2000");

    // Before any Tversion only Tversion is understood.
    let mut s: Session<String, String, String> = Session::new(8);
    let mut req = vec![0u8; 64];
    let n = encode(&Frame { tag: 3, msg: Msg::Tclunk { fid: 1 } }, &mut req).unwrap();
    let mut out = vec![0u8; 8192];
    let len = s.handle(&mut Fs::default(), &req[..n], &mut out);
    assert_eq!(
        decode(&out[..len], Dialect::P2000).unwrap(),
        Frame { tag: 3, msg: Msg::Rerror { ename: Error::Invalid.message() } }
    );
}

#[test]
fn errors_are_spelled_in_the_dialect_and_keep_the_tag() {
    let mut t = T::new(Dialect::L, 8);
    assert_eq!(t.call(Msg::Tclunk { fid: 9 }), Msg::Rlerror { ecode: 9 });
    let mut t = T::new(Dialect::P2000, 8);
    assert_eq!(t.call(Msg::Tclunk { fid: 9 }), Msg::Rerror { ename: Error::BadFid.message() });
    // Undecodable requests: the tag is read from the bytes when present.
    let mut req = vec![0u8; 64];
    let n = encode(&Frame { tag: 0x1234, msg: Msg::Tclunk { fid: 1 } }, &mut req).unwrap();
    req[4] = 106; // no such type
    assert_eq!(t.raw(&req[..n]), (0x1234, Msg::Rerror { ename: Error::NotSupported.message() }));
    req[4] = 120;
    req[0] = 99; // a size that lies
    assert_eq!(t.raw(&req[..n]), (0x1234, Msg::Rerror { ename: Error::Invalid.message() }));
    assert_eq!(t.raw(&[1, 0, 0, 0, 120]), (NOTAG, Msg::Rerror { ename: Error::Invalid.message() }));
    // A request over msize is refused even if it would decode; one of
    // exactly msize is not.
    t.attach(1);
    t.walk(1, 2, &["e"]);
    t.call(Msg::Topen { fid: 2, mode: 1 });
    let data = vec![7u8; 8192 - 22];
    let mut big = vec![0u8; 9000];
    let n = encode(&Frame { tag: 2, msg: Msg::Twrite { fid: 2, offset: 0, data: &data } }, &mut big).unwrap();
    assert_eq!(t.raw(&big[..n]), (2, Msg::Rerror { ename: Error::Invalid.message() }));
    let n = encode(&Frame { tag: 2, msg: Msg::Twrite { fid: 2, offset: 0, data: &data[1..] } }, &mut big).unwrap();
    assert_eq!((n, t.raw(&big[..n])), (8192, (2, Msg::Rwrite { count: 8192 - 23 })));
    // Replies are not requests; the Linux-only calls this server lacks.
    assert_eq!(t.err(Msg::Rclunk), Error::Invalid);
    let mut t = T::new(Dialect::L, 8);
    t.attach(1);
    assert_eq!(t.err(Msg::Treadlink { fid: 1 }), Error::NotSupported);
    assert_eq!(t.err(Msg::Txattrwalk { fid: 1, newfid: 2, name: "user.x" }), Error::NotSupported);
}

#[test]
fn attach_auth_and_the_fid_limit() {
    let mut t = T::new(Dialect::P2000, 2);
    assert_eq!(t.err(Msg::Tauth { afid: 1, uname: "u", aname: "", n_uname: None }), Error::NoAuthRequired);
    let refused = Msg::Tattach { fid: 1, afid: NOFID, uname: "u", aname: "refused", n_uname: None };
    assert_eq!(t.err(refused), Error::Permission);
    t.attach(1);
    assert_eq!(t.err(Msg::Tattach { fid: 1, afid: NOFID, uname: "u", aname: "", n_uname: None }), Error::FidInUse);
    // Two fids are allowed, a third is not; clunking one makes room.
    assert!(matches!(t.walk(1, 2, &["d"]), Msg::Rwalk { .. }));
    assert_eq!(t.err(Msg::Twalk { fid: 1, newfid: 3, wnames: Default::default() }), Error::TooManyFids);
    assert_eq!(t.call(Msg::Tclunk { fid: 2 }), Msg::Rclunk);
    assert!(matches!(t.walk(1, 3, &[]), Msg::Rwalk { wqids } if wqids.is_empty()));
}

#[test]
fn walks() {
    let mut t = T::new(Dialect::P2000, 8);
    t.attach(1);
    let dir = Qid { ty: Qid::DIR, version: 0, path: 1 };
    let file = Qid { ty: Qid::FILE, version: 0, path: 3 };
    let got = t.walk(1, 2, &["d", ".", "f"]);
    assert_eq!(got, Msg::Rwalk { wqids: [dir, dir, file].into_iter().collect() }, "`.` stays put");
    // A first name that fails is an error; a later one ends the walk
    // short, without making newfid.
    assert_eq!(t.err(Msg::Twalk { fid: 1, newfid: 3, wnames: ["x"].into_iter().collect() }), Error::NotFound);
    assert_eq!(t.walk(1, 3, &["d", "x", "f"]), Msg::Rwalk { wqids: [dir].into_iter().collect() });
    assert_eq!(t.err(Msg::Tclunk { fid: 3 }), Error::BadFid);
    assert_eq!(t.err(Msg::Twalk { fid: 7, newfid: 3, wnames: Default::default() }), Error::BadFid);
    // An open fid may be walked from, but not replaced.
    assert!(matches!(t.call(Msg::Topen { fid: 2, mode: 0 }), Msg::Ropen { .. }));
    assert_eq!(t.err(Msg::Twalk { fid: 2, newfid: 2, wnames: Default::default() }), Error::Invalid);
    assert!(matches!(t.walk(2, 4, &[]), Msg::Rwalk { .. }));
    assert!(matches!(t.walk(1, 1, &["d"]), Msg::Rwalk { .. }), "an unopened fid may move");
    assert_eq!(t.err(Msg::Twalk { fid: 1, newfid: 2, wnames: Default::default() }), Error::FidInUse);
}

#[test]
fn opens_reach_the_file_system_as_asked_and_bound_io() {
    let mut t = T::new(Dialect::P2000, 8);
    t.attach(1);
    t.walk(1, 2, &["d", "f"]);
    assert_eq!(
        t.call(Msg::Topen { fid: 2, mode: 1 }),
        Msg::Ropen { qid: Qid { path: 3, ..Qid::default() }, iounit: 8192 - 24 }
    );
    assert_eq!(t.fs.opens.last(), Some(&("d/f".to_string(), OpenMode::WRITE)));
    assert_eq!(t.err(Msg::Topen { fid: 2, mode: 0 }), Error::Invalid, "open once");
    // Write-only: reads are refused; writes go through.
    assert_eq!(t.err(Msg::Tread { fid: 2, offset: 0, count: 10 }), Error::BadFid);
    assert_eq!(t.call(Msg::Twrite { fid: 2, offset: 5, data: b"!" }), Msg::Rwrite { count: 1 });
    // Read-only: the reverse; reads are cut to the count asked.
    t.walk(1, 3, &["d", "f"]);
    t.call(Msg::Topen { fid: 3, mode: 0x10 });
    assert_eq!(t.fs.opens.last(), Some(&("d/f".to_string(), OpenMode::READ.truncated())));
    assert_eq!(t.err(Msg::Twrite { fid: 3, offset: 0, data: b"x" }), Error::BadFid);
    assert_eq!(t.call(Msg::Tread { fid: 3, offset: 1, count: 3 }), Msg::Rread { data: b"ell" });
    assert_eq!(t.call(Msg::Tread { fid: 3, offset: 0, count: 100 }), Msg::Rread { data: b"hello!" });
    // Unopened fids neither read nor write; directories open for reading only.
    t.walk(1, 4, &["d"]);
    assert_eq!(t.err(Msg::Tread { fid: 4, offset: 0, count: 1 }), Error::BadFid);
    assert_eq!(t.err(Msg::Twrite { fid: 4, offset: 0, data: b"x" }), Error::BadFid);
    assert_eq!(t.err(Msg::Topen { fid: 4, mode: 1 }), Error::IsDir);
    assert_eq!(t.err(Msg::Topen { fid: 4, mode: 0x10 }), Error::IsDir);
    assert_eq!(t.err(Msg::Topen { fid: 9, mode: 0 }), Error::BadFid);

    // 9P2000.L: the flags, and a read never exceeds the iounit.
    let mut t = T::new(Dialect::L, 8);
    t.fs.files.insert("e".into(), Some(vec![1; 9000]));
    t.attach(1);
    t.walk(1, 2, &["e"]);
    assert!(matches!(t.call(Msg::Tlopen { fid: 2, flags: 0o1002 }), Msg::Rlopen { iounit: 8168, .. }));
    assert_eq!(t.fs.opens.last(), Some(&("e".to_string(), OpenMode::READ_WRITE.truncated())));
    assert!(matches!(t.call(Msg::Tread { fid: 2, offset: 0, count: 9000 }), Msg::Rread { data } if data.len() == 8168));
    assert!(matches!(t.call(Msg::Tread { fid: 2, offset: 0, count: 8168 }), Msg::Rread { data } if data.len() == 8168));
}

#[test]
fn creates() {
    let mut t = T::new(Dialect::P2000, 8);
    t.attach(1);
    t.walk(1, 2, &["d"]);
    // The fid becomes the new file, open as asked but never truncated.
    let made = t.call(Msg::Tcreate { fid: 2, name: "g", perm: 0o644, mode: 0x11 });
    assert_eq!(made, Msg::Rcreate { qid: Qid { path: 3, ..Qid::default() }, iounit: 8168 });
    assert_eq!(t.fs.opens.last(), Some(&("d/g".to_string(), OpenMode::WRITE)));
    assert_eq!(t.call(Msg::Twrite { fid: 2, offset: 0, data: b"new" }), Msg::Rwrite { count: 3 });
    assert_eq!(t.fs.files["d/g"], Some(b"new".to_vec()));
    assert_eq!(t.err(Msg::Tcreate { fid: 2, name: "h", perm: 0o644, mode: 1 }), Error::Invalid, "already open");
    // A directory: DMDIR in perm; opened for reading whatever was asked.
    t.walk(1, 3, &["d"]);
    let made = t.call(Msg::Tcreate { fid: 3, name: "sub", perm: DMDIR | 0o755, mode: 2 });
    assert!(matches!(made, Msg::Rcreate { qid, .. } if qid.ty == Qid::DIR));
    assert_eq!(t.fs.opens.last(), Some(&("d/sub".to_string(), OpenMode::READ)));
    // The file system is given the permission bits alone.
    assert_eq!(t.fs.creates, [("d/g".to_string(), false, 0o644), ("d/sub".to_string(), true, 0o755)]);
    // Names: not empty, `.`, `..`, with a `/`, or longer than 255 bytes.
    let long = "n".repeat(256);
    for (name, e) in [("", Error::Invalid), (".", Error::Invalid), ("..", Error::Invalid), ("a/b", Error::Invalid)] {
        t.walk(1, 4, &["d"]);
        assert_eq!(t.err(Msg::Tcreate { fid: 4, name, perm: 0, mode: 0 }), e, "{name:?}");
        t.call(Msg::Tclunk { fid: 4 });
    }
    t.walk(1, 4, &["d"]);
    assert_eq!(t.err(Msg::Tcreate { fid: 4, name: &long, perm: 0, mode: 0 }), Error::NameTooLong);
    assert!(matches!(t.call(Msg::Tcreate { fid: 4, name: &long[..255], perm: 0, mode: 0 }), Msg::Rcreate { .. }));
    assert_eq!(t.err(Msg::Tcreate { fid: 9, name: "x", perm: 0, mode: 0 }), Error::BadFid);

    // 9P2000.L: Tlcreate opens with its flags; Tmkdir makes a directory.
    let mut t = T::new(Dialect::L, 8);
    t.attach(1);
    t.walk(1, 2, &[]);
    let made = t.call(Msg::Tlcreate { fid: 2, name: "w", flags: 1, mode: 0o600, gid: 0 });
    assert!(matches!(made, Msg::Rlcreate { iounit: 8168, .. }));
    assert_eq!(t.fs.opens.last(), Some(&("w".to_string(), OpenMode::WRITE)));
    t.walk(1, 3, &[]);
    t.call(Msg::Tlcreate { fid: 3, name: "x", flags: 0, mode: 0o100600 | 0o4000, gid: 0 });
    assert!(
        matches!(t.call(Msg::Tmkdir { dfid: 1, name: "m", mode: 0o700, gid: 0 }), Msg::Rmkdir { qid } if qid.ty == Qid::DIR)
    );
    assert_eq!(t.fs.files.get("m"), Some(&None));
    t.call(Msg::Tmkdir { dfid: 1, name: "m2", mode: 0o040700 | 0o1000, gid: 0 });
    let perms: Vec<u32> = t.fs.creates.iter().map(|c| c.2).collect();
    // Set-id and sticky bits go through; the kind bits do not.
    assert_eq!(perms, [0o600, 0o4600, 0o700, 0o1700]);
    assert_eq!(t.err(Msg::Tmkdir { dfid: 1, name: "..", mode: 0o700, gid: 0 }), Error::Invalid);
}

/// The stats a 9P2000 directory read returned: name, length, mode.
fn stats(data: &[u8]) -> Vec<(String, u64, u32)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let size = u16::from_le_bytes([data[at], data[at + 1]]) as usize + 2;
        let mut msg = vec![0u8; 9 + size];
        msg[..4].copy_from_slice(&((9 + size) as u32).to_le_bytes());
        msg[4] = 125; // Rstat
        msg[7..9].copy_from_slice(&(size as u16).to_le_bytes());
        msg[9..].copy_from_slice(&data[at..at + size]);
        let Msg::Rstat { stat } = decode(&msg, Dialect::P2000).unwrap().msg else { panic!() };
        out.push((stat.name.to_string(), stat.length, stat.mode));
        at += size;
    }
    out
}

/// 9P2000 directory reads: whole stat entries, continuing where the last
/// read ended.
#[test]
fn directory_reads_return_whole_stats_in_order() {
    let mut t = T::new(Dialect::P2000, 8);
    t.fs.files.insert("d/g".into(), Some(vec![0; 3]));
    t.attach(1);
    t.walk(1, 2, &["d"]);
    t.call(Msg::Topen { fid: 2, mode: 0 });
    // Room for one entry only: f, then g where f ended, then nothing.
    let Msg::Rread { data } = t.call(Msg::Tread { fid: 2, offset: 0, count: 60 }) else { panic!() };
    let first = data;
    assert_eq!(stats(first), [("f".to_string(), 5, 0o640)]);
    let at = first.len() as u64;
    assert_eq!(t.err(Msg::Tread { fid: 2, offset: at + 1, count: 60 }), Error::Invalid, "not where it ended");
    let Msg::Rread { data } = t.call(Msg::Tread { fid: 2, offset: at, count: 60 }) else { panic!() };
    let second = data;
    assert_eq!(stats(second), [("g".to_string(), 3, 0o640)]);
    assert_eq!(t.call(Msg::Tread { fid: 2, offset: at + second.len() as u64, count: 60 }), Msg::Rread { data: b"" });
    // A count of exactly one entry takes it; less than one takes none.
    let Msg::Rread { data } = t.call(Msg::Tread { fid: 2, offset: 0, count: first.len() as u32 }) else { panic!() };
    assert_eq!(data, first);
    assert_eq!(t.call(Msg::Tread { fid: 2, offset: 0, count: 10 }), Msg::Rread { data: b"" });
    // Offset 0 starts over; a large count takes both.
    let Msg::Rread { data } = t.call(Msg::Tread { fid: 2, offset: 0, count: 8000 }) else { panic!() };
    assert_eq!(data, [first, second].concat());
    // A directory's stat: DMDIR, length 0.
    t.walk(1, 3, &[]);
    t.call(Msg::Topen { fid: 3, mode: 0 });
    let Msg::Rread { data } = t.call(Msg::Tread { fid: 3, offset: 0, count: 8000 }) else { panic!() };
    let root = stats(data);
    assert_eq!(root[0], ("d".to_string(), 0, DMDIR | 0o755));
}

#[test]
fn readdir_starts_with_dot_and_dotdot_and_resumes_by_cookie() {
    let mut t = T::new(Dialect::L, 8);
    t.attach(1);
    t.walk(1, 2, &["d"]);
    assert_eq!(t.err(Msg::Treaddir { fid: 2, offset: 0, count: 100 }), Error::BadFid, "not open");
    t.call(Msg::Tlopen { fid: 2, flags: 0 });
    let names = |t: &mut T, offset, count| -> Result<Vec<(String, u64, u8)>, Error> {
        match t.call(Msg::Treaddir { fid: 2, offset, count }) {
            Msg::Rreaddir { data } => {
                Ok(codec::dirents(data).map(|d| d.unwrap()).map(|d| (d.name.to_string(), d.offset, d.ty)).collect())
            }
            Msg::Rlerror { ecode } => Err(Error::from_errno(ecode)),
            other => panic!("{other:?}"),
        }
    };
    let all = names(&mut t, 0, 8000).unwrap();
    assert_eq!(all, [(".".to_string(), 1, 4), ("..".to_string(), 2, 4), ("f".to_string(), 3, 8)]);
    assert_eq!(names(&mut t, 2, 8000).unwrap(), [("f".to_string(), 3, 8)]);
    assert_eq!(names(&mut t, 3, 8000).unwrap(), []);
    // Room for one entry (24 bytes + name) returns one; less is an error.
    assert_eq!(names(&mut t, 0, 25).unwrap().len(), 1);
    assert_eq!(names(&mut t, 0, 24), Err(Error::Invalid));
    t.walk(1, 3, &["d", "f"]);
    t.call(Msg::Tlopen { fid: 3, flags: 0 });
    assert_eq!(t.err(Msg::Treaddir { fid: 3, offset: 0, count: 100 }), Error::NotDir);
}

#[test]
fn stat_getattr_and_changes() {
    let mut t = T::new(Dialect::P2000, 8);
    t.fs.files.insert("big".into(), Some(vec![0; 1025]));
    t.attach(1);
    t.walk(1, 2, &["big"]);
    let Msg::Rstat { stat } = t.call(Msg::Tstat { fid: 2 }) else { panic!() };
    assert_eq!((stat.name, stat.length, stat.mode, stat.atime, stat.mtime), ("big", 1025, 0o640, 1_000, 1_000));
    assert_eq!((stat.qid, stat.uid, stat.gid, stat.muid), (Qid { path: 3, ..Qid::default() }, "ux", "ux", "ux"));
    // Twstat: a length truncates, a mode or a time is set; a name renames
    // within the parent; "don't touch" values change nothing; owners,
    // which 9P2000 names rather than numbers, are refused, not ignored.
    let keep = Stat { length: u64::MAX, mode: u32::MAX, atime: u32::MAX, mtime: u32::MAX, ..Stat::default() };
    assert_eq!(t.call(Msg::Twstat { fid: 2, stat: keep }), Msg::Rwstat);
    assert!(t.fs.changes.is_empty() && t.fs.renames.is_empty());
    assert_eq!(t.call(Msg::Twstat { fid: 2, stat: Stat { length: 7, name: "new", ..keep } }), Msg::Rwstat);
    let stat = Stat { mode: 0o600, mtime: 86_400, ..keep };
    assert_eq!(t.call(Msg::Twstat { fid: 2, stat }), Msg::Rwstat);
    let to_7 = Changes { size: Some(7), ..Changes::default() };
    let mode_and_time =
        Changes { mode: Some(0o600), mtime: Some(SetTime::At(Time::from_secs(86_400))), ..Changes::default() };
    assert_eq!(t.fs.changes, [("big".to_string(), to_7), ("big".to_string(), mode_and_time)]);
    assert_eq!(t.fs.renames, [("big".to_string(), String::new(), "new".to_string())]);
    assert_eq!(t.err(Msg::Twstat { fid: 2, stat: Stat { name: "a/b", ..keep } }), Error::Invalid);
    assert_eq!(t.err(Msg::Twstat { fid: 2, stat: Stat { uid: "glenda", ..keep } }), Error::NotSupported);
    assert_eq!(t.fs.changes.len(), 2);

    let mut t = T::new(Dialect::L, 8);
    t.fs.files.insert("big".into(), Some(vec![0; 1025]));
    t.attach(1);
    t.walk(1, 2, &["big"]);
    let Msg::Rgetattr(a) = t.call(Msg::Tgetattr { fid: 2, request_mask: 0x7ff }) else { panic!() };
    assert_eq!(
        (a.valid, a.qid, a.mode, a.size, a.blksize, a.blocks, a.nlink),
        (0x7ff, Qid { path: 3, ..Qid::default() }, 0o100640, 1025, 4096, 3, 1)
    );
    assert_eq!((a.atime_sec, a.mtime_sec, a.ctime_sec), (1_000, 1_000, 1_000));
    let Msg::Rgetattr(a) = t.call(Msg::Tgetattr { fid: 1, request_mask: 0x7ff }) else { panic!() };
    assert_eq!(a.mode, 0o040755);
    // Tsetattr passes on each change its valid bits name: a mode, a size,
    // times set to "now" or to the nanosecond, owners.
    let attr = SetAttr { valid: 0x1, mode: 0o104751, size: 9, mtime_sec: 5, mtime_nsec: 7, ..SetAttr::default() };
    assert_eq!(t.call(Msg::Tsetattr { fid: 2, attr }), Msg::Rsetattr);
    assert_eq!(t.call(Msg::Tsetattr { fid: 2, attr: SetAttr { valid: 0x8, ..attr } }), Msg::Rsetattr);
    assert_eq!(t.call(Msg::Tsetattr { fid: 2, attr: SetAttr { valid: 0x10 | 0x20 | 0x100, ..attr } }), Msg::Rsetattr);
    assert_eq!(
        t.call(Msg::Tsetattr { fid: 2, attr: SetAttr { valid: 0x2 | 0x4, uid: 7, gid: 8, ..attr } }),
        Msg::Rsetattr
    );
    assert_eq!(t.call(Msg::Tsetattr { fid: 2, attr: SetAttr { valid: 0x40, ..attr } }), Msg::Rsetattr);
    let changes: Vec<Changes> = t.fs.changes.iter().map(|c| c.1).collect();
    let at = SetTime::At(Time { sec: 5, nsec: 7 });
    assert_eq!(
        changes,
        [
            Changes { mode: Some(0o4751), ..Changes::default() },
            Changes { size: Some(9), ..Changes::default() },
            Changes { atime: Some(SetTime::Now), mtime: Some(at), ..Changes::default() },
            Changes { uid: Some(7), gid: Some(8), ..Changes::default() },
        ],
        "a ctime change alone asks for nothing"
    );
    let Msg::Rstatfs(s) = t.call(Msg::Tstatfs { fid: 1 }) else { panic!() };
    assert_eq!((s.ty, s.bsize, s.namelen), (0x0102_1997, 4096, 255), "V9FS_MAGIC");
    assert_eq!(t.err(Msg::Tstatfs { fid: 9 }), Error::BadFid);
}

#[test]
fn removes_renames_and_locks() {
    let mut t = T::new(Dialect::L, 8);
    t.attach(1);
    // Tremove clunks the fid even when the remove fails.
    t.walk(1, 2, &["d"]);
    assert_eq!(t.err(Msg::Tremove { fid: 2 }), Error::NotEmpty);
    assert_eq!(t.err(Msg::Tclunk { fid: 2 }), Error::BadFid);
    t.walk(1, 2, &["e"]);
    assert_eq!(t.call(Msg::Tremove { fid: 2 }), Msg::Rremove);
    assert!(!t.fs.files.contains_key("e"));
    t.walk(1, 2, &["d"]);
    assert_eq!(t.call(Msg::Tunlinkat { dirfd: 2, name: "f", flags: 0 }), Msg::Runlinkat);
    assert!(!t.fs.files.contains_key("d/f"));
    assert_eq!(t.err(Msg::Tunlinkat { dirfd: 2, name: "..", flags: 0 }), Error::Invalid);
    // AT_REMOVEDIR must match what the name is, as unlinkat(2) has it.
    t.fs.files.insert("d/sub".into(), None);
    t.fs.files.insert("d/f".into(), Some(Vec::new()));
    assert_eq!(t.err(Msg::Tunlinkat { dirfd: 2, name: "sub", flags: 0 }), Error::IsDir);
    assert_eq!(t.err(Msg::Tunlinkat { dirfd: 2, name: "f", flags: 0x200 }), Error::NotDir);
    assert_eq!(t.call(Msg::Tunlinkat { dirfd: 2, name: "sub", flags: 0x200 }), Msg::Runlinkat);
    assert!(!t.fs.files.contains_key("d/sub") && t.fs.files.contains_key("d/f"));
    // Renames check both names and both fids.
    t.fs.files.insert("d/f".into(), Some(Vec::new()));
    let ren = |oldname, newname| Msg::Trenameat { olddirfid: 2, oldname, newdirfid: 1, newname };
    assert_eq!(t.call(ren("f", "g")), Msg::Rrenameat);
    assert_eq!(t.fs.renames, [("d/f".to_string(), String::new(), "g".to_string())]);
    assert_eq!(t.err(ren("f", "")), Error::Invalid);
    assert_eq!(t.err(ren(".", "g")), Error::Invalid);
    t.walk(2, 3, &["f"]);
    assert_eq!(t.call(Msg::Trename { fid: 3, dfid: 1, name: "h" }), Msg::Rrename);
    assert_eq!(t.err(Msg::Trename { fid: 3, dfid: 1, name: "a/b" }), Error::Invalid);
    assert_eq!(t.err(Msg::Trename { fid: 3, dfid: 9, name: "h" }), Error::BadFid);
    // Locks and fsync need an open fid; a file system without locks says
    // so rather than granting them.
    let lock = Lock { ty: 1, start: 0, length: 10, proc_id: 4, client_id: "c" };
    assert_eq!(t.err(Msg::Tlock { fid: 3, lock, flags: 0 }), Error::BadFid);
    assert_eq!(t.err(Msg::Tfsync { fid: 3, datasync: 0 }), Error::BadFid);
    t.open_l(3, 2);
    assert_eq!(t.err(Msg::Tlock { fid: 3, lock, flags: 0 }), Error::NotSupported);
    assert_eq!(t.err(Msg::Tgetlock { fid: 3, lock }), Error::NotSupported);
    assert_eq!(t.err(Msg::Tlock { fid: 3, lock: Lock { ty: 3, ..lock }, flags: 0 }), Error::Invalid);
    assert_eq!(t.call(Msg::Tfsync { fid: 3, datasync: 0 }), Msg::Rfsync);
    assert_eq!(t.err(Msg::Tlock { fid: 9, lock, flags: 0 }), Error::BadFid);
    assert_eq!(t.call(Msg::Tflush { oldtag: 1 }), Msg::Rflush);
}

impl T {
    /// Sends `msg` with `tag` through `handle_apart`.
    fn apart(&mut self, tag: u16, msg: Msg) -> (Handled<String, String>, Vec<u8>) {
        let mut req = vec![0u8; 1 << 17];
        let n = encode(&Frame { tag, msg }, &mut req).unwrap();
        let mut out = vec![0u8; self.s.msize() as usize];
        let h = self.s.handle_apart(&mut self.fs, &req[..n], &mut out);
        (h, out)
    }

    /// A reply `handle_apart` gave at once.
    fn at_once(&mut self, tag: u16, msg: Msg) -> Frame<'static> {
        match self.apart(tag, msg) {
            (Handled::Reply(n), out) => decode(Vec::leak(out[..n].to_vec()), self.dialect).unwrap(),
            (other, _) => panic!("not answered at once: {other:?}"),
        }
    }

    fn open_l(&mut self, fid: u32, flags: u32) {
        assert!(matches!(self.call(Msg::Tlopen { fid, flags }), Msg::Rlopen { .. }));
    }
}

/// Reads and writes of files the file system runs apart become jobs;
/// others are answered at once, before jobs handed out earlier.
#[test]
fn reads_of_devices_run_apart_and_replies_go_out_in_any_order() {
    let mut t = T::new(Dialect::L, 16);
    t.fs.files.insert("dev1".into(), Some(b"one".to_vec()));
    t.fs.files.insert("dev2".into(), Some(Vec::new()));
    t.attach(1);
    t.walk(1, 2, &["dev1"]);
    t.walk(1, 3, &["dev2"]);
    t.walk(1, 4, &["d", "f"]);
    t.open_l(2, 0); // O_RDONLY
    t.open_l(3, 2); // O_RDWR
    t.open_l(4, 0);

    let (read, _) = t.apart(10, Msg::Tread { fid: 2, offset: 0, count: 100 });
    let Handled::Io(read) = read else { panic!("{read:?}") };
    assert_eq!((read.tag, read.io.as_str(), read.offset, &read.op), (10, "dev1", 0, &IoOp::Read { count: 100 }));
    let (write, _) = t.apart(11, Msg::Twrite { fid: 3, offset: 7, data: b"xyz" });
    let Handled::Io(write) = write else { panic!("{write:?}") };
    assert_eq!((write.tag, write.offset, &write.op), (11, 7, &IoOp::Write { data: b"xyz".to_vec() }));
    assert_eq!(t.s.in_flight(), 2);

    // A plain file is read in the session, answered at once.
    let plain = t.at_once(12, Msg::Tread { fid: 4, offset: 0, count: 100 });
    assert_eq!(plain, Frame { tag: 12, msg: Msg::Rread { data: b"hello" } });

    // The later job ends first: its reply carries its tag.
    let mut out = vec![0u8; t.s.msize() as usize];
    let n = write.reply(&mut out, Ok(3));
    assert_eq!(decode(&out[..n], Dialect::L).unwrap(), Frame { tag: 11, msg: Msg::Rwrite { count: 3 } });
    assert_eq!(t.s.finish(11), Vec::<u16>::new());

    // A read puts its data in place; a failed job is an error in the dialect.
    read.read_area(&mut out)[..3].copy_from_slice(b"one");
    let n = read.reply(&mut out, Ok(3));
    assert_eq!(decode(&out[..n], Dialect::L).unwrap(), Frame { tag: 10, msg: Msg::Rread { data: b"one" } });
    let n = read.reply(&mut out, Err(Error::Io));
    assert_eq!(decode(&out[..n], Dialect::L).unwrap(), Frame { tag: 10, msg: Msg::Rlerror { ecode: 5 } });

    // A Tflush of a job in flight asks for its cancelling; the Rflush
    // waits for the job to finish.
    match t.apart(13, Msg::Tflush { oldtag: 10 }).0 {
        Handled::Cancel { oldtag: 10, io } => assert_eq!(io, "dev1"),
        other => panic!("{other:?}"),
    }
    assert_eq!(t.s.finish(10), vec![13]);
    let n = rflush(13, &mut out);
    assert_eq!(decode(&out[..n], Dialect::L).unwrap(), Frame { tag: 13, msg: Msg::Rflush });
    assert_eq!(t.s.in_flight(), 0);
    // A Tflush of what was answered already is answered at once.
    assert_eq!(t.at_once(14, Msg::Tflush { oldtag: 12 }), Frame { tag: 14, msg: Msg::Rflush });
}

#[test]
fn jobs_in_flight_are_bounded_and_checked_like_any_read() {
    let mut t = T::new(Dialect::P2000, 16);
    t.fs.files.insert("dev".into(), Some(Vec::new()));
    t.attach(1);
    t.walk(1, 2, &["dev"]);
    t.walk(1, 3, &["dev"]);
    assert!(matches!(t.call(Msg::Topen { fid: 2, mode: 0 }), Msg::Ropen { .. }));
    // Refused as in the session: a write to a fid opened for reading, a
    // read of a fid not opened.
    let refused = t.at_once(9, Msg::Twrite { fid: 2, offset: 0, data: b"x" });
    assert_eq!(refused.msg, Msg::Rerror { ename: Error::BadFid.message() });
    let refused = t.at_once(9, Msg::Tread { fid: 3, offset: 0, count: 1 });
    assert_eq!(refused.msg, Msg::Rerror { ename: Error::BadFid.message() });
    for tag in 0..MAX_IN_FLIGHT as u16 {
        assert!(matches!(t.apart(tag, Msg::Tread { fid: 2, offset: 0, count: 1 }).0, Handled::Io(_)));
    }
    // A tag in flight is not reused; one job past the bound is refused.
    let again = t.at_once(0, Msg::Tread { fid: 2, offset: 0, count: 1 });
    assert_eq!(again, Frame { tag: 0, msg: Msg::Rerror { ename: Error::Invalid.message() } });
    let more = t.at_once(1000, Msg::Tread { fid: 2, offset: 0, count: 1 });
    assert_eq!(more, Frame { tag: 1000, msg: Msg::Rerror { ename: Error::Busy.message() } });
    // A read asks at most the iounit.
    t.s.finish(0);
    let (h, _) = t.apart(0, Msg::Tread { fid: 2, offset: 0, count: u32::MAX });
    let Handled::Io(job) = h else { panic!("{h:?}") };
    assert_eq!(job.op, IoOp::Read { count: t.s.msize() as usize - 24 });
}

/// Streams of reads, writes, flushes and clunks under few tags, some
/// bytes flipped, through `handle_apart`, with jobs finished in any
/// order: every reply decodes, jobs in flight stay bounded, and a job
/// ends once (what the `session` fuzz target does, seeded, on every run).
#[test]
fn random_streams_of_jobs_and_flushes_never_break_the_session() {
    let mut seed = 0x2545_f491_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for round in 0..2_000 {
        let dialect = if round % 2 == 0 { Dialect::L } else { Dialect::P2000 };
        let mut t = T::new(dialect, 16);
        t.fs.files.insert("dev".into(), Some(b"device".to_vec()));
        t.attach(1);
        t.walk(1, 2, &["dev"]);
        match dialect {
            Dialect::L => t.open_l(2, 2),
            Dialect::P2000 => assert!(matches!(t.call(Msg::Topen { fid: 2, mode: 2 }), Msg::Ropen { .. })),
        }
        let mut jobs = Vec::new();
        for _ in 0..next() % 60 {
            let tag = (next() % 6) as u16;
            let msg = match next() % 4 {
                0 => Msg::Tread { fid: 2, offset: next() % 8, count: (next() % 5000) as u32 },
                1 => Msg::Twrite { fid: 2, offset: 0, data: b"abc" },
                2 => Msg::Tflush { oldtag: (next() % 6) as u16 },
                _ => Msg::Tclunk { fid: (next() % 3) as u32 + 1 },
            };
            let mut req = vec![0u8; 256];
            let n = encode(&Frame { tag, msg }, &mut req).unwrap();
            if next() % 20 == 0 {
                let i = (next() as usize) % n;
                req[i] ^= next() as u8;
            }
            let mut out = vec![0u8; t.s.msize() as usize];
            match t.s.handle_apart(&mut t.fs, &req[..n], &mut out) {
                Handled::Reply(len) => assert!(decode(&out[..len], dialect).is_ok(), "round {round}"),
                Handled::Io(job) => jobs.push(job),
                Handled::Cancel { oldtag, .. } => {
                    let at = jobs.iter().position(|j| j.tag == oldtag).expect("a cancel names a job in flight");
                    jobs.remove(at);
                    assert!(!t.s.finish(oldtag).is_empty(), "the flush waits for the job");
                }
                Handled::Lookup(_) | Handled::Waits => panic!("this file system looks up in the session"),
            }
            assert!(t.s.in_flight() <= 6 && t.s.in_flight() == jobs.len(), "round {round}");
            if next() % 2 == 0 && !jobs.is_empty() {
                let job = jobs.swap_remove((next() as usize) % jobs.len());
                let len = job.reply(&mut out, Ok(0));
                assert!(decode(&out[..len], dialect).is_ok(), "round {round}");
                t.s.finish(job.tag);
            }
        }
    }
}

/// Opens the file system runs apart become jobs; the requests that name
/// the fid wait behind them in order, the others go on; a flush of a
/// waiting open is answered at once and its result dropped; a new
/// version drops what waits.
#[test]
fn opens_run_apart_and_what_names_their_fid_waits_in_order() {
    let mut t = T::new(Dialect::L, 16);
    t.fs.lookups_apart = true;
    t.fs.files.insert("listen".into(), Some(b"call".to_vec()));
    t.attach(1);
    t.walk(1, 2, &["listen"]);
    let (h, _) = t.apart(10, Msg::Tlopen { fid: 2, flags: 0 });
    let Handled::Lookup(job) = h else { panic!("not apart: {h:?}") };
    // The read and clunk of fid 2 wait; a walk to fid 3 from fid 2 too
    // (it names fid 2), and then a stat of fid 3 (a waiting request
    // names it); fid 1's calls go on.
    for (tag, msg) in [
        (11, Msg::Tread { fid: 2, offset: 0, count: 4 }),
        (12, Msg::Twalk { fid: 2, newfid: 3, wnames: Default::default() }),
        (13, Msg::Tgetattr { fid: 3, request_mask: 0x7ff }),
        (14, Msg::Tclunk { fid: 2 }),
    ] {
        assert!(matches!(t.apart(tag, msg).0, Handled::Waits), "tag {tag} waits");
    }
    assert!(matches!(t.at_once(15, Msg::Tgetattr { fid: 1, request_mask: 0x7ff }).msg, Msg::Rgetattr { .. }));
    assert_eq!(t.s.resume(&mut t.fs, &mut vec![0u8; 8192]).map(|_| ()), None, "all still wait");
    // The open ends (on another thread, here now): its reply, then the
    // waiting ones in their order.
    let result = job.run(&mut t.fs);
    let mut out = vec![0u8; t.s.msize() as usize];
    let n = t.s.lookup_done(job, result, &mut out).expect("answered");
    let f = decode(Vec::leak(out[..n].to_vec()), Dialect::L).unwrap();
    assert!(matches!((f.tag, &f.msg), (10, Msg::Rlopen { .. })), "{f:?}");
    let mut replies = Vec::new();
    while let Some(h) = t.s.resume(&mut t.fs, &mut out) {
        let n = match h {
            Handled::Reply(n) => n,
            // (The walk from fid 2 runs apart too.)
            Handled::Lookup(job) => {
                let result = job.run(&mut t.fs);
                t.s.lookup_done(job, result, &mut out).expect("answered")
            }
            other => panic!("{other:?}"),
        };
        replies.push(decode(Vec::leak(out[..n].to_vec()), Dialect::L).unwrap());
    }
    let tags: Vec<u16> = replies.iter().map(|f| f.tag).collect();
    assert_eq!(tags, [11, 12, 13, 14]);
    assert_eq!(replies[0].msg, Msg::Rread { data: b"call" });
    assert!(matches!(replies[2].msg, Msg::Rgetattr { .. }));
    assert_eq!(replies[3].msg, Msg::Rclunk);

    // A flush of a waiting open: Rflush now; its end is dropped, so the
    // fid is not open, and a clunk that waited behind it goes on.
    t.walk(1, 2, &["listen"]);
    let (h, _) = t.apart(20, Msg::Tlopen { fid: 2, flags: 0 });
    let Handled::Lookup(job) = h else { panic!("{h:?}") };
    assert!(matches!(t.apart(21, Msg::Tread { fid: 2, offset: 0, count: 4 }).0, Handled::Waits));
    assert_eq!(t.at_once(22, Msg::Tflush { oldtag: 20 }), Frame { tag: 22, msg: Msg::Rflush });
    let Some(Handled::Reply(n)) = t.s.resume(&mut t.fs, &mut out) else { panic!("the read waits no more") };
    assert_eq!(
        decode(Vec::leak(out[..n].to_vec()), Dialect::L).unwrap().msg,
        Msg::Rlerror { ecode: Error::BadFid.errno() }
    );
    let result = job.run(&mut t.fs);
    assert_eq!(t.s.lookup_done(job, result, &mut out), None, "a flushed open is not answered");
    // The fid is not open: it opens again.
    let (h, _) = t.apart(23, Msg::Tlopen { fid: 2, flags: 0 });
    let Handled::Lookup(job) = h else { panic!("{h:?}") };
    let result = job.run(&mut t.fs);
    assert!(t.s.lookup_done(job, result, &mut out).is_some());

    // A flush of a request that waits: answered at once, never run.
    t.walk(1, 4, &["listen"]);
    let (h, _) = t.apart(30, Msg::Tlopen { fid: 4, flags: 0 });
    let Handled::Lookup(job) = h else { panic!("{h:?}") };
    assert!(matches!(t.apart(31, Msg::Tclunk { fid: 4 }).0, Handled::Waits));
    assert_eq!(t.at_once(32, Msg::Tflush { oldtag: 31 }), Frame { tag: 32, msg: Msg::Rflush });
    let result = job.run(&mut t.fs);
    assert!(t.s.lookup_done(job, result, &mut out).is_some());
    assert!(t.s.resume(&mut t.fs, &mut out).is_none(), "the flushed clunk is gone");
    assert!(matches!(t.at_once(33, Msg::Tread { fid: 4, offset: 0, count: 4 }).msg, Msg::Rread { .. }));

    // A mkdir, a rename and an unlink in other directories go on while an
    // open waits; a request with the tag of one that waits is refused.
    t.walk(1, 6, &["listen"]);
    let (h, _) = t.apart(50, Msg::Tlopen { fid: 6, flags: 0 });
    let Handled::Lookup(held) = h else { panic!("{h:?}") };
    assert!(matches!(t.apart(51, Msg::Tread { fid: 6, offset: 0, count: 4 }).0, Handled::Waits));
    assert!(matches!(t.at_once(52, Msg::Tmkdir { dfid: 1, name: "m", mode: 0o755, gid: 0 }).msg, Msg::Rmkdir { .. }));
    let unlink = Msg::Tunlinkat { dirfd: 1, name: "m", flags: 0x200 };
    assert_eq!(t.at_once(53, unlink).msg, Msg::Runlinkat);
    let bad = t.at_once(51, Msg::Tgetattr { fid: 1, request_mask: 1 });
    assert_eq!(bad.msg, Msg::Rlerror { ecode: Error::Invalid.errno() });
    let result = held.run(&mut t.fs);
    assert!(t.s.lookup_done(held, result, &mut out).is_some());
    assert!(matches!(t.s.resume(&mut t.fs, &mut out), Some(Handled::Reply(_))));
    // At most MAX_LOOKUPS_APART run at once, flushed ones too; then Busy.
    let mut running = Vec::new();
    for k in 0..fs9p::server::MAX_LOOKUPS_APART as u32 {
        t.walk(1, 60 + k, &["listen"]);
        let (h, _) = t.apart(60 + k as u16, Msg::Tlopen { fid: 60 + k, flags: 0 });
        let Handled::Lookup(job) = h else { panic!("{h:?}") };
        running.push(job);
    }
    assert_eq!(t.at_once(70, Msg::Tflush { oldtag: 60 }), Frame { tag: 70, msg: Msg::Rflush });
    assert!(t.s.lookup_dropped(&running[0]), "a flushed open is dropped unmade");
    t.walk(1, 80, &["listen"]);
    let busy = t.at_once(80, Msg::Tlopen { fid: 80, flags: 0 });
    assert_eq!(busy.msg, Msg::Rlerror { ecode: Error::Busy.errno() }, "the flushed one still runs");
    for job in running {
        let result = job.run(&mut t.fs);
        t.s.lookup_done(job, result, &mut out);
    }
    assert!(matches!(t.apart(81, Msg::Tlopen { fid: 80, flags: 0 }).0, Handled::Lookup(_)));
    t.walk(1, 5, &["listen"]);
    let (h, _) = t.apart(82, Msg::Tclunk { fid: 80 });
    assert!(matches!(h, Handled::Waits));
    // A new version drops the open of fid 80, which still counts until
    // it ends: a client that begins again gets no more opens at once.
    let (h, _) = t.apart(83, Msg::Tlopen { fid: 5, flags: 0 });
    let Handled::Lookup(other) = h else { panic!("{h:?}") };
    assert!(matches!(
        t.at_once(fs9p::NOTAG, Msg::Tversion { msize: 8192, version: "9P2000.L" }).msg,
        Msg::Rversion { .. }
    ));
    t.attach(1);
    let mut again = Vec::new();
    for k in 0..fs9p::server::MAX_LOOKUPS_APART as u32 - 2 {
        t.walk(1, 90 + k, &["listen"]);
        let (h, _) = t.apart(90 + k as u16, Msg::Tlopen { fid: 90 + k, flags: 0 });
        let Handled::Lookup(job) = h else { panic!("{h:?}") };
        again.push(job);
    }
    t.walk(1, 99, &["listen"]);
    assert_eq!(t.at_once(99, Msg::Tlopen { fid: 99, flags: 0 }).msg, Msg::Rlerror { ecode: Error::Busy.errno() });
    assert!(t.s.lookup_dropped(&other), "an open of the old version is dropped");
    let result = other.run(&mut t.fs);
    assert_eq!(t.s.lookup_done(other, result, &mut out), None);
    let (h, _) = t.apart(98, Msg::Tlopen { fid: 99, flags: 0 });
    let Handled::Lookup(job) = h else { panic!("{h:?}") };
    again.push(job);
    assert!(matches!(
        t.at_once(fs9p::NOTAG, Msg::Tversion { msize: 8192, version: "9P2000.L" }).msg,
        Msg::Rversion { .. }
    ));
    t.attach(1);
    for job in again {
        let result = job.run(&mut t.fs);
        assert_eq!(t.s.lookup_done(job, result, &mut out), None, "of the old version");
    }

    // At most MAX_WAITING wait; then Busy.
    t.walk(1, 5, &["listen"]);
    let (h, _) = t.apart(40, Msg::Tlopen { fid: 5, flags: 0 });
    let Handled::Lookup(job) = h else { panic!("{h:?}") };
    for k in 0..fs9p::server::MAX_WAITING as u16 {
        assert!(matches!(t.apart(100 + k, Msg::Tgetattr { fid: 5, request_mask: 1 }).0, Handled::Waits));
    }
    let busy = t.at_once(99, Msg::Tgetattr { fid: 5, request_mask: 1 });
    assert_eq!(busy.msg, Msg::Rlerror { ecode: Error::Busy.errno() });
    // A new version drops the open and what waits.
    assert!(matches!(
        t.at_once(fs9p::NOTAG, Msg::Tversion { msize: 8192, version: "9P2000.L" }).msg,
        Msg::Rversion { .. }
    ));
    let result = job.run(&mut t.fs);
    assert_eq!(t.s.lookup_done(job, result, &mut out), None);
    assert!(t.s.resume(&mut t.fs, &mut out).is_none());
}

/// Walks the file system runs apart: the fid a walk makes is busy until
/// it ends (what names it waits), a short walk makes none, a failed one
/// answers its error, a flushed one makes nothing, one in place replaces
/// its fid.
#[test]
fn walks_run_apart_and_make_their_fid_when_they_end() {
    let mut t = T::new(Dialect::L, 16);
    t.fs.lookups_apart = true;
    t.attach(1);
    let mut out = vec![0u8; t.s.msize() as usize];
    let walk = |t: &mut T, tag: u16, fid: u32, newfid: u32, names: &[&'static str]| {
        let (h, _) = t.apart(tag, Msg::Twalk { fid, newfid, wnames: names.iter().copied().collect() });
        let Handled::Lookup(job) = h else { panic!("not apart: {h:?}") };
        job
    };
    let finish = |t: &mut T, job: fs9p::server::LookupJob<String>, out: &mut Vec<u8>| {
        let result = job.run(&mut t.fs);
        t.s.lookup_done(job, result, out).map(|n| decode(Vec::leak(out[..n].to_vec()), Dialect::L).unwrap().msg)
    };
    // A whole walk: fid 2 waits for it, then exists.
    let job = walk(&mut t, 10, 1, 2, &["d", "f"]);
    assert!(matches!(t.apart(11, Msg::Tgetattr { fid: 2, request_mask: 1 }).0, Handled::Waits));
    assert!(matches!(t.at_once(12, Msg::Tgetattr { fid: 1, request_mask: 1 }).msg, Msg::Rgetattr { .. }));
    let Some(Msg::Rwalk { wqids }) = finish(&mut t, job, &mut out) else { panic!() };
    assert_eq!(wqids.len(), 2);
    let Some(Handled::Reply(n)) = t.s.resume(&mut t.fs, &mut out) else { panic!("the getattr comes back") };
    assert!(matches!(decode(&out[..n], Dialect::L).unwrap().msg, Msg::Rgetattr { .. }));
    // Short: one qid, no fid 3; failed at once: the error, no fid 4.
    let job = walk(&mut t, 20, 1, 3, &["d", "nothing"]);
    let Some(Msg::Rwalk { wqids }) = finish(&mut t, job, &mut out) else { panic!() };
    assert_eq!(wqids.len(), 1);
    assert_eq!(t.err(Msg::Tgetattr { fid: 3, request_mask: 1 }), Error::BadFid);
    let job = walk(&mut t, 21, 1, 4, &["nothing"]);
    assert_eq!(finish(&mut t, job, &mut out), Some(Msg::Rlerror { ecode: Error::NotFound.errno() }));
    assert_eq!(t.err(Msg::Tgetattr { fid: 4, request_mask: 1 }), Error::BadFid);
    // Flushed: answered at once, and fid 5 is never made.
    let job = walk(&mut t, 30, 1, 5, &["d"]);
    assert_eq!(t.at_once(31, Msg::Tflush { oldtag: 30 }), Frame { tag: 31, msg: Msg::Rflush });
    assert_eq!(finish(&mut t, job, &mut out), None);
    assert_eq!(t.err(Msg::Tgetattr { fid: 5, request_mask: 1 }), Error::BadFid);
    // A getattr of what may wait runs apart and leaves its fid free: a
    // clunk of it goes on meanwhile. One of another fid stays at once.
    t.fs.files.insert("listen".into(), Some(b"x".to_vec()));
    t.walk(1, 7, &["listen"]);
    let (h, _) = t.apart(50, Msg::Tgetattr { fid: 7, request_mask: 0x7ff });
    let Handled::Lookup(job) = h else { panic!("{h:?}") };
    assert_eq!(t.at_once(51, Msg::Tclunk { fid: 7 }).msg, Msg::Rclunk);
    assert!(matches!(t.at_once(52, Msg::Tgetattr { fid: 1, request_mask: 1 }).msg, Msg::Rgetattr { .. }));
    let Some(Msg::Rgetattr(a)) = finish(&mut t, job, &mut out) else { panic!() };
    assert_eq!(a.size, 1);
    // A listing of what may wait runs apart, the directory busy
    // meanwhile; later pages come from what it listed.
    t.fs.files.insert("listendir".into(), None);
    t.fs.files.insert("listendir/a".into(), Some(Vec::new()));
    t.walk(1, 8, &["listendir"]);
    let (h, _) = t.apart(60, Msg::Tlopen { fid: 8, flags: 0 });
    let Handled::Lookup(job) = h else { panic!("{h:?}") };
    assert!(matches!(finish(&mut t, job, &mut out), Some(Msg::Rlopen { .. })));
    let (h, _) = t.apart(61, Msg::Treaddir { fid: 8, offset: 0, count: 4096 });
    let Handled::Lookup(job) = h else { panic!("{h:?}") };
    assert!(matches!(t.apart(62, Msg::Tclunk { fid: 8 }).0, Handled::Waits));
    let Some(Msg::Rreaddir { data }) = finish(&mut t, job, &mut out) else { panic!() };
    assert!(data.ends_with(b"a"), "{data:?}");
    let Some(Handled::Reply(n)) = t.s.resume(&mut t.fs, &mut out) else { panic!("the clunk comes back") };
    assert_eq!(decode(&out[..n], Dialect::L).unwrap().msg, Msg::Rclunk);
    // In place: fid 2 (not open) now names `d`; an empty walk clones.
    let job = walk(&mut t, 40, 2, 2, &[".."]);
    assert!(matches!(finish(&mut t, job, &mut out), Some(Msg::Rwalk { .. })));
    let job = walk(&mut t, 41, 2, 6, &[]);
    assert!(matches!(finish(&mut t, job, &mut out), Some(Msg::Rwalk { .. })));
    let Msg::Rgetattr(a) = t.call(Msg::Tgetattr { fid: 6, request_mask: 0x7ff }) else { panic!() };
    assert_eq!(a.mode & 0o170000, 0o040000, "fid 6 is the directory d");
}

/// Changes to what may wait (a setattr, a rename, an unlink, a remove)
/// and a 9P2000 directory read of it run apart as lookups do: the fid
/// they name waits for them (a removed one is clunked at once), other
/// fids go on, a flushed one is answered at once; the same requests of
/// what does not wait are answered in place.
#[test]
fn changes_and_directory_reads_of_what_may_wait_run_apart() {
    let mut t = T::new(Dialect::L, 16);
    t.fs.lookups_apart = true;
    for (path, file) in [("listen", None), ("listen/a", Some(vec![1])), ("listen/b", Some(vec![2]))] {
        t.fs.files.insert(path.into(), file);
    }
    t.fs.files.insert("listen/c".into(), Some(vec![3]));
    t.attach(1);
    t.walk(1, 2, &["listen"]);
    t.walk(1, 3, &["listen", "a"]);
    let mut out = vec![0u8; t.s.msize() as usize];
    let finish = |t: &mut T, h: Handled<String, String>, out: &mut Vec<u8>| {
        let Handled::Lookup(job) = h else { panic!("not apart: {h:?}") };
        let result = job.run(&mut t.fs);
        t.s.lookup_done(job, result, out).map(|n| decode(Vec::leak(out[..n].to_vec()), t.dialect).unwrap().msg)
    };
    // A setattr: its fid's next request waits for it, others go on.
    let attr = SetAttr { valid: 0x1, mode: 0o600, ..SetAttr::default() };
    let (h, _) = t.apart(10, Msg::Tsetattr { fid: 3, attr });
    assert!(matches!(t.apart(11, Msg::Tclunk { fid: 3 }).0, Handled::Waits));
    assert!(matches!(t.at_once(12, Msg::Tgetattr { fid: 1, request_mask: 1 }).msg, Msg::Rgetattr { .. }));
    assert!(t.fs.changes.is_empty(), "not made on the session's thread");
    assert_eq!(finish(&mut t, h, &mut out), Some(Msg::Rsetattr));
    assert_eq!(t.fs.changes, [("listen/a".to_string(), Changes { mode: Some(0o600), ..Changes::default() })]);
    let Some(Handled::Reply(n)) = t.s.resume(&mut t.fs, &mut out) else { panic!("the clunk comes back") };
    assert_eq!(decode(&out[..n], Dialect::L).unwrap().msg, Msg::Rclunk);
    // A rename and an unlink in the directory; a refused unlink's error.
    let (h, _) = t.apart(20, Msg::Trenameat { olddirfid: 2, oldname: "a", newdirfid: 1, newname: "z" });
    assert_eq!(finish(&mut t, h, &mut out), Some(Msg::Rrenameat));
    assert_eq!(t.fs.renames, [("listen/a".to_string(), String::new(), "z".to_string())]);
    let (h, _) = t.apart(21, Msg::Tunlinkat { dirfd: 2, name: "b", flags: 0 });
    assert_eq!(finish(&mut t, h, &mut out), Some(Msg::Runlinkat));
    assert!(!t.fs.files.contains_key("listen/b"));
    let (h, _) = t.apart(22, Msg::Tunlinkat { dirfd: 2, name: "c", flags: 0x200 });
    assert_eq!(finish(&mut t, h, &mut out), Some(Msg::Rlerror { ecode: Error::NotDir.errno() }));
    // A flushed one is answered at once and never answers.
    let (h, _) = t.apart(23, Msg::Tunlinkat { dirfd: 2, name: "c", flags: 0 });
    assert_eq!(t.at_once(24, Msg::Tflush { oldtag: 23 }), Frame { tag: 24, msg: Msg::Rflush });
    assert_eq!(finish(&mut t, h, &mut out), None);
    // A remove clunks its fid at once; its answer comes when made.
    t.fs.files.insert("listen/d".into(), Some(Vec::new()));
    t.walk(1, 4, &["listen", "d"]);
    let (h, _) = t.apart(30, Msg::Tremove { fid: 4 });
    assert_eq!(t.err(Msg::Tclunk { fid: 4 }), Error::BadFid);
    assert_eq!(finish(&mut t, h, &mut out), Some(Msg::Rremove));
    assert!(!t.fs.files.contains_key("listen/d"));
    // A rename into what may wait runs apart too.
    t.fs.files.insert("f".into(), Some(Vec::new()));
    let (h, _) = t.apart(35, Msg::Trenameat { olddirfid: 1, oldname: "f", newdirfid: 2, newname: "g" });
    assert_eq!(finish(&mut t, h, &mut out), Some(Msg::Rrenameat));
    // What does not wait is changed in place.
    assert_eq!(t.at_once(40, Msg::Tunlinkat { dirfd: 1, name: "e", flags: 0 }).msg, Msg::Runlinkat);
    // A remove refused (too many lookups apart) clunks its fid all the
    // same, as one that fails does.
    let held: Vec<_> =
        (0..MAX_LOOKUPS_APART as u16).map(|i| t.apart(100 + i, Msg::Tgetattr { fid: 2, request_mask: 1 }).0).collect();
    assert!(held.iter().all(|h| matches!(h, Handled::Lookup(_))));
    t.fs.files.insert("listen/e".into(), Some(Vec::new()));
    t.walk(1, 5, &["listen", "e"]);
    assert_eq!(t.at_once(120, Msg::Tremove { fid: 5 }).msg, Msg::Rlerror { ecode: Error::Busy.errno() });
    assert_eq!(t.err(Msg::Tclunk { fid: 5 }), Error::BadFid);

    // 9P2000: a directory read that lists runs apart; later pages come
    // from what it listed, in place.
    let mut t = T::new(Dialect::P2000, 16);
    t.fs.lookups_apart = true;
    t.fs.files.insert("listen".into(), None);
    for name in ["listen/a", "listen/b"] {
        t.fs.files.insert(name.into(), Some(Vec::new()));
    }
    t.attach(1);
    t.walk(1, 2, &["listen"]);
    let (h, _) = t.apart(50, Msg::Topen { fid: 2, mode: 0 });
    assert!(matches!(finish(&mut t, h, &mut out), Some(Msg::Ropen { .. })));
    let (h, _) = t.apart(51, Msg::Tread { fid: 2, offset: 0, count: 60 });
    let next = |offset| Msg::Tread { fid: 2, offset, count: 60 };
    let Some(Msg::Rread { data }) = finish(&mut t, h, &mut out) else { panic!() };
    assert_eq!(stats(data), [("a".to_string(), 0, 0o640)], "room for one");
    let at = data.len() as u64;
    let Msg::Rread { data } = t.at_once(52, next(at)).msg else { panic!() };
    assert_eq!(stats(data), [("b".to_string(), 0, 0o640)]);
    // While one lists, the next page waits for it.
    let (h, _) = t.apart(53, next(0));
    assert!(matches!(t.apart(54, next(at)).0, Handled::Waits));
    assert!(matches!(finish(&mut t, h, &mut out), Some(Msg::Rread { .. })));
    let Some(Handled::Reply(n)) = t.s.resume(&mut t.fs, &mut out) else { panic!("the read comes back") };
    let Msg::Rread { data } = decode(&out[..n], Dialect::P2000).unwrap().msg else { panic!() };
    assert_eq!(stats(data), [("b".to_string(), 0, 0o640)]);
}

//! The 9P codec against hand-assembled bytes from the protocol
//! descriptions, round trips of every message type (fixed and random), and
//! every way to malform a message.

use fs9p::codec::{dirents, put_dirent, type_code};
use fs9p::*;

fn q(path: u64) -> Qid {
    Qid { ty: Qid::DIR, version: 7, path }
}

fn stat() -> Stat<'static> {
    Stat {
        ty: 1,
        dev: 2,
        qid: q(3),
        mode: 0o755 | 0x8000_0000,
        atime: 4,
        mtime: 5,
        length: 6,
        name: "glenda",
        uid: "u",
        gid: "g",
        muid: "",
    }
}

/// One of every message, with the dialect it belongs to.
fn samples() -> Vec<(Msg<'static>, Dialect)> {
    use Dialect::*;
    let lock = Lock { ty: 1, start: 2, length: 3, proc_id: 4, client_id: "host" };
    let walk: heapless::Vec<&str, MAXWELEM> = ["usr", "glenda", "lib"].into_iter().collect();
    let qids: heapless::Vec<Qid, MAXWELEM> = [q(1), q(2)].into_iter().collect();
    vec![
        (Msg::Tversion { msize: 8192, version: "9P2000" }, P2000),
        (Msg::Rversion { msize: 8192, version: "9P2000.L" }, L),
        (Msg::Tauth { afid: 5, uname: "glenda", aname: "", n_uname: None }, P2000),
        (Msg::Tauth { afid: 5, uname: "glenda", aname: "/", n_uname: Some(1000) }, L),
        (Msg::Rauth { aqid: q(9) }, P2000),
        (Msg::Tattach { fid: 1, afid: NOFID, uname: "glenda", aname: "", n_uname: None }, P2000),
        (Msg::Tattach { fid: 1, afid: NOFID, uname: "root", aname: "/tmp", n_uname: Some(0) }, L),
        (Msg::Rattach { qid: q(1) }, P2000),
        (Msg::Rerror { ename: "file does not exist" }, P2000),
        (Msg::Rlerror { ecode: 2 }, L),
        (Msg::Tflush { oldtag: 3 }, P2000),
        (Msg::Rflush, P2000),
        (Msg::Twalk { fid: 1, newfid: 2, wnames: walk }, P2000),
        (Msg::Rwalk { wqids: qids }, P2000),
        (Msg::Topen { fid: 1, mode: 2 }, P2000),
        (Msg::Ropen { qid: q(4), iounit: 8168 }, P2000),
        (Msg::Tcreate { fid: 1, name: "new", perm: 0o644, mode: 1 }, P2000),
        (Msg::Rcreate { qid: q(5), iounit: 0 }, P2000),
        (Msg::Tread { fid: 1, offset: 1 << 40, count: 8192 }, P2000),
        (Msg::Rread { data: b"hello" }, P2000),
        (Msg::Twrite { fid: 1, offset: 3, data: b"\x00\xffbytes" }, P2000),
        (Msg::Rwrite { count: 7 }, P2000),
        (Msg::Tclunk { fid: 1 }, P2000),
        (Msg::Rclunk, P2000),
        (Msg::Tremove { fid: 1 }, P2000),
        (Msg::Rremove, P2000),
        (Msg::Tstat { fid: 1 }, P2000),
        (Msg::Rstat { stat: stat() }, P2000),
        (Msg::Twstat { fid: 1, stat: stat() }, P2000),
        (Msg::Rwstat, P2000),
        (Msg::Tstatfs { fid: 1 }, L),
        (
            Msg::Rstatfs(StatFs {
                ty: 1,
                bsize: 4096,
                blocks: 2,
                bfree: 3,
                bavail: 4,
                files: 5,
                ffree: 6,
                fsid: 7,
                namelen: 255,
            }),
            L,
        ),
        (Msg::Tlopen { fid: 1, flags: 0o2 }, L),
        (Msg::Rlopen { qid: q(6), iounit: 0 }, L),
        (Msg::Tlcreate { fid: 1, name: "f", flags: 0o100, mode: 0o644, gid: 0 }, L),
        (Msg::Rlcreate { qid: q(7), iounit: 0 }, L),
        (Msg::Tsymlink { fid: 1, name: "l", symtgt: "../t", gid: 0 }, L),
        (Msg::Rsymlink { qid: q(8) }, L),
        (Msg::Tmknod { dfid: 1, name: "n", mode: 1, major: 2, minor: 3, gid: 4 }, L),
        (Msg::Rmknod { qid: q(9) }, L),
        (Msg::Trename { fid: 1, dfid: 2, name: "r" }, L),
        (Msg::Rrename, L),
        (Msg::Treadlink { fid: 1 }, L),
        (Msg::Rreadlink { target: "/a/b" }, L),
        (Msg::Tgetattr { fid: 1, request_mask: 0x3fff }, L),
        (
            Msg::Rgetattr(Attr {
                valid: 0x7ff,
                qid: q(10),
                mode: 0o100644,
                uid: 1,
                gid: 2,
                nlink: 3,
                rdev: 4,
                size: 5,
                blksize: 6,
                blocks: 7,
                atime_sec: 8,
                atime_nsec: 9,
                mtime_sec: 10,
                mtime_nsec: 11,
                ctime_sec: 12,
                ctime_nsec: 13,
                btime_sec: 14,
                btime_nsec: 15,
                gen: 16,
                data_version: 17,
            }),
            L,
        ),
        (
            Msg::Tsetattr {
                fid: 1,
                attr: SetAttr {
                    valid: 1,
                    mode: 2,
                    uid: 3,
                    gid: 4,
                    size: 5,
                    atime_sec: 6,
                    atime_nsec: 7,
                    mtime_sec: 8,
                    mtime_nsec: 9,
                },
            },
            L,
        ),
        (Msg::Rsetattr, L),
        (Msg::Txattrwalk { fid: 1, newfid: 2, name: "user.x" }, L),
        (Msg::Rxattrwalk { size: 12 }, L),
        (Msg::Txattrcreate { fid: 1, name: "user.y", attr_size: 3, flags: 0 }, L),
        (Msg::Rxattrcreate, L),
        (Msg::Treaddir { fid: 1, offset: 0, count: 4096 }, L),
        (Msg::Rreaddir { data: &[] }, L),
        (Msg::Tfsync { fid: 1, datasync: 1 }, L),
        (Msg::Rfsync, L),
        (Msg::Tlock { fid: 1, lock, flags: 1 }, L),
        (Msg::Rlock { status: 0 }, L),
        (Msg::Tgetlock { fid: 1, lock }, L),
        (Msg::Rgetlock { lock }, L),
        (Msg::Tlink { dfid: 1, fid: 2, name: "hard" }, L),
        (Msg::Rlink, L),
        (Msg::Tmkdir { dfid: 1, name: "d", mode: 0o755, gid: 0 }, L),
        (Msg::Rmkdir { qid: q(11) }, L),
        (Msg::Trenameat { olddirfid: 1, oldname: "a", newdirfid: 2, newname: "b" }, L),
        (Msg::Rrenameat, L),
        (Msg::Tunlinkat { dirfd: 1, name: "gone", flags: 0 }, L),
        (Msg::Runlinkat, L),
    ]
}

fn bytes(frame: &Frame) -> Vec<u8> {
    let mut out = vec![0u8; 65536];
    let n = encode(frame, &mut out).unwrap();
    out.truncate(n);
    out
}

#[test]
fn every_message_type_round_trips() {
    let all = samples();
    let mut codes: Vec<u8> = all.iter().map(|(m, _)| type_code(m)).collect();
    codes.sort();
    codes.dedup();
    assert_eq!(codes.len(), 66, "one sample per message type");
    for (tag, (msg, dialect)) in all.into_iter().enumerate() {
        let frame = Frame { tag: tag as u16, msg };
        let b = bytes(&frame);
        assert_eq!(decode(&b, dialect), Ok(frame.clone()), "{frame:?}");
        assert_eq!(frame_len(&b, 65536), Ok(Some(b.len())));
    }
}

/// Hand-assembled from intro(5) and the 9P2000.L description.
#[test]
fn golden_bytes() {
    let cases: Vec<(Frame, Dialect, Vec<u8>)> = vec![
        (
            Frame { tag: NOTAG, msg: Msg::Tversion { msize: 8192, version: "9P2000" } },
            Dialect::P2000,
            [&[19, 0, 0, 0, 100, 0xff, 0xff, 0x00, 0x20, 0, 0, 6, 0][..], b"9P2000"].concat(),
        ),
        (
            Frame { tag: 1, msg: Msg::Tattach { fid: 0, afid: NOFID, uname: "glenda", aname: "", n_uname: None } },
            Dialect::P2000,
            [&[25, 0, 0, 0, 104, 1, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 6, 0][..], b"glenda", &[0, 0]].concat(),
        ),
        (
            Frame {
                tag: 1,
                msg: Msg::Tattach { fid: 0, afid: NOFID, uname: "glenda", aname: "", n_uname: Some(1000) },
            },
            Dialect::L,
            [
                &[29, 0, 0, 0, 104, 1, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 6, 0][..],
                b"glenda",
                &[0, 0, 0xe8, 3, 0, 0],
            ]
            .concat(),
        ),
        (
            Frame { tag: 2, msg: Msg::Twalk { fid: 0, newfid: 1, wnames: ["usr", "glenda"].into_iter().collect() } },
            Dialect::P2000,
            [&[30, 0, 0, 0, 110, 2, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 3, 0][..], b"usr", &[6, 0], b"glenda"].concat(),
        ),
        (
            Frame { tag: 2, msg: Msg::Rwalk { wqids: [Qid { ty: 0x80, version: 1, path: 2 }].into_iter().collect() } },
            Dialect::P2000,
            vec![22, 0, 0, 0, 111, 2, 0, 1, 0, 0x80, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0],
        ),
        (
            Frame { tag: 3, msg: Msg::Tread { fid: 1, offset: 0, count: 8192 } },
            Dialect::P2000,
            vec![23, 0, 0, 0, 116, 3, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x20, 0, 0],
        ),
        (
            Frame { tag: 3, msg: Msg::Rread { data: b"hello" } },
            Dialect::P2000,
            [&[16, 0, 0, 0, 117, 3, 0, 5, 0, 0, 0][..], b"hello"].concat(),
        ),
        (
            Frame { tag: 4, msg: Msg::Rerror { ename: "no" } },
            Dialect::P2000,
            [&[11, 0, 0, 0, 107, 4, 0, 2, 0][..], b"no"].concat(),
        ),
        (Frame { tag: 4, msg: Msg::Rlerror { ecode: 2 } }, Dialect::L, vec![11, 0, 0, 0, 7, 4, 0, 2, 0, 0, 0]),
        (Frame { tag: 5, msg: Msg::Tclunk { fid: 9 } }, Dialect::P2000, vec![11, 0, 0, 0, 120, 5, 0, 9, 0, 0, 0]),
        (Frame { tag: 5, msg: Msg::Rclunk }, Dialect::P2000, vec![7, 0, 0, 0, 121, 5, 0]),
    ];
    for (frame, dialect, golden) in cases {
        assert_eq!(bytes(&frame), golden, "{frame:?}");
        assert_eq!(decode(&golden, dialect), Ok(frame));
    }
    // A stat: n[2] size[2] ... ; Rstat of a file named "x" with empty ids.
    let s = Stat { name: "x", uid: "", gid: "", muid: "", ..Stat::default() };
    let b = bytes(&Frame { tag: 6, msg: Msg::Rstat { stat: s } });
    let stat_size = 2 + 4 + 13 + 4 + 4 + 4 + 8 + (2 + 1) + 2 + 2 + 2;
    assert_eq!(&b[7..11], &[(stat_size + 2) as u8, 0, stat_size as u8, 0]);
    assert_eq!(b.len(), 7 + 2 + 2 + stat_size);
}

/// xorshift64: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

const WORDS: [&str; 7] = ["", "a", "glenda", "ünïcödé", "with space", "..", "a-longer-name-of-some-length.txt"];

/// A sample message with its numbers and strings replaced at random.
fn randomize(msg: &Msg<'static>, rng: &mut Rng) -> Msg<'static> {
    let s = |rng: &mut Rng| WORDS[(rng.next() % WORDS.len() as u64) as usize];
    let n = |rng: &mut Rng| rng.next();
    match msg.clone() {
        Msg::Tversion { .. } => Msg::Tversion { msize: n(rng) as u32, version: s(rng) },
        Msg::Tattach { n_uname, .. } => Msg::Tattach {
            fid: n(rng) as u32,
            afid: n(rng) as u32,
            uname: s(rng),
            aname: s(rng),
            n_uname: n_uname.map(|_| n(rng) as u32),
        },
        Msg::Twalk { .. } => {
            let k = (rng.next() % (MAXWELEM as u64 + 1)) as usize;
            Msg::Twalk { fid: n(rng) as u32, newfid: n(rng) as u32, wnames: (0..k).map(|_| s(rng)).collect() }
        }
        Msg::Twrite { .. } => {
            let d = WORDS[(rng.next() % 7) as usize].as_bytes();
            Msg::Twrite { fid: n(rng) as u32, offset: n(rng), data: d }
        }
        Msg::Rstat { .. } => {
            Msg::Rstat { stat: Stat { name: s(rng), uid: s(rng), length: n(rng), qid: q(n(rng)), ..stat() } }
        }
        Msg::Tgetattr { .. } => Msg::Tgetattr { fid: n(rng) as u32, request_mask: n(rng) },
        Msg::Trenameat { .. } => {
            Msg::Trenameat { olddirfid: n(rng) as u32, oldname: s(rng), newdirfid: n(rng) as u32, newname: s(rng) }
        }
        Msg::Tlock { .. } => Msg::Tlock {
            fid: n(rng) as u32,
            lock: Lock { ty: n(rng) as u8, start: n(rng), length: n(rng), proc_id: n(rng) as u32, client_id: s(rng) },
            flags: n(rng) as u32,
        },
        other => other,
    }
}

#[test]
fn random_messages_round_trip() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let all = samples();
    for _ in 0..20_000 {
        let (msg, dialect) = &all[(rng.next() % all.len() as u64) as usize];
        let frame = Frame { tag: rng.next() as u16, msg: randomize(msg, &mut rng) };
        let b = bytes(&frame);
        assert_eq!(decode(&b, *dialect).as_ref(), Ok(&frame));
    }
}

#[test]
fn every_truncation_and_size_lie_is_an_error() {
    for (msg, dialect) in samples() {
        let b = bytes(&Frame { tag: 1, msg });
        for cut in 0..b.len() {
            // A prefix, honestly sized, and a prefix claiming the full size.
            let mut honest = b[..cut].to_vec();
            if cut >= 4 {
                honest[..4].copy_from_slice(&(cut as u32).to_le_bytes());
            }
            assert!(decode(&honest, dialect).is_err(), "{cut} of {b:?}");
            assert!(decode(&b[..cut], dialect).is_err());
        }
        let mut longer = b.clone();
        longer.push(0);
        let len = longer.len() as u32;
        longer[..4].copy_from_slice(&len.to_le_bytes());
        assert_eq!(decode(&longer, dialect), Err(DecodeError::TrailingBytes(1)));
        // The count is of what is left over, not a ratio of lengths.
        longer.extend_from_slice(&[0; 4]);
        let len = longer.len() as u32;
        longer[..4].copy_from_slice(&len.to_le_bytes());
        assert_eq!(decode(&longer, dialect), Err(DecodeError::TrailingBytes(5)));
    }
}

#[test]
fn malformed_fields_are_errors() {
    let b = bytes(&Frame { tag: 1, msg: Msg::Tversion { msize: 1, version: "abc" } });
    let mut bad_utf8 = b.clone();
    bad_utf8[13] = 0xff;
    assert_eq!(decode(&bad_utf8, Dialect::P2000), Err(DecodeError::BadString));
    let mut long_string = b.clone();
    long_string[11] = 200; // the string claims 200 bytes
    assert_eq!(decode(&long_string, Dialect::P2000), Err(DecodeError::Truncated));
    let mut unknown = b.clone();
    unknown[4] = 106; // Terror does not exist
    assert_eq!(decode(&unknown, Dialect::P2000), Err(DecodeError::UnknownType(106)));
    let mut size_lie = b.clone();
    size_lie[0] = 99;
    assert_eq!(decode(&size_lie, Dialect::P2000), Err(DecodeError::SizeMismatch { declared: 99, actual: b.len() }));

    // Seventeen walk names.
    let mut walk = vec![0u8; 7];
    walk.extend_from_slice(&[1, 0, 0, 0, 2, 0, 0, 0, 17, 0]);
    for _ in 0..17 {
        walk.extend_from_slice(&[1, 0, b'x']);
    }
    walk[4] = 110;
    let len = walk.len() as u32;
    walk[..4].copy_from_slice(&len.to_le_bytes());
    assert_eq!(decode(&walk, Dialect::P2000), Err(DecodeError::TooManyWalkElements(17)));

    // Seventeen qids in an Rwalk; sixteen are the most a walk returns.
    let rwalk = |n: u16| {
        let mut b = vec![0u8; 7];
        b[4] = 111;
        b.extend_from_slice(&n.to_le_bytes());
        b.extend(std::iter::repeat_n([0x80, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0], n as usize).flatten());
        let len = b.len() as u32;
        b[..4].copy_from_slice(&len.to_le_bytes());
        b
    };
    assert_eq!(decode(&rwalk(17), Dialect::P2000), Err(DecodeError::TooManyWalkElements(17)));
    assert!(
        matches!(decode(&rwalk(16), Dialect::P2000), Ok(Frame { msg: Msg::Rwalk { wqids }, .. }) if wqids.len() == 16)
    );

    // A 9P2000.L message on a 9P2000 connection.
    let l = bytes(&Frame { tag: 1, msg: Msg::Tlopen { fid: 1, flags: 0 } });
    assert_eq!(decode(&l, Dialect::P2000), Err(DecodeError::UnknownType(12)));
    assert!(decode(&l, Dialect::L).is_ok());

    // A stat whose inner size disagrees with its fields.
    let mut st = bytes(&Frame { tag: 1, msg: Msg::Rstat { stat: stat() } });
    st[9] += 1;
    assert_eq!(decode(&st, Dialect::P2000), Err(DecodeError::BadStat));
}

/// Open modes reach the file server as the client asked: a write-only
/// open must not become read-write (a control file may refuse readers).
#[test]
fn open_modes_map_both_ways() {
    use OpenMode as M;
    let p2000 = [(0, M::READ), (1, M::WRITE), (2, M::READ_WRITE), (3, M::READ), (0x11, M::WRITE.truncated())];
    for (mode, want) in p2000 {
        assert_eq!(M::from_p2000(mode), want, "{mode:#x}");
    }
    let l = [(0, M::READ), (1, M::WRITE), (2, M::READ_WRITE), (3, M::READ_WRITE), (0o1001, M::WRITE.truncated())];
    for (flags, want) in l {
        assert_eq!(M::from_l(flags), want, "{flags:#o}");
    }
    for m in [M::READ, M::WRITE, M::READ_WRITE, M::READ.truncated(), M::READ_WRITE.truncated()] {
        assert_eq!((M::from_p2000(m.p2000()), M::from_l(m.l())), (m, m));
    }
    assert!(M::WRITE.truncated().truncate && !M::WRITE.truncate);
}

#[test]
fn frame_len_bounds_sizes() {
    assert_eq!(frame_len(&[1, 0], 8192), Ok(None));
    assert_eq!(frame_len(&[6, 0, 0, 0], 8192), Err(DecodeError::BadSize(6)));
    assert_eq!(frame_len(&[0, 0, 1, 0], 8192), Err(DecodeError::BadSize(65536)));
    assert_eq!(frame_len(&[0, 0x20, 0, 0, 9], 8192), Ok(Some(8192)));
}

#[test]
fn encoding_never_overruns_the_buffer() {
    for (msg, _) in samples() {
        let frame = Frame { tag: 1, msg };
        let full = bytes(&frame).len();
        for cap in 0..full {
            assert_eq!(encode(&frame, &mut vec![0u8; cap]), Err(EncodeError::BufferTooSmall));
        }
    }
    let huge = "x".repeat(70_000);
    let frame = Frame { tag: 1, msg: Msg::Rerror { ename: &huge } };
    assert_eq!(encode(&frame, &mut vec![0u8; 100_000]), Err(EncodeError::TooLong));
}

#[test]
fn directory_entries_pack_and_unpack() {
    let entries =
        [Dirent { qid: q(1), offset: 1, ty: 4, name: "." }, Dirent { qid: q(2), offset: 2, ty: 8, name: "file.txt" }];
    let mut buf = [0u8; 64];
    let mut at = 0;
    for e in &entries {
        at = put_dirent(&mut buf, at, e).unwrap();
    }
    let back: Vec<Dirent> = dirents(&buf[..at]).map(Result::unwrap).collect();
    assert_eq!(back, entries);
    assert_eq!(put_dirent(&mut buf[..30], 0, &entries[1]), None, "a full buffer refuses the entry");
    assert!(dirents(&buf[..at - 1]).any(|r| r.is_err()), "a cut entry is an error");
}

#[test]
fn garbage_never_panics() {
    let mut rng = Rng(0x1234_5678);
    let mut buf = [0u8; 128];
    for _ in 0..100_000 {
        let n = 7 + (rng.next() % 121) as usize;
        for b in buf.iter_mut().take(n) {
            *b = rng.next() as u8;
        }
        buf[..4].copy_from_slice(&(n as u32).to_le_bytes());
        buf[4] = [100, 104, 110, 117, 118, 125, 126, 24, 25, 40, 41, 52, 55][(rng.next() % 13) as usize];
        for d in [Dialect::P2000, Dialect::L] {
            if let Ok(f) = decode(&buf[..n], d) {
                assert_eq!(decode(&bytes(&f), d), Ok(f.clone()));
            }
        }
    }
}

/// The fuzz target's seed corpus (`fs9p/fuzz/seeds`): one encoded sample
/// of every message. `FS9P_WRITE_SEEDS=1 cargo test -p fs9p` rewrites it;
/// otherwise each seed must still decode.
#[test]
fn fuzz_seeds_are_current() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    if std::env::var_os("FS9P_WRITE_SEEDS").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for (i, (msg, _)) in samples().into_iter().enumerate() {
            let name = format!("{:02}-{}", i, type_code(&msg));
            std::fs::write(dir.join(name), bytes(&Frame { tag: i as u16, msg })).unwrap();
        }
    }
    let seeds: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| std::fs::read(e.unwrap().path()).unwrap()).collect();
    assert_eq!(
        seeds.len(),
        samples().len(),
        "{} holds other files: libFuzzer writes into the first folder it is given, which must be \
         fuzz/corpus/decode (see the README), never the seeds",
        dir.display()
    );
    for s in seeds {
        assert!(decode(&s, Dialect::L).is_ok() || decode(&s, Dialect::P2000).is_ok());
    }
}

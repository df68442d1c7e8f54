//! Linux's own 9P client (v9fs, the kernel of Debian's `linux-image-amd64`
//! in a small QEMU guest, `qemu::linux`) against our servers, used as a
//! person would: `mount -t 9p`, then busybox's tools. Each operation is
//! checked twice: what the guest's tools say, and what the host's file
//! system holds afterwards.

use fs9p::host::{serve, DirFs, Users};
use qemu::linux::Guest;
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::time::Duration;
use tests::TempDir;

const LIMIT: Duration = Duration::from_secs(300);

/// `u9p serve`'s file system on a free port, acting as `users`.
fn serve_dir(dir: &Path, users: Users) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let fs = DirFs::new(dir, users).unwrap();
    std::thread::spawn(move || serve(listener, fs, 4096));
    port
}

/// Shell functions for the guest's script: `try KEY CMD...` prints
/// `KEY: ok OUTPUT` or `KEY: error OUTPUT`, on one line.
const TRY: &str = r#"
try() {
    key=$1; shift
    if out=$("$@" 2>&1); then echo "$key: ok $out" | tr '\n' ' '; else echo "$key: error $out" | tr '\n' ' '; fi
    echo
}
"#;

/// Runs `script` in the guest; its `KEY: VALUE` lines, by key.
fn run_guest(script: &str) -> (BTreeMap<String, String>, String) {
    let guest = Guest::ensure().unwrap_or_else(|e| panic!("{e}"));
    let out = guest.run(&format!("{TRY}{script}"), LIMIT).unwrap_or_else(|e| panic!("{e}"));
    let lines = out
        .output
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    (lines, out.output)
}

fn said<'a>(lines: &'a BTreeMap<String, String>, key: &str, all: &str) -> &'a str {
    lines.get(key).map(String::as_str).unwrap_or_else(|| panic!("no {key:?} in the guest's output:\n{all}"))
}

#[test]
fn linux_sees_posix_semantics_from_u9p_serve() {
    let dir = TempDir::new("v9fs-posix");
    let d = &dir.0;
    // Made on the host: a directory only root may change, a file only
    // root may read, and one anyone may write.
    std::fs::create_dir(d.join("rootdir")).unwrap();
    std::fs::write(d.join("rootdir/f"), b"root's\n").unwrap();
    std::fs::write(d.join("secret"), b"hidden\n").unwrap();
    std::fs::create_dir(d.join("open")).unwrap();
    let mode =
        |p: &str, m| std::fs::set_permissions(d.join(p), std::os::unix::fs::PermissionsExt::from_mode(m)).unwrap();
    mode("rootdir", 0o755);
    mode("secret", 0o600);
    mode("open", 0o777);
    // A time to the nanosecond, which the guest must see whole (busybox
    // sets whole seconds only: setting nanoseconds is tested in ninep.rs).
    let when = std::time::UNIX_EPOCH + Duration::new(981_173_106, 123_456_789);
    std::fs::File::create(d.join("ref")).unwrap().set_modified(when).unwrap();
    let port = serve_dir(d, Users::Attaching { allow_root: true });
    let squashing = serve_dir(d, Users::Attaching { allow_root: false });
    let script = format!(
        r#"
mount -t 9p -o trans=tcp,port={port},version=9p2000.L,msize=262144 10.0.2.2 /mnt || exit 9
cd /mnt
try fifo sh -c 'mkfifo fifo && stat -c "%F %a" fifo'
try char sh -c 'mknod chr c 1 3 && stat -c "%F %t:%T" chr'
try block sh -c 'mknod blk b 7 0 && stat -c "%F %t:%T" blk'
echo data > target
try symlink sh -c 'ln -s target link && readlink link && cat link && stat -c %F link'
try dangling sh -c 'ln -s nowhere dangle && readlink dangle && cat dangle'
try hardlink sh -c 'ln target hard && stat -c %h target && cat hard'
try chmod sh -c 'chmod 0640 target && stat -c %a target'
try setid sh -c 'chmod 4755 target && stat -c %a target && chmod 0644 target'
try chown sh -c 'chown 65534:65534 target && stat -c %u:%g target'
try reftime stat -c %y ref
try touch sh -c 'touch -d "2001-02-03 04:05:07" target && stat -c %Y target'
try far sh -c 'touch -d "2100-01-01 00:00:00" far && stat -c %Y far'
try within sh -c 'echo a > t1; sleep 0.1; echo b > t2; stat -c %y t1 t2 | uniq | wc -l'
try sparse sh -c 'dd if=/dev/zero of=sparse bs=1 count=1 seek=3G 2>/dev/null && stat -c "%s %b" sparse'
try truncate sh -c 'echo 0123456789 > trunc && truncate -s 4 trunc && cat trunc'
try statfs stat -f -c "%S %b" .
try fsync sync target
try longname touch nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn
try rmdir-full sh -c 'mkdir full && touch full/x && rmdir full'
try rootdir-rename su nobody -c 'mv /mnt/rootdir/f /mnt/rootdir/g'
try secret-read su nobody -c 'cat /mnt/secret'
try nobody-chmod su nobody -c 'chmod 0666 /mnt/secret'
try nobody-create su nobody -c 'echo mine > /mnt/open/mine && stat -c %u:%g /mnt/open/mine'
try nobody-chown su nobody -c 'chown 0 /mnt/open/mine'
try unlink-dir sh -c 'mkdir gone && unlink gone'
mkdir /squashed && mount -t 9p -o trans=tcp,port={squashing},version=9p2000.L 10.0.2.2 /squashed
try squashed-read cat /squashed/secret
try squashed-create sh -c 'echo root > /squashed/open/squashed && stat -c %u /squashed/open/squashed'
"#
    );
    let (lines, all) = run_guest(&script);
    let ok = |key: &str, want: &str| {
        let got = said(&lines, key, &all);
        assert_eq!(got, format!("ok {want}").trim_end(), "{key}:\n{all}");
    };
    let refused = |key: &str, why: &str| {
        let got = said(&lines, key, &all);
        assert!(got.starts_with("error ") && got.ends_with(why), "{key}: {got:?}, not {why:?}\n{all}");
    };
    ok("fifo", "fifo 644");
    ok("char", "character special file 1:3");
    ok("block", "block special file 7:0");
    ok("symlink", "target data symbolic link");
    refused("dangling", "No such file or directory");
    ok("hardlink", "2 data");
    ok("chmod", "640");
    ok("setid", "4755");
    ok("chown", "65534:65534");
    ok("reftime", "2001-02-03 04:05:06.123456789 +0000");
    ok("touch", "981173107");
    ok("far", "4102444800");
    ok("within", "2");
    ok("truncate", "0123");
    ok("fsync", "");
    refused("longname", "File name too long");
    refused("rmdir-full", "Directory not empty");
    refused("rootdir-rename", "Permission denied");
    refused("secret-read", "Permission denied");
    refused("nobody-chmod", "Operation not permitted");
    ok("nobody-create", "65534:65534");
    refused("nobody-chown", "Operation not permitted");
    refused("unlink-dir", "Is a directory");
    // Without --allow-root, the guest's root is nobody on the host.
    refused("squashed-read", "Permission denied");
    ok("squashed-create", "65534");
    let sparse = said(&lines, "sparse", &all);
    let blocks: u64 = sparse.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(sparse.starts_with("ok 3221225473 ") && blocks <= 64, "a sparse file: {sparse}");

    // The host holds what the guest made.
    let meta = |p: &str| std::fs::symlink_metadata(d.join(p)).unwrap_or_else(|e| panic!("{p}: {e}\n{all}"));
    assert!(meta("fifo").file_type().is_fifo());
    assert!(meta("chr").file_type().is_char_device() && meta("chr").rdev() == libc_makedev(1, 3));
    assert!(meta("blk").file_type().is_block_device());
    assert_eq!(std::fs::read_link(d.join("link")).unwrap(), Path::new("target"));
    let target = meta("target");
    assert_eq!((target.nlink(), target.ino()), (2, meta("hard").ino()));
    assert_eq!((target.uid(), target.gid(), target.mode() & 0o7777), (65534, 65534, 0o644));
    assert_eq!(target.mtime(), 981_173_107);
    assert_eq!(meta("far").mtime(), 4_102_444_800);
    assert_eq!(std::fs::read(d.join("rootdir/f")).unwrap(), b"root's\n", "nobody's rename failed on the host too");
    assert_eq!(meta("secret").mode() & 0o777, 0o600);
    assert_eq!((meta("open/mine").uid(), meta("open/mine").gid()), (65534, 65534));
    assert_eq!((meta("open/squashed").uid(), meta("open/squashed").gid()), (65534, 65534));
    // Acting as nobody never left the server's threads as nobody.
    assert_eq!(std::fs::read(d.join("secret")).unwrap(), b"hidden\n");
}

/// The device number Linux's `makedev` makes (the low 8 bits of the minor
/// and the major's 12 in the old places).
fn libc_makedev(major: u64, minor: u64) -> u64 {
    ((major & 0xfff) << 8) | (minor & 0xff) | ((minor & !0xff) << 12) | ((major & !0xfff) << 32)
}

/// The older dialects: a client asking for 9P2000.u is answered 9P2000
/// (version(5)), and Linux then speaks that; its error texts are ones
/// Linux maps to the right errno.
#[test]
fn linux_falls_back_from_9p2000u_and_reads_our_9p2000_errors() {
    let dir = TempDir::new("v9fs-dialects");
    std::fs::create_dir(dir.0.join("full")).unwrap();
    std::fs::write(dir.0.join("full/x"), b"x").unwrap();
    let port = serve_dir(&dir.0, Users::Me);
    let script = format!(
        r#"
mkdir -p /mnt/u /mnt/p
try mount-u mount -t 9p -o trans=tcp,port={port},version=9p2000.u 10.0.2.2 /mnt/u
try mount-p mount -t 9p -o trans=tcp,port={port},version=9p2000 10.0.2.2 /mnt/p
try read-u cat /mnt/u/full/x
cd /mnt/p
try notempty rmdir full
try invalid mv full full/inside
try notfound cat nowhere
try exists mkdir full
try notdir ls full/x/y
try write sh -c 'echo made > new && cat new'
"#
    );
    let (lines, all) = run_guest(&script);
    let said = |key: &str| said(&lines, key, &all).to_string();
    assert_eq!(said("mount-u"), "ok", "{all}");
    assert_eq!(said("mount-p"), "ok", "{all}");
    assert_eq!(said("read-u"), "ok x", "{all}");
    assert_eq!(said("write"), "ok made", "{all}");
    for (key, text) in [
        ("notempty", "Directory not empty"),
        ("invalid", "Invalid argument"),
        ("notfound", "No such file or directory"),
        ("exists", "File exists"),
        ("notdir", "Not a directory"),
    ] {
        let got = said(key);
        assert!(got.starts_with("error") && got.ends_with(text), "{key}: {got:?}, not {text:?}\n{all}");
    }
}

/// A node's export (`exportfs`, its `/tmp` a `ramfs`) mounted by Linux:
/// stable inode numbers, modes, owners and times kept, sparse files
/// within the node's budget; what the node's files cannot be (links,
/// special files, attributes of synthetic files) refused clearly.
#[test]
fn linux_sees_a_nodes_ramfs_keep_what_posix_keeps() {
    use qemu::node::{Forward, Options};
    let port = tests::free_port(false);
    let forwards = vec![Forward { udp: false, host: port, node: 564 }];
    let opts = Options { run: Some("exportfs".into()), forwards, ..Options::default() };
    let node = tests::boot("release", &opts, "exportfs: serving / on tcp!*!564", LIMIT);
    let script = format!(
        r#"
mount -t 9p -o trans=tcp,port={port},version=9p2000.L,msize=65536 10.0.2.2 /mnt || exit 9
cd /mnt/tmp
try write sh -c 'echo hello > f && cat f'
try ino sh -c 'a=$(stat -c %i f); mv f g; b=$(stat -c %i g); [ "$a" = "$b" ] && echo same'
try chmod sh -c 'chmod 0600 g && stat -c %a g'
try chown sh -c 'chown 65534:65534 g && stat -c %u:%g g'
try touch sh -c 'touch -d "2100-01-01 00:00:00" g && stat -c %Y g'
try mkdir sh -c 'mkdir -m 0700 d && stat -c %a d'
try create sh -c 'umask 027 && echo x > h && stat -c %a h'
try sparse sh -c 'dd if=/dev/zero of=s bs=1 count=1 seek=2G 2>/dev/null && stat -c "%s %b" s'
try changed sh -c 'a=$(stat -c %y h); sleep 0.1; echo more >> h; b=$(stat -c %y h); [ "$a" != "$b" ] && echo changed'
try symlink ln -s g l
try fifo mkfifo p
try synthetic chmod 0600 /mnt/dev/null
"#
    );
    let (lines, all) = run_guest(&script);
    let all = format!("{all}\nthe node:\n{}", node.log());
    let said = |key: &str| said(&lines, key, &all).to_string();
    for (key, want) in [
        ("write", "ok hello"),
        ("ino", "ok same"),
        ("chmod", "ok 600"),
        ("chown", "ok 65534:65534"),
        ("touch", "ok 4102444800"),
        ("mkdir", "ok 700"),
        ("create", "ok 640"),
        ("sparse", "ok 2147483649 1"),
        ("changed", "ok changed"),
    ] {
        assert_eq!(said(key), want, "{key}:\n{all}");
    }
    for key in ["symlink", "fifo", "synthetic"] {
        let got = said(key);
        assert!(got.starts_with("error") && got.ends_with("Operation not supported"), "{key}: {got}\n{all}");
    }
}

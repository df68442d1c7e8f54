//! What the integration tests in `tests/` share: booting nodes and
//! clusters and waiting for them, reading console logs by their
//! documented formats, typing into a node's shell, raw 9P exchanges,
//! host ports and scratch directories. Starting and driving QEMU is
//! `qemu::node`'s.

use fs9p::{decode, encode, Dialect, Frame, Msg};
use qemu::cluster::Cluster;
use qemu::node::{Node, Options};
use std::io::Write;
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How long a shell command may take (TCG on a loaded 2-core host).
pub const SHELL_TIMEOUT: Duration = Duration::from_secs(600);

/// A node of `opts` on the `profile` image (built once per run), once
/// its console says `until`.
pub fn boot(profile: &str, opts: &Options, until: &str, timeout: Duration) -> Node {
    let image = qemu::prepare(profile).unwrap_or_else(|e| panic!("build failed: {e}"));
    let node = Node::start(&image, opts, false).unwrap_or_else(|e| panic!("{e}"));
    node.wait_for(until, timeout).unwrap_or_else(|e| panic!("{e}"));
    node
}

/// A cluster of nodes of `opts` on the release image, each at its shell.
pub fn boot_cluster(opts: &[Options], timeout: Duration) -> Cluster {
    let image = qemu::prepare("release").unwrap_or_else(|e| panic!("build failed: {e}"));
    let cluster = qemu::cluster::start(&image, opts, false).unwrap_or_else(|e| panic!("{e}"));
    cluster.wait_for_shells(timeout).unwrap_or_else(|e| panic!("{e}"));
    cluster
}

/// Sends one 9P message on a raw connection; the reply's bytes, which
/// must be the next frame and answer `tag`.
pub fn rpc(s: &mut TcpStream, dialect: Dialect, tag: u16, msg: Msg) -> Vec<u8> {
    let mut out = vec![0u8; 8192];
    let n = encode(&Frame { tag, msg }, &mut out).unwrap();
    s.write_all(&out[..n]).unwrap();
    let mut buf = Vec::new();
    fs9p::host::read_frame(s, &mut buf, 1 << 20).unwrap();
    assert_eq!(decode(&buf, dialect).unwrap().tag, tag, "the next reply answers another tag");
    buf
}

/// The console line containing `pattern`, or a failure showing the log.
pub fn line<'a>(log: &'a str, pattern: &str) -> &'a str {
    log.lines().find(|l| l.contains(pattern)).unwrap_or_else(|| panic!("no line with {pattern:?} in:\n{log}"))
}

/// The decimal number right after `before` in `line`.
pub fn number_after(line: &str, before: &str) -> u64 {
    let rest = line.split(before).nth(1).unwrap_or_else(|| panic!("no {before:?} in {line:?}"));
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().unwrap_or_else(|_| panic!("no number after {before:?} in {line:?}"))
}

/// A host port no other test of this run has or will get (`udp`: free
/// for UDP, else for TCP).
pub fn free_port(udp: bool) -> u16 {
    qemu::node::free_port(udp).unwrap_or_else(|e| panic!("{e}"))
}

/// Types `line` into `node`'s shell and waits until `expect` is printed
/// after the echo of the line, and the prompt is back; the output after
/// the echo.
pub fn run(node: &Node, line: &str, expect: &str) -> String {
    run_within(node, line, expect, SHELL_TIMEOUT)
}

/// [`run`], failing after `timeout`: for a step that hangs if what it
/// tests is broken, so that the test fails in a minute, not ten.
pub fn run_within(node: &Node, line: &str, expect: &str, timeout: Duration) -> String {
    let mark = node.mark();
    node.type_text(&format!("{line}\n")).unwrap();
    let t0 = Instant::now();
    loop {
        let log = node.log();
        let out = log[mark..].split_once('\n').map_or("", |(_, rest)| rest);
        if let Some(at) = out.find(expect) {
            if expect == "$ " || out[at + expect.len()..].contains("$ ") {
                return out.to_string();
            }
        }
        assert!(t0.elapsed() < timeout, "{line}: no {expect:?} in:\n{}", &log[mark..]);
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts `line` in the background in `node`'s shell and waits for `expect`.
pub fn start(node: &Node, line: &str, expect: &str) {
    let mark = node.mark();
    node.type_text(&format!("{line} &\n")).unwrap();
    node.wait_after(mark, expect, SHELL_TIMEOUT).unwrap_or_else(|e| panic!("{line}: {e}"));
}

/// Node `node`'s local pid `pid` as a gpid (`libux::cluster`): what
/// `ps`, `/proc` and the process API call it.
pub fn gpid(node: u16, pid: u32) -> u32 {
    u32::from(node) << 16 | pid
}

/// The start of `/proc/1/status` on node `node`: its ramfs, pid 1.
pub fn ramfs_status(node: u16) -> String {
    format!("{} 0 running ramfs", gpid(node, 1))
}

/// The pids of `name` in `ps` output, with their parents.
pub fn pids_of(ps: &str, name: &str) -> Vec<(u32, u32)> {
    ps.lines()
        .filter(|l| l.split_whitespace().last() == Some(name))
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some((w.next()?.parse().ok()?, w.next()?.parse().ok()?))
        })
        .collect()
}

/// The pids of `name` in `ps` output that the shell started (the
/// cluster server starts an `exportfs` and `mount9p`s of its own).
pub fn started_by_shell(ps: &str, name: &str) -> Vec<u32> {
    let shells: Vec<u32> = pids_of(ps, "sh").into_iter().map(|(p, _)| p).collect();
    pids_of(ps, name).into_iter().filter(|(_, ppid)| shells.contains(ppid)).map(|(p, _)| p).collect()
}

/// A fresh directory under the target dir (mode 0755), removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// `tag` names the test: `target/ux/TAG-PID`.
    pub fn new(tag: &str) -> TempDir {
        let p = qemu::out_dir().join(format!("{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

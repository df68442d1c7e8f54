//! Per-process namespaces, checked by `filetest`'s own children (processes
//! the process server did not start, which is what the rules are about):
//! `filetest ns` makes a namespace of its own and mounts in it; `filetest
//! ns-inherit`, its child, must see that mount; `filetest`, its parent,
//! must not. `filetest orphan`, left by `filetest orphan-maker`, has the
//! parent 0 that the process server's own children have, but not their
//! right to mount anywhere.

use crate::{endpoint, mount_of, read_text};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use filetest::{check, e};
use libux::procfs::parse_ns_line;
use libux::rpc::{End, Errno, Pid};

/// Where the child mounts, a place only a namespace of its own allows.
const PRIVATE: &str = "/tmp/private";

/// The mounts of `/proc/<who>/ns`.
fn ns_of(who: &str) -> Result<Vec<(String, Pid)>, String> {
    let text = read_text(&format!("/proc/{who}/ns"))?;
    text.lines()
        .map(|l| parse_ns_line(l).map(|(p, s)| (String::from(p), s)).ok_or(format!("bad ns line {l:?}")))
        .collect()
}

/// Runs `filetest ARG` as a child; how it ended.
fn run_child(arg: &str) -> Result<End, String> {
    let pid = libux::process::spawn("/bin/filetest", &["filetest-ns", arg], &[]).map_err(e("spawn filetest"))?;
    Ok(libux::process::wait(Some(pid)).map_err(e("wait"))?.end)
}

/// Runs `filetest ARG` as a child and checks that it succeeded.
fn child(arg: &str, what: &str) -> Result<(), String> {
    let end = run_child(arg)?;
    check(what, end == End::Exited(0), format!("{end:?}"))
}

/// In `filetest`: the system's namespace, and a child with its own.
pub fn parent() -> Result<(), String> {
    let mine = ns_of("self")?;
    let has = |point: &str, server: Pid| mine.iter().any(|(p, s)| p == point && *s == server);
    check("/proc/self/ns lists the system's mounts", has("/proc", 0) && has("/bin", 0), format!("{mine:?}"))?;
    child("ns", "a child with a namespace of its own passed its checks")?;
    let after = ns_of("self")?;
    check("the child's mount never showed here", after == mine, format!("{after:?}"))?;

    let End::Exited(_) = run_child("orphan-maker")? else {
        return Err(String::from("orphan-maker did not exit"));
    };
    // An orphan is dropped as soon as it ends, wait file and all: its
    // verdict comes in a file instead, within a few seconds.
    let mut sleep = libux::fs::client::open("/dev/sleep", libux::fs::flags::WRITE).map_err(e("/dev/sleep"))?;
    let mut verdict = read_text(ORPHAN_VERDICT);
    for _ in 0..1000 {
        if verdict.is_ok() {
            break;
        }
        sleep.write(b"10").map_err(e("/dev/sleep"))?;
        verdict = read_text(ORPHAN_VERDICT);
    }
    let verdict = verdict?;
    let _ = libux::fs::client::remove(ORPHAN_VERDICT);
    check("an orphan passed its checks", verdict == "ok", verdict)
}

/// Where the orphan leaves how its checks went.
const ORPHAN_VERDICT: &str = "/tmp/orphan-verdict";

/// In `filetest orphan-maker`: leaves an orphan; exits with its pid.
pub fn orphan_maker() -> i32 {
    libux::process::spawn("/bin/filetest", &["filetest-ns", "orphan"], &[]).map_or(-1, |pid| pid as i32)
}

/// In `filetest orphan`: once orphaned, still no mount outside `/n`.
pub fn orphan() -> Result<(), String> {
    while libux::process::getppid().map_err(e("getppid"))? != 0 {
        libux::sel4::syscall::yield_now();
    }
    let ep = endpoint()?;
    let mounted = libux::process::mount("/tmp/orphan", ep).err();
    let verdict = check(
        "an orphan mounts outside /n no more than before",
        mounted == Some(Errno::NotPermitted),
        format!("{mounted:?}"),
    );
    let text = verdict.as_ref().map_or_else(String::clone, |()| String::from("ok"));
    // Written whole under another name, then renamed: the parent, which
    // polls for the verdict, never reads a file made but not yet written.
    let draft = format!("{ORPHAN_VERDICT}.new");
    let written = libux::fs::client::create(&draft)
        .and_then(|mut f| f.write(text.as_bytes()))
        .and_then(|_| libux::fs::client::rename(&draft, ORPHAN_VERDICT));
    written.map_err(e(ORPHAN_VERDICT))?;
    verdict
}

/// In `filetest ns`: the rules of mounting, before and after `NewNamespace`.
pub fn own() -> Result<(), String> {
    let ep = endpoint()?;
    let shared = libux::process::mount(PRIVATE, ep).err();
    check(
        "outside /n, no mount in the system's namespace",
        shared == Some(Errno::NotPermitted),
        format!("{shared:?}"),
    )?;

    libux::process::new_namespace().map_err(e("new namespace"))?;
    libux::process::mount(PRIVATE, ep).map_err(e("mount in a namespace of its own"))?;
    check("a namespace of its own takes a mount anywhere", mount_of("/tmp/private/f")? == PRIVATE, String::new())?;
    let me = libux::process::getpid().map_err(e("getpid"))?;
    let parent = libux::process::getppid().map_err(e("getppid"))?;
    let listed = ns_of("self")?.contains(&(String::from(PRIVATE), me));
    check("/proc/self/ns shows the mount", listed, String::new())?;
    let theirs = ns_of(&format!("{parent}"))?;
    let unseen = !theirs.iter().any(|(p, _)| p == PRIVATE);
    check("the parent's namespace has no such mount", unseen, format!("{theirs:?}"))?;
    child("ns-inherit", "a child spawned afterwards shares the namespace")?;

    for at in ["/tmp/p2", "/tmp/p3", "/tmp/p4"] {
        libux::process::mount(at, ep).map_err(e("mount"))?;
    }
    let fifth = libux::process::mount("/tmp/p5", ep).err();
    check("a fifth mount refused", fifth == Some(Errno::NoMemory), format!("{fifth:?}"))?;
    let odd = libux::process::mount("/n/a\nb", ep).err();
    check("a mount point with a control character refused", odd == Some(Errno::InvalidArgument), format!("{odd:?}"))?;
    libux::process::unmount(PRIVATE).map_err(e("unmount"))?;
    check("after unmount the path is ramfs's again", mount_of("/tmp/private/f")? == "/", String::new())
}

/// In `filetest ns-inherit`: the parent's mount, and the parent's rules.
pub fn inherited() -> Result<(), String> {
    check("the parent's mount is seen", mount_of("/tmp/private/f")? == PRIVATE, String::new())?;
    let ep = endpoint()?;
    let anywhere = libux::process::mount("/tmp/mine", ep).err();
    let why = format!("{anywhere:?}");
    check("outside /n, no mount in a namespace it did not make", anywhere == Some(Errno::NotPermitted), why)
}

//! `filetest`: the file API against the ramfs, printing `filetest: ok ...`
//! per check (`filetest: FAIL ...` and exit 1 on the first failure):
//! write and read back 1 MiB with a checksum; fill the file system to its
//! limit, get "no space", delete and write again; stat and list agree
//! with what was written; rename and remove; bad input gives typed errors;
//! descriptors; `/bin` is read-only; `/proc` agrees with the process API;
//! mounts, and namespaces of one's own (`filetest ns`, see `namespaces`).
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use filetest::{check, e};
use libux::fd;
use libux::fs::client::{self as fs, Metadata};
use libux::fs::flags;
use libux::procfs::Status;
use libux::rpc::{End, Errno, Pid, Request, Response};

mod namespaces;
mod windows;

libux::entry!(main);

fn checksum(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
}

fn main() -> i32 {
    filetest::report(match libux::rt::args().get(1).copied() {
        None => run(),
        Some("ns") => namespaces::own(),
        Some("ns-inherit") => namespaces::inherited(),
        Some("orphan-maker") => return namespaces::orphan_maker(),
        Some("orphan") => namespaces::orphan(),
        Some("windows") => windows::child(),
        Some(_) => {
            libux::eprintln!("usage: filetest (its children: filetest ns|ns-inherit|orphan-maker|orphan|windows)");
            return 2;
        }
    })
}

fn run() -> Result<(), String> {
    // 1 MiB round trip.
    let data: Vec<u8> = (0..1 << 20).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let mut f = fs::create("/tmp/big").map_err(e("create /tmp/big"))?;
    f.write(&data).map_err(e("write"))?;
    f.close().map_err(e("close"))?;
    let mut f = fs::open("/tmp/big", flags::READ).map_err(e("open"))?;
    let back = f.read_to_end().map_err(e("read"))?;
    f.close().map_err(e("close"))?;
    let (a, b) = (checksum(&data), checksum(&back));
    check(
        &format!("1 MiB written and read back, checksum {a:#018x}"),
        a == b && back.len() == data.len(),
        format!("{b:#x}"),
    )?;

    // stat and list agree with what was written.
    let st = fs::stat("/tmp/big").map_err(e("stat"))?;
    check("stat gives the size written", st.size == 1 << 20 && !st.is_dir, format!("{st:?}"))?;
    fs::mkdir("/tmp/d").map_err(e("mkdir"))?;
    let mut small = fs::create("/tmp/d/small").map_err(e("create small"))?;
    small.write(b"hello").map_err(e("write small"))?;
    small.close().map_err(e("close small"))?;
    let names: Vec<(String, bool, u64)> =
        fs::list("/tmp").map_err(e("list"))?.into_iter().map(|m: Metadata| (m.name, m.is_dir, m.size)).collect();
    let want = [(String::from("big"), false, 1 << 20), (String::from("d"), true, 1)];
    check("list shows what was made", names == want, format!("{names:?}"))?;

    // Rename and remove; relative paths through the working directory.
    fs::chdir("/tmp/d").map_err(e("chdir"))?;
    fs::rename("small", "renamed").map_err(e("rename"))?;
    let renamed = fs::stat("/tmp/d/renamed").map_err(e("stat renamed"))?.size;
    check(
        "rename within a directory, by relative path",
        renamed == 5 && fs::stat("small") == Err(Errno::NotFound),
        format!("{renamed}"),
    )?;
    check("remove of a non-empty directory refused", fs::remove("/tmp/d") == Err(Errno::NotEmpty), String::new())?;
    fs::remove("renamed").map_err(e("remove"))?;
    fs::remove("/tmp/d").map_err(e("remove dir"))?;
    check("getcwd", fs::getcwd().as_deref() == Ok("/tmp/d"), String::new())?;
    fs::chdir("/").map_err(e("chdir /"))?;

    // Fill to the limit, then make room.
    let mut fill = fs::create("/tmp/fill").map_err(e("create fill"))?;
    let chunk = [7u8; 4096];
    let mut written = 0usize;
    let full = loop {
        match fill.write(&chunk) {
            Ok(0) => return Err(format!("a write wrote nothing after {written} bytes, without an error")),
            Ok(n) => written += n,
            Err(err) => break err,
        }
        if written > 64 << 20 {
            return Err(String::from("wrote 64 MiB without running out of space"));
        }
    };
    fill.close().map_err(e("close fill"))?;
    check(&format!("no space after {} KiB", written >> 10), full == Errno::NoSpace, format!("{full}"))?;
    fs::remove("/tmp/fill").map_err(e("remove fill"))?;
    let mut again = fs::create("/tmp/again").map_err(e("create after freeing"))?;
    let n = again.write(&chunk).map_err(e("write after freeing"))?;
    again.close().map_err(e("close again"))?;
    let back =
        fs::open("/tmp/again", flags::READ).and_then(|mut f| f.read_to_end()).map_err(e("read after freeing"))?;
    check(
        "writing works again after deleting",
        n == chunk.len() && back == chunk,
        format!("wrote {n}, read {}", back.len()),
    )?;

    // Bad input: typed errors.
    check("missing file", fs::open("/tmp/nope", flags::READ).err() == Some(Errno::NotFound), String::new())?;
    check("NUL in a path", fs::stat("/tmp/a\0b").err() == Some(Errno::InvalidArgument), String::new())?;
    let long = String::from("/tmp/") + &"x".repeat(4096);
    check("4 KiB path", fs::stat(&long).err() == Some(Errno::NameTooLong), String::new())?;
    let mut ro = fs::open("/tmp/big", flags::READ).map_err(e("open read-only"))?;
    check("write to a read-only descriptor", ro.write(b"x") == Err(Errno::BadHandle), String::new())?;
    ro.close().map_err(e("close"))?;
    check("open a directory for writing", fs::open("/tmp", flags::WRITE).err() == Some(Errno::IsDir), String::new())?;
    let trunc = fs::open("/tmp/big", flags::READ | flags::TRUNCATE).err();
    let big = fs::stat("/tmp/big").map_err(e("stat big"))?.size;
    check(
        "truncate without write refused",
        trunc == Some(Errno::InvalidArgument) && big == 1 << 20,
        format!("{trunc:?} {big}"),
    )?;
    check("chdir to a file refused", fs::chdir("/tmp/big") == Err(Errno::NotDir), String::new())?;
    descriptors()?;
    proc_files()?;
    mounts()?;
    windows::parent()?;
    namespaces::parent()
}

/// The mount point `path` resolves under.
fn mount_of(path: &str) -> Result<String, String> {
    let into = libux::layout::slot::FIRST_FREE + 9;
    match libux::rpc::client::call(libux::layout::slot::PROC_CONN, &Request::Resolve { path, into }) {
        Ok(Response::Resolved { mount, .. }) => Ok(mount),
        other => Err(format!("resolve {path}: {other:?}")),
    }
}

/// A new endpoint to mount (always in the same slot of ours).
fn endpoint() -> Result<u64, String> {
    let ep = libux::layout::slot::FIRST_FREE + 8;
    libux::process::create_endpoint(ep).map_err(e("create endpoint"))?;
    Ok(ep)
}

/// Mount and unmount (we were started by the process server, so we may).
fn mounts() -> Result<(), String> {
    let ep = endpoint()?;
    libux::process::mount("/tmp/m", ep).map_err(e("mount"))?;
    check("a mount takes over its path", mount_of("/tmp/m/x")? == "/tmp/m", String::new())?;
    let twice = libux::process::mount("/tmp/m", ep).err();
    check("a second mount at one path refused", twice == Some(Errno::Exists), format!("{twice:?}"))?;
    libux::process::unmount("/tmp/m").map_err(e("unmount"))?;
    check("after unmount the path is ramfs's again", mount_of("/tmp/m/x")? == "/", String::new())?;
    let not_ours = libux::process::unmount("/").err();
    check("unmount of another's mount refused", not_ours == Some(Errno::NotPermitted), format!("{not_ours:?}"))?;
    let none = libux::process::unmount("/tmp").err();
    check("unmount of no mount point refused", none == Some(Errno::InvalidArgument), format!("{none:?}"))
}

/// Descriptors: closed and never-opened ones, and read-only `/bin`.
fn descriptors() -> Result<(), String> {
    let mut buf = [0u8; 8];
    check("read of a never-opened descriptor", fd::read(17, &mut buf) == Err(Errno::BadHandle), String::new())?;
    check("read past the table", fd::read(fd::MAX_FDS + 5, &mut buf) == Err(Errno::BadHandle), String::new())?;
    let d = fd::open("/tmp/big", flags::READ).map_err(e("fd open"))?;
    fd::close(d).map_err(e("fd close"))?;
    check("read of a closed descriptor", fd::read(d, &mut buf) == Err(Errno::BadHandle), String::new())?;
    check("close of a closed descriptor", fd::close(d) == Err(Errno::BadHandle), String::new())?;
    let w = fs::open("/bin/ls", flags::WRITE).err();
    check("write to /bin refused", w == Some(Errno::ReadOnly), format!("{w:?}"))?;
    let rm = fs::remove("/bin/ls").err();
    check("remove in /bin refused", rm == Some(Errno::ReadOnly), format!("{rm:?}"))?;
    let ls = fs::open("/bin/ls", flags::READ).and_then(|mut f| f.read_to_end()).map_err(e("read /bin/ls"))?;
    check("/bin/ls is an ELF image", ls.starts_with(b"\x7fELF"), format!("{} bytes", ls.len()))
}

fn read_text(path: &str) -> Result<String, String> {
    let bytes = fs::open(path, flags::READ).and_then(|mut f| f.read_to_end()).map_err(e(path))?;
    String::from_utf8(bytes).map_err(|_| format!("{path}: not text"))
}

/// `/proc` and the process API are two faces of one thing.
fn proc_files() -> Result<(), String> {
    let me = libux::process::getpid().map_err(e("getpid"))?;
    let own = read_text("/proc/self/status")?;
    let status = Status::parse(&own).ok_or(format!("unparsable {own:?}"))?;
    check("/proc/self/status is the reader's", status.pid == me && status.name == "filetest", own.clone())?;
    check("args lists argv", read_text("/proc/self/args")? == "filetest\n", String::new())?;

    // Spawned through a file, waited for through the API.
    let mut spawn = fs::open("/proc/spawn", flags::READ | flags::WRITE).map_err(e("open /proc/spawn"))?;
    spawn.write(b"/bin/true 7").map_err(e("write /proc/spawn"))?;
    spawn.offset = 0;
    let pid_text = String::from_utf8(spawn.read_to_end().map_err(e("read /proc/spawn"))?).unwrap_or_default();
    let pid: Pid = pid_text.trim().parse().map_err(|_| format!("pid {pid_text:?}"))?;
    let waited = libux::process::wait(Some(pid)).map_err(e("wait"))?;
    check("spawned by /proc/spawn, reaped by Wait", waited.end == End::Exited(7), format!("{waited:?}"))?;

    // Its words are quoted as the shell's are.
    let mut spawn = fs::open("/proc/spawn", flags::READ | flags::WRITE).map_err(e("open /proc/spawn"))?;
    spawn.write(b"/bin/spawner \"yields\" 1000000000 'two  words' ''\n").map_err(e("write /proc/spawn"))?;
    spawn.offset = 0;
    let pid_text = String::from_utf8(spawn.read_to_end().map_err(e("read /proc/spawn"))?).unwrap_or_default();
    let pid: Pid = pid_text.trim().parse().map_err(|_| format!("pid {pid_text:?}"))?;
    let args = read_text(&format!("/proc/{pid}/args"))?;
    libux::process::kill(pid).map_err(e("kill"))?;
    libux::process::wait(Some(pid)).map_err(e("wait"))?;
    let want = "/bin/spawner\nyields\n1000000000\ntwo  words\n\n";
    check("a /proc/spawn line's quoted words", args == want, args)?;
    let bad = spawn.write(b"/bin/true 'open").err();
    check("a /proc/spawn line with an open quote refused", bad == Some(Errno::InvalidArgument), format!("{bad:?}"))?;

    // Spawned through the API, stopped and killed through ctl, seen through status and wait.
    let child = libux::process::spawn("/bin/sleep", &["sleep", "100"], &[]).map_err(e("spawn sleep"))?;
    let ctl =
        |word: &str| fs::open(&format!("/proc/{child}/ctl"), flags::WRITE).and_then(|mut f| f.write(word.as_bytes()));
    ctl("stop").map_err(e("ctl stop"))?;
    let stopped = read_text(&format!("/proc/{child}/status"))?;
    check("ctl stop shows in status", stopped.starts_with(&format!("{child} {me} stopped sleep ")), stopped)?;
    let api_cont = libux::process::cont(child);
    check("Cont of a process stopped through ctl", api_cont.is_ok(), format!("{api_cont:?}"))?;
    check("ctl refuses a bad word", ctl("explode").err() == Some(Errno::InvalidArgument), String::new())?;
    ctl("kill").map_err(e("ctl kill"))?;
    let line = read_text(&format!("/proc/{child}/wait"))?;
    check("wait file gives the end", line == format!("{child} {me} killed sleep 0\n"), line)?;
    let gone = libux::process::wait(Some(child)).err();
    check("the wait file reaped it for its parent", gone == Some(Errno::NoChild), format!("{gone:?}"))?;
    let missing = fs::stat(&format!("/proc/{child}")).err();
    check("a reaped process leaves /proc", missing == Some(Errno::NotFound), format!("{missing:?}"))?;

    // A wait read that blocks until the end.
    let child = libux::process::spawn("/bin/sleep", &["sleep", "0.2"], &[]).map_err(e("spawn sleep"))?;
    let line = read_text(&format!("/proc/{child}/wait"))?;
    check("wait file blocks until the exit", line.starts_with(&format!("{child} {me} exited:0 sleep ")), line)?;
    let bad = fs::open("/proc/self/status", flags::WRITE).err();
    check("status is read-only", bad == Some(Errno::NotPermitted), format!("{bad:?}"))
}

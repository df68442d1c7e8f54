//! `images [N]`: programs that are files. Copies of `/bin/true` in `/tmp`
//! run; broken ones (text, truncated, another machine's, a segment over
//! the IPC buffer, overlapping segments, an entry outside code, more
//! memory than the node has, a directory, a file still being written, no
//! file) each end `exec` with 126 (127: no file) and its message on the
//! console, and leave the node's resources where they were. Two running
//! copies of one program that is a file share its code: the second costs
//! at least its read-only pages less than the first. Then N rounds of
//! spawning a file's program must leak nothing either.
//!
//! "Where they were": the free memory plus what the living processes hold
//! (a server may grow meanwhile: ramfs and devfs make page tables for the
//! windows of new pids), the same processes and shared buffers, and root
//! slots within what those page tables and pages take (see `same_as`).

use crate::err;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use libux::fs::{client, flags};
use libux::process::{self, spawn, wait};
use libux::rpc::{End, Resources};

const DIR: &str = "/tmp/images";

/// Runs `path` with `args`; its exit status.
fn run(path: &str, args: &[&str]) -> Result<i32, String> {
    let mut argv = alloc::vec![path];
    argv.extend_from_slice(args);
    let pid = spawn(path, &argv, &[]).map_err(|e| err(path, e))?;
    match wait(Some(pid)).map_err(|e| err("wait", e))?.end {
        End::Exited(s) => Ok(s),
        other => Err(format!("{path} ended {other:?}")),
    }
}

fn write(name: &str, bytes: &[u8]) -> Result<String, String> {
    let path = format!("{DIR}/{name}");
    let mut f = client::open(&path, flags::WRITE | flags::CREATE | flags::TRUNCATE).map_err(|e| err(&path, e))?;
    f.write(bytes).map_err(|e| err(&path, e))?;
    Ok(path)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// Offsets of the `PT_LOAD` program headers of `elf`.
fn loads(elf: &[u8]) -> Vec<usize> {
    let (at, n) = (u64_at(elf, 32) as usize, u16::from_le_bytes([elf[56], elf[57]]) as usize);
    (0..n).map(|i| at + i * 56).filter(|&p| elf[p..p + 4] == 1u32.to_le_bytes()).collect()
}

/// Broken copies of `good`: name, bytes.
fn broken(good: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let (first, last) = {
        let l = loads(good);
        (l[0], l[l.len() - 1])
    };
    let with = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = good.to_vec();
        f(&mut b);
        b
    };
    alloc::vec![
        ("text", "this is not a program, only text\n".repeat(3).into_bytes()),
        ("truncated", good[..good.len() / 2].to_vec()),
        ("machine", with(&|b| b[18] = 183)),
        ("ipcbuffer", with(&|b| put_u64(b, last + 16, libux::elf::LOAD_END))),
        ("overlap", with(&|b| put_u64(b, last + 16, u64_at(good, first + 16)))),
        ("entry", with(&|b| put_u64(b, 24, 0))),
        // Within the load area, but more than the node has.
        ("huge", with(&|b| put_u64(b, last + 40, libux::elf::LOAD_END - 0x100_0000 - u64_at(good, last + 16)))),
    ]
}

/// What the node has, to compare before and after.
struct Account {
    resources: Resources,
    /// Free memory plus the memory of the living processes.
    memory: u64,
}

impl Account {
    fn now() -> Result<Account, String> {
        let lines = libux::procfs::status_lines("/proc").map_err(|e| err("/proc", e))?;
        let held: u64 = lines.iter().filter_map(|l| libux::procfs::Status::parse(l)).map(|s| s.memory).sum();
        let resources = process::stats().map_err(|e| err("stats", e))?.resources;
        Ok(Account { memory: resources.free_bytes + held, resources })
    }

    /// Whether nothing was lost since `before`, across `runs` spawns.
    fn same_as(&self, before: &Account, runs: u64, across: &str) -> Result<(), String> {
        let (b, a) = (&before.resources, &self.resources);
        // Root slots: a page table per 32 new pids for each server a run
        // touches (ramfs, devfs), and a page (and its share of a table)
        // for each page a living process gained, and the page directory
        // and table its growth may have started with.
        let grown = self.memory.saturating_sub(self.resources.free_bytes) - (before.memory - b.free_bytes);
        let allowed = 2 * (runs / 32 + 1) + grown / 4096 * 17 / 16 + if grown > 0 { 2 } else { 0 };
        let slots_kept = a.free_slots + allowed >= b.free_slots;
        if self.memory != before.memory || (a.processes, a.buffers) != (b.processes, b.buffers) || !slots_kept {
            return Err(format!(
                "{b} ({} KiB free or held) before {across}, {a} ({} KiB) after",
                before.memory >> 10,
                self.memory >> 10
            ));
        }
        Ok(())
    }
}

/// A pipe's ends (paths), and the clone file that keeps it while held.
fn pipe() -> Result<(String, String, client::File), String> {
    let mut clone = client::open("/dev/pipe/clone", flags::READ).map_err(|e| err("/dev/pipe/clone", e))?;
    let mut number = [0u8; 16];
    let n = clone.read(&mut number).map_err(|e| err("/dev/pipe/clone", e))?;
    let n = core::str::from_utf8(&number[..n]).map_err(|_| String::from("a pipe number that is not text"))?.trim();
    Ok((format!("/dev/pipe/{n}/r"), format!("/dev/pipe/{n}/w"), clone))
}

/// Bytes of the read-only segments of `elf`, in whole pages.
fn read_only_pages(elf: &[u8]) -> u64 {
    loads(elf)
        .into_iter()
        .filter(|&p| u32::from_le_bytes(elf[p + 4..p + 8].try_into().expect("4 bytes")) & 2 == 0) // PF_W
        .map(|p| {
            let (vaddr, memsz) = (u64_at(elf, p + 16), u64_at(elf, p + 40));
            (vaddr + memsz).next_multiple_of(4096) - (vaddr & !4095)
        })
        .sum()
}

/// Two copies of `cat` from a file run at once; the second costs at
/// least its read-only pages (shared with the first) less. Each is known
/// to run the file's program (its `exec` done) when it echoes a line.
/// What a copy costs beyond what processes hold (free memory plus all
/// processes' memory, `Account`) is what the shared pages take: a
/// server's heap growing meanwhile counts for nothing.
fn shared_code(cat: &str, ro_bytes: u64) -> Result<(), String> {
    let pipes = [pipe()?, pipe()?, pipe()?, pipe()?];
    let mut costs = Vec::new();
    let mut running = Vec::new();
    for [(to, feed, _), (back, out, _)] in [[&pipes[0], &pipes[1]], [&pipes[2], &pipes[3]]] {
        let mut feed_file = client::open(feed, flags::WRITE).map_err(|e| err(feed, e))?;
        let mut back_file = client::open(back, flags::READ).map_err(|e| err(back, e))?;
        let before = Account::now()?.memory;
        let fds = [
            libux::rpc::FdName { fd: 0, path: to, flags: flags::READ },
            libux::rpc::FdName { fd: 1, path: out, flags: flags::WRITE },
        ];
        let pid = process::spawn_full(cat, &[cat], &[], None, &fds).map_err(|e| err(cat, e))?;
        feed_file.write(b"x\n").map_err(|e| err(feed, e))?;
        let mut echo = [0u8; 2];
        back_file.read(&mut echo).map_err(|e| err(back, e))?;
        costs.push(before.saturating_sub(Account::now()?.memory));
        running.push((pid, feed_file, back_file));
    }
    for (pid, ..) in running {
        let _ = process::kill(pid);
        let _ = wait(Some(pid));
    }
    let (first, second) = (costs[0], costs[1]);
    if first < second + ro_bytes {
        return Err(format!(
            "a second copy of {cat} took {} KiB beyond processes, the first {} KiB: not {} KiB of code less",
            second >> 10,
            first >> 10,
            ro_bytes >> 10
        ));
    }
    Ok(())
}

/// Runs a file's copy of `/bin/true` (through `exec`, which the process
/// server looks at in a view of its own address space), asking it to
/// exit 5.
pub fn run_a_copy_of_true() -> Result<(), String> {
    let good =
        client::open("/bin/true", flags::READ).and_then(|mut f| f.read_to_end()).map_err(|e| err("/bin/true", e))?;
    let _ = client::mkdir(DIR);
    match run(&write("true", &good)?, &["5"])? {
        5 => Ok(()),
        other => Err(format!("a copy of true exited {other}, not 5")),
    }
}

pub fn images(rounds: u32) -> Result<String, String> {
    let good =
        client::open("/bin/true", flags::READ).and_then(|mut f| f.read_to_end()).map_err(|e| err("/bin/true", e))?;
    let _ = client::mkdir(DIR);
    let copy = write("true", &good)?;
    if run(&copy, &["5"])? != 5 {
        return Err(String::from("a copy of true did not exit 5"));
    }
    let mut paths: Vec<String> = Vec::new();
    for (name, bytes) in broken(&good) {
        paths.push(write(name, &bytes)?);
    }
    let _ = client::mkdir(&format!("{DIR}/dir"));
    paths.push(format!("{DIR}/dir"));
    // Half written, and still open for writing.
    let writing = format!("{DIR}/writing");
    let mut half =
        client::open(&writing, flags::WRITE | flags::CREATE | flags::TRUNCATE).map_err(|e| err(&writing, e))?;
    half.write(&good[..good.len() / 2]).map_err(|e| err(&writing, e))?;
    paths.push(writing);

    let start = Account::now()?;
    for path in &paths {
        match run(path, &[])? {
            126 => {}
            other => return Err(format!("{path} exited {other}, not 126")),
        }
        if run(&copy, &["7"])? != 7 {
            return Err(format!("spawning failed after {path}"));
        }
    }
    match run(&format!("{DIR}/none"), &[])? {
        127 => {}
        other => return Err(format!("a missing file exited {other}, not 127")),
    }
    drop(half);
    Account::now()?.same_as(&start, paths.len() as u64 * 2, "the broken images")?;

    let cat_image =
        client::open("/bin/cat", flags::READ).and_then(|mut f| f.read_to_end()).map_err(|e| err("/bin/cat", e))?;
    let cat = write("cat", &cat_image)?;
    let ro_bytes = read_only_pages(&cat_image);
    let start = Account::now()?;
    shared_code(&cat, ro_bytes)?;
    Account::now()?.same_as(&start, 4, "two copies of cat")?;
    let start = Account::now()?;
    for i in 0..rounds {
        match run(&copy, &[])? {
            0 => {}
            other => return Err(format!("round {i}: the copy of true exited {other}")),
        }
    }
    Account::now()?.same_as(&start, u64::from(rounds), "the rounds")?;
    Ok(format!(
        "{} broken images refused, resources unchanged; two copies of a file's cat shared {} KiB of code; {rounds} runs of a file's program leaked nothing",
        paths.len() + 1,
        ro_bytes >> 10
    ))
}

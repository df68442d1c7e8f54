//! `images [N]`: programs that are files. Copies of `/bin/true` in `/tmp`
//! run; broken ones (text, truncated, another machine's, a segment over
//! the IPC buffer, overlapping segments, an entry outside code, more
//! memory than the node has, a directory, a file still being written, no
//! file) each end `exec` with 126 (127: no file) and its message on the
//! console, and leave the node's resources where they were. Then N rounds
//! of spawning a file's program must leak nothing either.
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
use libux::layout;
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
        ("ipcbuffer", with(&|b| put_u64(b, last + 16, layout::IPC_BUFFER))),
        ("overlap", with(&|b| put_u64(b, last + 16, u64_at(good, first + 16)))),
        ("entry", with(&|b| put_u64(b, 24, 0))),
        // Below the IPC buffer, but more than the node has.
        ("huge", with(&|b| put_u64(b, last + 40, layout::IPC_BUFFER - 0x100_0000 - u64_at(good, last + 16)))),
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
        // for each page a living process gained.
        let grown = self.memory.saturating_sub(self.resources.free_bytes) - (before.memory - b.free_bytes);
        let allowed = 2 * (runs / 32 + 1) + grown / 4096 * 17 / 16;
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

pub fn images(rounds: u32) -> Result<String, String> {
    let good =
        client::open("/bin/true", flags::READ).and_then(|mut f| f.read_to_end()).map_err(|e| err("/bin/true", e))?;
    let _ = client::mkdir(DIR);
    let copy = write("true", &good)?;
    // The first run also makes what stays made (our view's page tables).
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
    let start = Account::now()?;
    for i in 0..rounds {
        match run(&copy, &[])? {
            0 => {}
            other => return Err(format!("round {i}: the copy of true exited {other}")),
        }
    }
    Account::now()?.same_as(&start, u64::from(rounds), "the rounds")?;
    Ok(format!(
        "{} broken images refused, resources unchanged; {rounds} runs of a file's program leaked nothing",
        paths.len() + 1
    ))
}

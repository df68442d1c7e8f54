//! `ls [-l] [PATH...]`: the entries of each directory (or the file's own
//! name), one a line. `-l` writes, before the name, the kind and
//! permissions (`drwxr-xr-x`), owner and group (numbers), the size (bytes;
//! entries for a directory) and the modification time (UTC, to the
//! minute): `-rw-r--r--     0     0      142 2026-12-04 01:15 notes`. A
//! file whose server keeps no modes, owners or times (a synthetic one:
//! `/proc`, `/dev`, `/net`) has `?` for them: `-?????????     ?     ?
//!        0                  ? status`.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use libux::fs::client::{list, stat, Metadata};
use libux::fs::mode_string;
use libux::time::Civil;

libux::entry!(main);

fn line(m: &Metadata, long: bool) -> String {
    if !long {
        return format!("{}\n", m.name);
    }
    let kind = if m.is_dir { 'd' } else { '-' };
    match &m.attrs {
        Some(a) => {
            let t = Civil::from_unix(a.mtime.sec.min(i64::MAX as u64) as i64);
            format!(
                "{} {:>5} {:>5} {:>8} {:04}-{:02}-{:02} {:02}:{:02} {}\n",
                mode_string(m.is_dir, a.mode),
                a.uid,
                a.gid,
                m.size,
                t.year,
                t.month,
                t.day,
                t.hour,
                t.minute,
                m.name
            )
        }
        None => format!("{kind}????????? {:>5} {:>5} {:>8} {:>16} {}\n", "?", "?", m.size, "?", m.name),
    }
}

fn main() -> i32 {
    let args = libux::rt::args();
    let mut long = false;
    let mut paths = alloc::vec::Vec::new();
    for a in &args[1..] {
        match *a {
            "-l" => long = true,
            a if a.starts_with('-') => return utils::usage("ls [-l] [PATH...]"),
            a => paths.push(a),
        }
    }
    if paths.is_empty() {
        paths.push(".");
    }
    let mut status = 0;
    let several = paths.len() > 1;
    for path in paths {
        let meta = match stat(path) {
            Ok(m) => m,
            Err(e) => {
                status = utils::fail("ls", path, e);
                continue;
            }
        };
        if !meta.is_dir {
            let _ = utils::out(line(&Metadata { name: String::from(path), ..meta }, long).as_bytes());
            continue;
        }
        let mut text = if several { format!("{path}:\n") } else { String::new() };
        match list(path) {
            Ok(entries) => entries.iter().for_each(|m| text.push_str(&line(m, long))),
            Err(e) => status = utils::fail("ls", path, e),
        }
        if utils::out(text.as_bytes()).is_err() {
            return 1;
        }
    }
    status
}

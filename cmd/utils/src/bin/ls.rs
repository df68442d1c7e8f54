//! `ls [-l] [PATH...]`: the entries of each directory (or the file's own
//! name), one a line; `-l` adds the kind (`d` directory, `-` file) and
//! the size (bytes; entries for a directory).
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use libux::fs::client::{list, stat, Metadata};

libux::entry!(main);

fn line(m: &Metadata, long: bool) -> String {
    if long {
        format!("{} {:>8} {}\n", if m.is_dir { 'd' } else { '-' }, m.size, m.name)
    } else {
        format!("{}\n", m.name)
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

//! `exec PATH [ARG0 [ARG...]]`: runs the program in the file PATH in place
//! of itself: the same process (pid, parent, namespace, working
//! directory), with arguments ARG0 ARG... (PATH alone if none given), and
//! the environment and descriptors `exec` was started with.
//!
//! This is how a program that is a file runs: for a `Spawn` whose path is
//! not `/bin/NAME`, the process server starts `exec` with the path, so the
//! file is read here, with the namespace and rights of whoever asked, and
//! the process server never waits on a file server. Errors are told on
//! standard error as `exec: PATH: WHY`, with status 127 if the file cannot
//! be read and 126 if it is not a program that can run here.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use libux::elf::Elf;
use libux::fs::{client, flags};
use libux::rpc::IMAGE_MAX;

libux::entry!(main);

/// No such file, or it cannot be read.
const CANNOT_READ: i32 = 127;
/// Read, but not a program that runs here.
const CANNOT_RUN: i32 = 126;

/// Reads the whole file, checking that it did not change meanwhile.
fn read(path: &str) -> Result<Vec<u8>, (i32, String)> {
    let unreadable = |e: libux::rpc::Errno| (CANNOT_READ, e.to_string());
    let before = client::stat(path).map_err(unreadable)?;
    if before.is_dir {
        return Err((CANNOT_RUN, "is a directory".into()));
    }
    if before.size > IMAGE_MAX {
        return Err((CANNOT_RUN, alloc::format!("larger than the {} MiB a program may be", IMAGE_MAX >> 20)));
    }
    let mut file = client::open(path, flags::READ).map_err(unreadable)?;
    // Straight into the image (one more byte than it should have, to see
    // that it ends there).
    let mut image = alloc::vec![0u8; before.size as usize + 1];
    let mut len = 0;
    loop {
        if len == image.len() {
            if len as u64 > IMAGE_MAX {
                return Err((CANNOT_RUN, "grew while being read".into()));
            }
            image.resize(len + libux::layout::IO_WINDOW as usize, 0);
        }
        match file.read(&mut image[len..]).map_err(unreadable)? {
            0 => break,
            n => len += n,
        }
    }
    image.truncate(len);
    drop(file);
    let after = client::stat(path).map_err(unreadable)?;
    if (after.version, after.size) != (before.version, before.size) {
        return Err((CANNOT_RUN, "changed while being read".into()));
    }
    Ok(image)
}

fn main() -> i32 {
    let start = libux::rt::start_block();
    let Some(&path) = start.argv.get(1) else {
        return utils::usage("exec PATH [ARG0 [ARG...]]");
    };
    let argv = if start.argv.len() > 2 { start.argv[2..].to_vec() } else { alloc::vec![path] };
    let fail = |status: i32, why: &dyn core::fmt::Display| {
        libux::eprintln!("exec: {path}: {why}");
        status
    };
    let image = match read(path) {
        Ok(image) => image,
        Err((status, why)) => return fail(status, &why),
    };
    // The process server checks the image too; checking here first names
    // what is wrong.
    if let Err(e) = Elf::parse(&image).and_then(|elf| elf.loadable()) {
        return fail(CANNOT_RUN, &e);
    }
    // The new program opens its descriptors by name, as at spawn. Ours
    // stay open (until the process ends) rather than close first: a pipe
    // with no reader for that moment would fail its writer.
    let e = libux::process::exec(&image, &argv, &start.env, &start.fds);
    fail(CANNOT_RUN, &e)
}

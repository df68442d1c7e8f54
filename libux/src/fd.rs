//! Descriptors: small numbers for open files. 0, 1 and 2 are standard
//! input, output and error. A spawned process starts with the descriptors
//! its parent names ([`FdName`]: by default its own 0, 1 and 2), which the
//! runtime opens before `main`; so every descriptor is the holder's own at
//! its file server, and goes when the holder ends.

use crate::fs::client::{self, File};
use crate::fs::flags;
use crate::rpc::{Errno, FdName};
use crate::sync::Mutex;
use alloc::sync::Arc;
use alloc::vec::Vec;

/// Descriptors a process may hold.
pub const MAX_FDS: usize = 32;
pub const STDIN: usize = 0;
pub const STDOUT: usize = 1;
pub const STDERR: usize = 2;

struct Entry {
    file: File,
    flags: u32,
}

/// The table is locked only to look up or change an entry; an entry is
/// locked while a call on it is made, so threads share descriptors and
/// each call on one sees the offset the last left.
type Shared = Arc<Mutex<Entry>>;

static TABLE: Mutex<[Option<Shared>; MAX_FDS]> = Mutex::new([const { None }; MAX_FDS]);

fn with<R>(f: impl FnOnce(&mut [Option<Shared>; MAX_FDS]) -> R) -> R {
    f(&mut TABLE.lock())
}

fn entry(fd: usize) -> Result<Shared, Errno> {
    with(|t| t.get(fd).and_then(Clone::clone)).ok_or(Errno::BadHandle)
}

/// Opens `path` at the lowest free descriptor.
pub fn open(path: &str, open_flags: u32) -> Result<usize, Errno> {
    let fd = with(|t| t.iter().position(Option::is_none)).ok_or(Errno::NoMemory)?;
    open_at(fd, path, open_flags)?;
    Ok(fd)
}

/// Opens `path` as descriptor `fd`, closing what `fd` was.
pub fn open_at(fd: usize, path: &str, open_flags: u32) -> Result<(), Errno> {
    if fd >= MAX_FDS {
        return Err(Errno::BadHandle);
    }
    let file = client::open(path, open_flags)?;
    // Never reopen by name with what only makes sense once.
    let kept = open_flags & (flags::READ | flags::WRITE);
    let old = with(|t| t[fd].replace(Arc::new(Mutex::new(Entry { file, flags: kept }))));
    // The old file closes when the last thread using it lets go, outside
    // the table's lock.
    drop(old);
    Ok(())
}

pub fn close(fd: usize) -> Result<(), Errno> {
    let shared = with(|t| t.get_mut(fd).and_then(Option::take)).ok_or(Errno::BadHandle)?;
    match Arc::try_unwrap(shared) {
        Ok(entry) => entry.into_inner().file.close(),
        // Another descriptor shares it, or another thread is using it: it
        // closes when the last lets go.
        Err(_) => Ok(()),
    }
}

/// Reads from `fd`'s current offset; 0 at the end.
pub fn read(fd: usize, buf: &mut [u8]) -> Result<usize, Errno> {
    entry(fd)?.lock().file.read(buf)
}

/// Writes all of `data` at `fd`'s current offset.
pub fn write(fd: usize, data: &[u8]) -> Result<usize, Errno> {
    entry(fd)?.lock().file.write(data)
}

pub fn is_open(fd: usize) -> bool {
    with(|t| t.get(fd).is_some_and(Option::is_some))
}

/// How `fd` would be opened again: its path and flags.
pub fn name(fd: usize) -> Option<(alloc::string::String, u32)> {
    let e = entry(fd).ok()?;
    let e = e.lock();
    Some((e.file.path.clone(), e.flags))
}

/// The descriptors a child inherits by default: our 0, 1 and 2, by name.
pub fn standard() -> Vec<(u8, alloc::string::String, u32)> {
    (0..3).filter_map(|fd| name(fd).map(|(p, f)| (fd as u8, p, f))).collect()
}

/// Borrowed [`FdName`]s of owned names.
pub fn names(owned: &[(u8, alloc::string::String, u32)]) -> Vec<FdName<'_>> {
    owned.iter().map(|(fd, path, flags)| FdName { fd: *fd, path, flags: *flags }).collect()
}

/// Opens what the start block names; before `main`. Descriptors that
/// name the same file the same way share one open, as `2>&1` makes them
/// (and the file is opened once: standard output and error of a program
/// started on another node are one open across the network, not two).
#[cfg(target_os = "none")]
pub(crate) fn open_inherited(fds: &[FdName]) -> Result<(), (u8, Errno)> {
    for (i, f) in fds.iter().enumerate() {
        match opened_before(fds, i) {
            Some(from) => share(from as usize, f.fd as usize),
            None => open_at(f.fd as usize, f.path, f.flags),
        }
        .map_err(|e| (f.fd, e))?;
    }
    Ok(())
}

/// The descriptor opened earlier in `fds` that the `i`th may share: one
/// that names the same file the same way, and was not named again since.
#[cfg(any(test, target_os = "none"))]
fn opened_before(fds: &[FdName], i: usize) -> Option<u8> {
    let f = &fds[i];
    (0..i).rev().find_map(|j| {
        let e = &fds[j];
        let still = !fds[j + 1..i].iter().any(|later| later.fd == e.fd);
        (e.path == f.path && e.flags == f.flags && still).then_some(e.fd)
    })
}

/// Makes `to` the same open file as `from` (which is open).
#[cfg(target_os = "none")]
fn share(from: usize, to: usize) -> Result<(), Errno> {
    let old = with(|t| {
        let file = t.get(from).cloned().flatten().ok_or(Errno::BadHandle)?;
        Ok(t.get_mut(to).ok_or(Errno::BadHandle)?.replace(file))
    })?;
    drop(old);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_named_alike_share_one_open() {
        let fd = |fd, path, flags| FdName { fd, path, flags };
        let cons_in = fd(0, "/dev/cons", flags::READ);
        let cons_out = fd(1, "/dev/cons", flags::WRITE);
        let err = fd(2, "/dev/cons", flags::WRITE);
        assert_eq!(opened_before(&[cons_in, cons_out, err], 1), None, "opened otherwise");
        assert_eq!(opened_before(&[cons_in, cons_out, err], 2), Some(1));
        let other = fd(2, "/tmp/log", flags::WRITE);
        assert_eq!(opened_before(&[cons_out, other], 1), None);
        // Descriptor 1 was named again in between: not the same open.
        let again = fd(1, "/tmp/x", flags::WRITE);
        assert_eq!(opened_before(&[cons_out, again, err], 2), None);
        assert_eq!(opened_before(&[cons_out, again, fd(3, "/dev/cons", flags::WRITE), err], 3), Some(3));
    }
}

//! The boot file system: the programs the process server can start,
//! packed into one blob that is linked into the root task (QEMU's
//! multiboot loader passes only one module, the root task itself).
//!
//! Layout (all integers little-endian):
//!
//! ```text
//! header   magic "UXBOOTFS" (8 bytes), count: u32, reserved: u32
//! entries  count × { name: [u8; 48] NUL-padded UTF-8, offset: u64, len: u64 }
//! data     file contents, each starting on a 4 KiB page boundary;
//!          the blob is zero-padded to a whole number of pages
//! ```
//!
//! Page alignment lets the process server map a boot program's code and
//! constants straight from its own image into every process of the
//! program (`process-server/src/shared.rs`): a loadable segment's file
//! offset is congruent to its address modulo the page size, so each of
//! its pages is a page of the blob, holding only bytes of that file.
//!
//! The `qemu` host tool writes it with [`build`]; the process server reads
//! it with [`BootFs::parse`], which validates every entry up front.

use crate::le::{u32_at, u64_at};

pub const MAGIC: &[u8; 8] = b"UXBOOTFS";
pub const NAME_LEN: usize = 48;
const HEADER: usize = 16;
const ENTRY: usize = NAME_LEN + 16;
/// Where each file starts, and what the blob's length is a multiple of.
pub const ALIGN: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootFsError {
    Truncated,
    BadMagic,
    /// Entry `n` has a bad name or a data range outside the blob.
    BadEntry(usize),
}

/// A validated boot file system.
#[derive(Clone, Copy, Debug)]
pub struct BootFs<'a> {
    blob: &'a [u8],
    count: usize,
}

impl<'a> BootFs<'a> {
    pub fn parse(blob: &'a [u8]) -> Result<Self, BootFsError> {
        if blob.len() < HEADER {
            return Err(BootFsError::Truncated);
        }
        if &blob[..8] != MAGIC {
            return Err(BootFsError::BadMagic);
        }
        let count = u32_at(blob, 8) as usize;
        if count.checked_mul(ENTRY).is_none_or(|n| HEADER + n > blob.len()) {
            return Err(BootFsError::Truncated);
        }
        let fs = BootFs { blob, count };
        for i in 0..count {
            fs.entry(i).ok_or(BootFsError::BadEntry(i))?;
        }
        Ok(fs)
    }

    fn entry(&self, i: usize) -> Option<(&'a str, &'a [u8])> {
        let e = &self.blob[HEADER + i * ENTRY..][..ENTRY];
        let name_len = e[..NAME_LEN].iter().position(|&c| c == 0).unwrap_or(NAME_LEN);
        let name = core::str::from_utf8(&e[..name_len]).ok().filter(|n| !n.is_empty())?;
        let (offset, len) = (u64_at(e, NAME_LEN), u64_at(e, NAME_LEN + 8));
        if !offset.is_multiple_of(ALIGN as u64) {
            return None;
        }
        let end = offset.checked_add(len).filter(|&end| end <= self.blob.len() as u64)?;
        Some((name, &self.blob[offset as usize..end as usize]))
    }

    /// The files, in the order they were packed.
    pub fn files(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> + '_ {
        (0..self.count).filter_map(|i| self.entry(i))
    }

    pub fn get(&self, name: &str) -> Option<&'a [u8]> {
        self.files().find(|(n, _)| *n == name).map(|(_, data)| data)
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// Why [`build`] refused its input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BuildError {
    /// Names must be 1..=48 bytes without NUL.
    BadName(alloc::string::String),
    Duplicate(alloc::string::String),
}

/// Packs `files` (name, contents) into a boot file system.
pub fn build(files: &[(&str, &[u8])]) -> Result<alloc::vec::Vec<u8>, BuildError> {
    use alloc::string::ToString;
    let mut out = alloc::vec::Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(files.len() as u32).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    let mut offset = (HEADER + files.len() * ENTRY).next_multiple_of(ALIGN);
    for (i, (name, data)) in files.iter().enumerate() {
        if name.is_empty() || name.len() > NAME_LEN || name.contains('\0') {
            return Err(BuildError::BadName(name.to_string()));
        }
        if files[..i].iter().any(|(n, _)| n == name) {
            return Err(BuildError::Duplicate(name.to_string()));
        }
        let mut field = [0u8; NAME_LEN];
        field[..name.len()].copy_from_slice(name.as_bytes());
        out.extend_from_slice(&field);
        out.extend_from_slice(&(offset as u64).to_le_bytes());
        out.extend_from_slice(&(data.len() as u64).to_le_bytes());
        offset = (offset + data.len()).next_multiple_of(ALIGN);
    }
    for (_, data) in files {
        out.resize(out.len().next_multiple_of(ALIGN), 0);
        out.extend_from_slice(data);
    }
    out.resize(out.len().next_multiple_of(ALIGN), 0);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_files() {
        let blob = build(&[("hello", b"abc"), ("ipcbench", &[7; 100]), ("empty", b"")]).unwrap();
        let fs = BootFs::parse(&blob).unwrap();
        assert_eq!(fs.len(), 3);
        assert_eq!(fs.get("hello"), Some(&b"abc"[..]));
        assert_eq!(fs.get("ipcbench").unwrap().len(), 100);
        assert_eq!(fs.get("empty"), Some(&b""[..]));
        assert_eq!(fs.get("nope"), None);
        let names: alloc::vec::Vec<&str> = fs.files().map(|(n, _)| n).collect();
        assert_eq!(names, ["hello", "ipcbench", "empty"]);
    }

    #[test]
    fn files_start_on_pages_and_the_blob_is_whole_pages() {
        let blob = build(&[("a", &[1; 5000]), ("b", b"xyz"), ("empty", b""), ("c", &[2; 4096])]).unwrap();
        assert_eq!(blob.len() % ALIGN, 0);
        let fs = BootFs::parse(&blob).unwrap();
        for (name, data) in fs.files() {
            assert_eq!((data.as_ptr() as usize - blob.as_ptr() as usize) % ALIGN, 0, "{name}");
        }
        // What follows a file up to its next page is zero: a page mapped
        // from the blob shows no other file's bytes.
        let b = fs.get("b").unwrap();
        let at = b.as_ptr() as usize - blob.as_ptr() as usize;
        assert!(blob[at + 3..at + ALIGN].iter().all(|&x| x == 0));
    }

    #[test]
    fn exact_fits_are_accepted() {
        // No files: the header alone, padded to a page.
        let empty = build(&[]).unwrap();
        assert_eq!(empty.len(), ALIGN);
        let fs = BootFs::parse(&empty).unwrap();
        assert!(fs.is_empty() && fs.files().next().is_none());
        // A file may end exactly at the blob's end.
        let blob = build(&[("e", &[9; ALIGN])]).unwrap();
        assert_eq!(blob.len(), 2 * ALIGN);
        assert_eq!(BootFs::parse(&blob).unwrap().get("e").unwrap().len(), ALIGN);
        // A name of exactly NAME_LEN bytes has no NUL after it.
        let long = "n".repeat(NAME_LEN);
        let blob = build(&[(&long, b"x")]).unwrap();
        assert_eq!(BootFs::parse(&blob).unwrap().get(&long), Some(&b"x"[..]));
    }

    #[test]
    fn refuses_bad_names() {
        assert!(matches!(build(&[("", b"")]), Err(BuildError::BadName(_))));
        assert!(matches!(build(&[(&"x".repeat(49), b"")]), Err(BuildError::BadName(_))));
        assert!(matches!(build(&[("a", b""), ("a", b"")]), Err(BuildError::Duplicate(_))));
    }

    #[test]
    fn rejects_corrupt_blobs() {
        let blob = build(&[("hello", b"abc")]).unwrap();
        assert_eq!(BootFs::parse(&blob[..10]).unwrap_err(), BootFsError::Truncated);
        let mut bad = blob.clone();
        bad[0] = b'X';
        assert_eq!(BootFs::parse(&bad).unwrap_err(), BootFsError::BadMagic);
        let mut huge_count = blob.clone();
        huge_count[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(BootFs::parse(&huge_count).unwrap_err(), BootFsError::Truncated);
        let mut past_end = blob.clone();
        let too_long = blob.len() as u64;
        past_end[HEADER + NAME_LEN + 8..HEADER + NAME_LEN + 16].copy_from_slice(&too_long.to_le_bytes());
        assert_eq!(BootFs::parse(&past_end).unwrap_err(), BootFsError::BadEntry(0));
        let mut overflow = blob.clone();
        overflow[HEADER + NAME_LEN..HEADER + NAME_LEN + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(BootFs::parse(&overflow).unwrap_err(), BootFsError::BadEntry(0));
        let mut bad_utf8 = blob;
        bad_utf8[HEADER] = 0xff;
        assert_eq!(BootFs::parse(&bad_utf8).unwrap_err(), BootFsError::BadEntry(0));
    }
}

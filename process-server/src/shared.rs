//! The read-only segments (code, constants) of a program are made once
//! and mapped into every process of the program; each process maps
//! copies (kept in its `Held`, so they go when it does). Writable
//! segments stay each process's own.
//!
//! A boot image program's read-only pages are pages of the boot file
//! system we hold (`bootfs.rs`): each of its files is on a page boundary
//! (`libux::bootfs`), and a segment's file offset is congruent to its
//! address modulo the page size. Those pages are mapped straight from
//! the boot file system's frames: nothing is copied or allocated, and
//! they stay for as long as we run, so a program started again finds its
//! code where it was (under emulation, the translated code too: copying
//! `true`'s code afresh for each spawn, and zeroing the copy's frames
//! after, took three quarters of a spawn's time). A page that is not
//! wholly file bytes (a read-only segment whose memory size exceeds its
//! file size) is made and filled.
//!
//! A program that is a file is named by its bytes: a SHA-256 of its
//! read-only segments (where each goes, how large, what it holds). Its
//! pages are frames of an arena of ours, filled at its first spawn and
//! released with its last process. Two files with the same code share
//! it, whoever runs them; a hash nobody can collide is what keeps one
//! user's crafted image from having its code mapped into another's
//! processes. A new image's pages are filed under the hash of the bytes
//! filled into them, each read once from the caller's memory: an image
//! that changed while we read it (a relayed `Exec` of a process that
//! runs on) is filed under what it became, never under another's name.

use crate::kernel::Kernel;
use crate::mem::Arena;
use crate::mem::PAGE;
use crate::process::Held;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use libux::elf::{Elf, Segment};
use libux::rpc::Errno;
use libux::sel4::consts::{bits, object};
use libux::sel4::{CapRights, Page};
use sha2::{Digest, Sha256};

/// A program whose read-only pages are shared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ImageId {
    /// A boot image program, by where its bytes are (they live as long as
    /// we do).
    Boot(usize),
    /// A program that is a file, by the SHA-256 of its read-only segments.
    File([u8; 32]),
}

impl ImageId {
    pub fn of(image: &'static [u8]) -> ImageId {
        ImageId::Boot(image.as_ptr() as usize)
    }

    /// What names a file's program: its read-only segments, each's
    /// address, sizes and bytes (the rest of the file is not shared).
    pub fn of_file(elf: &Elf) -> ImageId {
        let mut hash = Sha256::new();
        for seg in elf.segments().filter(|seg| !seg.writable) {
            let data = elf.data(&seg);
            hash.update(segment_head(&seg, data));
            hash.update(data);
        }
        ImageId::File(hash.finalize().into())
    }
}

/// What a file's image id hashes of a read-only segment before its
/// bytes (`data`): its address and sizes.
fn segment_head(seg: &Segment, data: &[u8]) -> [u8; 24] {
    let mut head = [0u8; 24];
    head[..8].copy_from_slice(&seg.vaddr.to_le_bytes());
    head[8..16].copy_from_slice(&seg.mem_size.to_le_bytes());
    head[16..].copy_from_slice(&(data.len() as u64).to_le_bytes());
    head
}

/// One program's shared pages.
struct Shared {
    /// The frames made for it (none when every page is our image's).
    arena: Arena,
    /// Its pages, in address order (segments are).
    pages: Vec<SharedPage>,
    users: u32,
}

struct SharedPage {
    at: u64,
    /// Root slot.
    frame: u64,
    /// Copies of `frame` that ended processes mapped, unmapped, for the
    /// next (at most `SPARE_COPIES`): a copy to map is a system call to
    /// make and one to delete, and a program run over and over, one at a
    /// time, would make and delete the same ones each time.
    spare: Vec<u64>,
}

impl Shared {
    fn page(&mut self, at: u64) -> Option<&mut SharedPage> {
        let i = self.pages.binary_search_by_key(&at, |p| p.at).ok()?;
        Some(&mut self.pages[i])
    }
}

/// Spare copies kept of each shared page: two processes' worth,
const SPARE_COPIES: usize = 2;
/// and at most this many in all, and none while fewer than twice as many
/// root slots are free: they are counted as free slots, but nothing
/// takes them back when slots run out, so a node short of slots is short
/// by at most this.
const SPARE_LIMIT: u64 = 1024;

/// The boot file system and the frames that hold it.
pub struct BootPages {
    /// One frame capability per page of `bootfs`, in order.
    frames: Vec<u64>,
    /// Mapped page-aligned for good (`bootfs.rs`).
    bootfs: &'static [u8],
}

impl BootPages {
    pub fn new(frames: Vec<u64>, bootfs: &'static [u8]) -> BootPages {
        BootPages { frames, bootfs }
    }

    pub fn blob(&self) -> &'static [u8] {
        self.bootfs
    }

    /// The frame that holds the page at `addr`, if that whole page is
    /// boot file system bytes.
    fn frame_of(&self, addr: u64) -> Option<u64> {
        let blob = self.bootfs.as_ptr_range();
        let inside = addr >= blob.start as u64 && addr.checked_add(PAGE)? <= blob.end as u64;
        if !inside || !addr.is_multiple_of(PAGE) {
            return None;
        }
        self.frames.get(((addr - blob.start as u64) / PAGE) as usize).copied()
    }
}

pub struct SharedImages {
    images: BTreeMap<ImageId, Shared>,
    /// The boot programs' pages.
    boot: BootPages,
    /// Spare copies kept, in all the images' pages (checked at every
    /// process's end, so counted rather than summed).
    spares: u64,
}

impl SharedImages {
    pub fn new(boot: BootPages) -> SharedImages {
        SharedImages { images: BTreeMap::new(), boot, spares: 0 }
    }

    /// The boot file system's frame for page `page` of `seg`, if every
    /// byte the segment puts in that page is a file byte (a page of the
    /// file, in the boot file system).
    fn boot_frame(&self, seg: &Segment, data: &[u8], page: u64) -> Option<u64> {
        let file_end = seg.vaddr + data.len() as u64;
        if (page + PAGE).min(seg.vaddr + seg.mem_size) > file_end {
            return None;
        }
        let addr = (data.as_ptr() as u64).checked_add(page)?.checked_sub(seg.vaddr)?;
        self.boot.frame_of(addr)
    }
}

impl SharedImages {
    /// Counts one more process of `id` (whose image `elf` is), making and
    /// filling its read-only pages if it is the first; the id they are
    /// filed under (a new file's: the hash of what was filled).
    pub fn share(&mut self, kernel: &mut Kernel, id: ImageId, elf: &Elf) -> Result<ImageId, Errno> {
        if let Some(s) = self.images.get_mut(&id) {
            s.users += 1;
            return Ok(id);
        }
        let mut s = Shared { arena: Arena::default(), pages: Vec::new(), users: 1 };
        let is_file = matches!(id, ImageId::File(_));
        let id = match self.fill(kernel, &mut s, elf, is_file) {
            Ok(Some(filled)) => ImageId::File(filled),
            Ok(None) => id,
            Err(e) => {
                kernel.mem.release(s.arena);
                return Err(e);
            }
        };
        if let Some(have) = self.images.get_mut(&id) {
            // It changed, into an image we have.
            have.users += 1;
            kernel.mem.release(s.arena);
        } else {
            self.images.insert(id, s);
        }
        Ok(id)
    }

    /// Makes and fills the read-only pages of `elf`; for a file's image
    /// (`is_file`), the hash of what they hold, as `ImageId::of_file`
    /// makes it, each byte read once.
    fn fill(&self, kernel: &mut Kernel, s: &mut Shared, elf: &Elf, is_file: bool) -> Result<Option<[u8; 32]>, Errno> {
        let mut hash = is_file.then(Sha256::new);
        let mut hashed = |bytes: &[u8]| {
            if let Some(h) = hash.as_mut() {
                h.update(bytes);
            }
        };
        let mut bytes = alloc::vec![0u8; PAGE as usize];
        for seg in elf.segments().filter(|seg| !seg.writable) {
            let data = elf.data(&seg);
            hashed(&segment_head(&seg, data));
            let first = seg.vaddr & !(PAGE - 1);
            let end = (seg.vaddr + seg.mem_size).next_multiple_of(PAGE);
            for page in (first..end).step_by(PAGE as usize) {
                let lo = page.max(seg.vaddr);
                let hi = (page + PAGE).min(seg.vaddr + data.len() as u64);
                let src = if lo < hi { &data[(lo - seg.vaddr) as usize..(hi - seg.vaddr) as usize] } else { &[] };
                if let Some(frame) = self.boot_frame(&seg, data, page) {
                    // Our own image's bytes: nobody changes them.
                    hashed(src);
                    s.pages.push(SharedPage { at: page, frame, spare: Vec::new() });
                    continue;
                }
                let frame = kernel.mem.object(&mut s.arena, object::X86_4K, 0, bits::PAGE)?;
                if !src.is_empty() {
                    let copy = &mut bytes[..src.len()];
                    copy.copy_from_slice(src);
                    hashed(copy);
                    kernel.fill(Page(frame), (lo - page) as usize, copy)?;
                }
                s.pages.push(SharedPage { at: page, frame, spare: Vec::new() });
            }
        }
        Ok(hash.map(|h| h.finalize().into()))
    }

    /// A copy of `id`'s frame for `page`, to map read-only (a spare
    /// one, or made); kept in `held` until the process ends.
    pub fn page_copy(&mut self, kernel: &mut Kernel, id: ImageId, page: u64, held: &mut Held) -> Result<Page, Errno> {
        let SharedImages { images, spares, .. } = self;
        let p = images.get_mut(&id).and_then(|s| s.page(page)).ok_or(Errno::BadImage)?;
        let copy = match p.spare.pop() {
            Some(copy) => {
                *spares -= 1;
                copy
            }
            None => kernel.copy_root(p.frame, CapRights::READ)?,
        };
        held.shared.push((page, copy));
        Ok(Page(copy))
    }

    /// An ended process's copies of `id`'s frames: unmapped and kept as
    /// spares, up to `SPARE_COPIES` a page; the rest stay in `copies`
    /// for the caller to delete.
    pub fn keep_copies(&mut self, kernel: &Kernel, id: ImageId, copies: &mut Vec<(u64, u64)>) {
        let SharedImages { images, spares, .. } = self;
        if kernel.mem.free_slots() < 2 * SPARE_LIMIT || *spares + copies.len() as u64 > SPARE_LIMIT {
            return;
        }
        let Some(s) = images.get_mut(&id) else { return };
        copies.retain(|&(page, copy)| {
            let Some(p) = s.page(page) else { return true };
            if p.spare.len() >= SPARE_COPIES || Page(copy).unmap().is_err() {
                return true;
            }
            p.spare.push(copy);
            *spares += 1;
            false
        });
    }

    /// Root slots that hold spare copies (which the resource report counts
    /// as free: at most `SPARE_LIMIT`).
    pub fn spare_slots(&self) -> u64 {
        self.spares
    }

    /// One process of `id` fewer: the last gives back the frames made
    /// for it. Pages that are all our image's are kept: they cost nothing.
    pub fn unshare(&mut self, kernel: &mut Kernel, id: ImageId) {
        let Some(s) = self.images.get_mut(&id) else { return };
        s.users -= 1;
        if s.users == 0 && !s.arena.is_empty() {
            let s = self.images.remove(&id).expect("just found");
            for copy in s.pages.into_iter().flat_map(|p| p.spare) {
                self.spares -= 1;
                kernel.delete_root(copy);
            }
            kernel.mem.release(s.arena);
        }
    }
}

//! The read-only segments (code, constants) of a program are made once
//! and mapped into every process of the program: frames of an arena of
//! ours per program, filled at its first spawn, each process mapping
//! copies (kept in its `Held`, so they go when it does), released with
//! the program's last process. Writable segments stay each process's own.
//! A boot image program is named by where its bytes are; a program that
//! is a file by its bytes: a SHA-256 of its read-only segments (where
//! each goes, how large, what it holds). Two files with the same code
//! share it, whoever runs them; a hash nobody can collide is what keeps
//! one user's crafted image from having its code mapped into another's
//! processes.

use crate::mem::Arena;
use crate::process::{Held, PAGE};
use crate::server::Server;
use alloc::collections::BTreeMap;
use libux::elf::Elf;
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
            hash.update(seg.vaddr.to_le_bytes());
            hash.update(seg.mem_size.to_le_bytes());
            hash.update((data.len() as u64).to_le_bytes());
            hash.update(data);
        }
        ImageId::File(hash.finalize().into())
    }
}

/// One program's shared pages.
struct Shared {
    arena: Arena,
    /// Page address to frame (root slot).
    pages: BTreeMap<u64, u64>,
    users: u32,
}

#[derive(Default)]
pub struct SharedImages(BTreeMap<ImageId, Shared>);

impl Server {
    /// Counts one more process of `id` (whose image `elf` is), making and
    /// filling its read-only pages if it is the first.
    pub fn share(&mut self, id: ImageId, elf: &Elf) -> Result<(), Errno> {
        if let Some(s) = self.shared.0.get_mut(&id) {
            s.users += 1;
            return Ok(());
        }
        let mut s = Shared { arena: Arena::default(), pages: BTreeMap::new(), users: 1 };
        let made = self.fill_shared(&mut s, elf);
        match made {
            Ok(()) => {
                self.shared.0.insert(id, s);
                Ok(())
            }
            Err(e) => {
                self.kernel.mem.release(s.arena);
                Err(e)
            }
        }
    }

    fn fill_shared(&mut self, s: &mut Shared, elf: &Elf) -> Result<(), Errno> {
        for seg in elf.segments().filter(|seg| !seg.writable) {
            let data = elf.data(&seg);
            let first = seg.vaddr & !(PAGE - 1);
            let end = (seg.vaddr + seg.mem_size).next_multiple_of(PAGE);
            for page in (first..end).step_by(PAGE as usize) {
                let frame = self.kernel.mem.object(&mut s.arena, object::X86_4K, 0, bits::PAGE)?;
                let lo = page.max(seg.vaddr);
                let hi = (page + PAGE).min(seg.vaddr + data.len() as u64);
                if lo < hi {
                    let src = &data[(lo - seg.vaddr) as usize..(hi - seg.vaddr) as usize];
                    self.kernel.fill(Page(frame), (lo - page) as usize, src)?;
                }
                s.pages.insert(page, frame);
            }
        }
        Ok(())
    }

    /// A copy of `id`'s frame for `page`, to map read-only; kept in
    /// `held` (deleting it unmaps it).
    pub fn shared_page(&mut self, id: ImageId, page: u64, held: &mut Held) -> Result<Page, Errno> {
        let frame = *self.shared.0.get(&id).and_then(|s| s.pages.get(&page)).ok_or(Errno::BadImage)?;
        let copy = self.kernel.copy_root(frame, CapRights::READ)?;
        held.slots.push(copy);
        Ok(Page(copy))
    }

    /// One process of `id` fewer: the last gives its pages back.
    pub fn unshare(&mut self, id: ImageId) {
        let Some(s) = self.shared.0.get_mut(&id) else { return };
        s.users -= 1;
        if s.users == 0 {
            let s = self.shared.0.remove(&id).expect("just found");
            self.kernel.mem.release(s.arena);
        }
    }
}

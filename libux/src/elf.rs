//! A strict reader for the static ELF64 x86_64 executables the process
//! server loads. It checks every offset and size before use: a malformed
//! image is an [`ElfError`], never a panic.

use crate::layout;
use crate::le::{u16_at, u32_at, u64_at};

/// A loadable segment (`PT_LOAD`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub vaddr: u64,
    pub mem_size: u64,
    /// Byte range of the segment's file contents within the image.
    pub file_offset: usize,
    pub file_size: usize,
    pub writable: bool,
    pub executable: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElfError {
    /// Shorter than its headers say: the program headers or a segment's
    /// bytes lie past the end.
    Truncated,
    BadMagic,
    /// Not a 64-bit little-endian x86_64 executable.
    WrongKind,
    BadProgramHeaders,
    /// A segment whose file size exceeds its memory size, or whose
    /// addresses overflow.
    BadSegment(usize),
    /// A segment that shares a page with the one before it, or lies below
    /// it (segments come in address order, a page apart).
    Overlap(usize),
    /// A segment outside [`LOAD_START`]..[`LOAD_END`]: in the null page, or
    /// over the IPC buffer, the stacks or the heap.
    OutOfRange(usize),
    /// The entry point is in no executable segment.
    BadEntry,
    NoSegments,
}

impl core::fmt::Display for ElfError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ElfError::Truncated => f.write_str("truncated"),
            ElfError::BadMagic => f.write_str("not an ELF file"),
            ElfError::WrongKind => f.write_str("not a static x86_64 ELF64 executable"),
            ElfError::BadProgramHeaders => f.write_str("bad program headers"),
            ElfError::BadSegment(i) => write!(f, "segment {i} has more file bytes than memory, or wraps"),
            ElfError::Overlap(i) => write!(f, "segment {i} overlaps the one before"),
            ElfError::OutOfRange(i) => {
                write!(f, "segment {i} lies outside {LOAD_START:#x}..{LOAD_END:#x} (the stack, IPC buffer and heap)")
            }
            ElfError::BadEntry => f.write_str("entry point outside executable code"),
            ElfError::NoSegments => f.write_str("nothing to load"),
        }
    }
}

/// Where a program's segments may lie: above the null page and below
/// `layout::LOAD_END`, above which come the stacks, the IPC buffers and
/// the heap (see `layout`).
pub const LOAD_START: u64 = 0x1000;
pub const LOAD_END: u64 = layout::LOAD_END;

/// A parsed executable: entry point and program headers.
#[derive(Clone, Copy, Debug)]
pub struct Elf<'a> {
    image: &'a [u8],
    pub entry: u64,
    ph_offset: usize,
    ph_count: usize,
}

const PH_SIZE: usize = 56;
const PAGE: u64 = 4096;
const PT_LOAD: u32 = 1;
const PF_X: u32 = 1;
const PF_W: u32 = 2;

impl<'a> Elf<'a> {
    pub fn parse(image: &'a [u8]) -> Result<Self, ElfError> {
        // A short file that does not start as an ELF file is not one.
        let magic = b"\x7fELF";
        if image.is_empty() || !magic.starts_with(&image[..image.len().min(4)]) {
            return Err(ElfError::BadMagic);
        }
        if image.len() < 64 {
            return Err(ElfError::Truncated);
        }
        // ELFCLASS64, little-endian, ET_EXEC, EM_X86_64.
        if image[4] != 2 || image[5] != 1 || u16_at(image, 16) != 2 || u16_at(image, 18) != 62 {
            return Err(ElfError::WrongKind);
        }
        let ph_offset = u64_at(image, 32);
        let ph_entsize = u16_at(image, 54) as usize;
        let ph_count = u16_at(image, 56) as usize;
        let end = ph_offset.checked_add((ph_count * PH_SIZE) as u64);
        if ph_entsize != PH_SIZE {
            return Err(ElfError::BadProgramHeaders);
        }
        if end.is_none_or(|e| e > image.len() as u64) {
            return Err(ElfError::Truncated);
        }
        let elf = Elf { image, entry: u64_at(image, 24), ph_offset: ph_offset as usize, ph_count };
        for i in 0..ph_count {
            elf.segment(i)?;
        }
        Ok(elf)
    }

    fn segment(&self, i: usize) -> Result<Option<Segment>, ElfError> {
        let ph = &self.image[self.ph_offset + i * PH_SIZE..][..PH_SIZE];
        if u32_at(ph, 0) != PT_LOAD {
            return Ok(None);
        }
        let flags = u32_at(ph, 4);
        let (offset, vaddr, file_size, mem_size) = (u64_at(ph, 8), u64_at(ph, 16), u64_at(ph, 32), u64_at(ph, 40));
        if offset.checked_add(file_size).is_none_or(|e| e > self.image.len() as u64) {
            return Err(ElfError::Truncated);
        }
        if file_size > mem_size || vaddr.checked_add(mem_size).is_none() {
            return Err(ElfError::BadSegment(i));
        }
        Ok(Some(Segment {
            vaddr,
            mem_size,
            file_offset: offset as usize,
            file_size: file_size as usize,
            writable: flags & PF_W != 0,
            executable: flags & PF_X != 0,
        }))
    }

    /// The loadable segments, in program-header order.
    pub fn segments(&self) -> impl Iterator<Item = Segment> + '_ {
        // Validated in `parse`.
        (0..self.ph_count).filter_map(|i| self.segment(i).ok().flatten())
    }

    /// Checks that the segments fit a process (page-disjoint, in address
    /// order, within [`LOAD_START`]..[`LOAD_END`], entry in executable
    /// code); answers how many pages they take.
    pub fn loadable(&self) -> Result<u64, ElfError> {
        let (mut pages, mut last_end, mut entry_ok) = (0, 0, false);
        for (i, seg) in self.segments().enumerate() {
            let first = seg.vaddr & !(PAGE - 1);
            // Cannot overflow: `parse` checked `vaddr + mem_size`, and
            // `LOAD_END` is far below the top.
            if first < LOAD_START || seg.vaddr + seg.mem_size > LOAD_END {
                return Err(ElfError::OutOfRange(i));
            }
            let end = (seg.vaddr + seg.mem_size).next_multiple_of(PAGE);
            if first < last_end {
                return Err(ElfError::Overlap(i));
            }
            entry_ok |= seg.executable && (seg.vaddr..seg.vaddr + seg.mem_size).contains(&self.entry);
            pages += (end - first) / PAGE;
            last_end = end;
        }
        match (pages, entry_ok) {
            (0, _) => Err(ElfError::NoSegments),
            (_, false) => Err(ElfError::BadEntry),
            _ => Ok(pages),
        }
    }

    /// The file bytes of `segment`.
    pub fn data(&self, segment: &Segment) -> &'a [u8] {
        &self.image[segment.file_offset..][..segment.file_size]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF with the given program headers `(type, flags, offset,
    /// vaddr, filesz, memsz)`.
    fn image(phs: &[(u32, u32, u64, u64, u64, u64)]) -> [u8; 512] {
        let mut b = [0u8; 512];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[16] = 2;
        b[18] = 62;
        b[24..32].copy_from_slice(&0x401000u64.to_le_bytes());
        b[32..40].copy_from_slice(&64u64.to_le_bytes());
        b[54] = PH_SIZE as u8;
        b[56] = phs.len() as u8;
        for (i, (t, f, o, v, fs, ms)) in phs.iter().enumerate() {
            let p = 64 + i * PH_SIZE;
            b[p..p + 4].copy_from_slice(&t.to_le_bytes());
            b[p + 4..p + 8].copy_from_slice(&f.to_le_bytes());
            for (k, x) in [o, v, v, fs, ms].iter().enumerate() {
                b[p + 8 + k * 8..p + 16 + k * 8].copy_from_slice(&x.to_le_bytes());
            }
        }
        b
    }

    #[test]
    fn reads_load_segments() {
        let b = image(&[(PT_LOAD, 5, 256, 0x401000, 16, 32), (6, 4, 0, 0, 0, 0), (PT_LOAD, 6, 272, 0x402000, 8, 4096)]);
        let elf = Elf::parse(&b).unwrap();
        assert_eq!(elf.entry, 0x401000);
        let segs: [Segment; 2] = core::array::from_fn(|i| elf.segments().nth(i).unwrap());
        assert_eq!(elf.segments().count(), 2);
        assert!(segs[0].executable && !segs[0].writable);
        assert_eq!(
            segs[1],
            Segment {
                vaddr: 0x402000,
                mem_size: 4096,
                file_offset: 272,
                file_size: 8,
                writable: true,
                executable: false
            }
        );
        assert_eq!(elf.data(&segs[0]).len(), 16);
    }

    #[test]
    fn exact_fits_are_accepted() {
        // The ELF header alone, no program headers: 64 bytes.
        let mut b = image(&[]);
        b[32..40].copy_from_slice(&0u64.to_le_bytes());
        let elf = Elf::parse(&b[..64]).unwrap();
        assert_eq!(elf.segments().count(), 0);
        // Program headers that end the image; a segment whose file bytes
        // end it too and fill its memory exactly, up to the last address.
        let b = image(&[(PT_LOAD, 4, 512 - 8, u64::MAX - 8, 8, 8)]);
        let elf = Elf::parse(&b[..]).unwrap();
        let seg = elf.segments().next().unwrap();
        assert_eq!((seg.file_offset, seg.file_size, seg.mem_size), (504, 8, 8));
        let mut b = image(&[]);
        b[32..40].copy_from_slice(&(512 - PH_SIZE as u64).to_le_bytes());
        b[56] = 1;
        assert!(Elf::parse(&b).is_ok());
    }

    #[test]
    fn each_kind_field_is_checked() {
        // Class, byte order, type and machine: each alone is enough.
        for (at, bad) in [(4, 1), (5, 2), (16, 3), (18, 3)] {
            let mut b = image(&[]);
            b[at] = bad;
            assert_eq!(Elf::parse(&b).unwrap_err(), ElfError::WrongKind, "byte {at}");
        }
        let mut b = image(&[]);
        b[54] = PH_SIZE as u8 + 1;
        assert_eq!(Elf::parse(&b).unwrap_err(), ElfError::BadProgramHeaders);
    }

    #[test]
    fn loadable_checks_the_layout() {
        let ok = image(&[(PT_LOAD, 5, 256, 0x401000, 16, 0x1800), (PT_LOAD, 6, 272, 0x403000, 8, 4096)]);
        assert_eq!(Elf::parse(&ok).unwrap().loadable(), Ok(3));
        let shares_a_page = image(&[(PT_LOAD, 5, 256, 0x401000, 16, 0x1800), (PT_LOAD, 6, 272, 0x402800, 8, 8)]);
        assert_eq!(Elf::parse(&shares_a_page).unwrap().loadable(), Err(ElfError::Overlap(1)));
        let backwards = image(&[(PT_LOAD, 5, 256, 0x401000, 16, 16), (PT_LOAD, 6, 272, 0x400000, 8, 8)]);
        assert_eq!(Elf::parse(&backwards).unwrap().loadable(), Err(ElfError::Overlap(1)));
        let null_page = image(&[(PT_LOAD, 5, 256, 0x10, 16, 16)]);
        assert_eq!(Elf::parse(&null_page).unwrap().loadable(), Err(ElfError::OutOfRange(0)));
        let over_ipc = image(&[(PT_LOAD, 5, 256, 0x401000, 16, 16), (PT_LOAD, 6, 0, LOAD_END - 8, 0, 16)]);
        assert_eq!(Elf::parse(&over_ipc).unwrap().loadable(), Err(ElfError::OutOfRange(1)));
        let huge = image(&[(PT_LOAD, 5, 256, 0x401000, 16, 1 << 40)]);
        assert_eq!(Elf::parse(&huge).unwrap().loadable(), Err(ElfError::OutOfRange(0)));
        let data_entry = image(&[(PT_LOAD, 6, 256, 0x401000, 16, 16)]);
        assert_eq!(Elf::parse(&data_entry).unwrap().loadable(), Err(ElfError::BadEntry));
        let empty = image(&[(6, 4, 0, 0, 0, 0)]);
        assert_eq!(Elf::parse(&empty).unwrap().loadable(), Err(ElfError::NoSegments));
    }

    #[test]
    fn rejects_malformed_images() {
        assert_eq!(Elf::parse(&[0; 10]).unwrap_err(), ElfError::BadMagic);
        assert_eq!(Elf::parse(b"").unwrap_err(), ElfError::BadMagic);
        assert_eq!(Elf::parse(b"\x7fEL").unwrap_err(), ElfError::Truncated);
        assert_eq!(Elf::parse(&image(&[])[..63]).unwrap_err(), ElfError::Truncated);
        let mut b = image(&[]);
        b[0] = 0;
        assert_eq!(Elf::parse(&b).unwrap_err(), ElfError::BadMagic);
        let mut b = image(&[]);
        b[18] = 3;
        assert_eq!(Elf::parse(&b).unwrap_err(), ElfError::WrongKind);
        let mut b = image(&[]);
        b[56] = 200;
        assert_eq!(Elf::parse(&b).unwrap_err(), ElfError::Truncated);
        let past_end = image(&[(PT_LOAD, 4, 500, 0x400000, 100, 100)]);
        assert_eq!(Elf::parse(&past_end).unwrap_err(), ElfError::Truncated);
        let file_gt_mem = image(&[(PT_LOAD, 4, 0, 0x400000, 100, 10)]);
        assert_eq!(Elf::parse(&file_gt_mem).unwrap_err(), ElfError::BadSegment(0));
        let wraps = image(&[(PT_LOAD, 4, 0, u64::MAX - 1, 0, 10)]);
        assert_eq!(Elf::parse(&wraps).unwrap_err(), ElfError::BadSegment(0));
        let huge_offset = image(&[(PT_LOAD, 4, u64::MAX, 0x400000, 2, 10)]);
        assert_eq!(Elf::parse(&huge_offset).unwrap_err(), ElfError::Truncated);
    }
}

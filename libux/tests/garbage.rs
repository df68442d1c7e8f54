//! Every decoder in libux turns arbitrary bytes into a value or an error,
//! never a panic: random inputs, and random corruptions of valid ones.
//! (The fuzz targets in `libux/fuzz` search the same space with coverage.)

use libux::bootfs::{self, BootFs};
use libux::elf::Elf;
use libux::sel4::BootInfo;

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
    /// `valid` with a few bytes overwritten, and sometimes cut short.
    fn corrupt(&mut self, valid: &[u8]) -> Vec<u8> {
        let mut v = valid.to_vec();
        for _ in 0..1 + self.below(4) {
            let i = self.below(v.len());
            v[i] = self.next() as u8;
        }
        if self.below(4) == 0 {
            v.truncate(self.below(v.len() + 1));
        }
        v
    }
}

/// A small valid ELF: header, two program headers, contents.
fn valid_elf() -> Vec<u8> {
    let mut b = vec![0u8; 512];
    b[..4].copy_from_slice(b"\x7fELF");
    b[4] = 2;
    b[5] = 1;
    b[16] = 2;
    b[18] = 62;
    b[24..32].copy_from_slice(&0x401000u64.to_le_bytes());
    b[32..40].copy_from_slice(&64u64.to_le_bytes());
    b[54] = 56;
    b[56] = 2;
    for (i, (flags, offset, vaddr, filesz, memsz)) in
        [(5u32, 256u64, 0x401000u64, 100u64, 100u64), (6, 356, 0x402000, 50, 4096)].iter().enumerate()
    {
        let p = 64 + i * 56;
        b[p..p + 4].copy_from_slice(&1u32.to_le_bytes());
        b[p + 4..p + 8].copy_from_slice(&flags.to_le_bytes());
        for (k, x) in [offset, vaddr, vaddr, filesz, memsz].iter().enumerate() {
            b[p + 8 + k * 8..p + 16 + k * 8].copy_from_slice(&x.to_le_bytes());
        }
    }
    b
}

fn check_elf(data: &[u8]) {
    if let Ok(elf) = Elf::parse(data) {
        for seg in elf.segments() {
            assert!(elf.data(&seg).len() as u64 <= seg.mem_size);
        }
    }
}

fn check_bootfs(data: &[u8]) {
    if let Ok(fs) = BootFs::parse(data) {
        for (name, contents) in fs.files() {
            assert!(fs.get(name).is_some() && contents.len() <= data.len());
        }
    }
}

fn check_bootinfo(data: &[u8]) {
    if let Ok(bi) = BootInfo::parse(data) {
        let _ = (bi.empty(), bi.untyped(), bi.ipc_buffer(), bi.ram_bytes());
    }
}

const ROUNDS: usize = 20_000;

#[test]
fn elf_reader_survives_garbage() {
    let mut rng = Rng(0x5eed_0001);
    let valid = valid_elf();
    assert_eq!(Elf::parse(&valid).unwrap().segments().count(), 2);
    for _ in 0..ROUNDS {
        let len = rng.below(600);
        check_elf(&rng.bytes(len));
        check_elf(&rng.corrupt(&valid));
    }
}

#[test]
fn bootfs_reader_survives_garbage() {
    let mut rng = Rng(0x5eed_0002);
    let valid = bootfs::build(&[("hello", b"hello world"), ("ipcbench", &[9; 300])]).unwrap();
    assert_eq!(BootFs::parse(&valid).unwrap().len(), 2);
    for _ in 0..ROUNDS {
        let len = rng.below(400);
        check_bootfs(&rng.bytes(len));
        check_bootfs(&rng.corrupt(&valid));
    }
}

#[test]
fn bootinfo_reader_survives_garbage() {
    let mut rng = Rng(0x5eed_0003);
    let mut valid = vec![0u8; 4096];
    valid[153..161].copy_from_slice(&10u64.to_le_bytes());
    valid[161..169].copy_from_slice(&12u64.to_le_bytes());
    valid[169 + 10] = 20;
    valid[181 + 10] = 21;
    assert!(BootInfo::parse(&valid).is_ok());
    for _ in 0..ROUNDS / 10 {
        check_bootinfo(&rng.bytes(4096));
        check_bootinfo(&rng.corrupt(&valid));
    }
}

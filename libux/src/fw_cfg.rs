//! QEMU's firmware configuration device (`-fw_cfg name=opt/...,string=...`)
//! read through its I/O ports. It is how one boot image learns per-node
//! settings (boot mode now; node identity and cluster configuration later)
//! without being rebuilt.
//!
//! Protocol: write a 16-bit selector to port 0x510, then read bytes from
//! port 0x511. Selector 0 returns the signature "QEMU"; selector 1 the
//! features (bit 1: DMA); selector 0x19 the file directory: a big-endian
//! u32 count, then per file a big-endian u32 size, u16 selector, u16
//! reserved and a 56-byte NUL-padded name.
//!
//! Large files go by DMA ([`FwCfg::dma_read`]): the device copies the
//! bytes to guest memory itself, where reading them through the data port
//! would take one port access each (under seL4, a system call each).

use crate::port::PortIo;

pub const SELECTOR_PORT: u16 = 0x510;
pub const DATA_PORT: u16 = 0x511;
/// The DMA address register: the physical address of a [`DmaAccess`],
/// big-endian, high half here and low half at +4 (whose write starts it).
pub const DMA_PORT: u16 = 0x514;
const SIGNATURE: u16 = 0x0000;
const FEATURES: u16 = 0x0001;
const FEATURE_DMA: u32 = 1 << 1;
const FILE_DIR: u16 = 0x0019;

/// A DMA transfer's control word.
pub mod dma_ctl {
    pub const ERROR: u32 = 1 << 0;
    pub const READ: u32 = 1 << 1;
    /// Select the file in the top 16 bits first (and read from its start).
    pub const SELECT: u32 = 1 << 3;
}

/// What the device reads to make a DMA transfer, every field big-endian;
/// it writes `control` back: 0 when done, [`dma_ctl::ERROR`] on failure.
#[repr(C)]
pub struct DmaAccess {
    pub control: u32,
    pub length: u32,
    pub address: u64,
}
const NAME_LEN: usize = 56;
/// Guards against a corrupt directory making us read forever.
const MAX_FILES: u32 = 4096;

/// A fw_cfg file: its selector and size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct File {
    pub select: u16,
    pub size: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FwCfgError {
    /// The file is larger than the buffer offered for it.
    TooLarge { size: u32 },
    /// The device answered a DMA transfer with its error bit.
    Dma,
}

pub struct FwCfg<P: PortIo> {
    io: P,
}

impl<P: PortIo> FwCfg<P> {
    /// Returns the device if its signature answers.
    pub fn detect(mut io: P) -> Option<Self> {
        io.out16(SELECTOR_PORT, SIGNATURE);
        let mut sig = [0u8; 4];
        sig.iter_mut().for_each(|b| *b = io.in8(DATA_PORT));
        (&sig == b"QEMU").then_some(FwCfg { io })
    }

    fn read_into(&mut self, buf: &mut [u8]) {
        buf.iter_mut().for_each(|b| *b = self.io.in8(DATA_PORT));
    }

    /// Walks the file directory until `each` says stop (false).
    fn walk(&mut self, mut each: impl FnMut(&[u8], File) -> bool) {
        self.io.out16(SELECTOR_PORT, FILE_DIR);
        let mut count = [0u8; 4];
        self.read_into(&mut count);
        for _ in 0..u32::from_be_bytes(count).min(MAX_FILES) {
            let mut e = [0u8; 8 + NAME_LEN];
            self.read_into(&mut e);
            let n = e[8..].iter().position(|&c| c == 0).unwrap_or(NAME_LEN);
            let size = u32::from_be_bytes([e[0], e[1], e[2], e[3]]);
            if !each(&e[8..8 + n], File { select: u16::from_be_bytes([e[4], e[5]]), size }) {
                return;
            }
        }
    }

    /// Looks `name` up in the file directory.
    pub fn find(&mut self, name: &str) -> Option<File> {
        let mut found = None;
        self.walk(|n, f| {
            if n == name.as_bytes() {
                found = Some(f);
            }
            found.is_none()
        });
        found
    }

    /// The files whose names start with `prefix` (names that are not
    /// UTF-8 left out): one walk of the directory, where every byte is a
    /// port access.
    pub fn files(&mut self, prefix: &str) -> alloc::vec::Vec<(alloc::string::String, File)> {
        let mut out = alloc::vec::Vec::new();
        self.walk(|n, f| {
            if let Ok(name) = core::str::from_utf8(n) {
                if name.starts_with(prefix) {
                    out.push((alloc::string::String::from(name), f));
                }
            }
            true
        });
        out
    }

    /// Whether the device copies files by DMA.
    pub fn has_dma(&mut self) -> bool {
        self.io.out16(SELECTOR_PORT, FEATURES);
        let mut f = [0u8; 4];
        self.read_into(&mut f);
        u32::from_le_bytes(f) & FEATURE_DMA != 0
    }

    /// Copies the next `length` bytes of `file` (from its start if
    /// `first`) to guest physical address `to`, by DMA, described in
    /// `desc`, which is at physical address `desc_paddr`. The device does
    /// the copy while we write the address, so it is done on return.
    ///
    /// # Safety
    /// `desc` is valid for reads and writes and is at `desc_paddr`; the
    /// `length` bytes at physical `to` are the caller's to overwrite.
    pub unsafe fn dma_read(
        &mut self,
        desc: *mut DmaAccess,
        desc_paddr: u64,
        file: File,
        first: bool,
        to: u64,
        length: u32,
    ) -> Result<(), FwCfgError> {
        let mut control = dma_ctl::READ;
        if first {
            control |= u32::from(file.select) << 16 | dma_ctl::SELECT;
        }
        let access = DmaAccess { control: control.to_be(), length: length.to_be(), address: to.to_be() };
        // SAFETY: the caller's promise.
        unsafe { core::ptr::write_volatile(desc, access) };
        core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
        self.io.out32(DMA_PORT, ((desc_paddr >> 32) as u32).to_be());
        self.io.out32(DMA_PORT + 4, (desc_paddr as u32).to_be());
        core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
        // SAFETY: as above.
        let done = u32::from_be(unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*desc).control)) });
        if done == 0 {
            Ok(())
        } else {
            Err(FwCfgError::Dma)
        }
    }

    /// Reads the whole of `file` into the front of `buf`; returns its size.
    pub fn read(&mut self, file: File, buf: &mut [u8]) -> Result<usize, FwCfgError> {
        let size = file.size as usize;
        if size > buf.len() {
            return Err(FwCfgError::TooLarge { size: file.size });
        }
        self.io.out16(SELECTOR_PORT, file.select);
        self.read_into(&mut buf[..size]);
        Ok(size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake device serving a signature and a directory of files, and
    /// DMA where physical addresses are our own pointers.
    struct Fake {
        files: &'static [(&'static str, u16, &'static [u8])],
        stream: [u8; 1024],
        len: usize,
        pos: usize,
        dma_high: u32,
    }

    impl PortIo for Fake {
        fn out8(&mut self, port: u16, _: u8) {
            panic!("unexpected 8-bit write to {port:#x}")
        }
        fn out16(&mut self, port: u16, value: u16) {
            assert_eq!(port, SELECTOR_PORT);
            self.pos = 0;
            self.len = 0;
            let push = |s: &mut Self, bytes: &[u8]| {
                s.stream[s.len..s.len + bytes.len()].copy_from_slice(bytes);
                s.len += bytes.len();
            };
            match value {
                SIGNATURE => push(self, b"QEMU"),
                FEATURES => push(self, &3u32.to_le_bytes()),
                FILE_DIR => {
                    push(self, &(self.files.len() as u32).to_be_bytes());
                    for (name, sel, data) in self.files {
                        push(self, &(data.len() as u32).to_be_bytes());
                        push(self, &sel.to_be_bytes());
                        push(self, &[0, 0]);
                        let mut n = [0u8; NAME_LEN];
                        n[..name.len()].copy_from_slice(name.as_bytes());
                        push(self, &n);
                    }
                }
                sel => {
                    let data = self.files.iter().find(|f| f.1 == sel).unwrap().2;
                    push(self, data)
                }
            }
        }
        fn out32(&mut self, port: u16, value: u32) {
            let value = u32::from_be(value);
            if port == DMA_PORT {
                self.dma_high = value;
                return;
            }
            assert_eq!(port, DMA_PORT + 4);
            let desc = ((self.dma_high as u64) << 32 | value as u64) as *mut DmaAccess;
            // SAFETY: the test's descriptor, by its address.
            let d = unsafe { &mut *desc };
            let control = u32::from_be(d.control);
            if control & dma_ctl::SELECT != 0 {
                self.out16(SELECTOR_PORT, (control >> 16) as u16);
            }
            let (len, to) = (u32::from_be(d.length) as usize, u64::from_be(d.address) as *mut u8);
            if self.pos + len > self.len {
                d.control = dma_ctl::ERROR.to_be();
                return;
            }
            // SAFETY: the test's buffer, by its address.
            unsafe { core::ptr::copy_nonoverlapping(self.stream[self.pos..].as_ptr(), to, len) };
            self.pos += len;
            d.control = 0;
        }
        fn in8(&mut self, port: u16) -> u8 {
            assert_eq!(port, DATA_PORT);
            // Reading past the end yields zero, as on the real device.
            let b = if self.pos < self.len { self.stream[self.pos] } else { 0 };
            self.pos += 1;
            b
        }
    }

    fn fake() -> Fake {
        Fake {
            files: &[("etc/e820", 0x20, b"xxxx"), ("opt/ux/boot", 0x21, b"bench")],
            stream: [0; 1024],
            len: 0,
            pos: 0,
            dma_high: 0,
        }
    }

    #[test]
    fn finds_and_reads_a_file() {
        let mut cfg = FwCfg::detect(fake()).expect("signature");
        let f = cfg.find("opt/ux/boot").unwrap();
        assert_eq!(f, File { select: 0x21, size: 5 });
        let mut buf = [0u8; 16];
        let n = cfg.read(f, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"bench");
        assert_eq!(cfg.find("opt/ux/missing"), None);
        assert_eq!(cfg.find("opt/ux/boo"), None);
        let names: alloc::vec::Vec<_> = cfg.files("opt/").into_iter().map(|(n, f)| (n, f.select)).collect();
        assert_eq!(names, [(alloc::string::String::from("opt/ux/boot"), 0x21)]);
    }

    #[test]
    fn reads_a_file_by_dma_in_parts() {
        let mut cfg = FwCfg::detect(fake()).unwrap();
        assert!(cfg.has_dma());
        let f = cfg.find("opt/ux/boot").unwrap();
        let mut desc = DmaAccess { control: 0, length: 0, address: 0 };
        let d = &mut desc as *mut DmaAccess;
        let mut buf = [0u8; 5];
        let first = buf.as_mut_ptr() as u64;
        let rest = first + 2;
        // SAFETY: `desc` and `buf` are ours, and physical = virtual here.
        unsafe {
            cfg.dma_read(d, d as u64, f, true, first, 2).unwrap();
            cfg.dma_read(d, d as u64, f, false, rest, 3).unwrap();
            assert_eq!(cfg.dma_read(d, d as u64, f, false, rest, 1), Err(FwCfgError::Dma), "past the end");
        }
        assert_eq!(&buf, b"bench");
    }

    #[test]
    fn refuses_to_truncate() {
        let mut cfg = FwCfg::detect(fake()).unwrap();
        let f = cfg.find("opt/ux/boot").unwrap();
        assert_eq!(cfg.read(f, &mut [0u8; 4]), Err(FwCfgError::TooLarge { size: 5 }));
    }

    #[test]
    fn no_device_no_signature() {
        struct Absent;
        impl PortIo for Absent {
            fn out8(&mut self, _: u16, _: u8) {}
            fn out16(&mut self, _: u16, _: u16) {}
            fn out32(&mut self, _: u16, _: u32) {}
            fn in8(&mut self, _: u16) -> u8 {
                0xff
            }
        }
        assert!(FwCfg::detect(Absent).is_none());
    }
}

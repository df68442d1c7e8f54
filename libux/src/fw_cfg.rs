//! QEMU's firmware configuration device (`-fw_cfg name=opt/...,string=...`)
//! read through its I/O ports. It is how one boot image learns per-node
//! settings (boot mode now; node identity and cluster configuration later)
//! without being rebuilt.
//!
//! Protocol: write a 16-bit selector to port 0x510, then read bytes from
//! port 0x511. Selector 0 returns the signature "QEMU"; selector 0x19 the
//! file directory: a big-endian u32 count, then per file a big-endian u32
//! size, u16 selector, u16 reserved and a 56-byte NUL-padded name.

use crate::port::PortIo;

pub const SELECTOR_PORT: u16 = 0x510;
pub const DATA_PORT: u16 = 0x511;
const SIGNATURE: u16 = 0x0000;
const FILE_DIR: u16 = 0x0019;
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

    /// Looks `name` up in the file directory.
    pub fn find(&mut self, name: &str) -> Option<File> {
        self.io.out16(SELECTOR_PORT, FILE_DIR);
        let mut count = [0u8; 4];
        self.read_into(&mut count);
        for _ in 0..u32::from_be_bytes(count).min(MAX_FILES) {
            let mut e = [0u8; 8 + NAME_LEN];
            self.read_into(&mut e);
            let n = e[8..].iter().position(|&c| c == 0).unwrap_or(NAME_LEN);
            if &e[8..8 + n] == name.as_bytes() {
                let size = u32::from_be_bytes([e[0], e[1], e[2], e[3]]);
                return Some(File { select: u16::from_be_bytes([e[4], e[5]]), size });
            }
        }
        None
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

    /// A fake device serving a signature and a directory of files.
    struct Fake {
        files: &'static [(&'static str, u16, &'static [u8])],
        stream: [u8; 1024],
        len: usize,
        pos: usize,
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
            fn in8(&mut self, _: u16) -> u8 {
                0xff
            }
        }
        assert!(FwCfg::detect(Absent).is_none());
    }
}

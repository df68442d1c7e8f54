//! A file's bytes, in blocks: growing a file copies at most one block, not
//! the whole file, and a small file holds no more than its bytes.

use alloc::vec::Vec;

/// Bytes of every block but the last.
pub const BLOCK: usize = 16 * 1024;

#[derive(Default, Debug, Clone)]
pub struct Data {
    /// Full blocks, then a last one of at most `BLOCK` bytes (allocated to
    /// its exact length).
    blocks: Vec<Vec<u8>>,
    len: usize,
}

impl Data {
    pub fn len(&self) -> usize {
        self.len
    }

    /// Copies from `offset` into `buf`; returns how many bytes.
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> usize {
        let start = offset.min(self.len);
        let n = buf.len().min(self.len - start);
        let mut done = 0;
        while done < n {
            let at = start + done;
            let block = &self.blocks[at / BLOCK][at % BLOCK..];
            let k = block.len().min(n - done);
            buf[done..done + k].copy_from_slice(&block[..k]);
            done += k;
        }
        n
    }

    /// Makes the length `size`, with zeros for new bytes.
    pub fn resize(&mut self, size: usize) {
        let blocks = size.div_ceil(BLOCK);
        self.blocks.truncate(blocks);
        while self.blocks.len() < blocks {
            if let Some(last) = self.blocks.last_mut() {
                last.reserve_exact(BLOCK - last.len());
                last.resize(BLOCK, 0);
            }
            self.blocks.push(Vec::new());
        }
        if let Some(last) = self.blocks.last_mut() {
            let want = size - (blocks - 1) * BLOCK;
            last.reserve_exact(want.saturating_sub(last.len()));
            last.resize(want, 0);
            last.shrink_to_fit();
        }
        self.len = size;
    }

    /// Writes `bytes` at `offset`; the caller has grown the data to cover them.
    pub fn write(&mut self, offset: usize, bytes: &[u8]) {
        let mut done = 0;
        while done < bytes.len() {
            let at = offset + done;
            let block = &mut self.blocks[at / BLOCK][at % BLOCK..];
            let k = block.len().min(bytes.len() - done);
            block[..k].copy_from_slice(&bytes[done..done + k]);
            done += k;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn contents(d: &Data) -> Vec<u8> {
        let mut all = vec![0u8; d.len()];
        assert_eq!(d.read(0, &mut all), d.len());
        all
    }

    #[test]
    fn grows_shrinks_and_reads_across_blocks() {
        let mut d = Data::default();
        let mut model = Vec::new();
        for (offset, len, byte) in [(0, 10, 1u8), (BLOCK - 3, 7, 2), (3 * BLOCK + 5, BLOCK, 3), (2, 2 * BLOCK, 4)] {
            let end = offset + len;
            if end > d.len() {
                d.resize(end);
                model.resize(end, 0);
            }
            d.write(offset, &vec![byte; len]);
            model[offset..end].fill(byte);
            assert_eq!(contents(&d), model);
        }
        for size in [4 * BLOCK + 1, 2 * BLOCK, BLOCK + 1, BLOCK, 5, 0, 3 * BLOCK] {
            d.resize(size);
            model.resize(size, 0);
            assert_eq!(d.len(), size);
            assert_eq!(contents(&d), model, "size {size}");
        }
        let mut buf = [9u8; 8];
        assert_eq!(d.read(3 * BLOCK - 4, &mut buf), 4);
        assert_eq!(d.read(10 * BLOCK, &mut buf), 0);
        // Reads and writes across a block boundary that stop short of the
        // end, and a read of one byte at its very end.
        d.write(BLOCK - 3, b"abcdef");
        assert_eq!(d.read(BLOCK - 2, &mut buf[..4]), 4);
        assert_eq!(&buf[..4], b"bcde");
        assert_eq!((d.read(d.len() - 1, &mut buf), d.read(d.len(), &mut buf)), (1, 0));
    }

    #[test]
    fn blocks_hold_exactly_their_bytes() {
        let mut d = Data::default();
        d.resize(100);
        d.resize(BLOCK + 100);
        assert_eq!(d.blocks[0].capacity(), BLOCK, "a filled block has no spare room");
        assert_eq!(d.blocks.len(), 2);
        assert_eq!(d.blocks[0].len(), BLOCK);
        assert_eq!(d.blocks[1].len(), 100);
        assert!(d.blocks[1].capacity() < BLOCK);
        d.resize(BLOCK);
        assert_eq!(d.blocks.len(), 1);
    }
}

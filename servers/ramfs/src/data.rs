//! A file's bytes, in blocks that exist only where something was written:
//! a hole (never written, or grown by a truncate) holds nothing and reads
//! as zeros, so a sparse file costs what it holds. Growing a file copies
//! at most one block, not the whole file, and a small file holds no more
//! than its bytes.
//!
//! Invariant: a block that exists holds exactly its part of the length
//! (`BLOCK` bytes, or what is left of the file for the last one), and
//! `stored` is the sum of the blocks' lengths.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

/// Bytes of every block but the last.
pub const BLOCK: usize = 16 * 1024;

#[derive(Default, Debug, Clone)]
pub struct Data {
    blocks: BTreeMap<usize, Vec<u8>>,
    len: usize,
    stored: usize,
}

/// Bytes block `i` covers in a file of `len` bytes.
fn block_len(i: usize, len: usize) -> usize {
    BLOCK.min(len.saturating_sub(i * BLOCK))
}

impl Data {
    pub fn len(&self) -> usize {
        self.len
    }

    /// Bytes held: less than the length when the file has holes.
    pub fn stored(&self) -> usize {
        self.stored
    }

    /// Copies from `offset` into `buf`; returns how many bytes.
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> usize {
        let start = offset.min(self.len);
        let n = buf.len().min(self.len - start);
        let mut done = 0;
        while done < n {
            let at = start + done;
            let (i, within) = (at / BLOCK, at % BLOCK);
            let k = (block_len(i, self.len) - within).min(n - done);
            match self.blocks.get(&i) {
                Some(block) => buf[done..done + k].copy_from_slice(&block[within..within + k]),
                None => buf[done..done + k].fill(0),
            }
            done += k;
        }
        n
    }

    /// The block that ends the file, if it exists and is partial: the
    /// one a growth must fill out.
    fn partial_last(&self) -> Option<usize> {
        let i = self.len.checked_sub(1)? / BLOCK;
        (self.blocks.contains_key(&i) && block_len(i, self.len) < BLOCK).then_some(i)
    }

    /// Bytes a resize to `size` adds to what is stored (none when it
    /// shrinks: the new length is a hole).
    pub fn resize_cost(&self, size: usize) -> usize {
        match self.partial_last() {
            Some(i) if size > self.len => block_len(i, size) - block_len(i, self.len),
            _ => 0,
        }
    }

    /// Makes the length `size`, with zeros for new bytes.
    pub fn resize(&mut self, size: usize) {
        if size > self.len {
            if let Some(i) = self.partial_last() {
                let block = self.blocks.get_mut(&i).expect("it exists");
                let want = block_len(i, size);
                self.stored += want - block.len();
                block.reserve_exact(want - block.len());
                block.resize(want, 0);
            }
        } else {
            let gone = self.blocks.split_off(&size.div_ceil(BLOCK));
            self.stored -= gone.values().map(Vec::len).sum::<usize>();
            if let Some((&i, block)) = self.blocks.iter_mut().next_back() {
                let want = block_len(i, size);
                self.stored -= block.len() - want;
                block.truncate(want);
                block.shrink_to_fit();
            }
        }
        self.len = size;
    }

    /// Bytes a write of `n` bytes at `offset` adds to what is stored
    /// (`end` = `offset + n`, checked by the caller).
    pub fn write_cost(&self, offset: usize, end: usize) -> usize {
        let new_len = end.max(self.len);
        let made: usize = (offset / BLOCK..end.div_ceil(BLOCK))
            .filter(|i| !self.blocks.contains_key(i))
            .map(|i| block_len(i, new_len))
            .sum();
        made + self.resize_cost(new_len)
    }

    /// Writes `bytes` at `offset`, growing the file if they end past it.
    pub fn write(&mut self, offset: usize, bytes: &[u8]) {
        let end = offset + bytes.len();
        if end > self.len {
            self.resize(end);
        }
        let mut done = 0;
        while done < bytes.len() {
            let at = offset + done;
            let (i, within) = (at / BLOCK, at % BLOCK);
            let len = block_len(i, self.len);
            let block = self.blocks.entry(i).or_insert_with(|| {
                self.stored += len;
                alloc::vec![0; len]
            });
            let k = (len - within).min(bytes.len() - done);
            block[within..within + k].copy_from_slice(&bytes[done..done + k]);
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

    fn held(d: &Data) -> usize {
        d.blocks.values().map(Vec::len).sum()
    }

    #[test]
    fn grows_shrinks_and_reads_across_blocks() {
        let mut d = Data::default();
        let mut model = Vec::new();
        for (offset, len, byte) in [(0, 10, 1u8), (BLOCK - 3, 7, 2), (3 * BLOCK + 5, BLOCK, 3), (2, 2 * BLOCK, 4)] {
            let end = offset + len;
            let cost = d.write_cost(offset, end);
            let before = d.stored();
            d.write(offset, &vec![byte; len]);
            assert_eq!(d.stored(), before + cost, "the cost foretold");
            model.resize(model.len().max(end), 0);
            model[offset..end].fill(byte);
            assert_eq!(contents(&d), model);
            assert_eq!(d.stored(), held(&d));
        }
        for size in [4 * BLOCK + 1, 2 * BLOCK, BLOCK + 1, BLOCK, 5, 0, 3 * BLOCK] {
            let (cost, before) = (d.resize_cost(size), d.stored());
            d.resize(size);
            model.resize(size, 0);
            assert_eq!(d.len(), size);
            assert_eq!(contents(&d), model, "size {size}");
            assert_eq!(d.stored(), held(&d));
            assert!(d.stored() <= before + cost);
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
    fn holes_hold_nothing_and_read_as_zeros() {
        let mut d = Data::default();
        let far = 3 << 30;
        assert_eq!(d.write_cost(far, far + 1), 1);
        d.write(far, b"x");
        assert_eq!((d.len(), d.stored(), d.blocks.len()), (far + 1, 1, 1));
        let mut buf = [7u8; 4];
        assert_eq!(d.read(far - 2, &mut buf), 3);
        assert_eq!(&buf[..3], b"\0\0x");
        // Growing by a resize makes a hole too; writing into it fills one
        // block, not the ones before.
        d.resize(far + 10 * BLOCK);
        assert_eq!(d.stored(), BLOCK.min(10 * BLOCK + 1 - (far % BLOCK)), "the last block filled out");
        let before = d.stored();
        d.write(far + 5 * BLOCK, b"y");
        assert_eq!(d.stored(), before + BLOCK);
        d.resize(0);
        assert_eq!((d.stored(), d.blocks.len()), (0, 0));
    }

    #[test]
    fn blocks_hold_exactly_their_bytes() {
        let mut d = Data::default();
        d.write(0, &[1; 100]);
        d.resize(BLOCK + 100);
        assert_eq!(d.blocks[&0].len(), BLOCK, "the partial block filled out");
        assert!(!d.blocks.contains_key(&1), "the rest a hole");
        d.write(BLOCK, &[2; 10]);
        assert_eq!(d.blocks[&1].len(), 100);
        assert!(d.blocks[&1].capacity() < BLOCK);
        d.resize(BLOCK);
        assert_eq!(d.blocks.len(), 1);
        assert_eq!(d.stored(), BLOCK);
    }
}

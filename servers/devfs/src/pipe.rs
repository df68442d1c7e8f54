//! Pipes: a bounded byte queue with counts of open read and write ends.
//!
//! A pipe is made through its clone file, which whoever made it (the
//! shell) keeps open while the processes joined by it start and open the
//! ends by name. So an end that is not open yet is not a closed end: a
//! read returns the end of data only once some writer has come and all
//! writers have gone; a write fails with "broken pipe" only once some
//! reader has come and all readers have gone. Until then they wait.

use alloc::collections::VecDeque;

/// Bytes a pipe holds before writers wait.
pub const CAPACITY: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Read,
    Write,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome<T> {
    Done(T),
    /// Try again when the pipe changes.
    Wait,
    /// Writes: nobody will read.
    Broken,
}

#[derive(Default, Debug)]
pub struct Pipe {
    data: VecDeque<u8>,
    readers: u32,
    writers: u32,
    had_reader: bool,
    had_writer: bool,
    /// Open clone files.
    pub clones: u32,
}

impl Pipe {
    /// A new pipe, made through a clone file that is now open.
    pub fn cloned() -> Pipe {
        Pipe { clones: 1, ..Pipe::default() }
    }

    pub fn open(&mut self, end: End) {
        match end {
            End::Read => {
                self.readers += 1;
                self.had_reader = true;
            }
            End::Write => {
                self.writers += 1;
                self.had_writer = true;
            }
        }
    }

    pub fn close(&mut self, end: End) {
        match end {
            End::Read => self.readers = self.readers.saturating_sub(1),
            End::Write => self.writers = self.writers.saturating_sub(1),
        }
    }

    /// Nothing refers to it any more: it can go.
    pub fn unused(&self) -> bool {
        self.readers == 0 && self.writers == 0 && self.clones == 0
    }

    /// Takes up to `max` bytes; `Done` of nothing is the end of data.
    pub fn read(&mut self, max: usize) -> Outcome<alloc::vec::Vec<u8>> {
        if !self.data.is_empty() {
            let n = max.min(self.data.len());
            return Outcome::Done(self.data.drain(..n).collect());
        }
        if self.had_writer && self.writers == 0 {
            Outcome::Done(alloc::vec::Vec::new())
        } else {
            Outcome::Wait
        }
    }

    /// Stores what fits of `bytes`; returns how much.
    pub fn write(&mut self, bytes: &[u8]) -> Outcome<usize> {
        if self.had_reader && self.readers == 0 {
            return Outcome::Broken;
        }
        let n = bytes.len().min(CAPACITY - self.data.len());
        if n == 0 && !bytes.is_empty() {
            return Outcome::Wait;
        }
        self.data.extend(&bytes[..n]);
        Outcome::Done(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn data_flows_and_ends_when_the_writer_closes() {
        let mut p = Pipe::default();
        p.open(End::Read);
        assert_eq!(p.read(10), Outcome::Wait, "no writer yet is not the end");
        p.open(End::Write);
        assert_eq!(p.write(b"hello"), Outcome::Done(5));
        p.close(End::Write);
        assert_eq!(p.read(3), Outcome::Done(b"hel".to_vec()));
        assert_eq!(p.read(10), Outcome::Done(b"lo".to_vec()));
        assert_eq!(p.read(10), Outcome::Done(vec![]));
    }

    #[test]
    fn a_writer_that_comes_and_goes_before_the_reader_leaves_its_data() {
        let mut p = Pipe { clones: 1, ..Pipe::default() };
        p.open(End::Write);
        assert_eq!(p.write(b"hi\n"), Outcome::Done(3));
        p.close(End::Write);
        assert!(!p.unused(), "the clone keeps it");
        p.open(End::Read);
        assert_eq!(p.read(10), Outcome::Done(b"hi\n".to_vec()));
        assert_eq!(p.read(10), Outcome::Done(vec![]));
    }

    #[test]
    fn a_full_pipe_makes_writers_wait_and_a_gone_reader_breaks_it() {
        let mut p = Pipe::default();
        p.open(End::Write);
        let big = vec![7u8; CAPACITY + 100];
        assert_eq!(p.write(&big), Outcome::Done(CAPACITY), "no reader yet: fill, then wait");
        assert_eq!(p.write(b"x"), Outcome::Wait);
        p.open(End::Read);
        assert_eq!(p.read(100), Outcome::Done(vec![7u8; 100]));
        assert_eq!(p.write(&big), Outcome::Done(100));
        p.close(End::Read);
        assert_eq!(p.write(b"x"), Outcome::Broken);
    }

    #[test]
    fn empty_writes_succeed_and_unused_pipes_are_noticed() {
        let mut p = Pipe::default();
        p.open(End::Write);
        assert_eq!(p.write(b""), Outcome::Done(0));
        p.close(End::Write);
        p.close(End::Write);
        assert!(p.unused());
    }
}

//! The console line discipline: what typed bytes do. Printable bytes are
//! echoed and collected; backspace (BS or DEL) erases the last one; Enter
//! (CR or LF) completes the line; Ctrl-C interrupts; Ctrl-D on an empty
//! line is the end of input. Completed input waits in a bounded queue for
//! readers, a line at a time.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

/// Longest line being typed; further bytes are refused (with a bell).
pub const LINE_MAX: usize = 1024;
/// Completed input kept for readers.
pub const QUEUE_MAX: usize = 4096;

const BELL: u8 = 0x07;
const CTRL_C: u8 = 0x03;
const CTRL_D: u8 = 0x04;
const BACKSPACE: u8 = 0x08;
const DELETE: u8 = 0x7f;

/// What one typed byte asks of the server, besides echoing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Nothing,
    /// A line (or the end of input) is ready for a reader.
    Input,
    /// Ctrl-C: the foreground job is to be killed.
    Interrupt,
}

#[derive(Default)]
pub struct Line {
    editing: Vec<u8>,
    ready: VecDeque<u8>,
    /// Ctrl-D on an empty line: the next read gets 0 bytes.
    eof: bool,
}

impl Line {
    /// Takes one typed byte; appends what to echo to `echo`.
    pub fn input(&mut self, byte: u8, echo: &mut Vec<u8>) -> Event {
        match byte {
            b'\r' | b'\n' => {
                echo.extend_from_slice(b"\r\n");
                if self.ready.len() + self.editing.len() + 1 > QUEUE_MAX {
                    // No reader for a long while: the line is lost, loudly.
                    echo.push(BELL);
                    self.editing.clear();
                    return Event::Nothing;
                }
                self.ready.extend(self.editing.drain(..));
                self.ready.push_back(b'\n');
                Event::Input
            }
            BACKSPACE | DELETE => {
                if self.editing.pop().is_some() {
                    echo.extend_from_slice(b"\x08 \x08");
                }
                Event::Nothing
            }
            CTRL_C => {
                echo.extend_from_slice(b"^C\r\n");
                self.editing.clear();
                Event::Interrupt
            }
            CTRL_D => {
                if self.editing.is_empty() {
                    self.eof = true;
                    Event::Input
                } else {
                    Event::Nothing
                }
            }
            b if b < 0x20 && b != b'\t' => Event::Nothing,
            b => {
                if self.editing.len() >= LINE_MAX {
                    echo.push(BELL);
                } else {
                    self.editing.push(b);
                    echo.push(b);
                }
                Event::Nothing
            }
        }
    }

    /// Whether a read would return now.
    pub fn readable(&self) -> bool {
        !self.ready.is_empty() || self.eof
    }

    /// Reads at most `max` bytes, up to the end of the first ready line;
    /// empty at the end of input (which it consumes).
    pub fn read(&mut self, max: usize) -> Vec<u8> {
        if self.ready.is_empty() {
            self.eof = false;
            return Vec::new();
        }
        let line = self.ready.iter().position(|&b| b == b'\n').map_or(self.ready.len(), |i| i + 1);
        self.ready.drain(..line.min(max)).collect()
    }

    /// Makes an empty line ready (a reader woken by Ctrl-C with nothing
    /// to kill gets a fresh prompt's worth).
    pub fn push_empty_line(&mut self) {
        if self.ready.len() < QUEUE_MAX {
            self.ready.push_back(b'\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(line: &mut Line, bytes: &[u8]) -> (Vec<u8>, Vec<Event>) {
        let mut echo = Vec::new();
        let events = bytes.iter().map(|&b| line.input(b, &mut echo)).collect();
        (echo, events)
    }

    #[test]
    fn a_typed_line_is_echoed_and_read_whole() {
        let mut l = Line::default();
        let (echo, events) = typed(&mut l, b"ls /bin\r");
        assert_eq!(echo, b"ls /bin\r\n");
        assert_eq!(events.last(), Some(&Event::Input));
        assert!(l.readable());
        assert_eq!(l.read(100), b"ls /bin\n");
        assert!(!l.readable());
    }

    #[test]
    fn backspace_erases_and_never_underflows() {
        let mut l = Line::default();
        let (echo, _) = typed(&mut l, b"\x7fab\x08c\n");
        assert_eq!(echo, b"ab\x08 \x08c\r\n");
        assert_eq!(l.read(100), b"ac\n");
    }

    #[test]
    fn reads_stop_at_a_line_end_and_at_max() {
        let mut l = Line::default();
        typed(&mut l, b"one\ntwo\n");
        assert_eq!(l.read(2), b"on");
        assert_eq!(l.read(100), b"e\n");
        assert_eq!(l.read(100), b"two\n");
    }

    #[test]
    fn ctrl_c_drops_the_line_and_interrupts() {
        let mut l = Line::default();
        let (echo, events) = typed(&mut l, b"sleep 5\x03");
        assert_eq!(events.last(), Some(&Event::Interrupt));
        assert!(echo.ends_with(b"^C\r\n"));
        assert!(!l.readable());
        l.push_empty_line();
        assert_eq!(l.read(10), b"\n");
    }

    #[test]
    fn ctrl_d_on_an_empty_line_is_end_of_input_once() {
        let mut l = Line::default();
        typed(&mut l, b"x\x04");
        assert!(!l.readable(), "Ctrl-D after typed bytes does nothing");
        typed(&mut l, b"\n\x04");
        assert_eq!(l.read(10), b"x\n");
        assert!(l.readable());
        assert_eq!(l.read(10), b"");
        assert!(!l.readable());
    }

    #[test]
    fn overlong_lines_and_full_queues_are_bounded() {
        let mut l = Line::default();
        let long = alloc::vec![b'a'; LINE_MAX + 10];
        let (echo, _) = typed(&mut l, &long);
        assert_eq!(echo.iter().filter(|&&b| b == BELL).count(), 10);
        typed(&mut l, b"\n");
        assert_eq!(l.read(usize::MAX).len(), LINE_MAX + 1);
        for _ in 0..QUEUE_MAX {
            typed(&mut l, b"y\n");
        }
        assert!(l.ready.len() <= QUEUE_MAX);
    }

    #[test]
    fn control_bytes_are_ignored() {
        let mut l = Line::default();
        let (echo, _) = typed(&mut l, b"a\x1b\x01b\tc\n");
        assert_eq!(echo, b"ab\tc\r\n");
    }
}

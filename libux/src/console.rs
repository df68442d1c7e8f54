//! The serial console: a 16550 UART (COM1 at 0x3f8 in QEMU), written by
//! polling. Until the console server exists, every program that prints
//! holds an I/O port capability limited to the UART's eight ports.

use crate::port::PortIo;

/// COM1's first port and port count.
pub const COM1: u16 = 0x3f8;
pub const COM1_PORTS: u16 = 8;

const THR: u16 = 0; // transmit holding register
const IER: u16 = 1; // interrupt enable
const FCR: u16 = 2; // FIFO control
const LCR: u16 = 3; // line control
const MCR: u16 = 4; // modem control
const LSR: u16 = 5; // line status
const LSR_THR_EMPTY: u8 = 1 << 5;
/// Bounded wait for the transmitter, so a wedged UART cannot hang a
/// program; QEMU's UART is always ready.
const SPIN_LIMIT: u32 = 100_000;

pub struct Serial<P: PortIo> {
    io: P,
    base: u16,
}

impl<P: PortIo> Serial<P> {
    pub const fn new(io: P, base: u16) -> Self {
        Serial { io, base }
    }

    /// 115200 baud, 8 data bits, no parity, one stop bit, FIFOs on,
    /// interrupts off.
    pub fn init(&mut self) {
        let b = self.base;
        self.io.out8(b + IER, 0x00);
        self.io.out8(b + LCR, 0x80); // divisor latch access
        self.io.out8(b, 0x01); // divisor 1: 115200 baud
        self.io.out8(b + IER, 0x00);
        self.io.out8(b + LCR, 0x03); // 8N1
        self.io.out8(b + FCR, 0xc7); // enable and clear FIFOs
        self.io.out8(b + MCR, 0x03); // DTR, RTS
    }

    pub fn write_byte(&mut self, byte: u8) {
        let mut spins = 0;
        while self.io.in8(self.base + LSR) & LSR_THR_EMPTY == 0 && spins < SPIN_LIMIT {
            spins += 1;
        }
        self.io.out8(self.base + THR, byte);
    }
}

impl<P: PortIo> core::fmt::Write for Serial<P> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for b in s.bytes() {
            if b == b'\n' {
                self.write_byte(b'\r');
            }
            self.write_byte(b);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;

    struct Uart {
        out: [u8; 64],
        n: usize,
        lcr: u8,
    }

    impl PortIo for &mut Uart {
        fn in8(&mut self, port: u16) -> u8 {
            assert_eq!(port, COM1 + LSR);
            LSR_THR_EMPTY
        }
        fn out8(&mut self, port: u16, value: u8) {
            match port - COM1 {
                THR if self.lcr & 0x80 == 0 => {
                    self.out[self.n] = value;
                    self.n += 1;
                }
                LCR => self.lcr = value,
                _ => {}
            }
        }
        fn out16(&mut self, _: u16, _: u16) {
            unreachable!()
        }
        fn out32(&mut self, _: u16, _: u32) {
            unreachable!()
        }
    }

    /// Records every write; reports the transmitter busy for `busy` polls.
    struct Log {
        writes: alloc::vec::Vec<(u16, u8)>,
        polls: u32,
        busy: u32,
    }

    impl PortIo for &mut Log {
        fn in8(&mut self, _: u16) -> u8 {
            self.polls += 1;
            if self.polls > self.busy {
                LSR_THR_EMPTY
            } else {
                !LSR_THR_EMPTY
            }
        }
        fn out8(&mut self, port: u16, value: u8) {
            self.writes.push((port, value));
        }
        fn out16(&mut self, _: u16, _: u16) {
            unreachable!()
        }
        fn out32(&mut self, _: u16, _: u32) {
            unreachable!()
        }
    }

    #[test]
    fn init_programs_115200_8n1() {
        let mut log = Log { writes: alloc::vec::Vec::new(), polls: 0, busy: 0 };
        Serial::new(&mut log, COM1).init();
        let b = COM1;
        let want = [(b + 1, 0), (b + 3, 0x80), (b, 1), (b + 1, 0), (b + 3, 3), (b + 2, 0xc7), (b + 4, 3)];
        assert_eq!(log.writes, want);
    }

    #[test]
    fn writes_wait_for_the_transmitter_but_not_forever() {
        let mut log = Log { writes: alloc::vec::Vec::new(), polls: 0, busy: 3 };
        Serial::new(&mut log, COM1).write_byte(b'x');
        assert_eq!((log.polls, &log.writes[..]), (4, &[(COM1, b'x')][..]));
        // A wedged UART: the byte goes out after SPIN_LIMIT polls.
        let mut log = Log { writes: alloc::vec::Vec::new(), polls: 0, busy: u32::MAX };
        Serial::new(&mut log, COM1).write_byte(b'y');
        assert_eq!((log.polls, &log.writes[..]), (SPIN_LIMIT + 1, &[(COM1, b'y')][..]));
    }

    #[test]
    fn writes_lines_with_crlf() {
        let mut uart = Uart { out: [0; 64], n: 0, lcr: 0 };
        let mut s = Serial::new(&mut uart, COM1);
        s.init();
        write!(s, "a\nb").unwrap();
        assert_eq!(&uart.out[..uart.n], b"a\r\nb");
    }
}

//! x86 I/O port access as a trait, so device logic (the serial console,
//! fw_cfg) runs against fakes in host tests and against an seL4 I/O port
//! capability on the target.

pub trait PortIo {
    fn in8(&mut self, port: u16) -> u8;
    fn out8(&mut self, port: u16, value: u8);
    fn out16(&mut self, port: u16, value: u16);
    fn out32(&mut self, port: u16, value: u32);
}

/// On seL4 every access is an invocation of an I/O port capability; an
/// access outside the capability's range is a programming error in the
/// caller's grant and reads as all ones, as on an absent device.
#[cfg(target_arch = "x86_64")]
impl PortIo for crate::sel4::IoPort {
    fn in8(&mut self, port: u16) -> u8 {
        crate::sel4::IoPort::in8(*self, port).unwrap_or(0xff)
    }
    fn out8(&mut self, port: u16, value: u8) {
        let _ = crate::sel4::IoPort::out8(*self, port, value);
    }
    fn out16(&mut self, port: u16, value: u16) {
        let _ = crate::sel4::IoPort::out16(*self, port, value);
    }
    fn out32(&mut self, port: u16, value: u32) {
        let _ = crate::sel4::IoPort::out32(*self, port, value);
    }
}

//! A virtio split virtqueue in the legacy layout (virtio 0.9.5, what a
//! legacy PCI device reads through its queue PFN): the descriptor table,
//! then the available ring, then, at the next 4 KiB boundary, the used
//! ring; all in memory the device reaches by DMA. Each buffer here is one
//! descriptor, and descriptor `i` always describes buffer `i`; buffers go
//! to the device alone or linked in a chain (a request and the place for
//! its answer), which the device gives back whole, named by its head.
//!
//! The driver fills the available ring and reads the used ring while the
//! device does the opposite, so every access to the shared memory is
//! volatile and ordered by fences.

use core::sync::atomic::{fence, Ordering};

const DESC_SIZE: usize = 16;
/// Descriptor flag: the chain goes on at the descriptor in `next`.
const NEXT: u16 = 1;
/// Descriptor flag: the device writes this buffer (receive).
const WRITE: u16 = 2;
/// In `Virtq::next`: the buffer ends its chain.
const END: u16 = u16::MAX;
/// Available ring flag: no interrupt when the device gives buffers back
/// (a hint, which QEMU follows).
const NO_INTERRUPT: u16 = 1;
/// Used ring flag: the device needs no notification of buffers offered
/// (QEMU's virtio-net sets it on its receive queue while it holds
/// buffers, and on its transmit queue while it is sending).
const NO_NOTIFY: u16 = 1;

/// Bytes the queue of `size` entries needs.
pub const fn bytes(size: u16) -> usize {
    used_offset(size) + 6 + 8 * size as usize
}

const fn avail_offset(size: u16) -> usize {
    DESC_SIZE * size as usize
}

const fn used_offset(size: u16) -> usize {
    (avail_offset(size) + 6 + 2 * size as usize).next_multiple_of(4096)
}

pub struct Virtq {
    base: *mut u8,
    size: u16,
    /// Buffers are `0..buffers`.
    buffers: u16,
    /// Buffers the device does not hold.
    free: alloc::vec::Vec<u16>,
    /// Per buffer the device holds: whether it heads a chain (only a
    /// head may come back in the used ring), and the buffer after it.
    head: alloc::vec::Vec<bool>,
    next: alloc::vec::Vec<u16>,
    avail_idx: u16,
    last_used: u16,
    /// Whether the device is to interrupt when it gives buffers back.
    interrupts: bool,
}

impl Virtq {
    /// A queue of `size` entries in the zeroed memory at `base`, for
    /// buffers `0..buffers` (at most `size`).
    ///
    /// # Safety
    /// `base` must point to [`bytes`]`(size)` bytes that only this queue
    /// (and the device) uses, for as long as it lives.
    pub unsafe fn new(base: *mut u8, size: u16, buffers: u16) -> Virtq {
        let buffers = buffers.min(size);
        Virtq {
            base,
            size,
            buffers,
            free: (0..buffers).rev().collect(),
            head: alloc::vec![false; buffers as usize],
            next: alloc::vec![END; buffers as usize],
            avail_idx: 0,
            last_used: 0,
            interrupts: true,
        }
    }

    /// Whether the device is to interrupt when it gives buffers back.
    pub fn set_interrupts(&mut self, on: bool) {
        if on != self.interrupts {
            self.interrupts = on;
            self.write16(avail_offset(self.size), if on { 0 } else { NO_INTERRUPT });
            fence(Ordering::SeqCst);
        }
    }

    /// Whether the device asks to be told of the buffers offered since it
    /// last was: read after they are in the ring, so that a device that
    /// asked meanwhile (it ran out) is told. Each notification is an I/O
    /// exit and a wake-up of QEMU's main loop, and the receive queue was
    /// told of every buffer given back: 63 a second at the coordinator
    /// of 64, for nothing.
    pub fn wants_notify(&self) -> bool {
        fence(Ordering::SeqCst);
        self.read16(used_offset(self.size)) & NO_NOTIFY == 0
    }

    fn write16(&mut self, offset: usize, v: u16) {
        // SAFETY: `offset` is inside the queue's memory (callers compute it
        // from the layout); alignment is 2 by the layout.
        unsafe { core::ptr::write_volatile(self.base.add(offset) as *mut u16, v.to_le()) }
    }

    fn read16(&self, offset: usize) -> u16 {
        // SAFETY: as in `write16`.
        u16::from_le(unsafe { core::ptr::read_volatile(self.base.add(offset) as *const u16) })
    }

    fn read32(&self, offset: usize) -> u32 {
        // SAFETY: as in `write16`, alignment 4.
        u32::from_le(unsafe { core::ptr::read_volatile(self.base.add(offset) as *const u32) })
    }

    fn write_desc(&mut self, id: u16, addr: u64, len: u32, flags: u16, next: u16) {
        let at = DESC_SIZE * id as usize;
        // SAFETY: descriptor `id` < size lies in the table, 8-aligned.
        unsafe {
            core::ptr::write_volatile(self.base.add(at) as *mut u64, addr.to_le());
            core::ptr::write_volatile(self.base.add(at + 8) as *mut u32, len.to_le());
        }
        self.write16(at + 12, flags);
        self.write16(at + 14, next);
    }

    /// Offers buffer `id` (at device address `addr`, `len` bytes) to the
    /// device: to fill (`device_writes`) or to read. False if the device
    /// holds it already or `id` is out of range.
    pub fn offer(&mut self, id: u16, addr: u64, len: u32, device_writes: bool) -> bool {
        self.offer_chain(&[(id, addr, len, device_writes)])
    }

    /// Offers buffers as one chain, in order, each `(id, addr, len,
    /// device_writes)` as in [`Virtq::offer`]; the device gives it back as
    /// its first buffer's id. False, and nothing offered, if a buffer is
    /// held already, out of range or named twice, if the chain is empty,
    /// or if a buffer the device reads follows one it writes (virtio puts
    /// all the readable ones first).
    pub fn offer_chain(&mut self, chain: &[(u16, u64, u32, bool)]) -> bool {
        let usable = !chain.is_empty()
            && chain.iter().enumerate().all(|(k, &(id, ..))| {
                self.free.contains(&id) && !chain[..k].iter().any(|&(earlier, ..)| earlier == id)
            })
            && chain.windows(2).all(|w| !w[0].3 || w[1].3);
        if !usable {
            return false;
        }
        for (k, &(id, addr, len, device_writes)) in chain.iter().enumerate() {
            if let Some(i) = self.free.iter().position(|&f| f == id) {
                self.free.swap_remove(i);
            }
            let next = chain.get(k + 1).map_or(END, |&(n, ..)| n);
            let mut flags = if device_writes { WRITE } else { 0 };
            if next != END {
                flags |= NEXT;
            }
            // The device follows `next` only with NEXT set; 0 otherwise,
            // as a lone descriptor always had.
            self.write_desc(id, addr, len, flags, if next == END { 0 } else { next });
            self.next[id as usize] = next;
            self.head[id as usize] = k == 0;
        }
        let id = chain[0].0;
        let slot = avail_offset(self.size) + 4 + 2 * (self.avail_idx % self.size) as usize;
        self.write16(slot, id);
        // The descriptors and ring entry before the index that publishes them.
        fence(Ordering::SeqCst);
        self.avail_idx = self.avail_idx.wrapping_add(1);
        let idx = self.avail_idx;
        self.write16(avail_offset(self.size) + 2, idx);
        fence(Ordering::SeqCst);
        true
    }

    /// Buffers the device has finished with that `take_used` has not
    /// taken yet.
    pub fn used_waiting(&self) -> u16 {
        fence(Ordering::SeqCst);
        self.read16(used_offset(self.size) + 2).wrapping_sub(self.last_used)
    }

    /// A free buffer's id, if any (for sending).
    pub fn free_buffer(&self) -> Option<u16> {
        self.free.last().copied()
    }

    /// The next buffer (or chain, named by its head) the device has
    /// finished with, and the bytes it wrote (receive) or read; a chain's
    /// buffers are all free again.
    pub fn take_used(&mut self) -> Option<(u16, u32)> {
        let used = used_offset(self.size);
        loop {
            fence(Ordering::SeqCst);
            if self.read16(used + 2) == self.last_used {
                return None;
            }
            let entry = used + 4 + 8 * (self.last_used % self.size) as usize;
            let (id, len) = (self.read32(entry), self.read32(entry + 4));
            self.last_used = self.last_used.wrapping_add(1);
            // An entry naming a buffer the device was not given, or one
            // inside a chain, is skipped.
            if let Some(id) = u16::try_from(id).ok().filter(|&i| i < self.buffers && self.head[i as usize]) {
                self.head[id as usize] = false;
                let mut b = id;
                while b != END {
                    self.free.push(b);
                    b = core::mem::replace(&mut self.next[b as usize], END);
                }
                return Some((id, len));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// The device's side, on the same memory.
    struct Device<'a> {
        mem: &'a mut [u8],
        size: u16,
        seen: u16,
        used: u16,
    }

    /// A descriptor as the device reads it: its index, address, length,
    /// flags and `next`.
    type Desc = (u16, u64, u32, u16, u16);

    impl Device<'_> {
        fn desc(&self, id: u16) -> Desc {
            let d = DESC_SIZE * id as usize;
            let addr = u64::from_le_bytes(self.mem[d..d + 8].try_into().unwrap());
            let len = u32::from_le_bytes(self.mem[d + 8..d + 12].try_into().unwrap());
            let flags = u16::from_le_bytes([self.mem[d + 12], self.mem[d + 13]]);
            let next = u16::from_le_bytes([self.mem[d + 14], self.mem[d + 15]]);
            (id, addr, len, flags, next)
        }

        /// The next chain offered, its head first, following `next` while
        /// NEXT is set (at most `size` descriptors, as a device checks).
        fn next_chain(&mut self) -> Option<alloc::vec::Vec<Desc>> {
            let a = avail_offset(self.size);
            let idx = u16::from_le_bytes([self.mem[a + 2], self.mem[a + 3]]);
            if idx == self.seen {
                return None;
            }
            let s = a + 4 + 2 * (self.seen % self.size) as usize;
            let mut id = u16::from_le_bytes([self.mem[s], self.mem[s + 1]]);
            self.seen = self.seen.wrapping_add(1);
            let mut chain = vec![];
            loop {
                assert!(id < self.size && chain.len() < self.size as usize, "a broken chain");
                let d = self.desc(id);
                chain.push(d);
                if d.3 & NEXT == 0 {
                    return Some(chain);
                }
                id = d.4;
            }
        }

        /// The next buffer offered alone.
        fn next_avail(&mut self) -> Option<(u16, u64, u32, u16)> {
            let chain = self.next_chain()?;
            assert_eq!(chain.len(), 1, "a lone buffer");
            let (id, addr, len, flags, _) = chain[0];
            Some((id, addr, len, flags))
        }

        /// Whether the driver wants an interrupt for buffers given back.
        fn interrupts_wanted(&self) -> bool {
            let a = avail_offset(self.size);
            u16::from_le_bytes([self.mem[a], self.mem[a + 1]]) & NO_INTERRUPT == 0
        }

        fn give_back(&mut self, id: u32, len: u32) {
            let u = used_offset(self.size);
            let e = u + 4 + 8 * (self.used % self.size) as usize;
            self.mem[e..e + 4].copy_from_slice(&id.to_le_bytes());
            self.mem[e + 4..e + 8].copy_from_slice(&len.to_le_bytes());
            self.used = self.used.wrapping_add(1);
            self.mem[u + 2..u + 4].copy_from_slice(&self.used.to_le_bytes());
        }
    }

    #[test]
    fn interrupts_are_asked_for_or_not_in_the_available_ring() {
        let mut mem = vec![0u8; bytes(16)];
        // SAFETY: `mem` outlives the queue; the fake device reads it
        // between the queue's calls.
        let mut q = unsafe { Virtq::new(mem.as_mut_ptr(), 16, 16) };
        let wanted = |mem: &mut [u8]| Device { mem, size: 16, seen: 0, used: 0 }.interrupts_wanted();
        assert!(wanted(&mut mem), "wanted from the start, as the device begins");
        for on in [false, false, true, true, false] {
            q.set_interrupts(on);
            assert_eq!(wanted(&mut mem), on);
        }
    }

    #[test]
    fn the_device_is_told_of_buffers_only_while_it_asks() {
        let mut mem = vec![0u8; bytes(8)];
        // SAFETY: as above.
        let q = unsafe { Virtq::new(mem.as_mut_ptr(), 8, 8) };
        assert!(q.wants_notify(), "told from the start, as the device begins");
        let flags = used_offset(8);
        mem[flags..flags + 2].copy_from_slice(&NO_NOTIFY.to_le_bytes());
        assert!(!q.wants_notify());
        mem[flags..flags + 2].copy_from_slice(&0u16.to_le_bytes());
        assert!(q.wants_notify());
    }

    #[test]
    fn the_legacy_layout_for_256_entries_is_three_pages() {
        assert_eq!(avail_offset(256), 4096);
        assert_eq!(used_offset(256), 8192);
        assert_eq!(bytes(256), 8192 + 6 + 2048);
        assert_eq!(used_offset(8), 4096);
    }

    #[test]
    fn buffers_go_round_and_wrap() {
        let size = 4;
        let mut mem = vec![0u8; bytes(size)];
        let base = mem.as_mut_ptr();
        // SAFETY: `mem` outlives the queue and nothing else writes it
        // while the queue runs (the fake device writes between calls).
        let mut q = unsafe { Virtq::new(base, size, size) };
        for round in 0..10u32 {
            for id in 0..size {
                assert!(q.offer(id, 0x1000 * id as u64, 2048, true));
            }
            assert!(!q.offer(0, 0, 1, true), "a buffer the device holds");
            assert_eq!(q.free_buffer(), None);
            let mut dev = Device { mem: &mut mem, size, seen: (round * 4) as u16, used: (round * 4) as u16 };
            for id in 0..size {
                let (got, addr, len, flags) = dev.next_avail().unwrap();
                assert_eq!((got, addr, len, flags), (id, 0x1000 * id as u64, 2048, WRITE));
            }
            assert!(dev.next_avail().is_none());
            for id in (0..size).rev() {
                dev.give_back(id as u32, 60 + id as u32);
            }
            for id in (0..size).rev() {
                assert_eq!(q.take_used(), Some((id, 60 + id as u32)));
            }
            assert_eq!(q.take_used(), None);
        }
    }

    #[test]
    fn only_the_buffers_given_are_handed_out() {
        let size = 8;
        let mut mem = vec![0u8; bytes(size)];
        // SAFETY: as above.
        let mut q = unsafe { Virtq::new(mem.as_mut_ptr(), size, 3) };
        let mut handed = vec![];
        while let Some(id) = q.free_buffer() {
            assert!(q.offer(id, 0, 1, false));
            handed.push(id);
        }
        handed.sort();
        assert_eq!(handed, [0, 1, 2]);
        assert!(!q.offer(5, 0, 1, false), "buffer 5 is not the queue's");
        // A device naming a descriptor past the buffers is not believed.
        let mut dev = Device { mem: &mut mem, size, seen: 0, used: 0 };
        dev.give_back(5, 10);
        dev.give_back(1, 20);
        assert_eq!(q.take_used(), Some((1, 20)));
        assert_eq!(q.take_used(), None);
    }

    #[test]
    fn a_device_naming_a_buffer_it_does_not_hold_is_ignored() {
        let size = 4;
        let mut mem = vec![0u8; bytes(size)];
        // SAFETY: as above.
        let mut q = unsafe { Virtq::new(mem.as_mut_ptr(), size, size) };
        assert!(q.offer(1, 0, 10, false));
        let mut dev = Device { mem: &mut mem, size, seen: 0, used: 0 };
        dev.give_back(3, 5);
        dev.give_back(999, 5);
        dev.give_back(1, 10);
        assert_eq!(q.take_used(), Some((1, 10)));
        assert_eq!(q.take_used(), None);
    }
    #[test]
    fn a_request_and_its_answer_go_as_one_chain() {
        let size = 4;
        let mut mem = vec![0u8; bytes(size)];
        // SAFETY: as above.
        let mut q = unsafe { Virtq::new(mem.as_mut_ptr(), size, 2) };
        let mut dev = Device { mem: &mut mem, size, seen: 0, used: 0 };
        // Past the rings' wrap, heading the chain with each buffer in turn.
        for round in 0..6 {
            let (head, answer) = if round % 2 == 0 { (0, 1) } else { (1, 0) };
            assert!(q.offer_chain(&[(head, 0x5000, 3, false), (answer, 0x5008, 1, true)]));
            assert_eq!(q.free_buffer(), None);
            let chain = dev.next_chain().unwrap();
            assert_eq!(chain, [(head, 0x5000, 3, NEXT, answer), (answer, 0x5008, 1, WRITE, 0)]);
            assert!(dev.next_chain().is_none());
            // The used entry names the head, with the bytes written.
            dev.give_back(head as u32, 1);
            assert_eq!(q.take_used(), Some((head, 1)));
            assert_eq!(q.take_used(), None);
            // Both buffers are free again, and go alone as before.
            let mut freed = vec![];
            while let Some(id) = q.free_buffer() {
                assert!(q.offer(id, 0x1000, 60, true));
                freed.push(id);
            }
            freed.sort();
            assert_eq!(freed, [0, 1]);
            for _ in 0..2 {
                let (id, addr, len, flags) = dev.next_avail().unwrap();
                assert_eq!((addr, len, flags), (0x1000, 60, WRITE), "buffer {id}");
                dev.give_back(id as u32, 60);
            }
            assert!(q.take_used().is_some() && q.take_used().is_some());
            assert_eq!(q.take_used(), None);
        }
    }

    #[test]
    fn a_chain_that_cannot_go_offers_nothing() {
        let size = 4;
        let mut mem = vec![0u8; bytes(size)];
        // SAFETY: as above.
        let mut q = unsafe { Virtq::new(mem.as_mut_ptr(), size, 3) };
        assert!(!q.offer_chain(&[]));
        assert!(!q.offer_chain(&[(0, 0, 1, false), (0, 0, 1, true)]), "named twice");
        assert!(!q.offer_chain(&[(0, 0, 1, false), (3, 0, 1, true)]), "not the queue's");
        assert!(!q.offer_chain(&[(0, 0, 1, true), (1, 0, 1, false)]), "read after write");
        assert!(q.offer(2, 0, 1, false));
        assert!(!q.offer_chain(&[(0, 0, 1, false), (2, 0, 1, true)]), "held already");
        let dev = Device { mem: &mut mem, size, seen: 0, used: 0 };
        // Only buffer 2 went out; 0 and 1 are still free.
        assert_eq!(dev.mem[avail_offset(size) + 2], 1);
        assert!(q.offer_chain(&[(0, 0, 1, false), (1, 0, 1, false)]), "two to read");
        assert_eq!(q.free_buffer(), None);
    }

    #[test]
    fn a_device_naming_a_buffer_inside_a_chain_is_ignored() {
        let size = 4;
        let mut mem = vec![0u8; bytes(size)];
        // SAFETY: as above.
        let mut q = unsafe { Virtq::new(mem.as_mut_ptr(), size, size) };
        assert!(q.offer_chain(&[(2, 0, 3, false), (3, 0, 1, true)]));
        let mut dev = Device { mem: &mut mem, size, seen: 0, used: 0 };
        dev.give_back(3, 1);
        assert_eq!(q.take_used(), None);
        dev.give_back(2, 1);
        assert_eq!(q.take_used(), Some((2, 1)));
        // Once given back, the head is not believed again.
        dev.give_back(2, 1);
        assert_eq!(q.take_used(), None);
    }
}

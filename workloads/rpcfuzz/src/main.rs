//! `rpcfuzz [N]`: sends the process server N malformed messages (random
//! bytes, lying lengths, unknown labels and variants, truncated requests,
//! garbage in the shared buffer) and checks that each gets an error
//! reply, then that a well-formed call still works.
#![no_std]
#![no_main]

use libux::layout::{slot, SHARED_BUFFER};
use libux::println;
use libux::rpc::frame::{self, Place};
use libux::rpc::{Reply, Request, BUFFER_MAX, INLINE_MAX, MSG_CALL, MSG_REPLY};
use libux::sel4::consts::msg::MAX_LENGTH;
use libux::sel4::syscall::{self, ipc_buffer, Msg};
use libux::sel4::MessageInfo;

libux::entry!(main);

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Sends the message in the IPC buffer; returns the decoded reply.
fn send(label: u64, words: usize) -> Option<Reply> {
    let m = &mut ipc_buffer().msg;
    let out = Msg { info: MessageInfo::new(label, 0, 0, words as u64), mr: [m[0], m[1], m[2], m[3]] };
    let reply = syscall::call(slot::PROC_CONN, out);
    m[..4].copy_from_slice(&reply.mr);
    if reply.info.label() != MSG_REPLY {
        return None;
    }
    let h = frame::header(m, reply.info.length() as usize).ok()?;
    (h.place == Place::Inline).then_some(())?;
    libux::rpc::decode_reply(&frame::inline_bytes(m)[..h.len]).ok()
}

/// Request variants whose random arguments cannot hurt anyone: Spawn (of
/// a random path), Wait, UnmapAnon. Random bytes starting with Exit or
/// Kill would be real requests, not malformed ones.
const HARMLESS: [u8; 3] = [2, 4, 9];

fn main() -> i32 {
    let n: u32 = libux::rt::args().get(1).and_then(|s| s.parse().ok()).unwrap_or(2000);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut answered = 0;
    for i in 0..n {
        let m = &mut ipc_buffer().msg;
        let (label, words) = match i % 6 {
            // Random bytes with an honest inline header.
            0 => {
                let len = 1 + (rng.next() % 200) as usize;
                for w in m.iter_mut().take(2 + len.div_ceil(8)).skip(2) {
                    *w = rng.next();
                }
                frame::inline_bytes_mut(m)[0] = HARMLESS[(rng.next() % 3) as usize];
                (MSG_CALL, frame::set_header(m, len, Place::Inline, 0))
            }
            // A length that claims more than was sent.
            1 => {
                m[0] = 64 + rng.next() % INLINE_MAX as u64;
                m[1] = 0;
                (MSG_CALL, 3)
            }
            // An unknown label.
            2 => (4 + rng.next() % 1000, 2),
            // An unknown request variant.
            3 => {
                frame::inline_bytes_mut(m)[0] = 200;
                (MSG_CALL, frame::set_header(m, 1, Place::Inline, 0))
            }
            // A valid request cut short.
            4 => {
                let words = frame::encode(&Request::Kill { pid: 77 }, m, None, 0).unwrap();
                let h = frame::header(m, words).unwrap();
                (MSG_CALL, frame::set_header(m, h.len.saturating_sub(1), Place::Inline, 0))
            }
            // Garbage in the shared buffer.
            _ => {
                // SAFETY: our shared buffer page.
                let page = unsafe { &mut *(SHARED_BUFFER as *mut [u8; BUFFER_MAX]) };
                for b in page.iter_mut().take(512) {
                    *b = rng.next() as u8;
                }
                page[0] = HARMLESS[(rng.next() % 3) as usize];
                let len = 1 + (rng.next() % (BUFFER_MAX as u64 - 1)) as usize;
                (MSG_CALL, frame::set_header(m, len, Place::Buffer, 0))
            }
        };
        let words = words.min(MAX_LENGTH);
        // Random bytes (kinds 0 and 5) may happen to decode; the others
        // must be refused.
        match (send(label, words), i % 6) {
            (Some(Err(_)), _) | (Some(Ok(_)), 0 | 5) => answered += 1,
            (reply, kind) => {
                println!("rpcfuzz: malformed message {i} (kind {kind}) got {reply:?}, not an error");
                return 1;
            }
        }
    }
    match libux::process::getpid() {
        Ok(pid) => {
            let alive = libux::process::stats().map(|s| s.resources.processes).unwrap_or(0);
            println!(
                "rpcfuzz: {answered} of {n} malformed messages answered; pid {pid} still served ({alive} processes)"
            );
            0
        }
        Err(e) => {
            println!("rpcfuzz: the process server stopped answering: {e}");
            1
        }
    }
}

//! The calling side of the protocol, and the raw interface intermediaries
//! use to relay calls without decoding them.
//!
//! All messages are assembled in and read from this thread's IPC buffer;
//! message registers 0-3 travel in CPU registers and are copied between
//! the two here, so the rest of the code sees one array.

use super::frame::{self, Place};
use super::{Errno, Reply, Request, BUFFER_MAX, INLINE_ONLY, MSG_CALL, MSG_FORWARD, MSG_RELAY, MSG_REPLY};
use crate::layout;
use crate::sel4::syscall::{self, ipc_buffer, Msg};
use crate::sel4::{CPtr, MessageInfo};
use crate::sync::Mutex;

/// The message currently in the IPC buffer, `words` long, as a syscall
/// argument.
fn outgoing(label: u64, words: usize) -> Msg {
    let m = &ipc_buffer().msg;
    Msg { info: MessageInfo::new(label, 0, 0, words as u64), mr: [m[0], m[1], m[2], m[3]] }
}

/// Stores a received message's register words into the IPC buffer.
fn incoming(msg: &Msg) {
    ipc_buffer().msg[..4].copy_from_slice(&msg.mr);
}

/// The thread using the process's shared buffer page holds this.
static SHARED_BUFFER: Mutex<()> = Mutex::new(());

/// The caller's shared buffer page; only while holding [`SHARED_BUFFER`].
fn shared_buffer() -> &'static mut [u8; BUFFER_MAX] {
    // SAFETY: the process server maps this page read-write in every
    // process; the lock makes one thread its user.
    unsafe { &mut *(layout::SHARED_BUFFER as *mut [u8; BUFFER_MAX]) }
}

/// Calls the process server (or whoever `conn` leads to) with `req`.
///
/// A call takes the shared buffer if it is free (for a large reply), and
/// waits for it only when the request itself needs it; a call that may be
/// answered much later never holds it. Without it, a reply too large for
/// the message registers is `TooLarge`.
pub fn call(conn: CPtr, req: &Request) -> Reply {
    let msg = &mut ipc_buffer().msg;
    let mut held = if req.may_wait() { None } else { SHARED_BUFFER.try_lock() };
    let words = match frame::encode(req, msg, None, 0) {
        Err(Errno::TooLarge) => {
            held.get_or_insert_with(|| SHARED_BUFFER.lock());
            frame::encode(req, msg, Some(shared_buffer()), 0)?
        }
        other => other?,
    };
    if held.is_none() {
        msg[0] |= INLINE_ONLY;
    }
    let reply = syscall::call(conn, outgoing(MSG_CALL, words));
    incoming(&reply);
    decode_reply(reply.info, held.is_some())
}

/// Makes `req` (a call the process server answered `Elsewhere`) to the
/// cluster server on `conn` (`slot::CLUSTER_CONN`), as `MSG_FORWARD`:
/// its bytes inline, or in `window` (the caller's I/O window onto that
/// server, held by this thread) if given, when they do not fit. The
/// reply always comes inline.
pub fn call_forwarded(conn: CPtr, req: &Request, window: Option<&mut [u8; BUFFER_MAX]>) -> Reply {
    let msg = &mut ipc_buffer().msg;
    let words = frame::encode(req, msg, window, 0)?;
    msg[0] |= INLINE_ONLY;
    let reply = syscall::call(conn, outgoing(MSG_FORWARD, words));
    incoming(&reply);
    decode_reply(reply.info, false)
}

/// Whether `req` travels in the message registers alone.
pub fn fits_inline(req: &Request) -> bool {
    postcard::to_slice(req, &mut [0; super::INLINE_MAX]).is_ok()
}

/// Puts `reply` in the IPC buffer, inline (too large: `TooLarge`
/// instead); returns its length in words. For a server answering a call
/// made with [`call_forwarded`].
pub fn reply_words(reply: &Reply) -> usize {
    frame::encode(reply, &mut ipc_buffer().msg, None, 0).unwrap_or_else(error_reply_words)
}

fn decode_reply(info: MessageInfo, buffer_held: bool) -> Reply {
    if info.label() != MSG_REPLY {
        return Err(Errno::BadRequest);
    }
    let msg = &ipc_buffer().msg;
    let h = frame::header(msg, info.length() as usize)?;
    // Decoding may allocate; growing the heap keeps the message intact.
    let bytes = match h.place {
        Place::Inline => &frame::inline_bytes(msg)[..h.len],
        Place::Buffer if buffer_held => &shared_buffer()[..h.len],
        Place::Buffer => return Err(Errno::BadRequest),
    };
    super::decode_reply(bytes)?
}

/// A message received by an intermediary, left in the IPC buffer.
#[derive(Clone, Copy, Debug)]
pub struct Received {
    pub badge: u64,
    pub label: u64,
    pub words: usize,
}

/// Waits for a call on `ep`.
pub fn recv_raw(ep: CPtr) -> Received {
    let (badge, msg) = syscall::recv(ep);
    incoming(&msg);
    Received { badge, label: msg.info.label(), words: msg.info.length() as usize }
}

/// Relays the call in the IPC buffer to `conn` on behalf of process
/// `pid`, without decoding it. The reply replaces it in the IPC buffer;
/// returns the reply's length in words.
pub fn relay(conn: CPtr, pid: u64, words: usize) -> Result<usize, Errno> {
    if words < super::HEADER_WORDS {
        return Err(Errno::BadRequest);
    }
    ipc_buffer().msg[1] = pid;
    let reply = syscall::call(conn, outgoing(MSG_RELAY, words));
    incoming(&reply);
    Ok(reply.info.length() as usize)
}

/// Replies to the last caller with the `words`-word reply in the IPC
/// buffer, then waits for the next call on `ep`.
pub fn reply_recv_raw(ep: CPtr, words: usize) -> Received {
    let (badge, msg) = syscall::reply_recv(ep, outgoing(MSG_REPLY, words));
    incoming(&msg);
    Received { badge, label: msg.info.label(), words: msg.info.length() as usize }
}

/// Puts an error reply in the IPC buffer; returns its length in words.
pub fn error_reply_words(e: Errno) -> usize {
    frame::encode(&Reply::Err(e), &mut ipc_buffer().msg, None, 0).expect("an error fits inline")
}

/// The request in the IPC buffer, if it is inline and decodes: for
/// logging by intermediaries (a request in a shared buffer is relayed
/// without being seen).
pub fn peek_request<'a>(words: usize) -> Option<Request<'a>> {
    let msg = &ipc_buffer().msg;
    let h = frame::header(msg, words).ok()?;
    (h.place == Place::Inline).then_some(())?;
    super::decode_request(&frame::inline_bytes(msg)[..h.len]).ok()
}

/// The reply in the IPC buffer, if inline and decodable (for logging).
pub fn peek_reply(words: usize) -> Option<Reply> {
    let msg = &ipc_buffer().msg;
    let h = frame::header(msg, words).ok()?;
    (h.place == Place::Inline).then_some(())?;
    super::decode_reply(&frame::inline_bytes(msg)[..h.len]).ok()
}

/// A copy of the message in the IPC buffer, to keep it across calls of
/// our own (an intermediary that logs makes calls before it replies).
pub struct Saved {
    words: [u64; crate::sel4::consts::msg::MAX_LENGTH],
    len: usize,
}

/// Saves the first `len` words of the IPC buffer's message.
pub fn save(len: usize) -> Saved {
    let mut words = [0; crate::sel4::consts::msg::MAX_LENGTH];
    let len = len.min(words.len());
    words[..len].copy_from_slice(&ipc_buffer().msg[..len]);
    Saved { words, len }
}

/// Puts a saved message back; returns its length in words.
pub fn restore(saved: &Saved) -> usize {
    ipc_buffer().msg[..saved.len].copy_from_slice(&saved.words[..saved.len]);
    saved.len
}

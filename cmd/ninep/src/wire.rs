//! One TCP connection to a 9P server, shared by the threads of a process:
//! each thread is a [`Port`] (a `fs9p::client::Transport`) with its own
//! share of tags, sends its requests itself, and waits on its own
//! [`Event`] for its replies, which a reader thread takes off the
//! connection and sorts by tag ([`crate::mux`]). A thread whose call waits
//! long (a remote `wait`) holds up nobody else's.
//!
//! When the connection ends or carries what is not 9P, every port's
//! receive answers 0 (the client then says the connection is lost), now
//! and later.

use crate::mux::{Broken, Framer, Mux, Share};
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use fs9p::client::Transport;
use fs9p::Dialect;
use libux::fs::client::File;
use libux::net::client::dial;
use libux::rpc::Errno;
use libux::sync::{Event, Mutex};

pub struct Wire {
    data: File,
    /// The connection lasts while its `ctl` is open, or until `hangup`
    /// is written there.
    ctl: File,
    /// Held while a whole request is written.
    sending: Mutex<()>,
    state: Mutex<State>,
    /// What each share waits on.
    events: Vec<Event>,
}

struct State {
    mux: Mux,
    /// Shares waiting on their event for a reply.
    waiting: Vec<bool>,
}

/// Bytes the reader asks for at once: what one call to netstack carries
/// at most (through the I/O window).
const READ_CHUNK: usize = libux::layout::IO_WINDOW as usize;

impl Wire {
    /// Dials `addr` for clients waiting on `events` (one per share), and
    /// starts the thread that reads the replies.
    pub fn dial(addr: &str, dialect: Dialect, msize: u32, events: &[Event]) -> Result<Arc<Wire>, String> {
        let conn = dial(addr).map_err(|e| alloc::format!("{addr}: {e}"))?;
        let wire = Arc::new(Wire {
            data: conn.data,
            ctl: conn.ctl,
            sending: Mutex::new(()),
            state: Mutex::new(State { mux: Mux::new(dialect, events.len()), waiting: vec![false; events.len()] }),
            events: events.to_vec(),
        });
        let reader = wire.clone();
        libux::thread::spawn(move || reader.read_replies(Framer::new(msize)))
            .map_err(|e| alloc::format!("a reader thread: {e}"))?;
        Ok(wire)
    }

    /// The transport of `share`'s client.
    pub fn port(self: &Arc<Self>, share: Share) -> Port {
        Port { wire: self.clone(), share }
    }

    /// Gives the connection up (its peer is gone, or it is not needed):
    /// every call waiting on it, and every later one, fails at once; the
    /// reader's read is cancelled, and netstack ends the connection now,
    /// not when the last of our clients on it lets go of the files.
    pub fn hang_up(&self) {
        {
            let mut st = self.state.lock();
            st.mux.close();
            let all: Vec<Share> = (0..self.events.len() as Share).collect();
            wake(&mut st, &self.events, &all);
        }
        let _ = self.data.cancel();
        let _ = self.ctl.write_message(b"hangup");
    }

    /// Whether the connection is gone.
    pub fn is_broken(&self) -> bool {
        self.state.lock().mux.is_broken()
    }

    /// Tags `share` waits for replies to.
    pub fn outstanding_of(&self, share: Share) -> Vec<u16> {
        self.state.lock().mux.outstanding_of(share)
    }

    /// After the Rflush of `tag`: its client, if still waiting, is
    /// answered "interrupted".
    pub fn interrupt(&self, tag: u16) {
        let mut st = self.state.lock();
        if let Some(share) = st.mux.interrupt(tag) {
            wake(&mut st, &self.events, &[share]);
        }
    }

    /// Sends the request `frame` (a read ahead) whose reply is kept for
    /// [`Wire::wait_kept`].
    pub fn send_kept(&self, frame: &[u8]) -> Result<(), Errno> {
        let _s = self.sending.lock();
        {
            let mut st = self.state.lock();
            if st.mux.is_broken() {
                return Err(Errno::Io);
            }
            st.mux.sent_kept(frame);
        }
        self.write(frame)
    }

    /// Writes a whole request; a connection that fails to take it is
    /// gone, for every client.
    fn write(&self, frame: &[u8]) -> Result<(), Errno> {
        let e = match self.data.pwrite(0, frame) {
            Ok(n) if n == frame.len() => return Ok(()),
            Ok(_) => Errno::Io,
            Err(e) => e,
        };
        let mut st = self.state.lock();
        st.mux.close();
        let all: Vec<Share> = (0..self.events.len() as Share).collect();
        wake(&mut st, &self.events, &all);
        Err(e)
    }

    /// The kept reply `tag`, waiting for it on `share`'s event.
    pub fn wait_kept(&self, tag: u16, share: Share) -> Result<Vec<u8>, Errno> {
        loop {
            {
                let mut st = self.state.lock();
                if let Some(frame) = st.mux.take_kept(tag, share) {
                    return Ok(frame);
                }
                if st.mux.is_broken() {
                    st.mux.abandon(tag);
                    return Err(Errno::Io);
                }
                st.waiting[share as usize] = true;
            }
            self.events[share as usize].wait();
        }
    }

    /// Nobody will take the kept reply `tag`.
    pub fn abandon(&self, tag: u16) {
        self.state.lock().mux.abandon(tag);
    }

    /// The reader thread: takes replies off the connection and hands them
    /// to their clients until it ends.
    fn read_replies(self: Arc<Self>, mut framer: Framer) {
        loop {
            let got = self.data.pread_once(0, framer.room(READ_CHUNK));
            let frames = match got {
                Ok(n) if n > 0 => framer.filled(READ_CHUNK, n),
                Ok(_) | Err(_) => Err(Broken),
            };
            let mut st = self.state.lock();
            let delivered: Result<Vec<Option<Share>>, Broken> =
                frames.and_then(|f| f.into_iter().map(|frame| st.mux.deliver(frame)).collect());
            match delivered {
                Ok(shares) => wake(&mut st, &self.events, &shares.into_iter().flatten().collect::<Vec<_>>()),
                Err(Broken) => {
                    st.mux.close();
                    let all: Vec<Share> = (0..self.events.len() as Share).collect();
                    wake(&mut st, &self.events, &all);
                    return;
                }
            }
        }
    }
}

/// Signals those of `shares` that wait.
fn wake(st: &mut State, events: &[Event], shares: &[Share]) {
    for &s in shares {
        if core::mem::take(&mut st.waiting[s as usize]) {
            events[s as usize].signal();
        }
    }
}

/// A thread's way onto the shared connection.
pub struct Port {
    wire: Arc<Wire>,
    share: Share,
}

impl Port {
    pub fn wire(&self) -> &Arc<Wire> {
        &self.wire
    }
}

impl Transport for Port {
    type Error = Errno;

    fn send(&mut self, bytes: &[u8]) -> Result<(), Errno> {
        let _s = self.wire.sending.lock();
        {
            let mut st = self.wire.state.lock();
            if st.mux.is_broken() {
                return Err(Errno::Io);
            }
            // Before it goes: the reply may be read before `pwrite` returns.
            st.mux.sent(self.share, bytes);
        }
        self.wire.write(bytes)
    }

    fn recv(&mut self, buf: &mut [u8]) -> Result<usize, Errno> {
        let share = self.share as usize;
        loop {
            {
                let mut st = self.wire.state.lock();
                if st.mux.has(self.share) {
                    return Ok(st.mux.take(self.share, buf));
                }
                if st.mux.is_broken() {
                    return Ok(0);
                }
                st.waiting[share] = true;
            }
            // A signal given meanwhile is kept: no wake-up is lost.
            self.wire.events[share].wait();
        }
    }
}

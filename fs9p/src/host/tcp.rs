//! 9P over TCP: whole messages read with their size prefix, one thread
//! per connection, each with its own clone of the file system (so no
//! connection waits for another's operation). A connection that sends
//! something unreadable (a size out of bounds, a closed socket) is
//! dropped; the others go on. At most [`MAX_CONNECTIONS`] are served at
//! once: more are closed as they come, and a failed accept (out of file
//! descriptors, say) is waited out, never the end of the server.

use crate::codec::frame_len;
use crate::server::{Filesystem, Session, MAX_MSIZE};
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use std::vec::Vec;

/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 256;

/// Reads one whole message of at most `max` bytes into `buf`.
pub fn read_frame(stream: &mut impl Read, buf: &mut Vec<u8>, max: u32) -> io::Result<()> {
    buf.resize(4, 0);
    stream.read_exact(&mut buf[..4])?;
    let len = frame_len(buf, max)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, std::format!("{e:?}")))?
        .expect("four bytes are there");
    buf.resize(len, 0);
    stream.read_exact(&mut buf[4..])
}

/// Serves one connection until it closes or misbehaves.
pub fn serve_connection<F: Filesystem>(mut stream: TcpStream, fs: &mut F, max_fids: usize) -> io::Result<()> {
    let mut session: Session<F::Node, F::File, F::Io> = Session::new(max_fids);
    let mut request = Vec::new();
    let mut reply = std::vec![0u8; MAX_MSIZE as usize];
    loop {
        // Before Tversion the msize is ours to choose: the largest we allow.
        read_frame(&mut stream, &mut request, MAX_MSIZE.max(session.msize()))?;
        let n = session.handle(fs, &request, &mut reply[..session.msize() as usize]);
        stream.write_all(&reply[..n])?;
    }
}

/// Accepts connections forever, each served on its own thread with its
/// own clone of `fs`.
pub fn serve<F: Filesystem + Clone + Send + 'static>(listener: TcpListener, fs: F, max_fids: usize) -> io::Result<()> {
    let open = Arc::new(AtomicUsize::new(0));
    loop {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) => {
                std::eprintln!("9p: accept: {e}");
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        if open.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
            open.fetch_sub(1, Ordering::AcqRel);
            continue; // dropped: closed
        }
        let (mut fs, open) = (fs.clone(), open.clone());
        std::thread::spawn(move || {
            let _ = serve_connection(stream, &mut fs, max_fids);
            open.fetch_sub(1, Ordering::AcqRel);
        });
    }
}

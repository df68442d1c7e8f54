//! 9P over TCP: whole messages read with their size prefix, one thread
//! per connection. A connection that sends something unreadable (a size
//! out of bounds, a closed socket) is dropped; the others go on.

use crate::codec::frame_len;
use crate::server::{Filesystem, Session, MAX_MSIZE};
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::vec::Vec;

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
pub fn serve_connection<F: Filesystem>(mut stream: TcpStream, fs: &Mutex<F>, max_fids: usize) -> io::Result<()> {
    let mut session: Session<F::Node, F::File, F::Io> = Session::new(max_fids);
    let mut request = Vec::new();
    let mut reply = std::vec![0u8; MAX_MSIZE as usize];
    loop {
        // Before Tversion the msize is ours to choose: the largest we allow.
        read_frame(&mut stream, &mut request, MAX_MSIZE.max(session.msize()))?;
        let n = session.handle(&mut *fs.lock().unwrap(), &request, &mut reply[..session.msize() as usize]);
        stream.write_all(&reply[..n])?;
    }
}

/// Accepts connections forever, each served on its own thread against the
/// one shared file system.
pub fn serve<F: Filesystem + Send + 'static>(listener: TcpListener, fs: F, max_fids: usize) -> io::Result<()> {
    let fs = Arc::new(Mutex::new(fs));
    for stream in listener.incoming() {
        let stream = stream?;
        let fs = fs.clone();
        std::thread::spawn(move || {
            let _ = serve_connection(stream, &fs, max_fids);
        });
    }
    Ok(())
}

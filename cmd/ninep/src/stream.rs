//! A TCP connection's `data` file as a 9P transport: whole writes, and
//! reads of what has arrived (one call to `netstack`, through the I/O
//! window when larger than a message), never waiting for more than that.

use fs9p::client::Transport;
use libux::fs::client::File;
use libux::rpc::Errno;

pub struct Stream(pub File);

impl Transport for Stream {
    type Error = Errno;

    fn send(&mut self, bytes: &[u8]) -> Result<(), Errno> {
        self.0.write(bytes).map(drop)
    }

    fn recv(&mut self, buf: &mut [u8]) -> Result<usize, Errno> {
        // One call: `File::read` asks again after a full answer, which on
        // a stream would wait for bytes the peer never sends.
        self.0.read_once(buf)
    }
}

//! The 9P client on a host: [`crate::client::Client`] over a TCP stream,
//! with paths in and owned results out, which is what `u9p`, the tests
//! and the benchmarks need. The protocol is all in [`crate::client`].

use crate::client::{self, Transport};
use crate::msg::Dialect;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::string::{String, ToString};
use std::vec::Vec;

pub type ClientError = client::ClientError<io::Error>;

impl std::error::Error for ClientError {}

/// TCP as a 9P transport.
pub struct Tcp(pub TcpStream);

impl Transport for Tcp {
    type Error = io::Error;

    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.0.write_all(bytes)
    }

    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.0.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return r,
            }
        }
    }
}

pub struct Client(pub client::Client<Tcp>);

impl Client {
    /// Connects, negotiates `dialect` and `msize`, attaches to `aname` as
    /// `uname` (with `n_uname` for 9P2000.L).
    pub fn connect(addr: &str, dialect: Dialect, msize: u32, uname: &str, aname: &str) -> Result<Client, ClientError> {
        let stream = TcpStream::connect(addr).map_err(ClientError::Transport)?;
        let _ = stream.set_nodelay(true);
        client::Client::connect(Tcp(stream), dialect, msize, uname, aname).map(Client)
    }

    /// [`Client::connect`] to an export that asks for proof: answers its
    /// challenge with [`crate::auth::prove`] over `secret`.
    pub fn connect_proving(
        addr: &str,
        dialect: Dialect,
        msize: u32,
        uname: &str,
        aname: &str,
        secret: &[u8],
    ) -> Result<Client, ClientError> {
        let stream = TcpStream::connect(addr).map_err(ClientError::Transport)?;
        let _ = stream.set_nodelay(true);
        let prove = |challenge: &[u8]| crate::auth::prove(secret, challenge).to_vec();
        client::Client::connect_proving(Tcp(stream), dialect, msize, uname, aname, client::Ids::ALL, prove).map(Client)
    }

    /// Gives every read and write of the connection a deadline (`None`:
    /// wait as long as it takes): a server that stops answering is then
    /// an error instead of a hang.
    pub fn set_timeout(&self, limit: Option<std::time::Duration>) -> io::Result<()> {
        let stream = &self.0.transport().0;
        stream.set_read_timeout(limit)?;
        stream.set_write_timeout(limit)
    }

    pub fn msize(&self) -> u32 {
        self.0.msize()
    }

    /// The whole contents of the file at `path`.
    pub fn read_file(&mut self, path: &str) -> Result<Vec<u8>, ClientError> {
        self.0.read_file(path)
    }

    /// Creates (or truncates) the file at `path` and writes `data` to it.
    pub fn write_file(&mut self, path: &str, data: &[u8]) -> Result<(), ClientError> {
        self.0.write_file(path, data)
    }

    /// The names in the directory at `path` (without `.` and `..`).
    pub fn list(&mut self, path: &str) -> Result<Vec<String>, ClientError> {
        Ok(self.0.list(path)?.into_iter().map(|e| e.name.to_string()).collect())
    }

    pub fn mkdir(&mut self, path: &str) -> Result<(), ClientError> {
        self.0.mkdir_path(path)
    }

    pub fn remove(&mut self, path: &str) -> Result<(), ClientError> {
        self.0.remove_path(path)
    }
}

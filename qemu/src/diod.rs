//! Debian's `diod`, the reference 9P2000.L server, exporting a directory
//! on a host port: what the interop tests and the v9fs benchmark measure
//! ours against. Installed when missing (`setup::ensure_apt`); killed when
//! dropped.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Diod(Child);

impl Diod {
    /// Starts diod (no authentication, `-n`) exporting `dir` on `addr`,
    /// and waits until it listens; an error says why it did not.
    pub fn start(dir: &Path, addr: &str) -> Result<Diod, String> {
        let bin = crate::setup::ensure_apt("diod", "diod", "a few seconds")?;
        let child = Command::new(bin)
            .args(["-f", "-n", "-l", addr, "-e"])
            .arg(dir)
            .args(["-L", "/dev/null"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start diod: {e}"))?;
        let mut diod = Diod(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(addr).is_err() {
            if let Ok(Some(status)) = diod.0.try_wait() {
                return Err(format!("diod ended ({status}) before listening on {addr}"));
            }
            if Instant::now() > deadline {
                return Err(format!("diod never listened on {addr}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(diod)
    }
}

impl Drop for Diod {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

//! Files only their owner may read: a cluster's secret, a boot's seed.
//! QEMU takes them as fw_cfg files, not strings, so that no other user
//! of the host sees them in `ps`.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// 32 random bytes from the host, as hex.
pub fn random_hex() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| format!("/dev/urandom: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Writes `text` to `path`, readable by its owner only.
pub fn write(path: &Path, text: &str) -> Result<PathBuf, String> {
    use std::io::Write;
    let _ = std::fs::remove_file(path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(text.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path.to_path_buf())
}

/// A boot's seed (fw_cfg `opt/ux/seed`): fresh random bytes in a private
/// file, removed when the node it was made for is dropped. The process
/// server hands programs seeds of their own made from it (`seed` in the
/// system description): TCP's initial sequence numbers, the membership's
/// nonces.
pub struct Seed(PathBuf);

impl Seed {
    pub fn new() -> Result<Seed, String> {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let k = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = crate::out_dir().join("seeds");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = write(&dir.join(format!("{}-{k}", std::process::id())), &random_hex()?)?;
        Ok(Seed(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Seed {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

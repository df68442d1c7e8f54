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
    Ok(hex::encode(bytes))
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

/// Removes what earlier runs left in `dir` (entries named `PID-K`, files
/// or directories) whose process is gone: a run killed by a signal
/// never drops its secrets and seeds.
pub fn sweep(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some((pid, k)) = name.to_str().and_then(|n| n.split_once('-')) else { continue };
        if pid.parse::<u32>().is_err() || k.parse::<u32>().is_err() || Path::new("/proc").join(pid).exists() {
            continue;
        }
        let path = e.path();
        let _ = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
    }
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
        if k == 0 {
            sweep(&dir);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sweep_takes_what_dead_runs_left_and_nothing_else() {
        let dir = std::env::temp_dir().join(format!("ux-sweep-{}", std::process::id()));
        // Above Linux's largest pid: no process has it.
        std::fs::create_dir_all(dir.join("4194305-0")).unwrap();
        let mine = format!("{}-0", std::process::id());
        for name in ["4194305-1", mine.as_str(), "node3.log", "x-1"] {
            std::fs::write(dir.join(name), "").unwrap();
        }
        sweep(&dir);
        let mut left: Vec<String> =
            std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        left.sort();
        let mut want = vec![mine, String::from("node3.log"), String::from("x-1")];
        want.sort();
        assert_eq!(left, want);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

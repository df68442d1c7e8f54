//! The PyPI 9P clients, each in its own venv (they clash), run against a
//! server: shared by the host tests (`ninep.rs`) and the node tests
//! (`ninep_os.rs`). Each script works in `sub/file.txt` ("peer data") of
//! the tree it attaches and prints one fact per line.

use std::path::Path;
use std::process::Command;

/// A client: venv name, PyPI requirement, script in `tests/peers/`.
pub type Peer = (&'static str, &'static str, &'static str);

pub const PY9P: Peer = ("python-9p", "python-9p==0.1.0", "py9p_client.py");
pub const PY9P_SAYS: [&str; 5] = ["version 9P2000", "read peer data", "wrote 20", "length 20", "names sub/"];
pub const P9FS: Peer = ("p9fs", "p9fs==0.0.4", "p9fs_client.py");
pub const P9FS_SAYS: [&str; 6] =
    ["ls sub/", "cat peer data", "back written by p9fs", "size 15", "isdir True", "after newdir/ sub/"];

/// Runs `peer` against the server at `addr`, attaching `aname`; its output.
pub fn run((venv, package, script): Peer, addr: &str, aname: &str) -> String {
    let python = qemu::setup::python_venv(venv, &[package]).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers").join(script);
    let out = Command::new(python).arg(script).arg(addr).arg(aname).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{venv}: {stdout}{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

//! The `qemu` host tool's library: everything between a fresh checkout and
//! a running node.
//!
//! - [`setup`] checks and installs what the build needs on the host.
//! - [`kernel`] builds seL4 from the `sel4-sys` package's source with a
//!   profile from `kernel-config/`.
//! - [`image`] builds the userland for `x86_64-unknown-none`, packs the
//!   boot file system and links the root task around it.
//! - [`node`] runs one node in QEMU and watches its serial console.
//! - [`tick`] resets a node whose kernel calibrated its tick too fast.
//! - [`cluster`] runs several on one Ethernet segment.
//! - [`diod`] runs Debian's 9P server, to measure ours against.
//! - [`linux`] boots a small Linux guest, to test our 9P servers with
//!   the Linux kernel's own client.
//! - [`template`] makes a crate for a program of one's own (`cargo ux new`).
//!
//! The `ux` binary (`cargo ux`) is a thin command line over these; the
//! integration tests in `tests/` use them directly. Host code only: it may
//! use host builds of `libux`'s formats, never seL4 glue.

pub mod cluster;
pub mod diod;
pub mod image;
pub mod kernel;
pub mod linux;
pub mod node;
pub mod private;
pub mod setup;
pub mod template;
pub mod tick;

use std::path::PathBuf;
use std::time::Instant;

/// The workspace root.
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("qemu/ has a parent").to_path_buf()
}

/// Cargo's target directory.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace().join("target"))
}

/// Where the tool keeps its own build products: `target/ux`.
pub fn out_dir() -> PathBuf {
    target_dir().join("ux")
}

/// The cargo that runs us, for nested builds.
pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Prints a progress line on stderr: `==> what`.
pub fn step(what: &str) {
    eprintln!("==> {what}");
}

/// Prints how long a step took once it is done.
pub struct Timer(&'static str, Instant);

impl Timer {
    pub fn start(what: &'static str) -> Timer {
        Timer(what, Instant::now())
    }
    pub fn done(self) {
        eprintln!("    {} done in {:.1} s", self.0, self.1.elapsed().as_secs_f64());
    }
}

/// Builds everything for `profile` (after checking the host) into the
/// test image, which the tests and benchmarks boot.
pub fn prepare(profile: &str) -> Result<image::Image, String> {
    prepare_image(profile, image::Flavour::Test)
}

/// Builds everything for `profile` into the `flavour` image, serialised by
/// a lock so that parallel tests build once.
pub fn prepare_image(profile: &str, flavour: image::Flavour) -> Result<image::Image, String> {
    std::fs::create_dir_all(out_dir()).map_err(|e| format!("cannot create {}: {e}", out_dir().display()))?;
    let lock_path = out_dir().join("build.lock");
    let lock = std::fs::File::create(&lock_path).map_err(|e| format!("{}: {e}", lock_path.display()))?;
    lock.lock().map_err(|e| format!("cannot lock {}: {e}", lock_path.display()))?;
    let tools = setup::ensure()?;
    let kernel = kernel::build(&tools, profile)?;
    image::build(&kernel, flavour)
}

//! `cargo ux new DIR`: a program for ux in a crate of its own, outside the
//! system's workspace, depending on this checkout's `libux` by path. The
//! files are `qemu/template/` with the crate's name and libux's directory
//! filled in; [`build`] builds one as its README says (the tests do).

use crate::setup::TARGET;
use std::path::{Path, PathBuf};
use std::process::Command;

const CARGO_TOML: &str = include_str!("../template/Cargo.toml.in");
const CONFIG: &str = include_str!("../template/config.toml");
const BUILD_RS: &str = include_str!("../template/build.rs");
const MAIN_RS: &str = include_str!("../template/main.rs");

/// Writes a new program's crate at `dir` (which must not exist, nor lie
/// inside this workspace, whose build settings would apply to it too).
/// Its name is the directory's.
pub fn new(dir: &Path) -> Result<String, String> {
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let valid = name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(format!("{}: a program's name is a letter, then letters, digits, - or _", dir.display()));
    }
    if dir.exists() {
        return Err(format!("{} exists already", dir.display()));
    }
    let workspace = crate::workspace();
    let absolute = std::path::absolute(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if absolute.starts_with(&workspace) {
        return Err(format!(
            "{} is inside the system's workspace ({}), whose .cargo/config.toml would apply to it: choose a directory outside",
            dir.display(),
            workspace.display()
        ));
    }
    let libux = workspace.join("libux");
    let libux = libux.to_str().ok_or("the workspace's path is not UTF-8")?;
    let fill = |text: &str| text.replace("{{name}}", name).replace("{{libux}}", libux);
    let files = [
        ("Cargo.toml", fill(CARGO_TOML)),
        (".cargo/config.toml", fill(CONFIG)),
        ("build.rs", BUILD_RS.to_string()),
        ("src/main.rs", fill(MAIN_RS)),
    ];
    for (path, text) in files {
        let path = absolute.join(path);
        std::fs::create_dir_all(path.parent().expect("a file in the crate"))
            .and_then(|()| std::fs::write(&path, text))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(name.to_string())
}

/// Builds the program of the crate at `dir` (`cargo build --release`
/// there); answers its path.
pub fn build(dir: &Path) -> Result<PathBuf, String> {
    crate::setup::ensure_rust_target()?;
    let status = Command::new("cargo")
        .current_dir(dir)
        .args(["build", "--quiet", "--release"])
        // Our own `cargo ux` settings must not leak into its build.
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build in {} failed ({status})", dir.display()));
    }
    let name = dir.file_name().and_then(|n| n.to_str()).ok_or("a crate directory's name")?;
    Ok(dir.join("target").join(TARGET).join("release").join(name))
}

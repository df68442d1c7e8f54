//! Host prerequisites: checked, and installed where that is safe.
//!
//! Installed automatically: the rustup target `x86_64-unknown-none`, QEMU
//! (`qemu-system-x86` from Debian, when running as root with apt), and the
//! Python packages seL4's generators need (`tempita`, `six`, `ply` from
//! PyPI, in a venv under `target/ux/venv`). Missing compilers and
//! interpreters (`gcc`, `make`, `objcopy`, `python3`) are reported
//! together in one message with the command that installs them.

use crate::{out_dir, step};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub const TARGET: &str = "x86_64-unknown-none";
const PY_PACKAGES: &[&str] = &["tempita", "six", "ply"];

/// Paths of the host tools the build and the runner use.
#[derive(Clone, Debug)]
pub struct Tools {
    pub qemu: PathBuf,
    pub objcopy: PathBuf,
    /// The venv's `bin/`, put first on PATH for the kernel build.
    pub venv_bin: PathBuf,
}

/// Finds `name` on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

fn quiet(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

fn run_logged(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("cannot run {what}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{what} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Checks the host and installs what can be installed. Returns the tools.
pub fn ensure() -> Result<Tools, String> {
    ensure_rust_target()?;

    if let Some(message) = missing_tools(|t| which(t).is_some()) {
        return Err(message);
    }

    let qemu = ensure_qemu()?;
    let venv_bin = ensure_python_packages()?;
    Ok(Tools { qemu, objcopy: which("objcopy").expect("checked above"), venv_bin })
}

/// Build tools the kernel needs and the Debian packages that provide them.
const BUILD_TOOLS: &[(&str, &str)] =
    &[("gcc", "gcc"), ("make", "make"), ("objcopy", "binutils"), ("python3", "python3")];

/// One message naming every missing build tool and how to install it.
fn missing_tools(present: impl Fn(&str) -> bool) -> Option<String> {
    let missing: Vec<&(&str, &str)> = BUILD_TOOLS.iter().filter(|(t, _)| !present(t)).collect();
    if missing.is_empty() {
        return None;
    }
    let tools: Vec<&str> = missing.iter().map(|m| m.0).collect();
    let packages: Vec<&str> = missing.iter().map(|m| m.1).collect();
    Some(format!(
        "missing host tools: {}.\nInstall them with: apt-get install {} python3-venv",
        tools.join(", "),
        packages.join(" ")
    ))
}

/// Adds the Rust target the programs build for, if it is missing.
pub fn ensure_rust_target() -> Result<(), String> {
    let sysroot =
        Command::new("rustc").args(["--print", "sysroot"]).output().map_err(|e| format!("cannot run rustc: {e}"))?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if sysroot.join("lib/rustlib").join(TARGET).is_dir() {
        return Ok(());
    }
    step(&format!("adding the Rust target {TARGET} (rustup target add)"));
    run_logged(Command::new("rustup").args(["target", "add", TARGET]), "rustup target add")
        .map_err(|e| format!("{e}\nThe build needs the Rust target {TARGET}: run `rustup target add {TARGET}`."))
}

fn ensure_qemu() -> Result<PathBuf, String> {
    let qemu = ensure_apt("qemu-system-x86_64", "qemu-system-x86", "about a minute")?;
    // Nodes boot with qboot (`node::FIRMWARE`), which QEMU looks for in
    // its data directories (`-L help` lists them).
    let dirs = Command::new(&qemu).args(["-L", "help"]).output().map_err(|e| format!("{}: {e}", qemu.display()))?;
    let dirs: Vec<PathBuf> = String::from_utf8_lossy(&dirs.stdout).lines().map(PathBuf::from).collect();
    if !dirs.iter().any(|d| d.join(crate::node::FIRMWARE).is_file()) {
        let listed: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        return Err(format!(
            "QEMU's firmware {} is in none of its data directories ({}): nodes boot with it. Install it with: apt-get install qemu-system-data",
            crate::node::FIRMWARE,
            listed.join(", ")
        ));
    }
    Ok(qemu)
}

/// Finds `tool`, installing Debian's `package` first when it is missing
/// and we may (root, apt); `how_long` is said while installing.
pub fn ensure_apt(tool: &str, package: &str, how_long: &str) -> Result<PathBuf, String> {
    if let Some(t) = which(tool).or_else(|| which_sbin(tool)) {
        return Ok(t);
    }
    let how = format!("Install it with: apt-get install {package}");
    if !is_root() || which("apt-get").is_none() {
        return Err(format!("{tool} is not installed. {how}"));
    }
    // One apt at a time, also across parallel tests.
    std::fs::create_dir_all(out_dir()).map_err(|e| e.to_string())?;
    let lock = std::fs::File::create(out_dir().join("apt.lock")).map_err(|e| e.to_string())?;
    lock.lock().map_err(|e| format!("cannot lock for apt: {e}"))?;
    if let Some(t) = which(tool).or_else(|| which_sbin(tool)) {
        return Ok(t);
    }
    step(&format!("installing {package} (apt-get install {package}; {how_long})"));
    run_logged(Command::new("apt-get").args(["update", "-q"]), "apt-get update")?;
    run_logged(
        Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends", package])
            .env("DEBIAN_FRONTEND", "noninteractive"),
        &format!("apt-get install {package}"),
    )
    .map_err(|e| format!("{e}\n{how}"))?;
    which(tool).or_else(|| which_sbin(tool)).ok_or_else(|| format!("{tool} still not found after installing. {how}"))
}

/// Debian puts some tools (diod's) in sbin, which a user's PATH may lack.
fn which_sbin(tool: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/sbin"].iter().map(|d| Path::new(d).join(tool)).find(|p| p.is_file())
}

/// A venv under `target/ux/venv` with seL4's generator dependencies.
fn ensure_python_packages() -> Result<PathBuf, String> {
    let venv = out_dir().join("venv");
    let bin = venv.join("bin");
    let python = bin.join("python3");
    let imports = format!("import {}", PY_PACKAGES.join(", "));
    if python.exists() && quiet(Command::new(&python).args(["-c", &imports])) {
        return Ok(bin);
    }
    step(&format!("creating a Python venv at {} with {}", venv.display(), PY_PACKAGES.join(", ")));
    if !python.exists() {
        run_logged(Command::new("python3").arg("-m").arg("venv").arg(&venv), "python3 -m venv")
            .map_err(|e| format!("{e}\nseL4's build needs Python venv support: apt-get install python3-venv"))?;
    }
    run_logged(
        Command::new(bin.join("pip")).args(["install", "--quiet", "--disable-pip-version-check"]).args(PY_PACKAGES),
        "pip install",
    )
    .map_err(|e| {
        format!("{e}\nseL4's generators need the PyPI packages {}; is PyPI reachable?", PY_PACKAGES.join(", "))
    })?;
    Ok(bin)
}

/// A venv `target/ux/venv-NAME` with `packages` from PyPI; returns its
/// python. Peers that clash (two packages both named `py9p` inside) each
/// get their own.
pub fn python_venv(name: &str, packages: &[&str]) -> Result<PathBuf, String> {
    let venv = out_dir().join(format!("venv-{name}"));
    let python = venv.join("bin/python3");
    std::fs::create_dir_all(out_dir()).map_err(|e| e.to_string())?;
    let lock = std::fs::File::create(out_dir().join(format!("venv-{name}.lock"))).map_err(|e| e.to_string())?;
    lock.lock().map_err(|e| format!("cannot lock the venv: {e}"))?;
    let stamp = venv.join("ux-packages");
    if python.exists() && std::fs::read_to_string(&stamp).is_ok_and(|s| s == packages.join(" ")) {
        return Ok(python);
    }
    step(&format!("creating a Python venv at {} with {}", venv.display(), packages.join(", ")));
    run_logged(Command::new("python3").arg("-m").arg("venv").arg(&venv), "python3 -m venv")
        .map_err(|e| format!("{e}\nPython venv support is missing: apt-get install python3-venv"))?;
    run_logged(
        Command::new(venv.join("bin/pip")).args(["install", "--quiet", "--disable-pip-version-check"]).args(packages),
        "pip install",
    )
    .map_err(|e| {
        format!("{e}\nthe PyPI packages {} could not be installed; is PyPI reachable?", packages.join(", "))
    })?;
    std::fs::write(&stamp, packages.join(" ")).map_err(|e| e.to_string())?;
    Ok(python)
}

/// PATH with `first` in front.
pub fn path_with(first: &Path) -> std::ffi::OsString {
    let mut dirs = vec![first.to_path_buf()];
    if let Some(p) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&p));
    }
    std::env::join_paths(dirs).expect("PATH entries have no separators")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_every_missing_tool_once() {
        assert_eq!(missing_tools(|_| true), None);
        let m = missing_tools(|t| t != "gcc" && t != "objcopy").unwrap();
        assert!(m.starts_with("missing host tools: gcc, objcopy."), "{m}");
        assert!(m.contains("apt-get install gcc binutils python3-venv"), "{m}");
        assert!(!m.contains("make"), "{m}");
    }

    #[test]
    fn path_with_puts_a_directory_first() {
        let p = path_with(Path::new("/opt/venv/bin"));
        let first = std::env::split_paths(&p).next().unwrap();
        assert_eq!(first, Path::new("/opt/venv/bin"));
    }
}

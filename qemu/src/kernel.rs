//! Building the seL4 kernel.
//!
//! The source is the `seL4/` directory of the crates.io package `sel4-sys`
//! 0.0.28 (seL4 5.0.0), used unmodified: it is copied to
//! `target/ux/kernel/<profile>/src`, the profile's `autoconf.h` replaces the
//! crate's `include/plat/pc99/autoconf.h` in the copy, and seL4's own
//! standalone Makefile builds `kernel.elf` in `.../build`. QEMU's multiboot
//! loader wants a 32-bit ELF, so `objcopy -O elf32-i386` makes
//! `kernel32.elf`. A stamp records the inputs: an unchanged profile and
//! source skip the whole step.

use crate::setup::{path_with, Tools};
use crate::{out_dir, step, Timer};
use kernel_config::Profile;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A built kernel.
#[derive(Clone, Debug)]
pub struct Kernel {
    pub profile: Profile,
    /// seL4's version, from the source's `VERSION` file.
    pub version: String,
    /// The bootable 32-bit ELF.
    pub elf32: PathBuf,
    /// The configured source copy (headers for the constants check).
    pub src: PathBuf,
    /// The build directory (generated headers).
    pub build: PathBuf,
    pub tools: Tools,
}

/// Warnings for the kernel's C: the Makefile's list without `error`,
/// because gcc 12 warns about packed members where older gccs did not.
const WARNINGS: &str =
    "all strict-prototypes missing-prototypes nested-externs missing-declarations undef pointer-arith no-nonnull";

pub fn build(tools: &Tools, profile_name: &str) -> Result<Kernel, String> {
    let profile = Profile::load(profile_name).map_err(|e| e.to_string())?;
    let source = kernel_config::sel4_source()?;
    let dir = out_dir().join("kernel").join(profile_name);
    let (src, build) = (dir.join("src"), dir.join("build"));
    let elf32 = dir.join("kernel32.elf");
    let version =
        fs::read_to_string(source.join("VERSION")).map_err(|e| format!("seL4 VERSION: {e}"))?.trim().to_string();
    let kernel = Kernel {
        profile: profile.clone(),
        version,
        elf32: elf32.clone(),
        src: src.clone(),
        build: build.clone(),
        tools: tools.clone(),
    };

    let autoconf = profile.autoconf_h();
    let stamp = format!("source {}\nmake {:?}\n{autoconf}", source.display(), profile.make_vars);
    let stamp_path = dir.join("stamp");
    if elf32.exists() && fs::read_to_string(&stamp_path).is_ok_and(|s| s == stamp) {
        return Ok(kernel);
    }

    step(&format!("building the seL4 {} kernel, profile {profile_name} (about 10-30 s)", kernel.version));
    let t = Timer::start("kernel");
    let _ = fs::remove_dir_all(&dir);
    copy_dir(&source, &src).map_err(|e| format!("copying seL4 source to {}: {e}", src.display()))?;
    fs::write(src.join("include/plat/pc99/autoconf.h"), &autoconf).map_err(|e| e.to_string())?;
    fs::create_dir_all(&build).map_err(|e| e.to_string())?;

    // One job: every run of seL4's bitfield generator writes its parser
    // table to the same `tools/parsetab.py`, so parallel runs can import a
    // half-written table ("module 'parsetab' has no attribute
    // '_tabversion'"). The kernel is one C unit; parallelism bought little.
    let mut make = Command::new("make");
    make.current_dir(&build)
        .env("PATH", path_with(&tools.venv_bin))
        .arg("-j1")
        .arg("-f")
        .arg(src.join("Makefile"))
        .arg(format!("SOURCE_ROOT={}", src.display()))
        .args(["ARCH=x86", "PLAT=pc99", "SEL4_ARCH=x86_64", "PYTHON=python3"])
        .args(["SKIP_PATH_CHECKS=1", "XMLLINT_PATH=true", "CIRCULAR_INCLUDES=true"])
        .arg(format!("WARNINGS={WARNINGS}"));
    for (k, v) in &profile.make_vars {
        make.arg(format!("{k}={v}"));
    }
    let log = dir.join("build.log");
    run_to_log(&mut make, &log, "kernel make")?;
    run_to_log(
        Command::new(&tools.objcopy).arg("-O").arg("elf32-i386").arg(build.join("kernel.elf")).arg(&elf32),
        &dir.join("objcopy.log"),
        "objcopy",
    )?;
    fs::write(&stamp_path, stamp).map_err(|e| e.to_string())?;
    t.done();
    Ok(kernel)
}

/// Runs `cmd` with its output in `log`; on failure returns the log's tail.
pub fn run_to_log(cmd: &mut Command, log: &Path, what: &str) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("cannot run {what}: {e}"))?;
    let text = [out.stdout, out.stderr].concat();
    let _ = fs::write(log, &text);
    if out.status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(40)..].join("\n");
    Err(format!("{what} failed ({}); last lines of {}:\n{tail}", out.status, log.display()))
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), &target)?;
            // The registry's files are read-only; the build writes next to them.
            let mut perm = fs::metadata(&target)?.permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perm.set_readonly(false);
            fs::set_permissions(&target, perm)?;
        }
    }
    Ok(())
}

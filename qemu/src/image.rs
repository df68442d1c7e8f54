//! The boot image: the kernel plus the root task (the process server), with
//! the boot file system of user programs linked into the root task.
//!
//! Steps: `cargo build --release --target x86_64-unknown-none` of the user
//! programs; check the system description (`kernel-config/system.desc`);
//! pack both with `libux::bootfs::build`; build the process
//! server with `UX_BOOTFS` pointing at the pack (it `include_bytes!`s it);
//! copy the results to `target/ux/image/<profile>/`.

use crate::kernel::Kernel;
use crate::setup::TARGET;
use crate::{cargo, out_dir, step, target_dir, workspace, Timer};
use std::fs;
use std::path::PathBuf;
use std::process::Command;

/// Crates of the user programs.
pub const PACKAGES: &[&str] = &[
    "hello", "true", "spawner", "faulter", "memhog", "tracer", "rpcfuzz", "ipcbench", "iobench", "devprobe", "ramfs",
    "devfs", "sh", "utils", "filetest", "netstack", "ninep",
];
/// Programs in the boot file system (`/bin`), by binary name.
pub const PROGRAMS: &[&str] = &[
    "hello",
    "true",
    "spawner",
    "faulter",
    "memhog",
    "tracer",
    "rpcfuzz",
    "ipcbench",
    "iobench",
    "devprobe",
    "ramfs",
    "devfs",
    "sh",
    "filetest",
    "nettest",
    "netstack",
    "ls",
    "cat",
    "echo",
    "ps",
    "kill",
    "mkdir",
    "rm",
    "sleep",
    "echod",
    "tcpsend",
    "ping",
    "ttcp",
    "exportfs",
    "mount9p",
    "sum",
    "ninepbench",
];
/// Features the programs build with (server binaries behind a feature).
pub const PROGRAM_FEATURES: &str = "ramfs/server devfs/server sh/program netstack/server ninep/program";

#[derive(Clone, Debug)]
pub struct Image {
    pub kernel: Kernel,
    /// The root task ELF, passed to QEMU as the multiboot module.
    pub rootserver: PathBuf,
}

fn cargo_build(packages: &[&str], envs: &[(&str, String)]) -> Result<(), String> {
    let mut cmd = Command::new(cargo());
    cmd.current_dir(workspace()).args(["build", "--quiet", "--release", "--target", TARGET]);
    for p in packages {
        cmd.args(["-p", p]);
    }
    if packages.contains(&"ramfs") {
        cmd.args(["--features", PROGRAM_FEATURES]);
    }
    cmd.envs(envs.iter().map(|(k, v)| (k, v)));
    let out = cmd.output().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo build of {} failed:\n{}",
            packages.join(", "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

/// Environment the process server's build reads.
pub fn rootserver_env(kernel: &Kernel) -> Vec<(&'static str, String)> {
    vec![
        ("UX_BOOTFS", out_dir().join("bootfs.img").display().to_string()),
        ("UX_SEL4_VERSION", kernel.version.clone()),
        ("UX_KERNEL_PROFILE", kernel.profile.name.clone()),
    ]
}

pub fn build(kernel: &Kernel) -> Result<Image, String> {
    step(&format!("building the userland for {TARGET}"));
    let t = Timer::start("userland");
    cargo_build(PACKAGES, &[])?;
    let bin_dir = target_dir().join(TARGET).join("release");
    let mut files = Vec::new();
    for p in PROGRAMS {
        let path = bin_dir.join(p);
        files.push((*p, fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?));
    }
    let desc_path = kernel_config::system::path();
    let desc = fs::read_to_string(&desc_path).map_err(|e| format!("{}: {e}", desc_path.display()))?;
    let system = kernel_config::system::parse(&desc, &desc_path, PROGRAMS).map_err(|e| e.to_string())?.encode();
    let mut refs: Vec<(&str, &[u8])> = files.iter().map(|(n, d)| (*n, d.as_slice())).collect();
    refs.push((libux::sysdesc::BOOTFS_NAME, &system));
    let blob = libux::bootfs::build(&refs).map_err(|e| format!("packing the boot file system: {e:?}"))?;
    let bootfs = out_dir().join("bootfs.img");
    // Rewriting identical bytes would only make cargo relink the root task.
    if fs::read(&bootfs).ok().as_deref() != Some(&blob[..]) {
        fs::write(&bootfs, &blob).map_err(|e| format!("{}: {e}", bootfs.display()))?;
    }

    cargo_build(&["process-server"], &rootserver_env(kernel))?;
    let dir = out_dir().join("image").join(&kernel.profile.name);
    fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let rootserver = dir.join("rootserver.elf");
    fs::copy(bin_dir.join("process-server"), &rootserver).map_err(|e| format!("{}: {e}", rootserver.display()))?;
    t.done();
    Ok(Image { kernel: kernel.clone(), rootserver })
}

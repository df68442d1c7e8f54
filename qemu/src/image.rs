//! The boot image: the kernel, the root task (the process server), and
//! the boot file system of user programs, which QEMU hands the process
//! server as the fw_cfg file `opt/ux/bootfs` (copied in by DMA: linked
//! into the root task, the kernel's boot copied it byte by byte three
//! times, a third of a boot's host CPU).
//!
//! Steps: `cargo build --release --target x86_64-unknown-none` of the user
//! programs; check the system description (`kernel-config/system.desc`);
//! pack both with `libux::bootfs::build` into `target/ux/bootfs-<flavour>.img`;
//! build the process server and copy it to
//! `target/ux/image/<profile>-<flavour>/`. [`PROGRAMS`] is the one list of
//! what goes into which image.

use crate::kernel::Kernel;
use crate::setup::TARGET;
use crate::{cargo, out_dir, step, target_dir, workspace, Timer};
use std::fs;
use std::path::PathBuf;
use std::process::Command;

/// What a program is for, which decides the images it goes into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Started by the system description.
    System,
    /// A command a person runs.
    Command,
    /// A test workload or benchmark: only in the test image.
    Test,
}

/// An image: the one `cargo ux` boots, or the one tests and benchmarks
/// boot, which also holds the test programs and the test system
/// description's additions (`kernel-config/system-test.desc`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    User,
    Test,
}

impl Flavour {
    pub fn name(self) -> &'static str {
        match self {
            Flavour::User => "user",
            Flavour::Test => "test",
        }
    }

    fn holds(self, kind: Kind) -> bool {
        self == Flavour::Test || kind != Kind::Test
    }
}

/// A program of the boot file system (`/bin`): its binary, its crate.
pub struct Program {
    pub name: &'static str,
    pub package: &'static str,
    pub kind: Kind,
}

const fn program(name: &'static str, package: &'static str, kind: Kind) -> Program {
    Program { name, package, kind }
}

/// Every program, once: the one list of what goes into a node.
pub const PROGRAMS: &[Program] = &[
    program("ramfs", "ramfs", Kind::System),
    program("devfs", "devfs", Kind::System),
    program("netstack", "netstack", Kind::System),
    program("cluster", "cluster-server", Kind::System),
    program("hello", "hello", Kind::System),
    program("sh", "sh", Kind::Command),
    program("true", "true", Kind::Command),
    program("tracer", "tracer", Kind::Command),
    program("ls", "utils", Kind::Command),
    program("cat", "utils", Kind::Command),
    program("echo", "utils", Kind::Command),
    program("ps", "utils", Kind::Command),
    program("cnodes", "utils", Kind::Command),
    program("cps", "utils", Kind::Command),
    program("crun", "utils", Kind::Command),
    program("kill", "utils", Kind::Command),
    program("mkdir", "utils", Kind::Command),
    program("rm", "utils", Kind::Command),
    program("sleep", "utils", Kind::Command),
    program("sum", "utils", Kind::Command),
    program("echod", "utils", Kind::Command),
    program("tcpsend", "utils", Kind::Command),
    program("ping", "utils", Kind::Command),
    program("ttcp", "utils", Kind::Command),
    program("wc", "utils", Kind::Command),
    program("head", "utils", Kind::Command),
    program("tail", "utils", Kind::Command),
    program("grep", "utils", Kind::Command),
    program("exec", "utils", Kind::Command),
    program("env", "utils", Kind::Command),
    program("date", "utils", Kind::Command),
    program("uptime", "utils", Kind::Command),
    program("free", "utils", Kind::Command),
    program("exportfs", "ninep", Kind::Command),
    program("mount9p", "ninep", Kind::Command),
    program("spawner", "spawner", Kind::Test),
    program("faulter", "faulter", Kind::Test),
    program("memhog", "memhog", Kind::Test),
    program("rpcfuzz", "rpcfuzz", Kind::Test),
    program("devprobe", "devprobe", Kind::Test),
    program("filetest", "filetest", Kind::Test),
    program("nettest", "filetest", Kind::Test),
    program("ipcbench", "ipcbench", Kind::Test),
    program("iobench", "iobench", Kind::Test),
    program("ninepbench", "ninep", Kind::Test),
];

/// The programs of an image.
pub fn programs(flavour: Flavour) -> Vec<&'static str> {
    PROGRAMS.iter().filter(|p| flavour.holds(p.kind)).map(|p| p.name).collect()
}

/// The crates an image's programs come from, each once.
pub fn packages(flavour: Flavour) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for p in PROGRAMS.iter().filter(|p| flavour.holds(p.kind)) {
        if !out.contains(&p.package) {
            out.push(p.package);
        }
    }
    out
}

/// Features the programs build with (server binaries behind a feature).
pub const PROGRAM_FEATURES: &str =
    "ramfs/server devfs/server sh/program netstack/server ninep/program cluster-server/program";

#[derive(Clone, Debug)]
pub struct Image {
    pub kernel: Kernel,
    /// The root task ELF, passed to QEMU as the multiboot module.
    pub rootserver: PathBuf,
    /// The boot file system, passed to QEMU as fw_cfg `opt/ux/bootfs`.
    pub bootfs: PathBuf,
}

fn cargo_build(packages: &[&'static str], envs: &[(&str, String)]) -> Result<(), String> {
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

fn bootfs_path(flavour: Flavour) -> PathBuf {
    out_dir().join(format!("bootfs-{}.img", flavour.name()))
}

/// Environment the process server's build reads.
pub fn rootserver_env(kernel: &Kernel) -> Vec<(&'static str, String)> {
    vec![("UX_SEL4_VERSION", kernel.version.clone()), ("UX_KERNEL_PROFILE", kernel.profile.name.clone())]
}

/// The system description of an image: `system.desc`, and for the test
/// image `system-test.desc` after it; where it was read from.
fn description(flavour: Flavour) -> Result<(String, PathBuf), String> {
    let read = |p: &PathBuf| fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()));
    let user = kernel_config::system::path();
    match flavour {
        Flavour::User => Ok((read(&user)?, user)),
        Flavour::Test => {
            let test = kernel_config::system::test_path();
            Ok((
                format!("{}{}", read(&user)?, read(&test)?),
                PathBuf::from(format!("{} + {}", user.display(), test.display())),
            ))
        }
    }
}

pub fn build(kernel: &Kernel, flavour: Flavour) -> Result<Image, String> {
    step(&format!("building the {} userland for {TARGET}", flavour.name()));
    let t = Timer::start("userland");
    cargo_build(&packages(flavour), &[])?;
    let bin_dir = target_dir().join(TARGET).join("release");
    let names = programs(flavour);
    let mut files = Vec::new();
    for p in &names {
        let path = bin_dir.join(p);
        files.push((*p, fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?));
    }
    let (desc, desc_path) = description(flavour)?;
    let system = kernel_config::system::parse(&desc, &desc_path, &names).map_err(|e| e.to_string())?.encode();
    let mut refs: Vec<(&str, &[u8])> = files.iter().map(|(n, d)| (*n, d.as_slice())).collect();
    refs.push((libux::sysdesc::BOOTFS_NAME, &system));
    let blob = libux::bootfs::build(&refs).map_err(|e| format!("packing the boot file system: {e:?}"))?;
    let bootfs = bootfs_path(flavour);
    if fs::read(&bootfs).ok().as_deref() != Some(&blob[..]) {
        // Whole or not at all, for a QEMU starting meanwhile; a name of
        // this build's own, for another building at once.
        let new = bootfs.with_extension(format!("img.{}.new", std::process::id()));
        fs::write(&new, &blob).map_err(|e| format!("{}: {e}", new.display()))?;
        fs::rename(&new, &bootfs).map_err(|e| format!("{}: {e}", bootfs.display()))?;
    }

    cargo_build(&["process-server"], &rootserver_env(kernel))?;
    let dir = out_dir().join("image").join(format!("{}-{}", kernel.profile.name, flavour.name()));
    fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let rootserver = dir.join("rootserver.elf");
    fs::copy(bin_dir.join("process-server"), &rootserver).map_err(|e| format!("{}: {e}", rootserver.display()))?;
    t.done();
    Ok(Image { kernel: kernel.clone(), rootserver, bootfs })
}

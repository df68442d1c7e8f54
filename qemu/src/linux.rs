//! A small Linux guest, for testing our 9P servers with the Linux kernel's
//! own client (v9fs) as people use it.
//!
//! The guest is Debian's kernel (`linux-image-*-amd64`) and `busybox-static`,
//! both fetched with `apt-get download` and unpacked with `dpkg-deb` under
//! `target/ux/linux/` once; nothing of them is in the repository. Each run
//! packs a fresh initramfs (newc cpio, written with the `cpio` crate): busybox,
//! the 9P and e1000 modules in the order their `depends=` fields ask, a
//! `passwd` naming `root` and `nobody`, an `/init` and the caller's script.
//! QEMU's user network puts the host's loopback at `10.0.2.2`, so the
//! script mounts a server listening on the host with
//! `mount -t 9p -o trans=tcp,port=PORT 10.0.2.2 /mnt`.
//!
//! [`Guest::run`] returns what the script printed (stdout and stderr, in
//! order) and its exit status; the kernel's own messages are left out.

use crate::{out_dir, step, Timer};
use std::collections::BTreeMap;
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Modules the guest loads (with what they depend on, found in the modules).
const MODULES: &[&str] = &["9p", "9pnet_fd", "e1000"];

/// What the guest prints around the script's output.
const BEGIN: &str = "=== ux-guest: script begins";
const END: &str = "=== ux-guest: script ended with status ";

/// An unpacked kernel and busybox, ready to boot.
pub struct Guest {
    kernel: PathBuf,
    busybox: PathBuf,
    /// Module name -> file, in an order that loads each after its needs.
    modules: Vec<(String, PathBuf)>,
}

/// What a script printed, and how it ended.
#[derive(Debug)]
pub struct Outcome {
    pub output: String,
    pub status: i32,
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("cannot run {what}: {e} (a Debian host has it)"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!("{what} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim()))
}

/// The versioned kernel package `linux-image-amd64` stands for.
fn kernel_package() -> Result<String, String> {
    let out = Command::new("apt-cache")
        .args(["depends", "linux-image-amd64"])
        .output()
        .map_err(|e| format!("cannot run apt-cache: {e} (the Linux guest needs Debian's apt)"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("Depends: "))
        .find(|p| p.starts_with("linux-image-"))
        .map(str::to_string)
        .ok_or_else(|| "apt-cache knows no linux-image-amd64: run apt-get update".to_string())
}

impl Guest {
    /// Fetches and unpacks the guest once (about 70 MB); later calls find it.
    pub fn ensure() -> Result<Guest, String> {
        let dir = out_dir().join("linux");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let lock_path = dir.join("lock");
        let lock = std::fs::File::create(&lock_path).map_err(|e| format!("{}: {e}", lock_path.display()))?;
        lock.lock().map_err(|e| format!("cannot lock {}: {e}", lock_path.display()))?;
        let root = dir.join("root");
        if !root.join("done").exists() {
            let _ = std::fs::remove_dir_all(&root);
            let debs = dir.join("debs");
            let _ = std::fs::remove_dir_all(&debs);
            std::fs::create_dir_all(&debs).map_err(|e| e.to_string())?;
            // A fresh machine's package lists may be missing: fetch them once.
            let kernel = match kernel_package() {
                Ok(k) => k,
                Err(_) => {
                    run(Command::new("apt-get").args(["update", "-q"]), "apt-get update")?;
                    kernel_package()?
                }
            };
            step(&format!("fetching the Linux guest ({kernel}, busybox-static; about 70 MB, once)"));
            let timer = Timer::start("fetching the Linux guest");
            let download = |debs: &Path| {
                run(
                    Command::new("apt-get").args(["download", "-q", &kernel, "busybox-static"]).current_dir(debs),
                    "apt-get download",
                )
            };
            if download(&debs).is_err() {
                // A fresh machine's package lists may be old or missing.
                run(Command::new("apt-get").args(["update", "-q"]), "apt-get update")?;
                download(&debs)?;
            }
            for deb in std::fs::read_dir(&debs).map_err(|e| e.to_string())? {
                let deb = deb.map_err(|e| e.to_string())?.path();
                run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root), "dpkg-deb -x")?;
            }
            std::fs::write(root.join("done"), b"").map_err(|e| e.to_string())?;
            let _ = std::fs::remove_dir_all(&debs);
            timer.done();
        }
        Guest::find(&root)
    }

    fn find(root: &Path) -> Result<Guest, String> {
        let only = |dir: PathBuf, prefix: &str| -> Result<PathBuf, String> {
            std::fs::read_dir(&dir)
                .map_err(|e| format!("{}: {e}", dir.display()))?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(prefix)))
                .ok_or_else(|| format!("no {prefix}* in {}", dir.display()))
        };
        let kernel = only(root.join("boot"), "vmlinuz-")?;
        let tree = only(root.join("lib/modules"), "")?.join("kernel");
        let mut files = BTreeMap::new();
        index_modules(&tree, &mut files)?;
        let mut modules = Vec::new();
        for name in MODULES {
            load_order(name, &files, &mut modules)?;
        }
        Ok(Guest { kernel, busybox: root.join("bin/busybox"), modules })
    }

    /// Boots the guest, runs `script` (busybox sh) as root, and powers off.
    /// Gives up after `limit`.
    pub fn run(&self, script: &str, limit: Duration) -> Result<Outcome, String> {
        self.run_with(script, &[], limit)
    }

    /// [`Guest::run`], with `programs` (name, bytes) in `/bin`.
    pub fn run_with(&self, script: &str, programs: &[(&str, Vec<u8>)], limit: Duration) -> Result<Outcome, String> {
        let initrd =
            out_dir().join(format!("linux/initrd-{}-{:?}.cpio", std::process::id(), std::thread::current().id()));
        self.pack(script, programs, &initrd)?;
        let qemu = crate::setup::which("qemu-system-x86_64").ok_or("qemu-system-x86_64 is missing")?;
        let mut child = Command::new(qemu)
            .args(["-machine", "q35", "-cpu", "max", "-m", "512M", "-smp", "1", "-nographic", "-no-reboot"])
            .args(["-nic", "user,model=e1000"])
            .arg("-kernel")
            .arg(&self.kernel)
            .arg("-initrd")
            .arg(&initrd)
            .args(["-append", "console=ttyS0 panic=-1 quiet loglevel=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start QEMU: {e}"))?;
        let mut stdout = child.stdout.take().expect("piped");
        let reader = std::thread::spawn(move || {
            let mut all = Vec::new();
            let _ = stdout.read_to_end(&mut all);
            all
        });
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
                break Some(s);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let _ = std::fs::remove_file(&initrd);
        let console = String::from_utf8_lossy(&reader.join().unwrap_or_default()).replace("\r\n", "\n");
        let Some(begin) = console.find(BEGIN) else {
            return Err(format!("the guest never ran the script ({status:?}); its console:\n{console}"));
        };
        let body = &console[begin + BEGIN.len()..];
        let body = body.strip_prefix('\n').unwrap_or(body);
        let Some(end) = body.find(END) else {
            let why = if status.is_none() { format!("gave up after {limit:?}") } else { "the guest stopped".into() };
            return Err(format!("the script never ended ({why}); it printed:\n{body}"));
        };
        let code = body[end + END.len()..].lines().next().unwrap_or("").trim();
        let status = code.parse().map_err(|_| format!("a status that is no number: {code:?}"))?;
        Ok(Outcome { output: body[..end].to_string(), status })
    }

    fn pack(&self, script: &str, programs: &[(&str, Vec<u8>)], to: &Path) -> Result<(), String> {
        let mut entries: Vec<(cpio::NewcBuilder, Vec<u8>)> = Vec::new();
        let dir = |name: &str| (cpio::NewcBuilder::new(name).mode(0o40755), Vec::new());
        let file = |name: &str, mode: u32, data: Vec<u8>| (cpio::NewcBuilder::new(name).mode(0o100000 | mode), data);
        for d in ["bin", "dev", "etc", "lib", "lib/modules", "mnt", "proc", "sys", "tmp"] {
            entries.push(dir(d));
        }
        let read = |p: &Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
        entries.push(file("bin/busybox", 0o755, read(&self.busybox)?));
        for (name, bytes) in programs {
            entries.push(file(&format!("bin/{name}"), 0o755, bytes.clone()));
        }
        let mut load = String::new();
        for (name, path) in &self.modules {
            entries.push(file(&format!("lib/modules/{name}.ko"), 0o644, read(path)?));
            load.push_str(&format!("insmod /lib/modules/{name}.ko || echo 'ux-guest: cannot load {name}'\n"));
        }
        entries.push(file(
            "etc/passwd",
            0o644,
            b"root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n".to_vec(),
        ));
        entries.push(file("etc/group", 0o644, b"root:x:0:\nnogroup:x:65534:\n".to_vec()));
        entries.push(file("init", 0o755, init(&load).into_bytes()));
        entries.push(file("script", 0o755, script.as_bytes().to_vec()));
        let out = std::fs::File::create(to).map_err(|e| format!("{}: {e}", to.display()))?;
        let inputs = entries.into_iter().map(|(b, data)| (b, Cursor::new(data)));
        cpio::write_cpio(inputs, std::io::BufWriter::new(out)).map_err(|e| format!("{}: {e}", to.display()))?;
        Ok(())
    }
}

/// `bench/linuxspawn`, built for the guest with the host's `gcc`: a
/// static program without libc that measures spawn + wait.
pub fn spawn_program() -> Result<Vec<u8>, String> {
    let source = crate::workspace().join("bench/linuxspawn/linuxspawn.c");
    let binary = out_dir().join("linux/linuxspawn");
    std::fs::create_dir_all(out_dir().join("linux")).map_err(|e| e.to_string())?;
    run(
        Command::new("gcc")
            .args(["-O2", "-static", "-nostdlib", "-ffreestanding", "-fno-builtin"])
            .args(["-fno-tree-loop-distribute-patterns", "-fno-stack-protector", "-fno-pie", "-no-pie", "-o"])
            .arg(&binary)
            .arg(&source),
        "gcc (bench/linuxspawn)",
    )?;
    std::fs::read(&binary).map_err(|e| format!("{}: {e}", binary.display()))
}

/// The guest's `/init`: mounts, modules, network, then the script.
fn init(load_modules: &str) -> String {
    format!(
        "#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
{load_modules}ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
cd /tmp
echo '{BEGIN}'
sh /script 2>&1
echo \"{END}$?\"
poweroff -f
"
    )
}

/// Every `NAME.ko` under `dir`, by name.
fn index_modules(dir: &Path, into: &mut BTreeMap<String, PathBuf>) -> Result<(), String> {
    for e in std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let path = e.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            index_modules(&path, into)?;
        } else if let Some(name) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".ko")) {
            into.insert(name.replace('-', "_"), path);
        }
    }
    Ok(())
}

/// What a module's `.modinfo` says it needs: `depends=a,b`.
fn depends(module: &[u8]) -> Vec<String> {
    let key = b"depends=";
    let Some(at) = module.windows(key.len()).position(|w| w == key) else { return Vec::new() };
    let rest = &module[at + key.len()..];
    let value = &rest[..rest.iter().position(|&b| b == 0).unwrap_or(rest.len())];
    String::from_utf8_lossy(value).split(',').filter(|s| !s.is_empty()).map(|s| s.replace('-', "_")).collect()
}

/// Adds `name` to `order` after what it depends on.
fn load_order(name: &str, files: &BTreeMap<String, PathBuf>, order: &mut Vec<(String, PathBuf)>) -> Result<(), String> {
    if order.iter().any(|(n, _)| n == name) {
        return Ok(());
    }
    let path = files.get(name).ok_or_else(|| format!("the guest kernel has no module {name}"))?;
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    for need in depends(&bytes) {
        load_order(&need, files, order)?;
    }
    order.push((name.to_string(), path.clone()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::depends;

    #[test]
    fn reads_what_a_module_depends_on() {
        let modinfo = b"\0license=GPL\0depends=9pnet,fscache,netfs\0retpoline=Y\0";
        assert_eq!(depends(modinfo), ["9pnet", "fscache", "netfs"]);
        assert!(depends(b"\0depends=\0name=x\0").is_empty());
        assert!(depends(b"nothing here").is_empty());
    }
}

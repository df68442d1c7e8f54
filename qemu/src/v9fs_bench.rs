//! The v9fs figures of `cargo ux --bench`: Linux's own 9P client (the
//! `qemu::linux` guest) writing and reading 64 MiB through `u9p serve`'s
//! file system and through Debian's `diod`, both on the host, in one boot,
//! alternately: at the same msize (64 KiB, diod's largest) and at each
//! server's best (ours takes 1 MiB). Figures are the guest's (TCG and
//! QEMU's user network are in every one of them alike); what differs is
//! the server.

use super::Args;
use fs9p::host::{serve, DirFs, Users};
use qemu::diod::Diod;
use qemu::linux::Guest;
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::time::Duration;

const MIB: u32 = 64;
const ROUNDS: usize = 5;

/// The mounts measured: (key, which server, msize).
const MOUNTS: [(&str, &str, u32); 3] =
    [("ours64k", "ours", 65536), ("diod64k", "diod", 65536), ("ours1m", "ours", 1 << 20)];

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The guest's script: each mount, then rounds of a timed write and a
/// timed read of each, printed as `KEY-write: SECONDS` lines.
fn script(ours: u16, diod: u16, aname: &str) -> String {
    let mut s = String::from(
        r#"
timed() {
    key=$1; shift
    sync; echo 3 > /proc/sys/vm/drop_caches
    t0=$(cut -d' ' -f1 /proc/uptime)
    if ! "$@" > /dev/null 2>&1; then echo "$key: FAIL"; return; fi
    t1=$(cut -d' ' -f1 /proc/uptime)
    awk -v a="$t0" -v b="$t1" -v k="$key" 'BEGIN { printf "%s: %.2f\n", k, b - a }'
}
"#,
    );
    for (key, server, msize) in MOUNTS {
        let (port, aname) = if server == "diod" { (diod, aname) } else { (ours, "") };
        s.push_str(&format!(
            "mkdir -p /mnt/{key} && mount -t 9p -o trans=tcp,port={port},version=9p2000.L,msize={msize},aname={aname} 10.0.2.2 /mnt/{key} || echo '{key}: FAIL mount'\n"
        ));
    }
    for _ in 0..ROUNDS {
        for (key, _, _) in MOUNTS {
            s.push_str(&format!("timed {key}-write dd if=/dev/zero of=/mnt/{key}/f bs=1M count={MIB} conv=fsync\n"));
            s.push_str(&format!("timed {key}-read dd if=/mnt/{key}/f of=/dev/null bs=1M\n"));
        }
    }
    s
}

pub fn run(_args: &Args) -> Result<Vec<String>, String> {
    qemu::step("v9fs: Linux's 9P client against u9p serve and diod (a Linux guest under TCG)");
    let guest = Guest::ensure()?;
    let base = qemu::out_dir().join(format!("v9fs-bench-{}", std::process::id()));
    let (ours_dir, diod_dir) = (base.join("ours"), base.join("diod"));
    for d in [&ours_dir, &diod_dir] {
        std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let ours = listener.local_addr().map_err(|e| e.to_string())?.port();
    let users = if fs9p::host::is_root() { Users::Attaching { allow_root: true } } else { Users::Me };
    let fs = DirFs::new(&ours_dir, users).map_err(|e| e.to_string())?;
    std::thread::spawn(move || serve(listener, fs, 4096));
    let diod_port = qemu::node::free_ports(1, false)?[0];
    let _diod = Diod::start(&diod_dir, &format!("127.0.0.1:{diod_port}"))?;
    let aname = diod_dir.to_str().ok_or("a directory name that is not UTF-8")?;
    let out = guest.run(&script(ours, diod_port, aname), Duration::from_secs(1800))?;
    let _ = std::fs::remove_dir_all(&base);
    let mut times: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for line in out.output.lines() {
        let Some((key, value)) = line.split_once(": ") else { continue };
        let secs: f64 = value.trim().parse().map_err(|_| format!("FAIL: {line}\n{}", out.output))?;
        times.entry(key.to_string()).or_default().push(secs);
    }
    let rate = |key: &str| -> Result<f64, String> {
        let t = times
            .get(key)
            .filter(|t| t.len() == ROUNDS)
            .ok_or_else(|| format!("FAIL: no {key} figures\n{}", out.output))?;
        Ok(f64::from(MIB) * 1.048576 / median(t.clone()).max(0.01))
    };
    let mut figures = Vec::new();
    for op in ["write", "read"] {
        let (ours, diod, best) =
            (rate(&format!("ours64k-{op}"))?, rate(&format!("diod64k-{op}"))?, rate(&format!("ours1m-{op}"))?);
        figures.push(format!(
            "v9fs: Linux {op}s {MIB} MiB, msize 64 KiB (median of {ROUNDS}, alternating): u9p serve {ours:.1} MB/s, diod {diod:.1} MB/s ({:.2} x diod)",
            ours / diod
        ));
        figures.push(format!(
            "v9fs: Linux {op}s {MIB} MiB at each server's best: u9p serve (msize 1 MiB) {best:.1} MB/s, diod (64 KiB) {diod:.1} MB/s ({:.2} x diod)",
            best / diod
        ));
    }
    Ok(figures)
}

//! The spawn figure of `cargo ux --bench` next to Linux's: the Linux
//! guest (`qemu::linux`, under TCG like the node) runs `linuxspawn`
//! (`bench/linuxspawn`), which spawns and waits for a static program
//! without libc the way `posix_spawn` does, and the ratio is taken to
//! ipcbench's spawn + wait of `true` from the same run. Both are medians
//! of emulated TSC cycles on this host.

use crate::bench_shell::figure_after;
use qemu::linux::{spawn_program, Guest};
use std::time::Duration;

const RUNS: u32 = 200;

/// `figures` are those gathered so far (ipcbench's among them).
pub fn run(figures: &[String]) -> Result<Vec<String>, String> {
    qemu::step("spawn: Linux's spawn + wait of a static program without libc (a Linux guest under TCG)");
    let guest = Guest::ensure()?;
    let program = spawn_program()?;
    let script = format!("/bin/linuxspawn {RUNS}\n");
    let out = guest.run_with(&script, &[("linuxspawn", program)], Duration::from_secs(900))?;
    let line = out
        .output
        .lines()
        .find(|l| l.starts_with("linuxspawn: spawn + wait: "))
        .ok_or_else(|| format!("FAIL: linuxspawn printed no figure:\n{}", out.output))?;
    let linux = figure_after(line, "median ").map_err(|e| format!("FAIL: {e}"))?;
    let mut lines = vec![line.to_string()];
    let ux = figures
        .iter()
        .find_map(|l| l.strip_prefix("ipcbench: spawn + wait of `true`: "))
        .and_then(|l| figure_after(l, "median ").ok());
    if let Some(ux) = ux {
        lines.push(format!(
            "spawn: spawn + wait, medians under TCG: ux's of `true` {ux} cycles, Linux's of a static program without libc {linux} cycles: {:.2} x Linux",
            ux / linux.max(1.0)
        ));
    }
    Ok(lines)
}

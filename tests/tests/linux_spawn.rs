//! `bench/linuxspawn`, what `cargo ux --bench` measures Linux's spawn +
//! wait with (next to ipcbench's), runs in the Linux guest and reports a
//! figure in the form the benchmark reads: built by the host's gcc as a
//! static program without libc, it spawns itself and waits, every run
//! ending with status 0 (a failed spawn is its own error line).

use qemu::linux::{spawn_program, Guest};
use std::time::Duration;
use tests::number_after;

#[test]
fn linux_spawn_benchmark_program_reports_its_figure() {
    let guest = Guest::ensure().unwrap_or_else(|e| panic!("{e}"));
    let program = spawn_program().unwrap_or_else(|e| panic!("{e}"));
    // Small and static: no interpreter, no libc (ELF type EXEC).
    assert!(program.len() < 64 * 1024 && program[..4] == *b"\x7fELF" && program[16] == 2, "{}", program.len());
    let script = "/bin/linuxspawn 20; echo status $?\n";
    let out =
        guest.run_with(script, &[("linuxspawn", program)], Duration::from_secs(300)).unwrap_or_else(|e| panic!("{e}"));
    let line = out
        .output
        .lines()
        .find(|l| l.starts_with("linuxspawn: spawn + wait: median "))
        .unwrap_or_else(|| panic!("no figure in:\n{}", out.output));
    let (median, p99) = (number_after(line, "median "), number_after(line, "p99 "));
    assert!(median > 0 && p99 >= median, "{line}");
    assert!(line.ends_with(" cycles over 20 runs"), "{line}");
    assert!(out.output.contains("status 0"), "{}", out.output);
}

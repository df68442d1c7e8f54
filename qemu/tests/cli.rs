//! The `ux` command line as a person or a script uses it.

use std::process::Command;

fn ux(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ux")).args(args).output().expect("run ux");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_explains_the_options() {
    let (code, out, _) = ux(&["--help"]);
    assert_eq!(code, 0);
    for opt in [
        "--profile",
        "--memory",
        "--kvm",
        "--headless",
        "--bench",
        "--timeout",
        "--forward",
        "cargo ux cluster N",
        "cargo ux test",
    ] {
        assert!(out.contains(opt), "--help does not mention {opt}");
    }
}

#[test]
fn bad_arguments_are_refused_with_a_reason() {
    let (code, _, err) = ux(&["boot", "--profile", "fast"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown profile \"fast\"") && err.contains("debug"), "{err}");
    let (code, _, err) = ux(&["--memory", "lots"]);
    assert_eq!(code, 2);
    assert!(err.contains("--memory takes MiB"), "{err}");
    let (code, _, err) = ux(&["--forward", "tcp:80"]);
    assert_eq!(code, 2);
    assert!(err.contains("--forward takes tcp:HOST:NODE"), "{err}");
    let (code, _, err) = ux(&["cluster", "0"]);
    assert_eq!(code, 2);
    assert!(err.contains("cluster takes 1 to 250 nodes"), "{err}");
    let (code, _, err) = ux(&["--bench", "--only", "everything"]);
    assert_eq!(code, 2);
    assert!(err.contains("--only takes one of") && err.contains("cluster"), "{err}");
    let (code, _, err) = ux(&["cluster", "2", "--segment", "10.0.0.1:5"]);
    assert_eq!(code, 2);
    assert!(err.contains("--segment takes GROUP:PORT (a multicast group)"), "{err}");
    let (code, _, err) = ux(&["cluster", "2", "--secret", "/nonexistent/secret"]);
    assert_eq!(code, 2);
    assert!(err.contains("--secret /nonexistent/secret: no such file"), "{err}");
    let (code, _, err) = ux(&["cluster", "2", "--first", "32767"]);
    assert_eq!((code, err.contains("nodes 32767 to 32768 do not fit in 1 to 32767")), (1, true), "{err}");
    let (code, _, err) = ux(&["cluster", "2", "--first", "32768"]);
    assert_eq!((code, err.contains("--first takes 1 to 32767")), (2, true), "{err}");
    let (code, _, err) = ux(&["--frobnicate"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown argument"), "{err}");
}

#[test]
fn headless_boot_prints_the_log_and_exits_zero() {
    let (code, out, err) = ux(&["boot", "--headless", "--profile", "release"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("ux: process server on seL4 5.0.0"), "{out}");
    assert!(out.contains("ux: node ready"), "{out}");
    assert!(out.contains("s after QEMU start"), "{out}");
}

#[test]
fn headless_timeout_fails_with_the_log() {
    let (code, out, err) = ux(&["boot", "--headless", "--profile", "release", "--timeout", "0"]);
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert!(err.contains("timed out after 0 s waiting for \"ux: node ready\""), "{err}");
    assert!(err.contains("--- console ---"), "{err}");
}

/// Pids of QEMU processes whose command line has `marker`.
fn emulators_with(marker: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            cmd.contains("qemu-system") && cmd.contains(marker)
        })
        .collect()
}

/// Starts `ux ARGS` with piped standard streams, waits for `ready` on
/// its output, kills it, and checks that its emulators (recognised by
/// their unusual memory size) die with it.
fn emulators_die_with_the_tool(args: &[&str], memory: &str, ready: &str, count: usize) {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let mut child = Command::new(env!("CARGO_BIN_EXE_ux"))
        .args(args)
        .args(["--profile", "release", "--memory", memory])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run ux");
    let out = BufReader::new(child.stdout.take().unwrap());
    let ready = ready.to_string();
    let seen = std::thread::spawn(move || out.lines().map_while(Result::ok).any(|l| l.contains(&ready)));
    assert!(seen.join().unwrap(), "{args:?} never printed what it should");
    let marker = format!("-m {memory}M");
    let running = emulators_with(&marker);
    assert_eq!(running.len(), count, "{args:?}: emulators {running:?}");
    child.kill().unwrap();
    child.wait().unwrap();
    let t0 = Instant::now();
    while !emulators_with(&marker).is_empty() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "{args:?}: QEMU outlived the tool: {:?}",
            emulators_with(&marker)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn no_emulator_outlives_the_tool() {
    emulators_die_with_the_tool(&["--run", "hello"], "333", "node ready", 1);
    emulators_die_with_the_tool(&["cluster", "2"], "334", "[node2] ux: node ready", 2);
}

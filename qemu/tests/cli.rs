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

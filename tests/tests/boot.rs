//! A real seL4 node boots under QEMU TCG and shows what a user should see:
//! the banner with the kernel version and the node's memory, a first
//! process in its own address space completing an IPC round trip, and
//! readiness. Each test kills its QEMU on every path (see `qemu::node`).

use qemu::node::{Node, Options, READY};
use std::time::Duration;
use tests::line;

/// Generous: TCG on a loaded 2-core machine.
const TIMEOUT: Duration = Duration::from_secs(180);

fn boot(profile: &str, opts: &Options) -> Node {
    tests::boot(profile, opts, READY, TIMEOUT)
}

/// The console output of the programs: a debug kernel's messages
/// (`<<seL4(...)>>` and their newline, say for netstack's probe of a port
/// outside its grant) may land in the middle of a program's line.
fn without_kernel_messages(log: &str) -> String {
    let mut out = String::new();
    let mut rest = log;
    while let Some(at) = rest.find("<<seL4(") {
        out += &rest[..at];
        rest = rest[at..].find(">>").map_or("", |end| &rest[at + end + 2..]);
        rest = rest.strip_prefix('\n').unwrap_or(rest);
    }
    out + rest
}

/// The word after `before` in `line`, parsed.
fn field<T: std::str::FromStr>(line: &str, before: &str) -> T {
    let rest = line.split(before).nth(1).unwrap_or_else(|| panic!("no {before:?} in {line:?}"));
    let word = rest.split([' ', ',', '(', ')']).find(|w| !w.is_empty()).unwrap();
    word.parse().unwrap_or_else(|_| panic!("bad number {word:?} in {line:?}"))
}

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x").trim_end_matches(','), 16)
        .unwrap_or_else(|_| panic!("bad hex {s:?}"))
}

/// Memory reported by the banner, in MiB.
fn check_boot(profile: &str, opts: &Options) -> u64 {
    let node = boot(profile, opts);
    let log = without_kernel_messages(&node.log());

    let banner = line(&log, "ux: process server on seL4 ");
    assert!(banner.contains("seL4 5.0.0 (x86_64 pc99"), "{banner}");
    assert!(banner.contains(&format!("{profile} kernel")), "{banner}");
    let mem = line(&log, "ux: memory ");
    let mib: u64 = field(mem, "ux: memory ");
    let total: u64 = field(mem, " in ");
    let ram: u64 = field(mem, "capabilities (");
    let device: u64 = field(mem, "RAM, ");
    assert!(ram > 0 && device > 0 && total == ram + device, "{mem}");

    // hello writes its own probe word at the address where the process
    // server keeps its own, and reads it back after its calls; the
    // server's is unchanged afterwards. Each side sees its own value only.
    let value = |l: &str, sep: &str| hex(l.split(sep).nth(1).unwrap().split(' ').next().unwrap());
    let hello = line(&log, "hello: probe 0x400000 = ");
    let written = value(hello, " = ");
    let reread = line(&log, "hello: probe 0x400000 reads ");
    assert_eq!(value(reread, " reads "), written, "hello's own word changed:\n{hello}\n{reread}");
    let before = line(&log, "ux: probe 0x400000 = ");
    let ours = value(before, " = ");
    let after = line(&log, "in the process server after hello ran");
    let still = value(after, " = ");
    assert_eq!(still, ours, "{after}");
    assert_ne!(still, written, "the process server reads what hello wrote:\n{hello}\n{after}");
    assert!(after.ends_with("unchanged: separate address spaces"), "{after}");

    let pid = field::<u64>(line(&log, "ux: started hello as pid "), "as pid ");
    line(&log, &format!("hello: IPC round trip with the process server done: I am pid {pid}, child of 0"));
    let exit = log
        .find(&format!("ux: pid {pid} (hello) exited with status 0"))
        .unwrap_or_else(|| panic!("hello did not exit cleanly:\n{log}"));
    assert!(exit < log.find(READY).unwrap(), "ready before hello finished:\n{log}");
    mib
}

#[test]
fn debug_kernel_node_boots_and_runs_a_process() {
    let mib = check_boot("debug", &Options::default());
    assert!((400..=512).contains(&mib), "512 MiB guest reports {mib} MiB");
}

#[test]
fn release_kernel_node_boots_and_runs_a_process() {
    check_boot("release", &Options::default());
}

#[test]
fn banner_reports_the_memory_the_node_has() {
    let small = check_boot("release", &Options { memory_mib: 256, ..Options::default() });
    assert!((200..=256).contains(&small), "256 MiB guest reports {small} MiB");
}

#[test]
fn a_node_without_a_run_option_starts_the_shell() {
    let node = boot("release", &Options::default());
    node.wait_for("ux: started sh as pid", TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    let log = node.log();
    // The system description's boot programs, then the shell.
    let started: Vec<&str> = log.lines().filter(|l| l.starts_with("ux: started ")).collect();
    let names: Vec<&str> = started.iter().map(|l| l.split(' ').nth(2).unwrap()).collect();
    assert_eq!(names, ["ramfs", "devfs", "netstack", "cluster", "hello", "sh"], "{log}");
}

#[test]
fn dropping_a_node_stops_qemu() {
    let node = boot("release", &Options::default());
    let proc = std::path::PathBuf::from(format!("/proc/{}", node.pid()));
    assert!(proc.exists());
    drop(node);
    assert!(!proc.exists(), "QEMU {} still running after drop", proc.display());
}

#[test]
fn waiting_for_what_never_comes_fails_with_the_console_log() {
    let node = boot("release", &Options::default());
    let err = node.wait_for("this line is never printed", Duration::from_secs(1)).unwrap_err();
    assert!(err.reason.contains("timed out"), "{}", err.reason);
    assert!(err.log.contains(READY), "the error carries the console log");
}

/// The launcher resets a node whose kernel tick is too fast
/// (`qemu::tick`), at most three times. Told to expect a tick of 1 s, it
/// finds the kernel's 100 ms one too fast at every boot: each reset boots
/// the node again, the console says why, and waiters see the last boot
/// only.
#[test]
fn a_node_whose_tick_is_too_fast_is_reset_three_times_and_said_so() {
    let opts = Options { expect_tick: Some(Duration::from_secs(1)), ..Options::default() };
    let node = boot("release", &opts);
    assert_eq!(node.tick_resets(), qemu::tick::RESETS);
    let log = node.log();
    let resets: Vec<&str> =
        log.lines().filter(|l| l.starts_with("ux launcher: the kernel's tick comes every")).collect();
    assert_eq!(resets.len(), 3, "{log}");
    assert!(resets[0].contains("not 1000 ms") && resets[0].ends_with("resetting the node (1 of at most 3)"), "{log}");
    let period: f64 = field(resets[0], "every ");
    assert!((90.0..110.0).contains(&period), "the kernel's 100 ms tick, measured: {log}");
    assert!(log.contains("after 3 resets: the node runs so"), "{log}");
    // The last boot, from its banner to ready, comes after the last reset.
    let last = &log[log.rfind(resets[2]).unwrap()..];
    assert_eq!(last.matches("ux: process server on seL4").count(), 1, "{log}");
    assert_eq!(last.matches(READY).count(), 1, "{log}");
}

/// `cargo ux` boots the user's image: the system's programs and the
/// commands in `/bin`, none of the test programs or benchmarks, which
/// only the test image holds.
#[test]
fn the_users_image_holds_no_test_programs() {
    use qemu::image::{programs, Flavour, Kind, PROGRAMS};
    let image = qemu::prepare_image("release", Flavour::User).unwrap_or_else(|e| panic!("build failed: {e}"));
    let opts = Options { run: Some("ls /bin".into()), ..Options::default() };
    let node = Node::start(&image, &opts, false).unwrap_or_else(|e| panic!("{e}"));
    node.wait_for(qemu::node::IDLE, TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    let log = without_kernel_messages(&node.log());
    let listed: Vec<&str> = log
        .lines()
        .skip_while(|l| !l.starts_with("ux: started ls"))
        .skip(1)
        .take_while(|l| !l.starts_with("ux: "))
        .filter(|l| !l.starts_with("netstack: "))
        .collect();
    let mut user = programs(Flavour::User);
    user.sort_unstable();
    assert_eq!(listed, user, "{log}");
    for test in PROGRAMS.iter().filter(|p| p.kind == Kind::Test) {
        assert!(!listed.contains(&test.name), "{} in the user's image:\n{log}", test.name);
    }
    assert!(programs(Flavour::Test).len() > user.len());
}

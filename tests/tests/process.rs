//! The process API on a real node: lifecycle, memory, faults, redirection
//! and robustness, driven by the test programs of the boot image
//! (`workloads/`, `bench/`) started with `--run`. Each program prints `... ok ...` or
//! `... FAIL ...` lines; the tests also check the figures they print.

use qemu::node::{Options, IDLE, READY};
use std::time::Duration;
use tests::{line, number_after};

const TIMEOUT: Duration = Duration::from_secs(600);

/// Boots a node of kernel `profile` that runs `cmd`, waits until every
/// program has ended, and returns the console log.
fn run_on(profile: &str, cmd: &str, memory_mib: u32) -> String {
    run_within(profile, cmd, memory_mib, TIMEOUT)
}

/// `cmd` on a node of `profile`, given `limit` to finish.
fn run_within(profile: &str, cmd: &str, memory_mib: u32, limit: Duration) -> String {
    let opts = Options { run: Some(cmd.into()), memory_mib, ..Options::default() };
    let node = tests::boot(profile, &opts, READY, TIMEOUT);
    node.wait_for(IDLE, limit).unwrap_or_else(|e| panic!("{e}"));
    let log = node.log();
    let fails: Vec<&str> = log.lines().filter(|l| l.contains("FAIL")).collect();
    assert!(fails.is_empty(), "a check failed:\n{log}");
    log
}

fn run_with(cmd: &str, memory_mib: u32) -> String {
    run_on("release", cmd, memory_mib)
}

fn run(cmd: &str) -> String {
    run_with(cmd, 512)
}

/// The pid of the `--run` program (processes it starts follow in order).
fn run_pid(log: &str) -> u64 {
    let l = log.lines().find(|l| l.starts_with("ux: started ") && !l.contains("(priority")).expect("a started line");
    number_after(l, " as pid ")
}

/// The process server's reports of its finite resources (untyped memory,
/// processes, root slots, buffers, namespaces) before and after the run.
fn reports(log: &str) -> (&str, &str) {
    let all: Vec<&str> =
        log.lines().filter(|l| l.starts_with("ux: ") && l.contains("KiB of untyped memory free")).collect();
    assert_eq!(all.len(), 2, "expected two resource reports:\n{log}");
    (all[0], all[1])
}

/// Every finite resource of the process server is back where it was
/// before the run.
fn assert_all_returned(log: &str) {
    let (before, after) = reports(log);
    assert_eq!(before, after, "resources not returned:\n{log}");
    for table in [" processes, ", " root slots free, ", " buffers, ", " namespaces"] {
        assert!(before.contains(table), "{table:?} missing from the report {before:?}");
    }
}

#[test]
fn hundred_concurrent_children_each_collected_once_and_memory_returned() {
    let log = run("spawner many 100");
    line(&log, "spawner: ok collected 100 distinct exit statuses exactly once");
    line(&log, "(spawner) exited with status 0");
    assert_all_returned(&log);
}

/// The debug kernel takes the devices' interrupts at its preemption
/// points while 200 processes come and go: with its stack misaligned
/// (before `base.config` aligned it), this overwrote the IDT and faulted.
#[test]
fn spawning_under_interrupts_on_the_debug_kernel() {
    let log = run_on("debug", "spawner many 200", 512);
    line(&log, "spawner: ok collected 200 distinct exit statuses exactly once");
    line(&log, "(spawner) exited with status 0");
    assert!(!log.contains("KERNEL EXCEPTION") && !log.contains("fault"), "{log}");
}

#[test]
fn orphans_are_reparented_and_no_zombie_is_left() {
    let log = run("spawner orphans");
    assert_eq!(log.matches("re-parented to the process server").count(), 3, "{log}");
    line(&log, "spawner: ok grandchildren re-parented and reaped");
    assert_all_returned(&log);
}

#[test]
fn ten_thousand_spawns_leak_nothing() {
    let log = run("spawner loop 10000");
    let ok = line(&log, "spawner: ok 10000 spawn/exit rounds");
    let (start, max) = (number_after(ok, "server heap "), number_after(ok, "at most "));
    assert!(max - start < 16 * 1024, "process server heap grew from {start} to {max} bytes");
    assert_all_returned(&log);
}

/// Programs that are files (`exec`): copies of `true` in /tmp run, 10,000
/// times without a leak; each broken image
/// gets its own clear error, and the node's memory and tables come back
/// after them; two copies of `cat` share their code.
#[test]
fn programs_in_files_run_and_broken_images_are_refused_clearly() {
    // About 4 minutes alone under TCG; more beside the other tests.
    let log = run_within("release", "spawner images 10000", 512, Duration::from_secs(1500));
    let ok =
        line(&log, "spawner: ok 10 broken images refused, resources unchanged; two copies of a file's cat shared ");
    assert!(ok.ends_with(" KiB of code; 10000 runs of a file's program leaked nothing"), "{ok}");
    // Its code is tens of KiB (64-68 as built today), not a page or two.
    let shared = tests::number_after(ok, "cat shared ");
    assert!((32..=256).contains(&shared), "{ok}");
    for (name, why) in [
        ("text", "not an ELF file"),
        ("truncated", "truncated"),
        ("machine", "not a static x86_64 ELF64 executable"),
        ("ipcbuffer", "lies outside 0x1000..0x30000000 (the stack, IPC buffer and heap)"),
        ("overlap", "overlaps the one before"),
        ("entry", "entry point outside executable code"),
        ("huge", "out of memory"),
        ("dir", "is a directory"),
        ("writing", "truncated"),
        ("none", "file does not exist"),
    ] {
        // (Segment errors name the segment: the last of `true`'s.)
        let said = line(&log, &format!("exec: /tmp/images/{name}: "));
        assert!(said.ends_with(why), "{said:?} does not end with {why:?}");
    }
}

/// Under an intermediary, `Exec` is relayed like any call, and the new
/// program's calls still go through it.
#[test]
fn a_traced_program_stays_traced_across_exec() {
    let log = run("tracer spawner images 2");
    line(&log, "spawner: ok 10 broken images refused");
    let exec = line(&log, "] Exec(Exec { image: ");
    let pid = number_after(exec, "tracer: [");
    assert!(exec.ends_with("= Some(Ok(Done))"), "{exec}");
    let after = &log[log.find(exec).unwrap()..];
    let exited = format!("tracer: [{pid}] Exit {{ status: ");
    assert!(after.lines().any(|l| l.starts_with(&exited)), "no Exit of {pid} after its Exec:\n{log}");
}

#[test]
fn a_full_process_table_is_an_error_and_spawning_works_afterwards() {
    let log = run("spawner table");
    let ok = line(&log, "spawner: ok a full process table took ");
    // 4096 records, less the system's processes and the spawner.
    let full = number_after(ok, "took ");
    assert!((4080..4096).contains(&full), "{ok}");
    assert!(ok.contains("then: out of memory"), "{ok}");
    // Each full table returns everything: the second costs nothing more
    // than the first, and the node ends as it was ready.
    let after = |round: &str| {
        let prefix = format!("spawner: after the {round} full table: ");
        let l = line(&log, &prefix);
        l[l.find(&prefix).unwrap() + prefix.len()..].to_string()
    };
    let (first, second) = (after("first"), after("second"));
    assert_eq!(first, second, "resources not returned by the second full table:\n{log}");
    assert_all_returned(&log);
}

#[test]
fn the_servers_heap_grows_and_programs_in_files_still_run() {
    let log = run("spawner grown");
    let ok = line(&log, "spawner: ok a full process table took ");
    // The table's records outgrew the process server's first heap region
    // (1 MiB, in its image) into the window it maps as it grows, which
    // leaves the rest of its address space alone (an exec's view: a file's
    // program failed to run once the heap had grown over it).
    let heap = number_after(ok, "server heap ");
    assert!(heap > 1024 && ok.ends_with("; then a file's program ran"), "{ok}");
}

#[test]
fn faults_are_reported_with_kind_and_address_and_the_node_goes_on() {
    let log = run("spawner faults");
    let page = line(&log, "spawner: faulter page: PageFault");
    assert!(page.ends_with("address 0xdead0000"), "{page}");
    let write = line(&log, "spawner: faulter write: PageFault");
    let addr = u64::from_str_radix(write.rsplit("0x").next().unwrap(), 16).unwrap();
    let code = libux::layout::IMAGE_BASE..libux::layout::IMAGE_BASE + 0x10000;
    assert!(code.contains(&addr), "write fault outside the program's code: {write}");
    line(&log, "spawner: faulter ud: InvalidOpcode");
    line(&log, "spawner: faulter div: DivideError");
    line(&log, "spawner: faulter gp: GeneralProtection");
    // A receive on the process server connection: a capability fault on
    // slot 1 (it carries calls only), not someone else's call.
    let steal = line(&log, "spawner: faulter steal: Other(1)");
    assert!(steal.ends_with("address 0x1"), "{steal}");
    // Past the stack's 64 KiB (mapped as touched: 48 KiB worked), into
    // the unmapped guard page below it.
    line(&log, "faulter: deep: 48 KiB of stack used, no fault");
    let overflow = line(&log, "spawner: faulter overflow: PageFault");
    let addr = u64::from_str_radix(overflow.rsplit("0x").next().unwrap(), 16).unwrap();
    // (The kernel reports the low 32 bits of a fault's address.)
    let top = libux::layout::STACK_TOP;
    let guard = top - 17 * 4096..top - 16 * 4096;
    let low = |a: u64| a & 0xffff_ffff;
    assert!((low(guard.start)..low(guard.end)).contains(&low(addr)), "{overflow} not in the guard page {guard:x?}");
    for kind in ["page", "write", "ud", "div", "gp", "steal", "overflow"] {
        let l = line(&log, &format!("spawner: faulter {kind}:"));
        assert!(number_after(l, "ip 0x") > 0, "{l}");
    }
    line(&log, "spawner: ok faults reported: page write ud div gp steal overflow");
    line(&log, "(spawner) exited with status 0");
}

#[test]
fn stopped_processes_make_no_progress_until_continued() {
    let log = run("spawner stopcont");
    line(&log, "spawner: ok a stopped child made no progress in 5000 of our time slices and finished after Cont");
    // Stopping a process cancels the Wait it hangs in; continued, it waits
    // again and is answered.
    line(&log, "; a Wait stopped and continued was answered");
    line(&log, "spawner: ok waitchild: the Wait was answered");
    assert_all_returned(&log);
}

#[test]
fn memory_exhaustion_is_an_error_and_spawning_works_afterwards() {
    // A 64 MiB node: RAM runs out before the per-process slot quota.
    let log = run_with("spawner oom", 64);
    let hog = line(&log, "memhog: mapped ");
    assert!(hog.ends_with("then: out of memory"), "{hog}");
    assert!(number_after(hog, "mapped ") > 16, "exhausted too early: {hog}");
    line(&log, "spawner: ok spawning works again after memory exhaustion");
}

#[test]
fn allocating_and_freeing_in_a_loop_keeps_memory_bounded() {
    let log = run("memhog loop 200");
    line(&log, "memhog: ok 200 rounds of allocation and freeing");
    line(&log, "memhog: ok unmapped frames reused");
    assert_all_returned(&log);
}

/// The calls the tracer logged for `pid`, without the reply.
fn calls_of(log: &str, pid: u64) -> Vec<String> {
    let prefix = format!("tracer: [{pid}] ");
    log.lines().filter_map(|l| l.strip_prefix(&prefix)).map(|l| l.split(" = ").next().unwrap().to_string()).collect()
}

#[test]
fn tracer_sees_exactly_the_calls_of_a_child_and_a_grandchild() {
    let untraced = run("spawner chain");
    let traced = run("tracer spawner chain");
    // Behaves as untraced.
    let ok = "spawner: ok chain: child exited with status 5";
    line(&untraced, ok);
    line(&traced, ok);
    line(&traced, "tracer: done");

    // The tracer, then the traced spawner, then its child `true 5`. The
    // heap's first pages are mapped at spawn: no call maps them.
    let (spawner, grandchild) = (run_pid(&traced) + 1, run_pid(&traced) + 2);
    assert_eq!(calls_of(&traced, grandchild), ["Exit { status: 5 }"], "{traced}");
    let child = calls_of(&traced, spawner);
    assert!(child[0].starts_with("Spawn(Spawn { path: \"/bin/true\", argv: [\"true\", \"5\"]"), "{child:?}");
    // One wait, answered when the grandchild has ended (no polling).
    assert_eq!(child[1], format!("Wait {{ pid: Some({grandchild}), hang: true }}"), "{child:?}");
    assert!(child[2].starts_with("Write { bytes: "), "{child:?}");
    assert_eq!(child[3..], ["Exit { status: 0 }"], "{child:?}");
    let wait = traced.lines().find(|l| l.starts_with(&format!("tracer: [{spawner}] Wait"))).unwrap();
    let reaped = format!("Waited(Some(Waited {{ pid: {grandchild}, end: Exited(5) }}))))");
    assert!(wait.ends_with(&reaped), "{wait}");
    // Nobody else went through the tracer.
    let pids: std::collections::BTreeSet<&str> =
        traced.lines().filter_map(|l| l.strip_prefix("tracer: [")).map(|l| l.split(']').next().unwrap()).collect();
    assert_eq!(pids.into_iter().collect::<Vec<_>>(), [spawner.to_string(), grandchild.to_string()]);
}

/// A tracer traced by another: the inner one's relays reach the outer one
/// as relays for the inner one's clients, and the process server accepts
/// them from either.
#[test]
fn a_tracer_works_under_another_tracer() {
    let log = run("tracer tracer spawner chain");
    line(&log, "spawner: ok chain: child exited with status 5");
    let (outer, inner) = (run_pid(&log), run_pid(&log) + 1);
    let (spawner, grandchild) = (inner + 1, inner + 2);
    // The inner tracer logs the calls as a single tracer does; the outer
    // one sees the same calls, relayed by the inner one.
    let inner_calls = calls_of(&log, spawner);
    let relayed_prefix = format!("tracer: [{spawner} via {inner}] ");
    let outer_calls: Vec<String> = log
        .lines()
        .filter_map(|l| l.strip_prefix(&relayed_prefix))
        .map(|l| l.split(" = ").next().unwrap().to_string())
        .collect();
    assert_eq!(inner_calls, outer_calls, "{log}");
    assert!(inner_calls.contains(&format!("Wait {{ pid: Some({grandchild}), hang: true }}")), "{log}");
    assert_eq!(log.matches("tracer: done").count(), 2, "{log}");
    line(&log, &format!("ux: pid {outer} (tracer) exited with status 0"));
    assert_all_returned(&log);
}

/// A thread waiting in a read through the window onto a server does not
/// make another thread's write there go in parts: a call of 1,225 bytes
/// to `/proc/cluster/call` is answered whole.
#[test]
fn a_message_goes_whole_while_another_thread_waits_on_the_server() {
    let log = run("spawner message");
    let ok = line(&log, "spawner: ok a ");
    assert!(ok.contains("-byte call went whole while a thread waited in a read"), "{log}");
}

/// Threads share the process and run at once: one blocked in a `Wait`
/// that only ends when the others have finished keeps none of them
/// waiting, directly and through a relaying intermediary (whose threads
/// serve other calls while one relays the wait).
#[test]
fn threads_run_while_one_waits_also_under_an_intermediary() {
    for cmd in ["spawner threads", "tracer spawner threads"] {
        let log = run(cmd);
        line(&log, "spawner: ok 14 threads made 500 calls each while one waited; a second round took no memory");
        assert_all_returned(&log);
    }
}

#[test]
fn a_thread_that_faults_ends_its_process() {
    let log = run("spawner threadfault");
    line(&log, &format!("ux: pid {} (spawner) faulted: InvalidOpcode", run_pid(&log)));
    assert_all_returned(&log);
}

#[test]
fn malformed_requests_get_errors_and_the_server_survives() {
    let log = run("rpcfuzz 3000");
    line(&log, &format!("rpcfuzz: 3000 of 3000 malformed messages answered; pid {} still served", run_pid(&log)));
    line(&log, "(rpcfuzz) exited with status 0");
}

#[test]
fn benchmarks_report_figures_and_ratios() {
    let log = run("ipcbench");
    // Figures only: which is faster is for `cargo ux --bench` to show, not
    // for a test on a loaded machine to assert. The ratios printed must be
    // the medians' (two decimals, truncated).
    let ratio = |a: u64, b: u64| format!("{}.{:02} x", a * 100 / b / 100, a * 100 / b % 100);
    let raw = line(&log, "ipcbench: IPC round trip (Call + ReplyRecv");
    let null = line(&log, "ipcbench: null system call");
    let (raw_med, null_med) = (number_after(raw, "median "), number_after(null, "median "));
    assert!(raw_med > 0 && null_med > 0, "{raw}\n{null}");
    assert!(raw.ends_with(&format!("; {} a null system call", ratio(raw_med, null_med))), "{raw}\n{null}");
    assert!(number_after(raw, "over ") >= 10_000);
    let direct = line(&log, "ipcbench: GetPid straight");
    let relayed = line(&log, "ipcbench: GetPid through a relaying intermediary");
    let (direct_med, relayed_med) = (number_after(direct, "median "), number_after(relayed, "median "));
    assert!(direct_med > 0 && relayed_med > 0, "{direct}\n{relayed}");
    assert!(relayed.ends_with(&format!("; {} straight", ratio(relayed_med, direct_med))), "{direct}\n{relayed}");
    let spawn = line(&log, "ipcbench: spawn + wait of `true`: ");
    assert!(number_after(spawn, "p99 ") >= number_after(spawn, "median "));
    let file = line(&log, "ipcbench: spawn + wait of `true` from a file");
    let (file_med, spawn_med) = (number_after(file, "median "), number_after(spawn, "median "));
    assert!(number_after(file, "p99 ") >= file_med, "{file}");
    assert!(file.ends_with(&format!("({:.1} x the boot image's)", file_med as f64 / spawn_med as f64)), "{file}");
    // The breakdown: a file's program costs its `exec` too.
    let work = |prefix: &str| {
        let l = line(&log, prefix);
        let n = |key: &str| l.split(key).next().unwrap().rsplit(' ').next().unwrap().parse::<f64>().unwrap();
        (n(" process server calls"), n(" kernel objects made"), n(" pages filled"), n(" frames mapped"))
    };
    let boot = work("ipcbench: per spawn + wait of `true`: ");
    let file = work("ipcbench: per spawn + wait of `true` from a file: ");
    assert!(boot.0 >= 2.0 && boot.1 > 0.0 && boot.2 > 0.0 && boot.3 > 0.0, "{boot:?}");
    assert!(file.0 > boot.0 && file.1 > boot.1 && file.3 > boot.3, "{file:?} against {boot:?}");
    // A boot program's code is the image's own pages: its first process
    // costs no more than a second (a file's sharing: `spawner images`).
    let two = line(&log, "ipcbench: a first `sleep` takes ");
    let (first, second) = (number_after(two, "takes "), number_after(two, "a second "));
    assert!(first > 0 && first == second, "the first sleep paid for its code: {two}");
    let mem = line(&log, "ipcbench: one minimal live process holds ");
    let kib = number_after(mem, "holds ");
    assert!(kib > 0 && kib.is_multiple_of(64), "{mem}");
}

#[test]
fn system_description_grants_device_memory() {
    let log = run("devprobe");
    // qboot's reset vector: a near jump to its start at f000:ff80.
    line(&log, "devprobe: reset vector at 0xffff0: a near jump to 0xf000:0xff80");
}

#[test]
fn spawned_programs_get_no_device_grants() {
    let log = run("spawner nogrants");
    // The devprobe, started by the spawner rather than the process server,
    // faults where the grant would have mapped the firmware's page.
    line(&log, "spawner: ok a spawned devprobe got no device grants");
}

#[test]
fn large_spawn_requests_travel_in_the_shared_buffer_also_through_an_intermediary() {
    for cmd in ["spawner args", "tracer spawner args"] {
        let log = run(cmd);
        line(&log, "spawner: ok a 2000-byte argument and the environment arrived intact");
    }
    let traced = run("tracer spawner args");
    // The tracer relays the big request without seeing it.
    let spawn = line(&traced, "(request in shared buffer)");
    assert!(spawn.ends_with(&format!("= Some(Ok(Pid({})))", run_pid(&traced) + 2)), "{spawn}");
}

#[test]
fn harmful_requests_are_refused_and_the_server_lives_on() {
    let log = run("spawner guards");
    line(
        &log,
        "spawner: ok bad redirects, Cont, endpoint slots, huge mappings, placed children refused; long names kept safely",
    );
}

#[test]
fn killing_an_intermediary_ends_the_processes_it_served() {
    let log = run("tracer spawner killtracer");
    let tracer = run_pid(&log);
    line(&log, &format!("spawner: killing my tracer, pid {tracer}"));
    line(&log, &format!("ux: pid {tracer} (tracer) was killed"));
    line(&log, &format!("ux: pid {} (spawner) was killed", tracer + 1));
    assert!(!log.contains("still running after killing the tracer"), "{log}");
}

#[test]
fn files_in_the_ramfs() {
    files_in_the_ramfs_on("release");
}

/// `cargo ux` boots the debug kernel: the file checks on it too.
#[test]
fn files_in_the_ramfs_on_the_debug_kernel() {
    files_in_the_ramfs_on("debug");
}

fn files_in_the_ramfs_on(profile: &str) {
    let log = run_on(profile, "filetest", 512);
    for check in [
        "1 MiB written and read back, checksum",
        "stat gives the size written",
        "list shows what was made",
        "rename within a directory, by relative path",
        "remove of a non-empty directory refused",
        "no space after",
        "writing works again after deleting",
        "missing file",
        "NUL in a path",
        "4 KiB path",
        "write to a read-only descriptor",
        "open a directory for writing",
        "truncate without write refused",
        "chdir to a file refused",
        "read of a never-opened descriptor",
        "read past the table",
        "read of a closed descriptor",
        "close of a closed descriptor",
        "write to /bin refused",
        "remove in /bin refused",
        "/bin/ls is an ELF image",
        "/proc/self/status is the reader's",
        "args lists argv",
        "spawned by /proc/spawn, reaped by Wait",
        "a /proc/spawn line's quoted words",
        "a /proc/spawn line with an open quote refused",
        "ctl stop shows in status",
        "Cont of a process stopped through ctl",
        "ctl refuses a bad word",
        "wait file gives the end",
        "the wait file reaped it for its parent",
        "a reaped process leaves /proc",
        "wait file blocks until the exit",
        "status is read-only",
        "a mount takes over its path",
        "a second mount at one path refused",
        "after unmount the path is ramfs's again",
        "unmount of another's mount refused",
        "unmount of no mount point refused",
        "a child with no window passed its checks",
        "a write through the window of a ramfs of our own",
        "a window outlives its server: transfers fail, they do not fault",
        "/proc/self/ns lists the system's mounts",
        "a child with a namespace of its own passed its checks",
        "the child's mount never showed here",
        "an orphan passed its checks",
    ] {
        line(&log, &format!("filetest: ok {check}"));
    }
    for check in [
        "outside /n, no mount in the system's namespace",
        "a namespace of its own takes a mount anywhere",
        "/proc/self/ns shows the mount",
        "the parent's namespace has no such mount",
        "the parent's mount is seen",
        "a child spawned afterwards shares the namespace",
        "a fifth mount refused",
        "a mount point with a control character refused",
        "outside /n, no mount in a namespace it did not make",
        "an orphan mounts outside /n no more than before",
        "after unmount the path is ramfs's again",
    ] {
        line(&log, &format!("filetest-ns: ok {check}"));
    }
    for server in ["ramfs", "devfs", "cluster"] {
        for check in [
            "refuses a read into a window never asked for",
            "refuses a write from a window never asked for",
            "serves on",
        ] {
            line(&log, &format!("filetest-windows: ok {server} {check}"));
        }
    }
    line(&log, "filetest: done");
}

#[test]
fn io_benchmark_runs_clean() {
    // Its figures are for `cargo ux --bench`; here it must only work:
    // 16 MiB through the window and through registers, cat to /dev/null.
    let log = run("iobench");
    for figure in ["through the window:", "through message registers only:", "cat of 16 MiB", "open+read+close"] {
        line(&log, figure);
    }
    line(&log, "(iobench) exited with status 0");
}

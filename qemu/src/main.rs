//! `ux` (run as `cargo ux`): build and boot the system, run its tests.
//! See `cargo ux --help`.

use qemu::image::Flavour;
use qemu::node::{self, Node, Options, IDLE, READY};
use qemu::{prepare, prepare_image, step, workspace};
use std::process::{Command, ExitCode};
use std::time::Duration;

mod bench_shell;
mod cluster_bench;
mod net_bench;
mod ninep_bench;
mod spawn_bench;
mod v9fs_bench;

const HELP: &str = "\
cargo ux: build and run the seL4 cluster OS

USAGE:
    cargo ux [boot] [OPTIONS]     build everything and boot one node in QEMU
    cargo ux build [--profile P]  build the kernel and boot image only
    cargo ux cluster N [OPTIONS]  boot N nodes on one Ethernet segment (node k is
                                  10.1.H.L/16 there, H and L the bytes of k: node 3
                                  is 10.1.0.3, node 300 10.1.1.44); print their consoles, each
                                  line labelled [nodeK], also logged to
                                  target/ux/cluster/nodeK.log; a typed line
                                  `K: TEXT` goes to node K (and later lines
                                  too, until another K:); Ctrl-C stops all.
                                  Prints the segment (GROUP:PORT) and the
                                  secret's file, to add nodes from another run:
        --segment GROUP:PORT      join that segment (QEMU multicast) instead of
                                  making one
        --secret FILE             the cluster's secret (hex), e.g. the file the
                                  first run printed; default: a new one
        --first K                 number the nodes from K (default 1; up to 32767)
        --features A,B            features the nodes declare
    cargo ux test [ARGS...]       set up the host, build, check formatting and
                                  lints, and run every test (ARGS go to cargo test)
    cargo ux new DIR              make a crate for a program of your own at DIR
                                  (outside this workspace), depending on this
                                  checkout's libux; build it with `cargo build
                                  --release` there and run the ELF it makes from
                                  any file on a node (README: Your own programs)

BOOT OPTIONS:
    --profile P      kernel profile from kernel-config/profiles: debug (default,
                     kernel printing on; --bench defaults to release) or release
    --memory MIB     guest memory in MiB (default 512)
    --kvm            use KVM instead of TCG emulation: for real hardware only;
                     seL4 does not run under these machines' KVM
    --headless       no interactive console: wait until the node is ready, print
                     the boot log and exit 0 (non-zero with the log on failure or
                     timeout)
    --run CMD        start the command line CMD (`program arg...`, a program of
                     the boot image) once the node is ready; with --headless,
                     wait until it has ended
    --bench          headless boots that run the in-guest benchmarks (ipcbench,
                     iobench), then two-node clusters for the network and 9P
                     figures next to the host's loopback; reports them with the
                     time from QEMU start to ready (on the test image)
    --only GROUP     with --bench: only that group's figures (ipcbench,
                     iobench, net, ninep, v9fs, cluster, scale: the
                     largest cluster that forms)
    --tests          boot the test image: the test programs and benchmarks
                     (spawner, memhog, filetest, ipcbench, ...) in /bin too,
                     and the test system description (kernel-config/system-
                     test.desc); without it /bin has the system's programs
                     and the commands only
    --timeout SECS   how long --headless and --bench wait (default 120)
    --forward P:HOST:NODE
                     forward 127.0.0.1:HOST (P = tcp or udp) to the node's port
                     NODE (in a cluster, node k gets HOST + k - 1); repeatable

The first run installs what is missing (QEMU from Debian, the rustup target
x86_64-unknown-none, seL4's Python generator packages in target/ux/venv) and
builds the kernel; later runs reuse the cached build. In the interactive
console, Ctrl-A X quits QEMU.
";

struct Args {
    command: String,
    profile: String,
    opts: Options,
    headless: bool,
    bench: bool,
    /// `--only GROUP`: the benchmark group to run.
    only: Option<String>,
    /// Boot the test image (`--tests`).
    flavour: Flavour,
    timeout: Duration,
    rest: Vec<String>,
    /// `cluster N`.
    nodes: usize,
    /// `cluster --segment, --secret`.
    join: qemu::cluster::Join,
    /// `cluster --first K`.
    first: u16,
}

fn parse(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut a = Args {
        command: "boot".into(),
        profile: String::new(),
        opts: Options::default(),
        headless: false,
        bench: false,
        only: None,
        flavour: Flavour::User,
        timeout: Duration::from_secs(120),
        rest: Vec::new(),
        nodes: 0,
        join: qemu::cluster::Join::default(),
        first: 1,
    };
    let mut first = true;
    while let Some(arg) = argv.next() {
        let mut value = |name: &str| argv.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "boot" | "build" | "test" if first => a.command = arg,
            "new" if first => {
                a.command = arg;
                a.rest.push(value("new")?);
            }
            "cluster" if first => {
                a.command = arg;
                let n = value("cluster")?;
                a.nodes = n
                    .parse()
                    .ok()
                    .filter(|n| (1..=qemu::cluster::MAX_NODES).contains(n))
                    .ok_or_else(|| format!("cluster takes 1 to {} nodes, not {n:?}", qemu::cluster::MAX_NODES))?;
            }
            _ if a.command == "test" => a.rest.push(arg),
            "-h" | "--help" => a.command = "help".into(),
            "--profile" => {
                a.profile = value("--profile")?;
                if !kernel_config::PROFILES.contains(&a.profile.as_str()) {
                    return Err(format!(
                        "unknown profile {:?}; choose one of {:?}",
                        a.profile,
                        kernel_config::PROFILES
                    ));
                }
            }
            "--memory" => {
                let v = value("--memory")?;
                a.opts.memory_mib = v.parse().map_err(|_| format!("--memory takes MiB, not {v:?}"))?;
            }
            "--timeout" => {
                let v = value("--timeout")?;
                a.timeout = Duration::from_secs(v.parse().map_err(|_| format!("--timeout takes seconds, not {v:?}"))?);
            }
            "--kvm" => a.opts.kvm = true,
            "--forward" => {
                let v = value("--forward")?;
                a.opts.forwards.push(
                    parse_forward(&v)
                        .ok_or_else(|| format!("--forward takes tcp:HOST:NODE or udp:HOST:NODE (ports), not {v:?}"))?,
                );
            }
            "--run" => a.opts.run = Some(value("--run")?),
            "--headless" => a.headless = true,
            "--bench" => a.bench = true,
            "--only" => {
                let v = value("--only")?;
                if !BENCH_GROUPS.contains(&v.as_str()) {
                    return Err(format!("--only takes one of {BENCH_GROUPS:?}, not {v:?}"));
                }
                a.only = Some(v);
            }
            "--tests" => a.flavour = Flavour::Test,
            "--segment" => {
                let v = value("--segment")?;
                a.join.segment = Some(
                    qemu::cluster::Segment::parse(&v)
                        .ok_or_else(|| format!("--segment takes GROUP:PORT (a multicast group), not {v:?}"))?,
                );
            }
            "--secret" => {
                let v = value("--secret")?;
                if !std::path::Path::new(&v).is_file() {
                    return Err(format!("--secret {v}: no such file"));
                }
                a.join.secret = Some(v.into());
            }
            "--first" => {
                let v = value("--first")?;
                a.first = v
                    .parse()
                    .ok()
                    .filter(|k| (1..=qemu::cluster::MAX_NUMBER).contains(k))
                    .ok_or_else(|| format!("--first takes 1 to {}, not {v:?}", qemu::cluster::MAX_NUMBER))?;
            }
            "--features" => a.opts.features = value("--features")?,
            other => return Err(format!("unknown argument {other:?} (see cargo ux --help)")),
        }
        first = false;
    }
    if a.profile.is_empty() {
        // Benchmarks on the debug kernel would time its assertions and
        // printing.
        a.profile = if a.bench { "release" } else { "debug" }.into();
    }
    Ok(a)
}

fn parse_forward(v: &str) -> Option<node::Forward> {
    let mut parts = v.split(':');
    let udp = match parts.next()? {
        "tcp" => false,
        "udp" => true,
        _ => return None,
    };
    let host = parts.next()?.parse().ok().filter(|&p| p != 0)?;
    let node = parts.next()?.parse().ok().filter(|&p| p != 0)?;
    parts.next().is_none().then_some(node::Forward { udp, host, node })
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match args.command.as_str() {
        "help" => {
            print!("{HELP}");
            Ok(())
        }
        "build" => prepare_image(&args.profile, args.flavour).map(|img| {
            println!("kernel:     {}", img.kernel.elf32.display());
            println!("root task:  {}", img.rootserver.display());
            println!("programs:   {} (fw_cfg opt/ux/bootfs)", img.bootfs.display());
        }),
        "test" => test(&args.rest),
        "new" => qemu::template::new(std::path::Path::new(&args.rest[0])).map(|name| {
            println!("made {name} at {}: cd there and `cargo build --release`", args.rest[0]);
        }),
        "cluster" => cluster(&args),
        _ if args.bench => bench(&args),
        _ if args.headless => headless(&args),
        _ => interactive(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn interactive(args: &Args) -> Result<(), String> {
    let image = prepare_image(&args.profile, args.flavour)?;
    step("booting one node under QEMU (Ctrl-A X quits; Ctrl-C goes to the node)");
    let seed = qemu::private::Seed::new()?;
    let status = node::command(&image, &args.opts, &seed)
        .args([
            "-chardev",
            "stdio,id=console,mux=on,signal=off",
            "-serial",
            "chardev:console",
            "-mon",
            "chardev=console",
        ])
        .status()
        .map_err(|e| format!("cannot start QEMU: {e}"))?;
    status.success().then_some(()).ok_or_else(|| format!("QEMU exited with {status}"))
}

fn cluster(args: &Args) -> Result<(), String> {
    if usize::from(args.first) + args.nodes - 1 > usize::from(qemu::cluster::MAX_NUMBER) {
        return Err(format!(
            "nodes {} to {} do not fit in 1 to {}",
            args.first,
            usize::from(args.first) + args.nodes - 1,
            qemu::cluster::MAX_NUMBER
        ));
    }
    let image = prepare_image(&args.profile, args.flavour)?;
    step(&format!("booting {} nodes on one segment (Ctrl-C stops them all)", args.nodes));
    let opts: Vec<Options> = (0..args.nodes)
        .map(|k| {
            let forwards = args.opts.forwards.iter().map(|f| node::Forward { host: f.host + k as u16, ..*f }).collect();
            Options { forwards, ..args.opts.clone() }
        })
        .collect();
    let cluster = qemu::cluster::start_on(&image, &opts, true, &args.join, args.first)?;
    println!(
        "cluster: segment {}, secret in {}; more nodes: cargo ux cluster N --segment {} --secret {} --first {}",
        cluster.segment,
        cluster.secret.display(),
        cluster.segment,
        cluster.secret.display(),
        usize::from(args.first) + args.nodes
    );
    std::thread::scope(|scope| {
        scope.spawn(|| route_input(&cluster));
        // Until every node has stopped (or we are interrupted: the nodes
        // die with us).
        for node in &cluster.nodes {
            let _ = node.wait_for("\u{0}never printed", Duration::from_secs(10 * 365 * 86_400));
        }
        std::process::exit(0)
    })
}

/// Sends the terminal's lines to the nodes' consoles: `K: TEXT` to node
/// number K, which later lines without a prefix go to as well (the first
/// node at first).
fn route_input(cluster: &qemu::cluster::Cluster) {
    let mut to = 0;
    for line in std::io::stdin().lines().map_while(Result::ok) {
        let k = line.split_once(':').and_then(|(k, t)| Some((k.trim().parse::<u16>().ok()?, t)));
        let text = match k.and_then(|(k, t)| Some((cluster.numbers.iter().position(|&n| n == k)?, t))) {
            Some((at, t)) => {
                to = at;
                t.strip_prefix(' ').unwrap_or(t)
            }
            None => &line,
        };
        if cluster.nodes[to].type_text(&format!("{text}\n")).is_err() {
            eprintln!("node {} is gone", cluster.numbers[to]);
        }
    }
}

fn headless(args: &Args) -> Result<(), String> {
    let image = prepare_image(&args.profile, args.flavour)?;
    step("booting one node under QEMU, headless");
    let node = Node::start(&image, &args.opts, false)?;
    let ready = node.wait_for(READY, args.timeout).map_err(|e| e.to_string())?;
    if args.opts.run.is_some() {
        node.wait_for(IDLE, args.timeout).map_err(|e| e.to_string())?;
    }
    print!("{}", node.log());
    println!("node ready {:.2} s after QEMU start", ready.as_secs_f64());
    Ok(())
}

/// The benchmark programs, each on a node of its own.
const BENCHMARKS: &[&str] = &["ipcbench", "iobench"];
/// What `--only` may name: the in-guest benchmarks, then the cluster ones.
const BENCH_GROUPS: &[&str] = &["ipcbench", "iobench", "net", "ninep", "v9fs", "cluster", "scale"];

fn bench(args: &Args) -> Result<(), String> {
    let image = prepare(&args.profile)?;
    let mut figures = Vec::new();
    let mut ready = Vec::new();
    let wanted = |group: &str| args.only.as_deref().is_none_or(|g| g == group);
    let programs: Vec<&str> = BENCHMARKS.iter().copied().filter(|p| wanted(p)).collect();
    for program in &programs {
        step(&format!("booting a node for {program} (QEMU TCG: figures are emulated)"));
        let opts = Options { run: Some((*program).into()), ..args.opts.clone() };
        let node = Node::start(&image, &opts, false)?;
        ready.push(node.wait_for(READY, args.timeout).map_err(|e| e.to_string())?);
        node.wait_for(IDLE, args.timeout).map_err(|e| e.to_string())?;
        let log = node.log();
        print!("{log}");
        let prefix = format!("{program}:");
        figures.extend(log.lines().filter(|l| l.starts_with(&prefix)).map(String::from));
    }
    if wanted("ipcbench") {
        // Without the Linux guest (or gcc) the other groups still run.
        match spawn_bench::run(&figures) {
            Ok(lines) => figures.extend(lines),
            Err(e) => figures.push(format!("spawn: FAIL next to Linux: {e}")),
        }
    }
    if wanted("net") {
        figures.extend(net_bench::run(&image, args)?);
    }
    if wanted("ninep") {
        figures.extend(ninep_bench::run(&image, args)?);
    }
    if wanted("v9fs") {
        figures.extend(v9fs_bench::run(args)?);
    }
    if wanted("cluster") {
        figures.extend(cluster_bench::run(&image, args)?);
        figures.extend(cluster_bench::spawn_rate(&image, args)?);
    }
    if wanted("scale") {
        figures.extend(cluster_bench::largest(&image, args)?);
    }
    println!("--- benchmark ---");
    for line in &figures {
        println!("{line}");
    }
    for (program, t) in programs.iter().zip(ready) {
        println!("boot: node ready {:.0} ms after QEMU start ({program})", t.as_secs_f64() * 1000.0);
    }
    if figures.iter().any(|l| l.contains("FAIL")) {
        return Err("a benchmark failed".into());
    }
    Ok(())
}

/// The cargo-fuzz crates (outside the workspace).
const FUZZ_CRATES: &[&str] = &["libux/fuzz", "fs9p/fuzz", "cmd/fuzz"];

/// The README's test command: everything CI runs.
fn test(extra: &[String]) -> Result<(), String> {
    for profile in kernel_config::PROFILES {
        prepare(profile)?;
    }
    let cargo = qemu::cargo();
    let run = |what: &str, cmd: &mut Command| -> Result<(), String> {
        step(what);
        let status = cmd.current_dir(workspace()).status().map_err(|e| format!("cannot run cargo: {e}"))?;
        status.success().then_some(()).ok_or_else(|| format!("{what}: failed ({status})"))
    };
    run("checking formatting (cargo fmt --check)", Command::new(&cargo).args(["fmt", "--all", "--", "--check"]))?;
    run(
        "linting host crates (cargo clippy -D warnings)",
        Command::new(&cargo).args(["clippy", "--quiet", "--all-targets", "--", "-D", "warnings"]),
    )?;
    let kernel = prepare("debug")?.kernel;
    let mut target_lint = Command::new(&cargo);
    target_lint
        .args(["clippy", "--quiet", "--release", "--target", qemu::setup::TARGET, "-p", "process-server"])
        .args(qemu::image::packages(Flavour::Test).into_iter().flat_map(|p| ["-p", p]))
        .args(["--features", qemu::image::PROGRAM_FEATURES])
        .args(["--", "-D", "warnings"])
        .envs(qemu::image::rootserver_env(&kernel));
    run("linting seL4 programs (cargo clippy --target x86_64-unknown-none)", &mut target_lint)?;
    // The fuzz targets are run by hand (cargo fuzz, nightly), but must
    // always build; libFuzzer's build needs a C++ compiler.
    qemu::setup::ensure_apt("g++", "g++", "about a minute")?;
    for dir in FUZZ_CRATES {
        let mut check = Command::new(&cargo);
        check.args(["check", "--quiet", "--bins", "--manifest-path", &format!("{dir}/Cargo.toml")]);
        check.env("CARGO_TARGET_DIR", qemu::out_dir().join("fuzz-check"));
        run(&format!("checking the fuzz targets of {dir}"), &mut check)?;
    }
    step("running the tests (cargo test)");
    let (passed, failed) = cargo_test(&cargo, extra)?;
    // One closing line for the whole suite, whatever cargo printed last.
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        return Err(format!("{failed} tests failed"));
    }
    if passed == 0 {
        return Err("no test ran".into());
    }
    Ok(())
}

/// Runs `cargo test`, echoing its output, and adds up its result lines.
fn cargo_test(cargo: &str, extra: &[String]) -> Result<(usize, usize), String> {
    use std::io::BufRead;
    // Every test binary runs, so one failure does not hide the others.
    let mut child = Command::new(cargo)
        .args(["test", "--no-fail-fast"])
        .args(extra)
        .current_dir(workspace())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run cargo test: {e}"))?;
    let (mut passed, mut failed) = (0, 0);
    for line in std::io::BufReader::new(child.stdout.take().expect("piped")).lines() {
        let line = line.map_err(|e| e.to_string())?;
        println!("{line}");
        if let Some(summary) = line.strip_prefix("test result: ") {
            passed += count(summary, " passed");
            failed += count(summary, " failed");
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if !status.success() && failed == 0 {
        return Err(format!("cargo test failed ({status})"));
    }
    Ok((passed, failed))
}

/// The number before `what` in a cargo test summary (`ok. 3 passed; ...`).
fn count(summary: &str, what: &str) -> usize {
    summary
        .split(';')
        .find_map(|part| part.strip_suffix(what).and_then(|n| n.rsplit(' ').next()).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn counts_cargo_test_summaries() {
        let s = "ok. 7 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 5.24s";
        let got = (count(s, " passed"), count(s, " failed"), count(s, " ignored"));
        assert_eq!(got, (7, 0, 1));
        assert_eq!(count("FAILED. 0 passed; 3 failed; 0 ignored", " failed"), 3);
        assert_eq!(count("garbage", " passed"), 0);
    }
}

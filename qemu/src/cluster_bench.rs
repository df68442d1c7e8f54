//! The cluster figures of `cargo ux --bench`: how long nodes on one
//! segment take to admit each other, how long after a node's QEMU is
//! killed every other node marks it down (the cluster promises 3 s),
//! a remote read through the authenticated mounts next to a local one,
//! `crun true` on another node next to this one, and process API calls
//! about another node's process next to the same here and to a 9P round
//! trip on the same link (`ninepbench calls`), and what an idle node
//! costs the host (its QEMU's CPU time over a while), in one run; then,
//! on 16 smaller nodes, the cluster-wide spawn rate; then the largest
//! cluster that forms on this host, and how fast, next to the same
//! number of nodes booting with no cluster (the host's floor).

use super::bench_shell::{quiet, shell, to_end};
use super::Args;
use qemu::image::Image;
use qemu::node::Options;
use std::time::Instant;

/// Nodes in the run.
const NODES: u8 = 4;

pub fn run(image: &Image, args: &Args) -> Result<Vec<String>, String> {
    qemu::step(&format!("booting {NODES} nodes for the cluster figures"));
    let t = args.timeout;
    let opts: Vec<Options> = (0..NODES).map(|_| Options { memory_mib: 256, ..args.opts.clone() }).collect();
    let t0 = Instant::now();
    let mut cluster = qemu::cluster::start(image, &opts, false)?;
    let started = t0.elapsed();
    cluster.wait_for_shells(t)?;
    for (k, node) in cluster.nodes.iter().enumerate() {
        for other in (1..=NODES as usize).filter(|&n| n != k + 1) {
            node.wait_for(&format!("cluster: node {other} at 10.1.0.{other} joined"), t).map_err(|e| e.to_string())?;
        }
    }
    let formed = t0.elapsed();
    let last = NODES as usize;
    // Node 2's files are mounted at their first use: that one is not
    // timed.
    quiet(&cluster.nodes[0], "cat /n/node2/proc/1/status > /dev/null", t)?;
    // A stat-sized read, 20 times, here and through a node's mount.
    let reads = |path: &str| -> Result<f64, String> {
        let line = vec![format!("cat {path} > /dev/null"); 20].join("; ");
        Ok(quiet(&cluster.nodes[0], &line, t)?.as_secs_f64() * 1000.0 / 20.0)
    };
    let local = reads("/proc/1/status")?;
    let remote = reads("/n/node2/proc/1/status")?;
    // Spawn + wait of `true` here and on another node, through crun.
    let runs = |node: u8| -> Result<f64, String> {
        let line = vec![format!("crun -n {node} true"); 10].join("; ");
        Ok(quiet(&cluster.nodes[0], &line, t)?.as_secs_f64() * 1000.0 / 10.0)
    };
    // The first on node 2 mounts node 1's files there (its descriptors
    // are node 1's): timed apart.
    let first_there = quiet(&cluster.nodes[0], "crun -n 2 true", t)?.as_secs_f64() * 1000.0;
    let (spawn_here, spawn_there) = (runs(1)?, runs(2)?);
    let shares = idle_shares(&cluster.nodes, std::time::Duration::from_secs(10))?;
    let idle = shares.iter().copied().fold(0.0, f64::max);
    let calls = shell(&cluster.nodes[0], "ninepbench calls 2 50", "ninepbench:", t)?;
    let calls = calls.split_once("ninepbench: ").map_or(calls.as_str(), |(_, r)| r).trim().to_string();

    let marks: Vec<usize> = cluster.nodes[..last - 1].iter().map(|n| n.mark()).collect();
    let t0 = Instant::now();
    cluster.nodes[last - 1].kill();
    let mut slowest = 0.0f64;
    for (node, &mark) in cluster.nodes[..last - 1].iter().zip(&marks) {
        node.wait_after(mark, &format!("cluster: node {last} (node{last}) is down"), t).map_err(|e| e.to_string())?;
        slowest = slowest.max(t0.elapsed().as_secs_f64());
    }
    Ok(vec![
        format!(
            "cluster: {NODES} nodes admitted each other {:.1} s after the first QEMU started ({:.1} s to start them all)",
            formed.as_secs_f64(),
            started.as_secs_f64()
        ),
        format!("cluster: a killed node was down on every other node {slowest:.2} s after the kill (goal <= 3 s)"),
        format!(
            "cluster: cat of a /proc status file: {local:.1} ms here, {remote:.1} ms from another node through /n/node2 ({:.1} x)",
            remote / local
        ),
        format!(
            "cluster: crun of `true` (spawn + wait, with crun's own start): {spawn_here:.1} ms on this node, {spawn_there:.1} ms on another ({:.1} x; goal <= 5 x); the first on another, which mounts this node there, {first_there:.0} ms",
            spawn_there / spawn_here
        ),
        format!("cluster: {calls}"),
        format!(
            "cluster: an idle node of {NODES} costs the host at most {idle:.1} % of a core (each: {}; goal <= 1 %)",
            shares.iter().map(|s| format!("{s:.1} %")).collect::<Vec<_>>().join(", ")
        ),
    ])
}

/// Nodes in the spawn-rate run: as many as this 2-core, 24 GiB machine
/// holds at 128 MiB each and forms in seconds.
const RATE_NODES: u8 = 16;
/// `true`s each node starts and reaps in it.
const RATE_ROUNDS: u32 = 100;

/// The cluster-wide spawn rate: from node 1, `spawner cluster` starts
/// `spawner reap` on every node at once (itself included), each starting
/// and reaping `true` as fast as it can, and waits for them one after
/// another; next to node 1's `spawner reap` alone. Also how long this
/// many nodes take to admit each other.
pub fn spawn_rate(image: &Image, args: &Args) -> Result<Vec<String>, String> {
    qemu::step(&format!("booting {RATE_NODES} nodes of 128 MiB for the cluster-wide spawn rate"));
    let t = args.timeout;
    let opts: Vec<Options> = (0..RATE_NODES).map(|_| Options { memory_mib: 128, ..args.opts.clone() }).collect();
    let t0 = Instant::now();
    let cluster = qemu::cluster::start(image, &opts, false)?;
    cluster.wait_for_shells(t)?;
    // Until every node has admitted every other: the cluster is quiet.
    for (k, node) in cluster.nodes.iter().enumerate() {
        for n in (1..=RATE_NODES as usize).filter(|&n| n != k + 1) {
            node.wait_for(&format!("cluster: node {n} at 10.1.0.{n} joined"), t).map_err(|e| e.to_string())?;
        }
    }
    let formed = t0.elapsed();
    let first = &cluster.nodes[0];
    // Timed here, in the host's time (the guests' clocks are their own
    // under load).
    // Until the run's own verdict: the `spawner reap`s a cluster run
    // starts print theirs on this console too (their home), and the
    // first of them is no end of the run.
    let timed = |line: &str, verdict: &str| -> Result<f64, String> {
        let mark = first.mark();
        let t0 = Instant::now();
        first.type_text(&format!("{line}\n"))?;
        loop {
            let log = first.log();
            let out = &log[mark..];
            if out.contains(verdict) {
                return Ok(t0.elapsed().as_secs_f64() * 1000.0);
            }
            if let Some(at) = out.find("spawner: FAIL") {
                return Err(format!("{line}: {}", out[at..].lines().next().unwrap_or_default()));
            }
            if t0.elapsed() > t {
                return Err(format!("{line}: no {verdict:?} within {} s", t.as_secs()));
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    let alone_ms = timed(&format!("spawner reap {RATE_ROUNDS}"), "spawner: ok reap: ")?;
    // Once untimed, one round each: node 1 mounts every node at its
    // first use (`/n/nodeN`), seconds each under this load; the rate is
    // the cluster's, not its mounts'.
    let warm_ms = timed(&format!("spawner cluster {RATE_NODES} 1"), "spawner: ok cluster: ")?;
    let all_ms = timed(&format!("spawner cluster {RATE_NODES} {RATE_ROUNDS}"), "spawner: ok cluster: ")?;
    let total = f64::from(RATE_NODES) * f64::from(RATE_ROUNDS);
    let (rate, rate_alone) = (total * 1000.0 / all_ms, f64::from(RATE_ROUNDS) * 1000.0 / alone_ms);
    Ok(vec![
        format!(
            "cluster: {RATE_NODES} nodes of 128 MiB had all admitted each other {:.1} s after the first QEMU started",
            formed.as_secs_f64()
        ),
        format!(
            "cluster: spawn rate, a spawn tree from node 1 (its mounts of the others made first, in {:.1} s): {total:.0} processes on {RATE_NODES} nodes in {:.1} s, {rate:.0}/s ({:.1}/s per node); one node alone {rate_alone:.0}/s ({:.1} x)",
            warm_ms / 1000.0,
            all_ms / 1000.0,
            rate / f64::from(RATE_NODES),
            rate / rate_alone
        ),
    ])
}

/// Cluster sizes tried for the largest that forms, smallest first: each
/// node of 128 MiB (64 of them take 8 GiB of this 24 GiB host).
const FORM_SIZES: &[u8] = &[16, 32, 64];
/// How long a size may take to form before the larger ones are not
/// tried.
const FORM_LIMIT: std::time::Duration = std::time::Duration::from_secs(90);
/// How long a formed cluster's idle cost is sampled: the host counts CPU
/// time in ticks of 10 ms, one of which in a 10 s sample was 0.1 % of a
/// core (a coordinator read 0.9 % in one run and 1.2 % in the next);
/// in 30 s it is 0.03 %.
const IDLE_SAMPLE: std::time::Duration = std::time::Duration::from_secs(30);

/// The largest cluster that forms on this host: for each size, the time
/// from the last QEMU's start until every node has admitted every other
/// (each node's log says `joined` for each other), and what `cnodes` on
/// node 1 then says (nodes up, of the size).
pub fn largest(image: &Image, args: &Args) -> Result<Vec<String>, String> {
    let mut lines = vec![boot_cost(image, args)?];
    let mut largest = None;
    for &size in FORM_SIZES {
        let floor = bare_boots(image, args, size)?;
        qemu::step(&format!("booting {size} nodes of 128 MiB: does the cluster form?"));
        let opts: Vec<Options> = (0..size).map(|_| Options { memory_mib: 128, ..args.opts.clone() }).collect();
        let first_started = Instant::now();
        let cluster = qemu::cluster::start(image, &opts, false)?;
        let last_started = Instant::now();
        let starting = last_started - first_started;
        let n = usize::from(size);
        let joined = |k: usize, log: &str| {
            (1..=n).filter(|&j| j != k + 1).filter(|j| log.contains(&format!("node {j} at 10.1.0.{j} joined"))).count()
        };
        // When every node had booted as far as its membership: what the
        // host's two cores take, before any datagram can count.
        let mut booted = None;
        let mut boot_ticks = Vec::new();
        let (formed, admissions) = loop {
            if booted.is_none() && cluster.nodes.iter().all(|node| node.log().contains(" on the segment, membership "))
            {
                booted = Some(last_started.elapsed());
                boot_ticks = cluster.nodes.iter().map(|n| cpu_ticks(n.pid())).collect::<Result<Vec<_>, _>>()?;
            }
            let admissions: usize = cluster.nodes.iter().enumerate().map(|(k, node)| joined(k, &node.log())).sum();
            if admissions == n * (n - 1) {
                break (Some(last_started.elapsed()), admissions);
            }
            if last_started.elapsed() > FORM_LIMIT {
                break (None, admissions);
            }
            std::thread::sleep(std::time::Duration::from_millis(250));
        };
        let Some(formed) = formed else {
            // Which, to look into: the first few missing.
            let missing: Vec<String> = cluster
                .nodes
                .iter()
                .enumerate()
                .flat_map(|(k, node)| {
                    let log = node.log();
                    (1..=n)
                        .filter(move |&j| j != k + 1 && !log.contains(&format!("node {j} at 10.1.0.{j} joined")))
                        .map(move |j| format!("{} lacks {j}", k + 1))
                        .collect::<Vec<_>>()
                })
                .take(8)
                .collect();
            lines.push(format!(
                "cluster: {size} nodes of 128 MiB did not form within {} s of the last QEMU's start ({admissions} of {} admissions; node {}...)",
                FORM_LIMIT.as_secs(),
                n * (n - 1),
                missing.join(", node ")
            ));
            break;
        };
        let up = nodes_up(&cluster.nodes[0], args.timeout)?;
        lines.push(format!(
            "cluster: {size} nodes of 128 MiB formed (every node admitted every other) {:.1} s after the last QEMU started, all booted to their membership at {:.1} s; cnodes on node 1 then listed {up} of {size} up (goal: 64 within 10 s)",
            formed.as_secs_f64(),
            booted.unwrap_or(formed).as_secs_f64()
        ));
        lines.push(format!(
            "cluster: the host's floor: {size} nodes with no segment (each a cluster of one), started the same way just before, were all ready {:.1} s after the last QEMU started; forming took {:.2} x that",
            floor.as_secs_f64(),
            formed.as_secs_f64() / floor.as_secs_f64()
        ));
        boot_ticks.sort_unstable();
        let resets: u32 = cluster.nodes.iter().map(qemu::node::Node::tick_resets).sum();
        if let (Some(low), Some(high)) = (boot_ticks.first(), boot_ticks.last()) {
            lines.push(format!(
                "cluster: the {size} QEMUs started over {:.1} s; to their membership each had {low}-{high} ticks (median {}) of host CPU, {:.1} s in all; {resets} boots reset for a kernel tick calibrated too fast",
                starting.as_secs_f64(),
                boot_ticks[boot_ticks.len() / 2],
                boot_ticks.iter().sum::<u64>() as f64 / 100.0
            ));
        }
        // Once formed (and a few seconds on, so that boots are done), the
        // idle cost: the coordinator's apart, since it alone hears beats.
        std::thread::sleep(std::time::Duration::from_secs(5));
        let marks: Vec<usize> = cluster.nodes.iter().map(|node| node.mark()).collect();
        let shares = idle_shares(&cluster.nodes, IDLE_SAMPLE)?;
        let mut shares: Vec<(f64, u16)> = shares.into_iter().zip(cluster.numbers.iter().copied()).collect();
        // Whichever node coordinates: the first to finish its boot may.
        let at = cluster.nodes.iter().position(|node| libux::cluster::roles::coordinates(&node.log()));
        let coordinator = at.map(|at| shares.remove(at));
        shares.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (median, (most, busiest)) = (shares[shares.len() / 2].0, shares[shares.len() - 1]);
        // Such a node's kernel tick is likely too fast for good although
        // the launcher checks it (`qemu::tick`): told apart, as it is no
        // cost of the cluster's.
        let hot = shares.iter().filter(|(share, _)| *share > 2.0 * median).count();
        // A settled cluster changes its mind about nobody while idle (one
        // whose views went out cut flapped for ever, and cost more).
        let flaps: usize = cluster
            .nodes
            .iter()
            .zip(marks)
            .map(|(node, mark)| libux::cluster::trouble::count(&node.log()[mark..]))
            .sum();
        lines.push(format!(
            "cluster: idle, each of {size} nodes costs the host {median:.1} % of a core (median; most {most:.1} %, node {busiest}; {hot} at more than twice the median), {} (goal <= 1 %); {flaps} nodes seen suspect, down or silent meanwhile (0 when settled)",
            coordinator.map_or(String::from("no node says it coordinates"), |(share, node)| format!(
                "the coordinator (node {node}) {share:.1} %"
            ))
        ));
        largest = Some(size);
    }
    let said = largest.map_or(String::from("none of them"), |s| format!("{s} nodes"));
    lines.push(format!("cluster: the largest cluster that formed here: {said} (tried {FORM_SIZES:?})"));
    Ok(lines)
}

/// What booting alone costs at `size`: that many nodes of 128 MiB
/// started one after another as a cluster's are, on no segment (no
/// membership, no datagrams), and the time from the last one's start
/// until every one is ready. A cluster cannot form faster than this on
/// the same host: it is the host's two cores booting `size` machines.
fn bare_boots(image: &Image, args: &Args, size: u8) -> Result<std::time::Duration, String> {
    qemu::step(&format!("booting {size} nodes of 128 MiB with no segment: the host's floor"));
    let nodes = (0..size)
        .map(|_| qemu::node::Node::start(image, &Options { memory_mib: 128, ..args.opts.clone() }, false))
        .collect::<Result<Vec<_>, _>>()?;
    let last_started = Instant::now();
    for node in &nodes {
        node.wait_for(qemu::node::READY, FORM_LIMIT.saturating_sub(last_started.elapsed()))
            .map_err(|e| format!("{size} nodes with no segment: {e}"))?;
    }
    Ok(last_started.elapsed())
}

/// The CPU time process `pid` has had, user and system, in clock ticks
/// of 1/100 s (Linux's /proc/PID/stat).
fn cpu_ticks(pid: u32) -> Result<u64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| e.to_string())?;
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, r)| r).split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).ok_or("a short /proc/PID/stat");
    Ok(field(11)? + field(12)?)
}

/// Boots done one at a time, to measure what one costs.
const BOOTS: usize = 3;

/// What a node's boot alone costs the host: the CPU time of its QEMU
/// when the process server prints its first line (QEMU's start, the
/// firmware and the kernel's boot, with its PIT calibrations) and at
/// `node ready`; the median of [`BOOTS`] boots. The kernel copies the
/// root task's whole image byte by byte at boot, so what goes into that
/// image shows here.
fn boot_cost(image: &Image, args: &Args) -> Result<String, String> {
    qemu::step(&format!("booting {BOOTS} nodes of 128 MiB one at a time: what does a boot cost?"));
    let mut kernel = Vec::new();
    let mut ready = Vec::new();
    for _ in 0..BOOTS {
        let node = qemu::node::Node::start(image, &Options { memory_mib: 128, ..args.opts.clone() }, false)?;
        node.wait_for("ux: process server on seL4", args.timeout).map_err(|e| e.to_string())?;
        kernel.push(cpu_ticks(node.pid())?);
        node.wait_for(qemu::node::READY, args.timeout).map_err(|e| e.to_string())?;
        ready.push(cpu_ticks(node.pid())?);
    }
    kernel.sort_unstable();
    ready.sort_unstable();
    Ok(format!(
        "boot: a node of 128 MiB alone costs the host {} ticks (1/100 s) of CPU to node ready, {} of them before \
         the process server's first line (QEMU, firmware, the kernel's boot; median of {BOOTS}; each of 64 \
         nodes booting at once costs more)",
        ready[BOOTS / 2],
        kernel[BOOTS / 2]
    ))
}

/// Each node's QEMU's CPU time over `idle_for` with nothing typed, in %
/// of a host core (Linux's /proc/PID/stat, in clock ticks of 1/100 s).
fn idle_shares(nodes: &[qemu::node::Node], idle_for: std::time::Duration) -> Result<Vec<f64>, String> {
    let pids: Vec<u32> = nodes.iter().map(|n| n.pid()).collect();
    let before = pids.iter().map(|&p| cpu_ticks(p)).collect::<Result<Vec<_>, _>>()?;
    std::thread::sleep(idle_for);
    let after = pids.iter().map(|&p| cpu_ticks(p)).collect::<Result<Vec<_>, _>>()?;
    Ok(before.iter().zip(&after).map(|(b, a)| (a - b) as f64 / idle_for.as_secs_f64()).collect())
}

/// How many nodes `cnodes` on `node` lists as up.
fn nodes_up(node: &qemu::node::Node, timeout: std::time::Duration) -> Result<usize, String> {
    let (_, said) = to_end(node, "cnodes", timeout)?;
    Ok(said.iter().filter(|l| l.split_whitespace().nth(3) == Some("up")).count())
}

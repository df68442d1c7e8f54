//! What the benchmarks that drive nodes' shells share: a two-node cluster at its prompts, typed commands and the
//! figures read back from the consoles.

use qemu::cluster::Cluster;
use qemu::image::Image;
use qemu::node::{Node, Options};
use std::time::Duration;

/// Two nodes on one segment, both at their shell's prompt.
pub fn two_shells(image: &Image, opts: [Options; 2], timeout: Duration) -> Result<Cluster, String> {
    let cluster = qemu::cluster::start(image, &opts, false)?;
    cluster.wait_for_shells(timeout)?;
    Ok(cluster)
}

/// The first output of `node` after `mark` from `prefix` to the end of
/// its line (a prompt may come first on the line), once it is there.
pub fn line_after(node: &Node, mark: usize, prefix: &str, timeout: Duration) -> Result<String, String> {
    node.wait_after(mark, prefix, timeout).map_err(|e| e.to_string())?;
    let log = node.log();
    let from = &log[mark..][log[mark..].find(prefix).unwrap_or(0)..];
    Ok(from.lines().next().unwrap_or("").to_string())
}

/// Types `line` into `node`'s shell; its first output line from `prefix`
/// (which the typed line itself must not hold: the console echoes it).
pub fn shell(node: &Node, line: &str, prefix: &str, timeout: Duration) -> Result<String, String> {
    let mark = node.mark();
    node.type_text(&format!("{line}\n"))?;
    line_after(node, mark, prefix, timeout)
}

/// Runs `line` in `node`'s shell to its end: how long it took, and what
/// it printed (the prompts left out).
pub fn to_end(node: &Node, line: &str, timeout: Duration) -> Result<(Duration, Vec<String>), String> {
    // Quoted as typed, so that only the `echo`'s output holds it.
    const END: &str = "ran-to-its-end";
    let t0 = std::time::Instant::now();
    let mark = node.mark();
    node.type_text(&format!("{line}; echo 'ran-to'-its-end\n"))?;
    node.wait_after(mark, END, timeout).map_err(|e| e.to_string())?;
    let took = t0.elapsed();
    let log = node.log();
    let out = &log[mark..];
    // From the line after the typed line's echo to the end's output.
    let echoed = out.find("'ran-to'-its-end").and_then(|at| out[at..].find('\n').map(|n| at + n + 1));
    let said = out.get(echoed.unwrap_or(0)..out.find(END).unwrap_or(0)).unwrap_or("");
    let said = said.lines().map(|l| l.trim_start_matches("$ ").trim()).filter(|l| !l.is_empty()).map(String::from);
    Ok((took, said.collect()))
}

/// What the node's daemons say on the console, between a command's lines.
const DAEMONS: &[&str] = &["ux: ", "cluster: ", "mount9p: ", "netstack: ", "exportfs: "];

/// [`to_end`] of a command list that prints nothing when it works: any
/// output of its own (an error) fails it, so that a command that fails
/// at once does not pass for a fast one. (The daemons' lines are theirs.)
pub fn quiet(node: &Node, line: &str, timeout: Duration) -> Result<Duration, String> {
    let (took, said) = to_end(node, line, timeout)?;
    let own: Vec<String> = said.into_iter().filter(|l| !DAEMONS.iter().any(|d| l.starts_with(d))).collect();
    if own.is_empty() {
        Ok(took)
    } else {
        Err(format!("{line}: said {own:?}"))
    }
}

/// The figure (a decimal, maybe with a fraction) after the last `key`
/// in `line`, up to a space or `/`.
pub fn figure_after(line: &str, key: &str) -> Result<f64, String> {
    line.rsplit_once(key)
        .and_then(|(_, r)| r.split([' ', '/']).find(|w| !w.is_empty())?.parse().ok())
        .ok_or_else(|| format!("no number after {key:?} in {line:?}"))
}

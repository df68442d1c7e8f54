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
/// (after the line's own echo, which may hold `prefix` too).
pub fn shell(node: &Node, line: &str, prefix: &str, timeout: Duration) -> Result<String, String> {
    let mark = node.mark();
    node.type_text(&format!("{line}\n"))?;
    node.wait_after(mark, "\n", timeout).map_err(|e| e.to_string())?;
    let echoed = mark + node.log()[mark..].find('\n').map_or(0, |at| at + 1);
    line_after(node, echoed, prefix, timeout)
}

/// Runs `line` in `node`'s shell and waits for it to end: the time it
/// took. Any output of its own (an error) fails it: a command that fails
/// at once must not pass for a fast one.
pub fn quiet(node: &Node, line: &str, timeout: Duration) -> Result<Duration, String> {
    const END: &str = "quiet-run-ended";
    let t0 = std::time::Instant::now();
    let mark = node.mark();
    shell(node, &format!("{line}; echo {END}"), END, timeout)?;
    let took = t0.elapsed();
    let log = node.log();
    let out = log[mark..].split_once('\n').map_or("", |(_, rest)| rest);
    let out = &out[..out.find(END).unwrap_or(out.len())];
    let said: Vec<&str> = out.lines().map(|l| l.trim_start_matches("$ ").trim()).filter(|l| !l.is_empty()).collect();
    if !said.is_empty() {
        return Err(format!("{line}: said {said:?}"));
    }
    Ok(took)
}

/// The number after the last `key` in `line` (up to a space or `/`).
pub fn number_after(line: &str, key: &str) -> Result<f64, String> {
    line.rsplit_once(key)
        .and_then(|(_, r)| r.split([' ', '/']).find(|w| !w.is_empty())?.parse().ok())
        .ok_or_else(|| format!("no number after {key:?} in {line:?}"))
}

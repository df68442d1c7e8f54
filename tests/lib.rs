//! What the integration tests in `tests/` share: reading console logs by
//! their documented formats, and host ports. Booting and driving nodes is
//! `qemu::node`'s.

/// The console line containing `pattern`, or a failure showing the log.
pub fn line<'a>(log: &'a str, pattern: &str) -> &'a str {
    log.lines().find(|l| l.contains(pattern)).unwrap_or_else(|| panic!("no line with {pattern:?} in:\n{log}"))
}

/// The decimal number right after `before` in `line`.
pub fn number_after(line: &str, before: &str) -> u64 {
    let rest = line.split(before).nth(1).unwrap_or_else(|| panic!("no {before:?} in {line:?}"));
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().unwrap_or_else(|_| panic!("no number after {before:?} in {line:?}"))
}

/// A host port no other test of this run has or will get (`udp`: free
/// for UDP, else for TCP).
pub fn free_port(udp: bool) -> u16 {
    qemu::node::free_port(udp).unwrap_or_else(|e| panic!("{e}"))
}

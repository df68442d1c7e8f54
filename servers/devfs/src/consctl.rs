//! What `/dev/consctl` takes: `fg PID...` names the processes Ctrl-C
//! kills (the shell's foreground job); `fg` alone names none.

use alloc::vec::Vec;

/// At most this many processes in the foreground.
pub const FG_MAX: usize = 64;

/// The pids of an `fg` line; `None` if it is anything else.
pub fn parse_fg(data: &[u8]) -> Option<Vec<u32>> {
    let text = core::str::from_utf8(data).ok()?;
    let mut words = text.split_whitespace();
    if words.next() != Some("fg") {
        return None;
    }
    let pids: Vec<u32> = words.map(|w| w.parse().ok()).collect::<Option<_>>()?;
    (pids.len() <= FG_MAX).then_some(pids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn fg_lines() {
        assert_eq!(parse_fg(b"fg 12 13\n"), Some(vec![12, 13]));
        assert_eq!(parse_fg(b"fg"), Some(vec![]));
        for bad in [&b"bg 1"[..], b"fg x", b"fg -1", b"", b"\xff", b"fg 99999999999"] {
            assert_eq!(parse_fg(bad), None, "{bad:?}");
        }
        let many: alloc::string::String = (0..=FG_MAX).map(|i| alloc::format!(" {i}")).collect();
        assert_eq!(parse_fg(alloc::format!("fg{many}").as_bytes()), None);
    }
}

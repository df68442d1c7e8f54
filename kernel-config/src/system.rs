//! Reading and checking the system description (`system.desc`; format in
//! that file's header). The result is `libux::sysdesc::System`, which the
//! image carries encoded for the process server.

use crate::ConfigError;
use libux::sysdesc::{Program, System, MAX_IO_GRANTS};
use std::path::{Path, PathBuf};

/// The shipped system description.
pub fn path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("system.desc")
}

/// Parses `text` (read from `file`), checking names against `programs`,
/// the programs in the boot image.
pub fn parse<'a>(text: &'a str, file: &Path, programs: &[&str]) -> Result<System<'a>, ConfigError> {
    let mut out = System { programs: Vec::new() };
    // Line of each program's and each grant's definition, for messages.
    let mut grants: Vec<(u16, u16, &str, usize)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let err = |message: String| ConfigError { file: file.to_path_buf(), line, message };
        let content = raw.split('#').next().unwrap_or("");
        let mut words = content.split_whitespace();
        let Some(keyword) = words.next() else { continue };
        let rest: Vec<&str> = words.collect();
        let indented = content.starts_with([' ', '\t']);
        if keyword == "program" {
            if indented {
                return Err(err("`program` starts a line; its attributes are indented".into()));
            }
            let [name] = rest[..] else { return Err(err("expected `program NAME`".into())) };
            if !programs.contains(&name) {
                return Err(err(format!("unknown program `{name}`; the boot image has: {}", programs.join(", "))));
            }
            out.programs.push(Program {
                name,
                priority: 255,
                argv: vec![name],
                io_ports: Vec::new(),
                before_ready: false,
            });
            continue;
        }
        if !indented {
            return Err(err(format!("`{keyword}` must be indented under a `program` line")));
        }
        let Some(p) = out.programs.last_mut() else {
            return Err(err(format!("`{keyword}` before any `program` line")));
        };
        match keyword {
            "priority" => {
                let [n] = rest[..] else { return Err(err("expected `priority N`".into())) };
                p.priority = n.parse().map_err(|_| err(format!("priority must be 0-255, not `{n}`")))?;
            }
            "args" => p.argv.extend(rest.iter().copied()),
            "before-ready" if rest.is_empty() => p.before_ready = true,
            "ioports" => {
                let [range] = rest[..] else { return Err(err("expected `ioports FIRST-LAST`".into())) };
                let (first, last) = parse_range(range).ok_or_else(|| err(format!("bad port range `{range}`")))?;
                if p.io_ports.len() == MAX_IO_GRANTS {
                    return Err(err(format!("at most {MAX_IO_GRANTS} I/O port ranges per program")));
                }
                if let Some((f, l, other, at)) = grants.iter().find(|(f, l, _, _)| first <= *l && *f <= last) {
                    return Err(err(format!(
                        "ports {first:#x}-{last:#x} overlap {f:#x}-{l:#x}, granted to `{other}` on line {at}"
                    )));
                }
                grants.push((first, last, p.name, line));
                p.io_ports.push((first, last));
            }
            "irq" | "memory" => {
                return Err(err(format!("`{keyword}` grants are not supported yet (no driver needs one)")));
            }
            other => return Err(err(format!("unknown keyword `{other}`"))),
        }
    }
    Ok(out)
}

fn parse_range(s: &str) -> Option<(u16, u16)> {
    let (a, b) = s.split_once('-')?;
    let hex = |x: &str| u16::from_str_radix(x.strip_prefix("0x")?, 16).ok();
    let (first, last) = (hex(a)?, hex(b)?);
    (first <= last).then_some((first, last))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROGRAMS: &[&str] = &["hello", "console", "net"];

    fn parse_ok(text: &str) -> System<'_> {
        parse(text, Path::new("t.desc"), PROGRAMS).unwrap()
    }

    fn parse_err(text: &str) -> String {
        parse(text, Path::new("t.desc"), PROGRAMS).unwrap_err().to_string()
    }

    #[test]
    fn the_shipped_description_is_valid() {
        let text = std::fs::read_to_string(path()).unwrap();
        let sys = parse(&text, &path(), &["hello"]).unwrap();
        assert_eq!(sys.programs[0].name, "hello");
        assert!(sys.programs[0].before_ready);
    }

    #[test]
    fn reads_programs_and_attributes() {
        let sys = parse_ok(
            "# comment\nprogram hello\n  priority 200\n  args a b  # trailing\n  before-ready\n\
             program console\n\tioports 0x3f8-0x3ff\n\tioports 0x2f8-0x2ff\n",
        );
        assert_eq!(sys.programs.len(), 2);
        let h = &sys.programs[0];
        assert_eq!((h.name, h.priority, h.before_ready), ("hello", 200, true));
        assert_eq!(h.argv, ["hello", "a", "b"]);
        let c = &sys.programs[1];
        assert_eq!((c.priority, c.before_ready), (255, false));
        assert_eq!(c.io_ports, [(0x3f8, 0x3ff), (0x2f8, 0x2ff)]);
        assert_eq!(System::decode(&sys.encode()).unwrap(), sys);
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(
            parse_err("program nope\n"),
            "t.desc:1: unknown program `nope`; the boot image has: hello, console, net"
        );
        assert_eq!(parse_err("program hello\n  priority 256\n"), "t.desc:2: priority must be 0-255, not `256`");
        assert_eq!(parse_err("program hello\n  priority -1\n"), "t.desc:2: priority must be 0-255, not `-1`");
        assert_eq!(parse_err("  priority 3\n"), "t.desc:1: `priority` before any `program` line");
        assert_eq!(
            parse_err("program hello\npriority 3\n"),
            "t.desc:2: `priority` must be indented under a `program` line"
        );
        assert_eq!(parse_err("program hello\n  colour blue\n"), "t.desc:2: unknown keyword `colour`");
        assert_eq!(parse_err("program hello\n  ioports 0x10-0x08\n"), "t.desc:2: bad port range `0x10-0x08`");
        assert_eq!(
            parse_err("program hello\n  irq 4\n"),
            "t.desc:2: `irq` grants are not supported yet (no driver needs one)"
        );
        let overlap = parse_err("program console\n  ioports 0x3f8-0x3ff\nprogram net\n  ioports 0x3fc-0x400\n");
        assert_eq!(overlap, "t.desc:4: ports 0x3fc-0x400 overlap 0x3f8-0x3ff, granted to `console` on line 2");
        let many = "program net\n  ioports 0x1-0x1\n  ioports 0x2-0x2\n  ioports 0x3-0x3\n  ioports 0x4-0x4\n";
        assert_eq!(parse_err(many), "t.desc:5: at most 3 I/O port ranges per program");
    }
}

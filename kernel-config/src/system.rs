//! Reading and checking the system description (`system.desc`; format in
//! that file's header). The result is `libux::sysdesc::System`, which the
//! image carries encoded for the process server.

use crate::ConfigError;
use libux::sysdesc::{DeviceMemory, Irq, PciId, Program, System, MAX_GRANTS, MAX_PCI};
use std::path::{Path, PathBuf};

/// The shipped system description.
pub fn path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("system.desc")
}

/// What the test image's system description adds after it.
pub fn test_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("system-test.desc")
}

/// Parses `text` (read from `file`), checking names against `programs`,
/// the programs in the boot image.
pub fn parse<'a>(text: &'a str, file: &Path, programs: &[&str]) -> Result<System<'a>, ConfigError> {
    let mut out = System { programs: Vec::new() };
    // Every grant so far, with its holder and line, to refuse overlaps.
    let mut ports: Vec<(u64, u64, &str, usize)> = Vec::new();
    let mut pins: Vec<(u64, u64, &str, usize)> = Vec::new();
    let mut memory: Vec<(u64, u64, &str, usize)> = Vec::new();
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
                irqs: Vec::new(),
                memory: Vec::new(),
                pci: Vec::new(),
                before_ready: false,
                at_boot: true,
                daemon: false,
                cluster: false,
                seed: false,
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
            "manual" if rest.is_empty() => p.at_boot = false,
            "daemon" if rest.is_empty() => p.daemon = true,
            "cluster" if rest.is_empty() => p.cluster = true,
            "seed" if rest.is_empty() => p.seed = true,
            "ioports" => {
                let [range] = rest[..] else { return Err(err("expected `ioports FIRST-LAST`".into())) };
                let (first, last) = parse_range(range).ok_or_else(|| err(format!("bad port range `{range}`")))?;
                if p.io_ports.len() == MAX_GRANTS {
                    return Err(err(format!("at most {MAX_GRANTS} I/O port ranges per program")));
                }
                claim(&mut ports, "ports", (first as u64, last as u64), p.name, line).map_err(err)?;
                p.io_ports.push((first, last));
            }
            "irq" => {
                let usage = "expected `irq PIN edge|level high|low`";
                let [pin, trigger, polarity] = rest[..] else { return Err(err(usage.into())) };
                let pin: u8 = pin
                    .parse()
                    .ok()
                    .filter(|&p| p < 24)
                    .ok_or_else(|| err(format!("IOAPIC pin must be 0-23, not `{pin}`")))?;
                let level_triggered = match trigger {
                    "edge" => false,
                    "level" => true,
                    _ => return Err(err(usage.into())),
                };
                let active_low = match polarity {
                    "high" => false,
                    "low" => true,
                    _ => return Err(err(usage.into())),
                };
                if p.irqs.len() == MAX_GRANTS {
                    return Err(err(format!("at most {MAX_GRANTS} interrupts per program")));
                }
                claim(&mut pins, "IOAPIC pin", (pin as u64, pin as u64), p.name, line).map_err(err)?;
                p.irqs.push(Irq { pin, level_triggered, active_low });
            }
            "memory" => {
                let usage = "expected `memory PADDR SIZE` (hex, page aligned)";
                let [paddr, size] = rest[..] else { return Err(err(usage.into())) };
                let hex = |x: &str| x.strip_prefix("0x").and_then(|h| u64::from_str_radix(h, 16).ok());
                let (paddr, size) = hex(paddr).zip(hex(size)).ok_or_else(|| err(usage.into()))?;
                if paddr % 4096 != 0 || size % 4096 != 0 || size == 0 || paddr.checked_add(size).is_none() {
                    return Err(err(format!("device memory {paddr:#x}+{size:#x} is not whole pages")));
                }
                if p.memory.len() == MAX_GRANTS {
                    return Err(err(format!("at most {MAX_GRANTS} device memory ranges per program")));
                }
                claim(&mut memory, "device memory", (paddr, paddr + size - 1), p.name, line).map_err(err)?;
                p.memory.push(DeviceMemory { paddr, size });
            }
            "pci" => {
                let usage = "expected `pci VENDOR:DEVICE` (hex, like 1af4:1000)";
                let [id] = rest[..] else { return Err(err(usage.into())) };
                let (v, d) = id.split_once(':').ok_or_else(|| err(usage.into()))?;
                let hex = |x: &str| u16::from_str_radix(x, 16).ok();
                let (vendor, device) = hex(v).zip(hex(d)).ok_or_else(|| err(usage.into()))?;
                if p.pci.len() == MAX_PCI {
                    return Err(err(format!("at most {MAX_PCI} PCI devices per program")));
                }
                p.pci.push(PciId { vendor, device });
            }
            other => return Err(err(format!("unknown keyword `{other}`"))),
        }
    }
    Ok(out)
}

/// Records `range` (inclusive) for `holder`, unless it overlaps a grant
/// made before.
fn claim<'a>(
    claimed: &mut Vec<(u64, u64, &'a str, usize)>,
    what: &str,
    (first, last): (u64, u64),
    holder: &'a str,
    line: usize,
) -> Result<(), String> {
    if let Some((f, l, other, at)) = claimed.iter().find(|(f, l, _, _)| first <= *l && *f <= last) {
        return Err(format!("{what} {first:#x}-{last:#x} overlaps {f:#x}-{l:#x}, granted to `{other}` on line {at}"));
    }
    claimed.push((first, last, holder, line));
    Ok(())
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
        // The boot image holds the programs of these folders.
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let names: Vec<String> = ["servers", "cmd", "workloads", "bench"]
            .iter()
            .flat_map(|d| std::fs::read_dir(root.join(d)).unwrap())
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        let mut names: Vec<&str> = names.iter().map(String::as_str).collect();
        // And the servers of the top-level layout.
        names.extend(["netstack", "cluster"]);
        let sys = parse(&text, &path(), &names).unwrap();
        let by_name = |n: &str| sys.programs.iter().find(|p| p.name == n).unwrap();
        assert!(by_name("hello").before_ready && by_name("hello").at_boot);
        assert!(by_name("ramfs").daemon && by_name("ramfs").at_boot);
        // The secret goes to the cluster server and nothing else.
        assert_eq!(sys.programs.iter().filter(|p| p.cluster).map(|p| p.name).collect::<Vec<_>>(), ["cluster"]);
        // TCP's sequence numbers and the membership's nonces want seeds.
        assert!(by_name("netstack").seed && by_name("cluster").seed);
        assert!(sys.programs.iter().all(|p| p.name != "devprobe"), "a test program in the user's description");
        // The test image's: both files, one after the other.
        let test = text + &std::fs::read_to_string(test_path()).unwrap();
        let sys = parse(&test, &test_path(), &names).unwrap();
        assert!(!sys.programs.iter().find(|p| p.name == "devprobe").unwrap().at_boot);
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
        assert!(c.at_boot);
        let d = parse_ok("program net\n  manual\n  irq 11 level low\n  memory 0xfeb00000 0x2000\n");
        let n = &d.programs[0];
        assert!(!n.at_boot);
        assert_eq!(n.irqs, [Irq { pin: 11, level_triggered: true, active_low: true }]);
        assert_eq!(n.memory, [DeviceMemory { paddr: 0xfeb00000, size: 0x2000 }]);
        assert!(n.pci.is_empty());
        assert_eq!(System::decode(&sys.encode()).unwrap(), sys);
        let e = parse_ok(
            "program net
  pci 1af4:1000
",
        );
        assert_eq!(e.programs[0].pci, [PciId { vendor: 0x1af4, device: 0x1000 }]);
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
        // Flag keywords take no words after them.
        for flag in ["before-ready", "manual", "daemon", "cluster", "seed"] {
            let text = format!("program hello\n  {flag} now\n");
            assert_eq!(parse_err(&text), format!("t.desc:2: unknown keyword `{flag}`"));
        }
        assert_eq!(parse_err("program hello\n  ioports 0x10-0x08\n"), "t.desc:2: bad port range `0x10-0x08`");
        assert_eq!(parse_err("program hello\n  irq 24 edge high\n"), "t.desc:2: IOAPIC pin must be 0-23, not `24`");
        assert!(parse_err("program hello\n  irq 4 sideways high\n").contains("expected `irq PIN edge|level high|low`"));
        let overlap = parse_err("program console\n  ioports 0x3f8-0x3ff\nprogram net\n  ioports 0x3fc-0x400\n");
        assert_eq!(overlap, "t.desc:4: ports 0x3fc-0x400 overlaps 0x3f8-0x3ff, granted to `console` on line 2");
        let irq_twice = parse_err("program console\n  irq 4 edge high\nprogram net\n  irq 4 level low\n");
        assert_eq!(irq_twice, "t.desc:4: IOAPIC pin 0x4-0x4 overlaps 0x4-0x4, granted to `console` on line 2");
        let mem = parse_err("program console\n  memory 0xfed00000 0x1000\nprogram net\n  memory 0xfec00000 0x200000\n");
        assert!(
            mem.starts_with("t.desc:4: device memory 0xfec00000-0xfedfffff overlaps 0xfed00000-0xfed00fff"),
            "{mem}"
        );
        // Each way to not be whole pages alone: offset, size, no size, wrap.
        for bad in ["0xfed00010 0x1000", "0xfed00000 0x1001", "0xfed00000 0x0", "0xfffffffffffff000 0x2000"] {
            let text = format!("program net\n  memory {bad}\n");
            assert!(parse_err(&text).contains("is not whole pages"), "{bad}");
        }
        let many = "program net\n  ioports 0x1-0x1\n  ioports 0x2-0x2\n  ioports 0x3-0x3\n  ioports 0x4-0x4\n";
        assert_eq!(parse_err(many), "t.desc:5: at most 3 I/O port ranges per program");
        assert!(parse_err("program net\n  pci 1af4\n").contains("expected `pci VENDOR:DEVICE`"));
        assert!(parse_err("program net\n  pci 1af4:xyz\n").contains("expected `pci VENDOR:DEVICE`"));
        assert_eq!(
            parse_err("program net\n  pci 1:2\n  pci 1:2\n  pci 3:4\n"),
            "t.desc:4: at most 2 PCI devices per program"
        );
    }
}

//! The launcher's guard against a kernel tick calibrated under host load.
//!
//! seL4 measures the local APIC timer's rate at boot against one wrap of
//! the PIT (`apic_measure_freq`). A host that takes the processor away
//! between the wrap the kernel sees and the start of the APIC's count
//! (64 nodes booting on 2 cores do) leaves the window short: the rate
//! comes out low, and the tick of `TIMER_TICK_MS` comes every few
//! milliseconds for the node's whole life, at up to 8 times an idle node's
//! cost. User space cannot set the tick again (the kernel keeps the APIC
//! to itself), so the launcher reads it through QEMU's monitor (QMP's
//! `info lapic`) once the kernel has set it, and resets a node whose tick
//! is shorter than half the configured one, at most [`RESETS`] times.
//! QEMU's local APIC counts at 1 GHz (its `APIC_BUS_FREQUENCY`), so the
//! period is the initial count times the divider, in nanoseconds.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How many times a node is reset for a fast tick before the launcher
/// lets it run as it is (and says so).
pub const RESETS: u32 = 3;

/// What `info lapic` says of the kernel's tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tick {
    /// The kernel has not set the timer yet (or is measuring it).
    Unset,
    /// The timer's period.
    Every(Duration),
}

/// Reads the APIC timer's period from QEMU's `info lapic` text: the line
/// `Timer\t DCR=0xb (divide by 1) initial_count = 100046400 ...`. A count
/// of 0 (reset) or of all ones (the kernel's measuring count) is
/// [`Tick::Unset`].
pub fn parse(info_lapic: &str) -> Result<Tick, String> {
    let line = info_lapic
        .lines()
        .find(|l| l.starts_with("Timer"))
        .ok_or_else(|| format!("no Timer line in QEMU's `info lapic`: {info_lapic:?}"))?;
    let number_after = |key: &str| -> Result<u64, String> {
        let rest = line.split_once(key).ok_or_else(|| format!("no {key:?} in {line:?}"))?.1;
        let digits: String = rest.trim_start().chars().take_while(char::is_ascii_digit).collect();
        digits.parse().map_err(|_| format!("no number after {key:?} in {line:?}"))
    };
    let divider = number_after("divide by")?;
    let count = number_after("initial_count =")?;
    if count == 0 || count == u64::from(u32::MAX) {
        return Ok(Tick::Unset);
    }
    Ok(Tick::Every(Duration::from_nanos(count * divider)))
}

/// Whether a tick of `period` is too fast for one configured at `tick`.
pub fn too_fast(period: Duration, tick: Duration) -> bool {
    period < tick / 2
}

/// A path for a node's monitor socket, removed when dropped. Under the
/// system's temporary directory (a socket's path must fit in 108 bytes),
/// in a directory of the user's own that only they may enter.
pub struct SocketPath(PathBuf);

impl SocketPath {
    pub fn new() -> Result<SocketPath, String> {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let k = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        use std::os::unix::fs::{DirBuilderExt, MetadataExt};
        // SAFETY: getuid cannot fail.
        let uid = unsafe { libc::getuid() };
        let dir = std::env::temp_dir().join(format!("ux-qmp-{uid}"));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(format!("{}: {e}", dir.display())),
            _ => {}
        }
        let meta = std::fs::metadata(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        if meta.uid() != uid || meta.mode() & 0o077 != 0 {
            return Err(format!("{} is not the user's own (mode 0700): remove it", dir.display()));
        }
        if k == 0 {
            crate::private::sweep(&dir);
        }
        Ok(SocketPath(dir.join(format!("{}-{k}", std::process::id()))))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for SocketPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The error of a monitor whose QEMU has gone.
pub const CLOSED: &str = "QEMU closed its monitor";

/// A monitor error: [`CLOSED`] when the connection is gone.
fn failed(e: std::io::Error) -> String {
    use std::io::ErrorKind::{BrokenPipe, ConnectionReset, UnexpectedEof};
    match e.kind() {
        BrokenPipe | ConnectionReset | UnexpectedEof => String::from(CLOSED),
        _ => format!("QEMU's monitor: {e}"),
    }
}

/// A QMP connection to one QEMU.
pub struct Monitor {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    /// Whether a `RESET` event came since [`Monitor::reset`] asked.
    was_reset: bool,
}

impl Monitor {
    /// Connects to the socket QEMU makes at `path` (`-qmp unix:PATH,
    /// server=on,wait=off`), waiting until `deadline` for it to appear,
    /// unless QEMU is `gone` first.
    pub fn connect(path: &Path, deadline: Instant, gone: impl Fn() -> bool) -> Result<Monitor, String> {
        let stream = loop {
            match UnixStream::connect(path) {
                Ok(s) => break s,
                Err(_) if gone() => return Err(String::from(CLOSED)),
                Err(e) if Instant::now() >= deadline => {
                    return Err(format!("QEMU's monitor at {}: {e}", path.display()))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        let writer = stream.try_clone().map_err(failed)?;
        let mut monitor = Monitor { reader: BufReader::new(stream), writer, was_reset: false };
        monitor.message()?; // The greeting.
        monitor.execute("qmp_capabilities", json!({}))?;
        Ok(monitor)
    }

    /// The next message, an event or not (a `RESET` is noted).
    fn next(&mut self) -> Result<Value, String> {
        let mut line = String::new();
        if self.reader.read_line(&mut line).map_err(failed)? == 0 {
            return Err(String::from(CLOSED));
        }
        let message: Value = serde_json::from_str(&line).map_err(|e| format!("QEMU's monitor sent {line:?}: {e}"))?;
        self.was_reset |= message.get("event").is_some_and(|e| e == "RESET");
        Ok(message)
    }

    /// The next message that is not an event.
    fn message(&mut self) -> Result<Value, String> {
        loop {
            let message = self.next()?;
            if message.get("event").is_none() {
                return Ok(message);
            }
        }
    }

    /// Runs one command and returns its `return` value.
    pub fn execute(&mut self, command: &str, arguments: Value) -> Result<Value, String> {
        let request = json!({ "execute": command, "arguments": arguments });
        writeln!(self.writer, "{request}").map_err(failed)?;
        let mut answer = self.message()?;
        match answer.get_mut("return") {
            Some(value) => Ok(value.take()),
            None => Err(format!("QEMU's monitor answered {command} with {answer}")),
        }
    }

    /// The kernel's tick as QEMU's local APIC has it.
    pub fn tick(&mut self) -> Result<Tick, String> {
        let text = self.execute("human-monitor-command", json!({ "command-line": "info lapic" }))?;
        parse(text.as_str().ok_or_else(|| format!("`info lapic` answered {text}"))?)
    }

    /// Stops the machine's processor (it writes nothing meanwhile).
    pub fn pause(&mut self) -> Result<(), String> {
        self.execute("stop", json!({})).map(drop)
    }

    /// Lets it run again (after a reset too: QEMU's `cont` starts a
    /// machine reset while stopped).
    pub fn resume(&mut self) -> Result<(), String> {
        self.execute("cont", json!({})).map(drop)
    }

    /// Resets the machine as its reset button would, although QEMU runs
    /// with `-no-reboot` (which stays in force for the guest's own resets
    /// and triple faults). Returns once the reset is done: QEMU's main loop
    /// does it after answering, and says so with a `RESET` event.
    pub fn reset(&mut self) -> Result<(), String> {
        self.was_reset = false;
        self.execute("set-action", json!({ "reboot": "reset" }))?;
        let reset = self.execute("system_reset", json!({}));
        self.execute("set-action", json!({ "reboot": "shutdown" }))?;
        reset?;
        while !self.was_reset {
            self.next()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SET: &str = "LVTT\t 0x0002009d active-hi edge                 periodic     Fixed  (vec 157)\n\
                       Timer\t DCR=0xb (divide by 1) initial_count = 100046400 current_count = 21508216\n";

    #[test]
    fn the_period_is_the_count_times_the_divider_in_nanoseconds() {
        assert_eq!(parse(SET), Ok(Tick::Every(Duration::from_nanos(100_046_400))));
        let by_16 = "Timer\t DCR=0x3 (divide by 16) initial_count = 300000 current_count = 5\n";
        assert_eq!(parse(by_16), Ok(Tick::Every(Duration::from_millis(4) + Duration::from_micros(800))));
    }

    #[test]
    fn a_timer_at_reset_or_being_measured_is_unset() {
        let reset = "Timer\t DCR=0x0 (divide by 2) initial_count = 0 current_count = 0\n";
        let measuring = "Timer\t DCR=0xb (divide by 1) initial_count = 4294967295 current_count = 4000000000\n";
        assert_eq!(parse(reset), Ok(Tick::Unset));
        assert_eq!(parse(measuring), Ok(Tick::Unset));
    }

    #[test]
    fn text_without_a_timer_is_an_error_that_quotes_it() {
        let err = parse("dumping local APIC state for CPU 0\n").unwrap_err();
        assert!(err.contains("no Timer line") && err.contains("CPU 0"), "{err}");
        assert!(parse("Timer\t DCR=0xb (divide by 1) initial_count = x\n").is_err());
    }

    #[test]
    fn a_tick_under_half_the_configured_one_is_too_fast() {
        let tick = Duration::from_millis(100);
        assert!(too_fast(Duration::from_micros(4_800), tick));
        assert!(too_fast(Duration::from_millis(49), tick));
        assert!(!too_fast(Duration::from_millis(50), tick));
        assert!(!too_fast(Duration::from_millis(140), tick));
    }
}

//! Running one node in QEMU and watching its serial console.
//!
//! A [`Node`] owns its QEMU process: dropping it (on every path, panics
//! included) kills QEMU, and QEMU also gets SIGKILL if the thread that
//! started it dies (`PR_SET_PDEATHSIG`), so no emulator outlives a test.
//! The console is read by a thread into a shared log that
//! [`Node::wait_for`] searches.

use crate::image::Image;
use crate::private::Seed;
use crate::tick;
use std::io::Read;
use std::io::Write as _;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The line the process server prints when the node is up.
pub const READY: &str = "ux: node ready";
/// The line the process server prints when every program it started has
/// ended.
pub const IDLE: &str = "ux: idle";
/// Lines that mean the node will not get anywhere.
pub const FATAL: &[&str] = &["panic:", "Kernel panic", "halting", "KERNEL EXCEPTION"];

/// How to run a node.
#[derive(Clone, Debug)]
pub struct Options {
    pub memory_mib: u32,
    /// Use KVM (real hardware only: these machines' KVM cannot run seL4).
    pub kvm: bool,
    /// A command line (`program arg...`) the process server starts once
    /// the node is ready (fw_cfg `opt/ux/run`).
    pub run: Option<String>,
    /// Ports of 127.0.0.1 forwarded to the node's.
    pub forwards: Vec<Forward>,
    /// A second NIC on a cluster's segment (set by `cluster`).
    pub cluster: Option<ClusterLink>,
    /// In a cluster: the node's number (else the next free one), the
    /// secret it gets, and the features it declares (`a,b`).
    pub node_number: Option<u16>,
    pub secret: Secret,
    pub features: String,
    /// The kernel tick the launcher expects ([`crate::tick`]); `None`:
    /// the kernel profile's `TIMER_TICK_MS`.
    pub expect_tick: Option<Duration>,
}

/// The secret a cluster's node gets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Secret {
    /// The cluster's.
    #[default]
    Cluster,
    /// None at all.
    Missing,
    /// Another one (hex).
    Own(String),
}

/// A node's place on a cluster's segment.
#[derive(Clone, Debug)]
pub struct ClusterLink {
    /// 1 to 32767 (`libux::cluster::NodeId`).
    pub node: u16,
    pub segment: crate::cluster::Segment,
    /// The file of the secret (hex).
    pub secret: Option<std::path::PathBuf>,
}

/// A host port (on 127.0.0.1) forwarded to a node's port.
#[derive(Clone, Copy, Debug)]
pub struct Forward {
    pub udp: bool,
    pub host: u16,
    pub node: u16,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            memory_mib: 512,
            kvm: false,
            run: None,
            forwards: Vec::new(),
            cluster: None,
            node_number: None,
            secret: Secret::Cluster,
            features: String::new(),
            expect_tick: None,
        }
    }
}

/// A port of the host's loopback free now, for a forward (QEMU binds it
/// itself).
pub fn free_port(udp: bool) -> Result<u16, String> {
    Ok(free_ports(1, udp)?[0])
}

/// Where [`free_ports`] looks: below Linux's ephemeral range (32768 and
/// up), so that no outgoing connection of this or another program takes a
/// port between our check and QEMU's bind.
const PORTS: std::ops::Range<u16> = 20000..32768;

/// `n` different ports of the host's loopback free now. This process
/// never hands out a port twice, so tests running side by side cannot
/// collide; each run starts at a place of its own in [`PORTS`], so that
/// runs at once are unlikely to meet either.
pub fn free_ports(n: usize, udp: bool) -> Result<Vec<u16>, String> {
    static NEXT: Mutex<Option<u16>> = Mutex::new(None);
    let mut next = NEXT.lock().unwrap();
    let width = PORTS.end - PORTS.start;
    let mut at = next.unwrap_or_else(|| PORTS.start + (std::process::id() % u32::from(width)) as u16);
    let mut ports = Vec::new();
    for _ in 0..width {
        if ports.len() == n {
            break;
        }
        let port = at;
        at = if at + 1 == PORTS.end { PORTS.start } else { at + 1 };
        let free = if udp {
            std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok()
        } else {
            std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
        };
        if free {
            ports.push(port);
        }
    }
    *next = Some(at);
    if ports.len() < n {
        return Err(format!("no {n} free ports of 127.0.0.1 in {PORTS:?}"));
    }
    Ok(ports)
}

/// The firmware nodes boot with: qboot, QEMU's minimal one, not SeaBIOS.
/// It sets up PCI interrupt lines and ACPI and runs QEMU's multiboot
/// loader, 0.1 s of a host core less at each boot (a fifth of it), which
/// 64 nodes booting on 2 cores feel.
pub const FIRMWARE: &str = "qboot.rom";

/// The QEMU command line for `image`, without the console wiring. The
/// emulator dies with the thread that starts it.
pub fn command(image: &Image, opts: &Options, seed: &Seed) -> Command {
    let mut cmd = Command::new(&image.kernel.tools.qemu);
    // SAFETY: prctl is async-signal-safe; this runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.args(["-machine", "pc", "-bios", FIRMWARE, "-nodefaults", "-no-reboot", "-display", "none"])
        .args(["-m", &format!("{}M", opts.memory_mib)])
        .arg("-kernel")
        .arg(&image.kernel.elf32)
        .arg("-initrd")
        .arg(&image.rootserver)
        .args(fw_cfg("opt/ux/bootfs", Value::File(&image.bootfs)))
        // Lets a test image end QEMU with a status (port 0xf4).
        .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]);
    if opts.kvm {
        cmd.args(["-accel", "kvm", "-cpu", "host"]);
    } else {
        cmd.args(["-accel", "tcg", "-cpu", "qemu64"]);
    }
    // A legacy virtio-net NIC on QEMU's user network (DHCP, NAT to the
    // host), every node its own. No option ROM (`romfile=`): the firmware
    // would run iPXE's set-up for nothing, 0.07 s of a host core at each
    // boot (13 % of it: 64 nodes boot on 2 cores).
    let mut netdev = String::from("user,id=net0");
    for f in &opts.forwards {
        let proto = if f.udp { "udp" } else { "tcp" };
        netdev.push_str(&format!(",hostfwd={proto}:127.0.0.1:{}-:{}", f.host, f.node));
    }
    cmd.args(["-netdev", &netdev, "-device", "virtio-net-pci,netdev=net0,disable-modern=on,romfile="]);
    if let Some(c) = &opts.cluster {
        // 52:54:00:00:HH:LL, HH and LL the bytes of the node's number.
        let [high, low] = c.node.to_be_bytes();
        let nic = format!("virtio-net-pci,netdev=net1,disable-modern=on,romfile=,mac=52:54:00:00:{high:02x}:{low:02x}");
        cmd.args(["-netdev", &c.segment.netdev(), "-device", &nic]);
        cmd.args(fw_cfg("opt/ux/node", Value::Text(&c.node.to_string())));
        let mut config = format!("node={} name=node{}", c.node, c.node);
        if !opts.features.is_empty() {
            config.push_str(&format!(" features={}", opts.features));
        }
        cmd.args(fw_cfg("opt/ux/cluster", Value::Text(&config)));
        if let Some(secret) = &c.secret {
            cmd.args(fw_cfg("opt/ux/secret", Value::File(secret)));
        }
    }
    cmd.args(fw_cfg("opt/ux/seed", Value::File(seed.path())));
    if let Some(run) = &opts.run {
        cmd.args(fw_cfg("opt/ux/run", Value::Text(run)));
    }
    cmd
}

/// A fw_cfg file's contents: a string, or a file of the host's (which,
/// unlike a string, no other host user sees in `ps`).
enum Value<'a> {
    Text(&'a str),
    File(&'a std::path::Path),
}

/// QEMU's arguments for fw_cfg file `name`; its option syntax doubles
/// commas inside a value (a path may hold one).
fn fw_cfg(name: &str, value: Value) -> [String; 2] {
    let (kind, text) = match value {
        Value::Text(t) => ("string", t.to_string()),
        Value::File(p) => ("file", p.display().to_string()),
    };
    [String::from("-fw_cfg"), format!("name={name},{kind}={}", text.replace(',', ",,"))]
}

#[derive(Default)]
struct Console {
    text: String,
    closed: bool,
    /// Where the output of the node's current boot starts: a node reset
    /// for a fast tick boots again.
    boot: usize,
    /// Whether the launcher has checked the current boot's kernel tick
    /// ([`crate::tick`]); waiters see nothing before.
    tick_checked: bool,
    /// How many times the node was reset for a fast tick.
    resets: u32,
    /// `target/ux/cluster/LABEL.log`, for a labelled node.
    log_file: Option<std::fs::File>,
    /// `[LABEL] ` before each line echoed, or `None` without an echo.
    echo: Option<String>,
}

type Shared = Arc<(Mutex<Console>, Condvar)>;

impl Console {
    /// Adds what the node printed to the text, the log file and the echo.
    fn append(&mut self, chunk: &str) {
        if let Some(f) = self.log_file.as_mut() {
            let _ = f.write_all(chunk.as_bytes());
        }
        if let Some(prefix) = &self.echo {
            // Whole lines only, each with the label, when there is one.
            let text = if prefix.is_empty() {
                String::from(chunk)
            } else {
                let start = self.text.rfind('\n').map_or(0, |i| i + 1);
                let pending = format!("{}{chunk}", &self.text[start..]);
                let whole = pending.rfind('\n').map_or(0, |i| i + 1);
                pending[..whole].lines().map(|l| format!("{prefix}{l}\n")).collect()
            };
            print!("{text}");
            let _ = std::io::stdout().flush();
        }
        self.text.push_str(chunk);
    }

    /// Adds `text` (whole lines) as if the node had printed it, on a line
    /// of its own.
    fn record(&mut self, text: &str) {
        if !self.text.is_empty() && !self.text.ends_with('\n') {
            self.append("\n");
        }
        self.append(text);
    }
}

pub struct Node {
    child: Child,
    /// The serial console's input.
    input: Mutex<ChildStdin>,
    console: Shared,
    started: Instant,
    /// Kept while QEMU runs.
    _seed: Seed,
    _monitor: tick::SocketPath,
}

/// Why [`Node::wait_for`] gave up.
#[derive(Debug)]
pub struct WaitError {
    pub reason: String,
    /// The console log up to then.
    pub log: String,
}

impl std::fmt::Display for WaitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}\n--- console ---\n{}--- end of console ---", self.reason, self.log)
    }
}

impl Node {
    /// Starts QEMU with the serial console on a pipe. `echo` copies the
    /// console to our stdout as it arrives.
    pub fn start(image: &Image, opts: &Options, echo: bool) -> Result<Node, String> {
        Self::start_labelled(image, opts, echo, "")
    }

    /// [`Node::start`]; with a `label`, echoed lines start with `[label] `
    /// and the console is also written to `target/ux/cluster/LABEL.log`.
    pub fn start_labelled(image: &Image, opts: &Options, echo: bool, label: &str) -> Result<Node, String> {
        let log_file = match label {
            "" => None,
            _ => {
                let dir = crate::out_dir().join("cluster");
                std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                let path = dir.join(format!("{label}.log"));
                Some(std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?)
            }
        };
        let prefix = if label.is_empty() { String::new() } else { format!("[{label}] ") };
        let tick = match (opts.expect_tick, image.kernel.profile.value("TIMER_TICK_MS")) {
            (Some(tick), _) => Some(tick),
            (None, Some(ms)) => Some(Duration::from_millis(
                ms.parse().map_err(|_| format!("the kernel profile's TIMER_TICK_MS is {ms:?}, not a number"))?,
            )),
            (None, None) => None,
        };
        let seed = Seed::new()?;
        let monitor = tick::SocketPath::new()?;
        let mut cmd = command(image, opts, &seed);
        cmd.arg("-qmp").arg(format!("unix:{},server=on,wait=off", monitor.path().display()));
        cmd.args(["-serial", "stdio"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit());
        let started = Instant::now();
        let mut child = cmd.spawn().map_err(|e| format!("cannot start QEMU: {e}"))?;
        let mut out = child.stdout.take().expect("piped");
        // For the tick's guard: whether the console's pipe is drained.
        let pipe = Pipe { fd: std::os::fd::AsRawFd::as_raw_fd(&out), reading: Arc::new(AtomicBool::new(false)) };
        let reading = pipe.reading.clone();
        let input = Mutex::new(child.stdin.take().expect("piped"));
        let console = Console {
            tick_checked: tick.is_none(),
            log_file,
            echo: echo.then(|| prefix.clone()),
            ..Console::default()
        };
        let console: Shared = Arc::new((Mutex::new(console), Condvar::new()));
        let shared = console.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                reading.store(true, Ordering::SeqCst);
                let n = out.read(&mut buf).unwrap_or(0);
                reading.store(false, Ordering::SeqCst);
                let (lock, cvar) = &*shared;
                let mut c = lock.lock().unwrap();
                if n == 0 {
                    c.closed = true;
                    cvar.notify_all();
                    return;
                }
                c.append(&String::from_utf8_lossy(&buf[..n]).replace('\r', ""));
                cvar.notify_all();
            }
        });
        if let Some(tick) = tick {
            let (path, shared) = (monitor.path().to_path_buf(), console.clone());
            std::thread::spawn(move || guard_tick(&path, tick, &shared, &pipe));
        }
        Ok(Node { child, input, console, started, _seed: seed, _monitor: monitor })
    }

    /// Waits until the console shows a whole line containing `pattern`;
    /// returns the time since QEMU started. Fails early if QEMU exits or a
    /// fatal line appears.
    pub fn wait_for(&self, pattern: &str, timeout: Duration) -> Result<Duration, WaitError> {
        self.wait_where(pattern, timeout, 0)
    }

    fn wait_where(&self, pattern: &str, timeout: Duration, from: usize) -> Result<Duration, WaitError> {
        let deadline = Instant::now() + timeout;
        let (lock, cvar) = &*self.console;
        let mut c = lock.lock().unwrap();
        loop {
            let after = c.text.get(from.max(c.boot)..).unwrap_or("");
            // (A QEMU gone has no tick to check.)
            let seen = c.tick_checked || c.closed;
            if seen && after.find(pattern).is_some_and(|at| after[at..].contains('\n')) {
                return Ok(self.started.elapsed());
            }
            let fail = |reason: String, log: &str| Err(WaitError { reason, log: log.to_string() });
            if let Some(f) = FATAL.iter().find(|f| c.text[c.boot..].contains(**f)) {
                return fail(format!("the node failed (console shows {f:?}) before {pattern:?}"), &c.text);
            }
            if c.closed {
                return fail(format!("QEMU exited before the console showed {pattern:?}"), &c.text);
            }
            let now = Instant::now();
            if now >= deadline {
                let pending = match c.tick_checked {
                    true => "",
                    false => " (the launcher's check of the kernel's tick was still pending: see qemu::tick)",
                };
                return fail(
                    format!("timed out after {} s waiting for {pattern:?}{pending}", timeout.as_secs()),
                    &c.text,
                );
            }
            c = cvar.wait_timeout(c, deadline - now).unwrap().0;
        }
    }

    /// Types `text` on the serial console, as a person would.
    pub fn type_text(&self, text: &str) -> Result<(), String> {
        let mut input = self.input.lock().unwrap();
        input.write_all(text.as_bytes()).and_then(|()| input.flush()).map_err(|e| format!("typing on the console: {e}"))
    }

    /// The length of the console output so far: a mark for [`Node::wait_after`].
    pub fn mark(&self) -> usize {
        self.console.0.lock().unwrap().text.len()
    }

    /// Like [`Node::wait_for`], looking only at output after `mark`.
    pub fn wait_after(&self, mark: usize, pattern: &str, timeout: Duration) -> Result<Duration, WaitError> {
        self.wait_where(pattern, timeout, mark)
    }

    /// The console output so far.
    pub fn log(&self) -> String {
        self.console.0.lock().unwrap().text.clone()
    }

    /// How many times the launcher reset the node for a kernel tick
    /// calibrated too fast ([`crate::tick`]).
    pub fn tick_resets(&self) -> u32 {
        self.console.0.lock().unwrap().resets
    }

    /// QEMU's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops QEMU and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The console's pipe from QEMU, as the tick's guard sees it: its read
/// end, and whether the reader waits in a read (all it read before is in
/// the console's text).
struct Pipe {
    fd: std::os::fd::RawFd,
    reading: Arc<AtomicBool>,
}

impl Pipe {
    /// Whether all QEMU wrote is in the console's text: the pipe empty and
    /// the reader waiting, twice 20 ms apart (a reader just out of a read
    /// has not said so yet). For a paused machine, which writes nothing.
    fn drained(&self, console: &Shared) -> bool {
        let empty = || {
            let mut unread: libc::c_int = 0;
            // SAFETY: FIONREAD writes one int; the fd is the reader's,
            // open while the console is not closed (checked first).
            let ok = unsafe { libc::ioctl(self.fd, libc::FIONREAD, &mut unread) } == 0;
            !ok || (unread == 0 && self.reading.load(Ordering::SeqCst))
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if console.0.lock().unwrap().closed {
                return true;
            }
            if empty() {
                std::thread::sleep(Duration::from_millis(20));
                if empty() {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }
}

/// Checks the kernel's tick through QEMU's monitor once the kernel has
/// set it, and resets the node while it is too fast, at most
/// [`tick::RESETS`] times ([`crate::tick`]). Waiters see the console only
/// after the check; a monitor that fails lets them see it at once, with a
/// warning unless QEMU has gone. The machine is paused for a reset until
/// the console holds all the old boot wrote, so that the new boot's
/// output starts at `Console::boot`.
fn guard_tick(path: &std::path::Path, tick: Duration, console: &Shared, pipe: &Pipe) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let gone = || console.0.lock().unwrap().closed;
    let result = (|| -> Result<(), String> {
        let mut monitor = tick::Monitor::connect(path, Instant::now() + Duration::from_secs(60), gone)?;
        loop {
            std::thread::sleep(Duration::from_millis(50));
            let tick::Tick::Every(period) = monitor.tick()? else { continue };
            if !tick::too_fast(period, tick) {
                return Ok(());
            }
            let mut c = console.0.lock().unwrap();
            if c.resets == tick::RESETS {
                c.record(&format!(
                    "ux launcher: the kernel's tick still comes every {:.1} ms, not {:.0} ms, after {} resets: \
                     the node runs so, at several times an idle node's cost\n",
                    ms(period),
                    ms(tick),
                    tick::RESETS
                ));
                return Ok(());
            }
            drop(c);
            monitor.pause()?;
            if !pipe.drained(console) {
                monitor.resume()?;
                return Err(String::from("the console's pipe did not drain while the machine was paused"));
            }
            let mut c = console.0.lock().unwrap();
            c.resets += 1;
            let note = format!(
                "ux launcher: the kernel's tick comes every {:.1} ms, not {:.0} ms (its calibration raced the \
                 host's load): resetting the node ({} of at most {})\n",
                ms(period),
                ms(tick),
                c.resets,
                tick::RESETS
            );
            c.record(&note);
            c.boot = c.text.len();
            drop(c);
            // Running again whatever the reset did.
            let reset = monitor.reset();
            monitor.resume()?;
            reset?;
        }
    })();
    let (lock, cvar) = &**console;
    let mut c = lock.lock().unwrap();
    if let Err(e) = result {
        if e != tick::CLOSED && !c.closed {
            eprintln!("{}warning: the kernel's tick is not checked: {e}", c.echo.as_deref().unwrap_or(""));
        }
    }
    c.tick_checked = true;
    cvar.notify_all();
}

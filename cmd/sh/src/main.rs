//! sh: the shell. `sh` reads lines from standard input (started at boot
//! it has none, and opens the console, `/dev/cons`, for 0, 1 and 2) with
//! a prompt; `sh -c LINE` runs one line, `sh FILE` the lines of a file
//! (a script), and each exits with the last status. It parses each line
//! into jobs (the language is in the `sh` library) and runs them: the
//! builtins `cd`, `pwd`, `exit`, `wait`, `jobs`, `newns` (a private
//! namespace for the shell and what it starts from then on), `export
//! NAME=VALUE` and `unset NAME` (the environment its programs get, and
//! `$NAME`) and `help` itself,
//! programs from `/bin` (or by a path with a `/`) as child processes,
//! joined by pipes from `/dev/pipe`. While a foreground job runs its processes are named
//! to the console (`/dev/consctl`), so that Ctrl-C kills them and not the
//! shell. Background processes that ended are reaped before each prompt
//! (so that a shell that starts many never fills the process table with
//! them) and kept with their ends, which `wait` reports and `jobs` shows.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use libux::fd;
use libux::fs::client::{self, File};
use libux::fs::flags;
use libux::procfs::{ended_state, Status};
use libux::rpc::{End, Errno, FdName, Pid, Waited};
use libux::{eprintln, print, println};
use sh::{Command, Job};

libux::entry!(main);

/// A job left running with `&`.
struct Background {
    /// Its processes, and how each ended once reaped.
    procs: Vec<(Pid, Option<End>)>,
    text: String,
    /// Its pipes' clone files: the pipes live while a process of the job
    /// does.
    pipes: Vec<File>,
}

struct Shell {
    status: i32,
    /// The environment its programs get, `NAME=VALUE` each (`export`,
    /// `unset`; `$NAME`): at first the shell's own.
    env: Vec<String>,
    jobs: Vec<Background>,
    /// `$!`: the last command of the last job left in the background.
    background: Option<Pid>,
    input: Vec<u8>,
    /// `/dev/consctl`, when standard input is the console.
    consctl: Option<File>,
}

/// The status `$?` gets for how a process ended.
fn status_of(end: End) -> i32 {
    match end {
        End::Exited(s) => s,
        End::Killed => 137,
        End::Faulted(_) => 139,
        End::Lost => 1,
    }
}

fn describe(end: End) -> String {
    match end {
        End::Exited(s) => format!("exited {s}"),
        End::Killed => String::from("killed"),
        End::Faulted(f) => format!("faulted: {:?} at ip {:#x}, address {:#x}", f.kind, f.ip, f.addr),
        End::Lost => String::from("lost with its node"),
    }
}

/// The path a command name runs.
fn program_path(name: &str) -> String {
    if name.contains('/') {
        String::from(name)
    } else {
        format!("/bin/{name}")
    }
}

impl Shell {
    /// Runs a line's jobs; a line with a job that does not parse runs
    /// none of them (status 2).
    fn run_line(&mut self, line: &str) {
        let jobs = match sh::split_jobs(line) {
            Ok(jobs) => jobs,
            Err(e) => {
                eprintln!("sh: {e}");
                self.status = 2;
                return;
            }
        };
        if let Some(e) = jobs.iter().find_map(|(_, text)| sh::check(text).err()) {
            eprintln!("sh: {e}");
            self.status = 2;
            return;
        }
        for (when, text) in jobs {
            // After `&&` or `||`, by the status of the one before.
            if !when.holds(self.status) {
                continue;
            }
            // `$?` in a job is the status of the one before, `$!` the
            // last job left running.
            match sh::parse(text, &self.vars()) {
                Ok(None) => {}
                Ok(Some(job)) => self.run(job, text.trim()),
                Err(e) => {
                    eprintln!("sh: {e}");
                    self.status = 2;
                    return;
                }
            }
        }
    }

    /// What `$?`, `$!` and `$NAME` stand for now.
    fn vars(&self) -> sh::Vars<'_> {
        sh::Vars { status: self.status, background: self.background, env: &self.env }
    }

    /// The next line of input; `None` at its end.
    fn read_line(&mut self) -> Option<String> {
        loop {
            if let Some(i) = self.input.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.input.drain(..=i).collect();
                return Some(String::from_utf8_lossy(&line[..i]).into_owned());
            }
            let mut buf = [0u8; 512];
            match fd::read(fd::STDIN, &mut buf) {
                Ok(0) if self.input.is_empty() => return None,
                // A last line without its newline.
                Ok(0) => self.input.push(b'\n'),
                Ok(n) => self.input.extend_from_slice(&buf[..n]),
                // The console is waiting for too many at once: try again.
                Err(Errno::Busy) => {
                    for _ in 0..100 {
                        libux::sel4::syscall::yield_now();
                    }
                }
                Err(e) => {
                    eprintln!("sh: cannot read input: {e}");
                    return None;
                }
            }
        }
    }

    fn set_foreground(&mut self, pids: &[Pid]) {
        if let Some(ctl) = &mut self.consctl {
            let mut text = String::from("fg");
            for p in pids {
                text.push_str(&format!(" {p}"));
            }
            let _ = ctl.write(text.as_bytes());
        }
    }

    fn run(&mut self, job: Job, text: &str) {
        if let [cmd] = job.commands.as_slice() {
            if !job.background {
                if let Some(status) = self.builtin(cmd) {
                    self.status = status;
                    return;
                }
            }
        }
        let started = self.start(&job);
        if let Ok((pids, _)) = &started {
            self.let_go_ended(pids);
        }
        match started {
            Ok((pids, pipes)) if job.background => {
                println!("[{}]", pids.last().copied().unwrap_or(0));
                self.background = pids.last().copied();
                let procs = pids.into_iter().map(|p| (p, None)).collect();
                self.jobs.push(Background { procs, text: String::from(text), pipes });
                self.status = 0;
            }
            Ok((pids, pipes)) => {
                self.set_foreground(&pids);
                let mut last = End::Exited(0);
                for pid in &pids {
                    match libux::process::wait(Some(*pid)) {
                        Ok(Waited { end, .. }) => {
                            if let End::Faulted(_) = end {
                                eprintln!("sh: {pid} {}", describe(end));
                            }
                            last = end;
                        }
                        Err(e) => eprintln!("sh: wait {pid}: {e}"),
                    }
                }
                self.set_foreground(&[]);
                drop(pipes);
                self.status = status_of(last);
            }
            Err(status) => self.status = status,
        }
    }

    /// Starts every command of `job`; on a failure, reports it, ends what
    /// was started and gives the status.
    fn start(&mut self, job: &Job) -> Result<(Vec<Pid>, Vec<File>), i32> {
        let n = job.commands.len();
        let mut pipes = Vec::new();
        let mut ids = Vec::new();
        for _ in 1..n {
            let made = client::open("/dev/pipe/clone", flags::READ).and_then(|mut f| {
                let mut buf = [0u8; 16];
                let len = f.read(&mut buf)?;
                let id = core::str::from_utf8(&buf[..len]).ok().and_then(|t| t.trim().parse::<u32>().ok());
                Ok((f, id.ok_or(Errno::BadRequest)?))
            });
            match made {
                Ok((f, id)) => {
                    pipes.push(f);
                    ids.push(id);
                }
                Err(e) => {
                    eprintln!("sh: cannot make a pipe: {e}");
                    return Err(1);
                }
            }
        }
        let mut pids = Vec::new();
        for (i, cmd) in job.commands.iter().enumerate() {
            let stdin = if i > 0 { Some((format!("/dev/pipe/{}/r", ids[i - 1]), flags::READ)) } else { None };
            let stdout = if i + 1 < n { Some((format!("/dev/pipe/{}/w", ids[i]), flags::WRITE)) } else { None };
            match spawn(cmd, stdin, stdout, &self.env) {
                Ok(pid) => pids.push(pid),
                Err(status) => {
                    for pid in pids {
                        let _ = libux::process::kill(pid);
                        let _ = libux::process::wait(Some(pid));
                    }
                    return Err(status);
                }
            }
        }
        Ok((pids, pipes))
    }

    /// Runs `cmd` if it is a builtin; its status.
    fn builtin(&mut self, cmd: &Command) -> Option<i32> {
        let args: Vec<&str> = cmd.argv.iter().map(String::as_str).collect();
        let name = args[0];
        if !BUILTINS.contains(&name) {
            return None;
        }
        if cmd.stdin.is_some() || cmd.stdout.is_some() {
            eprintln!("sh: {name}: builtins cannot be redirected");
            return Some(2);
        }
        Some(match (name, &args[1..]) {
            ("cd", [] | [_]) => {
                let dir = args.get(1).copied().unwrap_or("/");
                match client::chdir(dir) {
                    Ok(()) => 0,
                    Err(e) => {
                        eprintln!("sh: cd: {dir}: {e}");
                        1
                    }
                }
            }
            ("pwd", []) => match client::getcwd() {
                Ok(cwd) => {
                    println!("{cwd}");
                    0
                }
                Err(e) => {
                    eprintln!("sh: pwd: {e}");
                    1
                }
            },
            ("newns", []) => match libux::process::new_namespace() {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("sh: newns: {e}");
                    1
                }
            },
            ("exit", []) => libux::rt::exit(self.status),
            ("exit", [n]) => match n.parse() {
                Ok(n) => libux::rt::exit(n),
                Err(_) => usage("exit [STATUS]"),
            },
            ("wait", []) => self.wait_jobs(None),
            ("wait", [pid]) => match pid.parse() {
                Ok(pid) => self.wait_jobs(Some(pid)),
                Err(_) => usage("wait [PID]"),
            },
            ("jobs", []) => {
                self.list_jobs();
                0
            }
            ("help", []) => help(),
            ("export", []) => {
                for e in &self.env {
                    println!("{e}");
                }
                0
            }
            ("export", assignments) => self.export(assignments),
            ("unset", names) if !names.is_empty() => {
                self.env.retain(|e| !names.iter().any(|n| e.split_once('=').is_some_and(|(name, _)| name == *n)));
                0
            }
            ("unset", _) => usage("unset NAME..."),
            ("cd", _) => usage("cd [DIR]"),
            ("pwd", _) => usage("pwd"),
            ("exit", _) => usage("exit [STATUS]"),
            ("wait", _) => usage("wait [PID]"),
            ("newns", _) => usage("newns"),
            ("help", _) => usage("help"),
            _ => usage("jobs"),
        })
    }

    /// `export NAME=VALUE...`: sets each in the environment, all or none.
    fn export(&mut self, assignments: &[&str]) -> i32 {
        let pairs: Option<Vec<(&str, &str)>> =
            assignments.iter().map(|a| a.split_once('=').filter(|(name, _)| sh::is_name(name))).collect();
        let Some(pairs) = pairs else {
            return usage("export [NAME=VALUE...]");
        };
        for (name, value) in pairs {
            self.env.retain(|e| e.split_once('=').is_none_or(|(n, _)| n != name));
            self.env.push(format!("{name}={value}"));
        }
        0
    }

    /// Tells now, as `wait` would, the ends of the ended background
    /// processes whose pids a new job has (ids are reused: a later `wait`
    /// names the new one), and of the oldest past [`ENDED_KEPT`]; and
    /// lets them go.
    fn let_go_ended(&mut self, reused: &[Pid]) {
        let mut kept = self.jobs.iter().flat_map(|j| &j.procs).filter(|(_, end)| end.is_some()).count();
        for job in &mut self.jobs {
            job.procs.retain(|&(pid, end)| match end {
                Some(end) if reused.contains(&pid) || kept > ENDED_KEPT => {
                    kept -= 1;
                    println!("[{pid}] {}", describe(end));
                    false
                }
                _ => true,
            });
        }
        self.jobs.retain(|j| !j.procs.is_empty());
    }

    /// Reaps the background processes that have ended, keeping their
    /// ends for `wait` and `jobs`; a job whose processes all ended lets
    /// its pipes go.
    fn reap_ended(&mut self) {
        for job in &mut self.jobs {
            for (pid, end) in job.procs.iter_mut().filter(|(_, end)| end.is_none()) {
                if let Ok(Some(w)) = libux::process::try_wait(Some(*pid)) {
                    *end = Some(w.end);
                }
            }
            if job.procs.iter().all(|(_, end)| end.is_some()) {
                job.pipes.clear();
            }
        }
    }

    /// Waits for the background jobs (or the one process `only`),
    /// reporting how each process ended.
    fn wait_jobs(&mut self, only: Option<Pid>) -> i32 {
        let targets: Vec<(Pid, Option<End>)> = match only {
            Some(pid) => {
                let kept = self.jobs.iter().flat_map(|j| &j.procs).find(|(p, _)| *p == pid);
                alloc::vec![kept.copied().unwrap_or((pid, None))]
            }
            None => self.jobs.iter().flat_map(|j| j.procs.iter().copied()).collect(),
        };
        let mut status = 0;
        for (pid, ended) in targets {
            match ended.map_or_else(|| libux::process::wait(Some(pid)).map(|w| w.end), Ok) {
                Ok(end) => {
                    println!("[{pid}] {}", describe(end));
                    status = status_of(end);
                }
                Err(e) => {
                    eprintln!("sh: wait {pid}: {e}");
                    status = 127;
                }
            }
            for j in &mut self.jobs {
                j.procs.retain(|&(p, _)| p != pid);
            }
        }
        self.jobs.retain(|j| !j.procs.is_empty());
        status
    }

    fn list_jobs(&self) {
        for job in &self.jobs {
            for (pid, end) in &job.procs {
                let state = match end {
                    Some(end) => ended_state(end),
                    None => {
                        let status =
                            client::open(&format!("/proc/{pid}/status"), flags::READ).and_then(|mut f| f.read_to_end());
                        let text = status.ok().and_then(|b| String::from_utf8(b).ok()).unwrap_or_default();
                        String::from(Status::parse(&text).map_or("gone", |s| s.state))
                    }
                };
                println!("[{pid}] {state:<12} {}", job.text);
            }
        }
    }
}

/// Ended background processes kept for `wait` at most (see
/// `Shell::let_go_ended`).
const ENDED_KEPT: usize = 256;

/// What the shell runs itself.
const BUILTINS: [&str; 9] = ["cd", "pwd", "exit", "wait", "jobs", "newns", "export", "unset", "help"];

/// `help`: the builtins, and the programs of `/bin`.
fn help() -> i32 {
    println!("builtins: {}", BUILTINS.join(" "));
    match client::list("/bin") {
        Ok(all) => {
            let mut names: Vec<String> = all.into_iter().map(|m| m.name).collect();
            names.sort_unstable();
            println!("programs (/bin): {}", names.join(" "));
            0
        }
        Err(e) => {
            eprintln!("sh: help: /bin: {e}");
            1
        }
    }
}

fn usage(text: &str) -> i32 {
    eprintln!("usage: {text}");
    2
}

/// Spawns one command with its descriptors: `stdin`/`stdout` are pipe
/// ends, else its redirections, else ours.
fn spawn(
    cmd: &Command,
    stdin: Option<(String, u32)>,
    stdout: Option<(String, u32)>,
    env: &[String],
) -> Result<Pid, i32> {
    let name = cmd.argv[0].as_str();
    let path = program_path(name);
    match client::stat(&path) {
        Ok(m) if !m.is_dir => {}
        Ok(_) if name.contains('/') => {
            eprintln!("sh: {name}: is a directory");
            return Err(126);
        }
        Ok(_) | Err(Errno::NotFound) => {
            eprintln!("sh: {name}: command not found");
            return Err(127);
        }
        Err(e) => {
            eprintln!("sh: {name}: {e}");
            return Err(127);
        }
    }
    // The shell opens redirections first, so that a bad path is reported
    // here; the child opens them again by name.
    let redirect = |file: &Option<String>, open_flags: u32| -> Result<Option<(String, u32)>, i32> {
        match file {
            None => Ok(None),
            // The child starts at the end; the check need not.
            Some(f) => match client::open(f, open_flags & !flags::APPEND) {
                Ok(file) => Ok(Some((file.path.clone(), open_flags & (flags::READ | flags::WRITE | flags::APPEND)))),
                Err(e) => {
                    eprintln!("sh: {f}: {e}");
                    Err(1)
                }
            },
        }
    };
    let stdin = match stdin {
        Some(s) => Some(s),
        None => redirect(&cmd.stdin, flags::READ)?,
    };
    let create = flags::WRITE | flags::CREATE | if cmd.append { flags::APPEND } else { flags::TRUNCATE };
    let stdout = match stdout {
        Some(s) => Some(s),
        None => redirect(&cmd.stdout, create)?,
    };
    let mut owned = fd::standard();
    for (fd, given) in [(0u8, stdin), (1u8, stdout)] {
        if let Some((path, f)) = given {
            owned.retain(|(n, _, _)| *n != fd);
            owned.push((fd, path, f));
        }
    }
    let names: Vec<FdName> = fd::names(&owned);
    let argv: Vec<&str> = cmd.argv.iter().map(String::as_str).collect();
    let env: Vec<&str> = env.iter().map(String::as_str).collect();
    libux::process::spawn_full(&path, &argv, &env, None, &names).map_err(|e| {
        eprintln!("sh: {name}: {e}");
        126
    })
}

/// Where the lines come from: standard input with a prompt, or lines
/// given (`-c LINE`, a script's).
enum Lines {
    Typed,
    Given(Vec<String>),
}

/// What the arguments ask for; `Err` is the status to exit with.
fn lines_from_args() -> Result<Lines, i32> {
    match libux::rt::args().get(1..).unwrap_or_default() {
        [] => Ok(Lines::Typed),
        ["-c", line] => Ok(Lines::Given(alloc::vec![String::from(*line)])),
        [path] if !path.starts_with('-') => {
            let text = client::open(path, flags::READ).and_then(|mut f| f.read_to_end()).map_err(|e| {
                eprintln!("sh: {path}: {e}");
                127
            })?;
            let Ok(text) = String::from_utf8(text) else {
                eprintln!("sh: {path}: not text (UTF-8)");
                return Err(126);
            };
            Ok(Lines::Given(text.lines().map(String::from).collect()))
        }
        _ => Err(usage("sh [-c LINE | FILE]")),
    }
}

fn main() -> i32 {
    let lines = match lines_from_args() {
        Ok(lines) => lines,
        Err(status) => return status,
    };
    if !fd::is_open(fd::STDIN) {
        let console = fd::open_at(fd::STDIN, "/dev/cons", flags::READ)
            .and_then(|()| fd::open_at(fd::STDOUT, "/dev/cons", flags::WRITE))
            .and_then(|()| fd::open_at(fd::STDERR, "/dev/cons", flags::WRITE));
        if let Err(e) = console {
            println!("sh: cannot open the console: {e}");
            return 1;
        }
    }
    // Only a shell that reads the console names its jobs to it: one that
    // runs given lines leaves Ctrl-C to the shell that started it.
    let on_console = fd::name(fd::STDIN).is_some_and(|(p, _)| p == "/dev/cons");
    let typed = matches!(lines, Lines::Typed);
    let consctl = if on_console && typed { client::open("/dev/consctl", flags::WRITE).ok() } else { None };
    let env = libux::rt::start_block().env.into_iter().map(String::from).collect();
    let mut shell = Shell { status: 0, env, jobs: Vec::new(), background: None, input: Vec::new(), consctl };
    match lines {
        Lines::Typed => loop {
            shell.reap_ended();
            print!("$ ");
            let Some(line) = shell.read_line() else {
                return shell.status;
            };
            shell.run_line(&line);
        },
        Lines::Given(lines) => {
            for line in lines {
                shell.reap_ended();
                shell.run_line(&line);
            }
            shell.status
        }
    }
}

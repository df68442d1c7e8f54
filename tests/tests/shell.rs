//! The shell on the serial console, driven as a person would: type a
//! line, wait for what it prints. Through it, the console, pipes and clock
//! of `devfs`, `/proc` and `/bin` of the process server, and the
//! utilities.

use qemu::node::{Node, Options};
use std::time::{Duration, Instant};

const BOOT: Duration = Duration::from_secs(600);
const STEP: Duration = Duration::from_secs(60);

/// A booted node with its shell.
struct Session {
    node: Node,
    shell: u32,
}

impl Session {
    fn start() -> Session {
        Self::start_on("release")
    }

    /// A node of kernel `profile`.
    fn start_on(profile: &str) -> Session {
        let node = tests::boot(profile, &Options::default(), "ux: started sh as pid", BOOT);
        // netstack's lease is the last message of the boot, and it may come
        // after the first prompt: wait for it so that no prompt is split.
        node.wait_for("netstack: address ", BOOT).unwrap_or_else(|e| panic!("{e}"));
        let log = node.log();
        let shell = log.split("ux: started sh as pid ").nth(1).unwrap().lines().next().unwrap().trim().parse().unwrap();
        Session { node, shell }
    }

    /// Types `text` (a line needs its own "\n"); waits until an output line
    /// after it (not the echo of a typed line) contains `expect`; returns
    /// the output since typing.
    fn type_until(&self, text: &str, expect: &str) -> String {
        let mark = self.node.mark();
        self.node.type_text(text).unwrap();
        let deadline = Instant::now() + STEP;
        loop {
            let log = self.node.log();
            let out = &log[mark..];
            // Only whole lines.
            let whole = &out[..out.rfind('\n').map_or(0, |i| i + 1)];
            let echo = usize::from(text.ends_with('\n'));
            // A prompt may come before the output on its line (typed
            // ahead of it, a line is echoed before the shell's prompt);
            // after a prompt, the typed line's own echo is not output.
            let output = |l: &str| l.strip_prefix("$ ").is_none_or(|rest| rest != text.trim_end());
            if whole.lines().skip(echo).any(|l| output(l) && l.contains(expect)) {
                return out.to_string();
            }
            assert!(
                Instant::now() < deadline,
                "after typing {text:?}, no line with {expect:?} in:\n{out}\n--- whole console ---\n{log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the prompt (the shell is reading), then types `line`.
    fn run(&self, line: &str, expect: &str) -> String {
        self.wait_prompt();
        self.type_until(&format!("{line}\n"), expect)
    }

    /// Waits for the prompt, types `line`, and waits until the command
    /// has ended (the prompt is back after its output); all its output.
    fn run_to_end(&self, line: &str) -> String {
        self.wait_prompt();
        let mark = self.node.mark();
        self.node.type_text(&format!("{line}\n")).unwrap();
        let deadline = Instant::now() + STEP;
        loop {
            let log = self.node.log();
            let out = &log[mark..];
            if out.contains('\n') && out.ends_with("\n$ ") {
                return out.to_string();
            }
            assert!(Instant::now() < deadline, "after typing {line:?}, no prompt in:\n{out}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn wait_prompt(&self) {
        let deadline = Instant::now() + STEP;
        while !self.prompting() {
            assert!(Instant::now() < deadline, "no prompt:\n{}", self.node.log());
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Types `line` and Ctrl-C right after it: devfs keeps a Ctrl-C that
    /// comes before the shell named its job and kills the job once named,
    /// so one is enough. Waits until the prompt is back.
    fn interrupt(&self, line: &str) {
        let mark = self.node.mark();
        self.node.type_text(line).unwrap();
        self.node.type_text("\x03").unwrap();
        let deadline = Instant::now() + STEP;
        loop {
            let log = self.node.log();
            if log[mark..].contains("^C") && log.ends_with("\n$ ") {
                return;
            }
            assert!(Instant::now() < deadline, "Ctrl-C never gave the prompt back:\n{log}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The console ends with the prompt, or with the prompt followed by a
    /// boot message that came after it.
    fn prompting(&self) -> bool {
        let log = self.node.log();
        log.ends_with("$ ")
            || log.rsplit_once("\n$ ").is_some_and(|(_, tail)| {
                tail.starts_with("netstack: ") && tail.ends_with('\n') && tail.lines().count() == 1
            })
    }
}

/// The output lines of what a typed line printed: not its echo (the
/// first line), not the next prompt.
fn output(out: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = out.lines().skip(1).collect();
    // The prompt after the output may be caught half-written ("$").
    if lines.last().is_some_and(|l| "$ ".starts_with(l)) {
        lines.pop();
    }
    lines.into_iter().filter(|l| !l.starts_with("$ ") && !l.is_empty()).collect()
}

#[test]
fn a_session_at_the_console() {
    session(Session::start());
}

/// `cargo ux` boots the debug kernel: the same session on it.
#[test]
fn a_session_at_the_console_of_a_debug_kernel() {
    session(Session::start_on("debug"));
}

fn session(s: Session) {
    let out = s.run("ls /bin", "sleep");
    for prog in ["cat", "echo", "kill", "ls", "mkdir", "ps", "rm", "sh", "sleep"] {
        assert!(output(&out).contains(&prog), "{prog} missing from ls /bin:\n{out}");
    }

    s.run("echo hi > /tmp/a; cat /tmp/a", "hi");
    assert_eq!(output(&s.run("cat /tmp/a", "hi")), ["hi"]);
    assert_eq!(output(&s.run("echo more >> /tmp/a; cat /tmp/a", "more")), ["hi", "more"]);
    assert_eq!(output(&s.run("echo new >> /tmp/fresh; cat /tmp/fresh", "new")), ["new"]);

    // A pipe, and one of three stages.
    assert_eq!(output(&s.run("echo piped words | cat", "piped")), ["piped words"]);
    let bin = s.run_to_end("ls /bin");
    let out = s.run("ls /bin | cat | cat > /tmp/listing; ls -l /tmp", "listing");
    let listing = output(&out).into_iter().find(|l| l.ends_with(" listing")).unwrap().to_string();
    // `-rw-r--r--     0     0      142 2026-12-04 01:15 listing` (ls.rs).
    let words: Vec<&str> = listing.split_whitespace().collect();
    assert_eq!((words[0], words[1], words[2]), ("-rw-r--r--", "0", "0"), "{listing}");
    let size: usize = words[3].parse().unwrap();
    // The modification time is the node's clock's (the host's, through
    // QEMU's RTC): this year's.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let year = libux::time::Civil::from_unix(now).year;
    assert!(words[4].starts_with(&format!("{year}-")), "{listing}");
    let names = output(&bin);
    assert_eq!(size, names.iter().map(|n| n.len() + 1).sum::<usize>(), "{listing}");
    assert_eq!(output(&s.run_to_end("cat /tmp/listing")), names, "three stages changed what passed");

    // `ps` shows the shell and itself.
    let out = s.run("ps", " ps");
    let sh = format!("{} ", s.shell);
    assert!(output(&out).iter().any(|l| l.trim_start().starts_with(&sh) && l.ends_with(" sh")), "{out}");
    assert!(output(&out).iter().any(|l| l.contains(" running ") && l.ends_with(" ps")), "{out}");

    // A background sleep, seen and killed through /proc.
    let out = s.run("sleep 100 &", "[");
    let pid: u32 = output(&out)[0].trim_matches(['[', ']']).parse().unwrap();
    let out = s.run(&format!("cat /proc/{pid}/status"), " sleep ");
    assert!(output(&out)[0].starts_with(&format!("{pid} {} running sleep ", s.shell)), "{out}");
    assert!(output(&s.run("jobs", "sleep 100")).iter().any(|l| l.contains("running")));
    s.run(&format!("echo kill > /proc/{pid}/ctl; echo sent"), "sent");
    assert_eq!(output(&s.run("wait", "killed")), [format!("[{pid}] killed")]);

    // `&` ends a job mid-line, and `$!` is its pid, for the next job and
    // the next line.
    let out = s.run_to_end("sleep 100 & echo left $!");
    let pid: u32 = output(&out)[0].trim_matches(['[', ']']).parse().unwrap();
    assert_eq!(output(&out)[1..], [format!("left {pid}")], "{out}");
    s.run("kill $!; echo sent", "sent");
    assert_eq!(output(&s.run("wait", "killed")), [format!("[{pid}] killed")]);
    // `&&` and `||` run a job by the status of the one before (a job
    // skipped leaves it); a line that would put part of such a list in
    // the background runs nothing.
    let out = s.run_to_end("cd /nowhere && echo no || echo yes; true && echo both");
    assert!(output(&out).ends_with(&["yes", "both"]) && !output(&out).contains(&"no"), "{out}");
    let out = s.run_to_end("echo ran && echo ran &");
    assert_eq!(output(&out), ["sh: & cannot end a job joined by && or ||"], "{out}");
    // `sh -c LINE` and `sh FILE` run lines and exit with the last status;
    // a `#` that starts a word begins a comment.
    let out = s.run_to_end("sh -c 'echo one; exit 3 # gone'; echo status $?");
    assert_eq!(output(&out), ["one", "status 3"], "{out}");
    s.run_to_end("echo 'echo two # c' > /tmp/script; echo 'cd /nowhere || echo three' >> /tmp/script");
    let out = s.run_to_end("sh /tmp/script; echo status $?");
    let lines = output(&out);
    assert!(lines.first() == Some(&"two") && lines.ends_with(&["three", "status 0"]), "{out}");
    let out = s.run_to_end("sh -x; sh /tmp/nothing; echo status $?");
    assert_eq!(output(&out)[0], "usage: sh [-c LINE | FILE]", "{out}");
    assert!(output(&out)[1].starts_with("sh: /tmp/nothing: ") && output(&out)[2] == "status 127", "{out}");
    // That check is of the jobs' shape: a value an earlier job of the
    // line sets counts.
    let out = s.run_to_end("export OUT=/tmp/out; echo kept > $OUT; cat $OUT");
    assert_eq!(output(&out), ["kept"], "{out}");

    // A traced sleep and its tracer, each waited for through /proc, end
    // together when the tracer is killed (the sleep loses its
    // connection, and its record goes with it): each read gets its own
    // process's end and name.
    let mark = s.node.mark();
    let out = s.run("tracer sleep 100 &", "[");
    let tracer: u32 = output(&out)[0].trim_matches(['[', ']']).parse().unwrap();
    // The sleep runs (its calls traced, after the prompt: a line typed
    // then brings one back).
    s.node.wait_after(mark, "path: \"/dev/sleep\"", STEP).unwrap_or_else(|e| panic!("{e}"));
    s.type_until("echo traced\n", "traced");
    let ps = s.run_to_end("ps");
    let sleeper = tests::pids_of(&ps, "sleep").into_iter().find(|&(_, parent)| parent == tracer);
    let (sleeper, _) = sleeper.unwrap_or_else(|| panic!("no sleep of tracer {tracer} in:\n{ps}"));
    s.run(&format!("cat /proc/{sleeper}/wait &"), "[");
    s.run(&format!("cat /proc/{tracer}/wait &"), "[");
    let mark = s.node.mark();
    s.run(&format!("kill {tracer}; echo sent"), "sent");
    for line in [format!("{sleeper} 0 killed sleep 0"), format!("{tracer} {} killed tracer ", s.shell)] {
        s.node.wait_after(mark, &line, STEP).unwrap_or_else(|e| panic!("{e}"));
    }
    s.type_until("echo settled\n", "settled");
    let out = s.run_to_end("wait");
    assert!(out.contains(&format!("[{tracer}] killed")), "{out}");

    // A pipe's reader sees the end of data when its writer is killed.
    let out = s.run("sleep 100 | cat &", "[");
    let cat: u32 = output(&out)[0].trim_matches(['[', ']']).parse().unwrap();
    let out = s.run("jobs", "cat");
    let sleeper: u32 = output(&out)[0].split(']').next().unwrap().trim_start_matches('[').parse().unwrap();
    assert_ne!(sleeper, cat, "{out}");
    s.run(&format!("kill {sleeper}; echo sent"), "sent");
    let out = s.run("wait", &format!("[{cat}]"));
    assert_eq!(output(&out), [format!("[{sleeper}] killed"), format!("[{cat}] exited 0")]);

    // Ctrl-C kills the foreground job, not the shell.
    s.wait_prompt();
    s.interrupt("sleep 100\n");
    assert_eq!(output(&s.run("echo status $?", "status")), ["status 137"]);
    // A whole pipeline.
    s.wait_prompt();
    s.interrupt("sleep 100 | cat | cat\n");
    assert_eq!(output(&s.run("echo status $?", "status")), ["status 137"]);
    let out = s.run("ps", " ps");
    assert!(!out.contains(" sleep") && !out.contains(" cat"), "a pipeline survived Ctrl-C:\n{out}");

    // Errors, and the shell lives on.
    assert_eq!(output(&s.run("nosuch", "not found")), ["sh: nosuch: command not found"]);
    assert_eq!(output(&s.run("echo $?", "127")), ["127"]);
    s.run("cat /tmp/nothing", "cat: /tmp/nothing: file does not exist");
    s.run("echo x > /bin/ls", "sh: /bin/ls: read-only file system");
    s.run("cd /nowhere", "sh: cd: /nowhere: file does not exist");
    s.run("echo 'open", "sh: unterminated quote");
    s.run("kill", "usage: kill");

    // Backspace edits the line.
    s.wait_prompt();
    assert_eq!(output(&s.type_until("echo abX\x7fc\n", "abc")), ["abc"]);

    // Directories and the working directory.
    s.run("mkdir /tmp/d; cd /tmp/d; pwd", "/tmp/d");
    s.run("echo inside > f; cat /tmp/d/f", "inside");
    assert_eq!(output(&s.run("rm /tmp/d/f; ls /tmp/d; echo empty $?", "empty 0")), ["empty 0"]);
    s.run("cat /tmp/d/f", "cat: /tmp/d/f: file does not exist");
    let tmp = output(&s.run("cd /; rm /tmp/d; ls /tmp", "listing")).join("\n");
    assert!(!tmp.lines().any(|l| l == "d"), "rm left /tmp/d:\n{tmp}");

    // /proc/self is the reader.
    let out = s.run("cat /proc/self/status", " cat ");
    assert!(output(&out)[0].contains(&format!(" {} running cat ", s.shell)), "{out}");

    // A process stopped while it waits in a call (sleep, in devfs) goes
    // on once continued, and ends as it would have.
    let out = s.run("sleep 2 &", "[");
    let pid: u32 = output(&out)[0].trim_matches(['[', ']']).parse().unwrap();
    s.run(&format!("echo stop > /proc/{pid}/ctl; sleep 3; cat /proc/{pid}/status"), &format!("{pid} "));
    let status = s.run_to_end(&format!("cat /proc/{pid}/status"));
    assert!(output(&status)[0].contains(" stopped sleep "), "{status}");
    s.run(&format!("echo cont > /proc/{pid}/ctl; echo sent"), "sent");
    assert_eq!(output(&s.run("wait", "exited")), [format!("[{pid}] exited 0")]);

    // Background jobs that ended are reaped at the next prompt, not left
    // in the process table until `wait`; `jobs` and `wait` still say how
    // they ended.
    let mut trues = Vec::new();
    for _ in 0..3 {
        let out = s.run("true &", "[");
        trues.push(output(&out)[0].trim_matches(['[', ']']).to_string());
    }
    // (Each prompt reaps what ended; a few prompts, for a slow host.)
    let t0 = std::time::Instant::now();
    loop {
        let ps = s.run_to_end("ps");
        let left: Vec<&String> =
            trues.iter().filter(|pid| ps.lines().any(|l| l.split_whitespace().next() == Some(pid.as_str()))).collect();
        if left.is_empty() {
            break;
        }
        assert!(t0.elapsed() < STEP, "{left:?} unreaped:\n{ps}");
        s.run("sleep 1; echo slept", "slept");
    }
    let jobs = s.run_to_end("jobs");
    assert_eq!(
        output(&jobs).iter().filter(|l| l.contains(" exited:0 ") && l.ends_with(" true &")).count(),
        3,
        "{jobs}"
    );
    let waited = s.run_to_end("wait");
    let want: Vec<String> = trues.iter().map(|p| format!("[{p}] exited 0")).collect();
    assert_eq!(output(&waited), want);

    s.run("exit 3", "exited with status 3");
}

/// The pid the process server gave the boot program `name`.
fn started(node: &Node, name: &str) -> u32 {
    let log = node.log();
    let at = format!("ux: started {name} as pid ");
    log.split(&at).nth(1).and_then(|l| l.split_whitespace().next()).and_then(|p| p.parse().ok()).unwrap()
}

#[test]
fn the_node_goes_on_when_a_system_server_dies() {
    let s = Session::start();
    // netstack: its files answer an error, not a hang.
    let netstack = started(&s.node, "netstack");
    s.run(&format!("kill {netstack}; echo sent"), "sent");
    s.run("cat /net/stats", "cat: /net/stats: ");
    // ramfs: / and /tmp go with it.
    s.run("echo kept > /tmp/k; cat /tmp/k", "kept");
    let ramfs = started(&s.node, "ramfs");
    s.run(&format!("kill {ramfs}; echo sent"), "sent");
    s.run("cat /tmp/k", "cat: /tmp/k: ");
    // The process server's own trees, and the shell, go on.
    s.run("ls /bin", "sleep");
    let out = s.run("cat /proc/self/status", " cat ");
    assert!(output(&out)[0].contains(&format!(" {} running cat ", s.shell)), "{out}");
    assert_eq!(output(&s.run("echo alive", "alive")), ["alive"]);
}

#[test]
fn the_small_tools_a_person_reaches_for() {
    let s = Session::start();
    s.run("echo one two > /tmp/w; echo three >> /tmp/w; echo written", "written");
    let words = |line: &str| line.split_whitespace().map(String::from).collect::<Vec<_>>();
    let wc = s.run_to_end("wc /tmp/w");
    assert_eq!(words(output(&wc)[0]), ["2", "3", "14", "/tmp/w"], "{wc}");
    let wc = s.run_to_end("wc /tmp/w /tmp/w");
    assert_eq!(words(output(&wc)[2]), ["4", "6", "28", "total"], "{wc}");
    let wc = s.run_to_end("echo a b c | wc");
    assert_eq!(words(output(&wc)[0]), ["1", "3", "6"], "{wc}");
    // `echo -n`: no newline (wc counts the bytes), and only first.
    let wc = s.run_to_end("echo -n a b | wc -c; echo a -n | wc -c");
    assert_eq!(output(&wc).iter().map(|l| l.trim()).collect::<Vec<_>>(), ["3", "5"], "{wc}");
    s.run("wc /nonexistent", "wc: /nonexistent: file does not exist");
    // grep: a regular expression over lines, its options, its statuses.
    assert_eq!(output(&s.run_to_end("grep -n 'th?ree$' /tmp/w; echo status $?")), ["2:three", "status 0"]);
    let out = s.run_to_end("grep -iv ONE /tmp/w - < /tmp/w; grep -c o /tmp/w");
    assert_eq!(output(&out), ["/tmp/w:three", "-:three", "1"], "{out}");
    assert_eq!(output(&s.run_to_end("grep nothing /tmp/w; echo status $?")), ["status 1"]);
    let out = s.run_to_end("grep -c three /nothing /tmp/w; echo status $?");
    assert_eq!(output(&out), ["grep: /nothing: file does not exist", "/tmp/w:1", "status 2"], "{out}");
    let bad = s.run_to_end("grep '(' /tmp/w; echo status $?");
    let out = output(&bad);
    assert!(out[0].starts_with("grep: bad pattern \"(\"") && out.last() == Some(&"status 2"), "{bad}");
    // A last line without its newline is a line.
    assert_eq!(output(&s.run_to_end("echo -n a b | grep b")), ["a b"]);
    s.run("grep -x a", "usage: grep [-ivcn] PATTERN [FILE...]");
    // `ls /` shows the mount points, in name order with ramfs's `tmp`.
    assert_eq!(output(&s.run_to_end("ls /")), ["bin", "dev", "net", "proc", "tmp"]);
    // Only the counts named, in wc's order whatever the options' order.
    let wc = s.run_to_end("wc -l /tmp/w");
    assert_eq!(words(output(&wc)[0]), ["2", "/tmp/w"], "{wc}");
    let wc = s.run_to_end("echo a b c | wc -cw");
    assert_eq!(words(output(&wc)[0]), ["3", "6"], "{wc}");
    let wc = s.run_to_end("echo a b c | wc -w /tmp/w -");
    assert_eq!(words(output(&wc)[1]), ["3", "-"], "{wc}");
    let wc = s.run_to_end("wc -l /tmp/w /tmp/w");
    assert_eq!(words(output(&wc)[2]), ["4", "total"], "{wc}");
    s.run("wc -x /tmp/w", "usage: wc [-lwc] [FILE...]");

    assert_eq!(output(&s.run_to_end("head -n 1 /tmp/w")), ["one two"]);
    let bin = s.run_to_end("ls /bin");
    assert_eq!(output(&s.run_to_end("ls /bin | head -n 3")), output(&bin)[..3]);
    // The last lines of a file and of a pipe.
    assert_eq!(output(&s.run_to_end("tail -n 1 /tmp/w")), ["three"]);
    let listed = output(&bin);
    assert_eq!(output(&s.run_to_end("ls /bin | tail -n 3")), listed[listed.len() - 3..]);
    assert_eq!(output(&s.run_to_end("tail /tmp/w")), ["one two", "three"]);
    s.run("tail -n x /tmp/w", "usage: tail [-n N | -N] [FILE...]");
    // The old form, `-N`.
    assert_eq!(output(&s.run_to_end("ls /bin | head -2")), output(&bin)[..2]);
    assert_eq!(output(&s.run_to_end("tail -1 /tmp/w")), ["three"]);
    assert_eq!(output(&s.run_to_end("ls /bin | head")).len(), 10);
    s.run("head -n x", "usage: head");

    // The clock and the process server's figures.
    let up = s.run_to_end("uptime");
    let line = output(&up)[0];
    assert!(line.starts_with("up 0:") && line.contains(" processes, load "), "{up}");
    let free = s.run_to_end("free");
    let kib: u64 = output(&free)[0].strip_prefix("memory free: ").unwrap().trim_end_matches(" KiB").parse().unwrap();
    assert!(kib > 1024, "{free}");

    // The date, from the node's CMOS clock: the host's, give or take the
    // emulator's drift; the same instant both ways.
    let host = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let secs: i64 = output(&s.run_to_end("date -n"))[0].parse().unwrap();
    assert!((secs - host).abs() < 600, "the node says {secs}, the host {host}");
    let date = s.run_to_end("date");
    let shown = output(&date)[0];
    let near = (secs..secs + 60).map(libux::time::Civil::from_unix).any(|c| c.to_string() == shown);
    assert!(near, "{shown:?} is not within a minute after {secs}");
    s.run("date -x", "usage: date [-n]");

    // The environment: what `export` sets, `$NAME` and `env` show, and
    // `unset` takes away.
    s.run("export GREETING='hello world' PLACE=node1; echo exported", "exported");
    assert_eq!(output(&s.run_to_end("echo \"$GREETING\" from $PLACE")), ["hello world from node1"]);
    let env = s.run_to_end("env");
    assert!(output(&env).contains(&"GREETING=hello world") && output(&env).contains(&"PLACE=node1"), "{env}");
    s.run("unset GREETING; echo unset", "unset");
    let env = s.run_to_end("env");
    assert!(!env.contains("GREETING") && output(&env).contains(&"PLACE=node1"), "{env}");
    s.run("export 1x=2", "usage: export");

    // `help`: the builtins and every program of /bin.
    let help = s.run_to_end("help");
    assert!(output(&help)[0].starts_with("builtins: cd pwd exit wait"), "{help}");
    for prog in output(&bin) {
        assert!(output(&help)[1].split_whitespace().any(|p| p == prog), "{prog} in:\n{help}");
    }
}

/// A program that is a file runs from the shell as one of /bin does: by
/// path, absolute or relative, in pipes, with its status; a directory or
/// a file that is no program is a clear error.
#[test]
fn programs_that_are_files_run_from_the_shell() {
    let s = Session::start();
    s.run("cat /bin/echo > /tmp/e; cat /bin/cat > /tmp/c; cat /bin/true > /tmp/t; echo copied", "copied");
    assert_eq!(output(&s.run_to_end("/tmp/e hello from a file")), ["hello from a file"]);
    assert_eq!(output(&s.run_to_end("echo through a pipe | /tmp/c | /tmp/c")), ["through a pipe"]);
    assert_eq!(output(&s.run_to_end("cd /tmp; ./e relative; cd /")), ["relative"]);
    assert_eq!(output(&s.run_to_end("/tmp/t 9; echo $?")), ["9"]);
    // Its name and arguments are its own in /proc, not exec's.
    s.run("cat /bin/sleep > /tmp/s; echo copied", "copied");
    let job = s.run("/tmp/s 60 &", "[");
    let pid = job.split('[').nth(1).and_then(|r| r.split(']').next()).unwrap().to_string();
    let ps = s.run_to_end("ps");
    assert!(output(&ps).iter().any(|l| l.starts_with(&format!("{pid:>8} ")) && l.ends_with(" /tmp/s")), "{ps}");
    assert!(!ps.contains(" exec"), "{ps}");
    assert_eq!(output(&s.run_to_end(&format!("cat /proc/{pid}/args"))), ["/tmp/s", "60"]);
    s.run(&format!("kill {pid}; wait {pid}"), "killed");
    let dir = s.run_to_end("/tmp; echo $?");
    assert_eq!(output(&dir), ["sh: /tmp: is a directory", "126"], "{dir}");
    let text = s.run_to_end("echo not a program at all, only some text to be read > /tmp/x; /tmp/x; echo $?");
    assert_eq!(output(&text), ["exec: /tmp/x: not an ELF file", "126"], "{text}");
    let none = s.run_to_end("/tmp/none; echo $?");
    assert_eq!(output(&none), ["sh: /tmp/none: command not found", "127"], "{none}");
}

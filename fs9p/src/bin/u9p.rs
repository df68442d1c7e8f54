//! `u9p`: 9P from the host, with this project's own client and server.
//!
//! ```text
//! u9p serve DIR [--listen ADDR]        export DIR (default 127.0.0.1:5640)
//!           [--all-as-me]              every client with the server's rights
//!           [--allow-root]             a client attaching as root is root
//! u9p ls   ADDR [PATH]                 list a directory
//! u9p cat  ADDR PATH                   print a file
//! u9p put  ADDR PATH                   write standard input to a file
//! u9p mkdir|rm ADDR PATH
//! options: --dialect 9P2000|9P2000.L (default 9P2000.L), --aname NAME,
//!          --msize BYTES (default 65536), --secret FILE (prove the
//!          secret in FILE, hex, to an export that asks: a cluster's)
//! ```
//!
//! `u9p serve` run as root acts as each attaching user (9P2000.L's numeric
//! id, else the user name; one the host does not know is refused), so the
//! host's permission checks answer every client; root is `nobody` unless
//! `--allow-root`. The user is who the client says it is (as NFS's
//! AUTH_SYS): export only to clients trusted to say so. `--all-as-me`, or
//! a server not run as root, gives every client the server's own rights.

use fs9p::host::{serve, Client, DirFs, Users};
use fs9p::Dialect;
use std::io::{Read, Write};
use std::process::ExitCode;

const USAGE: &str =
    "usage: u9p serve DIR [--listen ADDR] [--all-as-me] [--allow-root] | u9p ls|cat|put|mkdir|rm ADDR [PATH] \
[--dialect 9P2000|9P2000.L] [--aname NAME] [--msize BYTES] [--secret FILE]";

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("u9p: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Vec<String>) -> Result<(), String> {
    let mut words = Vec::new();
    let (mut dialect, mut aname, mut msize, mut listen) =
        (Dialect::L, String::new(), 65536, "127.0.0.1:5640".to_string());
    let mut secret = None;
    let (mut all_as_me, mut allow_root) = (false, false);
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--dialect" => {
                let v = value("--dialect")?;
                dialect = Dialect::from_version(&v).ok_or(format!("unknown dialect {v}; 9P2000 or 9P2000.L"))?;
            }
            "--aname" => aname = value("--aname")?,
            "--msize" => msize = value("--msize")?.parse().map_err(|_| "--msize takes a number".to_string())?,
            "--listen" => listen = value("--listen")?,
            "--all-as-me" => all_as_me = true,
            "--allow-root" => allow_root = true,
            "--secret" => {
                let file = value("--secret")?;
                let text = std::fs::read_to_string(&file).map_err(|e| format!("{file}: {e}"))?;
                secret = Some(fs9p::auth::from_hex(&text).ok_or(format!("{file}: not a secret in hex"))?);
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            _ => words.push(a),
        }
    }
    let [command, target, rest @ ..] = &words[..] else { return Err(USAGE.into()) };
    let path = rest.first().map(String::as_str).unwrap_or("");
    if command == "serve" {
        let users = if fs9p::host::is_root() && !all_as_me { Users::Attaching { allow_root } } else { Users::Me };
        fs9p::host::raise_open_files_limit();
        let fs = DirFs::new(target, users).map_err(|e| format!("{target}: {e}"))?;
        let listener = std::net::TcpListener::bind(&listen).map_err(|e| format!("{listen}: {e}"))?;
        let rights = match users {
            Users::Attaching { allow_root: true } => "each client as its attaching user",
            Users::Attaching { allow_root: false } => "each client as its attaching user (root as nobody)",
            Users::Me => "every client with this server's rights",
        };
        eprintln!("u9p: exporting {target} on {}, {rights}", listener.local_addr().map_err(|e| e.to_string())?);
        return serve(listener, fs, 4096).map_err(|e| e.to_string());
    }
    let c = match &secret {
        Some(s) => Client::connect_proving(target, dialect, msize, "u9p", &aname, s),
        None => Client::connect(target, dialect, msize, "u9p", &aname),
    };
    let mut c = c.map_err(|e| format!("{target}: {e}"))?;
    let err = |e: fs9p::host::ClientError| format!("{path}: {e}");
    match command.as_str() {
        "ls" => {
            for name in c.list(path).map_err(err)? {
                println!("{name}");
            }
        }
        "cat" => std::io::stdout().write_all(&c.read_file(path).map_err(err)?).map_err(|e| e.to_string())?,
        "put" => {
            let mut data = Vec::new();
            std::io::stdin().read_to_end(&mut data).map_err(|e| e.to_string())?;
            c.write_file(path, &data).map_err(err)?;
        }
        "mkdir" => c.mkdir(path).map_err(err)?,
        "rm" => c.remove(path).map_err(err)?,
        other => return Err(format!("unknown command {other}; {USAGE}")),
    }
    Ok(())
}

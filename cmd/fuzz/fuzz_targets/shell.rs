//! The shell parses whatever is typed: any line gives jobs or a parse
//! error, never a panic; every command of a parsed job has a program; and
//! a job that parses with some values passes the shell's check of its
//! shape (which runs before any job of the line).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    let Ok(jobs) = sh::split_jobs(&line) else { return };
    for (_, text) in jobs {
        let env = [String::from("HOME=/tmp"), String::from("X=a b")];
        let parsed = sh::parse(text, &sh::Vars { status: -1, background: None, env: &env });
        if let Ok(Some(job)) = &parsed {
            assert!(job.commands.iter().all(|c| !c.argv.is_empty()));
        }
        if parsed.is_ok() {
            assert_eq!(sh::check(text), Ok(()), "{text:?}");
        }
    }
});

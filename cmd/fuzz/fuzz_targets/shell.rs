//! The shell parses whatever is typed: any line gives jobs or a parse
//! error, never a panic; every command of a parsed job has a program.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    let Ok(jobs) = sh::split_jobs(&line) else { return };
    for text in jobs {
        let env = [String::from("HOME=/tmp"), String::from("X=a b")];
        if let Ok(Some(job)) = sh::parse(text, &sh::Vars { status: -1, background: Some(65537), env: &env }) {
            assert!(job.commands.iter().all(|c| !c.argv.is_empty()));
        }
    }
});

//! `{{name}} [WHO...]`: a program for ux, built outside the system's workspace
//! (made by `cargo ux new`). It greets WHO (or the world) and says which
//! process it is. Build: `cargo build --release`; the program is
//! `target/x86_64-unknown-none/release/{{name}}`.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::String;
use libux::{println, process};

libux::entry!(main);

fn main() -> i32 {
    let args = libux::rt::args();
    let who = if args.len() > 1 { args[1..].join(" ") } else { String::from("world") };
    let pid = process::getpid().unwrap_or(0);
    println!("hello, {who}: I am {{name}}, pid {pid}, built outside the workspace");
    0
}

//! `env`: the environment it was started with, one `NAME=VALUE` a line
//! (the shell's, which `export` and `unset` change).
#![no_std]
#![no_main]

extern crate alloc;

libux::entry!(main);

fn main() -> i32 {
    if let Some(status) = utils::no_arguments("env") {
        return status;
    }
    let text: alloc::string::String = libux::rt::start_block().env.iter().flat_map(|e| [*e, "\n"]).collect();
    utils::print("env", &text)
}

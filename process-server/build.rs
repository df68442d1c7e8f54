//! The boot image is assembled by the `qemu` tool (`cargo ux build`), which
//! passes the boot file system and kernel facts in these variables. The
//! root task has its own entry point (`_start_root`), since the kernel
//! starts it without a stack.
fn main() {
    for var in ["UX_BOOTFS", "UX_SEL4_VERSION", "UX_KERNEL_PROFILE"] {
        println!("cargo:rerun-if-env-changed={var}");
        if std::env::var_os(var).is_none() {
            panic!("{var} is not set: build the process server with `cargo ux build`, not directly");
        }
    }
    println!("cargo:rustc-link-arg-bins=--entry=_start_root");
}

//! The boot image is assembled by the `qemu` tool (`cargo ux build`), which
//! passes the kernel's facts in these variables (the boot file system
//! comes at run time, through fw_cfg: `src/bootfs.rs`). The
//! root task has its own entry point (`_start_root`), since the kernel
//! starts it without a stack.
fn main() {
    for var in ["UX_SEL4_VERSION", "UX_KERNEL_PROFILE"] {
        println!("cargo:rerun-if-env-changed={var}");
        if std::env::var_os(var).is_none() {
            panic!("{var} is not set: build the process server with `cargo ux build`, not directly");
        }
    }
    println!("cargo:rustc-link-arg-bins=--entry=_start_root");
}

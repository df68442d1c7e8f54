//! What the build makes of seL4's source, checked in the built kernels of
//! every profile: the kernel stack is placed as the kernel's own code
//! assumes (see `kernel-config/profiles/base.config`).

use std::process::Command;

/// The address of `symbol` in `kernel`'s ELF, from binutils' `nm`.
fn address(kernel: &qemu::kernel::Kernel, symbol: &str) -> u64 {
    let elf = kernel.build.join("kernel.elf");
    let out = Command::new("nm").arg(&elf).output().expect("run nm (binutils)");
    assert!(out.status.success(), "nm {}: {}", elf.display(), String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text.lines().find(|l| l.split_whitespace().nth(2) == Some(symbol));
    let line = line.unwrap_or_else(|| panic!("{symbol} not in {}", elf.display()));
    u64::from_str_radix(line.split_whitespace().next().unwrap(), 16).unwrap()
}

/// On the way back to user mode with an interrupt pending, the kernel
/// rounds RSP to the stack's size to find the stack's top: unaligned, the
/// interrupt's handler ran above the stack, over the IDT.
#[test]
fn the_kernel_stack_is_aligned_to_its_size_in_every_profile() {
    for profile in kernel_config::PROFILES {
        let kernel = qemu::prepare(profile).unwrap_or_else(|e| panic!("{e}")).kernel;
        let bits: u32 =
            kernel.profile.options.iter().find(|(n, _)| n == "KERNEL_STACK_BITS").unwrap().1.parse().unwrap();
        let stack = address(&kernel, "kernel_stack_alloc");
        assert_eq!(
            stack % (1 << bits),
            0,
            "profile {profile}: kernel_stack_alloc at {stack:#x}, stack of 2^{bits} bytes"
        );
    }
}

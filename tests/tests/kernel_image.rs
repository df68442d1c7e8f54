//! What the build makes of seL4's source, checked in the built kernels of
//! every profile: the kernel stack is placed as the kernel's own code
//! assumes, and the boot's list of IOMMUs is one entry, not 262,142 (see
//! `kernel-config/profiles/base.config`).

use std::process::Command;

/// The address and size of `symbol` in `kernel`'s ELF, from binutils'
/// `nm -S`.
fn symbol(kernel: &qemu::kernel::Kernel, symbol: &str) -> (u64, u64) {
    let elf = kernel.build.join("kernel.elf");
    let out = Command::new("nm").arg("-S").arg(&elf).output().expect("run nm (binutils)");
    assert!(out.status.success(), "nm {}: {}", elf.display(), String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text.lines().find(|l| l.split_whitespace().nth(3) == Some(symbol));
    let line = line.unwrap_or_else(|| panic!("{symbol} (with a size) not in {}", elf.display()));
    let mut words = line.split_whitespace().map(|w| u64::from_str_radix(w, 16));
    (words.next().unwrap().unwrap(), words.next().unwrap().unwrap())
}

fn address(kernel: &qemu::kernel::Kernel, name: &str) -> u64 {
    symbol(kernel, name).0
}

/// The boot's state and its list of reserved regions each held an entry
/// per page from the IOMMUs' window to the top of the address space: 6
/// MiB of boot BSS that QEMU zero-filled and copied in at every boot.
#[test]
fn the_boot_keeps_no_list_of_a_quarter_million_iommus() {
    for profile in kernel_config::PROFILES {
        let kernel = qemu::prepare(profile).unwrap_or_else(|e| panic!("{e}")).kernel;
        for name in ["boot_state", "allocated_p_regions"] {
            let (_, size) = symbol(&kernel, name);
            assert!(size < 64 << 10, "profile {profile}: {name} is {size} bytes");
        }
    }
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

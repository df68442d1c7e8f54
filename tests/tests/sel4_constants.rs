//! Checks every hand-written seL4 number in `libux::sel4::consts` (and the
//! boot information offsets) against the kernel's own headers, for every
//! kernel profile.
//!
//! For each profile the kernel is built (cached), which also runs seL4's
//! generators over `syscall.xml`, `sel4.xml` and the `sel4arch.xml` files.
//! A C program including those generated headers, libsel4's headers and
//! the profile's `autoconf.h` prints each constant; the test compiles it
//! with the host gcc, runs it and compares.

use libux::sel4::bootinfo::offset;
use libux::sel4::consts;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const PRELUDE: &str = r#"
#include <stdio.h>
#include <stddef.h>
#define UNUSED __attribute__((unused))
typedef unsigned long word_t;
#include <autoconf.h>
#include "api/invocation.h"
#include "arch/api/sel4_invocation.h"
#include "arch/api/invocation.h"
#include "arch/api/syscall.h"
#include <sel4/simple_types.h>
#include <sel4/sel4_arch/simple_types.h>
typedef seL4_Uint64 seL4_Word;
typedef seL4_Word seL4_CPtr;
typedef seL4_Word seL4_NodeId;
typedef seL4_Word seL4_Domain;
typedef struct seL4_IPCBuffer_ seL4_IPCBuffer;
#include <sel4/macros.h>
#include <sel4/constants.h>
#include <sel4/errors.h>
#include <sel4/objecttype.h>
#include <sel4/arch/constants.h>
#include <sel4/bootinfo_types.h>
#define SHOW(name, expr) printf("%s %lld\n", name, (long long)(expr))
int main(void) {
"#;

/// `seL4_BootInfo` offsets libux reads, by C field name.
const BOOTINFO_FIELDS: &[(&str, usize)] = &[
    ("nodeID", offset::NODE_ID),
    ("numNodes", offset::NUM_NODES),
    ("ipcBuffer", offset::IPC_BUFFER),
    ("empty", offset::EMPTY),
    ("userImageFrames", offset::USER_IMAGE_FRAMES),
    ("userImagePaging", offset::USER_IMAGE_PAGING),
    ("extraBIPages", offset::EXTRA_BI_PAGES),
    ("initThreadCNodeSizeBits", offset::INIT_THREAD_CNODE_SIZE_BITS),
    ("archInfo", offset::ARCH_INFO),
    ("untyped", offset::UNTYPED),
    ("untypedList", offset::UNTYPED_LIST),
];

/// Constants that exist only in some profiles: the debug system calls.
fn only_in_debug(name: &str) -> bool {
    name.starts_with("SysDebug")
}

fn kernel_values(kernel: &qemu::kernel::Kernel, names: &[&str]) -> BTreeMap<String, i64> {
    let mut c = PRELUDE.to_string();
    for n in names {
        c.push_str(&format!("SHOW(\"{n}\", {n});\n"));
    }
    for (field, _) in BOOTINFO_FIELDS {
        c.push_str(&format!("SHOW(\"bootinfo.{field}\", offsetof(seL4_BootInfo, {field}));\n"));
    }
    c.push_str("SHOW(\"sizeof(seL4_UntypedDesc)\", sizeof(seL4_UntypedDesc));\nreturn 0;\n}\n");

    let dir = std::env::temp_dir().join(format!("ux-sel4-consts-{}-{}", std::process::id(), kernel.profile.name));
    std::fs::create_dir_all(&dir).unwrap();
    let (src, exe) = (dir.join("consts.c"), dir.join("consts"));
    std::fs::write(&src, c).unwrap();
    let l = kernel.src.join("libsel4");
    let include = |p: &Path| format!("-I{}", p.display());
    let out = Command::new("gcc")
        .arg("-w")
        .arg(include(&kernel.src.join("include/plat/pc99")))
        .arg(include(&kernel.build))
        .arg(include(&l.join("include")))
        .arg(include(&l.join("arch_include/x86")))
        .arg(include(&l.join("sel4_arch_include/x86_64")))
        .arg(include(&l.join("sel4_plat_include/pc99")))
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .output()
        .expect("run gcc");
    assert!(out.status.success(), "compiling the constants probe failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(&exe).output().expect("run the constants probe");
    let _ = std::fs::remove_dir_all(&dir);
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect()
}

#[test]
fn libux_constants_match_the_kernel_headers_in_every_profile() {
    for profile in kernel_config::PROFILES {
        let kernel = qemu::prepare(profile).unwrap_or_else(|e| panic!("{e}")).kernel;
        let debug = kernel.profile.has("DEBUG_BUILD");
        let ours: Vec<(&str, i64)> = consts::ALL.iter().flat_map(|t| t.iter().copied()).collect();
        let names: Vec<&str> = ours.iter().map(|(n, _)| *n).filter(|n| debug || !only_in_debug(n)).collect();
        assert!(names.len() > 70, "suspiciously few constants: {}", names.len());
        let theirs = kernel_values(&kernel, &names);

        let mut wrong = Vec::new();
        for (name, value) in &ours {
            match theirs.get(*name) {
                Some(v) if v == value => {}
                Some(v) => wrong.push(format!("{name}: libux has {value}, the kernel has {v}")),
                None => assert!(!debug && only_in_debug(name), "{name} missing from the probe output"),
            }
        }
        for (field, ours) in BOOTINFO_FIELDS {
            let v = theirs[&format!("bootinfo.{field}")];
            if v != *ours as i64 {
                wrong.push(format!("offsetof(seL4_BootInfo, {field}): libux has {ours}, the kernel has {v}"));
            }
        }
        assert_eq!(theirs["sizeof(seL4_UntypedDesc)"], offset::UNTYPED_DESC_SIZE as i64);
        assert!(wrong.is_empty(), "profile {profile}:\n{}", wrong.join("\n"));
    }
}

#[test]
fn debug_syscalls_exist_only_in_the_debug_profile() {
    let debug = qemu::prepare("debug").unwrap_or_else(|e| panic!("{e}")).kernel;
    let release = qemu::prepare("release").unwrap_or_else(|e| panic!("{e}")).kernel;
    let header = |k: &qemu::kernel::Kernel| std::fs::read_to_string(k.build.join("arch/api/syscall.h")).unwrap();
    // The generated header guards them with the option; the profiles decide.
    assert!(header(&debug).contains("SysDebugPutChar = -9"));
    assert!(debug.profile.has("DEBUG_BUILD") && !release.profile.has("DEBUG_BUILD"));
}

#[test]
fn fault_types_match_the_sel4_fault_tags() {
    let kernel = qemu::prepare("release").unwrap_or_else(|e| panic!("{e}")).kernel;
    let bf = kernel.src.join("libsel4/arch_include/x86/sel4/arch/shared_types.bf");
    let text = std::fs::read_to_string(&bf).unwrap();
    let union = text.split("tagged_union seL4_Fault ").nth(1).expect("seL4_Fault union");
    let body = &union[..union.find('}').unwrap()];
    let tags: BTreeMap<&str, i64> = body
        .lines()
        .filter_map(|l| l.trim().strip_prefix("tag "))
        .map(|t| {
            let mut w = t.split_whitespace();
            (w.next().unwrap(), w.next().unwrap().parse().unwrap())
        })
        .collect();
    for (name, value) in consts::fault_type::TABLE {
        assert_eq!(tags.get(name), Some(value), "fault type {name}");
    }
}

//! The process API's badge layout, error texts and resource report, which the process
//! server, every client and the shell's messages depend on.

use libux::layout::event;
use libux::rpc::{Errno, BIN_BADGE, FAULT_BADGE, FILES_BADGE, PID_MAX};
use libux::sel4::BADGE_MASK;

#[test]
fn badge_flags_are_distinct_bits_above_every_pid() {
    let flags = [FAULT_BADGE, FILES_BADGE, BIN_BADGE, event::FLAG];
    for f in flags {
        assert_eq!(f.count_ones(), 1, "{f:#x} is one bit");
        assert_eq!(f & PID_MAX as u64, 0, "{f:#x} is clear of pids");
        assert_eq!(f & !BADGE_MASK, 0, "{f:#x} fits a badge");
    }
    assert_eq!(flags.iter().fold(0, |all, f| all | f).count_ones(), 4, "no two flags share a bit");
}

#[test]
fn errors_read_as_distinct_words() {
    use Errno::*;
    let all = [
        BadRequest,
        TooLarge,
        NoSuchProcess,
        NoChild,
        NoSuchProgram,
        BadImage,
        NoMemory,
        BadAddress,
        InvalidArgument,
        NotPermitted,
        NotFound,
        Exists,
        NotDir,
        IsDir,
        NotEmpty,
        NoSpace,
        BadHandle,
        NameTooLong,
        NoFileServer,
        ReadOnly,
        BrokenPipe,
        Busy,
        Io,
    ];
    let texts: std::collections::BTreeSet<String> = all.iter().map(|e| e.to_string()).collect();
    assert_eq!(texts.len(), all.len(), "{texts:?}");
    assert!(!texts.contains(""));
    // The words a user sees for a missing file.
    assert_eq!(NotFound.to_string(), "file does not exist");
}

#[test]
fn the_resource_report_reads_as_documented() {
    let r = libux::rpc::Resources { free_bytes: 5 << 20, processes: 3, free_slots: 61909, buffers: 3, namespaces: 1 };
    assert_eq!(
        r.to_string(),
        "5120 KiB of untyped memory free, 3 processes, 61909 root slots free, 3 buffers, 1 namespaces"
    );
}

//! The file protocol: what a program says to a file server, defined once
//! for clients ([`client`]) and servers.
//!
//! A program asks the process server to `Resolve` a path; it answers with a
//! connection (an endpoint to the file server mounted there, badged with
//! the program's id, in a slot of the program's) and the path within that
//! server. From then on the program talks to the file server directly:
//! `Open` gives a handle, `Read`/`Write` use it, `Close` ends it. Messages
//! use the process server protocol's framing (`rpc::frame`), in message
//! registers: a read or write moves at most [`IO_MAX`] bytes per call.
//! Larger transfers go through the I/O window the client shares with the
//! server (`layout::IO_WINDOWS`): `ReadWindow` and `WriteWindow` move up
//! to `layout::IO_WINDOW` bytes per call, and only where in the window
//! and the count travel in the message.

use crate::rpc::Errno;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

#[cfg(target_arch = "x86_64")]
pub mod client;
#[cfg(target_arch = "x86_64")]
pub mod dirtab;
pub mod handles;
pub mod pool;
#[cfg(target_arch = "x86_64")]
pub mod serve;
#[cfg(target_arch = "x86_64")]
pub mod server;

/// Bytes one Read or Write carries (what fits inline with its header).
pub const IO_MAX: usize = 896;

/// The entries of a directory, `all`, that the `List` reply from index
/// `from` carries (within [`IO_MAX`]: `bytes` says at most how many one
/// takes, [`entry_bytes`]), and whether more follow.
pub fn list_page<T>(all: &[T], from: u32, bytes: impl Fn(&T) -> usize) -> (&[T], bool) {
    let rest = all.get(from as usize..).unwrap_or_default();
    let mut total = 0;
    let n = rest
        .iter()
        .take_while(|e| {
            total += bytes(e);
            total <= IO_MAX
        })
        .count();
    (&rest[..n], n < rest.len())
}

/// At most the bytes a [`FileStat`] named `name` takes in a reply: the
/// name and a few varints, and its [`Attrs`] if it has them.
pub const fn entry_bytes(name: &str, attrs: bool) -> usize {
    name.len() + 24 + if attrs { ATTRS_MAX } else { 0 }
}

/// The most bytes [`Attrs`] take encoded (varints at their longest).
pub const ATTRS_MAX: usize = 10 + 5 + 5 + 5 + 10 + 3 * (10 + 5);

/// A time: seconds and nanoseconds since 1970-01-01 UTC.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Time {
    pub sec: u64,
    pub nsec: u32,
}

/// What a file server that keeps them knows of a file besides its name,
/// kind and size (`ramfs` does; synthetic files have none).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Attrs {
    /// The file's identity on its server for as long as it lives (an
    /// inode number): a rename keeps it, no other file has it meanwhile.
    pub id: u64,
    /// Permission bits (07777), and owners: kept and reported for the
    /// clients that use them (a 9P client), not enforced here: in this
    /// OS, what a process may reach is what its namespace holds.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Bytes the data takes: less than the size when the file has holes.
    pub stored: u64,
    pub atime: Time,
    pub mtime: Time,
    pub ctime: Time,
}

/// `ls -l`'s column of a file's kind and permissions (`drwxr-xr-x`,
/// `-rwsr-x--T`), as POSIX `ls` writes it.
pub fn mode_string(is_dir: bool, mode: u32) -> alloc::string::String {
    let mut s = alloc::string::String::from(if is_dir { "d" } else { "-" });
    // Owner, group, others: read, write, and execute (or the set-id or
    // sticky bit over it: lower case with execute, upper case without).
    for (shift, special, mark) in [(6, 0o4000, 's'), (3, 0o2000, 's'), (0, 0o1000, 't')] {
        let bits = (mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(match (bits & 1 != 0, mode & special != 0) {
            (true, true) => mark,
            (false, true) => mark.to_ascii_uppercase(),
            (true, false) => 'x',
            (false, false) => '-',
        });
    }
    s
}

/// A time a change sets: the server's now, or one named.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetTime {
    Now,
    At(Time),
}

/// The changes of [`FsRequest::SetAttrs`]: each that is `Some`.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AttrChanges {
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub atime: Option<SetTime>,
    pub mtime: Option<SetTime>,
}

/// `Open` flags.
pub mod flags {
    pub const READ: u32 = 1;
    pub const WRITE: u32 = 2;
    /// Make the file if it does not exist.
    pub const CREATE: u32 = 4;
    /// Empty the file on open.
    pub const TRUNCATE: u32 = 8;
    /// With CREATE: fail if the file exists.
    pub const EXCLUSIVE: u32 = 16;
    /// Start at the end: the opener (`client::open`) sets the offset to
    /// the file's size; servers never see this flag. Two processes
    /// appending at once may write over each other.
    pub const APPEND: u32 = 32;
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub enum FsRequest<'a> {
    /// Paths are absolute within the file server.
    Open {
        path: &'a str,
        flags: u32,
    },
    Read {
        handle: u32,
        offset: u64,
        count: u32,
    },
    Write {
        handle: u32,
        offset: u64,
        data: &'a [u8],
    },
    /// Read up to `count` bytes into the caller's I/O window, from its
    /// byte `at` (see [`window_part`]); the answer is their `Count`.
    ReadWindow {
        handle: u32,
        offset: u64,
        count: u32,
        at: u32,
    },
    /// Write the `count` bytes from byte `at` of the caller's I/O window.
    WriteWindow {
        handle: u32,
        offset: u64,
        count: u32,
        at: u32,
    },
    Close {
        handle: u32,
    },
    Truncate {
        handle: u32,
        size: u64,
    },
    Stat {
        path: &'a str,
    },
    /// Entries of a directory from index `from`, as many as fit a reply.
    List {
        path: &'a str,
        from: u32,
    },
    Mkdir {
        path: &'a str,
    },
    Remove {
        path: &'a str,
    },
    /// Both paths within this server.
    Rename {
        from: &'a str,
        to: &'a str,
    },
    /// Change what [`Attrs`] the server keeps of the file at `path`: all
    /// of `changes` or, with an error, none (`NotSupported` from a server
    /// that keeps none).
    SetAttrs {
        path: &'a str,
        changes: AttrChanges,
    },
    /// Answer the caller's calls waiting on `handle` now, with
    /// `Interrupted` (what a 9P Tflush of a blocked read becomes); the
    /// answer is the `Count` of calls given up (0 when none waited).
    Cancel {
        handle: u32,
    },
}

impl FsRequest<'_> {
    /// Whether doing the call again changes nothing that doing it once
    /// did not: one a client may make again on a new connection after the
    /// old one broke under it (it may or may not have reached the server).
    /// Opens that need not make the file new, looks and listings; not a
    /// write, a removal, or a call on a handle of the old connection.
    pub fn is_repeatable(&self) -> bool {
        match self {
            FsRequest::Open { flags: f, .. } => f & flags::EXCLUSIVE == 0,
            FsRequest::Stat { .. } | FsRequest::List { .. } => true,
            _ => false,
        }
    }
}

/// A file's metadata.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct FileStat<'a> {
    pub name: &'a str,
    pub is_dir: bool,
    /// Bytes of a file, entries of a directory.
    pub size: u64,
    pub version: u32,
    pub attrs: Option<Attrs>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub enum FsResponse<'a> {
    Done,
    Handle(u32),
    Data(&'a [u8]),
    Count(u32),
    #[serde(borrow)]
    Stat(FileStat<'a>),
    /// Entries, and whether more follow.
    Entries {
        #[serde(borrow)]
        entries: Vec<FileStat<'a>>,
        more: bool,
    },
}

pub type FsReply<'a> = Result<FsResponse<'a>, Errno>;

/// A file server's view of client `pid`'s I/O window.
///
/// # Safety
/// Only for a client whose window the process server made (it says so:
/// see `server::Windows`, through which servers reach windows), while
/// answering a call that came with `pid`'s badge: the process server
/// keeps the window until we next ask it which processes ended
/// (connections of ended processes are gone by then).
#[cfg(target_arch = "x86_64")]
unsafe fn client_window(pid: crate::rpc::Pid) -> &'static mut [u8] {
    let at = crate::layout::client_window(pid) as *mut u8;
    // SAFETY: per this function's contract.
    unsafe { core::slice::from_raw_parts_mut(at, crate::layout::IO_WINDOW_SPAN as usize) }
}

/// The bytes of a client's window a `WriteWindow` names: `count` from
/// `at`; `None` past the window's end (a client's slip:
/// `InvalidArgument`).
pub fn window_part(window: &mut [u8], at: u32, count: u32) -> Option<&mut [u8]> {
    window.get_mut(at as usize..)?.get_mut(..count as usize)
}

/// The room a `ReadWindow` names: `count` bytes from `at`, cut at the
/// window's end; `None` if `at` is past it.
pub fn window_room(window: &mut [u8], at: u32, count: u32) -> Option<&mut [u8]> {
    let from = window.get_mut(at as usize..).filter(|w| !w.is_empty() || count == 0)?;
    let n = from.len().min(count as usize);
    from.get_mut(..n)
}

pub fn decode_request(bytes: &[u8]) -> Result<FsRequest<'_>, Errno> {
    postcard::from_bytes(bytes).map_err(|_| Errno::BadRequest)
}

pub fn decode_reply(bytes: &[u8]) -> Result<FsReply<'_>, Errno> {
    postcard::from_bytes(bytes).map_err(|_| Errno::BadRequest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::frame::{self, inline_bytes};
    use crate::sel4::consts::msg::MAX_LENGTH;

    #[test]
    fn only_calls_that_change_nothing_more_are_repeated() {
        let open = |f| FsRequest::Open { path: "/f", flags: f };
        for again in [open(flags::READ), open(flags::WRITE | flags::CREATE | flags::TRUNCATE)] {
            assert!(again.is_repeatable(), "{again:?}");
        }
        assert!(FsRequest::Stat { path: "/f" }.is_repeatable());
        assert!(FsRequest::List { path: "/", from: 0 }.is_repeatable());
        for once in [
            open(flags::WRITE | flags::CREATE | flags::EXCLUSIVE),
            FsRequest::Write { handle: 1, offset: 0, data: b"x" },
            FsRequest::Read { handle: 1, offset: 0, count: 1 },
            FsRequest::Remove { path: "/f" },
            FsRequest::Mkdir { path: "/d" },
        ] {
            assert!(!once.is_repeatable(), "{once:?}");
        }
    }

    #[test]
    fn a_full_write_and_a_full_read_fit_inline() {
        let data = [0xa5u8; IO_MAX];
        let mut mrs = [0u64; MAX_LENGTH];
        let req = FsRequest::Write { handle: u32::MAX, offset: u64::MAX, data: &data };
        let words = frame::encode(&req, &mut mrs, None, 0).unwrap();
        let h = frame::header(&mrs, words).unwrap();
        assert_eq!(decode_request(&inline_bytes(&mrs)[..h.len]), Ok(req));
        let reply: FsReply = Ok(FsResponse::Data(&data));
        frame::encode(&reply, &mut mrs, None, 0).unwrap();
    }

    #[test]
    fn modes_read_as_ls_writes_them() {
        assert_eq!(mode_string(true, 0o755), "drwxr-xr-x");
        assert_eq!(mode_string(false, 0o644), "-rw-r--r--");
        assert_eq!(mode_string(false, 0o4750), "-rwsr-x---");
        assert_eq!(mode_string(false, 0o2640), "-rw-r-S---");
        assert_eq!(mode_string(true, 0o1777), "drwxrwxrwt");
        assert_eq!(mode_string(true, 0o1770), "drwxrwx--T");
        assert_eq!(mode_string(false, 0), "----------");
    }

    #[test]
    fn a_list_page_fits_a_reply() {
        let mut mrs = [0u64; MAX_LENGTH];
        for len in [1, 7, 40, 255] {
            let names: Vec<alloc::string::String> = (0..100).map(|i| alloc::format!("{i:0len$}")).collect();
            let (mut from, mut seen) = (0, 0);
            loop {
                let (page, more) = list_page(&names, from, |n| entry_bytes(n, true));
                assert!(!page.is_empty(), "names of {len} bytes");
                let most = Time { sec: u64::MAX, nsec: u32::MAX };
                let attrs = Attrs {
                    id: u64::MAX,
                    mode: u32::MAX,
                    uid: u32::MAX,
                    gid: u32::MAX,
                    stored: u64::MAX,
                    atime: most,
                    mtime: most,
                    ctime: most,
                };
                let entries = page
                    .iter()
                    .map(|name| FileStat { name, is_dir: false, size: u64::MAX, version: u32::MAX, attrs: Some(attrs) })
                    .collect();
                frame::encode(&FsReply::Ok(FsResponse::Entries { entries, more }), &mut mrs, None, 0).unwrap();
                (from, seen) = (from + page.len() as u32, seen + page.len());
                if !more {
                    break;
                }
            }
            assert_eq!(seen, names.len());
        }
        assert_eq!(list_page(&[1, 2], 5, |_| 1), (&[][..], false));
    }

    #[test]
    fn a_window_part_is_within_the_window() {
        let mut w = [0u8; 16];
        assert_eq!(window_part(&mut w, 4, 8).map(|p| p.len()), Some(8));
        assert_eq!(window_part(&mut w, 12, 8), None, "a write past the end");
        assert_eq!(window_room(&mut w, 12, 8).map(|p| p.len()), Some(4), "a read is cut");
        assert_eq!(window_room(&mut w, 16, 1), None, "a read from the end");
        assert_eq!(window_part(&mut w, 17, 0), None);
        assert_eq!(window_room(&mut w, u32::MAX, 1), None);
        assert_eq!(window_part(&mut w, 16, 0).map(|p| p.len()), Some(0));
    }
}

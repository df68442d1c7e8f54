//! Synthetic files as a table (Plan 9's `Dirtab`): a flat directory whose
//! files are each one row, with the functions that make what a read gives
//! and take what a write says. The table answers the file protocol
//! (`FsRequest`): opens with their permissions checked, reads of a text
//! made when the file was opened (so a reader sees one consistent
//! snapshot, however many reads it takes), writes, listings, stat, close,
//! and what the processes that ended held. Adding a file is adding a row.

use super::server::{Answer, Entry as DirEntry};
use super::{flags, list_page, FsRequest, IO_MAX};
use crate::rpc::{Errno, Pid};
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

/// Makes what a read of a file gives (at open).
pub type ReadFn<S> = fn(&S) -> String;
/// Takes one write to a file.
pub type WriteFn<S> = fn(&mut S, &[u8]) -> Result<(), Errno>;

/// One file of the table, over the server's state `S`.
pub struct File<S> {
    pub name: &'static str,
    /// None: not readable.
    pub read: Option<ReadFn<S>>,
    /// None: not writable.
    pub write: Option<WriteFn<S>>,
}

/// Files one process may hold open here.
pub const MAX_OPEN: usize = 64;

/// The open files of a table's clients.
pub struct Table<S: 'static> {
    files: &'static [File<S>],
    open: BTreeMap<(Pid, u32), Open>,
    next_handle: u32,
}

struct Open {
    /// The row; none: the directory.
    file: Option<usize>,
    text: Vec<u8>,
}

impl<S> Table<S> {
    pub const fn new(files: &'static [File<S>]) -> Table<S> {
        Table { files, open: BTreeMap::new(), next_handle: 0 }
    }

    /// The row of `path` (`/NAME`); `None` for the directory itself.
    fn lookup(&self, path: &str) -> Result<Option<usize>, Errno> {
        match path.trim_start_matches('/') {
            "" => Ok(None),
            name => self.files.iter().position(|f| f.name == name).map(Some).ok_or(Errno::NotFound),
        }
    }

    /// Answers `pid`'s `req`, on `state`. A read through the window
    /// (`ReadWindow`) goes to `window`, the caller's I/O window.
    pub fn request(
        &mut self,
        state: &mut S,
        pid: Pid,
        req: FsRequest,
        window: impl FnOnce() -> &'static mut [u8],
    ) -> Result<Answer, Errno> {
        match req {
            FsRequest::Open { path, flags: f } => {
                let file = self.lookup(path)?;
                let (read, write) = (f & flags::READ != 0, f & flags::WRITE != 0);
                let text = match file.map(|i| &self.files[i]) {
                    None if write => return Err(Errno::IsDir),
                    None => Vec::new(),
                    Some(row) => {
                        if (read && row.read.is_none()) || (write && row.write.is_none()) {
                            return Err(Errno::NotPermitted);
                        }
                        match row.read.filter(|_| read) {
                            Some(make) => make(state).into_bytes(),
                            None => Vec::new(),
                        }
                    }
                };
                if self.open.keys().filter(|(p, _)| *p == pid).count() >= MAX_OPEN {
                    return Err(Errno::NoMemory);
                }
                self.next_handle = self.next_handle.wrapping_add(1);
                self.open.insert((pid, self.next_handle), Open { file, text });
                Ok(Answer::Handle(self.next_handle))
            }
            FsRequest::Close { handle } => {
                self.open.remove(&(pid, handle)).ok_or(Errno::BadHandle)?;
                Ok(Answer::Done)
            }
            FsRequest::Read { handle, offset, count } => {
                let text = self.text(pid, handle, offset)?;
                Ok(Answer::Data(text[..text.len().min(count as usize).min(IO_MAX)].to_vec()))
            }
            FsRequest::ReadWindow { handle, offset, count } => {
                let text = self.text(pid, handle, offset)?;
                let window = window();
                let n = text.len().min(count as usize).min(window.len());
                window[..n].copy_from_slice(&text[..n]);
                Ok(Answer::Count(n as u32))
            }
            FsRequest::Write { handle, data, .. } => {
                let open = self.open.get(&(pid, handle)).ok_or(Errno::BadHandle)?;
                let row = open.file.map(|i| &self.files[i]).ok_or(Errno::IsDir)?;
                let write = row.write.ok_or(Errno::NotPermitted)?;
                write(state, data)?;
                Ok(Answer::Count(data.len() as u32))
            }
            FsRequest::Stat { path } => {
                let name = String::from(crate::path::last_name(path));
                Ok(Answer::Stat((name, self.lookup(path)?.is_none(), 0)))
            }
            FsRequest::List { path, from } => {
                if self.lookup(path)?.is_some() {
                    return Err(Errno::NotDir);
                }
                let all: Vec<DirEntry> = self.files.iter().map(|f| (String::from(f.name), false, 0)).collect();
                let (page, more) = list_page(&all, from, |(name, _, _)| name);
                Ok(Answer::Entries(page.to_vec(), more))
            }
            // Nothing here waits.
            FsRequest::Cancel { handle } => {
                self.open.get(&(pid, handle)).ok_or(Errno::BadHandle)?;
                Ok(Answer::Count(0))
            }
            FsRequest::WriteWindow { .. }
            | FsRequest::Truncate { .. }
            | FsRequest::Mkdir { .. }
            | FsRequest::Remove { .. }
            | FsRequest::Rename { .. } => Err(Errno::NotPermitted),
        }
    }

    /// What `pid`'s open `handle` reads from `offset`.
    fn text(&self, pid: Pid, handle: u32, offset: u64) -> Result<&[u8], Errno> {
        let open = self.open.get(&(pid, handle)).ok_or(Errno::BadHandle)?;
        if open.file.is_none() {
            return Err(Errno::IsDir);
        }
        Ok(open.text.get(offset.min(usize::MAX as u64) as usize..).unwrap_or(&[]))
    }

    /// Processes that ended lose their open files.
    pub fn ended(&mut self, pids: &[Pid]) {
        self.open.retain(|(p, _), _| !pids.contains(p));
    }

    /// Processes holding files here.
    pub fn holders(&self) -> Vec<Pid> {
        self.open.keys().map(|(p, _)| *p).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(n: &u32) -> String {
        alloc::format!("{n}\n")
    }

    fn set(n: &mut u32, data: &[u8]) -> Result<(), Errno> {
        *n = core::str::from_utf8(data).ok().and_then(|t| t.trim().parse().ok()).ok_or(Errno::InvalidArgument)?;
        Ok(())
    }

    static FILES: [File<u32>; 2] =
        [File { name: "count", read: Some(count), write: None }, File { name: "ctl", read: None, write: Some(set) }];

    fn no_window() -> &'static mut [u8] {
        unreachable!("no window reads here")
    }

    fn handle(a: Result<Answer, Errno>) -> u32 {
        match a {
            Ok(Answer::Handle(h)) => h,
            _ => panic!("no handle"),
        }
    }

    #[test]
    fn a_table_answers_the_file_protocol() {
        let (mut t, mut n) = (Table::new(&FILES), 5u32);
        let open = |path, f| FsRequest::Open { path, flags: f };
        let h = handle(t.request(&mut n, 7, open("/count", flags::READ), no_window));
        // The text is made at open: a write after does not change it.
        let ctl = handle(t.request(&mut n, 7, open("/ctl", flags::WRITE), no_window));
        let w = t.request(&mut n, 7, FsRequest::Write { handle: ctl, offset: 0, data: b"42" }, no_window);
        assert!(matches!(w, Ok(Answer::Count(2))) && n == 42);
        let r = t.request(&mut n, 7, FsRequest::Read { handle: h, offset: 0, count: 100 }, no_window);
        assert!(matches!(r, Ok(Answer::Data(d)) if d == b"5\n"));
        let r = t.request(&mut n, 7, FsRequest::Read { handle: h, offset: 99, count: 100 }, no_window);
        assert!(matches!(r, Ok(Answer::Data(d)) if d.is_empty()));
        // Permissions, names, other processes' handles.
        assert_eq!(t.request(&mut n, 7, open("/ctl", flags::READ), no_window).err(), Some(Errno::NotPermitted));
        assert_eq!(t.request(&mut n, 7, open("/count", flags::WRITE), no_window).err(), Some(Errno::NotPermitted));
        assert_eq!(t.request(&mut n, 7, open("/nope", flags::READ), no_window).err(), Some(Errno::NotFound));
        assert_eq!(t.request(&mut n, 7, open("/", flags::WRITE), no_window).err(), Some(Errno::IsDir));
        let theirs = FsRequest::Read { handle: h, offset: 0, count: 1 };
        assert_eq!(t.request(&mut n, 8, theirs, no_window).err(), Some(Errno::BadHandle));
        let bad = FsRequest::Write { handle: ctl, offset: 0, data: b"x" };
        assert_eq!(t.request(&mut n, 7, bad, no_window).err(), Some(Errno::InvalidArgument));
        let list = t.request(&mut n, 7, FsRequest::List { path: "/", from: 0 }, no_window);
        assert!(matches!(list, Ok(Answer::Entries(e, false)) if e.len() == 2 && e[0].0 == "count"));
        // What an ended process held goes.
        assert_eq!(t.holders(), [7, 7]);
        t.ended(&[7]);
        assert!(t.holders().is_empty());
    }

    #[test]
    fn one_process_cannot_hold_every_handle() {
        let (mut t, mut n) = (Table::new(&FILES), 0u32);
        for _ in 0..MAX_OPEN {
            handle(t.request(&mut n, 3, FsRequest::Open { path: "/count", flags: flags::READ }, no_window));
        }
        let more = t.request(&mut n, 3, FsRequest::Open { path: "/count", flags: flags::READ }, no_window);
        assert_eq!(more.err(), Some(Errno::NoMemory));
        handle(t.request(&mut n, 4, FsRequest::Open { path: "/count", flags: flags::READ }, no_window));
    }
}

//! `Request::Exec`: a process replaces its program with an ELF image it
//! has read into its own memory. `/bin/exec` does this for every program
//! that is a file: the file is read with the caller's namespace and
//! rights, by the caller, so we never wait on a file server.
//!
//! We read the image through a view of the caller's own frames, mapped
//! read-only in our address space for the length of the call. The caller
//! may have only one thread, and it waits in this call; but an
//! intermediary may relay an `Exec` for a process that runs on, which
//! could change the bytes as we read them. Then the checks and the build
//! may read different headers: the exec may fail, or the process get a
//! program that faults, its own doing; but the shared pages are filed
//! under the hash of what was copied into them (`shared`), so no other
//! program's code is touched.

use crate::life::Life;
use crate::mem::Arena;
use crate::mem::PAGE;
use crate::process::{start_block, Grants, Held, State};
use crate::shared::ImageId;
use alloc::string::String;
use alloc::vec::Vec;
use libux::layout;
use libux::rpc::{Errno, Exec, Pid, IMAGE_MAX};
use libux::sel4::{CapRights, Page};

use crate::space::VIEW;

impl Life {
    /// Replaces `pid`'s program as `exec` says; on failure the old one
    /// goes on, unchanged.
    pub fn exec(&mut self, pid: Pid, exec: &Exec) -> Result<(), Errno> {
        self.may_exec(pid)?;
        let copies = self.view(pid, exec.image, exec.len)?;
        // SAFETY: `view` mapped the pages under these bytes read-only at
        // VIEW; they stay mapped until `close_view` below. Only the caller
        // writes them (while it runs on, if an intermediary relayed this
        // call): plain bytes, whose changes harm only it (see above).
        let image = unsafe { core::slice::from_raw_parts((VIEW + exec.image % PAGE) as *const u8, exec.len as usize) };
        let replaced = self.loadable(image).and_then(|elf| self.replace(pid, &elf, exec));
        self.close_view(copies);
        replaced
    }

    /// Only a plain program may replace itself: one thread (no other may
    /// run while we read its memory), nothing mounted, served or granted
    /// that the new program would inherit without asking.
    fn may_exec(&self, pid: Pid) -> Result<(), Errno> {
        let p = &self.procs[&pid];
        let live = self.procs.live(pid)?;
        let serves = self.procs.values().any(|q| q.live().is_some_and(|l| l.intermediary == Some(pid)));
        let plain = live.threads.0.iter().all(Option::is_none)
            && live.endpoints.is_empty()
            && live.ended_signal.is_none()
            && live.held.irq_handlers.is_empty()
            && live.held.device_pages.is_empty()
            && !live.dma
            && !p.mounted
            && !serves;
        if plain {
            Ok(())
        } else {
            Err(Errno::NotPermitted)
        }
    }

    /// Maps copies of the frames of `pid`'s anonymous memory under
    /// `image..image + len` at `VIEW`; answers the copies' slots.
    fn view(&mut self, pid: Pid, image: u64, len: u64) -> Result<Vec<u64>, Errno> {
        let end = image.checked_add(len).ok_or(Errno::BadAddress)?;
        if len == 0 || len > IMAGE_MAX || image < layout::HEAP_BASE || end > layout::HEAP_END {
            return Err(Errno::BadAddress);
        }
        let first = image & !(PAGE - 1);
        let frames: Vec<u64> = {
            let anon = &self.procs.live(pid)?.anon;
            (first..end).step_by(PAGE as usize).map(|page| anon.get(&page).copied()).collect::<Option<_>>()
        }
        .ok_or(Errno::BadAddress)?;
        let mut copies = Vec::with_capacity(frames.len());
        for (i, frame) in frames.into_iter().enumerate() {
            match self.view_one(frame, VIEW + i as u64 * PAGE) {
                Ok(copy) => copies.push(copy),
                Err(e) => {
                    self.close_view(copies);
                    return Err(e);
                }
            }
        }
        Ok(copies)
    }

    fn view_one(&mut self, frame: u64, at: u64) -> Result<u64, Errno> {
        // A frame capability maps once: the view uses a copy.
        let copy = self.kernel.copy_root(frame, CapRights::READ)?;
        if let Err(e) = self.kernel.map_own(Page(copy), at, CapRights::READ) {
            self.kernel.delete_root(copy);
            return Err(e);
        }
        Ok(copy)
    }

    fn close_view(&mut self, copies: Vec<u64>) {
        for copy in copies {
            let _ = Page(copy).unmap();
            self.kernel.delete_root(copy);
        }
    }

    /// Builds `pid`'s new program from `elf` and, once it stands, takes
    /// the old one down.
    fn replace(&mut self, pid: Pid, elf: &libux::elf::Elf, exec: &Exec) -> Result<(), Errno> {
        let block = start_block(pid, &exec.argv, &exec.env, &exec.fds)?;
        let old = self.procs.live(pid)?;
        let (conn, priority) = (old.conn_src, old.priority);
        let grants = Grants { priority, ..Grants::DEFAULT };
        let mut arena = Arena::default();
        let mut held = Held::default();
        let buffer = self.buffers.take();
        // Its code is shared with every other process of the same bytes.
        let id = match self.shared.share(&mut self.kernel, ImageId::of_file(elf), elf) {
            Ok(id) => id,
            Err(e) => {
                self.buffers.free(buffer);
                return Err(e);
            }
        };
        let mut new = match self.build(&mut arena, &mut held, pid, elf, Some(id), &block, conn, &grants, buffer) {
            Ok(new) => new,
            Err(e) => {
                self.release_held(held);
                self.kernel.mem.release(arena);
                self.buffers.free(buffer);
                self.shared.unshare(&mut self.kernel, id);
                return Err(e);
            }
        };
        let p = self.procs.get_mut(&pid).expect("checked live");
        let State::Live(old) = &mut p.state else { unreachable!("checked live") };
        new.held = held;
        new.intermediary = old.intermediary;
        new.conn_src = old.conn_src.take();
        // Its children abroad stay its own, as its children here do.
        new.placed = core::mem::take(&mut old.placed);
        // Not retired with the old program: a server that knows our pid
        // has a window may still reach its side until we end.
        new.windows_before_exec = core::mem::take(&mut old.windows_before_exec);
        new.windows_before_exec.extend(old.windows.drain(..).flatten());
        let old = core::mem::replace(old, alloc::boxed::Box::new(new));
        let name = exec.argv.first().copied().unwrap_or("?");
        p.name = name.chars().take(32).collect();
        p.args = exec.argv.iter().flat_map(|a| [*a, "\n"]).collect::<String>();
        self.dismantle(pid, *old);
        self.changes += 1;
        Ok(())
    }
}

//! The I/O-window ledger: each client's windows onto the file servers it
//! reads and writes in bulk (`Request::Window`, `Live::windows`): frames
//! of the server's, mapped in both, made on first use, emptied before
//! another client gets them, and reclaimed when the client has ended and
//! the server asks `Ended`. The frames are in the records of both
//! processes; this is the one place that makes, moves and frees them.
//! A window stays mapped as long as its client lives: when its server
//! ends first, a frame of the client's own takes the server's place.

use crate::kernel::Kernel;
use crate::mem::PAGE;
use crate::procs::Procs;
use alloc::vec::Vec;
use libux::layout;
use libux::rpc::{Errno, Pid, Response};
use libux::sel4::consts::{bits, object};
use libux::sel4::{CapRights, Page};

/// Where `client`'s I/O window onto `server` is, if made.
pub fn made(procs: &Procs, client: Pid, server: Pid) -> Option<u64> {
    let n = procs.live(client).ok()?.windows.iter().position(|&s| s == Some(server))?;
    Some(layout::IO_WINDOWS + n as u64 * layout::IO_WINDOW_SPAN)
}

/// `Request::HasWindow`: whether `client` has a window onto `server`.
pub fn has(procs: &Procs, client: Pid, server: Pid) -> Result<(), Errno> {
    match made(procs, client, server) {
        Some(_) => Ok(()),
        None => Err(Errno::InvalidArgument),
    }
}

/// `Request::Window`: only onto a server the client has resolved a
/// path to (it holds a connection there).
pub fn open(procs: &mut Procs, kernel: &mut Kernel, client: Pid, server: Pid) -> Result<Response, Errno> {
    if !procs.live(client)?.conn_roots.iter().any(|c| c.server == server) {
        return Err(Errno::InvalidArgument);
    }
    make(procs, kernel, client, server).map(Response::Window)
}

/// `client`'s I/O window onto file server `server`, made on first
/// use: frames of the server's, mapped in both (see `Live::windows`).
fn make(procs: &mut Procs, kernel: &mut Kernel, client: Pid, server: Pid) -> Result<u64, Errno> {
    let at = |n: usize| layout::IO_WINDOWS + n as u64 * layout::IO_WINDOW_SPAN;
    let live = procs.live(client)?;
    if let Some(n) = live.windows.iter().position(|&s| s == Some(server)) {
        return Ok(at(n));
    }
    let n = live.windows.len();
    if n as u64 >= layout::MAX_IO_WINDOWS {
        return Err(Errno::NoMemory);
    }
    // The server's side, unless a window of an ended process with the
    // same id is still there: then that one, emptied.
    let base = layout::client_window(client);
    let pages = (layout::IO_WINDOW_SPAN / PAGE) as usize;
    let srv = procs.live_mut(server)?;
    srv.retired_windows.retain(|&p| p != client);
    for frame in srv.client_windows.remove(&client).unwrap_or_default() {
        let _ = Page(frame).unmap();
        srv.spare_window_frames.push(frame);
    }
    let mut frames = Vec::new();
    for i in 0..pages {
        let srv = procs.live_mut(server)?;
        // Reused frames are emptied: they held another client's data.
        let frame = match srv.spare_window_frames.pop() {
            Some(f) => match kernel.zero(Page(f)) {
                Ok(()) => Ok(f),
                Err(e) => {
                    srv.spare_window_frames.push(f);
                    Err(e)
                }
            },
            None => kernel.mem.object(&mut srv.arena, object::X86_4K, 0, bits::PAGE).map_err(Errno::from),
        };
        let mapped = frame.and_then(|f| {
            let vaddr = base + i as u64 * PAGE;
            srv.space.map(&mut kernel.mem, &mut srv.arena, Page(f), vaddr, CapRights::READ_WRITE).map_err(|e| {
                srv.spare_window_frames.push(f);
                Errno::from(e)
            })?;
            Ok(f)
        });
        match mapped {
            Ok(f) => frames.push(f),
            Err(e) => {
                for &f in &frames {
                    let _ = Page(f).unmap();
                }
                srv.spare_window_frames.extend(frames);
                return Err(e);
            }
        }
    }
    if let Ok(srv) = procs.live_mut(server) {
        srv.client_windows.insert(client, frames.clone());
    }
    // The client's side: copies (a frame capability maps once), kept
    // with what it holds, so that they go when it does.
    let mut copies = Vec::new();
    let mut failed = None;
    for (i, &frame) in frames.iter().enumerate() {
        let copy = match kernel.copy_root(frame, CapRights::READ_WRITE) {
            Ok(c) => c,
            Err(e) => {
                failed = Some(e);
                break;
            }
        };
        copies.push(copy);
        let live = procs.live_mut(client)?;
        let at = at(n) + i as u64 * PAGE;
        if let Err(e) = live.space.map(&mut kernel.mem, &mut live.arena, Page(copy), at, CapRights::READ_WRITE) {
            failed = Some(e.into());
            break;
        }
    }
    if let Some(e) = failed {
        // Undo both sides: deleting a copy unmaps it from the client.
        for copy in copies {
            kernel.delete_root(copy);
        }
        if let Ok(srv) = procs.live_mut(server) {
            for frame in srv.client_windows.remove(&client).unwrap_or_default() {
                let _ = Page(frame).unmap();
                srv.spare_window_frames.push(frame);
            }
        }
        return Err(e);
    }
    if let Ok(live) = procs.live_mut(client) {
        live.held.slots.extend(copies);
        live.windows.push(Some(server));
    }
    Ok(at(n))
}

/// Unmaps the windows of `server`'s clients that ended, those of `only`
/// if given; it asked `Ended`, which names them, so it uses them no more.
pub fn reclaim(procs: &mut Procs, server: Pid, only: Option<&[Pid]>) {
    if let Ok(srv) = procs.live_mut(server) {
        let (going, kept): (Vec<Pid>, Vec<Pid>) =
            core::mem::take(&mut srv.retired_windows).into_iter().partition(|p| only.is_none_or(|o| o.contains(p)));
        srv.retired_windows = kept;
        for pid in going {
            for frame in srv.client_windows.remove(&pid).unwrap_or_default() {
                let _ = Page(frame).unmap();
                srv.spare_window_frames.push(frame);
            }
        }
    }
}

/// After `server`'s program is gone (it ended or ran `Exec`), and its
/// frames with its memory: maps each of `clients`' windows onto it again,
/// every page onto one zeroed frame of the client's own, and forgets
/// whose window it was, so that a server that takes the pid later gets
/// a window of its own. The client's calls to the server fail
/// (`ServerGone`), so the bytes it puts there mean nothing; but it may
/// still put them there, which would fault with nothing mapped.
pub fn orphan(procs: &mut Procs, kernel: &mut Kernel, server: Pid, clients: &[Pid]) {
    for &client in clients {
        let Ok(live) = procs.live_mut(client) else { continue };
        let Some(n) = live.windows.iter().position(|&s| s == Some(server)) else { continue };
        live.windows[n] = None;
        let at = layout::IO_WINDOWS + n as u64 * layout::IO_WINDOW_SPAN;
        let Ok(frame) = kernel.mem.object(&mut live.arena, object::X86_4K, 0, bits::PAGE) else { continue };
        for i in 0..layout::IO_WINDOW_SPAN / PAGE {
            // A frame capability maps once: copies for the other pages,
            // kept with what the client holds, as `make` keeps its own.
            let page = match i {
                0 => frame,
                _ => match kernel.copy_root(frame, CapRights::READ_WRITE) {
                    Ok(copy) => copy,
                    Err(_) => break,
                },
            };
            if i > 0 {
                live.held.slots.push(page);
            }
            if live
                .space
                .map(&mut kernel.mem, &mut live.arena, Page(page), at + i * PAGE, CapRights::READ_WRITE)
                .is_err()
            {
                break;
            }
        }
    }
}

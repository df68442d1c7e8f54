//! The server's side of `/proc` and `/bin` (`files.rs`): answering a
//! file call with the loop and a view of the table, carrying out the
//! effects the view asks for, settling the reads that waited for a
//! process's end, and sending the answers kept for later.

use crate::files::{encode, Effect, Node, Replies, Tree, WaitFor};
use crate::process::{Ended, Grants, State};
use crate::server::Server;
use alloc::string::String;
use alloc::vec::Vec;
use libux::fs::serve::Loop;
use libux::procfs;
use libux::rpc::{End, Errno, FdName, Pid, Spawn};

/// What a file call gets.
pub enum FileOutcome {
    /// The encoded `FsReply`.
    Reply(Vec<u8>),
    /// Answered later (the reply capability is saved).
    Deferred,
}

impl Server {
    /// The view of the tables for `caller`'s call (`bin`: on `/bin`).
    fn trees(&mut self, caller: Pid, bin: bool) -> (Tree<'_>, &mut Loop<Node, WaitFor>, Replies<'_>) {
        let life = &mut self.life;
        self.files.view(&life.procs, &life.bootfs, &life.mounts, &mut life.kernel, caller, bin)
    }

    /// Answers one file call from `caller` (`bin`: on the `/bin` tree).
    pub fn file_call(&mut self, caller: Pid, bin: bool, bytes: &[u8]) -> FileOutcome {
        let req = match libux::fs::decode_request(bytes) {
            Ok(r) => r,
            Err(e) => return FileOutcome::Reply(encode(&Err(e))),
        };
        let (mut tree, core, mut io) = self.trees(caller, bin);
        let out = core.call(&mut tree, &mut io, caller, req);
        let effects = tree.effects;
        let Some(out) = out else { return FileOutcome::Deferred };
        let acted = self.carry_out(effects);
        FileOutcome::Reply(match (acted, &out) {
            (Err(e), Ok(_)) => encode(&Err(e)),
            _ => encode(&self.files.core.reply(&out)),
        })
    }

    /// Does what a call's view asked; the first failure, if any.
    fn carry_out(&mut self, effects: Vec<Effect>) -> Result<(), Errno> {
        let mut result = Ok(());
        for effect in effects {
            let done = match effect {
                Effect::Kill(pid) => {
                    self.end(pid, End::Killed);
                    Ok(())
                }
                Effect::Stop(pid) => self.set_stopped(pid, true).map(drop),
                Effect::Cont(pid) => self.set_stopped(pid, false).map(drop),
                Effect::Spawn { id, parent, line } => self.spawn_line(parent, &line).map(|child| {
                    self.files.spawned.insert(id, child);
                }),
                Effect::Reap { pid, reader } => {
                    self.reap_for(pid, reader);
                    Ok(())
                }
            };
            result = result.and(done);
        }
        result
    }

    /// A parent that read a child's `wait` has reaped it.
    fn reap_for(&mut self, pid: Pid, reader: Pid) {
        if self.life.procs.get(&pid).is_some_and(|p| p.ppid == reader && matches!(p.state, State::Zombie(_))) {
            self.life.procs.remove(&pid);
        }
    }

    /// Drops the waiting reads of `reader` (and its hanging `Wait`s): it was
    /// stopped or ended, which cancels the calls it was blocked in.
    pub fn forget_waits(&mut self, reader: Pid) {
        self.hanging.forget(&mut self.life.kernel, reader);
        let (_, core, mut io) = self.trees(0, false);
        core.drop_waiting(&mut io, &[reader]);
    }

    /// After the processes of `batch` ended (a process and those it was
    /// the intermediary of, all ended before any of this): forget the
    /// files and waits they held, and answer the reads waiting for them
    /// (a read of one of the batch gets that one's line).
    pub fn files_after_end(&mut self, batch: &[Ended]) {
        let pids: Vec<Pid> = batch.iter().map(|e| e.pid).collect();
        let (mut tree, core, mut io) = self.trees(0, false);
        core.ended(&mut tree, &mut io, &pids);
        // Most processes end unwatched: nothing retried.
        if pids.iter().any(|&pid| self.files.waits_for(pid)) {
            let (mut tree, core, mut io) = self.trees(0, false);
            tree.ending = batch;
            core.wake(&mut tree, &mut io);
            let effects = tree.effects;
            // (Only reaps: they do not fail.)
            let _ = self.carry_out(effects);
        }
    }

    /// Sends the answers kept for later; the IPC buffer is ours to use
    /// until the current call is answered.
    pub fn send_ready(&mut self) {
        for (slot, reply) in core::mem::take(&mut self.files.ready) {
            let words = crate::server::frame_inline(&reply);
            let m = &libux::sel4::syscall::ipc_buffer().msg;
            let info = libux::sel4::MessageInfo::new(libux::rpc::MSG_REPLY, 0, 0, words as u64);
            libux::sel4::syscall::nb_send(slot, libux::sel4::syscall::Msg { info, mr: [m[0], m[1], m[2], m[3]] });
            self.life.kernel.delete_root(slot);
        }
    }

    fn spawn_line(&mut self, parent: Pid, line: &str) -> Result<Pid, Errno> {
        let command = procfs::SpawnCommand::parse(line).map_err(|e| match e {
            procfs::SpawnLineError::TooLong => Errno::TooLarge,
            _ => Errno::InvalidArgument,
        })?;
        let argv: Vec<&str> = command.argv.iter().map(String::as_str).collect();
        let fds = command.fds.iter().map(|r| FdName { fd: r.fd, path: &r.path, flags: r.flags() }).collect();
        let path = argv[0];
        let child = self.life.procs.new_pid()?;
        let spawn =
            Spawn { path, argv: argv.clone(), env: Vec::new(), redirect: None, fds, place: None, home_parent: None };
        self.life.create(child, parent, &spawn, &Grants::DEFAULT)?;
        Ok(child)
    }
}

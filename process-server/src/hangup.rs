//! A file server that ends leaves no caller waiting: the calls it had taken
//! and not answered fail (Plan 9's I/O on a hung-up channel).
//!
//! This kernel (without MCS) keeps a caller blocked on its reply for ever
//! once the reply capability goes with the server's threads. By the time
//! we look, the server's connections are revoked (`Mounts::unmount_all`),
//! so the saved registers of a client thread in such a call name an empty
//! slot of its file connections. Restarting the thread makes the call
//! again, and the kernel answers a call on an empty slot at once with
//! `InvalidCapability`, which the file client reads as
//! `Errno::ServerGone`.
//!
//! Only a thread whose registers are still those it entered a `Call` with
//! is restarted: every reply (a server's or the kernel's) clears the badge
//! register, `rdi`, which the call had set to the slot, and slot 0 is never
//! a connection. A thread caught just before its `syscall` instruction
//! with those registers set is not blocked; the kernel leaves it be, and
//! its call fails the same way when it makes it. Left: a client of the
//! ending server that also waits in a call to another server which took
//! its tree down meanwhile (an unmount empties those slots too) has that
//! call failed as well, though that server might still have answered.

use crate::life::Life;
use alloc::vec::Vec;
use libux::layout::slot;
use libux::rpc::{Errno, Pid};
use libux::sel4::consts::syscall;
use libux::sel4::Tcb;

impl Life {
    /// The live processes holding a connection to `server`'s files.
    pub fn clients_of(&self, server: Pid) -> Vec<Pid> {
        let holds =
            |p: &&crate::process::Process| p.live().is_some_and(|l| l.conn_roots.iter().any(|c| c.server == server));
        self.procs.values().filter(holds).map(|p| p.pid).collect()
    }

    /// Restarts every thread of `clients` blocked in a call on a file
    /// connection that is gone. A stopped client is left: continuing it
    /// restarts its calls anyway.
    pub fn hang_up(&mut self, clients: &[Pid]) {
        for &pid in clients {
            let Ok(live) = self.procs.live(pid) else { continue };
            if live.stopped {
                continue;
            }
            let cnode = live.cspace.root;
            let threads: Vec<Tcb> = core::iter::once(live.tcb).chain(live.threads.running()).collect();
            for tcb in threads {
                let Ok(regs) = tcb.read_registers() else { continue };
                let conns = slot::FILE_CONNS..slot::FILE_CONNS + slot::FILE_CONN_COUNT;
                if regs.rdx != syscall::CALL as u64 || !conns.contains(&regs.rdi) {
                    continue;
                }
                match self.kernel.copy_in(cnode, regs.rdi) {
                    // A live connection: a call to some other server.
                    Ok(copy) => self.kernel.delete_root(copy),
                    Err(Errno::InvalidArgument) => {
                        let _ = tcb.write_registers(true, &regs);
                    }
                    Err(_) => {}
                }
            }
        }
    }
}

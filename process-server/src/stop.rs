//! Stopping and continuing a process (`Stop`, `Cont`, `/proc/<pid>/ctl`),
//! and finishing a call the kernel restarts in a thread that was stopped
//! in it.

use crate::life::Life;
use alloc::vec::Vec;
use libux::rpc::{Errno, Fault, Pid, Response};

impl Life {
    /// Suspends or resumes every thread of `pid`. Suspending a thread
    /// cancels the call it was blocked in: the server forgets what it
    /// kept to answer it (`Server::set_stopped`).
    pub fn set_stopped(&mut self, pid: Pid, stop: bool) -> Result<Response, Errno> {
        let live = self.procs.live_mut(pid)?;
        // Resuming a thread the kernel blocked in a system call restarts the
        // call; only undo a Stop.
        if !stop && !live.stopped {
            return Err(Errno::InvalidArgument);
        }
        let threads = core::iter::once(live.tcb).chain(live.threads.running());
        let mut stopped_at = Vec::new();
        for tcb in threads.collect::<Vec<_>>() {
            let r = if stop { tcb.suspend() } else { tcb.resume() };
            r.map_err(|_| Errno::InvalidArgument)?;
            if let Some(regs) = stop.then(|| tcb.read_registers().ok()).flatten() {
                stopped_at.push((tcb, regs.rip));
            }
        }
        if stop {
            live.stopped_at = stopped_at;
        }
        live.stopped = stop;
        Ok(Response::Done)
    }

    /// This kernel restarts the system call of a suspended thread when it
    /// is resumed, also when the call had finished and the thread had not
    /// yet run on (it has no `updateRestartPC` in `suspend`): the call is
    /// then made again with its results in the argument registers, and
    /// the capability lookup of the result (a badge) fails. Such a
    /// capability fault, at the instruction where a thread of the process
    /// was stopped, with the failing address in its `rdi`, is finished
    /// here: the thread goes on after the call, its results in place.
    /// Whether it was handled.
    pub fn finish_restarted_call(&mut self, pid: Pid, label: u64, fault: &Fault) -> bool {
        let Ok(live) = self.procs.live_mut(pid) else { return false };
        if label != libux::sel4::consts::fault_type::CAP_FAULT {
            return false;
        }
        let at = live.stopped_at.iter().position(|&(tcb, rip)| {
            rip == fault.ip && tcb.read_registers().is_ok_and(|r| r.rip == fault.ip && r.rdi == fault.addr)
        });
        let Some(i) = at else { return false };
        let (tcb, _) = live.stopped_at.remove(i);
        let Ok(mut regs) = tcb.read_registers() else { return false };
        // Past the two bytes of `syscall`.
        regs.rip += 2;
        tcb.write_registers(true, &regs).is_ok()
    }
}

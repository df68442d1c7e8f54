//! The processes and what they are made of: the table, the kernel
//! objects under it, the namespaces, the programs' shared pages and the
//! buffers. Creating (`process.rs`), replacing (`exec.rs`), threading
//! (`thread.rs`), mapping (`mapping.rs`), stopping
//! (`stop.rs`) and ending processes are `impl Life` in those files.
//!
//! `Life` knows nothing of calls waiting for answers: the server loop
//! (`server/`) owns those (`/proc` reads in `files.rs`, hanging
//! `Wait`s in `hanging.rs`) and hears from [`Life::end`] which processes
//! ended, to settle them.

use crate::buffers::Buffers;
use crate::devices::Devices;
use crate::kernel::Kernel;
use crate::mem::PAGE;
use crate::mounts::Mounts;
use crate::process::{Grants, Process};
use crate::procs::{Procs, MAX_PROCESSES};
use crate::shared::{BootPages, SharedImages};
use alloc::vec::Vec;
use libux::bootfs::BootFs;
use libux::println;
use libux::rpc::{End, Errno, Pid, Spawn};
use libux::sel4::Endpoint;

pub struct Life {
    /// Bumped when a process ends or mounts: what `serve_until`'s
    /// conditions depend on, so they are not rechecked on every call.
    pub changes: u64,
    pub kernel: Kernel,
    pub procs: Procs,
    /// Every namespace's mount points (`mounts.rs`).
    pub mounts: Mounts,
    pub devices: Devices,
    /// The process server's endpoint: every connection is a badged copy.
    pub ep: Endpoint,
    pub bootfs: BootFs<'static>,
    /// Shared buffers' indices, and the pooled ones (`buffers.rs`).
    pub buffers: Buffers,
    /// The boot image programs' read-only pages (`shared.rs`).
    pub shared: SharedImages,
}

impl Life {
    pub fn new(mut kernel: Kernel, devices: Devices, bootfs: BootFs<'static>, boot: BootPages) -> Result<Life, Errno> {
        // A buffer for as many processes as there may be, and one more:
        // an exec takes its new buffer before it gives back the old (44 KiB
        // of tables).
        kernel.make_own_tables(crate::buffers::BUFFERS, (MAX_PROCESSES as u64 + 1) * PAGE)?;
        // And an exec's view of the largest image (which need not start
        // on a page): made at the first exec, they were resources a run
        // left behind that a later one did not.
        kernel.make_own_tables(crate::space::VIEW, libux::rpc::IMAGE_MAX + PAGE)?;
        let ep = kernel.endpoint()?;
        let mut life = Life {
            changes: 0,
            kernel,
            procs: Procs::default(),
            mounts: Mounts::new(),
            devices,
            ep,
            bootfs,
            buffers: Buffers::default(),
            shared: SharedImages::new(boot),
        };
        life.buffers.make_pooled(&mut life.kernel)?;
        Ok(life)
    }

    /// Starts a program as a child of the process server.
    pub fn start(&mut self, path: &str, argv: &[&str], env: &[&str], grants: &Grants) -> Result<Pid, Errno> {
        let pid = self.procs.new_pid()?;
        let spawn = Spawn {
            path,
            argv: argv.to_vec(),
            env: env.to_vec(),
            redirect: None,
            fds: Vec::new(),
            place: None,
            home_parent: None,
        };
        self.create(pid, 0, &spawn, grants)?;
        Ok(pid)
    }

    pub fn report_end(&self, p: &Process, end: End) {
        let (pid, name) = (self.procs.gpid(p.pid), &p.name);
        match end {
            End::Exited(s) => println!("ux: pid {pid} ({name}) exited with status {s}"),
            End::Killed => println!("ux: pid {pid} ({name}) was killed"),
            End::Faulted(f) => {
                println!("ux: pid {pid} ({name}) faulted: {:?} at ip {:#x}, address {:#x}", f.kind, f.ip, f.addr)
            }
            // Only a process of another node is lost.
            End::Lost => println!("ux: pid {pid} ({name}) was lost"),
        }
    }

    /// `pid` is the console's program: it and what it starts are the
    /// person at the node.
    pub fn console_is(&mut self, pid: Pid) {
        if let Some(p) = self.procs.get_mut(&pid) {
            p.console = true;
        }
    }
}

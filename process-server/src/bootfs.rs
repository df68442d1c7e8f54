//! The boot file system (`libux::bootfs`): the host hands it to QEMU as
//! the fw_cfg file `opt/ux/bootfs`, and at boot we have the device copy
//! it by DMA into frames of our own, mapped read-only at [`BASE`] and
//! kept for good (boot programs' read-only pages are mapped straight from
//! them: `shared.rs`).
//!
//! Not linked into our image: the kernel's boot zeroes, ELF-loads and
//! then moves the root task's image byte by byte, which under emulation
//! cost 0.2 s of a host core for 5 MiB of programs, a third of a node's
//! boot. DMA is the device's own copy, a chunk of frames at a time.

use crate::kernel::Kernel;
use crate::mem::{CHUNK_PAGES, PAGE};
use crate::shared::BootPages;
use crate::space;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use libux::fw_cfg::{DmaAccess, File, FwCfg};
use libux::sel4::consts::{bits, init_cap, object};
use libux::sel4::{CapRights, IoPort, Page};

/// The DMA transfers' descriptor, in our address space.
const DESCRIPTOR: u64 = space::BOOTFS;
/// Where the boot file system is mapped, just above.
pub const BASE: u64 = DESCRIPTOR + PAGE;
/// The fw_cfg file the host puts it in (`qemu::node::command`).
pub const FILE: &str = "opt/ux/bootfs";
/// Copies the boot file system in from `file` (the settings found it in
/// fw_cfg's directory); what went wrong otherwise.
pub fn load(kernel: &mut Kernel, file: Option<File>) -> Result<BootPages, String> {
    let file = file.ok_or(format!("no fw_cfg file {FILE}: QEMU was not given the programs"))?;
    let mut cfg = FwCfg::detect(IoPort(init_cap::IO_PORT)).ok_or("QEMU's fw_cfg device does not answer")?;
    if !cfg.has_dma() {
        return Err(String::from("QEMU's fw_cfg device does no DMA"));
    }
    let size = u64::from(file.size);
    let pages = size.div_ceil(PAGE);
    fn e(what: &'static str) -> impl Fn(libux::rpc::Errno) -> String {
        move |err| format!("{what}: {err}")
    }
    kernel.make_own_tables(DESCRIPTOR, (pages + 1) * PAGE).map_err(e("page tables"))?;
    let descriptor = Page(kernel.own_object(object::X86_4K, bits::PAGE).map_err(e("a frame"))?);
    kernel.map_own(descriptor, DESCRIPTOR, CapRights::READ_WRITE).map_err(e("mapping a frame"))?;
    let descriptor_paddr = descriptor.address().map_err(|err| format!("a frame's address: {err:?}"))?;
    let mut frames = Vec::with_capacity(pages as usize);
    while (frames.len() as u64) < pages {
        let done = frames.len() as u64;
        let n = (pages - done).min(CHUNK_PAGES);
        let run = kernel.own_contiguous_frames(n as u32).map_err(e("frames"))?;
        let paddr = Page(run[0]).address().map_err(|err| format!("a frame's address: {err:?}"))?;
        let bytes = (size - done * PAGE).min(n * PAGE) as u32;
        // SAFETY: the descriptor page is mapped read-write at DESCRIPTOR
        // and is at `descriptor_paddr`; the run's frames are fresh, ours,
        // physically contiguous from `paddr`, and hold `bytes`.
        unsafe { cfg.dma_read(DESCRIPTOR as *mut DmaAccess, descriptor_paddr, file, done == 0, paddr, bytes) }
            .map_err(|err| format!("reading {FILE} by DMA: {err:?}"))?;
        for (i, &f) in run.iter().enumerate() {
            let at = BASE + (done + i as u64) * PAGE;
            kernel.map_own(Page(f), at, CapRights::READ).map_err(e("mapping the programs"))?;
        }
        frames.extend(run);
    }
    // SAFETY: `size` bytes are mapped read-only at BASE for good.
    let blob = unsafe { core::slice::from_raw_parts(BASE as *const u8, size as usize) };
    Ok(BootPages::new(frames, blob))
}

//! Address spaces: mapping frames into an x86_64 VSpace, creating the
//! page-table levels (PDPT, page directory, page table) on first use, from
//! the arena of the space's owner.

use crate::mem::{AllocError, Arena, Memory};
use alloc::vec::Vec;
use libux::sel4::consts::{bits, object};
use libux::sel4::{CapRights, Page, PageDirectory, PageTable, Pdpt, VSpace, VmAttributes};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Level {
    Pdpt,
    PageDirectory,
    PageTable,
}

impl Level {
    /// Address bits one entry of the level above covers.
    const fn shift(self) -> u32 {
        match self {
            Level::Pdpt => 39,
            Level::PageDirectory => 30,
            Level::PageTable => 21,
        }
    }
}

pub struct AddressSpace {
    pub root: VSpace,
    /// Tables made so far: level and the address bits above its coverage.
    tables: Vec<(Level, u64)>,
    /// The 2 MiB span (address >> 21) of the page table used last:
    /// mappings come in runs of neighbouring pages.
    last_span: Option<u64>,
}

impl AddressSpace {
    pub fn new(root: VSpace) -> Self {
        // A minimal process's: a PDPT, and a directory and table for its
        // image and for its start region.
        AddressSpace { root, tables: Vec::with_capacity(5), last_span: None }
    }

    fn ensure_tables(&mut self, mem: &mut Memory, arena: &mut Arena, vaddr: u64) -> Result<(), AllocError> {
        // Tables are made top down: with the page table, the rest is there.
        let span = vaddr >> Level::PageTable.shift();
        if self.last_span == Some(span) || self.tables.contains(&(Level::PageTable, span)) {
            self.last_span = Some(span);
            return Ok(());
        }
        for level in [Level::Pdpt, Level::PageDirectory, Level::PageTable] {
            let key = (level, vaddr >> level.shift());
            if self.tables.contains(&key) {
                continue;
            }
            let ty = match level {
                Level::Pdpt => object::X86_PDPT,
                Level::PageDirectory => object::X86_PAGE_DIRECTORY,
                Level::PageTable => object::X86_PAGE_TABLE,
            };
            let cap = mem.object(arena, ty, 0, bits::PAGE_TABLE)?;
            let attr = VmAttributes::WriteBack;
            match level {
                Level::Pdpt => Pdpt(cap).map(self.root, vaddr, attr)?,
                Level::PageDirectory => PageDirectory(cap).map(self.root, vaddr, attr)?,
                Level::PageTable => PageTable(cap).map(self.root, vaddr, attr)?,
            }
            self.tables.push(key);
        }
        self.last_span = Some(span);
        Ok(())
    }

    /// Makes now the tables that mappings in `[from, from + len)` need,
    /// from `arena`.
    pub fn make_tables(&mut self, mem: &mut Memory, arena: &mut Arena, from: u64, len: u64) -> Result<(), AllocError> {
        let table_span = 1 << Level::PageTable.shift();
        let first = from & !(table_span - 1);
        for vaddr in (first..from + len).step_by(table_span as usize) {
            self.ensure_tables(mem, arena, vaddr)?;
        }
        Ok(())
    }

    /// Maps `frame` at `vaddr` (4 KiB aligned), cached; missing tables come
    /// from `arena`.
    pub fn map(
        &mut self,
        mem: &mut Memory,
        arena: &mut Arena,
        frame: Page,
        vaddr: u64,
        rights: CapRights,
    ) -> Result<(), AllocError> {
        self.map_with(mem, arena, frame, vaddr, rights, VmAttributes::WriteBack)
    }

    /// [`AddressSpace::map`] with chosen caching attributes (device memory
    /// is mapped uncached).
    pub fn map_with(
        &mut self,
        mem: &mut Memory,
        arena: &mut Arena,
        frame: Page,
        vaddr: u64,
        rights: CapRights,
        attr: VmAttributes,
    ) -> Result<(), AllocError> {
        self.ensure_tables(mem, arena, vaddr)?;
        frame.map(self.root, vaddr, rights, attr)?;
        crate::work::mapped();
        Ok(())
    }
}

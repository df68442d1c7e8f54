//! Program images come from files (`Request::Exec`): the ELF reader must
//! turn any bytes into an error, or segments that lie inside the image and
//! a layout that fits a process.
#![no_main]
use libfuzzer_sys::fuzz_target;
use libux::elf::Elf;

fuzz_target!(|data: &[u8]| {
    if let Ok(elf) = Elf::parse(data) {
        for seg in elf.segments() {
            assert!(elf.data(&seg).len() as u64 <= seg.mem_size);
        }
        if let Ok(pages) = elf.loadable() {
            assert!(pages > 0 && pages <= libux::elf::LOAD_END / 4096);
        }
    }
});

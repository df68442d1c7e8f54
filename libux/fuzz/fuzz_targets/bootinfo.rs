//! Boot information parsing: any bytes give an error or a view whose
//! accessors cannot panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use libux::sel4::bootinfo::SIZE;
use libux::sel4::BootInfo;

fn check(bytes: &[u8]) {
    if let Ok(bi) = BootInfo::parse(bytes) {
        let _ = (bi.empty(), bi.untyped(), bi.ipc_buffer(), bi.tsc_mhz(), bi.init_cnode_size_bits());
        let _ = bi.ram_bytes();
        assert!(bi.untypeds().count() <= libux::sel4::consts::config::MAX_BOOTINFO_UNTYPED_CAPS);
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    // Inputs are mostly shorter than boot information, which the length
    // check alone refuses: laid over zeros of the whole size, the same
    // bytes reach the checks of the fields too.
    let mut whole = vec![0u8; SIZE];
    let n = data.len().min(SIZE);
    whole[..n].copy_from_slice(&data[..n]);
    check(&whole);
});

//! Boot information parsing: any bytes give an error or a view whose
//! accessors cannot panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use libux::sel4::BootInfo;

fuzz_target!(|data: &[u8]| {
    if let Ok(bi) = BootInfo::parse(data) {
        let _ = (bi.empty(), bi.untyped(), bi.ipc_buffer(), bi.tsc_mhz(), bi.init_cnode_size_bits());
        let _ = bi.ram_bytes();
        assert!(bi.untypeds().count() <= libux::sel4::consts::config::MAX_BOOTINFO_UNTYPED_CAPS);
    }
});

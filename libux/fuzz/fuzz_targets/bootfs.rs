//! The boot file system reader must reject any corruption cleanly.
#![no_main]
use libfuzzer_sys::fuzz_target;
use libux::bootfs::BootFs;

fuzz_target!(|data: &[u8]| {
    if let Ok(fs) = BootFs::parse(data) {
        assert_eq!(fs.files().count(), fs.len());
        for (name, contents) in fs.files() {
            assert!(fs.get(name).is_some());
            assert!(contents.len() <= data.len());
        }
    }
});

//! The node's settings from the host: the small fw_cfg files `opt/ux/...`
//! (`docs/ARCHITECTURE.md`, "Boot-time configuration"), read once at
//! boot. Every byte of the device's directory is a port access, each a
//! system call: looked up afresh for every program started, they cost a
//! boot more host CPU than starting the programs did.

use crate::bootfs;
use alloc::collections::BTreeMap;
use alloc::string::String;
use libux::fw_cfg::{File, FwCfg};
use libux::println;
use libux::sel4::consts::init_cap;
use libux::sel4::IoPort;

/// The longest setting taken; a longer file is reported and left out,
/// never cut.
const MAX_BYTES: u32 = 4096;

pub struct Settings {
    values: BTreeMap<String, String>,
    /// The boot file system's file, found in the same walk of the
    /// directory (`bootfs.rs` copies it in).
    pub bootfs: Option<File>,
}

impl Settings {
    pub fn read() -> Settings {
        let mut out = Settings { values: BTreeMap::new(), bootfs: None };
        let Some(mut cfg) = FwCfg::detect(IoPort(init_cap::IO_PORT)) else { return out };
        for (name, file) in cfg.files("opt/ux/") {
            if name == bootfs::FILE {
                out.bootfs = Some(file);
                continue;
            }
            if file.size > MAX_BYTES {
                println!("ux: ignoring fw_cfg {name}: {} bytes is too long", file.size);
                continue;
            }
            let mut buf = alloc::vec![0u8; file.size as usize];
            match cfg.read(file, &mut buf).ok().and_then(|n| String::from_utf8(buf[..n].to_vec()).ok()) {
                Some(text) => {
                    out.values.insert(name, text);
                }
                None => println!("ux: ignoring fw_cfg {name}: not UTF-8"),
            }
        }
        out
    }

    /// The setting `name` (`opt/ux/node`, say), if the host gave it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }
}

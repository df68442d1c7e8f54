//! `kernel-config`: the seL4 kernel configuration profiles of this system
//! (`profiles/*.config`) and the code that reads them.
//!
//! A profile is a readable list of kernel options; [`Profile::load`]
//! resolves its `include`s and [`Profile::autoconf_h`] renders the
//! `autoconf.h` the kernel's standalone Makefile compiles against.
//! [`sel4_source`] finds the seL4 source inside the `sel4-sys` package.
//!
//! Host-only. It knows nothing of how the kernel is built or booted (the
//! `qemu` tool does that).

pub mod system;

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The profiles the build knows, in the order `--help` lists them.
pub const PROFILES: &[&str] = &["debug", "release"];

/// Directory holding the profile files.
pub fn profiles_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles")
}

/// A resolved profile: kernel options and Makefile variables, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    pub name: String,
    /// `(NAME, VALUE)`: becomes `#define CONFIG_NAME VALUE`.
    pub options: Vec<(String, String)>,
    /// `(VAR, VALUE)`: passed to the kernel's make.
    pub make_vars: Vec<(String, String)>,
    /// `(NAME, VALUE)` of `define` lines: `#define NAME VALUE`, after the
    /// options.
    pub defines: Vec<(String, String)>,
}

/// A profile error, naming the file and line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

impl Profile {
    /// Loads `profiles/<name>.config` and everything it includes.
    pub fn load(name: &str) -> Result<Profile, ConfigError> {
        Self::load_from(&profiles_dir(), name)
    }

    pub fn load_from(dir: &Path, name: &str) -> Result<Profile, ConfigError> {
        let mut p = Profile { name: name.to_string(), options: Vec::new(), make_vars: Vec::new(), defines: Vec::new() };
        p.read(dir, name, &mut Vec::new())?;
        Ok(p)
    }

    fn read(&mut self, dir: &Path, name: &str, stack: &mut Vec<String>) -> Result<(), ConfigError> {
        let file = dir.join(format!("{name}.config"));
        if stack.iter().any(|n| n == name) {
            let message = format!("include cycle: {} -> {name}", stack.join(" -> "));
            return Err(ConfigError { file, line: 0, message });
        }
        let text = std::fs::read_to_string(&file).map_err(|e| ConfigError {
            file: file.clone(),
            line: 0,
            message: format!("cannot read profile: {e}"),
        })?;
        stack.push(name.to_string());
        for (i, raw) in text.lines().enumerate() {
            let err = |message: String| ConfigError { file: file.clone(), line: i + 1, message };
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            if let Some(other) = line.strip_prefix("include ") {
                self.read(dir, other.trim(), stack).map_err(|e| if e.line == 0 { err(e.message) } else { e })?;
            } else if let Some(var) = line.strip_prefix("make ") {
                let (k, v) =
                    var.split_once('=').ok_or_else(|| err(format!("expected `make VAR=VALUE`, got `{line}`")))?;
                let k = k.trim();
                if !is_name(k) {
                    return Err(err(format!("bad make variable name `{k}`")));
                }
                self.make_vars.retain(|(n, _)| n != k);
                self.make_vars.push((k.to_string(), v.trim().to_string()));
            } else {
                let (define, line) = match line.strip_prefix("define ") {
                    Some(rest) => (true, rest.trim()),
                    None => (false, line),
                };
                let (k, v) = match line.split_once('=') {
                    Some((k, v)) => (k.trim(), v.trim()),
                    None => (line, "1"),
                };
                if !is_name(k) {
                    return Err(err(format!("bad option name `{k}` (upper case, digits and _ only)")));
                }
                if v.is_empty() {
                    return Err(err(format!("option `{k}` has an empty value")));
                }
                let set = if define { &mut self.defines } else { &mut self.options };
                if set.iter().any(|(n, _)| n == k) {
                    return Err(err(format!("`{k}` is set twice")));
                }
                set.push((k.to_string(), v.to_string()));
            }
        }
        stack.pop();
        Ok(())
    }

    /// Whether the option `name` (without `CONFIG_`) is set.
    pub fn has(&self, name: &str) -> bool {
        self.options.iter().any(|(n, _)| n == name)
    }

    /// The value of option `name` (without `CONFIG_`), if it is set.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.options.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The kernel's `autoconf.h` for this profile.
    pub fn autoconf_h(&self) -> String {
        let mut out = format!(
            "/* Generated from kernel-config/profiles/{}.config by the qemu tool. Do not edit. */\n\
             #ifndef AUTOCONF_INCLUDED\n#define AUTOCONF_INCLUDED\n",
            self.name
        );
        for (k, v) in &self.options {
            out.push_str(&format!("#define CONFIG_{k} {v}\n"));
        }
        for (k, v) in &self.defines {
            out.push_str(&format!("#define {k} {v}\n"));
        }
        out.push_str("#endif\n");
        out
    }
}

/// Finds the seL4 kernel source (`.../sel4-sys-0.0.28/seL4`), downloading
/// the package with `cargo metadata` if needed.
pub fn sel4_source() -> Result<PathBuf, String> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("sel4-source/Cargo.toml");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(&manifest)
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo metadata for {} failed (is crates.io reachable?):\n{}",
            manifest.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let json = String::from_utf8_lossy(&out.stdout);
    let path = manifest_path_of(&json, "sel4-sys")
        .ok_or_else(|| "cargo metadata did not list the sel4-sys package".to_string())?;
    let dir = Path::new(&path).parent().map(|p| p.join("seL4")).ok_or("bad manifest path")?;
    if !dir.join("Makefile").exists() {
        return Err(format!("{} has no seL4 Makefile", dir.display()));
    }
    Ok(dir)
}

/// The `manifest_path` of package `name` in `cargo metadata` JSON.
fn manifest_path_of(json: &str, name: &str) -> Option<String> {
    let meta: serde_json::Value = serde_json::from_str(json).ok()?;
    let pkg = meta["packages"].as_array()?.iter().find(|p| p["name"] == name)?;
    pkg["manifest_path"].as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[(&str, &str)]) -> tempdir::Dir {
        let d = tempdir::Dir::new();
        for (name, text) in files {
            std::fs::write(d.path().join(format!("{name}.config")), text).unwrap();
        }
        d
    }

    /// A throwaway directory, removed on drop.
    mod tempdir {
        use std::path::{Path, PathBuf};
        use std::sync::atomic::{AtomicUsize, Ordering};

        pub struct Dir(PathBuf);
        static N: AtomicUsize = AtomicUsize::new(0);

        impl Dir {
            pub fn new() -> Dir {
                let n = N.fetch_add(1, Ordering::Relaxed);
                let p = std::env::temp_dir().join(format!("kernel-config-test-{}-{n}", std::process::id()));
                std::fs::create_dir_all(&p).unwrap();
                Dir(p)
            }
            pub fn path(&self) -> &Path {
                &self.0
            }
        }

        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn shipped_profiles_load_and_differ_where_they_should() {
        let debug = Profile::load("debug").unwrap();
        let release = Profile::load("release").unwrap();
        for p in [&debug, &release] {
            // The TCG-bootable choices of DESIGN.md.
            assert!(p.has("XAPIC") && !p.has("X2APIC"), "{}", p.name);
            assert!(!p.has("HUGE_PAGE") && !p.has("IOMMU") && !p.has("SUPPORT_PCID"));
            assert!(p.has("FSGSBASE_MSR") && !p.has("FSGSBASE_INST"));
        }
        assert!(debug.has("PRINTING") && debug.has("DEBUG_BUILD"));
        assert_eq!(debug.make_vars, [("DEBUG".to_string(), "1".to_string())]);
        assert!(!release.has("PRINTING") && !release.has("DEBUG_BUILD"));
        assert!(release.make_vars.is_empty());
        assert!(debug.autoconf_h().contains("#define CONFIG_MAX_NUM_BOOTINFO_UNTYPED_CAPS 230\n"));
    }

    #[test]
    fn includes_values_and_make_vars() {
        let d = dir_with(&[
            ("base", "A\nB = 7 # comment\n"),
            ("top", "include base\nmake DEBUG=1\nC=x\ndefine _D_H\ndefine E = F(1)\n"),
        ]);
        let p = Profile::load_from(d.path(), "top").unwrap();
        let opts: Vec<(&str, &str)> = p.options.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(opts, [("A", "1"), ("B", "7"), ("C", "x")]);
        assert_eq!((p.value("B"), p.value("A"), p.value("E")), (Some("7"), Some("1"), None));
        assert_eq!(p.make_vars, [("DEBUG".into(), "1".into())]);
        // A make variable set again replaces the earlier value only.
        let d = dir_with(&[("m", "make A=1\nmake B=2\nmake A=3\n")]);
        let vars = Profile::load_from(d.path(), "m").unwrap().make_vars;
        assert_eq!(vars, [("B".into(), "2".into()), ("A".into(), "3".into())]);
        let h = p.autoconf_h();
        assert!(
            h.contains("#define CONFIG_A 1\n#define CONFIG_B 7\n#define CONFIG_C x\n#define _D_H 1\n#define E F(1)\n")
        );
    }

    #[test]
    fn errors_name_file_and_line() {
        let d = dir_with(&[("bad", "A\nlower = 1\n"), ("dup", "A\nA\n"), ("cyc", "include cyc\n"), ("empty", "A =\n")]);
        let e = Profile::load_from(d.path(), "bad").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.to_string().contains("bad.config:2: bad option name `lower`"), "{e}");
        assert!(Profile::load_from(d.path(), "dup").unwrap_err().message.contains("set twice"));
        assert!(Profile::load_from(d.path(), "cyc").unwrap_err().message.contains("include cycle"));
        assert!(Profile::load_from(d.path(), "empty").unwrap_err().message.contains("empty value"));
        let missing = Profile::load_from(d.path(), "nope").unwrap_err();
        assert!(missing.to_string().contains("nope.config: cannot read profile"), "{missing}");
        // Through an include: a missing file is blamed on the include
        // line; an error inside an included file keeps its own place.
        let d = dir_with(&[("top", "A\ninclude gone\n"), ("outer", "A\n\ninclude bad\n"), ("bad", "B\nlower\n")]);
        let e = Profile::load_from(d.path(), "top").unwrap_err();
        assert!(e.to_string().contains("top.config:2: cannot read profile"), "{e}");
        let e = Profile::load_from(d.path(), "outer").unwrap_err();
        assert!(e.to_string().contains("bad.config:2: bad option name `lower`"), "{e}");
    }

    #[test]
    fn finds_manifest_path_in_metadata_json() {
        // A dependency entry naming the package comes first, as cargo writes it.
        let json = r#"{"packages":[
            {"name":"sel4-source","dependencies":[{"name":"sel4-sys","req":"=0.0.28"}],"manifest_path":"/k/Cargo.toml"},
            {"name":"sel4-sys","version":"0.0.28","manifest_path":"/r/sel4-sys-0.0.28/Cargo.toml"}]}"#;
        assert_eq!(manifest_path_of(json, "sel4-sys").as_deref(), Some("/r/sel4-sys-0.0.28/Cargo.toml"));
        assert_eq!(manifest_path_of(json, "nope"), None);
    }
}

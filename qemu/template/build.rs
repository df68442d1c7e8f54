//! Links with libux's linker script, which puts a ux program's segments
//! where the process server loads them. `.cargo/config.toml` names libux's
//! directory (`UX_LIBUX`).

fn main() {
    let libux = std::env::var("UX_LIBUX").expect("UX_LIBUX (set in .cargo/config.toml) names libux's directory");
    let script = std::path::Path::new(&libux).join("ux.ld");
    assert!(script.is_file(), "no linker script at {}: is UX_LIBUX libux's directory?", script.display());
    println!("cargo:rustc-link-arg=-T{}", script.display());
    println!("cargo:rerun-if-changed={}", script.display());
    println!("cargo:rerun-if-env-changed=UX_LIBUX");
}

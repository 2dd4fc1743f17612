//! Records how this crate is optimized, so `peephole_check!` can tell a user whose build runs
//! the predictor unoptimized (cargo's default for proc macros and their dependencies) the
//! one Cargo.toml line that makes it fast. Cargo gives build scripts the opt-level and
//! profile of the crate they build, build-override included.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let opt_level = std::env::var("OPT_LEVEL").unwrap_or_default();
    let profile = std::env::var("PROFILE").unwrap_or_default();
    println!("cargo::rustc-env=PEEPHOLE_MACROS_OPT_LEVEL={opt_level}");
    println!("cargo::rustc-env=PEEPHOLE_MACROS_PROFILE={profile}");
}

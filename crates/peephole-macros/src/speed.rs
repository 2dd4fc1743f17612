//! The build-speed hint: in cargo's default profiles a proc macro and everything it uses
//! (here the predictor and its ONNX runtime) compile without optimizations, which makes
//! `peephole_check!` about 30 times slower at build time (README, "Compile time"). Users
//! cannot see that, so the first predictor warning of each crate says which line of their
//! Cargo.toml fixes it.

use std::sync::atomic::{AtomicBool, Ordering};

/// Set once the hint has been given in this compiler process (one crate).
static GIVEN: AtomicBool = AtomicBool::new(false);

/// The hint for a build of this macro at `opt_level` under cargo profile `profile` (as
/// build scripts see them: `debug` or `release`), or `None` when the macro is optimized.
pub(crate) fn hint_for(opt_level: &str, profile: &str) -> Option<String> {
    if opt_level != "0" {
        return None;
    }
    let section = if profile == "release" {
        "release"
    } else {
        "dev"
    };
    Some(format!(
        "note: peephole_check! ran its predictor unoptimized (cargo's default for proc macros), \
         about 30 times slower than optimized; add `[profile.{section}.build-override]` with \
         `opt-level = 3` to the Cargo.toml of your workspace root to speed these checks up \
         (said once per crate)"
    ))
}

/// The hint, the first time it is asked for in this process, when this macro was built
/// unoptimized.
pub(crate) fn take_hint() -> Option<String> {
    let hint = hint_for(
        env!("PEEPHOLE_MACROS_OPT_LEVEL"),
        env!("PEEPHOLE_MACROS_PROFILE"),
    )?;
    (!GIVEN.swap(true, Ordering::Relaxed)).then_some(hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_unoptimized_build_gets_the_hint_naming_its_profile() {
        assert!(hint_for("3", "debug").is_none());
        assert!(hint_for("s", "release").is_none());
        let dev = hint_for("0", "debug").expect("unoptimized dev");
        assert!(
            dev.contains("[profile.dev.build-override]") && dev.contains("opt-level = 3"),
            "{dev}"
        );
        let release = hint_for("0", "release").expect("unoptimized release");
        assert!(
            release.contains("[profile.release.build-override]"),
            "{release}"
        );
    }
}

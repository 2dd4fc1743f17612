//! What every benchmark shares: the median its tables report, and the optimized build its
//! timings need.
//!
//! Timings of our own code only mean something in an optimized build, and the debug xtask
//! is compiled without optimizations for the workspace crates. So a benchmark of our code
//! (and `search`, whose speed is part of its contract) first re-runs itself through
//! `cargo run --release` with xtask's `ort` feature, the one build that has every
//! backend. `bench compile` times cargo builds, not xtask, and runs as it is.

use std::ffi::OsString;

use crate::cargo::cargo;
use crate::process;

/// The median of repeated timings (the mean of the middle two for an even count; NaN for
/// none), what every benchmark table reports.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// Whether this process is an optimized build, where timings are worth reporting.
pub fn optimized() -> bool {
    !cfg!(debug_assertions)
}

/// Runs this very command line again in an optimized xtask with every predictor backend
/// (`--release`, `--features ort`); the caller returns its outcome instead of
/// doing the work itself. The first such run compiles that build (a few minutes), later
/// runs reuse it.
pub fn rerun_optimized() -> anyhow::Result<()> {
    let arguments: Vec<OsString> = std::env::args_os().skip(1).collect();
    eprintln!("note: re-running in an optimized build (compiled once, then reused)");
    let mut command = cargo();
    command
        .args([
            "run",
            "--release",
            "--quiet",
            "-p",
            "xtask",
            "--bin",
            "xtask",
            "--features",
            "ort",
            "--",
        ])
        .args(arguments);
    process::run(&mut command)?;
    Ok(())
}

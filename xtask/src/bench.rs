//! `cargo xtask bench`: performance measurements, one subcommand per subject, each in its own
//! module (`bench_predict.rs`, ...), so that adding one does not touch the others.
//!
//! Timings of our own code only mean something in an optimized build, and the debug xtask
//! is compiled without optimizations for the workspace crates. So a benchmark of our code
//! (and `search`, whose speed is part of its contract) first re-runs itself through
//! `cargo run --release` with xtask's `ort` feature, the one build that has every
//! backend. `bench compile` times cargo builds, not xtask, and runs as it is.

use std::ffi::OsString;

use crate::cargo::{cargo, run as run_command};
use crate::{bench_compile, bench_lint, bench_predict, bench_train};

/// Options of `bench`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: BenchCommand,
}

/// What to measure.
#[derive(clap::Subcommand)]
enum BenchCommand {
    /// Predictor inference: batch-1 latency and batch throughput of the native fast scorer,
    /// tract, onnxruntime and PyTorch on the same weights and sequences.
    Predict(bench_predict::Args),
    /// Training throughput: the same network, batches and optimizer with tch and with
    /// PyTorch, images/s and their ratio.
    Train(bench_train::Args),
    /// Build time: a crate of networks checked by `peephole_check!` against the same crate
    /// with rule lints only, per profile, medians of clean builds of that crate.
    Compile(bench_compile::Args),
    /// The predictor's share of `peephole_check!` per network, in process: model load, one
    /// prediction, and the edit search of poor networks, on `bench compile`'s networks.
    Lint(bench_lint::Args),
}

/// Entry point of `cargo xtask bench`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    match &args.command {
        BenchCommand::Predict(args) => bench_predict::run(args),
        BenchCommand::Train(args) => bench_train::run(args),
        BenchCommand::Compile(args) => bench_compile::run(args),
        BenchCommand::Lint(args) => bench_lint::run(args),
    }
}

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
    run_command(&mut command)
}

//! `cargo xtask bench`: performance measurements, one subcommand per subject, each in its own
//! module (`predict`, `train`, `compile`, `lint`), so that adding one does not touch the
//! others. What they share (medians, the optimized re-run) is in [`timing`], a leaf they all
//! import, so no module imports this one back.

mod compile;
mod lint;
mod predict;
pub mod timing;
mod train;

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
    Predict(predict::Args),
    /// Training throughput: the same network, batches and optimizer with tch and with
    /// PyTorch, images/s and their ratio.
    Train(train::Args),
    /// Build time: a crate of networks checked by `peephole_check!` against the same crate
    /// with rule lints only, per profile, medians of clean builds of that crate.
    Compile(compile::Args),
    /// The predictor's share of `peephole_check!` per network, in process: model load, one
    /// prediction, and the edit search of poor networks, on `bench compile`'s networks.
    Lint(lint::Args),
}

/// Entry point of `cargo xtask bench`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    match &args.command {
        BenchCommand::Predict(args) => predict::run(args),
        BenchCommand::Train(args) => train::run(args),
        BenchCommand::Compile(args) => compile::run(args),
        BenchCommand::Lint(args) => lint::run(args),
    }
}

//! `cargo xtask`: every job a maintainer reruns, one module per command. Heavy work (libtorch)
//! runs in other binaries that this one builds and calls, so `cargo xtask --help` stays fast.

mod bench;
mod book;
mod cargo;
mod compare_models;
mod eval;
mod fuzz;
mod lint_table;
mod process;
mod sample;
mod schema;
mod search;
mod setup;
mod slurm;
mod split;
mod test;
mod test_slurm;
mod train_predictor;
mod zoo;
mod zoo_merge;
mod zoo_sample;
mod zoo_size_figure;
mod zoo_stats;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Peephole maintainer tasks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install what training and the tests need: the Python venv with torch==2.11.0,
    /// onnxruntime==1.31.1 and scikit-learn==1.7.2, and Debian's Fashion-MNIST. Idempotent.
    Setup(setup::Args),
    /// Check formatting, set up, run clippy, then every test of the workspace, then the
    /// one-node Slurm test.
    Test(test::Args),
    /// Start a one-node Slurm here, run a zoo job array with a cancelled task and a
    /// resubmission, merge, and compare with a one-process run (root; installs slurm-wlm).
    TestSlurm(test_slurm::Args),
    /// Print networks drawn by generator v1 or v2 (text form, ULC, MACs, params).
    Sample(sample::Args),
    /// Generate and train a zoo under a protocol (resumable; calls peephole-train). With
    /// `--slurm`, write a Slurm job array instead (`cargo xtask zoo --slurm --help`).
    Zoo(zoo::Args),
    /// Merge the shard files of a split zoo run (`zoo --slurm`) into the zoo file.
    ZooMerge(zoo_merge::Args),
    /// Draw a seeded random sample of zoo files' generated networks as an id list for
    /// `zoo --ids` (second-seed runs).
    ZooSample(zoo_sample::Args),
    /// Print the paper's Table 2 for a zoo file, and a histogram of final accuracies.
    ZooStats(zoo_stats::Args),
    /// Train the predictor on zoo files and export it with its model card (calls
    /// `peephole-train train-predictor`; `cargo xtask train-predictor --help` lists the options).
    #[command(disable_help_flag = true)]
    TrainPredictor(train_predictor::Args),
    /// Write, extend or check the frozen evaluation split (data/splits/eval-v2.json): every
    /// architecture on one side (train, validation, test; the reference set evaluation only).
    Split(split::Args),
    /// Evaluation protocol v2: a predictor against the baselines on the split's test side and
    /// the reference set, per slice, with bootstrap intervals (markdown), eval.json and
    /// scatter.png / scatter.svg.
    Eval(eval::Args),
    /// Two predictors on the split's validation side, per slice: tau and MSE with bootstrap
    /// intervals and the paired difference (the tool that chooses, never the test side).
    CompareModels(compare_models::Args),
    /// Draw the zoo-size curve (validation tau against training networks, per slice) from a
    /// committed table as zoo-size.svg and zoo-size.png.
    ZooSizeFigure(zoo_size_figure::Args),
    /// Run libFuzzer on every fuzz target (text form, layer lists, ULC, predictor inputs,
    /// models and cards, zoo, IDX, CIFAR, `cargo peephole check` trees) for N seconds each and
    /// print executions, coverage and findings (needs the nightly toolchain and cargo-fuzz).
    Fuzz(fuzz::Args),
    /// Performance measurements: `bench predict` (the predictor's backends side by side),
    /// `bench train` (tch against PyTorch), `bench compile` (what `peephole_check!` adds to a
    /// build), `bench lint` (where the lint's time goes, per network).
    Bench(bench::Args),
    /// Write the JSON Schemas of zoo records and model cards to docs/schema (`--check`: fail
    /// when a committed one is stale).
    Schema(schema::Args),
    /// Write README's lint table from the lint registry (`--check`: fail when it is stale).
    LintTable(lint_table::Args),
    /// Render the tables of README.md and the book (docs/book/) that come from committed files
    /// (evaluation reports, the zoo-size table) between their markers; `--check` only compares.
    Book(book::Args),
    /// Predictor-guided search: sample networks, score them all, print the best (and
    /// `--verify K`: train the best and worst K to compare).
    Search(search::Args),
}

fn main() -> anyhow::Result<()> {
    // `zoo --slurm` takes its own options and passes every other one to the trainer verbatim.
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).is_some_and(|c| c == "zoo") && slurm::requested(&argv[2..]) {
        return slurm::run(&argv[2..]);
    }
    match Cli::parse().command {
        Command::Setup(args) => setup::run(&args),
        Command::Test(args) => test::run(&args),
        Command::TestSlurm(args) => test_slurm::run(&args),
        Command::Sample(args) => sample::run(&args),
        Command::Zoo(args) => zoo::run(&args),
        Command::ZooMerge(args) => zoo_merge::run(&args),
        Command::ZooSample(args) => zoo_sample::run(&args),
        Command::ZooStats(args) => zoo_stats::run(&args),
        Command::TrainPredictor(args) => train_predictor::run(&args),
        Command::Split(args) => split::run(&args),
        Command::Eval(args) => eval::run(&args),
        Command::ZooSizeFigure(args) => zoo_size_figure::run(&args),
        Command::CompareModels(args) => compare_models::run(&args),
        Command::Fuzz(args) => fuzz::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Search(args) => search::run(&args),
        Command::LintTable(args) => lint_table::run(&args),
        Command::Schema(args) => schema::run(&args),
        Command::Book(args) => book::run(&args),
    }
}

//! `cargo xtask zoo`: builds the libtorch trainer in release mode and runs its zoo command.

use std::path::PathBuf;

use crate::cargo::{cargo, run as run_command};
use crate::setup;

/// Options of `zoo`, passed on to `peephole-train zoo`.
#[derive(clap::Args)]
pub struct Args {
    /// Training protocol.
    #[arg(long, default_value = "fmnist-budget-v1")]
    protocol: String,
    /// Networks 0..COUNT of the generator stream.
    #[arg(long)]
    count: u64,
    /// Generator stream seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Training seed base (default: --seed); another value retrains the same networks.
    #[arg(long)]
    train_seed: Option<u64>,
    /// Zoo file to append to.
    #[arg(long)]
    out: PathBuf,
    /// cpu, cuda or auto.
    #[arg(long, default_value = "auto")]
    device: String,
    /// Parallel trainings.
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Only indices i with i % N == I.
    #[arg(long, default_value = "0/1")]
    shard: String,
    /// Zoo files whose networks count as trained: continue a committed zoo in a new file.
    #[arg(long = "done-in", num_args = 1.., value_name = "FILE")]
    done_in: Vec<PathBuf>,
}

/// Entry point of `cargo xtask zoo`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    setup::run_setup(&setup::Args::default_python())?;
    let mut command = cargo();
    command
        .args(["run", "--release", "--quiet", "-p", "peephole-train", "--bin", "peephole-train", "--", "zoo"])
        .args(["--protocol", &args.protocol, "--count", &args.count.to_string(), "--seed", &args.seed.to_string()])
        .arg("--out")
        .arg(&args.out)
        .args(["--device", &args.device, "--jobs", &args.jobs.to_string(), "--shard", &args.shard]);
    if let Some(train_seed) = args.train_seed {
        command.args(["--train-seed", &train_seed.to_string()]);
    }
    if !args.done_in.is_empty() {
        command.arg("--done-in").args(&args.done_in);
    }
    run_command(&mut command)
}

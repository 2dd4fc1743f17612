//! `cargo xtask test`: README's test command. Sets up a fresh machine, then runs every test.

use crate::cargo::{cargo, run as run_command};
use crate::setup;

/// Options of `test`.
#[derive(clap::Args)]
pub struct Args {
    /// Skip the set-up step (when you know the machine is ready).
    #[arg(long)]
    no_setup: bool,
    /// Extra arguments for `cargo test` (after `--`).
    #[arg(last = true)]
    rest: Vec<String>,
}

/// Entry point of `cargo xtask test`.
pub fn run_tests(args: &Args) -> anyhow::Result<()> {
    if !args.no_setup {
        setup::run_setup(&setup::Args::default_python())?;
    }
    run_command(cargo().args(["test", "--workspace"]).args(&args.rest))
}

/// Entry point of `cargo xtask test`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    run_tests(args)
}

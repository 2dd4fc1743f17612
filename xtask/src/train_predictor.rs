//! `cargo xtask train-predictor ...`: builds the libtorch trainer in release mode and runs its
//! `train-predictor` command with the same arguments (`--zoo FILE... --out models/NAME.onnx`,
//! `--supervision final|curve`, `--ensemble K`, `--train-fraction F`, ...; `--help` lists
//! them), so xtask itself stays free of libtorch.

use std::ffi::OsString;

use crate::cargo::cargo;
use crate::process;
use crate::setup;

/// Everything after `train-predictor`, passed on unchanged.
#[derive(clap::Args)]
pub struct Args {
    /// Arguments of `peephole-train train-predictor`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    rest: Vec<OsString>,
}

/// Entry point of `cargo xtask train-predictor`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    setup::run_setup(&setup::Args::default_python())?;
    let mut command = cargo();
    command
        .args([
            "run",
            "--release",
            "--quiet",
            "-p",
            "peephole-train",
            "--bin",
            "peephole-train",
            "--",
            "train-predictor",
        ])
        .args(&args.rest);
    process::run(&mut command)?;
    Ok(())
}

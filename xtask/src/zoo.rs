//! `cargo xtask zoo`: builds the libtorch trainer in release mode and runs its zoo command
//! with every argument passed through unchanged, so the trainer's options are declared once
//! (`cargo xtask zoo --help` prints the trainer's help).

use std::ffi::OsString;

use crate::cargo::cargo;
use crate::process;
use crate::setup;

/// Arguments of `zoo`: all of them belong to `peephole-train zoo`.
#[derive(clap::Args)]
#[command(disable_help_flag = true)]
pub struct Args {
    /// Arguments for `peephole-train zoo` (see `cargo xtask zoo --help`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    args: Vec<OsString>,
}

/// Entry point of `cargo xtask zoo`.
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
            "zoo",
        ])
        .args(&args.args);
    process::run(&mut command)?;
    Ok(())
}

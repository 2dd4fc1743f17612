//! The `cargo-peephole` binary: cargo runs it for `cargo peephole ...`.

use std::io::IsTerminal;
use std::process::ExitCode;

use cargo_peephole::cli::{self, Cli, Io};
use clap::Parser;

fn main() -> ExitCode {
    let cli = Cli::parse_from(cli::arguments(std::env::args_os()));
    let (stdin, stdout, stderr) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
    let io = Io {
        stdin: &mut stdin.lock(),
        stdout: &mut stdout.lock(),
        stderr: &mut stderr.lock(),
        terminal: stdout.is_terminal(),
    };
    match cli::run(&cli, io) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

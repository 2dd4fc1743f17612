//! `peephole-fuzz`: lists the fuzz targets, writes a target's starting corpus for libFuzzer
//! (what `cargo xtask fuzz` calls once per target), and replays saved inputs on stable Rust to
//! reproduce a finding.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use peephole_fuzz::guard::{self, CappedAlloc};
use peephole_fuzz::{TARGETS, by_name, quiet_panics, run_one, write_starting_corpus};

#[global_allocator]
static ALLOCATOR: CappedAlloc = CappedAlloc;

#[derive(Parser)]
#[command(
    name = "peephole-fuzz",
    about = "Peephole's fuzz targets: list them, write their starting corpus, replay inputs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the targets, one per line: name, then what it checks.
    List,
    /// Write the target's starting corpus (committed inputs and seeds built in code) into a
    /// folder, one file per input, for libFuzzer to start from; prints the
    /// target's limits as one line of JSON.
    Seeds { target: String, dir: PathBuf },
    /// Run saved inputs once each and report what they do.
    Replay {
        target: String,
        inputs: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::List => {
            for target in &TARGETS {
                println!("{}\t{}", target.name, target.about);
            }
            ExitCode::SUCCESS
        }
        Command::Seeds { target, dir } => {
            let Some(target) = by_name(&target) else {
                eprintln!("unknown target {target}; `peephole-fuzz list` shows them");
                return ExitCode::from(2);
            };
            match write_starting_corpus(target, &dir) {
                Ok(count) => {
                    println!(
                        "{}",
                        serde_json::json!({
                            "target": target.name,
                            "seeds": count,
                            "max_len": target.max_len,
                            "timeout_seconds": target.timeout.as_secs_f64(),
                            "allocation_limit": target.allocation_limit,
                        })
                    );
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!(
                        "writing seeds of {} into {}: {error}",
                        target.name,
                        dir.display()
                    );
                    ExitCode::FAILURE
                }
            }
        }
        Command::Replay { target, inputs } => {
            let Some(target) = by_name(&target) else {
                eprintln!("unknown target {target}");
                return ExitCode::from(2);
            };
            guard::set_allocation_limit(target.allocation_limit);
            quiet_panics();
            let mut failed = false;
            for path in inputs {
                let bytes = match std::fs::read(&path) {
                    Ok(bytes) => bytes,
                    Err(error) => {
                        eprintln!("{}: {error}", path.display());
                        failed = true;
                        continue;
                    }
                };
                match run_one(target, &bytes) {
                    Ok(outcome) => println!("{}: ok ({outcome})", path.display()),
                    Err(finding) => {
                        failed = true;
                        println!(
                            "{}: PANIC at {}: {}",
                            path.display(),
                            finding.location,
                            finding.message
                        );
                    }
                }
            }
            if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}

//! `peephole-fuzz`: runs one fuzz target for a while (what `cargo xtask fuzz` calls once per
//! target, so an abort on a huge allocation or a hang loses only that target's run), or
//! replays saved inputs to reproduce a finding.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use peephole_fuzz::guard::{self, CappedAlloc};
use peephole_fuzz::{
    Options, TARGETS, by_name, corpus_dir, fuzz, quiet_panics, run_one, write_starting_corpus,
};

#[global_allocator]
static ALLOCATOR: CappedAlloc = CappedAlloc;

#[derive(Parser)]
#[command(
    name = "peephole-fuzz",
    about = "Fuzz Peephole's input formats (stable Rust, seeded)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the targets, one per line: name, then what it checks.
    List,
    /// Fuzz one target; prints a JSON summary as the last line of stdout.
    Run {
        target: String,
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long)]
        max_execs: Option<u64>,
        /// Where new corpus entries and findings go.
        #[arg(long, default_value = "target/fuzz")]
        work: PathBuf,
    },
    /// Write the target's starting corpus (committed inputs and seeds built in code) into a
    /// folder, one file per input, for another engine (libFuzzer) to start from; prints the
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
        Command::Run {
            target,
            seconds,
            seed,
            max_execs,
            work,
        } => {
            let Some(target) = by_name(&target) else {
                eprintln!("unknown target {target}; `peephole-fuzz list` shows them");
                return ExitCode::from(2);
            };
            let work = work.join(target.name);
            quiet_panics();
            guard::set_crash_dir(work.join("findings"), target.name);
            guard::set_allocation_limit(target.allocation_limit);
            guard::start_watchdog(target.timeout);
            let options = Options {
                duration: Duration::from_secs_f64(seconds),
                max_execs,
                seed,
                corpus: vec![corpus_dir(target), work.join("corpus")],
                work: Some(work),
            };
            let report = fuzz(target, &options);
            println!("{}", report.to_json());
            if report.findings.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
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

//! `cargo xtask fuzz`: runs every fuzz target of `fuzz/` for N seconds each, one process per
//! target (an abort on a huge allocation or a hang then costs only that target's run), with
//! one of two engines over the same target functions:
//! - `driver` (default, stable Rust): `peephole-fuzz`'s seeded mutation loop;
//! - `libfuzzer`: the cargo-fuzz harnesses of `fuzz/libfuzzer` (nightly, coverage-guided,
//!   AddressSanitizer);
//! - `compare`: both, the same seconds each from the same starting corpus, and then the
//!   coverage of each engine's corpus measured by the same instrumented binary.

mod libfuzzer;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, bail};

use crate::cargo::{cargo, root, run as run_command};

/// Which fuzzing engine runs the targets.
#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq, Debug)]
enum Engine {
    /// The stable, seeded mutation driver of `peephole-fuzz`.
    Driver,
    /// libFuzzer through cargo-fuzz (needs the nightly toolchain and `cargo install cargo-fuzz`).
    Libfuzzer,
    /// Both engines for the same time each, then both corpora's coverage side by side.
    Compare,
}

/// Options of `fuzz`.
#[derive(clap::Args)]
pub struct Args {
    /// Seconds per target (per engine with `--engine compare`).
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Only these targets (repeatable); all when absent. `--list` shows them.
    #[arg(long = "target")]
    targets: Vec<String>,
    /// RNG seed; a driver run with the same seed and corpus is repeatable (a time-based one
    /// when absent). libFuzzer takes it as `-seed`.
    #[arg(long)]
    seed: Option<u64>,
    /// Which engine runs the targets.
    #[arg(long, value_enum, default_value_t = Engine::Driver)]
    engine: Engine,
    /// List the targets and exit.
    #[arg(long)]
    list: bool,
}

/// One target's summary line, as `peephole-fuzz run` prints it.
#[derive(serde::Deserialize)]
struct Summary {
    target: String,
    execs: u64,
    seconds: f64,
    outcomes: usize,
    findings: usize,
    largest_allocation: usize,
    details: Vec<Detail>,
}

#[derive(serde::Deserialize)]
struct Detail {
    location: String,
    message: String,
    saved: Option<String>,
}

/// The stable workspace's target folder (where `peephole-fuzz` is built and runs write).
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), Into::into)
}

fn driver_binary() -> PathBuf {
    target_dir().join("debug").join("peephole-fuzz")
}

/// Builds the driver (dev profile: dependencies are built at opt-level 2 already, and
/// overflow checks stay on, which turns silent wrap-arounds into findings) and returns the
/// names of its targets.
fn build_driver() -> anyhow::Result<Vec<(String, String)>> {
    run_command(cargo().args([
        "build",
        "--quiet",
        "--package",
        "peephole-fuzz",
        "--bin",
        "peephole-fuzz",
    ]))?;
    let fuzzer = driver_binary();
    let listing = std::process::Command::new(&fuzzer)
        .arg("list")
        .output()
        .with_context(|| format!("running {}", fuzzer.display()))?;
    Ok(String::from_utf8_lossy(&listing.stdout)
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(name, about)| (name.to_string(), about.to_string()))
        .collect())
}

/// Entry point of `cargo xtask fuzz`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let listing = build_driver()?;
    if args.list {
        for (name, about) in &listing {
            println!("{name}\t{about}");
        }
        return Ok(());
    }
    let all: Vec<String> = listing.into_iter().map(|(name, _)| name).collect();
    for name in &args.targets {
        if !all.contains(name) {
            bail!("--target {name}: unknown (known: {})", all.join(", "));
        }
    }
    let targets = if args.targets.is_empty() {
        all
    } else {
        args.targets.clone()
    };
    if !(args.seconds.is_finite() && args.seconds > 0.0) {
        bail!("--seconds {}: must be a positive number", args.seconds);
    }
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs())
    });
    match args.engine {
        Engine::Driver => run_driver_engine(&targets, args.seconds, seed),
        Engine::Libfuzzer => libfuzzer::run(&targets, args.seconds, seed),
        Engine::Compare => libfuzzer::compare(&targets, args.seconds, seed),
    }
}

/// What one driver run of one target produced.
struct DriverRun {
    summary: Option<Summary>,
    /// A finding or a dead fuzzer, ready to print.
    problems: Vec<String>,
}

/// Runs the driver on one target, writing its corpus and findings under `work/<name>`.
fn run_driver(name: &str, seconds: f64, seed: u64, work: &Path) -> anyhow::Result<DriverRun> {
    let fuzzer = driver_binary();
    let output = std::process::Command::new(&fuzzer)
        .args([
            "run",
            name,
            "--seconds",
            &seconds.to_string(),
            "--seed",
            &seed.to_string(),
            "--work",
        ])
        .arg(work)
        .current_dir(root())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {} run {name}", fuzzer.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary = stdout
        .lines()
        .last()
        .and_then(|line| serde_json::from_str::<Summary>(line).ok());
    let problems = match &summary {
        Some(summary) => summary
            .details
            .iter()
            .map(|detail| {
                let saved = detail.saved.as_deref().unwrap_or("(not saved)");
                format!(
                    "{name}: {} at {}\n    input: {saved}",
                    detail.message, detail.location
                )
            })
            .collect(),
        None => vec![format!(
            "{name}: the fuzzer died ({}); a huge allocation or a hang saves its input under {}",
            output.status,
            work.join(name).join("findings").display()
        )],
    };
    Ok(DriverRun { summary, problems })
}

fn run_driver_engine(targets: &[String], seconds: f64, seed: u64) -> anyhow::Result<()> {
    let work = root().join("target").join("fuzz");
    eprintln!(
        "fuzzing {} target(s) for {seconds}s each, seed {seed}; corpus and findings in {}",
        targets.len(),
        work.display()
    );
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for name in targets {
        eprintln!("  {name} ...");
        let run = run_driver(name, seconds, seed, &work)?;
        problems.extend(run.problems);
        rows.extend(run.summary);
    }
    println!("| target | executions | exec/s | outcome classes | findings | largest allocation |");
    println!("|---|---:|---:|---:|---:|---:|");
    for s in &rows {
        println!(
            "| {} | {} | {:.0} | {} | {} | {:.1} MiB |",
            s.target,
            s.execs,
            s.execs as f64 / s.seconds.max(1e-9),
            s.outcomes,
            s.findings,
            s.largest_allocation as f64 / f64::from(1 << 20)
        );
    }
    report_problems(&problems)
}

/// Fails with every finding listed, or succeeds when there is none.
fn report_problems(problems: &[String]) -> anyhow::Result<()> {
    if problems.is_empty() {
        return Ok(());
    }
    bail!(
        "fuzzing found problems (replay with `cargo run -p peephole-fuzz -- replay TARGET FILE`):\n{}",
        problems.join("\n")
    )
}

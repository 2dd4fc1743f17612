//! `cargo xtask fuzz --seconds N`: runs every fuzz target of `fuzz/` for N seconds each, one
//! process per target (an abort on a huge allocation or a hang then costs only that target's
//! run), and prints executions and findings per target.

use std::process::Stdio;

use anyhow::{Context, bail};

use crate::cargo::{cargo, root, run as run_command};

/// Options of `fuzz`.
#[derive(clap::Args)]
pub struct Args {
    /// Seconds per target.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Only these targets (repeatable); all when absent. `--list` shows them.
    #[arg(long = "target")]
    targets: Vec<String>,
    /// RNG seed; a run with the same seed and corpus is repeatable (a time-based one when absent).
    #[arg(long)]
    seed: Option<u64>,
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

fn binary() -> std::path::PathBuf {
    let target_dir =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), Into::into);
    target_dir.join("debug").join("peephole-fuzz")
}

/// Entry point of `cargo xtask fuzz`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    // The dev profile: dependencies are built at opt-level 2 already, and overflow checks
    // stay on, which turns silent wrap-arounds into findings.
    run_command(cargo().args([
        "build",
        "--quiet",
        "--package",
        "peephole-fuzz",
        "--bin",
        "peephole-fuzz",
    ]))?;
    let fuzzer = binary();
    let listing = std::process::Command::new(&fuzzer)
        .arg("list")
        .output()
        .with_context(|| format!("running {}", fuzzer.display()))?;
    let all: Vec<String> = String::from_utf8_lossy(&listing.stdout)
        .lines()
        .filter_map(|l| l.split('\t').next())
        .map(str::to_string)
        .collect();
    if args.list {
        print!("{}", String::from_utf8_lossy(&listing.stdout));
        return Ok(());
    }
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
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs())
    });
    let work = root().join("target").join("fuzz");
    eprintln!(
        "fuzzing {} target(s) for {}s each, seed {seed}; corpus and findings in {}",
        targets.len(),
        args.seconds,
        work.display()
    );
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for name in &targets {
        eprintln!("  {name} ...");
        let output = std::process::Command::new(&fuzzer)
            .args([
                "run",
                name,
                "--seconds",
                &args.seconds.to_string(),
                "--seed",
                &seed.to_string(),
                "--work",
            ])
            .arg(&work)
            .current_dir(root())
            .stderr(Stdio::inherit())
            .output()
            .with_context(|| format!("running {} run {name}", fuzzer.display()))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        match stdout.lines().last().and_then(|line| serde_json::from_str::<Summary>(line).ok()) {
            Some(summary) => {
                for detail in &summary.details {
                    let saved = detail.saved.as_deref().unwrap_or("(not saved)");
                    problems.push(format!("{name}: {} at {}\n    input: {saved}", detail.message, detail.location));
                }
                rows.push(summary);
            }
            None => problems.push(format!(
                "{name}: the fuzzer died ({}); a huge allocation or a hang saves its input under {}",
                output.status,
                work.join(name).join("findings").display()
            )),
        }
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
    if !problems.is_empty() {
        bail!(
            "fuzzing found problems (replay with `cargo run -p peephole-fuzz -- replay TARGET FILE`):\n{}",
            problems.join("\n")
        );
    }
    Ok(())
}

//! `cargo xtask bench train`: trains the same network for the same number of SGD steps on the
//! same Fashion-MNIST batches with tch (the release `peephole-train`) and with PyTorch (the
//! venv's python), same thread count, in one run, and prints images/s for both and their
//! ratio. The tch side writes the job (resolved layers, batches) for the PyTorch side, so
//! the two cannot drift apart.

use std::process::Command;

use anyhow::{Context, ensure};
use serde::Deserialize;

use super::timing::median;
use crate::cargo::{cargo, root, target_dir};
use crate::process;

/// Options of `bench train`.
#[derive(clap::Args)]
pub struct Args {
    /// The network, in the text form [default: a typical zoo network].
    #[arg(long)]
    network: Option<String>,
    /// Images per step.
    #[arg(long, default_value_t = 128)]
    batch: i64,
    /// Timed steps per repeat.
    #[arg(long, default_value_t = 40)]
    steps: usize,
    /// Timed repeats per backend; the table shows medians.
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    /// Threads of both backends [default: every core].
    #[arg(long)]
    threads: Option<usize>,
}

/// One backend's result line.
#[derive(Deserialize)]
struct Measured {
    backend: String,
    threads: usize,
    images_per_second: Vec<f64>,
}

/// Runs one backend's side and reads the result line it prints last.
fn last_json_line(command: &mut Command, what: &str) -> anyhow::Result<Measured> {
    let stdout = process::read(command)
        .with_context(|| format!("{what} failed"))?
        .stdout;
    let line = stdout
        .lines()
        .last()
        .with_context(|| format!("{what} printed nothing"))?;
    serde_json::from_str(line)
        .with_context(|| format!("{what} printed `{line}`, not a result line"))
}

/// Entry point of `cargo xtask bench train`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    ensure!(
        args.batch > 0 && args.steps > 0 && args.repeats > 0,
        "--batch, --steps and --repeats must be positive"
    );
    let python = root().join(".venv/bin/python");
    ensure!(
        python.exists(),
        "{} is missing: run `cargo xtask setup`",
        python.display()
    );
    process::run(cargo().args([
        "build",
        "--release",
        "--quiet",
        "-p",
        "peephole-train",
        "--bin",
        "peephole-train",
    ]))?;
    let trainer = target_dir().join("release/peephole-train");
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get));
    let dir = root().join("target/bench-train");
    let mut tch = Command::new(&trainer);
    tch.current_dir(root())
        .args([
            "bench-train",
            "--batch",
            &args.batch.to_string(),
            "--steps",
            &args.steps.to_string(),
        ])
        .args([
            "--repeats",
            &args.repeats.to_string(),
            "--threads",
            &threads.to_string(),
            "--export",
        ])
        .arg(&dir);
    if let Some(network) = &args.network {
        tch.args(["--network", network]);
    }
    eprintln!(
        "timing tch ({} steps x {} repeats, batch {}, {threads} threads)...",
        args.steps, args.repeats, args.batch
    );
    let tch = last_json_line(&mut tch, "peephole-train bench-train")?;
    eprintln!("timing PyTorch on the same job...");
    let script = root().join("xtask/scripts/bench_train_torch.py");
    let torch = last_json_line(
        Command::new(&python).arg(&script).arg(&dir),
        "the PyTorch side",
    )?;
    let spec: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("spec.json"))?)?;
    println!(
        "training throughput, same network, batches, optimizer and threads; medians over {} repeats of {} steps",
        args.repeats, args.steps
    );
    println!("network: {}", spec["network"].as_str().unwrap_or("?"));
    println!();
    println!("| backend | threads | images/s (median) | min | max | vs PyTorch |");
    println!("|---|---:|---:|---:|---:|---:|");
    let reference = median(&torch.images_per_second);
    for m in [&tch, &torch] {
        let rates = &m.images_per_second;
        println!(
            "| {} | {} | {:.0} | {:.0} | {:.0} | {:.2}x |",
            m.backend,
            m.threads,
            median(rates),
            rates.iter().copied().fold(f64::INFINITY, f64::min),
            rates.iter().copied().fold(0.0, f64::max),
            median(rates) / reference
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use peephole_ir::{LayerKind, VOCABULARY};

    /// The PyTorch side of `bench train` rebuilds each layer from its kind's name (the IR's
    /// serde name, `max_pool`) with the vocabulary's PyTorch module: a renamed kind or a
    /// changed module would otherwise only fail at benchmark time, on another machine.
    #[test]
    fn the_pytorch_script_builds_every_kind_with_the_vocabularys_module() {
        let path = crate::cargo::root().join("xtask/scripts/bench_train_torch.py");
        let script = std::fs::read_to_string(&path).expect("the PyTorch script reads");
        for row in VOCABULARY {
            let name = serde_json::to_value(row.kind).expect("a kind serializes");
            let name = name.as_str().expect("a kind serializes as a string");
            let branch = format!("kind == \"{name}\":");
            let start = script
                .find(&branch)
                .unwrap_or_else(|| panic!("{} has no branch `{branch}`", path.display()));
            let body: String = script[start + branch.len()..]
                .lines()
                .skip(1)
                .take_while(|line| line.starts_with("            "))
                .collect();
            assert!(
                body.contains(&format!("{}(", row.pytorch)),
                "the `{name}` branch does not build {}: {body}",
                row.pytorch
            );
        }
        assert_eq!(
            script.matches("elif kind == ").count() + script.matches("if kind == ").count()
                - script.matches("elif kind == ").count(),
            LayerKind::ALL.len(),
            "one branch per kind"
        );
    }
}

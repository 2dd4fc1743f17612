//! `cargo xtask zoo-stats`: the paper's Table 2 for a zoo file, and a histogram, to see what
//! the predictor will learn from.

use std::path::PathBuf;

use peephole_core::zoo::read_zoo;

/// Options of `zoo-stats`.
#[derive(clap::Args)]
pub struct Args {
    /// Zoo files (JSON Lines).
    files: Vec<PathBuf>,
    /// Histogram bins over the observed range.
    #[arg(long, default_value_t = 12)]
    bins: usize,
    /// Two zoo files holding the same networks trained with different seeds (the second
    /// written with `--train-seed`): prints the noise ceiling, the agreement between the two
    /// runs on the ids both hold, which bounds what any predictor can reach.
    #[arg(long, num_args = 2, value_names = ["FIRST", "SECOND"])]
    noise_ceiling: Option<Vec<PathBuf>>,
}

/// Entry point of `cargo xtask zoo-stats`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    anyhow::ensure!(!args.files.is_empty(), "give at least one zoo file");
    anyhow::ensure!(args.bins >= 1, "--bins must be at least 1");
    println!("| zoo | size | mean | std | min | max | diverged | mean wall s |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for file in &args.files {
        let contents = read_zoo(file)?;
        for bad in &contents.bad_lines {
            eprintln!("{}: {bad} (skipped)", file.display());
        }
        let finals: Vec<f64> = contents.records.iter().filter_map(|r| r.final_accuracy()).collect();
        let n = finals.len();
        anyhow::ensure!(n > 0, "{}: no records", file.display());
        let mean = finals.iter().sum::<f64>() / n as f64;
        let std = (finals.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
        let min = finals.iter().copied().fold(f64::INFINITY, f64::min);
        let max = finals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let diverged = contents.records.iter().filter(|r| r.diverged).count();
        let wall = contents.records.iter().map(|r| r.wall_seconds).sum::<f64>() / n as f64;
        println!(
            "| {} | {n} | {mean:.4} | {std:.4} | {min:.4} | {max:.4} | {diverged} | {wall:.1} |",
            file.display()
        );
        println!();
        let width = ((max - min) / args.bins as f64).max(1e-9);
        let mut counts = vec![0usize; args.bins];
        for a in &finals {
            let bin = (((a - min) / width) as usize).min(args.bins - 1);
            counts[bin] += 1;
        }
        let peak = counts.iter().copied().max().unwrap_or(1).max(1);
        for (bin, count) in counts.iter().enumerate() {
            let low = min + bin as f64 * width;
            let bar = "#".repeat((count * 50).div_ceil(peak));
            println!("  [{low:.3}, {:.3})  {count:>4}  {bar}", low + width);
        }
        println!();
    }
    if let Some(pair) = &args.noise_ceiling {
        noise_ceiling(&pair[0], &pair[1])?;
    }
    Ok(())
}

/// Kendall tau, Spearman, R^2 and MSE between two training runs of the same networks: the best
/// a predictor of one run can do, since the other run is as good a "prediction" as exists.
fn noise_ceiling(first: &std::path::Path, second: &std::path::Path) -> anyhow::Result<()> {
    let finals = |path: &std::path::Path| -> anyhow::Result<std::collections::HashMap<String, f64>> {
        Ok(read_zoo(path)?.records.iter().filter_map(|r| Some((r.id.clone(), r.final_accuracy()?))).collect())
    };
    let (a, b) = (finals(first)?, finals(second)?);
    let mut ids: Vec<&String> = b.keys().filter(|id| a.contains_key(*id)).collect();
    ids.sort();
    anyhow::ensure!(
        ids.len() >= 3,
        "{} and {} share {} networks; the noise ceiling needs at least 3",
        first.display(),
        second.display(),
        ids.len()
    );
    let x: Vec<f64> = ids.iter().map(|id| a[*id]).collect();
    let y: Vec<f64> = ids.iter().map(|id| b[*id]).collect();
    let report = peephole_core::metrics::evaluate(&x, &y)?;
    println!(
        "noise ceiling ({} vs {}, {} shared networks): Kendall tau {:.3}  Spearman {:.3}  R2 {:.3}  MSE {:.5}",
        first.display(),
        second.display(),
        report.n,
        report.kendall_tau,
        report.spearman,
        report.r2,
        report.mse
    );
    Ok(())
}

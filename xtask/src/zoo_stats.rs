//! `cargo xtask zoo-stats`: the paper's Table 2 per zoo file and per generator, repeated
//! architectures, histograms and the seed-to-seed noise ceiling, to see what the predictor
//! will learn from.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use peephole_zoo::{ZooRecord, read_zoo};

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

/// Summary statistics of final accuracies: the paper's Table 2 columns.
struct Summary {
    n: usize,
    mean: f64,
    std: f64,
    min: f64,
    max: f64,
    diverged: usize,
    wall: f64,
}

fn summarize(records: &[&ZooRecord]) -> Option<Summary> {
    let finals: Vec<f64> = records.iter().filter_map(|r| r.final_accuracy()).collect();
    let n = finals.len();
    if n == 0 {
        return None;
    }
    let mean = finals.iter().sum::<f64>() / n as f64;
    Some(Summary {
        n,
        mean,
        std: (finals.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / n as f64).sqrt(),
        min: finals.iter().copied().fold(f64::INFINITY, f64::min),
        max: finals.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        diverged: records.iter().filter(|r| r.diverged).count(),
        wall: records.iter().map(|r| r.wall_seconds).sum::<f64>() / n as f64,
    })
}

fn table_row(name: &str, records: &[&ZooRecord]) {
    if let Some(s) = summarize(records) {
        println!(
            "| {name} | {} | {:.4} | {:.4} | {:.4} | {:.4} | {} | {:.1} |",
            s.n, s.mean, s.std, s.min, s.max, s.diverged, s.wall
        );
    }
}

fn histogram(name: &str, records: &[&ZooRecord], bins: usize) {
    let finals: Vec<f64> = records.iter().filter_map(|r| r.final_accuracy()).collect();
    let Some(s) = summarize(records) else { return };
    println!("{name}: final accuracy");
    let width = ((s.max - s.min) / bins as f64).max(1e-9);
    let mut counts = vec![0usize; bins];
    for a in &finals {
        let bin = (((a - s.min) / width) as usize).min(bins - 1);
        counts[bin] += 1;
    }
    let peak = counts.iter().copied().max().unwrap_or(1).max(1);
    for (bin, count) in counts.iter().enumerate() {
        let low = s.min + bin as f64 * width;
        let bar = "#".repeat((count * 50).div_ceil(peak));
        println!("  [{low:.3}, {:.3})  {count:>4}  {bar}", low + width);
    }
    println!();
}

/// Entry point of `cargo xtask zoo-stats`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    anyhow::ensure!(!args.files.is_empty(), "give at least one zoo file");
    anyhow::ensure!(args.bins >= 1, "--bins must be at least 1");
    let mut files: Vec<(String, Vec<ZooRecord>)> = Vec::new();
    for file in &args.files {
        let contents = read_zoo(file)?;
        for bad in &contents.bad_lines {
            eprintln!("{}: {bad} (skipped)", file.display());
        }
        anyhow::ensure!(
            !contents.records.is_empty(),
            "{}: no records",
            file.display()
        );
        files.push((file.display().to_string(), contents.records));
    }
    println!("Per file (Table 2 of the paper: final validation accuracy of the zoo)");
    println!();
    println!("| zoo | size | mean | std | min | max | diverged | mean wall s |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (name, records) in &files {
        table_row(name, &records.iter().collect::<Vec<_>>());
    }
    println!();
    // Per generator, over every file: a record is one training run, so a network trained
    // with two seeds counts twice here.
    let mut by_generator: BTreeMap<&str, Vec<&ZooRecord>> = BTreeMap::new();
    for record in files.iter().flat_map(|(_, records)| records) {
        by_generator
            .entry(record.generator.as_str())
            .or_default()
            .push(record);
    }
    println!("Per generator (all files; a network trained with two seeds counts twice)");
    println!();
    println!("| generator | size | mean | std | min | max | diverged | mean wall s |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (generator, records) in &by_generator {
        table_row(generator, records);
    }
    println!();
    repeated_architectures(&files);
    for (generator, records) in &by_generator {
        histogram(generator, records, args.bins);
    }
    if let Some(pair) = &args.noise_ceiling {
        noise_ceiling(&pair[0], &pair[1])?;
    }
    Ok(())
}

/// Architectures drawn more than once: the same text under several ids (a second-seed run
/// keeps its id, so it is not a repeat). Useful as noise data, and a split must keep every
/// copy on one side.
fn repeated_architectures(files: &[(String, Vec<ZooRecord>)]) {
    let mut ids_by_text: BTreeMap<(&str, &str), BTreeSet<&str>> = BTreeMap::new();
    for record in files.iter().flat_map(|(_, records)| records) {
        ids_by_text
            .entry((record.generator.as_str(), record.text.as_str()))
            .or_default()
            .insert(record.id.as_str());
    }
    let mut per_generator: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    for ((generator, _), ids) in &ids_by_text {
        let entry = per_generator.entry(generator).or_default();
        entry.0 += 1;
        if ids.len() > 1 {
            entry.1 += 1;
            entry.2 += ids.len();
        }
    }
    println!("Repeated architectures (the same text under several ids)");
    println!();
    println!("| generator | distinct architectures | drawn more than once | ids they hold |");
    println!("|---|---:|---:|---:|");
    for (generator, (distinct, repeated, ids)) in &per_generator {
        println!("| {generator} | {distinct} | {repeated} | {ids} |");
    }
    println!();
}

/// Kendall tau, Spearman, R^2 and MSE between two training runs of the same networks: the best
/// a predictor of one run can do, since the other run is as good a "prediction" as exists.
fn noise_ceiling(first: &std::path::Path, second: &std::path::Path) -> anyhow::Result<()> {
    let finals =
        |path: &std::path::Path| -> anyhow::Result<std::collections::HashMap<String, f64>> {
            Ok(read_zoo(path)?
                .records
                .iter()
                .filter_map(|r| Some((r.id.clone(), r.final_accuracy()?)))
                .collect())
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
    let report = peephole_metrics::evaluate(&x, &y)?;
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

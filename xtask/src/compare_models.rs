//! `cargo xtask compare-models`: two predictors on the split's **validation** side, per slice
//! (all, generator v1, generator v2, trainable), each one's Kendall tau and MSE with bootstrap
//! intervals and the paired difference, candidate minus incumbent, on the same resamples.
//!
//! This is the tool that chooses (a refit on a grown zoo, a recipe change) without looking at
//! the test side, which `cargo xtask eval` scores once per finished model. The reference set
//! is never read here: it is an evaluation slice only.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, ensure};
use peephole_baselines::features::final_accuracy;
use peephole_eval::inputs::{check_records, read_split, seen_by_card};
use peephole_eval::report::FinalPredictor;
use peephole_eval::slices::{TRAINABLE_THRESHOLD, family};
use peephole_eval::split::{Side, Split, architecture_text};
use peephole_metrics as metrics;
use peephole_metrics::bootstrap::{Bootstrap, Interval, interval, pick};
use peephole_predictor::{ModelCard, Predictor};
use peephole_zoo::ZooRecord;

use crate::cargo;
use crate::eval::{read_files, split_path};

/// Options of `compare-models`.
#[derive(clap::Args)]
pub struct Args {
    /// Zoo files (JSON Lines); their validation-side networks are scored.
    #[arg(long, num_args = 1.., required = true, value_name = "FILE")]
    zoo: Vec<PathBuf>,
    /// The frozen split [default: data/splits/eval-v2.json in the workspace].
    #[arg(long, value_name = "FILE")]
    split: Option<PathBuf>,
    /// The incumbent model (ONNX with its card), e.g. the embedded default's file.
    #[arg(long, value_name = "FILE")]
    incumbent: PathBuf,
    /// The candidate model.
    #[arg(long, value_name = "FILE")]
    candidate: PathBuf,
    /// Bootstrap resamples of the scored networks, per slice.
    #[arg(long, default_value_t = 2000)]
    resamples: usize,
    /// Seed of the bootstrap draws.
    #[arg(long, default_value_t = 0)]
    bootstrap_seed: u64,
}

/// A validation slice: which scored networks it holds.
#[derive(Clone, Copy)]
enum ValidationSlice {
    All,
    GeneratorV1,
    GeneratorV2,
    Trainable,
}

impl ValidationSlice {
    const ALL: [ValidationSlice; 4] = [
        ValidationSlice::All,
        ValidationSlice::GeneratorV1,
        ValidationSlice::GeneratorV2,
        ValidationSlice::Trainable,
    ];

    fn label(self) -> String {
        match self {
            ValidationSlice::All => "all".into(),
            ValidationSlice::GeneratorV1 => "generator v1".into(),
            ValidationSlice::GeneratorV2 => "generator v2".into(),
            ValidationSlice::Trainable => format!("trainable (real >= {TRAINABLE_THRESHOLD})"),
        }
    }

    fn contains(self, generator: &str, actual: f64) -> bool {
        match self {
            ValidationSlice::All => true,
            ValidationSlice::GeneratorV1 => family(generator) == Some("generator-v1"),
            ValidationSlice::GeneratorV2 => family(generator) == Some("generator-v2"),
            ValidationSlice::Trainable => actual >= TRAINABLE_THRESHOLD,
        }
    }
}

/// One slice's numbers.
struct SliceComparison {
    n: usize,
    tau: [f64; 2],
    tau_intervals: [Option<Interval>; 2],
    tau_difference: Option<Interval>,
    mse: [f64; 2],
    mse_difference: Option<Interval>,
}

fn tau(predicted: &[f64], actual: &[f64]) -> Option<f64> {
    metrics::kendall_tau_b(predicted, actual).ok()
}

fn mse(predicted: &[f64], actual: &[f64]) -> Option<f64> {
    metrics::mse(predicted, actual).ok()
}

/// Both models' tau and MSE on the networks of one slice, and the paired differences.
fn compare_slice(
    predictions: [&[f64]; 2],
    actual: &[f64],
    bootstrap: Bootstrap,
) -> SliceComparison {
    let draws = bootstrap.draws(actual.len());
    let on = |draw: &[usize], model: usize, metric: fn(&[f64], &[f64]) -> Option<f64>| {
        metric(&pick(predictions[model], draw), &pick(actual, draw))
    };
    let difference = |metric: fn(&[f64], &[f64]) -> Option<f64>| {
        interval(&draws, |draw| {
            Some(on(draw, 1, metric)? - on(draw, 0, metric)?)
        })
    };
    SliceComparison {
        n: actual.len(),
        tau: [0, 1].map(|m| tau(predictions[m], actual).unwrap_or(f64::NAN)),
        tau_intervals: [0, 1].map(|m| interval(&draws, |draw| on(draw, m, tau))),
        tau_difference: difference(tau),
        mse: [0, 1].map(|m| mse(predictions[m], actual).unwrap_or(f64::NAN)),
        mse_difference: difference(mse),
    }
}

/// `[low, high]` with `digits` decimals, signs shown for differences.
fn bracket(interval: Option<Interval>, signed: bool, digits: usize) -> String {
    match interval {
        Some(i) if signed => format!("[{:+.digits$}, {:+.digits$}]", i.low, i.high),
        Some(i) => format!("[{:.digits$}, {:.digits$}]", i.low, i.high),
        None => "[undefined]".into(),
    }
}

fn verdict(interval: Option<Interval>, higher_is_better: bool) -> &'static str {
    match interval {
        Some(i) if i.low <= 0.0 && i.high >= 0.0 => "tie",
        Some(i) if (i.low > 0.0) == higher_is_better => "candidate better",
        Some(_) => "incumbent better",
        None => "undefined",
    }
}

fn load(path: &Path) -> anyhow::Result<Predictor> {
    Predictor::from_path(path).with_context(|| format!("loading model {}", path.display()))
}

/// Entry point of `cargo xtask compare-models`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let models = [load(&args.incumbent)?, load(&args.candidate)?];
    let cards = [models[0].card(), models[1].card()];
    ensure!(
        cards[0].protocol == cards[1].protocol && cards[0].epochs == cards[1].epochs,
        "the models answer different questions: {} predicts epoch {} of {}, {} epoch {} of {}",
        cards[0].name,
        cards[0].epochs,
        cards[0].protocol,
        cards[1].name,
        cards[1].epochs,
        cards[1].protocol
    );
    let sources = read_files(&args.zoo)?;
    let records = check_records(cards[0], &sources)?;
    let split_path = split_path(args.split.as_ref());
    let split = read_split(&split_path, &records)?;
    let (scored, left_out) = unseen_validation_networks(&cards, &split, &records)?;
    ensure!(
        !scored.is_empty(),
        "no validation-side network of {} is unseen by both models",
        split_path.display()
    );
    let epochs = cards[0].epochs as usize;
    let actual: Vec<f64> = scored
        .iter()
        .map(|r| final_accuracy(r, epochs))
        .collect::<Result<_, _>>()?;
    let predicted: Vec<Vec<f64>> = models
        .iter()
        .map(|model| {
            Ok(FinalPredictor::predict_final(model, &scored)?
                .into_iter()
                .map(|p| p.mean)
                .collect())
        })
        .collect::<anyhow::Result<_>>()?;
    let bootstrap = Bootstrap {
        resamples: args.resamples,
        seed: args.bootstrap_seed,
    };
    println!(
        "Validation side of {}: {} networks scored ({left_out} left out: fitted on by a model without a split file). \
         Incumbent {} ({}), candidate {} ({}); {} resamples, seed {}.",
        split_path.display(),
        scored.len(),
        cards[0].name,
        args.incumbent.display(),
        cards[1].name,
        args.candidate.display(),
        bootstrap.resamples,
        bootstrap.seed
    );
    println!();
    print_table(&scored, &actual, &predicted, bootstrap);
    Ok(())
}

/// The split's validation-side networks that neither model fitted on, and how many were left
/// out. A model fitted under a frozen split fitted on its train side only (validation stopped
/// the fit early, which is what a validation side is for). A model fitted on a seeded random
/// split may have fitted on any network it did not hold out: those are left out for both
/// models.
fn unseen_validation_networks<'a>(
    cards: &[&ModelCard; 2],
    split: &Split,
    records: &[&'a ZooRecord],
) -> anyhow::Result<(Vec<&'a ZooRecord>, usize)> {
    let mut seen: HashSet<String> = HashSet::new();
    for card in cards.iter().filter(|card| card.split.file.is_none()) {
        seen.extend(seen_by_card(card, &cargo::root())?.architectures);
    }
    let mut scored: Vec<&ZooRecord> = Vec::new();
    let mut left_out = 0usize;
    for &record in records {
        if split.side_of(record) != Some(Side::Validation) {
            continue;
        }
        if seen.contains(&architecture_text(record)) {
            left_out += 1;
        } else {
            scored.push(record);
        }
    }
    Ok((scored, left_out))
}

/// One row per validation slice: both models' tau and MSE and the paired differences.
fn print_table(
    scored: &[&ZooRecord],
    actual: &[f64],
    predicted: &[Vec<f64>],
    bootstrap: Bootstrap,
) {
    println!(
        "| validation slice | n | tau, incumbent [95%] | tau, candidate [95%] | candidate - incumbent [95%] | MSE, incumbent | MSE, candidate | MSE difference [95%] |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for slice in ValidationSlice::ALL {
        let members: Vec<usize> = (0..scored.len())
            .filter(|&k| slice.contains(&scored[k].generator, actual[k]))
            .collect();
        if members.len() < 2 {
            println!("| {} | {} | | | | | | |", slice.label(), members.len());
            continue;
        }
        let slice_actual = pick(actual, &members);
        let slice_predicted = [pick(&predicted[0], &members), pick(&predicted[1], &members)];
        let c = compare_slice(
            [&slice_predicted[0], &slice_predicted[1]],
            &slice_actual,
            bootstrap,
        );
        println!(
            "| {} | {} | {:.3} {} | {:.3} {} | {:+.3} {} ({}) | {:.5} | {:.5} | {} ({}) |",
            slice.label(),
            c.n,
            c.tau[0],
            bracket(c.tau_intervals[0], false, 3),
            c.tau[1],
            bracket(c.tau_intervals[1], false, 3),
            c.tau[1] - c.tau[0],
            bracket(c.tau_difference, true, 3),
            verdict(c.tau_difference, true),
            c.mse[0],
            c.mse[1],
            bracket(c.mse_difference, true, 5),
            verdict(c.mse_difference, false)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_candidate_that_ranks_perfectly_beats_one_that_ranks_backwards() {
        let actual: Vec<f64> = (0..40).map(|i| f64::from(i) / 40.0).collect();
        let backwards: Vec<f64> = actual.iter().rev().copied().collect();
        let c = compare_slice(
            [&backwards, &actual],
            &actual,
            Bootstrap {
                resamples: 200,
                seed: 1,
            },
        );
        assert!((c.tau[0] + 1.0).abs() < 1e-12 && (c.tau[1] - 1.0).abs() < 1e-12);
        assert_eq!(verdict(c.tau_difference, true), "candidate better");
        assert_eq!(verdict(c.mse_difference, false), "candidate better");
        assert_eq!(c.n, 40);
    }

    #[test]
    fn identical_models_tie() {
        let actual: Vec<f64> = (0..30).map(|i| f64::from(i * 7 % 30) / 30.0).collect();
        let predicted: Vec<f64> = (0..30).map(|i| f64::from(i) / 30.0).collect();
        let c = compare_slice(
            [&predicted, &predicted],
            &actual,
            Bootstrap {
                resamples: 100,
                seed: 2,
            },
        );
        assert_eq!(verdict(c.tau_difference, true), "tie");
        assert_eq!(c.tau[0], c.tau[1]);
    }

    #[test]
    fn slices_follow_the_generator_family_and_the_trainable_threshold() {
        assert!(ValidationSlice::GeneratorV1.contains("generator-v1/fmnist-v1", 0.1));
        assert!(!ValidationSlice::GeneratorV1.contains("generator-v2", 0.9));
        assert!(ValidationSlice::GeneratorV2.contains("generator-v2", 0.1));
        assert!(!ValidationSlice::GeneratorV2.contains("generator-v20", 0.1));
        assert!(ValidationSlice::Trainable.contains("generator-v2", TRAINABLE_THRESHOLD));
        assert!(!ValidationSlice::Trainable.contains("generator-v1", 0.2));
        assert!(ValidationSlice::All.contains("anything", 0.0));
    }
}

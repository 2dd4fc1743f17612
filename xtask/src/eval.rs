//! `cargo xtask eval`: evaluation protocol v2. Peephole against the baselines of
//! `peephole_baselines`, per slice (generator v1, generator v2, the reference set, the
//! trainable networks), on the test side of the frozen split `data/splits/eval-v2.json`, with
//! seeded bootstrap intervals.
//!
//! The baselines are fitted on the split's train side (the trees choose their setting on its
//! validation side); the reference set is never fitted on. A model card lists the zoo files a
//! model was fitted on and the networks it held out: every other network of those files was
//! seen by the model, and every scored network with the same architecture is excluded from all
//! methods' scores (so all rows of a slice are on the same networks). Writes `eval.json` (every
//! number, every per-network prediction) and `scatter.png` with `scatter.svg` (predicted against real, scored
//! networks of every slice, one panel per method).
//!
//! The evaluation itself is `peephole_eval`'s (`inputs`, `report`, `markdown`); this module
//! reads the command line, writes the files and draws the figures ([`plot`]).

pub mod plot;

use std::path::PathBuf;

use anyhow::{Context, bail};
use peephole_baselines::BaselineOptions;
use peephole_eval::chance::{ChanceOptions, Run, chance_markdown, evaluate_chance};
use peephole_eval::inputs::{self, ZooFile, check_records, read_split, second_runs, seen_by_card};
use peephole_eval::markdown::markdown;
use peephole_eval::report::{FinalPredictor, Inputs, PEEPHOLE_ID, evaluate};
use peephole_eval::split::DEFAULT_SPLIT;
use peephole_ir::protocol::Protocol;
use peephole_metrics::bootstrap::Bootstrap;
use peephole_predictor::{ModelCard, Predictor};

use crate::cargo;

/// Options of `eval`.
#[derive(clap::Args)]
pub struct Args {
    /// Zoo files (JSON Lines), one training run per network: the split's train side fits the
    /// baselines, its validation side chooses the trees' setting, its test side and the
    /// reference set are scored.
    #[arg(long, num_args = 1.., required = true, value_name = "FILE")]
    zoo: Vec<PathBuf>,
    /// Zoo files of the same networks (same ids) trained with a second seed: seed-to-seed
    /// agreement per slice, and every method scored against the mean of the two runs.
    #[arg(long, num_args = 1.., value_name = "FILE")]
    second_seed: Vec<PathBuf>,
    /// The frozen split [default: data/splits/eval-v2.json in the workspace].
    #[arg(long, value_name = "FILE")]
    split: Option<PathBuf>,
    /// Predictor model (ONNX, its model card inside).
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "card",
        required_unless_present = "card"
    )]
    model: Option<PathBuf>,
    /// A model card (JSON, written beside a model as NAME.card.json) instead of a model:
    /// evaluates the baselines alone, on the networks that model did not see.
    #[arg(long, value_name = "FILE")]
    card: Option<PathBuf>,
    /// Where eval.json and scatter.png go [default: target/eval in the workspace].
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
    /// Cross-validation folds that choose the nu-SVR's and the ridge's hyper-parameters.
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// Seed of the fold assignment and of the trees.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Bootstrap resamples of the scored networks, per slice.
    #[arg(long, default_value_t = 2000)]
    resamples: usize,
    /// Seed of the bootstrap draws.
    #[arg(long, default_value_t = 0)]
    bootstrap_seed: u64,
}

/// Entry point of `cargo xtask eval`.
/// Entry point of `cargo xtask eval`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let (model_name, card, predictor) = load(args)?;
    let sources = read_files(&args.zoo)?;
    let second = read_files(&args.second_seed)?;
    let records = check_records(&card, &sources)?;
    let second_runs = second_runs(&card, &second, &records)?;
    let split_path = split_path(args.split.as_ref());
    let split = read_split(&split_path, &records)?;
    let seen = seen_by_card(&card, &cargo::root())?;
    let mut options = BaselineOptions::for_epochs(card.epochs as usize);
    options.folds = args.folds;
    options.seed = args.seed;
    let inputs = Inputs {
        records: &records,
        second_runs: &second_runs,
        split: &split,
        seen: &seen,
        options: &options,
        bootstrap: Bootstrap {
            resamples: args.resamples,
            seed: args.bootstrap_seed,
        },
    };
    let evaluation = evaluate(&card, predictor.as_deref(), &inputs)?;
    let mut report = evaluation.report;
    report.model = model_name;
    report.zoo = sources.iter().map(|file| file.path.clone()).collect();
    report.second_seed = second.iter().map(|file| file.path.clone()).collect();
    // Relative to the workspace when inside it, so the committed output reads the same anywhere.
    report.split_file = split_path
        .strip_prefix(cargo::root())
        .unwrap_or(&split_path)
        .display()
        .to_string();
    print!("{}", markdown(&report));
    let chance = chance_report(args, &card, &records, &second, &split, &seen, &report)?;
    if let Some(chance) = &chance {
        print!("\n{}", chance_markdown(chance));
    }
    let out_dir = args
        .out_dir
        .clone()
        .unwrap_or_else(|| cargo::root().join("target/eval"));
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let json_path = out_dir.join("eval.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&report)? + "\n")
        .with_context(|| format!("writing {}", json_path.display()))?;
    let png_path = out_dir.join("scatter.png");
    let png = plot::scatter_png(&evaluation.plot, &evaluation.series)?;
    std::fs::write(&png_path, png).with_context(|| format!("writing {}", png_path.display()))?;
    if let Some(chance) = &chance {
        let chance_path = out_dir.join("chance.json");
        std::fs::write(&chance_path, serde_json::to_string_pretty(chance)? + "\n")
            .with_context(|| format!("writing {}", chance_path.display()))?;
    }
    let svg_path = out_dir.join("scatter.svg");
    let svg = plot::scatter_svg(&evaluation.plot, &evaluation.series)?;
    std::fs::write(&svg_path, svg).with_context(|| format!("writing {}", svg_path.display()))?;
    println!();
    println!(
        "wrote {}, {} and {}",
        json_path.display(),
        png_path.display(),
        svg_path.display()
    );
    Ok(())
}

/// The split file given, or the committed one.
pub fn split_path(given: Option<&PathBuf>) -> PathBuf {
    given
        .cloned()
        .unwrap_or_else(|| cargo::root().join(DEFAULT_SPLIT))
}

/// Every zoo file's records, by path; bad lines are reported and skipped.
pub fn read_files(paths: &[PathBuf]) -> anyhow::Result<Vec<ZooFile>> {
    let files = inputs::read_files(paths)?;
    for file in &files {
        for bad in &file.bad_lines {
            eprintln!("{}: {bad} (skipped)", file.path);
        }
    }
    Ok(files)
}

type Loaded = (Option<String>, ModelCard, Option<Box<dyn FinalPredictor>>);

/// The model and its card, or a card alone.
fn load(args: &Args) -> anyhow::Result<Loaded> {
    if let Some(path) = &args.model {
        let predictor = Predictor::from_path(path)?;
        let card = predictor.card().clone();
        return Ok((
            Some(path.display().to_string()),
            card,
            Some(Box::new(predictor)),
        ));
    }
    let Some(path) = &args.card else {
        bail!("give --model FILE (or --card FILE for the baselines alone)");
    };
    Ok((None, ModelCard::read(path)?, None))
}

/// "Will it train at all?" for the same networks: every run of the zoo files (first and second
/// seeds, each its own label) on its side of the split, the model's architectures excluded
/// from the scored sides, with the model's predicted accuracy as a ranking when a model is
/// evaluated. `None` for a protocol this build does not know (no chance level to read).
fn chance_report(
    args: &Args,
    card: &ModelCard,
    records: &[&peephole_zoo::ZooRecord],
    second: &[ZooFile],
    split: &peephole_eval::split::Split,
    seen: &inputs::Seen,
    report: &peephole_eval::report::Report,
) -> anyhow::Result<Option<peephole_eval::chance::ChanceReport>> {
    let Some(protocol) = Protocol::by_name(&card.protocol) else {
        return Ok(None);
    };
    let runs: Vec<Run> = records
        .iter()
        .copied()
        .chain(second.iter().flat_map(|file| &file.records))
        .filter_map(|record| {
            let side = split.side_of(record)?;
            let scored = matches!(
                side,
                peephole_eval::split::Side::Test | peephole_eval::split::Side::Evaluation
            );
            let seen_by_model = seen
                .architectures
                .contains(&peephole_eval::split::architecture_text(record));
            (!(scored && seen_by_model)).then_some(Run { record, side })
        })
        .collect();
    let predicted: std::collections::HashMap<String, f64> = report
        .networks
        .iter()
        .filter_map(|n| Some((n.id.clone(), *n.predictions.get(PEEPHOLE_ID)?)))
        .collect();
    let ranker = (!predicted.is_empty()).then_some((card.name.as_str(), &predicted));
    let options = ChanceOptions {
        epochs: card.epochs as usize,
        folds: args.folds,
        seed: args.seed,
        bootstrap: Bootstrap {
            resamples: args.resamples,
            seed: args.bootstrap_seed,
        },
    };
    Ok(Some(evaluate_chance(&runs, &protocol, ranker, options)?))
}

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

pub mod plot;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail, ensure};
use peephole_baselines::gbt::GbtSelection;
use peephole_baselines::{
    BaselineOptions, FittedBaselines, Method, RidgeSelection, Scale, SvrSelection, features,
};
use peephole_eval::slices::Slice;
use peephole_eval::split::{Side, Split, architecture_text};
use peephole_metrics as metrics;
use peephole_metrics::bootstrap::{Bootstrap, Interval, interval, pick};
use peephole_predictor::verdict::DEFAULT_THRESHOLD_PERCENTILE;
use peephole_predictor::{ModelCard, Predictor};
use peephole_zoo::{ZooRecord, read_zoo, read_zoo_from};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cargo;

/// The committed split, relative to the workspace root.
pub const DEFAULT_SPLIT: &str = "data/splits/eval-v2.json";

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
pub fn run(args: &Args) -> anyhow::Result<()> {
    let (model_name, card, predictor) = load(args)?;
    let sources = read_files(&args.zoo)?;
    let second = read_files(&args.second_seed)?;
    let records = check_records(&card, &sources)?;
    let second_runs = second_runs(&card, &second, &records)?;
    let (split, split_path) = read_split(args.split.as_deref(), &records)?;
    let seen = seen_by_card(&card, &cargo::root())?;
    let mut options = BaselineOptions::for_epochs(card.epochs as usize);
    options.folds = args.folds;
    options.seed = args.seed;
    let bootstrap = Bootstrap {
        resamples: args.resamples,
        seed: args.bootstrap_seed,
    };
    let inputs = Inputs {
        records: &records,
        second_runs: &second_runs,
        split: &split,
        seen: &seen,
        options: &options,
        bootstrap,
    };
    let evaluation = evaluate(&card, predictor.as_deref(), &inputs)?;
    let mut report = evaluation.report;
    report.model = model_name;
    report.zoo = sources.iter().map(|(path, _)| path.clone()).collect();
    report.second_seed = second.iter().map(|(path, _)| path.clone()).collect();
    // Relative to the workspace when inside it, so the committed output reads the same anywhere.
    report.split_file = split_path
        .strip_prefix(cargo::root())
        .unwrap_or(&split_path)
        .display()
        .to_string();
    print!("{}", markdown(&report));
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

/// The split file at `path` (the committed one when `None`), checked against `records`: every
/// record's architecture must be in it, on the side the rule gives. Returns it and its path.
pub fn read_split(path: Option<&Path>, records: &[&ZooRecord]) -> anyhow::Result<(Split, PathBuf)> {
    let split_path = path.map_or_else(|| cargo::root().join(DEFAULT_SPLIT), Path::to_path_buf);
    let split_text = std::fs::read_to_string(&split_path)
        .with_context(|| format!("reading split file {}", split_path.display()))?;
    let split = Split::from_json(&split_text)
        .with_context(|| format!("split file {}", split_path.display()))?;
    split
        .check(records)
        .with_context(|| format!("the zoo files against split file {}", split_path.display()))?;
    Ok((split, split_path))
}

/// Every zoo file's records, by path; bad lines are reported and skipped.
pub fn read_files(paths: &[PathBuf]) -> anyhow::Result<Vec<(String, Vec<ZooRecord>)>> {
    paths
        .iter()
        .map(|path| {
            let contents = read_zoo(path)?;
            for bad in &contents.bad_lines {
                eprintln!("{}: {bad} (skipped)", path.display());
            }
            Ok((path.display().to_string(), contents.records))
        })
        .collect()
}

/// What `eval` needs from the model under evaluation, so that the comparison (and its tests)
/// does not depend on a model file.
pub trait FinalPredictor {
    /// Predicted accuracy at the card's last epoch for each network, in order.
    fn predict_final(&self, networks: &[&ZooRecord]) -> anyhow::Result<Vec<FinalPrediction>>;
}

/// One final-accuracy prediction of the model under evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct FinalPrediction {
    /// The ensemble's mean: the number that is scored.
    pub mean: f64,
    /// How much the ensemble's members disagree (kept per network in eval.json).
    pub spread: f64,
    /// Why the model trusts this input less (codes or lengths it never saw in training).
    pub notes: Vec<String>,
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

impl FinalPredictor for Predictor {
    fn predict_final(&self, networks: &[&ZooRecord]) -> anyhow::Result<Vec<FinalPrediction>> {
        let epochs = self.card().epochs;
        // Networks, not their codes: a format-v2 model also reads each layer's features.
        let items: Vec<(&peephole_ir::Network, u32)> = networks
            .iter()
            .map(|record| (&record.network, epochs))
            .collect();
        let predictions = self.predict_networks(&items)?;
        Ok(predictions
            .into_iter()
            .map(|p| FinalPrediction {
                mean: p.mean,
                spread: p.spread,
                notes: p.notes.iter().map(ToString::to_string).collect(),
            })
            .collect())
    }
}

/// Every record of the zoo files, after refusing records of another protocol or ULC version
/// (their accuracies answer a different question) and ids that occur twice.
pub fn check_records<'a>(
    card: &ModelCard,
    sources: &'a [(String, Vec<ZooRecord>)],
) -> anyhow::Result<Vec<&'a ZooRecord>> {
    let mut seen: HashMap<&str, &str> = HashMap::new();
    let mut records = Vec::new();
    for (file, file_records) in sources {
        for record in file_records {
            ensure!(
                record.protocol == card.protocol,
                "{file}: network {} was trained under protocol {}, but model {} predicts {}",
                record.id,
                record.protocol,
                card.name,
                card.protocol
            );
            ensure!(
                record.ulc_version == card.ulc_version,
                "{file}: network {} is encoded with {}, but model {} reads {}",
                record.id,
                record.ulc_version,
                card.name,
                card.ulc_version
            );
            if let Some(other) = seen.insert(&record.id, file) {
                bail!(
                    "network {} occurs twice (in {other} and in {file}); give each zoo file once, \
                     and a second seed's file with --second-seed",
                    record.id
                );
            }
            records.push(record);
        }
    }
    Ok(records)
}

/// The second run's final accuracy per id; a second run of a network the first files lack, or
/// of another architecture, is an error (it would pair unrelated numbers).
fn second_runs(
    card: &ModelCard,
    second: &[(String, Vec<ZooRecord>)],
    records: &[&ZooRecord],
) -> anyhow::Result<HashMap<String, f64>> {
    let first: HashMap<&str, &ZooRecord> = records.iter().map(|r| (r.id.as_str(), *r)).collect();
    let mut runs = HashMap::new();
    for record in check_records(card, second)? {
        let Some(original) = first.get(record.id.as_str()) else {
            bail!(
                "second-seed network {} is in none of the --zoo files",
                record.id
            );
        };
        ensure!(
            original.text == record.text,
            "second-seed network {} has another architecture than the first run",
            record.id
        );
        let accuracy = features::final_accuracy(record, card.epochs as usize)
            .with_context(|| format!("second-seed network {}", record.id))?;
        runs.insert(record.id.clone(), accuracy);
    }
    Ok(runs)
}

/// Architectures the model saw while fitting or validating: every network of the zoo files its
/// card lists (exactly the bytes it read: the card's size and SHA-256 are checked on that
/// prefix, so a grown file still counts) except the card's held-out ids.
pub fn seen_by_card(card: &ModelCard, root: &Path) -> anyhow::Result<Seen> {
    // Held out: the test side, and networks the fit left out (reference twins).
    let held_out: HashSet<&str> = card
        .split
        .test_ids
        .iter()
        .chain(&card.split.left_out_ids)
        .map(String::as_str)
        .collect();
    let mut seen = Seen::default();
    for file in &card.zoo {
        let path = root.join(&file.path);
        let bytes = std::fs::read(&path).with_context(|| {
            format!(
                "reading {} (model card {} was fitted on it)",
                path.display(),
                card.name
            )
        })?;
        let length = usize::try_from(file.bytes).unwrap_or(usize::MAX);
        ensure!(
            bytes.len() >= length,
            "{} has {} bytes, fewer than the {} model card {} read",
            path.display(),
            bytes.len(),
            file.bytes,
            card.name
        );
        let prefix = &bytes[..length];
        let digest: String = Sha256::digest(prefix)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        ensure!(
            digest == file.sha256,
            "the first {} bytes of {} are not what model card {} was fitted on (SHA-256 differs)",
            file.bytes,
            path.display(),
            card.name
        );
        let contents =
            read_zoo_from(prefix).with_context(|| format!("parsing {}", path.display()))?;
        for record in contents.records {
            if !held_out.contains(record.id.as_str()) {
                seen.architectures.insert(architecture_text(&record));
                seen.networks += 1;
            }
        }
    }
    Ok(seen)
}

/// What a model saw.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// Architecture texts ([`architecture_text`]).
    pub architectures: HashSet<String>,
    /// Networks (records) behind them.
    pub networks: usize,
}

/// Everything `evaluate` reads besides the model.
pub struct Inputs<'a> {
    /// Every first-run record of the zoo files.
    pub records: &'a [&'a ZooRecord],
    /// Final accuracy of a second training run, by id.
    pub second_runs: &'a HashMap<String, f64>,
    /// The frozen split.
    pub split: &'a Split,
    /// What the model saw (excluded from every score).
    pub seen: &'a Seen,
    /// How the baselines are fitted.
    pub options: &'a BaselineOptions,
    /// How networks are resampled.
    pub bootstrap: Bootstrap,
}

/// A number and its bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// On the slice's networks.
    pub value: f64,
    /// 95% percentile interval over the resamples (absent when undefined on all).
    pub interval: Option<Interval>,
}

/// One method's numbers on one slice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MethodResult {
    /// Stable id: `peephole` or a [`Method::id`].
    pub id: String,
    /// Name for tables.
    pub label: String,
    /// Whether the output is an accuracy or only a ranking score.
    pub scale: Scale,
    /// Whether the method reads part of each network's learning curve (needs training).
    pub uses_curve: bool,
    /// Mean squared error against the real final accuracy.
    pub mse: Option<Estimate>,
    /// Kendall's tau-b.
    pub kendall_tau: Option<Estimate>,
    /// Spearman's rho.
    pub spearman: Option<Estimate>,
    /// Coefficient of determination.
    pub r2: Option<Estimate>,
    /// Kendall tau against the mean of two training runs, on the slice's networks that have a
    /// second run.
    pub kendall_tau_vs_mean_of_runs: Option<f64>,
    /// Networks scored.
    pub n: usize,
    /// Why a metric is missing.
    pub notes: Vec<String>,
}

/// Peephole's tau minus a baseline's, on the same resamples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Difference {
    /// The baseline (the best by tau on the slice among those compared).
    pub baseline: String,
    /// The difference on the slice.
    pub value: f64,
    /// Its 95% interval.
    pub interval: Option<Interval>,
}

/// Agreement of two training runs of the same networks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedAgreement {
    /// Networks with both runs.
    pub n: usize,
    /// Kendall tau between the two runs' final accuracies.
    pub kendall_tau: Option<f64>,
}

/// One slice's table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SliceReport {
    /// [`Slice::id`].
    pub id: String,
    /// [`Slice::label`].
    pub label: String,
    /// Networks scored.
    pub n: usize,
    /// Networks of the slice left out because the model saw their architecture.
    pub excluded_seen: usize,
    /// One row per method.
    pub methods: Vec<MethodResult>,
    /// Peephole's tau minus the best architecture-only baseline's.
    pub peephole_minus_best_architecture_only: Option<Difference>,
    /// Peephole's tau minus the best baseline's, those that watch training included.
    pub peephole_minus_best_any: Option<Difference>,
    /// Seed-to-seed agreement on the slice, where a second run covers it.
    pub seed_agreement: Option<SeedAgreement>,
    /// The lint's default threshold read as a classifier of Peephole's predictions on the
    /// slice (absent without a model, or when its card has no zoo percentiles).
    pub threshold: Option<ThresholdReport>,
}

/// The lint's default verdict as a classifier: a network is flagged when its predicted
/// accuracy is below the accuracy at the card's [`DEFAULT_THRESHOLD_PERCENTILE`]th zoo
/// percentile, and truly poor when its real final accuracy is. What a user meets is a warning
/// or none, so this is the number that says how often the lint is right.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdReport {
    /// The zoo percentile the lint warns below by default.
    pub percentile: f64,
    /// That percentile as an accuracy, from the card.
    pub accuracy: f64,
    /// Networks of the slice whose real accuracy is below it.
    pub truly_poor: usize,
    /// Networks the lint would warn about.
    pub flagged: usize,
    /// Share of the truly poor networks flagged (undefined without truly poor networks).
    pub recall: Option<Estimate>,
    /// Share of the networks that are not truly poor that are flagged anyway.
    pub false_alarm_rate: Option<Estimate>,
    /// Share of the warnings that are wrong (flagged but not truly poor).
    pub wrong_warnings: Option<f64>,
}

/// [`ThresholdReport`] of predictions against real accuracies, intervals on `draws`.
fn threshold_report(
    predicted: &[f64],
    real: &[f64],
    accuracy: f64,
    draws: &[Vec<usize>],
) -> ThresholdReport {
    // (flagged, truly poor) per network.
    let labels: Vec<(bool, bool)> = predicted
        .iter()
        .zip(real)
        .map(|(&p, &a)| (p < accuracy, a < accuracy))
        .collect();
    let share = |picked: &mut dyn Iterator<Item = usize>, of_poor: bool| -> Option<f64> {
        let (mut hits, mut total) = (0usize, 0usize);
        for i in picked {
            let (flagged, poor) = labels[i];
            if poor == of_poor {
                total += 1;
                hits += usize::from(flagged);
            }
        }
        (total > 0).then(|| hits as f64 / total as f64)
    };
    let estimate = |of_poor: bool| {
        share(&mut (0..labels.len()), of_poor).map(|value| Estimate {
            value,
            interval: interval(draws, |d| share(&mut d.iter().copied(), of_poor)),
        })
    };
    let flagged = labels.iter().filter(|l| l.0).count();
    ThresholdReport {
        percentile: DEFAULT_THRESHOLD_PERCENTILE,
        accuracy,
        truly_poor: labels.iter().filter(|l| l.1).count(),
        flagged,
        recall: estimate(true),
        false_alarm_rate: estimate(false),
        wrong_warnings: (flagged > 0)
            .then(|| labels.iter().filter(|l| l.0 && !l.1).count() as f64 / flagged as f64),
    }
}

/// One scored network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkResult {
    /// Zoo id.
    pub id: String,
    /// Its generator.
    pub generator: String,
    /// Its side of the split.
    pub side: Side,
    /// Real accuracy at the last epoch.
    pub actual: f64,
    /// The second run's, when there is one.
    pub second_run: Option<f64>,
    /// Prediction (or ranking score) per method id.
    pub predictions: BTreeMap<String, f64>,
    /// Peephole's ensemble spread, when a model was evaluated.
    pub peephole_spread: Option<f64>,
    /// Peephole's notes on inputs outside its training ranges.
    pub peephole_notes: Vec<String>,
}

/// What the baselines chose when fitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineFit {
    /// Networks they were fitted on (the split's train side).
    pub train: usize,
    /// Networks the trees chose their setting on (the split's validation side).
    pub validation: usize,
    /// Epochs of the curve the curve-based methods saw.
    pub prefix_epochs: usize,
    /// Cross-validation folds.
    pub folds: usize,
    /// Fold seed.
    pub seed: u64,
    /// nu-SVR's chosen setting.
    pub svr: SvrSelection,
    /// nu-SVR's support vectors.
    pub svr_support_vectors: usize,
    /// nu-SVR's learned tube half-width, in accuracy.
    pub svr_tube: f64,
    /// Ridge's chosen penalty.
    pub ridge: RidgeSelection,
    /// The trees' chosen setting.
    pub gbt: GbtSelection,
}

/// The whole evaluation, as `eval.json` holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Model file, when one was given.
    pub model: Option<String>,
    /// Model name from its card.
    pub card_name: String,
    /// Protocol.
    pub protocol: String,
    /// Epochs of the protocol; accuracies are at this epoch.
    pub epochs: u32,
    /// Zoo files read (first runs).
    pub zoo: Vec<String>,
    /// Second-seed zoo files.
    pub second_seed: Vec<String>,
    /// The split file.
    pub split_file: String,
    /// Networks of the zoo files per side.
    pub networks_per_side: BTreeMap<Side, usize>,
    /// Networks (records) in the card's zoo files outside its held-out ids: what the model saw.
    pub model_saw_networks: usize,
    /// Distinct architectures among them.
    pub model_saw_architectures: usize,
    /// The bootstrap.
    pub bootstrap: Bootstrap,
    /// How the baselines were fitted.
    pub baselines: BaselineFit,
    /// One table per slice.
    pub slices: Vec<SliceReport>,
    /// Every scored network.
    pub networks: Vec<NetworkResult>,
}

impl Report {
    /// A committed `eval.json`, as [`run`] wrote it.
    pub fn read(path: &Path) -> anyhow::Result<Report> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not an evaluation report (eval.json)", path.display()))
    }
}

/// What the scatter plot needs of each method.
#[derive(Debug, Clone)]
pub struct PlotMethod {
    /// Method id.
    pub id: String,
    /// Its scale.
    pub scale: Scale,
    /// Kendall tau.
    pub kendall_tau: Option<f64>,
    /// MSE.
    pub mse: Option<f64>,
    /// R^2.
    pub r2: Option<f64>,
    /// Spearman.
    pub spearman: Option<f64>,
    /// Networks.
    pub n: usize,
}

/// The plot's methods and axes.
#[derive(Debug, Clone)]
pub struct PlotSummary {
    /// One per panel.
    pub methods: Vec<PlotMethod>,
    /// Epochs the curve baselines saw.
    pub prefix_epochs: usize,
    /// The protocol's epochs.
    pub epochs: u32,
}

/// Predicted and real values of one method, for the plot.
#[derive(Debug, Clone)]
pub struct Series {
    /// Method id.
    pub id: String,
    /// Predictions, in scored order.
    pub predicted: Vec<f64>,
    /// Real final accuracies, in the same order.
    pub actual: Vec<f64>,
}

/// A report and the plot behind it.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// The numbers.
    pub report: Report,
    /// The plot's panels (all scored networks of every slice).
    pub plot: PlotSummary,
    /// The points.
    pub series: Vec<Series>,
}

/// Method id of the Peephole row.
const PEEPHOLE_ID: &str = "peephole";

/// Label of the Peephole row.
const PEEPHOLE_LABEL: &str = "Peephole (architecture only)";

/// Fits the baselines on the split's train side (trees: setting on validation), predicts every
/// scored network (test side and reference set, minus the architectures the model saw) with
/// every method, and scores each slice. `predictor = None` evaluates the baselines alone.
pub fn evaluate(
    card: &ModelCard,
    predictor: Option<&dyn FinalPredictor>,
    inputs: &Inputs<'_>,
) -> anyhow::Result<Evaluation> {
    let epochs = card.epochs as usize;
    let side_of = |r: &ZooRecord| {
        inputs
            .split
            .side_of(r)
            .with_context(|| format!("network {} is not in the split file", r.id))
    };
    let mut by_side: BTreeMap<Side, Vec<&ZooRecord>> = BTreeMap::new();
    for &record in inputs.records {
        by_side.entry(side_of(record)?).or_default().push(record);
    }
    let take = |side| by_side.get(&side).cloned().unwrap_or_default();
    let (train, validation) = (take(Side::Train), take(Side::Validation));
    let fitted = FittedBaselines::fit(&train, &validation, inputs.options)
        .context("fitting the baselines on the split's train side")?;
    let prefix = fitted.prefix_epochs();
    // Scored: test side and evaluation-only networks, in record order.
    let candidates: Vec<(&ZooRecord, Side)> = inputs
        .records
        .iter()
        .filter_map(|&r| {
            let side = inputs.split.side_of(r)?;
            matches!(side, Side::Test | Side::Evaluation).then_some((r, side))
        })
        .collect();
    let mut scored = Vec::new();
    let mut excluded: Vec<(&ZooRecord, Side, f64)> = Vec::new();
    for (record, side) in candidates {
        let actual = features::final_accuracy(record, epochs)?;
        if inputs
            .seen
            .architectures
            .contains(&architecture_text(record))
        {
            excluded.push((record, side, actual));
        } else {
            scored.push((record, side, actual));
        }
    }
    let scored_records: Vec<&ZooRecord> = scored.iter().map(|(r, _, _)| *r).collect();
    let actual: Vec<f64> = scored.iter().map(|(_, _, a)| *a).collect();
    // Every method's predictions for every scored network, in the order of `columns`.
    let mut columns: Vec<(String, String, Scale, bool, Vec<f64>)> = Vec::new();
    let mut peephole = Vec::new();
    if let Some(predictor) = predictor {
        peephole = predictor
            .predict_final(&scored_records)
            .context("predicting the scored networks")?;
        ensure!(
            peephole.len() == scored_records.len(),
            "the predictor answered {} of {} networks",
            peephole.len(),
            scored_records.len()
        );
        columns.push((
            PEEPHOLE_ID.into(),
            PEEPHOLE_LABEL.into(),
            Scale::Accuracy,
            false,
            peephole.iter().map(|p| p.mean).collect(),
        ));
    }
    for method in Method::ALL {
        columns.push((
            method.id().into(),
            method.label(prefix),
            method.scale(),
            method.uses_curve(),
            fitted.predict_all(method, &scored_records)?,
        ));
    }
    // The accuracy the lint warns below by default, from the card's zoo percentiles.
    let threshold = (!card.ranges.accuracy_percentiles.is_empty())
        .then(|| card.ranges.accuracy_at(DEFAULT_THRESHOLD_PERCENTILE));
    let scored_set = ScoredSet {
        records: &scored_records,
        actual: &actual,
        columns: &columns,
        threshold,
    };
    let mut slices = Vec::new();
    for slice in Slice::ALL {
        let members: Vec<usize> = (0..scored.len())
            .filter(|&i| slice.contains(&scored[i].0.generator, scored[i].1, scored[i].2))
            .collect();
        let excluded_seen = excluded
            .iter()
            .filter(|(r, side, a)| slice.contains(&r.generator, *side, *a))
            .count();
        slices.push(score_slice(
            slice,
            &members,
            excluded_seen,
            &scored_set,
            inputs,
        ));
    }
    let networks = scored
        .iter()
        .enumerate()
        .map(|(i, (r, side, a))| NetworkResult {
            id: r.id.clone(),
            generator: r.generator.clone(),
            side: *side,
            actual: *a,
            second_run: inputs.second_runs.get(&r.id).copied(),
            predictions: columns.iter().map(|c| (c.0.clone(), c.4[i])).collect(),
            peephole_spread: peephole.get(i).map(|p| p.spread),
            peephole_notes: peephole.get(i).map(|p| p.notes.clone()).unwrap_or_default(),
        })
        .collect();
    let all: Vec<usize> = (0..scored.len()).collect();
    let plot = PlotSummary {
        methods: columns
            .iter()
            .map(|(id, _, scale, _, predicted)| {
                let (p, a): (Vec<f64>, Vec<f64>) =
                    all.iter().map(|&i| (predicted[i], actual[i])).unzip();
                let accuracy = *scale == Scale::Accuracy;
                PlotMethod {
                    id: id.clone(),
                    scale: *scale,
                    kendall_tau: metrics::kendall_tau_b(&p, &a).ok(),
                    mse: accuracy.then(|| metrics::mse(&p, &a).ok()).flatten(),
                    r2: accuracy.then(|| metrics::r_squared(&p, &a).ok()).flatten(),
                    spearman: metrics::spearman(&p, &a).ok(),
                    n: p.len(),
                }
            })
            .collect(),
        prefix_epochs: prefix,
        epochs: card.epochs,
    };
    let series = columns
        .iter()
        .map(|(id, _, _, _, predicted)| Series {
            id: id.clone(),
            predicted: predicted.clone(),
            actual: actual.clone(),
        })
        .collect();
    let report = Report {
        model: None,
        card_name: card.name.clone(),
        protocol: card.protocol.clone(),
        epochs: card.epochs,
        zoo: Vec::new(),
        second_seed: Vec::new(),
        split_file: String::new(),
        networks_per_side: by_side.iter().map(|(s, v)| (*s, v.len())).collect(),
        model_saw_networks: inputs.seen.networks,
        model_saw_architectures: inputs.seen.architectures.len(),
        bootstrap: inputs.bootstrap,
        baselines: BaselineFit {
            train: train.len(),
            validation: validation.len(),
            prefix_epochs: prefix,
            folds: inputs.options.folds,
            seed: inputs.options.seed,
            svr: *fitted.svr_selection(),
            svr_support_vectors: fitted.svr().support_vectors(),
            svr_tube: fitted.svr().tube_width(),
            ridge: *fitted.ridge_selection(),
            gbt: *fitted.gbt_selection(),
        },
        slices,
        networks,
    };
    Ok(Evaluation {
        report,
        plot,
        series,
    })
}

type Column = (String, String, Scale, bool, Vec<f64>);

/// Every scored network and what each slice is measured against, the same for all slices;
/// a slice picks its members from it by index.
struct ScoredSet<'a> {
    /// The scored networks, in record order.
    records: &'a [&'a ZooRecord],
    /// Their final accuracy.
    actual: &'a [f64],
    /// Every method's predictions for them.
    columns: &'a [Column],
    /// The accuracy the lint warns below by default, when the card says.
    threshold: Option<f64>,
}

/// One slice: every method's metrics with intervals on shared resamples, Peephole's tau minus
/// the best baselines', seed agreement and scores against the mean of two runs.
fn score_slice(
    slice: Slice,
    members: &[usize],
    excluded_seen: usize,
    scored: &ScoredSet<'_>,
    inputs: &Inputs<'_>,
) -> SliceReport {
    let ScoredSet {
        records,
        actual,
        columns,
        threshold,
    } = *scored;
    let real: Vec<f64> = members.iter().map(|&i| actual[i]).collect();
    let draws = inputs.bootstrap.draws(members.len());
    let estimate = |metric: fn(&[f64], &[f64]) -> Result<f64, metrics::MetricError>,
                    predicted: &[f64]| {
        metric(predicted, &real).ok().map(|value| Estimate {
            value,
            interval: interval(&draws, |d| {
                metric(&pick(predicted, d), &pick(&real, d)).ok()
            }),
        })
    };
    // Networks of the slice with a second run.
    let paired: Vec<usize> = (0..members.len())
        .filter(|&k| inputs.second_runs.contains_key(&records[members[k]].id))
        .collect();
    let second: Vec<f64> = paired
        .iter()
        .map(|&k| inputs.second_runs[&records[members[k]].id])
        .collect();
    let first: Vec<f64> = paired.iter().map(|&k| real[k]).collect();
    let mean_of_runs: Vec<f64> = first
        .iter()
        .zip(&second)
        .map(|(a, b)| (a + b) / 2.0)
        .collect();
    let mut methods = Vec::new();
    let mut by_id: HashMap<&str, Vec<f64>> = HashMap::new();
    for (id, label, scale, uses_curve, all) in columns {
        let predicted: Vec<f64> = members.iter().map(|&i| all[i]).collect();
        let mut notes = Vec::new();
        let kendall_tau = estimate(metrics::kendall_tau_b, &predicted);
        let spearman = estimate(metrics::spearman, &predicted);
        let (mse, r2) = match scale {
            Scale::Accuracy => (
                estimate(metrics::mse, &predicted),
                estimate(metrics::r_squared, &predicted),
            ),
            Scale::RankOnly => (None, None),
        };
        if kendall_tau.is_none() && !predicted.is_empty() {
            notes.push("Kendall tau undefined (a constant prediction or a constant slice)".into());
        }
        let on_pairs: Vec<f64> = paired.iter().map(|&k| predicted[k]).collect();
        let kendall_tau_vs_mean_of_runs = metrics::kendall_tau_b(&on_pairs, &mean_of_runs).ok();
        methods.push(MethodResult {
            id: id.clone(),
            label: label.clone(),
            scale: *scale,
            uses_curve: *uses_curve,
            mse,
            kendall_tau,
            spearman,
            r2,
            kendall_tau_vs_mean_of_runs,
            n: predicted.len(),
            notes,
        });
        by_id.insert(id.as_str(), predicted);
    }
    let difference = |allow_curve: bool| -> Option<Difference> {
        let ours = by_id.get(PEEPHOLE_ID)?;
        let best = methods
            .iter()
            .filter(|m| m.id != PEEPHOLE_ID && (allow_curve || !m.uses_curve))
            .filter_map(|m| m.kendall_tau.map(|t| (m, t.value)))
            .max_by(|a, b| a.1.total_cmp(&b.1))?
            .0;
        let theirs = &by_id[best.id.as_str()];
        let tau =
            |p: &[f64], d: &[usize]| metrics::kendall_tau_b(&pick(p, d), &pick(&real, d)).ok();
        let all: Vec<usize> = (0..real.len()).collect();
        Some(Difference {
            baseline: best.id.clone(),
            value: tau(ours, &all)? - tau(theirs, &all)?,
            interval: interval(&draws, |d| Some(tau(ours, d)? - tau(theirs, d)?)),
        })
    };
    SliceReport {
        id: slice.id().into(),
        label: slice.label(),
        n: members.len(),
        excluded_seen,
        peephole_minus_best_architecture_only: difference(false),
        peephole_minus_best_any: difference(true),
        methods,
        seed_agreement: (!paired.is_empty()).then(|| SeedAgreement {
            n: paired.len(),
            kendall_tau: metrics::kendall_tau_b(&first, &second).ok(),
        }),
        threshold: threshold
            .zip(by_id.get(PEEPHOLE_ID))
            .filter(|_| !real.is_empty())
            .map(|(accuracy, ours)| threshold_report(ours, &real, accuracy, &draws)),
    }
}

/// The per-slice tables as markdown, with what each row needed and what the baselines chose.
pub fn markdown(report: &Report) -> String {
    let mut out = String::new();
    let b = &report.baselines;
    let _ = writeln!(
        out,
        "Model card `{}` ({}, accuracy after epoch {}). Split: `{}`. Baselines fitted on the {} train-side networks; the trees chose their setting on the {} validation-side networks.",
        report.card_name, report.protocol, report.epochs, report.split_file, b.train, b.validation
    );
    let _ = writeln!(
        out,
        "The model saw {} networks ({} architectures) of its card's zoo files; scored networks with those architectures are excluded from every row. The card predates this split unless it names it: its own held-out ids decided nothing here.",
        report.model_saw_networks, report.model_saw_architectures
    );
    let _ = writeln!(
        out,
        "Intervals: 95% percentile bootstrap over networks, {} resamples, seed {}; every method on the same resamples.",
        report.bootstrap.resamples, report.bootstrap.seed
    );
    for slice in &report.slices {
        slice_markdown(&mut out, slice);
    }
    baselines_markdown(&mut out, report);
    out
}

/// An estimate with its interval at `digits` decimals; `n/a` where a rank-only method has no
/// such metric, `undefined` where the metric is undefined on the slice.
fn estimate_cell(estimate: Option<Estimate>, digits: usize, scale: Scale) -> String {
    let d = digits;
    match (estimate, scale) {
        (Some(e), _) => match e.interval {
            Some(i) => format!("{:.d$} [{:.d$}, {:.d$}]", e.value, i.low, i.high),
            None => format!("{:.d$}", e.value),
        },
        (None, Scale::RankOnly) => "n/a".into(),
        (None, Scale::Accuracy) => "undefined".into(),
    }
}

/// One slice: its table, the seed-to-seed agreement, the threshold as a classifier and
/// Peephole's tau minus the best baselines'.
fn slice_markdown(out: &mut String, slice: &SliceReport) {
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "### {} (n = {}, {} excluded: the model saw their architecture)",
        slice.label, slice.n, slice.excluded_seen
    );
    let _ = writeln!(out);
    if slice.n == 0 {
        let _ = writeln!(out, "No networks to score.");
        return;
    }
    let _ = writeln!(
        out,
        "| method | MSE | Kendall tau | Spearman | R^2 | tau vs mean of 2 runs | n |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|");
    let pairs = slice.seed_agreement.as_ref().map_or(0, |s| s.n);
    for m in &slice.methods {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            m.label,
            estimate_cell(m.mse, 5, m.scale),
            estimate_cell(m.kendall_tau, 3, Scale::Accuracy),
            estimate_cell(m.spearman, 3, Scale::Accuracy),
            estimate_cell(m.r2, 3, m.scale),
            m.kendall_tau_vs_mean_of_runs
                .map_or("-".into(), |t| format!("{t:.3} (n {pairs})")),
            m.n
        );
    }
    match &slice.seed_agreement {
        Some(s) => {
            let _ = writeln!(
                out,
                "\nSeed-to-seed agreement (tau between two training runs of the same networks): {} on {} network(s).",
                s.kendall_tau
                    .map_or("undefined".into(), |t| format!("{t:.3}")),
                s.n
            );
        }
        None => {
            let _ = writeln!(out, "\nNo second training run covers this slice.");
        }
    }
    if let Some(t) = &slice.threshold {
        threshold_markdown(out, t, slice.n);
    }
    for (what, d) in [
        (
            "best architecture-only baseline",
            &slice.peephole_minus_best_architecture_only,
        ),
        ("best baseline of all", &slice.peephole_minus_best_any),
    ] {
        if let Some(d) = d {
            let _ = writeln!(
                out,
                "Peephole's tau minus the {what} ({}): {}: {}.",
                d.baseline,
                difference_cell(d),
                Standing::of(d).sentence()
            );
        }
    }
}

/// A difference of taus with its interval, signed: `+0.058 [-0.012, +0.125]`.
fn difference_cell(d: &Difference) -> String {
    format!(
        "{:+.3} {}",
        d.value,
        d.interval.map_or("(no interval)".into(), |i| format!(
            "[{:+.3}, {:+.3}]",
            i.low, i.high
        ))
    )
}

/// Where Peephole stands against a baseline: only an interval that excludes 0 says one side is
/// ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    Ahead,
    Behind,
    Tie,
}

impl Standing {
    /// The standing a difference of taus (Peephole minus a baseline) gives.
    fn of(d: &Difference) -> Standing {
        match d.interval {
            Some(i) if i.low > 0.0 => Standing::Ahead,
            Some(i) if i.high < 0.0 => Standing::Behind,
            _ => Standing::Tie,
        }
    }

    /// As a sentence's end.
    fn sentence(self) -> &'static str {
        match self {
            Standing::Ahead => "Peephole ahead",
            Standing::Behind => "Peephole behind",
            Standing::Tie => "a tie (the interval contains 0)",
        }
    }

    /// In a table cell.
    fn short(self) -> &'static str {
        match self {
            Standing::Ahead => "ahead",
            Standing::Behind => "behind",
            Standing::Tie => "a tie",
        }
    }
}

/// Peephole's row of every slice in one table, for a page that has room for one table (README,
/// the book's summary): its tau, Spearman and R^2 with intervals, its tau against the best
/// architecture-only baseline and the best of all, and the lint's threshold as a classifier.
pub fn summary_markdown(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Model `{}` ({}, accuracy after epoch {}) on the test side of `{}` and the reference set; 95% bootstrap intervals over networks ({} resamples, seed {}).",
        report.card_name,
        report.protocol,
        report.epochs,
        report.split_file,
        report.bootstrap.resamples,
        report.bootstrap.seed
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| slice | n | Kendall tau | Spearman | R^2 | tau minus the best architecture-only baseline | tau minus the best baseline of all | the lint's warning: recall, false alarms |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---|---|---|");
    let against = |d: &Option<Difference>| {
        d.as_ref().map_or("-".into(), |d| {
            format!(
                "{} ({}): {}",
                difference_cell(d),
                d.baseline,
                Standing::of(d).short()
            )
        })
    };
    for slice in &report.slices {
        let Some(m) = slice.methods.iter().find(|m| m.id == PEEPHOLE_ID) else {
            continue;
        };
        let warning = slice.threshold.as_ref().map_or("-".into(), |t| {
            let share =
                |e: Option<Estimate>| e.map_or("undefined".into(), |e| format!("{:.2}", e.value));
            format!("{}, {}", share(t.recall), share(t.false_alarm_rate))
        });
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {warning} |",
            slice.label,
            slice.n,
            estimate_cell(m.kendall_tau, 3, Scale::Accuracy),
            estimate_cell(m.spearman, 3, Scale::Accuracy),
            estimate_cell(m.r2, 3, m.scale),
            against(&slice.peephole_minus_best_architecture_only),
            against(&slice.peephole_minus_best_any),
        );
    }
    out
}

/// The lint's default threshold as a classifier on a slice of `n` networks.
fn threshold_markdown(out: &mut String, t: &ThresholdReport, n: usize) {
    let share = |e: Option<Estimate>| match e {
        Some(e) => match e.interval {
            Some(i) => format!("{:.2} [{:.2}, {:.2}]", e.value, i.low, i.high),
            None => format!("{:.2}", e.value),
        },
        None => "undefined".into(),
    };
    let _ = writeln!(
        out,
        "The lint's default threshold (zoo percentile {:.0}, accuracy {:.3}) as a classifier: {} of {} networks truly below it, {} flagged; recall {}, false-alarm rate {}{}.",
        t.percentile,
        t.accuracy,
        t.truly_poor,
        n,
        t.flagged,
        share(t.recall),
        share(t.false_alarm_rate),
        t.wrong_warnings.map_or(String::new(), |w| format!(
            ", {:.0}% of its warnings wrong",
            w * 100.0
        ))
    );
}

/// What the baselines read and chose, and how many scored networks lie outside the model's
/// training ranges.
fn baselines_markdown(out: &mut String, report: &Report) {
    let b = &report.baselines;
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "nu-SVR and last seen read epochs 1-{} of {} of each scored network's own training; the other rows read the architecture only.",
        b.prefix_epochs, report.epochs
    );
    let _ = writeln!(
        out,
        "nu-SVR: C = {}, nu = {}, gamma = {:.4} ({}-fold CV MSE {:.5}). Ridge: lambda = {} (CV MSE {:.5}). Trees: {} rounds, learning rate {}, depth {}, min leaf weight {} (validation MSE {:.5} on {} networks, best of {} settings).",
        b.svr.params.c,
        b.svr.params.nu,
        b.svr.params.gamma,
        b.folds,
        b.svr.cv_mse,
        b.ridge.lambda,
        b.ridge.cv_mse,
        b.gbt.params.iterations,
        b.gbt.params.learning_rate,
        b.gbt.params.max_depth,
        b.gbt.params.min_leaf_weight,
        b.gbt.validation_mse,
        b.gbt.validation,
        b.gbt.tried
    );
    let outside = report
        .networks
        .iter()
        .filter(|n| !n.peephole_notes.is_empty())
        .count();
    if outside > 0 {
        let _ = writeln!(
            out,
            "Peephole: {outside} of {} scored networks have layers or lengths outside its training ranges (see peephole_notes in eval.json).",
            report.networks.len()
        );
    }
}

#[cfg(test)]
mod tests {
    use peephole_ir::ulc;
    use peephole_predictor::{Ranges, SplitInfo};

    use super::*;

    /// A record of generator v1's network `index` whose final accuracy grows with its first
    /// epoch (so curve baselines have something to learn).
    fn record(index: u64, generator: &str) -> ZooRecord {
        let first = 0.4 + 0.4 * ((index * 37 % 23) as f64 / 23.0);
        let last = (first + 0.1 + 0.3 * (1.0 - first) * first).min(0.99);
        let curve = (0..8)
            .map(|e| first + (last - first) * f64::from(e) / 7.0)
            .collect();
        peephole_zoo::testing::record_with_curve(&format!("s5-{index}"), generator, 5, index, curve)
    }

    fn card() -> ModelCard {
        ModelCard {
            format: peephole_predictor::PREDICTOR_FORMAT.into(),
            name: "test-model".into(),
            protocol: "fmnist-budget-v1".into(),
            ulc_version: ulc::ULC_VERSION.into(),
            epochs: 8,
            ensemble: 1,
            supervision: "final".into(),
            zoo: Vec::new(),
            split: SplitInfo {
                seed: 0,
                train: 0,
                validation: 0,
                test: 0,
                test_ids: Vec::new(),
                left_out_ids: Vec::new(),
                file: None,
            },
            ranges: Ranges {
                sequence_length: (1, 50),
                codes_seen: [vec![], vec![], vec![], vec![]],
                accuracy_percentiles: vec![],
            },
            metrics: Vec::new(),
            command: String::new(),
            layer_features: None,
        }
    }

    /// A predictor that knows the answer up to a fixed offset: its tau must be 1.
    struct Oracle;

    impl FinalPredictor for Oracle {
        fn predict_final(&self, networks: &[&ZooRecord]) -> anyhow::Result<Vec<FinalPrediction>> {
            Ok(networks
                .iter()
                .map(|r| FinalPrediction {
                    mean: r.curve[7] - 0.01,
                    spread: 0.02,
                    notes: Vec::new(),
                })
                .collect())
        }
    }

    /// 160 v1 networks, 40 v2 networks (ids offset), 12 reference networks.
    fn zoo() -> Vec<ZooRecord> {
        let mut records: Vec<ZooRecord> = (0..160).map(|i| record(i, "generator-v1")).collect();
        records.extend((160..200).map(|i| record(i, "generator-v2")));
        records.extend((200..212).map(|i| record(i, "reference-v1")));
        records
    }

    fn run_on(
        records: &[ZooRecord],
        seen: &Seen,
        second: &HashMap<String, f64>,
    ) -> (Split, Evaluation) {
        let refs: Vec<&ZooRecord> = records.iter().collect();
        let mut split = Split::new();
        split.extend(&refs).unwrap();
        let mut options = BaselineOptions::for_epochs(8);
        options.gbt_grid.truncate(2);
        let inputs = Inputs {
            records: &refs,
            second_runs: second,
            split: &split,
            seen,
            options: &options,
            bootstrap: Bootstrap {
                resamples: 200,
                seed: 3,
            },
        };
        let evaluation = evaluate(&card(), Some(&Oracle), &inputs).unwrap();
        (split, evaluation)
    }

    #[test]
    fn only_test_side_and_reference_networks_are_scored_and_seen_architectures_are_excluded() {
        let records = zoo();
        let refs: Vec<&ZooRecord> = records.iter().collect();
        let mut split = Split::new();
        split.extend(&refs).unwrap();
        // The model "saw" the first two test-side v1 networks.
        let saw: Vec<&ZooRecord> = refs
            .iter()
            .copied()
            .filter(|r| r.generator == "generator-v1" && split.side_of(r) == Some(Side::Test))
            .take(2)
            .collect();
        let seen = Seen {
            architectures: saw.iter().map(|r| architecture_text(r)).collect(),
            networks: 2,
        };
        let (split, evaluation) = run_on(&records, &seen, &HashMap::new());
        let report = &evaluation.report;
        for n in &report.networks {
            let r = records.iter().find(|r| r.id == n.id).unwrap();
            assert!(
                matches!(split.side_of(r), Some(Side::Test | Side::Evaluation)),
                "{}",
                n.id
            );
            assert!(
                !seen.architectures.contains(&architecture_text(r)),
                "{} was seen",
                n.id
            );
        }
        let v1 = &report.slices[0];
        assert_eq!(v1.id, "generator_v1");
        assert_eq!(v1.excluded_seen, 2);
        let test_v1 = refs
            .iter()
            .filter(|r| r.generator == "generator-v1" && split.side_of(r) == Some(Side::Test))
            .count();
        assert_eq!(v1.n + 2, test_v1);
        assert_eq!(
            report.slices[2].n, 12,
            "the whole reference set is scored, and only it"
        );
        assert_eq!(
            report.baselines.train,
            report.networks_per_side[&Side::Train]
        );
        // Every method of a slice is scored on the same networks; the oracle ranks perfectly.
        assert!(v1.methods.iter().all(|m| m.n == v1.n));
        let peephole = &v1.methods[0];
        assert_eq!(peephole.kendall_tau.unwrap().value, 1.0);
        let i = peephole.mse.unwrap().interval.unwrap();
        assert!(
            (i.low - 1e-4).abs() < 1e-9 && (i.high - 1e-4).abs() < 1e-9,
            "{i:?}"
        );
        let ids: Vec<&str> = v1.methods.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "peephole",
                "nu_svr",
                "last_seen",
                "ulc_ridge",
                "gbt",
                "log_macs",
                "log_params"
            ]
        );
        let d = v1.peephole_minus_best_architecture_only.as_ref().unwrap();
        assert!(["ulc_ridge", "gbt", "log_macs", "log_params"].contains(&d.baseline.as_str()));
        assert!(d.value >= 0.0);
    }

    #[test]
    fn seed_agreement_and_scores_against_the_mean_of_two_runs_use_the_paired_networks() {
        let records = zoo();
        // A second run of every reference network: the same accuracy, reversed ranking for half.
        let second: HashMap<String, f64> = records
            .iter()
            .filter(|r| r.generator == "reference-v1")
            .map(|r| (r.id.clone(), r.curve[7]))
            .collect();
        let (_, evaluation) = run_on(&records, &Seen::default(), &second);
        let reference = &evaluation.report.slices[2];
        let agreement = reference.seed_agreement.as_ref().unwrap();
        assert_eq!((agreement.n, agreement.kendall_tau), (12, Some(1.0)));
        assert_eq!(reference.methods[0].kendall_tau_vs_mean_of_runs, Some(1.0));
        assert!(evaluation.report.slices[0].seed_agreement.is_none());
        let table = markdown(&evaluation.report);
        assert!(table.contains("Seed-to-seed agreement (tau between two training runs of the same networks): 1.000 on 12 network(s)."), "{table}");
        assert!(
            table.contains("No second training run covers this slice."),
            "{table}"
        );
        assert!(
            table.contains("| Peephole (architecture only) | 0.00010 [0.00010, 0.00010] | 1.000 ["),
            "{table}"
        );
    }

    #[test]
    fn a_difference_whose_interval_holds_zero_is_called_a_tie() {
        let records = zoo();
        let (_, mut evaluation) = run_on(&records, &Seen::default(), &HashMap::new());
        let slice = &mut evaluation.report.slices[0];
        slice.peephole_minus_best_architecture_only = Some(Difference {
            baseline: "gbt".into(),
            value: 0.02,
            interval: Some(Interval {
                low: -0.05,
                high: 0.09,
                defined: 200,
            }),
        });
        let table = markdown(&evaluation.report);
        assert!(
            table.contains("best architecture-only baseline (gbt): +0.020 [-0.050, +0.090]: a tie (the interval contains 0)."),
            "{table}"
        );
        let summary = summary_markdown(&evaluation.report);
        assert!(
            summary.contains("| +0.020 [-0.050, +0.090] (gbt): a tie |"),
            "{summary}"
        );
    }

    #[test]
    fn a_report_reads_back_from_its_json_unchanged() {
        let records = zoo();
        let (_, evaluation) = run_on(&records, &Seen::default(), &HashMap::new());
        let dir = std::env::temp_dir().join(format!("peephole-eval-json-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("eval.json");
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&evaluation.report).unwrap(),
        )
        .unwrap();
        let read = Report::read(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(read, evaluation.report);
        assert_eq!(markdown(&read), markdown(&evaluation.report));
    }

    #[test]
    fn records_of_another_protocol_and_duplicate_ids_are_refused() {
        let mut sources = vec![(
            "a.jsonl".to_string(),
            vec![record(1, "generator-v1"), record(2, "generator-v1")],
        )];
        sources[0].1[1].protocol = "mnist-paper".into();
        let error = check_records(&card(), &sources).unwrap_err().to_string();
        assert!(
            error.contains("network s5-2 was trained under protocol mnist-paper"),
            "{error}"
        );
        let twice = vec![
            ("a.jsonl".to_string(), vec![record(1, "generator-v1")]),
            ("b.jsonl".to_string(), vec![record(1, "generator-v1")]),
        ];
        let error = check_records(&card(), &twice).unwrap_err().to_string();
        assert!(
            error.contains("s5-1 occurs twice (in a.jsonl and in b.jsonl)"),
            "{error}"
        );
    }

    #[test]
    fn scatter_is_a_png_and_an_svg_with_one_panel_per_method() {
        let records = zoo();
        let (_, evaluation) = run_on(&records, &Seen::default(), &HashMap::new());
        let bytes = plot::scatter_png(&evaluation.plot, &evaluation.series).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(&bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buffer).unwrap();
        // 7 methods: 3 columns by 3 rows of 400 px.
        assert_eq!((info.width, info.height), (1200, 1200));
        // Accuracy panels (Peephole first) draw the red diagonal; rankers (log MACs: the sixth
        // panel, third column of the second row) have none.
        let red = plot::DIAGONAL;
        let count_red = |x0: usize, y0: usize| {
            (y0..y0 + 400)
                .flat_map(|y| (x0..x0 + 400).map(move |x| (x, y)))
                .filter(|&(x, y)| {
                    let at = (y * 1200 + x) * 3;
                    buffer[at..at + 3] == [red.0, red.1, red.2]
                })
                .count()
        };
        assert!(count_red(0, 0) > 50, "{}", count_red(0, 0));
        assert_eq!(count_red(800, 400), 0);
        // Every panel is titled, in words, in the SVG.
        let svg = plot::scatter_svg(&evaluation.plot, &evaluation.series).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..40.min(svg.len())]);
        for series in &evaluation.series {
            let title = plot::title(&series.id, evaluation.plot.prefix_epochs);
            assert!(svg.contains(&title), "no title {title:?} in the SVG");
        }
        assert!(svg.contains("real accuracy at epoch"));
    }

    #[test]
    fn the_zoo_size_table_draws_and_bad_tables_are_refused() {
        let dir = std::env::temp_dir().join(format!("peephole-zoo-size-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("zoo-size.json");
        std::fs::write(
            &path,
            r#"{"title": "t", "slices": ["all (n = 3)", "v1"], "points": [
                {"training_networks": 10, "tau": [0.5, 0.4]},
                {"training_networks": 20, "tau": [0.6, 0.55]}]}"#,
        )
        .unwrap();
        let curve = plot::ZooSizeCurve::read(&path).unwrap();
        let svg = plot::zoo_size_svg(&curve).unwrap();
        assert!(svg.contains("all (n = 3)") && svg.contains("training networks"));
        let png = plot::zoo_size_png(&curve).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        std::fs::write(
            &path,
            r#"{"title": "t", "slices": ["all", "v1"], "points": [{"training_networks": 10, "tau": [0.5]}]}"#,
        )
        .unwrap();
        let error = plot::ZooSizeCurve::read(&path).unwrap_err().to_string();
        assert!(
            error.contains("1 finite tau values for 2 slices"),
            "{error}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_threshold_classifier_counts_recall_and_false_alarms() {
        let real = [0.2, 0.3, 0.4, 0.8, 0.85, 0.9];
        // Flags two of the three poor networks and one of the three fine ones.
        let predicted = [0.3, 0.7, 0.45, 0.49, 0.8, 0.9];
        let draws = Bootstrap {
            resamples: 100,
            seed: 1,
        }
        .draws(real.len());
        let t = threshold_report(&predicted, &real, 0.5, &draws);
        assert_eq!((t.truly_poor, t.flagged), (3, 3));
        assert!((t.recall.unwrap().value - 2.0 / 3.0).abs() < 1e-12);
        assert!((t.false_alarm_rate.unwrap().value - 1.0 / 3.0).abs() < 1e-12);
        assert!((t.wrong_warnings.unwrap() - 1.0 / 3.0).abs() < 1e-12);
        let i = t.recall.unwrap().interval.unwrap();
        assert!(i.low <= 2.0 / 3.0 && 2.0 / 3.0 <= i.high, "{i:?}");
        // No truly poor network: recall is undefined, not 0 or 1.
        let fine = threshold_report(&[0.9, 0.4], &[0.9, 0.95], 0.5, &[]);
        assert!(fine.recall.is_none());
        assert_eq!(fine.false_alarm_rate.unwrap().value, 0.5);
    }

    #[test]
    fn a_card_sees_what_it_was_fitted_on_but_not_its_test_side_or_its_left_out_twins() {
        let records: Vec<ZooRecord> = (0..3).map(|i| record(i, "generator-v2")).collect();
        let text: String = records
            .iter()
            .map(|r| serde_json::to_string(r).unwrap() + "\n")
            .collect();
        let dir = std::env::temp_dir().join(format!("peephole-seen-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("zoo.jsonl"), &text).unwrap();
        let mut card = card();
        card.zoo = vec![peephole_predictor::ZooFileInfo {
            path: "zoo.jsonl".into(),
            sha256: Sha256::digest(text.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
            bytes: text.len() as u64,
            records: 3,
        }];
        card.split.test_ids = vec![records[1].id.clone()];
        card.split.left_out_ids = vec![records[2].id.clone()];
        let seen = seen_by_card(&card, &dir).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(seen.networks, 1);
        assert!(seen.architectures.contains(&architecture_text(&records[0])));
        assert!(!seen.architectures.contains(&architecture_text(&records[1])));
        assert!(!seen.architectures.contains(&architecture_text(&records[2])));
    }
}

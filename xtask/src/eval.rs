//! `cargo xtask eval`: the paper's Table 3 and Figure 5 for a predictor model: Peephole against
//! the baselines of `peephole_core::baselines`, on exactly the networks the model held out.
//!
//! The held-out networks are the model card's `split.test_ids`; the baselines are fitted on
//! every other network of the zoo files given (so they may see more networks than the model
//! did, never fewer, and never a held-out one). Writes `eval.json` (every number and every
//! per-network prediction) and `scatter.png` (predicted against real, one panel per method).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail, ensure};
use peephole_core::baselines::{
    BaselineOptions, FittedBaselines, Method, RidgeSelection, Scale, SvrSelection, features,
};
use peephole_core::metrics;
use peephole_core::predictor::{MethodMetrics, ModelCard, Predictor};
use peephole_core::zoo::{ZooRecord, read_zoo};
use serde::Serialize;

use crate::cargo;

/// Options of `eval`.
#[derive(clap::Args)]
pub struct Args {
    /// Zoo files (JSON Lines) holding the model's held-out networks; every other network in
    /// them trains the baselines.
    #[arg(long, num_args = 1.., required = true, value_name = "FILE")]
    zoo: Vec<PathBuf>,
    /// Predictor model (ONNX, its model card inside).
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "card",
        required_unless_present = "card"
    )]
    model: Option<PathBuf>,
    /// A model card (JSON, written beside a model as NAME.card.json) instead of a model:
    /// evaluates the baselines alone on that card's split.
    #[arg(long, value_name = "FILE")]
    card: Option<PathBuf>,
    /// Where eval.json and scatter.png go [default: target/eval in the workspace].
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
    /// Cross-validation folds that choose the baselines' hyper-parameters.
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// Seed of the fold assignment.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// Entry point of `cargo xtask eval`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let (model_name, card, predictor) = load(args)?;
    let sources = args
        .zoo
        .iter()
        .map(|path| {
            let contents = read_zoo(path)?;
            for bad in &contents.bad_lines {
                eprintln!("{}: {bad} (skipped)", path.display());
            }
            Ok((path.display().to_string(), contents.records))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let split = split_by_card(&card, &sources)?;
    let mut options = BaselineOptions::for_epochs(card.epochs as usize);
    options.folds = args.folds;
    options.seed = args.seed;
    eprintln!(
        "fitting baselines on {} networks ({}-fold cross-validation), evaluating on {} held-out networks",
        split.train.len(),
        options.folds,
        split.test.len()
    );
    let evaluation = evaluate(&card, predictor.as_deref(), &split, &options)?;
    let mut report = evaluation.report;
    report.model = model_name;
    report.zoo = sources.iter().map(|(path, _)| path.clone()).collect();
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
    let png = plot::scatter(&report, &evaluation.series)?;
    std::fs::write(&png_path, png).with_context(|| format!("writing {}", png_path.display()))?;
    println!();
    println!("wrote {} and {}", json_path.display(), png_path.display());
    Ok(())
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
        let (card, predictor) = load_model(path)?;
        return Ok((Some(path.display().to_string()), card, Some(predictor)));
    }
    let Some(path) = &args.card else {
        bail!("give --model FILE (or --card FILE for the baselines alone)");
    };
    Ok((None, ModelCard::read(path)?, None))
}

/// Loads a predictor model with core's tract runtime, the one the lint uses.
fn load_model(path: &Path) -> anyhow::Result<(ModelCard, Box<dyn FinalPredictor>)> {
    let predictor = Predictor::from_path(path)?;
    Ok((predictor.card().clone(), Box::new(predictor)))
}

impl FinalPredictor for Predictor {
    fn predict_final(&self, networks: &[&ZooRecord]) -> anyhow::Result<Vec<FinalPrediction>> {
        let epochs = self.card().epochs;
        let items: Vec<(&[peephole_core::ulc::UlcCode], u32)> =
            networks.iter().map(|record| (record.ulc.as_slice(), epochs)).collect();
        let predictions = self.predict_batch(&items)?;
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

/// The held-out networks (in the card's order) and the baselines' training networks.
#[derive(Debug)]
pub struct Split<'a> {
    /// Every network of the zoo files that the card does not hold out.
    pub train: Vec<&'a ZooRecord>,
    /// The card's `split.test_ids`, in that order.
    pub test: Vec<&'a ZooRecord>,
}

/// Splits the zoo by the card: refuses records of another protocol or ULC version (their
/// accuracies answer a different question), ids that occur twice, and a zoo that lacks a
/// held-out network (the comparison would silently be on other networks than the model's).
pub fn split_by_card<'a>(
    card: &ModelCard,
    sources: &'a [(String, Vec<ZooRecord>)],
) -> anyhow::Result<Split<'a>> {
    let mut seen: HashMap<&str, &str> = HashMap::new();
    for (file, records) in sources {
        for record in records {
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
                    "network {} occurs twice (in {other} and in {file}); give each zoo file once",
                    record.id
                );
            }
        }
    }
    let held_out: HashSet<&str> = card.split.test_ids.iter().map(String::as_str).collect();
    ensure!(
        held_out.len() == card.split.test_ids.len(),
        "model card {} lists a held-out network twice",
        card.name
    );
    let by_id: HashMap<&str, &ZooRecord> = sources
        .iter()
        .flat_map(|(_, records)| records)
        .map(|r| (r.id.as_str(), r))
        .collect();
    let missing: Vec<&str> = card
        .split
        .test_ids
        .iter()
        .map(String::as_str)
        .filter(|id| !by_id.contains_key(id))
        .collect();
    if !missing.is_empty() {
        let trained_on: Vec<&str> = card.zoo.iter().map(|z| z.path.as_str()).collect();
        bail!(
            "the zoo files lack {} of model {}'s {} held-out networks (first: {}); give the zoo \
             files it was trained on: {}",
            missing.len(),
            card.name,
            held_out.len(),
            missing
                .iter()
                .take(5)
                .copied()
                .collect::<Vec<_>>()
                .join(", "),
            trained_on.join(" ")
        );
    }
    let test = card
        .split
        .test_ids
        .iter()
        .map(|id| by_id[id.as_str()])
        .collect();
    let train = sources
        .iter()
        .flat_map(|(_, records)| records)
        .filter(|r| !held_out.contains(r.id.as_str()))
        .collect();
    Ok(Split { train, test })
}

/// One method's numbers on the held-out networks. `None` where a metric does not apply (MSE
/// and R² of a ranker) or is undefined (a constant prediction has no Kendall tau); `notes`
/// says which.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
    pub mse: Option<f64>,
    /// Kendall's tau-b.
    pub kendall_tau: Option<f64>,
    /// Coefficient of determination.
    pub r2: Option<f64>,
    /// Spearman's rho.
    pub spearman: Option<f64>,
    /// Held-out networks.
    pub n: usize,
    /// Why a metric is missing.
    pub notes: Vec<String>,
}

/// One held-out network: its real final accuracy and every method's prediction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetworkResult {
    /// Zoo id.
    pub id: String,
    /// Real accuracy at the last epoch.
    pub actual: f64,
    /// Prediction (or ranking score) per method id.
    pub predictions: BTreeMap<String, f64>,
    /// Peephole's ensemble spread, when a model was evaluated.
    pub peephole_spread: Option<f64>,
    /// Peephole's notes on inputs outside its training ranges.
    pub peephole_notes: Vec<String>,
}

/// What the baselines chose when fitted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BaselineFit {
    /// Networks they were fitted on.
    pub train: usize,
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
}

/// The whole evaluation, as `eval.json` holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Model file, when one was given.
    pub model: Option<String>,
    /// Model name from its card.
    pub card_name: String,
    /// Protocol.
    pub protocol: String,
    /// Epochs of the protocol; accuracies are at this epoch.
    pub epochs: u32,
    /// Zoo files read.
    pub zoo: Vec<String>,
    /// Held-out networks.
    pub test: usize,
    /// How the baselines were fitted.
    pub baselines: BaselineFit,
    /// Table 3, one row per method.
    pub methods: Vec<MethodResult>,
    /// Metrics the card recorded at training time (for a cross-check).
    pub card_metrics: Vec<MethodMetrics>,
    /// Per-network predictions.
    pub networks: Vec<NetworkResult>,
}

/// Predicted and real values of one method, for the plot.
#[derive(Debug, Clone)]
pub struct Series {
    /// Method id.
    pub id: String,
    /// Predictions, in held-out order.
    pub predicted: Vec<f64>,
    /// Real final accuracies, in the same order.
    pub actual: Vec<f64>,
}

/// A report and the series behind it.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// The numbers.
    pub report: Report,
    /// The points.
    pub series: Vec<Series>,
}

/// Label of the Peephole row.
const PEEPHOLE_LABEL: &str = "Peephole (architecture only)";

/// Fits the baselines on `split.train`, predicts `split.test` with every method, and scores
/// them. `predictor = None` evaluates the baselines alone.
pub fn evaluate(
    card: &ModelCard,
    predictor: Option<&dyn FinalPredictor>,
    split: &Split<'_>,
    options: &BaselineOptions,
) -> anyhow::Result<Evaluation> {
    let epochs = card.epochs as usize;
    let actual = split
        .test
        .iter()
        .map(|r| features::final_accuracy(r, epochs))
        .collect::<Result<Vec<_>, _>>()?;
    let fitted = FittedBaselines::fit(&split.train, options).context("fitting the baselines")?;
    let prefix = fitted.prefix_epochs();
    let mut methods = Vec::new();
    let mut series = Vec::new();
    let mut peephole = Vec::new();
    if let Some(predictor) = predictor {
        peephole = predictor
            .predict_final(&split.test)
            .context("predicting the held-out networks")?;
        ensure!(
            peephole.len() == actual.len(),
            "the predictor answered {} of {} networks",
            peephole.len(),
            actual.len()
        );
        let predicted: Vec<f64> = peephole.iter().map(|p| p.mean).collect();
        methods.push(score(
            "peephole",
            PEEPHOLE_LABEL,
            Scale::Accuracy,
            false,
            &predicted,
            &actual,
        ));
        series.push(Series {
            id: "peephole".into(),
            predicted,
            actual: actual.clone(),
        });
    }
    for method in Method::ALL {
        let predicted = fitted.predict_all(method, &split.test)?;
        methods.push(score(
            method.id(),
            &method.label(prefix),
            method.scale(),
            method.uses_curve(),
            &predicted,
            &actual,
        ));
        series.push(Series {
            id: method.id().into(),
            predicted,
            actual: actual.clone(),
        });
    }
    let networks = split
        .test
        .iter()
        .enumerate()
        .map(|(i, r)| NetworkResult {
            id: r.id.clone(),
            actual: actual[i],
            predictions: series
                .iter()
                .map(|s| (s.id.clone(), s.predicted[i]))
                .collect(),
            peephole_spread: peephole.get(i).map(|p| p.spread),
            peephole_notes: peephole.get(i).map(|p| p.notes.clone()).unwrap_or_default(),
        })
        .collect();
    let report = Report {
        model: None,
        card_name: card.name.clone(),
        protocol: card.protocol.clone(),
        epochs: card.epochs,
        zoo: Vec::new(),
        test: split.test.len(),
        baselines: BaselineFit {
            train: split.train.len(),
            prefix_epochs: prefix,
            folds: options.folds,
            seed: options.seed,
            svr: *fitted.svr_selection(),
            svr_support_vectors: fitted.svr().support_vectors(),
            svr_tube: fitted.svr().tube_width(),
            ridge: *fitted.ridge_selection(),
        },
        methods,
        card_metrics: card.metrics.clone(),
        networks,
    };
    Ok(Evaluation { report, series })
}

/// Computes every metric that applies to `scale`, each on its own so one undefined metric
/// (a constant prediction has no ranking) does not hide the others.
fn score(
    id: &str,
    label: &str,
    scale: Scale,
    uses_curve: bool,
    predicted: &[f64],
    actual: &[f64],
) -> MethodResult {
    let mut notes = Vec::new();
    let mut keep = |name: &str, result: Result<f64, metrics::MetricError>| match result {
        Ok(value) => Some(value),
        Err(error) => {
            notes.push(format!("{name}: {error}"));
            None
        }
    };
    let kendall_tau = keep("Kendall tau", metrics::kendall_tau_b(predicted, actual));
    let spearman = keep("Spearman", metrics::spearman(predicted, actual));
    let (mse, r2) = match scale {
        Scale::Accuracy => (
            keep("MSE", metrics::mse(predicted, actual)),
            keep("R^2", metrics::r_squared(predicted, actual)),
        ),
        Scale::RankOnly => {
            notes.push(
                "MSE and R^2 do not apply: the output is a ranking score, not an accuracy".into(),
            );
            (None, None)
        }
    };
    MethodResult {
        id: id.into(),
        label: label.into(),
        scale,
        uses_curve,
        mse,
        kendall_tau,
        r2,
        spearman,
        n: predicted.len(),
        notes,
    }
}

/// Table 3 as markdown, with what each row needed and what the baselines chose.
pub fn markdown(report: &Report) -> String {
    let mut out = String::new();
    let cell = |value: Option<f64>, decimals: usize, scale: Scale| match (value, scale) {
        (Some(v), _) => format!("{v:.decimals$}"),
        (None, Scale::RankOnly) => "n/a (ranker)".into(),
        (None, Scale::Accuracy) => "undefined".into(),
    };
    let _ = writeln!(out, "| method | MSE | Kendall tau | R^2 | Spearman | n |");
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|");
    for m in &report.methods {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            m.label,
            cell(m.mse, 5, m.scale),
            cell(m.kendall_tau, 3, Scale::Accuracy),
            cell(m.r2, 3, m.scale),
            cell(m.spearman, 3, Scale::Accuracy),
            m.n
        );
    }
    let b = &report.baselines;
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Held out: the {} networks of model card `{}` ({}, accuracy after epoch {}). Baselines fitted on the other {} networks of the zoo.",
        report.test, report.card_name, report.protocol, report.epochs, b.train
    );
    let (curve, architecture): (Vec<&MethodResult>, Vec<&MethodResult>) =
        report.methods.iter().partition(|m| m.uses_curve);
    let names = |rows: &[&MethodResult]| {
        rows.iter()
            .map(|m| m.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !curve.is_empty() {
        let _ = writeln!(
            out,
            "{} read epochs 1-{} of {} of each held-out network's own training (that much training per network); {} read the architecture only.",
            names(&curve),
            b.prefix_epochs,
            report.epochs,
            names(&architecture)
        );
    }
    let _ = writeln!(
        out,
        "nu-SVR: C = {}, nu = {}, gamma = {:.4} ({}-fold CV MSE {:.5}; {} support vectors, tube +-{:.5}). Ridge: lambda = {} (CV MSE {:.5}).",
        b.svr.params.c,
        b.svr.params.nu,
        b.svr.params.gamma,
        b.folds,
        b.svr.cv_mse,
        b.svr_support_vectors,
        b.svr_tube,
        b.ridge.lambda,
        b.ridge.cv_mse
    );
    for m in &report.methods {
        for note in m
            .notes
            .iter()
            .filter(|n| !n.starts_with("MSE and R^2 do not apply"))
        {
            let _ = writeln!(out, "Note ({}): {note}", m.id);
        }
    }
    let outside = report
        .networks
        .iter()
        .filter(|n| !n.peephole_notes.is_empty())
        .count();
    if outside > 0 {
        let _ = writeln!(
            out,
            "Peephole: {outside} of {} held-out networks have layers or lengths outside its training ranges (see peephole_notes in eval.json).",
            report.test
        );
    }
    // The card's numbers came from the training-time forward pass on the same networks; a
    // gap beyond float noise (the exported model runs in f32) means another model or split.
    if let (Some(ours), Some(card)) = (
        report.methods.iter().find(|m| m.id == "peephole"),
        report.card_metrics.iter().find(|m| m.method == "peephole"),
    ) && ours
        .mse
        .is_some_and(|mse| (mse - card.report.mse).abs() > 1e-3 * card.report.mse.max(1e-9))
    {
        let _ = writeln!(
            out,
            "Warning: the model card records MSE {:.6} for peephole on the same networks; this run measured {:.6}.",
            card.report.mse,
            ours.mse.unwrap_or(f64::NAN)
        );
    }
    out
}

/// The scatter plots (Figure 5), drawn into an RGB buffer and encoded as PNG.
mod plot {
    use super::{Report, Scale, Series, font};

    /// One panel's pixel size.
    const PANEL: usize = 400;
    /// Panels per row.
    const COLUMNS: usize = 3;

    type Rgb = [u8; 3];
    const BLACK: Rgb = [0, 0, 0];
    const GRID: Rgb = [228, 228, 228];
    const DIAGONAL: Rgb = [214, 39, 40];
    const POINT: Rgb = [31, 119, 180];
    const MUTED: Rgb = [90, 90, 90];

    /// An RGB image.
    pub struct Canvas {
        pub width: usize,
        pub height: usize,
        pub rgb: Vec<u8>,
    }

    impl Canvas {
        pub fn new(width: usize, height: usize) -> Self {
            Canvas {
                width,
                height,
                rgb: vec![255; width * height * 3],
            }
        }

        /// Mixes `color` into a pixel with opacity `alpha`; outside the image, nothing.
        fn blend(&mut self, x: i64, y: i64, color: Rgb, alpha: f64) {
            if x < 0 || y < 0 || x as usize >= self.width || y as usize >= self.height {
                return;
            }
            let at = (y as usize * self.width + x as usize) * 3;
            for (channel, &c) in color.iter().enumerate() {
                let old = f64::from(self.rgb[at + channel]);
                self.rgb[at + channel] = (old + (f64::from(c) - old) * alpha).round() as u8;
            }
        }

        fn put(&mut self, x: i64, y: i64, color: Rgb) {
            self.blend(x, y, color, 1.0);
        }

        #[cfg(test)]
        pub fn pixel(&self, x: usize, y: usize) -> Rgb {
            let at = (y * self.width + x) * 3;
            [self.rgb[at], self.rgb[at + 1], self.rgb[at + 2]]
        }

        /// Bresenham; `dash` > 0 draws `dash` pixels on, `dash` off.
        fn line(&mut self, from: (i64, i64), to: (i64, i64), color: Rgb, dash: i64) {
            let (mut x, mut y) = from;
            let (dx, dy) = ((to.0 - x).abs(), -(to.1 - y).abs());
            let (sx, sy) = (if x < to.0 { 1 } else { -1 }, if y < to.1 { 1 } else { -1 });
            let mut error = dx + dy;
            let mut step = 0;
            loop {
                if dash == 0 || (step / dash) % 2 == 0 {
                    self.put(x, y, color);
                }
                if (x, y) == to {
                    break;
                }
                step += 1;
                let e2 = 2 * error;
                if e2 >= dy {
                    error += dy;
                    x += sx;
                }
                if e2 <= dx {
                    error += dx;
                    y += sy;
                }
            }
        }

        fn disc(&mut self, cx: i64, cy: i64, radius: i64, color: Rgb, alpha: f64) {
            for y in -radius..=radius {
                for x in -radius..=radius {
                    if x * x + y * y <= radius * radius + radius {
                        self.blend(cx + x, cy + y, color, alpha);
                    }
                }
            }
        }

        /// Draws `text` with its top-left corner at (x, y); returns its width.
        fn text(&mut self, x: i64, y: i64, text: &str, scale: i64, color: Rgb) -> i64 {
            let mut pen = x;
            for c in text.chars() {
                for (row, bits) in font::glyph(c).iter().enumerate() {
                    for col in 0..font::WIDTH {
                        if bits & (1 << (font::WIDTH - 1 - col)) != 0 {
                            for dy in 0..scale {
                                for dx in 0..scale {
                                    self.put(
                                        pen + col as i64 * scale + dx,
                                        y + row as i64 * scale + dy,
                                        color,
                                    );
                                }
                            }
                        }
                    }
                }
                pen += font::ADVANCE as i64 * scale;
            }
            pen - x
        }

        pub fn png(&self) -> anyhow::Result<Vec<u8>> {
            let mut out = Vec::new();
            let mut encoder = png::Encoder::new(&mut out, self.width as u32, self.height as u32);
            encoder.set_color(png::ColorType::Rgb);
            encoder.set_depth(png::BitDepth::Eight);
            let mut writer = encoder.write_header()?;
            writer.write_image_data(&self.rgb)?;
            writer.finish()?;
            Ok(out)
        }
    }

    fn text_width(text: &str, scale: i64) -> i64 {
        (text.chars().count() * font::ADVANCE) as i64 * scale
    }

    /// Round tick positions covering `range`, about `target` of them, and the decimals their
    /// labels need.
    pub fn ticks(range: (f64, f64), target: usize) -> (Vec<f64>, usize) {
        let span = (range.1 - range.0).max(1e-12);
        let raw = span / target.max(1) as f64;
        let magnitude = 10f64.powf(raw.log10().floor());
        let step = magnitude
            * match raw / magnitude {
                n if n < 1.5 => 1.0,
                n if n < 3.0 => 2.0,
                n if n < 7.0 => 5.0,
                _ => 10.0,
            };
        let decimals = (-step.log10().floor()).max(0.0) as usize;
        let first = (range.0 / step).ceil() as i64;
        let last = (range.1 / step + 1e-9).floor() as i64;
        ((first..=last).map(|k| k as f64 * step).collect(), decimals)
    }

    /// The smallest and largest finite values, widened by 5% so no point sits on the frame.
    fn padded(values: impl Iterator<Item = f64>) -> (f64, f64) {
        let (lo, hi) = values
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
        if !lo.is_finite() {
            return (0.0, 1.0);
        }
        let pad = if hi > lo { 0.05 * (hi - lo) } else { 0.05 };
        (lo - pad, hi + pad)
    }

    fn short_title(id: &str, prefix: usize) -> String {
        match id {
            "peephole" => "PEEPHOLE".into(),
            "nu_svr" => format!("NU-SVR, EPOCHS 1-{prefix}"),
            "last_seen" => format!("LAST SEEN, EPOCH {prefix}"),
            "ulc_ridge" => "RIDGE ON ULC COUNTS".into(),
            "log_macs" => "LN MACS".into(),
            "log_params" => "LN PARAMS".into(),
            other => other.to_uppercase(),
        }
    }

    /// One panel per series: real final accuracy across, prediction up. Accuracy panels share
    /// one range on both axes, so y = x is the diagonal and panels compare at a glance; a
    /// ranker's score gets its own vertical range and no diagonal.
    pub fn scatter(report: &Report, series: &[Series]) -> anyhow::Result<Vec<u8>> {
        render(report, series).png()
    }

    pub fn render(report: &Report, series: &[Series]) -> Canvas {
        let columns = series.len().clamp(1, COLUMNS);
        let rows = series.len().div_ceil(COLUMNS).max(1);
        let mut canvas = Canvas::new(columns * PANEL, rows * PANEL);
        let scale_of = |id: &str| {
            report
                .methods
                .iter()
                .find(|m| m.id == id)
                .map_or(Scale::Accuracy, |m| m.scale)
        };
        let accuracy_range = padded(
            series
                .iter()
                .filter(|s| scale_of(&s.id) == Scale::Accuracy)
                .flat_map(|s| s.predicted.iter().chain(&s.actual).copied())
                .chain(series.iter().flat_map(|s| s.actual.iter().copied())),
        );
        for (index, s) in series.iter().enumerate() {
            let origin = (
                (index % COLUMNS * PANEL) as i64,
                (index / COLUMNS * PANEL) as i64,
            );
            let method = report.methods.iter().find(|m| m.id == s.id);
            let scale = scale_of(&s.id);
            let y_range = match scale {
                Scale::Accuracy => accuracy_range,
                Scale::RankOnly => padded(s.predicted.iter().copied()),
            };
            let fmt = |v: Option<f64>, d: usize| v.map_or("-".to_string(), |v| format!("{v:.d$}"));
            let subtitle = match (method, scale) {
                (Some(m), Scale::Accuracy) => format!(
                    "TAU {}  MSE {}  R^2 {}  N {}",
                    fmt(m.kendall_tau, 3),
                    fmt(m.mse, 5),
                    fmt(m.r2, 2),
                    m.n
                ),
                (Some(m), Scale::RankOnly) => {
                    format!(
                        "TAU {}  RHO {}  (RANK ONLY)  N {}",
                        fmt(m.kendall_tau, 3),
                        fmt(m.spearman, 3),
                        m.n
                    )
                }
                (None, _) => String::new(),
            };
            let y_label = match scale {
                Scale::Accuracy => "PREDICTED",
                Scale::RankOnly => "SCORE",
            };
            panel(
                &mut canvas,
                origin,
                &PanelSpec {
                    title: short_title(&s.id, report.baselines.prefix_epochs),
                    subtitle,
                    x_label: format!("REAL ACCURACY AT EPOCH {}", report.epochs),
                    y_label,
                    x_range: accuracy_range,
                    y_range,
                    diagonal: scale == Scale::Accuracy,
                },
                s,
            );
        }
        canvas
    }

    struct PanelSpec {
        title: String,
        subtitle: String,
        x_label: String,
        y_label: &'static str,
        x_range: (f64, f64),
        y_range: (f64, f64),
        diagonal: bool,
    }

    fn panel(canvas: &mut Canvas, (ox, oy): (i64, i64), spec: &PanelSpec, series: &Series) {
        let (left, right) = (ox + 60, ox + PANEL as i64 - 16);
        let (top, bottom) = (oy + 58, oy + PANEL as i64 - 44);
        let map_x = |v: f64| {
            left + ((v - spec.x_range.0) / (spec.x_range.1 - spec.x_range.0)
                * (right - left) as f64)
                .round() as i64
        };
        let map_y = |v: f64| {
            bottom
                - ((v - spec.y_range.0) / (spec.y_range.1 - spec.y_range.0) * (bottom - top) as f64)
                    .round() as i64
        };
        canvas.text(ox + 12, oy + 10, &spec.title, 2, BLACK);
        canvas.text(ox + 12, oy + 31, &spec.subtitle, 1, MUTED);
        canvas.text(left, top - 12, spec.y_label, 1, MUTED);
        let (x_ticks, x_decimals) = ticks(spec.x_range, 5);
        for t in &x_ticks {
            let x = map_x(*t);
            canvas.line((x, top), (x, bottom), GRID, 0);
            let label = format!("{t:.x_decimals$}");
            canvas.text(x - text_width(&label, 1) / 2, bottom + 6, &label, 1, BLACK);
        }
        let (y_ticks, y_decimals) = ticks(spec.y_range, 5);
        for t in &y_ticks {
            let y = map_y(*t);
            canvas.line((left, y), (right, y), GRID, 0);
            let label = format!("{t:.y_decimals$}");
            canvas.text(left - 5 - text_width(&label, 1), y - 3, &label, 1, BLACK);
        }
        canvas.text(
            (left + right) / 2 - text_width(&spec.x_label, 1) / 2,
            bottom + 22,
            &spec.x_label,
            1,
            MUTED,
        );
        if spec.diagonal {
            let lo = spec.x_range.0.max(spec.y_range.0);
            let hi = spec.x_range.1.min(spec.y_range.1);
            if hi > lo {
                canvas.line((map_x(lo), map_y(lo)), (map_x(hi), map_y(hi)), DIAGONAL, 4);
            }
        }
        for (&x, &y) in series.actual.iter().zip(&series.predicted) {
            if x.is_finite() && y.is_finite() {
                canvas.disc(map_x(x), map_y(y), 3, POINT, 0.65);
            }
        }
        // Frame last, so points on the edge do not hide it.
        canvas.line((left, top), (right, top), BLACK, 0);
        canvas.line((left, bottom), (right, bottom), BLACK, 0);
        canvas.line((left, top), (left, bottom), BLACK, 0);
        canvas.line((right, top), (right, bottom), BLACK, 0);
    }
}

/// A 5x7 bitmap font (upper case, digits, the punctuation the plot writes), so the plot needs
/// no font files or system libraries. Lower case is drawn as upper case.
mod font {
    /// Glyph width in pixels.
    pub const WIDTH: usize = 5;
    /// Horizontal advance per character (one pixel of spacing).
    pub const ADVANCE: usize = 6;

    /// Rows of a glyph, top first; bit 4 is the leftmost pixel. Unknown characters draw `?`.
    pub fn glyph(c: char) -> [u8; 7] {
        lookup(c.to_ascii_uppercase()).unwrap_or([0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04])
    }

    /// Whether `c` has a glyph of its own (not the `?` fallback).
    #[cfg(test)]
    pub fn has_glyph(c: char) -> bool {
        lookup(c.to_ascii_uppercase()).is_some()
    }

    fn lookup(c: char) -> Option<[u8; 7]> {
        Some(match c {
            ' ' => [0, 0, 0, 0, 0, 0, 0],
            '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
            '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
            '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
            '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
            '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
            '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
            '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
            '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
            '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
            '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
            'A' => [0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11],
            'B' => [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
            'C' => [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E],
            'D' => [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C],
            'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
            'F' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
            'G' => [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F],
            'H' => [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
            'I' => [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
            'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
            'K' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
            'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
            'M' => [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
            'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
            'O' => [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
            'P' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
            'Q' => [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D],
            'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
            'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
            'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
            'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
            'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
            'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
            'X' => [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
            'Y' => [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04],
            'Z' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
            '.' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C],
            ',' => [0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08],
            '-' => [0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00],
            '+' => [0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00],
            '=' => [0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00],
            ':' => [0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00],
            '(' => [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02],
            ')' => [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
            '/' => [0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00],
            '^' => [0x04, 0x0A, 0x11, 0x00, 0x00, 0x00, 0x00],
            '%' => [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03],
            '_' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F],
            '?' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04],
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use peephole_core::generator::{self, Skeleton};
    use peephole_core::metrics::Report as MetricsReport;
    use peephole_core::predictor::{Ranges, SplitInfo};
    use peephole_core::ulc;

    use super::*;

    /// A record whose final accuracy grows with its first epoch (so curve baselines have
    /// something to learn).
    fn record(index: u64) -> ZooRecord {
        let generated = generator::network_at(Skeleton::FmnistV1, 5, index);
        let codes = ulc::encode(&generated.network)
            .expect("generated networks encode")
            .codes;
        let first = 0.4 + 0.4 * ((index * 37 % 23) as f64 / 23.0);
        let last = (first + 0.1 + 0.3 * (1.0 - first) * first).min(0.99);
        let curve = (0..8)
            .map(|e| first + (last - first) * f64::from(e) / 7.0)
            .collect();
        ZooRecord {
            id: format!("s5-{index}"),
            protocol: "fmnist-budget-v1".into(),
            ulc_version: ulc::ULC_VERSION.into(),
            generator: "generator-v1/fmnist-v1".into(),
            skeleton: "fmnist-v1".into(),
            block: generated.block.to_string(),
            text: generated.network.to_string(),
            network: generated.network,
            ulc: codes,
            ulc_clamps: Vec::new(),
            seed: index,
            curve,
            train_loss: vec![Some(1.0); 8],
            params: generated.params,
            macs: generated.macs,
            wall_seconds: 1.0,
            device: "cpu".into(),
            diverged: false,
            tool_version: "test".into(),
        }
    }

    fn card(test_ids: &[&str]) -> ModelCard {
        ModelCard {
            format: peephole_core::predictor::PREDICTOR_FORMAT.into(),
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
                test: test_ids.len(),
                test_ids: test_ids.iter().map(|s| s.to_string()).collect(),
            },
            ranges: Ranges {
                sequence_length: (1, 50),
                codes_seen: [vec![], vec![], vec![], vec![]],
                accuracy_percentiles: vec![],
            },
            metrics: Vec::new(),
            command: String::new(),
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

    fn zoo(n: u64) -> Vec<(String, Vec<ZooRecord>)> {
        vec![("a.jsonl".into(), (0..n).map(record).collect())]
    }

    const HELD_OUT: [&str; 6] = ["s5-3", "s5-7", "s5-11", "s5-15", "s5-19", "s5-23"];

    #[test]
    fn split_holds_out_exactly_the_card_ids_in_card_order() {
        let sources = zoo(30);
        let split = split_by_card(&card(&["s5-9", "s5-2"]), &sources).unwrap();
        let test: Vec<&str> = split.test.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(test, ["s5-9", "s5-2"]);
        assert_eq!(split.train.len(), 28);
        assert!(split.train.iter().all(|r| r.id != "s5-9" && r.id != "s5-2"));
    }

    #[test]
    fn split_refuses_a_zoo_without_the_held_out_networks() {
        let sources = zoo(10);
        let error = split_by_card(&card(&["s5-1", "s5-99"]), &sources)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("lack 1 of model test-model's 2 held-out networks (first: s5-99)"),
            "{error}"
        );
    }

    #[test]
    fn split_refuses_another_protocol_and_duplicate_ids() {
        let mut sources = zoo(10);
        sources[0].1[4].protocol = "mnist-paper".into();
        let error = split_by_card(&card(&["s5-1"]), &sources)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("network s5-4 was trained under protocol mnist-paper"),
            "{error}"
        );
        let twice = vec![
            ("a.jsonl".to_string(), vec![record(1)]),
            ("b.jsonl".to_string(), vec![record(1)]),
        ];
        let error = split_by_card(&card(&["s5-1"]), &twice)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("s5-1 occurs twice (in a.jsonl and in b.jsonl)"),
            "{error}"
        );
    }

    #[test]
    fn evaluation_scores_every_method_on_the_held_out_networks() {
        let sources = zoo(36);
        let card = card(&HELD_OUT);
        let split = split_by_card(&card, &sources).unwrap();
        let oracle = Oracle;
        let evaluation = evaluate(
            &card,
            Some(&oracle),
            &split,
            &BaselineOptions::for_epochs(8),
        )
        .unwrap();
        let report = &evaluation.report;
        let ids: Vec<&str> = report.methods.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "peephole",
                "nu_svr",
                "last_seen",
                "ulc_ridge",
                "log_macs",
                "log_params"
            ]
        );
        let peephole = &report.methods[0];
        assert_eq!(peephole.kendall_tau, Some(1.0));
        assert!((peephole.mse.unwrap() - 1e-4).abs() < 1e-12, "{peephole:?}");
        assert!(report.methods.iter().all(|m| m.n == HELD_OUT.len()));
        let ranker = &report.methods[4];
        assert_eq!((ranker.mse, ranker.r2), (None, None));
        assert!(ranker.kendall_tau.is_some());
        // The per-network rows hold every method's prediction for exactly the held-out ids.
        let rows: Vec<&str> = report.networks.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(rows, HELD_OUT);
        assert_eq!(report.networks[0].predictions.len(), 6);
        assert_eq!(
            report.networks[0].predictions["last_seen"],
            record(3).curve[1]
        );
        assert_eq!(report.networks[0].peephole_spread, Some(0.02));
        assert_eq!(report.baselines.train, 30);
        // The table has the paper's columns and marks the rankers' MSE as not applicable.
        let table = markdown(report);
        assert!(
            table.starts_with("| method | MSE | Kendall tau | R^2 | Spearman | n |\n"),
            "{table}"
        );
        assert!(
            table.contains("| log MACs (ranker) | n/a (ranker) |"),
            "{table}"
        );
        assert!(
            table.contains("| Peephole (architecture only) | 0.00010 | 1.000 |"),
            "{table}"
        );
    }

    #[test]
    fn baselines_alone_are_evaluated_without_a_model() {
        let sources = zoo(36);
        let card = card(&HELD_OUT);
        let split = split_by_card(&card, &sources).unwrap();
        let evaluation = evaluate(&card, None, &split, &BaselineOptions::for_epochs(8)).unwrap();
        assert_eq!(evaluation.report.methods.len(), 5);
        assert_eq!(evaluation.series.len(), 5);
    }

    #[test]
    fn table_warns_when_the_card_disagrees_with_the_measured_peephole_numbers() {
        let sources = zoo(36);
        let mut card = card(&HELD_OUT);
        card.metrics.push(MethodMetrics {
            method: "peephole".into(),
            report: MetricsReport {
                mse: 0.5,
                r2: 0.0,
                kendall_tau: 0.0,
                spearman: 0.0,
                n: 6,
            },
        });
        let split = split_by_card(&card, &sources).unwrap();
        let oracle = Oracle;
        let evaluation = evaluate(
            &card,
            Some(&oracle),
            &split,
            &BaselineOptions::for_epochs(8),
        )
        .unwrap();
        assert!(
            markdown(&evaluation.report).contains("Warning: the model card records MSE 0.500000")
        );
    }

    #[test]
    fn scatter_is_a_png_with_one_panel_per_method_and_a_red_diagonal() {
        let sources = zoo(36);
        let card = card(&HELD_OUT);
        let split = split_by_card(&card, &sources).unwrap();
        let oracle = Oracle;
        let evaluation = evaluate(
            &card,
            Some(&oracle),
            &split,
            &BaselineOptions::for_epochs(8),
        )
        .unwrap();
        let bytes = plot::scatter(&evaluation.report, &evaluation.series).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(&bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buffer).unwrap();
        // 6 methods: 3 columns by 2 rows of 400 px.
        assert_eq!((info.width, info.height), (1200, 800));
        let canvas = plot::render(&evaluation.report, &evaluation.series);
        let red = |x: usize, y: usize| canvas.pixel(x, y) == [214, 39, 40];
        // The diagonal of the first panel crosses its plot area; the rankers' panels have none.
        let count_red = |x0: usize, y0: usize| {
            (y0..y0 + 400)
                .flat_map(|y| (x0..x0 + 400).map(move |x| (x, y)))
                .filter(|&(x, y)| red(x, y))
                .count()
        };
        assert!(count_red(0, 0) > 100, "{}", count_red(0, 0));
        assert_eq!(count_red(400, 400), 0);
    }

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        let (t, decimals) = plot::ticks((0.612, 0.918), 5);
        assert_eq!(decimals, 2);
        assert_eq!(t.first().map(|v| (v * 100.0).round()), Some(65.0));
        assert_eq!(t.last().map(|v| (v * 100.0).round()), Some(90.0));
        assert!(
            t.windows(2).all(|w| ((w[1] - w[0]) - 0.05).abs() < 1e-9),
            "{t:?}"
        );
        let (t, decimals) = plot::ticks((11.2, 16.9), 5);
        assert_eq!((decimals, t), (0, vec![12.0, 13.0, 14.0, 15.0, 16.0]));
    }

    #[test]
    fn every_character_the_plot_writes_has_a_glyph() {
        let text = "PEEPHOLE NU-SVR, EPOCHS 1-2 LAST SEEN, EPOCH 2 RIDGE ON ULC COUNTS LN MACS LN PARAMS \
                    TAU 0.123 MSE 0.00456 R^2 -0.78 N 12 RHO (RANK ONLY) PREDICTED SCORE REAL ACCURACY AT EPOCH 8";
        let missing: Vec<char> = text.chars().filter(|&c| !font::has_glyph(c)).collect();
        assert!(missing.is_empty(), "{missing:?}");
        // Every glyph fits in 5 columns, and distinct characters look distinct.
        let all: Vec<char> = (' '..='~')
            .filter(|&c| font::has_glyph(c) && !c.is_ascii_lowercase())
            .collect();
        for (i, &a) in all.iter().enumerate() {
            assert!(font::glyph(a).iter().all(|row| row < &32), "{a}");
            for &b in &all[i + 1..] {
                assert_ne!(font::glyph(a), font::glyph(b), "{a} and {b} look the same");
            }
        }
    }
}

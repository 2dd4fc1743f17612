//! The numbers of an evaluation (`eval.json`): every method's metrics per slice with bootstrap
//! intervals, Peephole's tau against the best baselines, seed-to-seed agreement, the lint's
//! threshold as a classifier, and every scored network's predictions; and [`evaluate`], which
//! computes them.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use peephole_baselines::gbt::GbtSelection;
use peephole_baselines::{
    BaselineError, BaselineOptions, FittedBaselines, Method, RidgeSelection, Scale, SvrSelection,
    features,
};
use peephole_metrics as metrics;
use peephole_metrics::bootstrap::{Bootstrap, Interval, interval, pick};
use peephole_predictor::verdict::DEFAULT_THRESHOLD_PERCENTILE;
use peephole_predictor::{ModelCard, Predictor, PredictorError};
use peephole_zoo::ZooRecord;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::inputs::Seen;
use crate::slices::Slice;
use crate::split::{Side, Split, architecture_text};

/// Why an evaluation stopped. Each variant names the network or step that failed.
#[derive(Debug, Error)]
pub enum EvaluateError {
    /// A record the split file does not place (the inputs were not checked against it).
    #[error("network {id} is not in the split file")]
    NotInSplit {
        /// The network.
        id: String,
    },
    /// A scored network without the protocol's final accuracy.
    #[error("scored network {id}: {source}")]
    Accuracy {
        /// The network.
        id: String,
        /// What its curve lacks.
        source: BaselineError,
    },
    /// The baselines could not be fitted on the train side.
    #[error("fitting the baselines on the split's train side: {source}")]
    Fit {
        /// Why.
        source: BaselineError,
    },
    /// A fitted baseline could not predict the scored networks.
    #[error("baseline {method} on the scored networks: {source}")]
    Baseline {
        /// The baseline's id.
        method: &'static str,
        /// Why (names the network).
        source: BaselineError,
    },
    /// The model under evaluation could not predict the scored networks.
    #[error("predicting the scored networks: {source}")]
    Predict {
        /// Why.
        source: PredictorError,
    },
    /// The model under evaluation answered for fewer (or more) networks than asked.
    #[error("the predictor answered {answered} of {asked} networks")]
    Answered {
        /// Predictions returned.
        answered: usize,
        /// Networks asked for.
        asked: usize,
    },
}

/// Why a committed evaluation report cannot be read.
#[derive(Debug, Error)]
pub enum ReadReportError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The report file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a report of this build's shape.
    #[error("{path} is not an evaluation report (eval.json): {source}")]
    NotReport {
        /// The report file.
        path: PathBuf,
        /// Where it differs.
        source: serde_json::Error,
    },
}

/// What an evaluation needs from the model under evaluation, so that the comparison (and its
/// tests) does not depend on a model file.
pub trait FinalPredictor {
    /// Predicted accuracy at the card's last epoch for each network, in order.
    ///
    /// # Errors
    ///
    /// The model's own, for a network it cannot read.
    fn predict_final(
        &self,
        networks: &[&ZooRecord],
    ) -> Result<Vec<FinalPrediction>, PredictorError>;
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

impl FinalPredictor for Predictor {
    fn predict_final(
        &self,
        networks: &[&ZooRecord],
    ) -> Result<Vec<FinalPrediction>, PredictorError> {
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

/// Everything [`evaluate`] reads besides the model.
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
    /// A committed `eval.json`, as `cargo xtask eval` wrote it.
    ///
    /// # Errors
    ///
    /// [`ReadReportError::Io`], [`ReadReportError::NotReport`].
    pub fn read(path: &Path) -> Result<Report, ReadReportError> {
        let text = std::fs::read_to_string(path).map_err(|source| ReadReportError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| ReadReportError::NotReport {
            path: path.to_path_buf(),
            source,
        })
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
/// The method id of the model under evaluation in [`NetworkResult::predictions`].
pub const PEEPHOLE_ID: &str = "peephole";

/// Label of the Peephole row.
pub(crate) const PEEPHOLE_LABEL: &str = "Peephole (architecture only)";

/// Fits the baselines on the split's train side (trees: setting on validation), predicts every
/// scored network (test side and reference set, minus the architectures the model saw) with
/// every method, and scores each slice. `predictor = None` evaluates the baselines alone.
///
/// # Errors
///
/// [`EvaluateError`] names the network or the step that failed.
pub fn evaluate(
    card: &ModelCard,
    predictor: Option<&dyn FinalPredictor>,
    inputs: &Inputs<'_>,
) -> Result<Evaluation, EvaluateError> {
    let by_side = records_by_side(inputs)?;
    let take = |side| by_side.get(&side).cloned().unwrap_or_default();
    let (train, validation) = (take(Side::Train), take(Side::Validation));
    let fitted = FittedBaselines::fit(&train, &validation, inputs.options)
        .map_err(|source| EvaluateError::Fit { source })?;
    let prefix = fitted.prefix_epochs();
    let (scored, excluded) = scored_networks(inputs, card.epochs as usize)?;
    let records: Vec<&ZooRecord> = scored.iter().map(|n| n.record).collect();
    let actual: Vec<f64> = scored.iter().map(|n| n.actual).collect();
    let (columns, peephole) = predict_columns(predictor, &fitted, &records)?;
    // The accuracy the lint warns below by default, from the card's zoo percentiles.
    let threshold = (!card.ranges.accuracy_percentiles.is_empty())
        .then(|| card.ranges.accuracy_at(DEFAULT_THRESHOLD_PERCENTILE));
    let scored_set = ScoredSet {
        records: &records,
        actual: &actual,
        columns: &columns,
        threshold,
    };
    let slices = Slice::ALL
        .into_iter()
        .map(|slice| {
            let members: Vec<usize> = (0..scored.len())
                .filter(|&i| scored[i].is_in(slice))
                .collect();
            let excluded_seen = excluded.iter().filter(|n| n.is_in(slice)).count();
            score_slice(slice, &members, excluded_seen, &scored_set, inputs)
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
        baselines: baseline_fit(&fitted, train.len(), validation.len(), inputs.options),
        slices,
        networks: network_results(&scored, &columns, &peephole, inputs.second_runs),
    };
    Ok(Evaluation {
        report,
        plot: plot_summary(&columns, &actual, prefix, card.epochs),
        series: columns
            .iter()
            .map(|column| Series {
                id: column.id.clone(),
                predicted: column.predicted.clone(),
                actual: actual.clone(),
            })
            .collect(),
    })
}

/// Every record on its side of the split, in record order within a side.
fn records_by_side<'a>(
    inputs: &Inputs<'a>,
) -> Result<BTreeMap<Side, Vec<&'a ZooRecord>>, EvaluateError> {
    let mut by_side: BTreeMap<Side, Vec<&ZooRecord>> = BTreeMap::new();
    for &record in inputs.records {
        let side = inputs
            .split
            .side_of(record)
            .ok_or_else(|| EvaluateError::NotInSplit {
                id: record.id.clone(),
            })?;
        by_side.entry(side).or_default().push(record);
    }
    Ok(by_side)
}

/// A network that may be scored: a test-side or evaluation-only one.
struct Candidate<'a> {
    record: &'a ZooRecord,
    side: Side,
    /// Its real final accuracy.
    actual: f64,
}

impl Candidate<'_> {
    fn is_in(&self, slice: Slice) -> bool {
        slice.contains(&self.record.generator, self.side, self.actual)
    }
}

/// The test-side and evaluation-only networks in record order, split into those scored and
/// those left out because the model saw their architecture.
fn scored_networks<'a>(
    inputs: &Inputs<'a>,
    epochs: usize,
) -> Result<(Vec<Candidate<'a>>, Vec<Candidate<'a>>), EvaluateError> {
    let mut scored = Vec::new();
    let mut excluded = Vec::new();
    for &record in inputs.records {
        let Some(side) = inputs.split.side_of(record) else {
            continue;
        };
        if !matches!(side, Side::Test | Side::Evaluation) {
            continue;
        }
        let actual =
            features::final_accuracy(record, epochs).map_err(|source| EvaluateError::Accuracy {
                id: record.id.clone(),
                source,
            })?;
        let candidate = Candidate {
            record,
            side,
            actual,
        };
        if inputs
            .seen
            .architectures
            .contains(&architecture_text(record))
        {
            excluded.push(candidate);
        } else {
            scored.push(candidate);
        }
    }
    Ok((scored, excluded))
}

/// One method's predictions for every scored network.
struct Column {
    /// [`MethodResult::id`].
    id: String,
    /// [`MethodResult::label`].
    label: String,
    scale: Scale,
    uses_curve: bool,
    /// In scored order.
    predicted: Vec<f64>,
}

/// Every method's predictions for `records` (Peephole first, when there is a model), and
/// the model's own predictions with their spreads and notes.
fn predict_columns(
    predictor: Option<&dyn FinalPredictor>,
    fitted: &FittedBaselines,
    records: &[&ZooRecord],
) -> Result<(Vec<Column>, Vec<FinalPrediction>), EvaluateError> {
    let mut columns = Vec::new();
    let mut peephole = Vec::new();
    if let Some(predictor) = predictor {
        peephole = predictor
            .predict_final(records)
            .map_err(|source| EvaluateError::Predict { source })?;
        if peephole.len() != records.len() {
            return Err(EvaluateError::Answered {
                answered: peephole.len(),
                asked: records.len(),
            });
        }
        columns.push(Column {
            id: PEEPHOLE_ID.into(),
            label: PEEPHOLE_LABEL.into(),
            scale: Scale::Accuracy,
            uses_curve: false,
            predicted: peephole.iter().map(|p| p.mean).collect(),
        });
    }
    for method in Method::ALL {
        columns.push(Column {
            id: method.id().into(),
            label: method.label(fitted.prefix_epochs()),
            scale: method.scale(),
            uses_curve: method.uses_curve(),
            predicted: fitted.predict_all(method, records).map_err(|source| {
                EvaluateError::Baseline {
                    method: method.id(),
                    source,
                }
            })?,
        });
    }
    Ok((columns, peephole))
}

/// What the baselines chose when fitted on `train` networks (`validation` for the trees).
fn baseline_fit(
    fitted: &FittedBaselines,
    train: usize,
    validation: usize,
    options: &BaselineOptions,
) -> BaselineFit {
    BaselineFit {
        train,
        validation,
        prefix_epochs: fitted.prefix_epochs(),
        folds: options.folds,
        seed: options.seed,
        svr: *fitted.svr_selection(),
        svr_support_vectors: fitted.svr().support_vectors(),
        svr_tube: fitted.svr().tube_width(),
        ridge: *fitted.ridge_selection(),
        gbt: *fitted.gbt_selection(),
    }
}

/// Every scored network with every method's prediction.
fn network_results(
    scored: &[Candidate<'_>],
    columns: &[Column],
    peephole: &[FinalPrediction],
    second_runs: &HashMap<String, f64>,
) -> Vec<NetworkResult> {
    scored
        .iter()
        .enumerate()
        .map(|(i, n)| NetworkResult {
            id: n.record.id.clone(),
            generator: n.record.generator.clone(),
            side: n.side,
            actual: n.actual,
            second_run: second_runs.get(&n.record.id).copied(),
            predictions: columns
                .iter()
                .map(|c| (c.id.clone(), c.predicted[i]))
                .collect(),
            peephole_spread: peephole.get(i).map(|p| p.spread),
            peephole_notes: peephole.get(i).map(|p| p.notes.clone()).unwrap_or_default(),
        })
        .collect()
}

/// The plot's panels: every method on all scored networks of every slice.
fn plot_summary(columns: &[Column], actual: &[f64], prefix: usize, epochs: u32) -> PlotSummary {
    PlotSummary {
        methods: columns
            .iter()
            .map(|column| {
                let (p, a) = (column.predicted.as_slice(), actual);
                let accuracy = column.scale == Scale::Accuracy;
                PlotMethod {
                    id: column.id.clone(),
                    scale: column.scale,
                    kendall_tau: metrics::kendall_tau_b(p, a).ok(),
                    mse: accuracy.then(|| metrics::mse(p, a).ok()).flatten(),
                    r2: accuracy.then(|| metrics::r_squared(p, a).ok()).flatten(),
                    spearman: metrics::spearman(p, a).ok(),
                    n: p.len(),
                }
            })
            .collect(),
        prefix_epochs: prefix,
        epochs,
    }
}

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

/// A metric of predictions against real accuracies.
type Metric = fn(&[f64], &[f64]) -> Result<f64, metrics::MetricError>;

/// `metric` on the slice with its interval over `draws`; `None` where it is undefined.
fn estimate(
    metric: Metric,
    predicted: &[f64],
    real: &[f64],
    draws: &[Vec<usize>],
) -> Option<Estimate> {
    metric(predicted, real).ok().map(|value| Estimate {
        value,
        interval: interval(draws, |d| metric(&pick(predicted, d), &pick(real, d)).ok()),
    })
}

/// The networks of a slice that a second training run covers.
struct Pairs {
    /// Their positions among the slice's members.
    members: Vec<usize>,
    /// First run's final accuracy.
    first: Vec<f64>,
    /// Second run's.
    second: Vec<f64>,
    /// The mean of the two.
    mean: Vec<f64>,
}

impl Pairs {
    /// The pairs among `members` (indices into `records`), with `real` their first runs.
    fn of(
        members: &[usize],
        records: &[&ZooRecord],
        real: &[f64],
        second_runs: &HashMap<String, f64>,
    ) -> Pairs {
        let paired: Vec<usize> = (0..members.len())
            .filter(|&k| second_runs.contains_key(&records[members[k]].id))
            .collect();
        let second: Vec<f64> = paired
            .iter()
            .map(|&k| second_runs[&records[members[k]].id])
            .collect();
        let first: Vec<f64> = paired.iter().map(|&k| real[k]).collect();
        let mean = first
            .iter()
            .zip(&second)
            .map(|(a, b)| (a + b) / 2.0)
            .collect();
        Pairs {
            members: paired,
            first,
            second,
            mean,
        }
    }
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
    let real: Vec<f64> = members.iter().map(|&i| scored.actual[i]).collect();
    let draws = inputs.bootstrap.draws(members.len());
    let pairs = Pairs::of(members, scored.records, &real, inputs.second_runs);
    let mut methods = Vec::new();
    let mut by_id: HashMap<&str, Vec<f64>> = HashMap::new();
    for column in scored.columns {
        let predicted: Vec<f64> = members.iter().map(|&i| column.predicted[i]).collect();
        methods.push(method_result(column, &predicted, &real, &draws, &pairs));
        by_id.insert(column.id.as_str(), predicted);
    }
    let on_slice = SliceScores {
        real: &real,
        draws: &draws,
        methods: &methods,
        by_id: &by_id,
    };
    SliceReport {
        id: slice.id().into(),
        label: slice.label(),
        n: members.len(),
        excluded_seen,
        peephole_minus_best_architecture_only: on_slice.peephole_minus_best(false),
        peephole_minus_best_any: on_slice.peephole_minus_best(true),
        seed_agreement: (!pairs.members.is_empty()).then(|| SeedAgreement {
            n: pairs.members.len(),
            kendall_tau: metrics::kendall_tau_b(&pairs.first, &pairs.second).ok(),
        }),
        threshold: scored
            .threshold
            .zip(by_id.get(PEEPHOLE_ID))
            .filter(|_| !real.is_empty())
            .map(|(accuracy, ours)| threshold_report(ours, &real, accuracy, &draws)),
        methods,
    }
}

/// One method's row of a slice: its metrics on the slice's `predicted` against `real`.
fn method_result(
    column: &Column,
    predicted: &[f64],
    real: &[f64],
    draws: &[Vec<usize>],
    pairs: &Pairs,
) -> MethodResult {
    let mut notes = Vec::new();
    let kendall_tau = estimate(metrics::kendall_tau_b, predicted, real, draws);
    let spearman = estimate(metrics::spearman, predicted, real, draws);
    let (mse, r2) = match column.scale {
        Scale::Accuracy => (
            estimate(metrics::mse, predicted, real, draws),
            estimate(metrics::r_squared, predicted, real, draws),
        ),
        Scale::RankOnly => (None, None),
    };
    if kendall_tau.is_none() && !predicted.is_empty() {
        notes.push("Kendall tau undefined (a constant prediction or a constant slice)".into());
    }
    let on_pairs: Vec<f64> = pairs.members.iter().map(|&k| predicted[k]).collect();
    MethodResult {
        id: column.id.clone(),
        label: column.label.clone(),
        scale: column.scale,
        uses_curve: column.uses_curve,
        mse,
        kendall_tau,
        spearman,
        r2,
        kendall_tau_vs_mean_of_runs: metrics::kendall_tau_b(&on_pairs, &pairs.mean).ok(),
        n: predicted.len(),
        notes,
    }
}

/// A slice's methods and predictions, for the differences of taus.
struct SliceScores<'a> {
    real: &'a [f64],
    draws: &'a [Vec<usize>],
    methods: &'a [MethodResult],
    by_id: &'a HashMap<&'a str, Vec<f64>>,
}

impl SliceScores<'_> {
    /// Peephole's tau minus the best baseline's by tau on the slice (those that read the curve
    /// too when `allow_curve`), with its interval on the same resamples.
    fn peephole_minus_best(&self, allow_curve: bool) -> Option<Difference> {
        let ours = self.by_id.get(PEEPHOLE_ID)?;
        let best = self
            .methods
            .iter()
            .filter(|m| m.id != PEEPHOLE_ID && (allow_curve || !m.uses_curve))
            .filter_map(|m| m.kendall_tau.map(|t| (m, t.value)))
            .max_by(|a, b| a.1.total_cmp(&b.1))?
            .0;
        let theirs = &self.by_id[best.id.as_str()];
        let tau =
            |p: &[f64], d: &[usize]| metrics::kendall_tau_b(&pick(p, d), &pick(self.real, d)).ok();
        let all: Vec<usize> = (0..self.real.len()).collect();
        Some(Difference {
            baseline: best.id.clone(),
            value: tau(ours, &all)? - tau(theirs, &all)?,
            interval: interval(self.draws, |d| Some(tau(ours, d)? - tau(theirs, d)?)),
        })
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::markdown::markdown;
    use crate::testing::{run_on, zoo};

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
    fn a_report_reads_back_from_its_json_unchanged() {
        let records = zoo();
        let (_, evaluation) = run_on(&records, &Seen::default(), &HashMap::new());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("eval.json");
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&evaluation.report).unwrap(),
        )
        .unwrap();
        let read = Report::read(&path).unwrap();
        assert_eq!(read, evaluation.report);
        assert_eq!(markdown(&read), markdown(&evaluation.report));
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
}

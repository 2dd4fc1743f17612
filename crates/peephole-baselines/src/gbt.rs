//! Gradient-boosted trees on per-network architecture features: the strongest "architecture
//! only" baseline Peephole has to beat. It sees the same information Peephole sees
//! (the network, no training), summarised per network instead of per layer, so beating it
//! shows that reading the layer sequence adds something.
//!
//! The learner is `forust-ml` (pure Rust, no native library). Hyper-parameters are chosen on
//! the validation side of the split ([`fit_gbt`]); the model kept is the one fitted on the
//! training side alone.

use forust_ml::objective::ObjectiveType;
use forust_ml::{GradientBooster, Matrix};
use peephole_ir::{Layer, LayerKind};
use peephole_zoo::ZooRecord;
use serde::{Deserialize, Serialize};

use crate::BaselineError;

/// Names of [`architecture_features`], in column order.
pub fn feature_names() -> Vec<String> {
    let mut names: Vec<String> = [
        "depth",
        "ln_macs",
        "ln_params",
        "log2_width_min",
        "log2_width_max",
        "log2_width_mean",
        "log2_width_first",
        "log2_width_last",
        "min_width_ratio",
        "kernel_side_max",
        "kernel_area_mean",
        "kernels_1x1",
        "kernels_5_or_more",
        "strided_convs",
        "bn_after_conv",
        "activation_after_conv_or_bn",
        "convs_without_activation",
        "log2_final_side",
        "log2_final_channels",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    names.extend(
        LayerKind::ALL
            .iter()
            .map(|k| format!("count_{}", format!("{k:?}").to_lowercase())),
    );
    names
}

/// One network's features: depth, MACs, params, conv widths and their narrowest ratio,
/// kernels, strides, where batch norms and activations sit, the feature map entering the
/// head, and the count of each layer kind.
///
/// # Errors
///
/// [`BaselineError::InvalidParameter`] naming `network` when the record's network has no
/// valid shapes (such a record cannot have trained).
pub fn architecture_features(record: &ZooRecord) -> Result<Vec<f64>, BaselineError> {
    let network = &record.network;
    let analysis = network
        .analyze()
        .map_err(|_| BaselineError::InvalidParameter {
            name: "network",
            value: f64::NAN,
            expected: "a network whose shapes infer",
        })?;
    let log2 = |v: u32| f64::from(v.max(1)).log2();
    let mut widths = Vec::new();
    let mut ratios = Vec::new();
    let mut kernel_sides = Vec::new();
    let mut kernel_areas = Vec::new();
    let (mut strided, mut bn_after_conv, mut act_after, mut no_act) = (0.0, 0.0, 0.0, 0.0);
    let layers = &network.layers;
    let is_activation = |l: Option<&Layer>| {
        l.is_some_and(|l| {
            matches!(
                l.kind(),
                LayerKind::Relu | LayerKind::Sigmoid | LayerKind::Tanh
            )
        })
    };
    for (i, layer) in layers.iter().enumerate() {
        if let Layer::Conv {
            kernel,
            out_channels,
            stride,
            ..
        } = layer
        {
            widths.push(log2(*out_channels));
            let input = analysis.layers[i].input.channels.max(1);
            ratios.push(f64::from(*out_channels) / f64::from(input));
            kernel_sides.push(f64::from(kernel.width.max(kernel.height)));
            kernel_areas.push(f64::from(kernel.width * kernel.height));
            if *stride > 1 {
                strided += 1.0;
            }
            let next = layers.get(i + 1);
            let bn = next.is_some_and(|l| l.kind() == LayerKind::BatchNorm);
            if bn {
                bn_after_conv += 1.0;
            }
            let after = if bn { layers.get(i + 2) } else { next };
            if is_activation(after) {
                act_after += 1.0;
            } else {
                no_act += 1.0;
            }
        }
    }
    let stat = |v: &[f64], f: fn(f64, f64) -> f64, empty: f64| {
        v.iter().copied().reduce(f).unwrap_or(empty)
    };
    let mean = |v: &[f64]| {
        if v.is_empty() {
            0.0
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    let mut row = vec![
        layers.len() as f64,
        (record.macs as f64).ln_1p(),
        (record.params as f64).ln_1p(),
        stat(&widths, f64::min, 0.0),
        stat(&widths, f64::max, 0.0),
        mean(&widths),
        widths.first().copied().unwrap_or(0.0),
        widths.last().copied().unwrap_or(0.0),
        stat(&ratios, f64::min, 1.0),
        stat(&kernel_sides, f64::max, 0.0),
        mean(&kernel_areas),
        kernel_sides.iter().filter(|&&s| s == 1.0).count() as f64,
        kernel_sides.iter().filter(|&&s| s >= 5.0).count() as f64,
        strided,
        bn_after_conv,
        act_after,
        no_act,
        log2(analysis.features.height.max(analysis.features.width)),
        log2(analysis.features.channels),
    ];
    row.extend(
        LayerKind::ALL
            .iter()
            .map(|&k| layers.iter().filter(|l| l.kind() == k).count() as f64),
    );
    Ok(row)
}

/// One setting of the trees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GbtParams {
    /// Boosting rounds.
    pub iterations: usize,
    /// Shrinkage per round.
    pub learning_rate: f32,
    /// Depth of each tree.
    pub max_depth: usize,
    /// Smallest hessian sum (here: networks) in a leaf.
    pub min_leaf_weight: f32,
}

/// The settings tried on validation: small trees and few leaves, since a few hundred networks
/// cannot support more.
pub fn default_grid() -> Vec<GbtParams> {
    let mut grid = Vec::new();
    for iterations in [50, 150, 400] {
        for learning_rate in [0.03, 0.1] {
            for max_depth in [2, 3, 4] {
                for min_leaf_weight in [2.0, 5.0] {
                    grid.push(GbtParams {
                        iterations,
                        learning_rate,
                        max_depth,
                        min_leaf_weight,
                    });
                }
            }
        }
    }
    grid
}

/// What validation chose.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GbtSelection {
    /// The chosen setting.
    pub params: GbtParams,
    /// Its MSE on the validation networks.
    pub validation_mse: f64,
    /// Validation networks.
    pub validation: usize,
    /// Settings tried.
    pub tried: usize,
}

/// A fitted tree ensemble.
pub struct GbtModel {
    booster: GradientBooster,
    columns: usize,
}

impl std::fmt::Debug for GbtModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GbtModel")
            .field("columns", &self.columns)
            .finish_non_exhaustive()
    }
}

/// Column-major copy of `rows`, as forust reads them.
fn column_major(rows: &[Vec<f64>], columns: usize) -> Vec<f64> {
    (0..columns)
        .flat_map(|c| rows.iter().map(move |r| r[c]))
        .collect()
}

fn check_rows(rows: &[Vec<f64>], targets: Option<&[f64]>) -> Result<usize, BaselineError> {
    let columns = rows.first().map_or(0, Vec::len);
    if let Some(targets) = targets
        && targets.len() != rows.len()
    {
        return Err(BaselineError::LengthMismatch {
            rows: rows.len(),
            targets: targets.len(),
        });
    }
    for (row, values) in rows.iter().enumerate() {
        if values.len() != columns {
            return Err(BaselineError::FeatureCount {
                row,
                found: values.len(),
                expected: columns,
            });
        }
        if let Some(column) = values.iter().position(|v| !v.is_finite()) {
            return Err(BaselineError::NotFinite { row, column });
        }
    }
    if let Some(row) = targets.and_then(|t| t.iter().position(|v| !v.is_finite())) {
        return Err(BaselineError::NotFinite { row, column: 0 });
    }
    Ok(columns)
}

impl GbtModel {
    /// Fits one setting on `rows` (one per network) and `targets`.
    ///
    /// # Errors
    ///
    /// [`BaselineError::TooFewSamples`] below 4 rows, the shape and finiteness errors of
    /// [`BaselineError`], and [`BaselineError::NoUsableSetting`] carrying the learner's error.
    pub fn fit(
        rows: &[Vec<f64>],
        targets: &[f64],
        params: GbtParams,
        seed: u64,
    ) -> Result<GbtModel, BaselineError> {
        let (booster, columns) = boost(rows, targets, params, seed, ObjectiveType::SquaredLoss)?;
        Ok(GbtModel { booster, columns })
    }

    /// Predictions for `rows`.
    ///
    /// # Errors
    ///
    /// [`BaselineError::FeatureCount`] for a row of another width, [`BaselineError::NotFinite`].
    pub fn predict(&self, rows: &[Vec<f64>]) -> Result<Vec<f64>, BaselineError> {
        raw_predictions(&self.booster, self.columns, rows)
    }
}

/// One boosted fit of `targets` under `objective`: the learner both tree baselines share.
fn boost(
    rows: &[Vec<f64>],
    targets: &[f64],
    params: GbtParams,
    seed: u64,
    objective: ObjectiveType,
) -> Result<(GradientBooster, usize), BaselineError> {
    if rows.len() < 4 {
        return Err(BaselineError::TooFewSamples {
            found: rows.len(),
            needed: 4,
        });
    }
    let columns = check_rows(rows, Some(targets))?;
    let data = column_major(rows, columns);
    let matrix = Matrix::new(&data, rows.len(), columns);
    let mut booster = GradientBooster::default()
        .set_objective_type(objective)
        .set_iterations(params.iterations)
        .set_learning_rate(params.learning_rate)
        .set_max_depth(params.max_depth)
        .set_min_leaf_weight(params.min_leaf_weight)
        .set_initialize_base_score(true)
        // One thread: deterministic, and the evaluation is small.
        .set_parallel(false)
        .set_seed(seed);
    booster
        .fit(&matrix, targets, &vec![1.0; targets.len()], None)
        .map_err(|e| BaselineError::NoUsableSetting {
            tried: 1,
            last: e.to_string(),
        })?;
    Ok((booster, columns))
}

/// The trees' raw answers for `rows` (values, or log-odds under log loss).
fn raw_predictions(
    booster: &GradientBooster,
    columns: usize,
    rows: &[Vec<f64>],
) -> Result<Vec<f64>, BaselineError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let found = check_rows(rows, None)?;
    if found != columns {
        return Err(BaselineError::FeatureCount {
            row: 0,
            found,
            expected: columns,
        });
    }
    let data = column_major(rows, columns);
    Ok(booster.predict(&Matrix::new(&data, rows.len(), columns), false))
}

/// Fits every setting of `grid` on the training rows, keeps the one with the lowest MSE on
/// the validation rows (ties: the earlier, simpler setting).
///
/// # Errors
///
/// [`BaselineError::TooFewSamples`] with fewer than 2 validation rows, an empty grid as
/// [`BaselineError::NoUsableSetting`], and [`GbtModel::fit`]'s errors.
pub fn fit_gbt(
    train: (&[Vec<f64>], &[f64]),
    validation: (&[Vec<f64>], &[f64]),
    grid: &[GbtParams],
    seed: u64,
) -> Result<(GbtModel, GbtSelection), BaselineError> {
    if validation.0.len() < 2 {
        return Err(BaselineError::TooFewSamples {
            found: validation.0.len(),
            needed: 2,
        });
    }
    check_rows(validation.0, Some(validation.1))?;
    let mut best: Option<(GbtModel, GbtSelection)> = None;
    for &params in grid {
        let model = GbtModel::fit(train.0, train.1, params, seed)?;
        let predicted = model.predict(validation.0)?;
        let validation_mse = predicted
            .iter()
            .zip(validation.1)
            .map(|(p, a)| (p - a).powi(2))
            .sum::<f64>()
            / predicted.len() as f64;
        if best
            .as_ref()
            .is_none_or(|(_, s)| validation_mse < s.validation_mse)
        {
            best = Some((
                model,
                GbtSelection {
                    params,
                    validation_mse,
                    validation: validation.0.len(),
                    tried: grid.len(),
                },
            ));
        }
    }
    best.ok_or(BaselineError::NoUsableSetting {
        tried: 0,
        last: "the grid is empty".into(),
    })
}

/// Gradient-boosted trees for a yes/no outcome (log loss), the strong baseline for "will this
/// network stay at chance?": the same features, settings and learner as the regression trees,
/// answering a probability.
pub struct GbtClassifier {
    booster: GradientBooster,
    columns: usize,
}

impl std::fmt::Debug for GbtClassifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GbtClassifier")
            .field("columns", &self.columns)
            .finish_non_exhaustive()
    }
}

/// What validation chose for the classifier.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GbtClassifierSelection {
    /// The chosen setting.
    pub params: GbtParams,
    /// Its Brier score on the validation networks.
    pub validation_brier: f64,
    /// Validation networks.
    pub validation: usize,
    /// Settings tried.
    pub tried: usize,
}

impl GbtClassifier {
    /// Fits one setting on `rows` and their outcomes (`true`: the run stayed at chance).
    ///
    /// # Errors
    ///
    /// As [`GbtModel::fit`].
    pub fn fit(
        rows: &[Vec<f64>],
        outcomes: &[bool],
        params: GbtParams,
        seed: u64,
    ) -> Result<GbtClassifier, BaselineError> {
        let targets: Vec<f64> = outcomes.iter().map(|&o| f64::from(u8::from(o))).collect();
        let (booster, columns) = boost(rows, &targets, params, seed, ObjectiveType::LogLoss)?;
        Ok(GbtClassifier { booster, columns })
    }

    /// The probability of the outcome for each row (the trees answer log-odds).
    ///
    /// # Errors
    ///
    /// As [`GbtModel::predict`].
    pub fn probabilities(&self, rows: &[Vec<f64>]) -> Result<Vec<f64>, BaselineError> {
        Ok(raw_predictions(&self.booster, self.columns, rows)?
            .into_iter()
            .map(|log_odds| 1.0 / (1.0 + (-log_odds).exp()))
            .collect())
    }
}

/// Fits every setting of `grid` on the training rows and keeps the one with the lowest Brier
/// score on the validation rows (ties: the earlier, simpler setting).
///
/// # Errors
///
/// As [`fit_gbt`].
pub fn fit_gbt_classifier(
    train: (&[Vec<f64>], &[bool]),
    validation: (&[Vec<f64>], &[bool]),
    grid: &[GbtParams],
    seed: u64,
) -> Result<(GbtClassifier, GbtClassifierSelection), BaselineError> {
    if validation.0.len() < 2 || validation.0.len() != validation.1.len() {
        return Err(BaselineError::TooFewSamples {
            found: validation.0.len().min(validation.1.len()),
            needed: 2,
        });
    }
    let mut best: Option<(GbtClassifier, GbtClassifierSelection)> = None;
    for &params in grid {
        let model = GbtClassifier::fit(train.0, train.1, params, seed)?;
        let probabilities = model.probabilities(validation.0)?;
        let validation_brier = probabilities
            .iter()
            .zip(validation.1)
            .map(|(p, &o)| (p - f64::from(u8::from(o))).powi(2))
            .sum::<f64>()
            / probabilities.len() as f64;
        if best
            .as_ref()
            .is_none_or(|(_, s)| validation_brier < s.validation_brier)
        {
            best = Some((
                model,
                GbtClassifierSelection {
                    params,
                    validation_brier,
                    validation: validation.0.len(),
                    tried: grid.len(),
                },
            ));
        }
    }
    best.ok_or(BaselineError::NoUsableSetting {
        tried: 0,
        last: "the grid is empty".into(),
    })
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;
    use peephole_zoo::testing::record;

    /// y = step(x0) + x1 * x2 / 4 + noise: a function a constant cannot follow and a linear
    /// model only partly.
    fn problem(n: usize, seed: u64) -> (Vec<Vec<f64>>, Vec<f64>) {
        let mut rng = StdRng::seed_from_u64(seed);
        let rows: Vec<Vec<f64>> = (0..n)
            .map(|_| (0..4).map(|_| rng.random_range(-1.0..1.0)).collect())
            .collect();
        let y = rows
            .iter()
            .map(|r| if r[0] > 0.2 { 0.8 } else { 0.3 } + r[1] * r[2] / 4.0 + rng.random_range(-0.02..0.02))
            .collect();
        (rows, y)
    }

    fn mse(p: &[f64], a: &[f64]) -> f64 {
        p.iter().zip(a).map(|(p, a)| (p - a).powi(2)).sum::<f64>() / p.len() as f64
    }

    #[test]
    fn trees_chosen_on_validation_beat_the_training_mean_on_a_nonlinear_problem() {
        let (train_x, train_y) = problem(300, 1);
        let (val_x, val_y) = problem(100, 2);
        let (test_x, test_y) = problem(200, 3);
        let (model, selection) =
            fit_gbt((&train_x, &train_y), (&val_x, &val_y), &default_grid(), 0).unwrap();
        let predicted = model.predict(&test_x).unwrap();
        let mean = train_y.iter().sum::<f64>() / train_y.len() as f64;
        let constant = mse(&vec![mean; test_y.len()], &test_y);
        let trees = mse(&predicted, &test_y);
        assert!(
            trees < 0.2 * constant,
            "trees {trees} vs constant {constant} ({selection:?})"
        );
        assert_eq!(selection.tried, default_grid().len());
        assert!(selection.validation_mse < 0.2 * constant);
    }

    #[test]
    fn the_classifier_chosen_on_validation_ranks_and_beats_the_base_rate_brier() {
        let (train_x, train_y) = problem(400, 5);
        let (val_x, val_y) = problem(150, 6);
        let (test_x, test_y) = problem(300, 7);
        // The outcome: the step of x0 (with its noise, y > 0.55).
        let outcome = |y: &[f64]| y.iter().map(|&v| v > 0.55).collect::<Vec<bool>>();
        let (train_o, val_o, test_o) = (outcome(&train_y), outcome(&val_y), outcome(&test_y));
        let (model, selection) =
            fit_gbt_classifier((&train_x, &train_o), (&val_x, &val_o), &default_grid(), 0).unwrap();
        let p = model.probabilities(&test_x).unwrap();
        assert!(p.iter().all(|p| (0.0..=1.0).contains(p)));
        let brier = p
            .iter()
            .zip(&test_o)
            .map(|(p, &o)| (p - f64::from(u8::from(o))).powi(2))
            .sum::<f64>()
            / p.len() as f64;
        let rate = train_o.iter().filter(|&&o| o).count() as f64 / train_o.len() as f64;
        assert!(brier < 0.3 * rate * (1.0 - rate), "{brier} ({selection:?})");
    }

    #[test]
    fn fitting_refuses_bad_shapes_and_too_few_validation_rows() {
        let (x, y) = problem(20, 4);
        let params = default_grid()[0];
        assert!(matches!(
            GbtModel::fit(&x, &y[..19], params, 0),
            Err(BaselineError::LengthMismatch {
                rows: 20,
                targets: 19
            })
        ));
        let mut ragged = x.clone();
        ragged[3].pop();
        assert!(matches!(
            GbtModel::fit(&ragged, &y, params, 0),
            Err(BaselineError::FeatureCount { row: 3, .. })
        ));
        let mut nan = x.clone();
        nan[2][1] = f64::NAN;
        assert!(matches!(
            GbtModel::fit(&nan, &y, params, 0),
            Err(BaselineError::NotFinite { row: 2, column: 1 })
        ));
        assert!(matches!(
            fit_gbt((&x, &y), (&x[..1], &y[..1]), &default_grid(), 0),
            Err(BaselineError::TooFewSamples {
                found: 1,
                needed: 2
            })
        ));
    }

    #[test]
    fn architecture_features_count_layers_and_name_every_column() {
        let r = record("s1-0", "generator-v1", 0);
        let row = architecture_features(&r).unwrap();
        assert_eq!(row.len(), feature_names().len());
        assert_eq!(row[0], r.network.layers.len() as f64);
        let convs = r
            .network
            .layers
            .iter()
            .filter(|l| l.kind() == LayerKind::Conv)
            .count() as f64;
        let conv_column = feature_names()
            .iter()
            .position(|n| n == "count_conv")
            .unwrap();
        assert_eq!(row[conv_column], convs);
        let act = feature_names()
            .iter()
            .position(|n| n == "activation_after_conv_or_bn")
            .unwrap();
        let none = feature_names()
            .iter()
            .position(|n| n == "convs_without_activation")
            .unwrap();
        assert_eq!(row[act] + row[none], convs);
        assert!(row.iter().all(|v| v.is_finite()));
    }
}

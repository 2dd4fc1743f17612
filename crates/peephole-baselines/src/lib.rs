//! The baselines Peephole is measured against (the paper's Table 3): predictors of a network's
//! final accuracy that are fitted on training networks of a zoo and applied to held-out ones.
//!
//! - [`Method::NuSvr`]: Baker et al. (2017), nu-SVR with an RBF kernel on the first 25% of the
//!   learning curve plus architecture statistics. It *trains* each network for a quarter of the
//!   budget, so it is not a before-training predictor: it shows what partial training buys.
//! - [`Method::LastSeen`]: the accuracy at the last visible epoch, the zero-effort version of
//!   the same information.
//! - [`Method::UlcRidge`]: ridge regression on ULC field counts, a before-training predictor
//!   that ignores the order of the layers.
//! - [`Method::Gbt`]: gradient-boosted trees on per-network architecture features
//!   ([`gbt`]), settings chosen on the validation networks.
//! - [`Method::LogMacs`] and [`Method::LogParams`]: the usual proxies "bigger is better",
//!   meaningful as rankers only ([`Scale::RankOnly`]).
//!
//! Everything is pure Rust: the learners (`svr`, `ridge`) work on plain feature matrices and
//! are tested on synthetic data with known answers; `features` turns zoo records into rows.

mod cv;
pub mod features;
pub mod gbt;
pub mod linalg;
pub mod logistic;
pub mod ridge;
pub mod svr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use peephole_ir::ulc::UlcDecodeError;
use peephole_zoo::ZooRecord;

use gbt::{GbtModel, GbtParams, GbtSelection};

pub use features::PREFIX_FRACTION;
pub use ridge::{DEFAULT_LAMBDAS, RidgeModel, RidgeSelection, fit_ridge_cv};
pub use svr::{NuSvr, SolverOptions, SvrGrid, SvrParams, SvrSelection, fit_nu_svr_cv};

/// Why a baseline could not be fitted or could not predict. Every variant names the input
/// (record id, row, parameter) so a failed evaluation says what to fix.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum BaselineError {
    /// Too little data to fit, or to cross-validate with the requested folds.
    #[error("{found} samples given but at least {needed} are needed")]
    TooFewSamples {
        /// Samples given.
        found: usize,
        /// Samples needed.
        needed: usize,
    },
    /// A record's curve does not have the protocol's number of epochs.
    #[error("network {id}: its curve has {length} epochs, expected {expected}")]
    CurveLength {
        /// The record's id.
        id: String,
        /// Its curve's length.
        length: usize,
        /// The protocol's epochs.
        expected: usize,
    },
    /// A record's ULC sequence is not valid ULC v1.
    #[error("network {id}: invalid ULC sequence: {source}")]
    Codes {
        /// The record's id.
        id: String,
        /// What is wrong with it.
        source: UlcDecodeError,
    },
    /// Rows and targets do not pair up.
    #[error("{rows} feature rows but {targets} targets; they must pair up")]
    LengthMismatch {
        /// Number of rows.
        rows: usize,
        /// Number of targets.
        targets: usize,
    },
    /// A row (or matrix) has the wrong number of entries.
    #[error("row {row} has {found} features, expected {expected}")]
    FeatureCount {
        /// Index of the row.
        row: usize,
        /// Entries found.
        found: usize,
        /// Entries expected.
        expected: usize,
    },
    /// A feature or target is `NaN` or infinite.
    #[error("the value at row {row}, column {column} is not finite")]
    NotFinite {
        /// Index of the row (of the target, for a target).
        row: usize,
        /// Index of the column (0 for a target).
        column: usize,
    },
    /// A hyper-parameter outside its valid range.
    #[error("{name} = {value} is invalid: expected {expected}")]
    InvalidParameter {
        /// The parameter.
        name: &'static str,
        /// The value given.
        value: f64,
        /// What is allowed.
        expected: &'static str,
    },
    /// A linear system that should be positive definite is not (a bug or a degenerate input).
    #[error("the {size}x{size} system is not positive definite (its Cholesky factorisation fails)")]
    NotPositiveDefinite {
        /// Rows (and columns) of the system.
        size: usize,
    },
    /// The nu-SVR solver hit its iteration cap.
    #[error(
        "the nu-SVR solver did not reach tolerance {tolerance} in {iterations} iterations \
         (largest violation {violation})"
    )]
    DidNotConverge {
        /// Iterations run.
        iterations: usize,
        /// Tolerance asked for.
        tolerance: f64,
        /// Violation left.
        violation: f64,
    },
    /// Newton's method for the logistic regression did not settle.
    #[error(
        "the logistic regression's Newton steps did not settle in {steps} steps (last step {last_step})"
    )]
    LogisticDidNotConverge {
        /// Steps run.
        steps: usize,
        /// Largest weight change of the last step.
        last_step: f64,
    },
    /// Every setting of a hyper-parameter grid failed.
    #[error("none of the {tried} hyper-parameter settings could be fitted; the last error: {last}")]
    NoUsableSetting {
        /// Settings tried.
        tried: usize,
        /// The last failure's message.
        last: String,
    },
}

/// A baseline method of the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// nu-SVR on the curve prefix and architecture statistics (Baker et al. 2017).
    NuSvr,
    /// The accuracy at the last epoch of the curve prefix.
    LastSeen,
    /// Ridge regression on ULC field-value counts.
    UlcRidge,
    /// Gradient-boosted trees on architecture features.
    Gbt,
    /// `ln(1 + MACs)`: a ranker, not an accuracy.
    LogMacs,
    /// `ln(1 + parameters)`: a ranker, not an accuracy.
    LogParams,
}

impl Method {
    /// Every baseline, in the order tables list them.
    pub const ALL: [Method; 6] = [
        Method::NuSvr,
        Method::LastSeen,
        Method::UlcRidge,
        Method::Gbt,
        Method::LogMacs,
        Method::LogParams,
    ];

    /// Stable identifier for files and JSON.
    pub const fn id(self) -> &'static str {
        match self {
            Method::NuSvr => "nu_svr",
            Method::LastSeen => "last_seen",
            Method::UlcRidge => "ulc_ridge",
            Method::Gbt => "gbt",
            Method::LogMacs => "log_macs",
            Method::LogParams => "log_params",
        }
    }

    /// Name for tables and plots, saying what the method sees.
    pub fn label(self, prefix_epochs: usize) -> String {
        match self {
            Method::NuSvr => format!("nu-SVR, curve to epoch {prefix_epochs} (Baker et al.)"),
            Method::LastSeen => format!("last seen value (epoch {prefix_epochs})"),
            Method::UlcRidge => "ridge on ULC counts".into(),
            Method::Gbt => "gradient-boosted trees on architecture features".into(),
            Method::LogMacs => "log MACs (ranker)".into(),
            Method::LogParams => "log params (ranker)".into(),
        }
    }

    /// Whether the method's output is an accuracy (so MSE and R² apply) or only an order.
    pub const fn scale(self) -> Scale {
        match self {
            Method::NuSvr | Method::LastSeen | Method::UlcRidge | Method::Gbt => Scale::Accuracy,
            Method::LogMacs | Method::LogParams => Scale::RankOnly,
        }
    }

    /// Whether the method reads part of the learning curve, i.e. needs the network trained
    /// for a while: such a method answers a different, easier question than Peephole.
    pub const fn uses_curve(self) -> bool {
        matches!(self, Method::NuSvr | Method::LastSeen)
    }
}

/// What a method's numbers mean, which decides the metrics that apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// An accuracy in [0, 1]-ish: every metric applies.
    Accuracy,
    /// A score on another scale: only rank correlations (Kendall tau, Spearman) apply.
    RankOnly,
}

/// How the baselines are fitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineOptions {
    /// Epochs of the protocol: every record's curve must have this many points.
    pub epochs: usize,
    /// Fraction of the curve the curve-based methods see ([`PREFIX_FRACTION`]).
    pub prefix_fraction: f64,
    /// Folds of the cross-validation that chooses hyper-parameters.
    pub folds: usize,
    /// Seed of the fold assignment.
    pub seed: u64,
    /// The nu-SVR grid.
    pub svr_grid: SvrGrid,
    /// The ridge penalties.
    pub ridge_lambdas: Vec<f64>,
    /// The tree settings tried on the validation networks.
    pub gbt_grid: Vec<GbtParams>,
}

impl BaselineOptions {
    /// The paper's setup for a protocol of `epochs` epochs: 25% of the curve, 5 folds.
    pub fn for_epochs(epochs: usize) -> Self {
        BaselineOptions {
            epochs,
            prefix_fraction: PREFIX_FRACTION,
            folds: 5,
            seed: 0,
            svr_grid: SvrGrid::default(),
            ridge_lambdas: DEFAULT_LAMBDAS.to_vec(),
            gbt_grid: gbt::default_grid(),
        }
    }

    /// Fewest training networks that can be fitted: two per fold.
    pub fn min_training(&self) -> usize {
        2 * self.folds.max(2)
    }

    /// Epochs the curve-based methods see.
    pub fn prefix_epochs(&self) -> usize {
        features::prefix_epochs(self.epochs, self.prefix_fraction)
    }
}

/// Every baseline fitted on one set of training networks.
#[derive(Debug)]
pub struct FittedBaselines {
    epochs: usize,
    prefix: usize,
    svr: NuSvr,
    svr_selection: SvrSelection,
    ridge: RidgeModel,
    ridge_selection: RidgeSelection,
    gbt: GbtModel,
    gbt_selection: GbtSelection,
}

impl FittedBaselines {
    /// Fits every baseline on `train`, choosing the nu-SVR's and the ridge's hyper-parameters
    /// by cross-validation on `train` alone and the trees' on `validation` (test networks
    /// must not be passed here).
    ///
    /// # Errors
    ///
    /// [`BaselineError::InvalidParameter`] for bad options, [`BaselineError::TooFewSamples`]
    /// below [`BaselineOptions::min_training`] networks, [`BaselineError::CurveLength`] and
    /// [`BaselineError::Codes`] naming a bad record, and the learners' errors.
    pub fn fit(
        train: &[&ZooRecord],
        validation: &[&ZooRecord],
        options: &BaselineOptions,
    ) -> Result<Self, BaselineError> {
        if options.epochs == 0 {
            return Err(BaselineError::InvalidParameter {
                name: "epochs",
                value: 0.0,
                expected: "at least 1",
            });
        }
        if !(options.prefix_fraction > 0.0 && options.prefix_fraction <= 1.0) {
            return Err(BaselineError::InvalidParameter {
                name: "prefix_fraction",
                value: options.prefix_fraction,
                expected: "a number in (0, 1]",
            });
        }
        if options.folds < 2 {
            return Err(BaselineError::InvalidParameter {
                name: "folds",
                value: options.folds as f64,
                expected: "at least 2",
            });
        }
        if train.len() < options.min_training() {
            return Err(BaselineError::TooFewSamples {
                found: train.len(),
                needed: options.min_training(),
            });
        }
        let epochs = options.epochs;
        let prefix = options.prefix_epochs();
        let targets = train
            .iter()
            .map(|r| features::final_accuracy(r, epochs))
            .collect::<Result<Vec<_>, _>>()?;
        let svr_rows = train
            .iter()
            .map(|r| features::svr_features(r, epochs, prefix))
            .collect::<Result<Vec<_>, _>>()?;
        let ridge_rows = train
            .iter()
            .map(|r| features::ulc_field_counts(r))
            .collect::<Result<Vec<_>, _>>()?;
        let (svr, svr_selection) = fit_nu_svr_cv(
            &svr_rows,
            &targets,
            &options.svr_grid,
            options.folds,
            options.seed,
        )?;
        let (ridge, ridge_selection) = fit_ridge_cv(
            &ridge_rows,
            &targets,
            &options.ridge_lambdas,
            options.folds,
            options.seed,
        )?;
        let gbt_rows = train
            .iter()
            .map(|r| gbt::architecture_features(r))
            .collect::<Result<Vec<_>, _>>()?;
        let validation_rows = validation
            .iter()
            .map(|r| gbt::architecture_features(r))
            .collect::<Result<Vec<_>, _>>()?;
        let validation_targets = validation
            .iter()
            .map(|r| features::final_accuracy(r, epochs))
            .collect::<Result<Vec<_>, _>>()?;
        let (gbt, gbt_selection) = gbt::fit_gbt(
            (&gbt_rows, &targets),
            (&validation_rows, &validation_targets),
            &options.gbt_grid,
            options.seed,
        )?;
        Ok(FittedBaselines {
            epochs,
            prefix,
            svr,
            svr_selection,
            ridge,
            ridge_selection,
            gbt,
            gbt_selection,
        })
    }

    /// `method`'s prediction for one network: an accuracy, or a score for
    /// [`Scale::RankOnly`] methods.
    ///
    /// # Errors
    ///
    /// [`BaselineError::CurveLength`] and [`BaselineError::Codes`] naming a bad record.
    pub fn predict(&self, method: Method, record: &ZooRecord) -> Result<f64, BaselineError> {
        match method {
            Method::NuSvr => {
                self.svr
                    .predict(&features::svr_features(record, self.epochs, self.prefix)?)
            }
            Method::LastSeen => {
                let prefix = features::curve_prefix(record, self.epochs, self.prefix)?;
                // prefix >= 1 and the curve has `epochs >= prefix` points.
                Ok(prefix[prefix.len() - 1])
            }
            Method::UlcRidge => self.ridge.predict(&features::ulc_field_counts(record)?),
            Method::Gbt => {
                let row = gbt::architecture_features(record)?;
                // One row in, one prediction out.
                Ok(self.gbt.predict(&[row])?[0])
            }
            Method::LogMacs => Ok((record.macs as f64).ln_1p()),
            Method::LogParams => Ok((record.params as f64).ln_1p()),
        }
    }

    /// `method`'s predictions for many networks, in order.
    ///
    /// # Errors
    ///
    /// The first error of [`FittedBaselines::predict`].
    pub fn predict_all(
        &self,
        method: Method,
        records: &[&ZooRecord],
    ) -> Result<Vec<f64>, BaselineError> {
        records.iter().map(|r| self.predict(method, r)).collect()
    }

    /// Epochs of the curve the curve-based methods saw.
    pub fn prefix_epochs(&self) -> usize {
        self.prefix
    }

    /// The nu-SVR's chosen hyper-parameters and cross-validated error.
    pub fn svr_selection(&self) -> &SvrSelection {
        &self.svr_selection
    }

    /// The fitted nu-SVR, for its tube width and support-vector count.
    pub fn svr(&self) -> &NuSvr {
        &self.svr
    }

    /// The ridge's chosen penalty and cross-validated error.
    pub fn ridge_selection(&self) -> &RidgeSelection {
        &self.ridge_selection
    }

    /// The trees' chosen setting and validation error.
    pub fn gbt_selection(&self) -> &GbtSelection {
        &self.gbt_selection
    }

    /// The fitted ridge, for its weights (named by [`features::ulc_feature_names`]).
    pub fn ridge(&self) -> &RidgeModel {
        &self.ridge
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;
    use peephole_metrics::{kendall_tau_b, mse};

    /// A synthetic zoo where the final accuracy is a known, nonlinear function of the first
    /// two epochs (plus a little noise), so a good curve baseline must beat the mean.
    fn zoo(n: u64, seed: u64) -> Vec<ZooRecord> {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..n)
            .map(|index| {
                let first: f64 = rng.random_range(0.3..0.8);
                let gain: f64 = rng.random_range(0.0..0.15);
                let second = first + gain;
                let last = (second + 2.0 * gain * (1.0 - second)).min(0.99)
                    + rng.random_range(-0.005..0.005);
                let mut curve = vec![first, second];
                curve.extend((3..=8).map(|e| second + (last - second) * f64::from(e - 2) / 6.0));
                peephole_zoo::testing::record_with_curve(
                    &format!("s{seed}-{index}"),
                    "generator-v1/fmnist-v1",
                    seed,
                    index,
                    curve,
                )
            })
            .collect()
    }

    fn finals(records: &[&ZooRecord]) -> Vec<f64> {
        records.iter().map(|r| r.curve[7]).collect()
    }

    #[test]
    fn nu_svr_on_the_curve_prefix_beats_the_training_mean_and_last_seen() {
        let records = zoo(70, 21);
        let refs: Vec<&ZooRecord> = records.iter().collect();
        let (train, test) = refs.split_at(50);
        let fitted =
            FittedBaselines::fit(train, &test[..5], &BaselineOptions::for_epochs(8)).unwrap();
        assert_eq!(fitted.prefix_epochs(), 2);
        let actual = finals(test);
        let mean = finals(train).iter().sum::<f64>() / train.len() as f64;
        let svr = fitted.predict_all(Method::NuSvr, test).unwrap();
        let last = fitted.predict_all(Method::LastSeen, test).unwrap();
        let svr_mse = mse(&svr, &actual).unwrap();
        let mean_mse = mse(&vec![mean; actual.len()], &actual).unwrap();
        let last_mse = mse(&last, &actual).unwrap();
        assert!(svr_mse < 0.2 * mean_mse, "svr {svr_mse} vs mean {mean_mse}");
        assert!(svr_mse < last_mse, "svr {svr_mse} vs last seen {last_mse}");
        assert!(kendall_tau_b(&svr, &actual).unwrap() > 0.7);
    }

    #[test]
    fn last_seen_is_the_accuracy_at_the_last_visible_epoch_and_rankers_are_logs() {
        let records = zoo(12, 22);
        let refs: Vec<&ZooRecord> = records.iter().collect();
        let fitted =
            FittedBaselines::fit(&refs, &refs[..4], &BaselineOptions::for_epochs(8)).unwrap();
        let r = &records[3];
        assert_eq!(fitted.predict(Method::LastSeen, r).unwrap(), r.curve[1]);
        let macs = fitted.predict(Method::LogMacs, r).unwrap();
        assert!((macs - (r.macs as f64 + 1.0).ln()).abs() < 1e-12);
        let params = fitted.predict(Method::LogParams, r).unwrap();
        assert!((params - (r.params as f64 + 1.0).ln()).abs() < 1e-12);
        assert_eq!(Method::LogMacs.scale(), Scale::RankOnly);
        assert_eq!(Method::UlcRidge.scale(), Scale::Accuracy);
    }

    #[test]
    fn ridge_on_ulc_counts_predicts_accuracy_scale_numbers() {
        let records = zoo(30, 23);
        let refs: Vec<&ZooRecord> = records.iter().collect();
        let fitted =
            FittedBaselines::fit(&refs, &refs[..4], &BaselineOptions::for_epochs(8)).unwrap();
        let predicted = fitted.predict_all(Method::UlcRidge, &refs).unwrap();
        // The synthetic accuracies ignore the architecture, so the best the ridge can do is
        // stay near the mean; it must at least stay on the accuracy scale.
        assert!(
            predicted.iter().all(|p| (0.2..1.1).contains(p)),
            "{predicted:?}"
        );
        assert_eq!(
            fitted.ridge().weights().len(),
            features::ulc_feature_names().len()
        );
    }

    #[test]
    fn fitting_needs_enough_networks_and_consistent_curves() {
        let records = zoo(12, 24);
        let refs: Vec<&ZooRecord> = records.iter().collect();
        let options = BaselineOptions::for_epochs(8);
        assert!(matches!(
            FittedBaselines::fit(&refs[..9], &refs[9..], &options),
            Err(BaselineError::TooFewSamples {
                found: 9,
                needed: 10
            })
        ));
        let mut broken = records.clone();
        broken[5].curve.truncate(6);
        let broken_refs: Vec<&ZooRecord> = broken.iter().collect();
        match FittedBaselines::fit(&broken_refs, &broken_refs[..3], &options) {
            Err(BaselineError::CurveLength {
                id,
                length: 6,
                expected: 8,
            }) => {
                assert_eq!(id, "s24-5")
            }
            other => panic!("{other:?}"),
        }
        let fitted = FittedBaselines::fit(&refs, &refs[..3], &options).unwrap();
        assert!(matches!(
            fitted.predict(Method::NuSvr, &broken[5]),
            Err(BaselineError::CurveLength { .. })
        ));
        let mut bad = options.clone();
        bad.prefix_fraction = 0.0;
        assert!(matches!(
            FittedBaselines::fit(&refs, &refs[..3], &bad),
            Err(BaselineError::InvalidParameter {
                name: "prefix_fraction",
                ..
            })
        ));
    }

    #[test]
    fn method_ids_are_unique_and_stable() {
        let ids: Vec<&str> = Method::ALL.iter().map(|m| m.id()).collect();
        assert_eq!(
            ids,
            [
                "nu_svr",
                "last_seen",
                "ulc_ridge",
                "gbt",
                "log_macs",
                "log_params"
            ]
        );
        let json = serde_json::to_string(&Method::NuSvr).unwrap();
        assert_eq!(json, "\"nu_svr\"");
    }
}

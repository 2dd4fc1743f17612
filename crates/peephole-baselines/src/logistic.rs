//! L2-penalised logistic regression, the plain baseline for "will this network stay at
//! chance?": a linear score of the standardized hand features through a sigmoid, fitted by
//! Newton's method (iteratively reweighted least squares), the penalty chosen by
//! cross-validated Brier score on the fitting side only.

use serde::{Deserialize, Serialize};

use crate::BaselineError;
use crate::cv::cross_validated_mse;
use crate::linalg::{Standardizer, check_rows, cholesky_solve};

/// The penalties tried by [`fit_logistic_cv`], weakest to strongest.
pub const DEFAULT_PENALTIES: [f64; 6] = [0.01, 0.1, 1.0, 10.0, 100.0, 1000.0];

/// Newton steps before a fit counts as not converged; the penalised log-likelihood is strictly
/// concave, so a few dozen steps always suffice unless the data are degenerate.
const MAX_NEWTON_STEPS: usize = 100;

/// The intercept's penalty: far too weak to move a fit with both outcomes, strong enough that
/// rows of one outcome give a finite intercept (about `-ln(n / penalty)`) instead of none.
const INTERCEPT_PENALTY: f64 = 1e-3;

/// A fitted logistic regression, with the standardization it was fitted under.
#[derive(Debug, Clone, PartialEq)]
pub struct LogisticModel {
    standardizer: Standardizer,
    /// Intercept first, then one weight per standardized feature.
    weights: Vec<f64>,
}

/// Which penalty the cross-validation chose, and its score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LogisticSelection {
    /// The L2 penalty on the weights (the intercept is not penalised).
    pub penalty: f64,
    /// Cross-validated Brier score at that penalty.
    pub cv_brier: f64,
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

impl LogisticModel {
    /// Fits `P(outcome) = sigmoid(b + w . standardize(row))` with penalty `penalty * |w|^2 / 2`.
    ///
    /// # Errors
    ///
    /// [`BaselineError::LengthMismatch`], [`BaselineError::TooFewSamples`] below two rows,
    /// the row errors of [`Standardizer::fit`], [`BaselineError::InvalidParameter`] for a
    /// negative or non-finite penalty, and [`BaselineError::LogisticDidNotConverge`] when Newton's
    /// method does not settle.
    pub fn fit(rows: &[Vec<f64>], outcomes: &[bool], penalty: f64) -> Result<Self, BaselineError> {
        if rows.len() != outcomes.len() {
            return Err(BaselineError::LengthMismatch {
                rows: rows.len(),
                targets: outcomes.len(),
            });
        }
        if rows.len() < 2 {
            return Err(BaselineError::TooFewSamples {
                found: rows.len(),
                needed: 2,
            });
        }
        if !(penalty.is_finite() && penalty >= 0.0) {
            return Err(BaselineError::InvalidParameter {
                name: "penalty",
                value: penalty,
                expected: "a finite number >= 0",
            });
        }
        let standardizer = Standardizer::fit(rows)?;
        let x: Vec<Vec<f64>> = standardizer
            .transform_all(rows)?
            .into_iter()
            .map(|row| std::iter::once(1.0).chain(row).collect())
            .collect();
        let width = x[0].len();
        let mut weights = vec![0.0; width];
        let mut last_step = f64::INFINITY;
        for _ in 0..MAX_NEWTON_STEPS {
            // Gradient of the penalised log-likelihood and its negative Hessian.
            let mut gradient = vec![0.0; width];
            let mut hessian = vec![0.0; width * width];
            for (row, &outcome) in x.iter().zip(outcomes) {
                let p = sigmoid(dot(row, &weights));
                let residual = f64::from(u8::from(outcome)) - p;
                let w = (p * (1.0 - p)).max(1e-10);
                for (i, &ri) in row.iter().enumerate() {
                    gradient[i] += residual * ri;
                    for (j, &rj) in row.iter().enumerate().take(i + 1) {
                        hessian[i * width + j] += w * ri * rj;
                    }
                }
            }
            for i in 1..width {
                gradient[i] -= penalty * weights[i];
                hessian[i * width + i] += penalty;
            }
            // A weak penalty on the intercept keeps the fit finite when every row has one
            // outcome (a cross-validation fold of a slice with few runs at chance can).
            gradient[0] -= INTERCEPT_PENALTY * weights[0];
            hessian[0] += INTERCEPT_PENALTY;
            let step = cholesky_solve(&hessian, &gradient)?;
            for (w, s) in weights.iter_mut().zip(&step) {
                *w += s;
            }
            last_step = step.iter().map(|s| s.abs()).fold(0.0, f64::max);
            if last_step < 1e-8 {
                return Ok(LogisticModel {
                    standardizer,
                    weights,
                });
            }
        }
        Err(BaselineError::LogisticDidNotConverge {
            steps: MAX_NEWTON_STEPS,
            last_step,
        })
    }

    /// The probability of the outcome for one row of features.
    ///
    /// # Errors
    ///
    /// The row errors of [`Standardizer::transform`].
    pub fn probability(&self, row: &[f64]) -> Result<f64, BaselineError> {
        let standardized = self.standardizer.transform(row)?;
        let z = self.weights[0] + dot(&standardized, &self.weights[1..]);
        Ok(sigmoid(z))
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Chooses the penalty among `penalties` by `folds`-fold cross-validated Brier score (seeded
/// folds), then fits on all rows with it.
///
/// # Errors
///
/// [`BaselineError::InvalidParameter`] with no penalties, and the errors of
/// [`LogisticModel::fit`] and of the cross-validation (too few rows for the folds).
pub fn fit_logistic_cv(
    rows: &[Vec<f64>],
    outcomes: &[bool],
    penalties: &[f64],
    folds: usize,
    seed: u64,
) -> Result<(LogisticModel, LogisticSelection), BaselineError> {
    check_rows(rows, rows.first().map_or(0, Vec::len))?;
    // The Brier score is the mean squared error of the probability against the 0/1 outcome.
    let targets: Vec<f64> = outcomes.iter().map(|&o| f64::from(u8::from(o))).collect();
    let mut best: Option<LogisticSelection> = None;
    for &penalty in penalties {
        let cv_brier = cross_validated_mse(rows, &targets, folds, seed, |tx, ty, vx| {
            let fold_outcomes: Vec<bool> = ty.iter().map(|&t| t > 0.5).collect();
            let model = LogisticModel::fit(tx, &fold_outcomes, penalty)?;
            vx.iter().map(|row| model.probability(row)).collect()
        })?;
        if best.is_none_or(|b| cv_brier < b.cv_brier) {
            best = Some(LogisticSelection { penalty, cv_brier });
        }
    }
    let selection = best.ok_or(BaselineError::InvalidParameter {
        name: "penalties",
        value: f64::NAN,
        expected: "at least one penalty",
    })?;
    Ok((
        LogisticModel::fit(rows, outcomes, selection.penalty)?,
        selection,
    ))
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    /// Outcomes drawn from a known logistic model of two features (the third is noise).
    fn logistic_data(n: usize, seed: u64) -> (Vec<Vec<f64>>, Vec<bool>, Vec<f64>) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut rows = Vec::new();
        let mut outcomes = Vec::new();
        let mut truth = Vec::new();
        for _ in 0..n {
            let row: Vec<f64> = (0..3).map(|_| rng.random_range(-2.0..2.0)).collect();
            let p = sigmoid(-1.0 + 2.0 * row[0] - 1.0 * row[1]);
            outcomes.push(rng.random_bool(p));
            truth.push(p);
            rows.push(row);
        }
        (rows, outcomes, truth)
    }

    #[test]
    fn a_fit_recovers_the_probabilities_of_a_known_logistic_model() {
        let (rows, outcomes, _) = logistic_data(4000, 1);
        let model = LogisticModel::fit(&rows, &outcomes, 0.01).unwrap();
        let (test_rows, _, truth) = logistic_data(500, 2);
        let worst = test_rows
            .iter()
            .zip(&truth)
            .map(|(row, p)| (model.probability(row).unwrap() - p).abs())
            .fold(0.0, f64::max);
        assert!(worst < 0.08, "largest probability error {worst}");
    }

    #[test]
    fn cross_validation_picks_a_penalty_and_beats_the_base_rate_brier() {
        let (rows, outcomes, _) = logistic_data(600, 3);
        let (model, selection) =
            fit_logistic_cv(&rows, &outcomes, &DEFAULT_PENALTIES, 5, 0).unwrap();
        assert!(DEFAULT_PENALTIES.contains(&selection.penalty));
        let rate = outcomes.iter().filter(|&&o| o).count() as f64 / outcomes.len() as f64;
        assert!(
            selection.cv_brier < rate * (1.0 - rate),
            "{selection:?} vs base rate {rate}"
        );
        assert!(model.probability(&[2.0, -2.0, 0.0]).unwrap() > 0.9);
    }

    #[test]
    fn separable_and_one_class_data_still_fit_under_a_penalty() {
        let rows: Vec<Vec<f64>> = (0..20).map(|i| vec![f64::from(i)]).collect();
        let separable: Vec<bool> = (0..20).map(|i| i >= 10).collect();
        let model = LogisticModel::fit(&rows, &separable, 1.0).unwrap();
        assert!(model.probability(&[19.0]).unwrap() > 0.9);
        let one_class = vec![false; 20];
        let model = LogisticModel::fit(&rows, &one_class, 1.0).unwrap();
        assert!(model.probability(&[5.0]).unwrap() < 0.1);
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        let rows = vec![vec![1.0], vec![2.0]];
        assert!(matches!(
            LogisticModel::fit(&rows, &[true], 1.0),
            Err(BaselineError::LengthMismatch {
                rows: 2,
                targets: 1
            })
        ));
        assert!(matches!(
            LogisticModel::fit(&rows, &[true, false], -1.0),
            Err(BaselineError::InvalidParameter {
                name: "penalty",
                ..
            })
        ));
        assert!(matches!(
            LogisticModel::fit(&[vec![1.0], vec![f64::NAN]], &[true, false], 1.0),
            Err(BaselineError::NotFinite { row: 1, column: 0 })
        ));
    }
}

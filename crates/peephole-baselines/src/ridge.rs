//! Ridge regression in closed form, with the penalty chosen by cross-validation: the simplest
//! learned baseline that reads the architecture alone (as the ULC counts), so the table shows
//! what an LSTM over the sequence adds beyond "which layers, how many".

use crate::BaselineError;
use crate::cv::cross_validated_mse;
use crate::linalg::{Standardizer, check_rows, cholesky_solve};

/// Penalties searched by default, log-spaced: with standardized features the useful range is
/// from "almost least squares" to "almost the mean".
pub const DEFAULT_LAMBDAS: [f64; 9] = [1e-3, 1e-2, 0.1, 0.3, 1.0, 3.0, 10.0, 100.0, 1000.0];

/// A fitted ridge regression `y = intercept + w . standardize(x)`.
#[derive(Debug, Clone, PartialEq)]
pub struct RidgeModel {
    standardizer: Standardizer,
    weights: Vec<f64>,
    intercept: f64,
    lambda: f64,
}

impl RidgeModel {
    /// Minimises `|y - intercept - Z w|^2 + lambda |w|^2` over standardized features `Z`,
    /// leaving the intercept unpenalized (it is the mean of `y`, as `Z` is centred).
    ///
    /// # Errors
    ///
    /// [`BaselineError::InvalidParameter`] unless `lambda > 0` (which keeps the system
    /// positive definite even with more features than rows), [`BaselineError::LengthMismatch`],
    /// [`BaselineError::TooFewSamples`] with no rows, [`BaselineError::FeatureCount`] and
    /// [`BaselineError::NotFinite`] for bad input.
    pub fn fit(x: &[Vec<f64>], y: &[f64], lambda: f64) -> Result<Self, BaselineError> {
        if !(lambda.is_finite() && lambda > 0.0) {
            return Err(BaselineError::InvalidParameter {
                name: "lambda",
                value: lambda,
                expected: "a finite number > 0",
            });
        }
        if x.len() != y.len() {
            return Err(BaselineError::LengthMismatch {
                rows: x.len(),
                targets: y.len(),
            });
        }
        if let Some(row) = y.iter().position(|v| !v.is_finite()) {
            return Err(BaselineError::NotFinite { row, column: 0 });
        }
        let standardizer = Standardizer::fit(x)?;
        check_rows(x, standardizer.width())?;
        let z = standardizer.transform_all(x)?;
        let d = standardizer.width();
        let intercept = y.iter().sum::<f64>() / y.len() as f64;
        let mut gram = vec![0.0; d * d];
        let mut rhs = vec![0.0; d];
        for (row, target) in z.iter().zip(y) {
            let centred = target - intercept;
            for i in 0..d {
                rhs[i] += row[i] * centred;
                for j in 0..=i {
                    gram[i * d + j] += row[i] * row[j];
                }
            }
        }
        for i in 0..d {
            gram[i * d + i] += lambda;
        }
        let weights = cholesky_solve(&gram, &rhs)?;
        Ok(RidgeModel {
            standardizer,
            weights,
            intercept,
            lambda,
        })
    }

    /// Predicts one row.
    ///
    /// # Errors
    ///
    /// [`BaselineError::FeatureCount`] or [`BaselineError::NotFinite`] for a bad row.
    pub fn predict(&self, row: &[f64]) -> Result<f64, BaselineError> {
        let z = self.standardizer.transform(row)?;
        Ok(self.intercept + z.iter().zip(&self.weights).map(|(a, b)| a * b).sum::<f64>())
    }

    /// The penalty it was fitted with.
    pub fn lambda(&self) -> f64 {
        self.lambda
    }

    /// Weights on the standardized features, comparable across features: which counts the
    /// model leans on.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }
}

/// Which penalty cross-validation chose.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RidgeSelection {
    /// The chosen penalty.
    pub lambda: f64,
    /// Its cross-validated mean squared error, in target units.
    pub cv_mse: f64,
}

/// Chooses `lambda` among `lambdas` by `folds`-fold cross-validation (lowest mean squared
/// error; the first on a tie), then fits on all rows.
///
/// # Errors
///
/// [`BaselineError::InvalidParameter`] for an empty list or a bad penalty,
/// [`BaselineError::TooFewSamples`] below two rows per fold, and errors of
/// [`RidgeModel::fit`].
pub fn fit_ridge_cv(
    x: &[Vec<f64>],
    y: &[f64],
    lambdas: &[f64],
    folds: usize,
    seed: u64,
) -> Result<(RidgeModel, RidgeSelection), BaselineError> {
    let mut best: Option<RidgeSelection> = None;
    for &lambda in lambdas {
        let cv_mse = cross_validated_mse(x, y, folds, seed, |tx, ty, vx| {
            let model = RidgeModel::fit(tx, ty, lambda)?;
            vx.iter().map(|row| model.predict(row)).collect()
        })?;
        if best.is_none_or(|b| cv_mse < b.cv_mse) {
            best = Some(RidgeSelection { lambda, cv_mse });
        }
    }
    let selection = best.ok_or(BaselineError::InvalidParameter {
        name: "lambdas",
        value: f64::NAN,
        expected: "at least one penalty",
    })?;
    Ok((RidgeModel::fit(x, y, selection.lambda)?, selection))
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    fn linear_data(n: usize, noise: f64, seed: u64) -> (Vec<Vec<f64>>, Vec<f64>) {
        let mut rng = StdRng::seed_from_u64(seed);
        let x: Vec<Vec<f64>> = (0..n)
            .map(|_| (0..3).map(|_| rng.random_range(0.0..10.0)).collect())
            .collect();
        let y = x
            .iter()
            .map(|r| 1.5 + 2.0 * r[0] - 0.5 * r[1] + noise * rng.random_range(-1.0..1.0))
            .collect();
        (x, y)
    }

    #[test]
    fn tiny_penalty_recovers_an_exact_linear_function() {
        let (x, y) = linear_data(30, 0.0, 1);
        let model = RidgeModel::fit(&x, &y, 1e-9).unwrap();
        for row in [[0.0, 0.0, 0.0], [3.0, 4.0, 5.0], [10.0, -2.0, 7.0]] {
            let want = 1.5 + 2.0 * row[0] - 0.5 * row[1];
            let got = model.predict(&row).unwrap();
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
    }

    #[test]
    fn larger_penalty_shrinks_the_weights_towards_the_mean() {
        let (x, y) = linear_data(30, 0.5, 2);
        let norm = |l| -> f64 {
            let m = RidgeModel::fit(&x, &y, l).unwrap();
            m.weights().iter().map(|w| w * w).sum::<f64>()
        };
        let norms: Vec<f64> = [0.01, 1.0, 100.0, 1e6].into_iter().map(norm).collect();
        assert!(norms.windows(2).all(|p| p[1] < p[0]), "{norms:?}");
        assert!(norms[3] < 1e-6 * norms[0]);
    }

    #[test]
    fn more_features_than_rows_still_fit() {
        // 3 rows, 5 features: X^T X is singular, the penalty makes it solvable.
        let x = vec![
            vec![1.0, 0.0, 2.0, 0.0, 1.0],
            vec![0.0, 1.0, 0.0, 3.0, 1.0],
            vec![1.0, 1.0, 1.0, 1.0, 0.0],
        ];
        let model = RidgeModel::fit(&x, &[0.1, 0.5, 0.9], 0.1).unwrap();
        assert!(model.predict(&x[0]).unwrap().is_finite());
    }

    #[test]
    fn cross_validation_prefers_a_small_penalty_for_clean_signal_and_a_large_one_for_noise() {
        let (x, y) = linear_data(60, 0.01, 3);
        let (_, clean) = fit_ridge_cv(&x, &y, &DEFAULT_LAMBDAS, 5, 0).unwrap();
        assert!(clean.lambda <= 0.1, "{clean:?}");
        let mut rng = StdRng::seed_from_u64(4);
        let noise: Vec<f64> = (0..60).map(|_| rng.random_range(-1.0..1.0)).collect();
        let (_, noisy) = fit_ridge_cv(&x, &noise, &DEFAULT_LAMBDAS, 5, 0).unwrap();
        assert!(noisy.lambda >= 10.0, "{noisy:?}");
    }

    #[test]
    fn a_non_positive_penalty_is_rejected() {
        let (x, y) = linear_data(10, 0.0, 5);
        for lambda in [0.0, -1.0, f64::INFINITY] {
            assert!(matches!(
                RidgeModel::fit(&x, &y, lambda),
                Err(BaselineError::InvalidParameter { name: "lambda", .. })
            ));
        }
        assert!(matches!(
            fit_ridge_cv(&x, &y, &[], 2, 0),
            Err(BaselineError::InvalidParameter {
                name: "lambdas",
                ..
            })
        ));
    }
}

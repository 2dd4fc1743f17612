//! The little linear algebra the baselines need: feature standardization and a Cholesky
//! solve of symmetric positive definite systems (ridge regression's normal equations), the
//! factorisation itself nalgebra's. This crate is evaluation only, so the dependency never
//! reaches the lint path.

use crate::BaselineError;

/// Per-column centring and scaling learned from training rows only, so that held-out rows
/// (and cross-validation folds) never leak into the fit.
#[derive(Debug, Clone, PartialEq)]
pub struct Standardizer {
    mean: Vec<f64>,
    scale: Vec<f64>,
}

impl Standardizer {
    /// Learns each column's mean and standard deviation. A constant column gets scale 1, so it
    /// maps to 0 instead of dividing by zero: it carries no information for these rows.
    ///
    /// # Errors
    ///
    /// [`BaselineError::TooFewSamples`] with no rows, [`BaselineError::FeatureCount`] for
    /// ragged rows, [`BaselineError::NotFinite`] for a `NaN` or infinite entry.
    pub fn fit(rows: &[Vec<f64>]) -> Result<Self, BaselineError> {
        let first = rows.first().ok_or(BaselineError::TooFewSamples {
            found: 0,
            needed: 1,
        })?;
        let width = first.len();
        check_rows(rows, width)?;
        let n = rows.len() as f64;
        let mut mean = vec![0.0; width];
        for row in rows {
            for (m, v) in mean.iter_mut().zip(row) {
                *m += v / n;
            }
        }
        let mut scale = vec![0.0; width];
        for row in rows {
            for ((s, v), m) in scale.iter_mut().zip(row).zip(&mean) {
                *s += (v - m) * (v - m) / n;
            }
        }
        for (s, m) in scale.iter_mut().zip(&mean) {
            let std = s.sqrt();
            // Relative threshold: a column that only differs by rounding is constant.
            *s = if std > 1e-12 * m.abs().max(1.0) {
                std
            } else {
                1.0
            };
        }
        Ok(Standardizer { mean, scale })
    }

    /// Number of columns it was fitted on.
    pub fn width(&self) -> usize {
        self.mean.len()
    }

    /// Maps one row into the standardized space.
    ///
    /// # Errors
    ///
    /// [`BaselineError::FeatureCount`] when the row's width differs from the fitted one,
    /// [`BaselineError::NotFinite`] for a non-finite entry.
    pub fn transform(&self, row: &[f64]) -> Result<Vec<f64>, BaselineError> {
        check_row(0, row, self.width())?;
        Ok(row
            .iter()
            .zip(&self.mean)
            .zip(&self.scale)
            .map(|((v, m), s)| (v - m) / s)
            .collect())
    }

    /// Maps every row; see [`Standardizer::transform`].
    ///
    /// # Errors
    ///
    /// As [`Standardizer::transform`], naming the offending row.
    pub fn transform_all(&self, rows: &[Vec<f64>]) -> Result<Vec<Vec<f64>>, BaselineError> {
        check_rows(rows, self.width())?;
        rows.iter().map(|row| self.transform(row)).collect()
    }
}

/// Checks that every row has `width` finite entries, naming the first bad row.
pub(crate) fn check_rows(rows: &[Vec<f64>], width: usize) -> Result<(), BaselineError> {
    rows.iter()
        .enumerate()
        .try_for_each(|(index, row)| check_row(index, row, width))
}

fn check_row(index: usize, row: &[f64], width: usize) -> Result<(), BaselineError> {
    if row.len() != width {
        return Err(BaselineError::FeatureCount {
            row: index,
            found: row.len(),
            expected: width,
        });
    }
    match row.iter().position(|v| !v.is_finite()) {
        Some(column) => Err(BaselineError::NotFinite { row: index, column }),
        None => Ok(()),
    }
}

/// Solves `A x = b` for a symmetric positive definite `A` (row-major, `n` x `n`) by Cholesky
/// factorisation `A = L L^T` (nalgebra's), then forward and back substitution. Only the lower
/// triangle of `A` is read.
///
/// Cholesky rather than a general solver because ridge's `X^T X + lambda I` is SPD by
/// construction, and a factorisation that fails then reveals a bug or a degenerate input
/// instead of being papered over.
///
/// # Errors
///
/// [`BaselineError::FeatureCount`] when the sizes disagree, [`BaselineError::NotFinite`] for a
/// non-finite entry, [`BaselineError::NotPositiveDefinite`] when the factorisation fails.
pub fn cholesky_solve(a: &[f64], b: &[f64]) -> Result<Vec<f64>, BaselineError> {
    let n = b.len();
    if a.len() != n * n {
        return Err(BaselineError::FeatureCount {
            row: 0,
            found: a.len(),
            expected: n * n,
        });
    }
    if let Some(index) = a.iter().chain(b).position(|v| !v.is_finite()) {
        return Err(BaselineError::NotFinite {
            row: index / n.max(1),
            column: index % n.max(1),
        });
    }
    let matrix = nalgebra::DMatrix::from_row_slice(n, n, a);
    let cholesky =
        nalgebra::Cholesky::new(matrix).ok_or(BaselineError::NotPositiveDefinite { size: n })?;
    let x = cholesky.solve(&nalgebra::DVector::from_column_slice(b));
    Ok(x.iter().copied().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves_a_hand_checked_spd_system() {
        // A = [[4,2,0],[2,5,1],[0,1,3]], x = [1,-1,2] -> b = A x = [4-2, 2-5+2, -1+6] = [2,-1,5].
        let a = [4.0, 2.0, 0.0, 2.0, 5.0, 1.0, 0.0, 1.0, 3.0];
        let x = cholesky_solve(&a, &[2.0, -1.0, 5.0]).unwrap();
        for (got, want) in x.iter().zip([1.0, -1.0, 2.0]) {
            assert!((got - want).abs() < 1e-12, "{x:?}");
        }
    }

    #[test]
    fn cholesky_rejects_an_indefinite_matrix() {
        // Eigenvalues 3 and -1.
        let a = [1.0, 2.0, 2.0, 1.0];
        assert!(matches!(
            cholesky_solve(&a, &[1.0, 1.0]),
            Err(BaselineError::NotPositiveDefinite { size: 2 })
        ));
    }

    #[test]
    fn cholesky_rejects_mismatched_sizes_and_nan() {
        assert!(matches!(
            cholesky_solve(&[1.0, 0.0, 0.0], &[1.0, 1.0]),
            Err(BaselineError::FeatureCount { .. })
        ));
        assert!(matches!(
            cholesky_solve(&[1.0, 0.0, 0.0, f64::NAN], &[1.0, 1.0]),
            Err(BaselineError::NotFinite { row: 1, column: 1 })
        ));
    }

    #[test]
    fn standardizer_centres_and_scales_and_maps_constant_columns_to_zero() {
        let rows = vec![vec![1.0, 7.0], vec![3.0, 7.0], vec![5.0, 7.0]];
        let s = Standardizer::fit(&rows).unwrap();
        let t = s.transform_all(&rows).unwrap();
        let mean: f64 = t.iter().map(|r| r[0]).sum::<f64>() / 3.0;
        let var: f64 = t.iter().map(|r| r[0] * r[0]).sum::<f64>() / 3.0;
        assert!(mean.abs() < 1e-12 && (var - 1.0).abs() < 1e-12, "{t:?}");
        assert!(t.iter().all(|r| r[1] == 0.0), "{t:?}");
    }

    #[test]
    fn standardizer_rejects_wrong_width_and_non_finite_rows() {
        let s = Standardizer::fit(&[vec![1.0, 2.0], vec![2.0, 3.0]]).unwrap();
        assert!(matches!(
            s.transform(&[1.0]),
            Err(BaselineError::FeatureCount {
                found: 1,
                expected: 2,
                ..
            })
        ));
        assert!(matches!(
            Standardizer::fit(&[vec![1.0], vec![f64::INFINITY]]),
            Err(BaselineError::NotFinite { row: 1, column: 0 })
        ));
        assert!(matches!(
            Standardizer::fit(&[]),
            Err(BaselineError::TooFewSamples { .. })
        ));
    }
}

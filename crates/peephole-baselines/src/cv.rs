//! K-fold cross-validation shared by the baselines' hyper-parameter searches, seeded so a
//! rerun on the same zoo picks the same setting.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::BaselineError;

/// Splits `0..n` into `folds` disjoint held-out index sets of near-equal size, after a seeded
/// shuffle (zoo files are in generation order, which need not be random with respect to
/// accuracy once several generator streams are concatenated).
pub(crate) fn fold_indices(n: usize, folds: usize, seed: u64) -> Vec<Vec<usize>> {
    let folds = folds.clamp(1, n.max(1));
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let mut sets = vec![Vec::new(); folds];
    for (position, index) in order.into_iter().enumerate() {
        sets[position % folds].push(index);
    }
    sets
}

/// Mean squared error over every held-out point of a k-fold split: each fold is predicted by
/// `fit_predict(train_x, train_y, test_x)` fitted on the other folds only.
pub(crate) fn cross_validated_mse<F>(
    x: &[Vec<f64>],
    y: &[f64],
    folds: usize,
    seed: u64,
    mut fit_predict: F,
) -> Result<f64, BaselineError>
where
    F: FnMut(&[Vec<f64>], &[f64], &[Vec<f64>]) -> Result<Vec<f64>, BaselineError>,
{
    if x.len() != y.len() {
        return Err(BaselineError::LengthMismatch {
            rows: x.len(),
            targets: y.len(),
        });
    }
    if folds < 2 || x.len() < 2 * folds {
        return Err(BaselineError::TooFewSamples {
            found: x.len(),
            needed: 2 * folds.max(2),
        });
    }
    let mut squared = 0.0;
    for held_out in fold_indices(x.len(), folds, seed) {
        let mut is_held_out = vec![false; x.len()];
        for &i in &held_out {
            is_held_out[i] = true;
        }
        let (train_x, train_y): (Vec<Vec<f64>>, Vec<f64>) = (0..x.len())
            .filter(|&i| !is_held_out[i])
            .map(|i| (x[i].clone(), y[i]))
            .unzip();
        let test_x: Vec<Vec<f64>> = held_out.iter().map(|&i| x[i].clone()).collect();
        let predicted = fit_predict(&train_x, &train_y, &test_x)?;
        for (p, &i) in predicted.iter().zip(&held_out) {
            squared += (p - y[i]).powi(2);
        }
    }
    Ok(squared / x.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_partition_every_index_exactly_once_with_balanced_sizes() {
        let sets = fold_indices(23, 5, 7);
        assert_eq!(sets.len(), 5);
        let mut all: Vec<usize> = sets.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..23).collect::<Vec<_>>());
        assert!(
            sets.iter().all(|s| s.len() == 4 || s.len() == 5),
            "{sets:?}"
        );
    }

    #[test]
    fn folds_depend_on_the_seed_only() {
        assert_eq!(fold_indices(30, 3, 1), fold_indices(30, 3, 1));
        assert_ne!(fold_indices(30, 3, 1), fold_indices(30, 3, 2));
    }

    #[test]
    fn cross_validation_never_shows_a_held_out_target_to_the_fit() {
        // Predicting with the training mean: if a held-out point leaked into training, the
        // mean would move towards it. With y = [0,...,0,100] and two folds of five, the 100
        // is held out once, against a training mean of 0, so its error is exactly 100^2.
        let x: Vec<Vec<f64>> = (0..10).map(|i| vec![f64::from(i)]).collect();
        let mut y = vec![0.0; 10];
        y[9] = 100.0;
        let mse = cross_validated_mse(&x, &y, 2, 3, |_, ty, tx| {
            let mean = ty.iter().sum::<f64>() / ty.len() as f64;
            Ok(vec![mean; tx.len()])
        })
        .unwrap();
        // The other fold's five zeros are predicted by a mean of 100/5 = 20.
        let expected = (100.0f64.powi(2) + 5.0 * 20.0f64.powi(2)) / 10.0;
        assert!((mse - expected).abs() < 1e-9, "{mse} vs {expected}");
    }

    #[test]
    fn cross_validation_needs_two_samples_per_fold() {
        let x = vec![vec![0.0]; 5];
        let y = vec![0.0; 5];
        let result = cross_validated_mse(&x, &y, 3, 0, |_, _, tx| Ok(vec![0.0; tx.len()]));
        assert!(matches!(
            result,
            Err(BaselineError::TooFewSamples {
                found: 5,
                needed: 6
            })
        ));
    }
}

//! Seeded bootstrap over networks: every metric of a slice gets a 95% percentile interval
//! from the same resamples, so the interval of a difference between two methods (Peephole's
//! tau minus a baseline's) is computed on paired draws.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// How networks are resampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bootstrap {
    /// Resamples drawn.
    pub resamples: usize,
    /// Seed of the draws: the same seed gives the same resamples for every method.
    pub seed: u64,
}

/// A 95% interval and how many resamples it rests on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// 2.5th percentile.
    pub low: f64,
    /// 97.5th percentile.
    pub high: f64,
    /// Resamples on which the statistic was defined (a resample of a slice can be constant,
    /// which leaves a rank correlation undefined).
    pub defined: usize,
}

impl Bootstrap {
    /// The resamples for `n` networks: each `n` indices drawn with replacement. Empty for
    /// `n == 0`.
    pub fn draws(&self, n: usize) -> Vec<Vec<usize>> {
        if n == 0 {
            return Vec::new();
        }
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        (0..self.resamples)
            .map(|_| (0..n).map(|_| rng.random_range(0..n)).collect())
            .collect()
    }
}

/// The 95% percentile interval of `statistic` over `draws`; `None` when it is undefined on
/// every draw (or there are none).
pub fn interval(
    draws: &[Vec<usize>],
    statistic: impl Fn(&[usize]) -> Option<f64>,
) -> Option<Interval> {
    let mut values: Vec<f64> = draws
        .iter()
        .filter_map(|draw| statistic(draw))
        .filter(|v| v.is_finite())
        .collect();
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    Some(Interval {
        low: quantile(&values, 0.025),
        high: quantile(&values, 0.975),
        defined: values.len(),
    })
}

/// The `q` quantile of sorted `values`, interpolating linearly between order statistics.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    let Some(&last) = sorted.last() else {
        return f64::NAN;
    };
    let position = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let low = position.floor() as usize;
    let high = (low + 1).min(sorted.len() - 1);
    if low >= sorted.len() - 1 {
        return last;
    }
    sorted[low] + (sorted[high] - sorted[low]) * (position - low as f64)
}

/// `values` picked at `draw`'s indices.
pub fn pick(values: &[f64], draw: &[usize]) -> Vec<f64> {
    draw.iter().map(|&i| values[i]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean(v: &[f64]) -> f64 {
        v.iter().sum::<f64>() / v.len() as f64
    }

    #[test]
    fn interval_of_a_mean_matches_the_normal_approximation() {
        // 200 values, half 0 and half 1: mean 0.5, standard error 0.5 / sqrt(200) = 0.0354,
        // so the 95% interval is about 0.5 +- 0.069.
        let values: Vec<f64> = (0..200).map(|i| f64::from(i % 2)).collect();
        let draws = Bootstrap {
            resamples: 2000,
            seed: 1,
        }
        .draws(values.len());
        let i = interval(&draws, |d| Some(mean(&pick(&values, d)))).unwrap();
        assert_eq!(i.defined, 2000);
        assert!((i.low - (0.5 - 0.0693)).abs() < 0.012, "{i:?}");
        assert!((i.high - (0.5 + 0.0693)).abs() < 0.012, "{i:?}");
    }

    #[test]
    fn draws_are_seeded_and_undefined_statistics_are_counted_out() {
        let a = Bootstrap {
            resamples: 5,
            seed: 7,
        }
        .draws(10);
        assert_eq!(
            a,
            Bootstrap {
                resamples: 5,
                seed: 7
            }
            .draws(10)
        );
        assert_ne!(
            a,
            Bootstrap {
                resamples: 5,
                seed: 8
            }
            .draws(10)
        );
        assert!(a.iter().all(|d| d.len() == 10 && d.iter().all(|&i| i < 10)));
        let i = interval(&a, |d| if d[0] % 2 == 0 { Some(1.0) } else { None });
        let even = a.iter().filter(|d| d[0] % 2 == 0).count();
        assert_eq!(i.map(|i| i.defined), (even > 0).then_some(even));
        assert_eq!(interval(&a, |_| None), None);
        assert!(
            Bootstrap {
                resamples: 5,
                seed: 7
            }
            .draws(0)
            .is_empty()
        );
    }

    #[test]
    fn quantile_interpolates_between_order_statistics() {
        let sorted = [0.0, 1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&sorted, 0.0), 0.0);
        assert_eq!(quantile(&sorted, 0.5), 2.0);
        assert_eq!(quantile(&sorted, 0.625), 2.5);
        assert_eq!(quantile(&sorted, 1.0), 4.0);
    }
}

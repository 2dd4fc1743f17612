//! Metrics that compare predicted with measured accuracies, as reported in the Peephole paper's
//! Table 3: MSE and R² say how close the numbers are, Kendall's tau-b and Spearman's rho say how
//! well the predictor orders architectures, which is what an architecture search consumes.
//!
//! Every metric takes `(predicted, actual)` and validates its input the same way, in this order:
//! equal lengths, enough samples, every value finite, then (where the metric needs it) variation.
//! The correlations are symmetric; the argument names only label the side an error points at.
//!
//! Sums are computed on values scaled by their largest magnitude, so inputs anywhere in the `f64`
//! range neither overflow nor underflow on the way; a result that truly does not fit in an `f64`
//! is reported as [`MetricError::Overflow`] instead of coming back as `inf` or `NaN`.

pub mod bootstrap;
pub mod classification;

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

pub use peephole_predictor::Report;

/// Which of the two compared sequences an error is about, so a message can name the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Side {
    /// The first argument: what the predictor says.
    Predicted,
    /// The second argument: what training measured.
    Actual,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Predicted => "predicted",
            Side::Actual => "actual",
        })
    }
}

/// Names a metric in an error, so a failed [`evaluate`] says which computation gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Metric {
    /// [`mse`].
    Mse,
    /// [`r_squared`].
    RSquared,
    /// [`pearson`].
    Pearson,
    /// [`spearman`].
    Spearman,
    /// [`kendall_tau_b`].
    KendallTauB,
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Metric::Mse => "mean squared error",
            Metric::RSquared => "R squared",
            Metric::Pearson => "Pearson correlation",
            Metric::Spearman => "Spearman correlation",
            Metric::KendallTauB => "Kendall tau-b",
        })
    }
}

/// Why a metric could not be computed. Bad input is an error that names the offending side and
/// index, never a panic and never a silent `NaN` in a results table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MetricError {
    /// The two sequences must pair up one to one.
    #[error("predicted has {predicted} values but actual has {actual}; they must pair up")]
    LengthMismatch {
        /// Length of the predicted sequence.
        predicted: usize,
        /// Length of the actual sequence.
        actual: usize,
    },
    /// The metric is undefined for so few samples (a correlation needs at least one pair).
    #[error("{n} samples given but at least {needed} are needed")]
    TooFew {
        /// Number of samples given.
        n: usize,
        /// Smallest number of samples the metric is defined for.
        needed: usize,
    },
    /// A value is `NaN` or infinite, usually a diverged training run or a broken predictor.
    #[error("{which} value at index {index} is not finite")]
    NotFinite {
        /// Position of the first non-finite value on that side.
        index: usize,
        /// The side holding it; predicted is checked before actual.
        which: Side,
    },
    /// Every value on one side is equal, so the metric's denominator is zero.
    #[error("every {which} value is the same, so the metric is undefined")]
    Constant {
        /// The constant side; predicted is checked before actual.
        which: Side,
    },
    /// The exact result lies outside the range of `f64` (values astronomically far apart).
    #[error("{metric} does not fit in an f64 for these inputs")]
    Overflow {
        /// The metric whose result overflowed.
        metric: Metric,
    },
}

/// Mean squared error, the paper's headline regression metric: it punishes large misses, which
/// matter when a predicted accuracy is used as an absolute number rather than only for ranking.
///
/// # Errors
///
/// [`MetricError::LengthMismatch`], [`MetricError::TooFew`] below one sample, [`MetricError::NotFinite`],
/// and [`MetricError::Overflow`] when the mean squared error exceeds `f64::MAX`.
pub fn mse(predicted: &[f64], actual: &[f64]) -> Result<f64, MetricError> {
    check_inputs(predicted, actual, 1)?;
    // Scaling by the largest magnitude keeps every difference in [-2, 2], so no square overflows.
    let scale = max_abs(predicted).max(max_abs(actual));
    if scale == 0.0 {
        return Ok(0.0);
    }
    let n = predicted.len() as f64;
    let scaled: f64 = predicted
        .iter()
        .zip(actual)
        .map(|(p, a)| {
            let d = p / scale - a / scale;
            d * d
        })
        .sum::<f64>()
        / n;
    finite(scaled * scale * scale, Metric::Mse)
}

/// Coefficient of determination, `1 - SS_res / SS_tot` with `SS_tot` taken around the mean of
/// `actual`: MSE relative to the trivial predictor that always answers the mean, so scores are
/// comparable across data sets whose accuracies spread differently. At most 1; 0 for the mean
/// predictor; negative for worse.
///
/// # Errors
///
/// [`MetricError::LengthMismatch`], [`MetricError::TooFew`] below two samples, [`MetricError::NotFinite`],
/// [`MetricError::Constant`] when `actual` is constant, and [`MetricError::Overflow`] when
/// predictions lie so far outside the spread of `actual` that R² is below `-f64::MAX`.
pub fn r_squared(predicted: &[f64], actual: &[f64]) -> Result<f64, MetricError> {
    check_inputs(predicted, actual, 2)?;
    ensure_varies(actual, Side::Actual)?;
    // Both sides share the scale of `actual`: the ratio is unchanged, and SS_tot cannot underflow
    // to zero because the largest scaled actual value has magnitude one and another one differs.
    let scale = max_abs(actual);
    let n = actual.len() as f64;
    let mean = actual.iter().map(|a| a / scale).sum::<f64>() / n;
    let (ss_res, ss_tot) =
        predicted
            .iter()
            .zip(actual)
            .fold((0.0_f64, 0.0_f64), |(res, tot), (p, a)| {
                let a = a / scale;
                let miss = p / scale - a;
                let spread = a - mean;
                (res + miss * miss, tot + spread * spread)
            });
    finite(1.0 - ss_res / ss_tot, Metric::RSquared)
}

/// Pearson's linear correlation coefficient, in [-1, 1]. Spearman's rho is this applied to
/// ranks; on its own it shows whether predictions are an affine function of the truth.
///
/// # Errors
///
/// [`MetricError::LengthMismatch`], [`MetricError::TooFew`] below two samples, [`MetricError::NotFinite`],
/// and [`MetricError::Constant`] when either side is constant.
pub fn pearson(predicted: &[f64], actual: &[f64]) -> Result<f64, MetricError> {
    check_inputs(predicted, actual, 2)?;
    ensure_varies(predicted, Side::Predicted)?;
    ensure_varies(actual, Side::Actual)?;
    finite(pearson_of_varying(predicted, actual), Metric::Pearson)
}

/// Spearman's rank correlation: Pearson's correlation of the ranks, where tied values share the
/// mean of the ranks they span. Like Kendall's tau it only judges the order of predictions, but
/// weighs a misplacement by how far it moves, so the paper reports both.
///
/// # Errors
///
/// [`MetricError::LengthMismatch`], [`MetricError::TooFew`] below two samples, [`MetricError::NotFinite`],
/// and [`MetricError::Constant`] when either side is constant.
pub fn spearman(predicted: &[f64], actual: &[f64]) -> Result<f64, MetricError> {
    check_inputs(predicted, actual, 2)?;
    ensure_varies(predicted, Side::Predicted)?;
    ensure_varies(actual, Side::Actual)?;
    finite(
        pearson_of_varying(&average_ranks(predicted), &average_ranks(actual)),
        Metric::Spearman,
    )
}

/// Kendall's tau-b, the paper's ranking metric: the balance of concordant over discordant pairs,
/// corrected for ties. It matters most because a search over architectures only needs the
/// predictor to put the better candidate first, not to hit the exact accuracy.
///
/// Runs in O(n log n) with Knight's algorithm, so it stays cheap on whole zoos.
///
/// # Errors
///
/// [`MetricError::LengthMismatch`], [`MetricError::TooFew`] below two samples, [`MetricError::NotFinite`],
/// and [`MetricError::Constant`] when either side is constant.
pub fn kendall_tau_b(predicted: &[f64], actual: &[f64]) -> Result<f64, MetricError> {
    check_inputs(predicted, actual, 2)?;
    ensure_varies(predicted, Side::Predicted)?;
    ensure_varies(actual, Side::Actual)?;
    let counts = PairCounts::knight(predicted, actual);
    finite(counts.tau_b(), Metric::KendallTauB)
}

/// Computes a [`Report`], the one call a training or benchmarking run needs.
///
/// # Errors
///
/// The first error of [`mse`], [`r_squared`], [`kendall_tau_b`] or [`spearman`]. In particular a
/// predictor that gives every architecture the same accuracy has no ranking, so it gets
/// [`MetricError::Constant`] for the predicted side rather than a misleading zero.
pub fn evaluate(predicted: &[f64], actual: &[f64]) -> Result<Report, MetricError> {
    Ok(Report {
        mse: mse(predicted, actual)?,
        r2: r_squared(predicted, actual)?,
        kendall_tau: kendall_tau_b(predicted, actual)?,
        spearman: spearman(predicted, actual)?,
        n: predicted.len(),
    })
}

/// Checks what every metric needs: paired lengths, `needed` samples, finite values.
fn check_inputs(predicted: &[f64], actual: &[f64], needed: usize) -> Result<(), MetricError> {
    if predicted.len() != actual.len() {
        return Err(MetricError::LengthMismatch {
            predicted: predicted.len(),
            actual: actual.len(),
        });
    }
    if predicted.len() < needed {
        return Err(MetricError::TooFew {
            n: predicted.len(),
            needed,
        });
    }
    for (which, values) in [(Side::Predicted, predicted), (Side::Actual, actual)] {
        if let Some(index) = values.iter().position(|v| !v.is_finite()) {
            return Err(MetricError::NotFinite { index, which });
        }
    }
    Ok(())
}

/// Constancy is decided by comparing values, not by a computed variance: the mean of equal
/// values such as `[0.1; 3]` is not exactly `0.1`, so a variance would be a tiny nonzero number
/// and the metric would be noise instead of an error.
fn ensure_varies(values: &[f64], which: Side) -> Result<(), MetricError> {
    match values.split_first() {
        Some((first, rest)) if rest.iter().any(|v| v != first) => Ok(()),
        _ => Err(MetricError::Constant { which }),
    }
}

fn finite(value: f64, metric: Metric) -> Result<f64, MetricError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(MetricError::Overflow { metric })
    }
}

fn max_abs(values: &[f64]) -> f64 {
    values.iter().fold(0.0, |m, v| m.max(v.abs()))
}

/// Order of finite values in which `-0.0 == 0.0`, matching `==`, which the tie counts rely on
/// (`f64::total_cmp` would split them). Callers have rejected `NaN`, the only incomparable value.
fn cmp_finite(a: f64, b: f64) -> Ordering {
    a.partial_cmp(&b).unwrap_or(Ordering::Equal)
}

/// Pearson's correlation of two validated, non-constant sequences of equal length.
fn pearson_of_varying(x: &[f64], y: &[f64]) -> f64 {
    // Correlation is invariant under scaling each side by a positive factor; scaling by the
    // largest magnitude keeps the sums in range for any finite input.
    let (sx, sy) = (max_abs(x), max_abs(y));
    let n = x.len() as f64;
    let mean_x = x.iter().map(|v| v / sx).sum::<f64>() / n;
    let mean_y = y.iter().map(|v| v / sy).sum::<f64>() / n;
    let (mut sxx, mut syy, mut sxy) = (0.0_f64, 0.0_f64, 0.0_f64);
    for (a, b) in x.iter().zip(y) {
        let dx = a / sx - mean_x;
        let dy = b / sy - mean_y;
        sxx += dx * dx;
        syy += dy * dy;
        sxy += dx * dy;
    }
    // Rounding can push a perfect correlation a hair past one.
    (sxy / (sxx.sqrt() * syy.sqrt())).clamp(-1.0, 1.0)
}

/// 1-based ranks, where a run of equal values all get the mean of the ranks the run spans.
fn average_ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_unstable_by(|&i, &j| cmp_finite(values[i], values[j]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let value = values[order[start]];
        let end = start
            + order[start..]
                .iter()
                .take_while(|&&i| values[i] == value)
                .count();
        // Sorted positions start..end hold ranks start+1..=end; their mean is:
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        start = end;
    }
    ranks
}

/// Pair counts behind tau-b, all over the n0 = n(n-1)/2 unordered pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PairCounts {
    /// n0: all pairs.
    pairs: u64,
    /// n1: pairs tied on the first side.
    tied_x: u64,
    /// n2: pairs tied on the second side.
    tied_y: u64,
    /// n3: pairs tied on both sides.
    tied_both: u64,
    /// Pairs ordered oppositely by the two sides.
    discordant: u64,
}

impl PairCounts {
    /// Knight's algorithm (1966).
    ///
    /// Sort the pairs by `(x, y)`. Then a pair at sorted positions `i < j` has `x[i] < x[j]`, or
    /// `x[i] == x[j]` and `y[i] <= y[j]`. A stable merge sort on `y` swaps exactly the pairs with
    /// `y[i] > y[j]`, which therefore have `x[i] < x[j]`: the swap count is the number of
    /// discordant pairs. Runs of equal `x` (and equal `(x, y)`) are adjacent after the first
    /// sort, runs of equal `y` after the second.
    fn knight(x: &[f64], y: &[f64]) -> Self {
        let mut paired: Vec<(f64, f64)> = x.iter().copied().zip(y.iter().copied()).collect();
        paired.sort_unstable_by(|a, b| cmp_finite(a.0, b.0).then(cmp_finite(a.1, b.1)));

        let tied_x = tied_pairs(&paired, |a, b| a.0 == b.0);
        let tied_both = tied_pairs(&paired, |a, b| a == b);

        let mut y_sorted: Vec<f64> = paired.iter().map(|p| p.1).collect();
        let discordant = merge_sort_counting_swaps(&mut y_sorted);
        let tied_y = tied_pairs(&y_sorted, |a, b| a == b);

        let n = x.len() as u64;
        PairCounts {
            pairs: n * (n - 1) / 2,
            tied_x,
            tied_y,
            tied_both,
            discordant,
        }
    }

    /// Pairs tied on neither side are concordant (C) or discordant (D). By inclusion-exclusion
    /// over the pairs tied on x or on y:
    ///
    ///   C + D = n0 - n1 - n2 + n3,  so  C - D = n0 - n1 - n2 + n3 - 2D.
    ///
    /// Pairs not tied on x are C + D plus those tied on y only, i.e. n0 - n1; likewise n0 - n2.
    /// tau-b = (C - D) / sqrt((n0 - n1)(n0 - n2)).
    ///
    /// Callers ensure neither side is constant, so both factors are positive.
    fn tau_b(&self) -> f64 {
        let c_minus_d = i128::from(self.pairs) - i128::from(self.tied_x) - i128::from(self.tied_y)
            + i128::from(self.tied_both)
            - 2 * i128::from(self.discordant);
        let untied_x = (self.pairs - self.tied_x) as f64;
        let untied_y = (self.pairs - self.tied_y) as f64;
        // sqrt of the product (not a product of roots) gives exactly 1 for perfect agreement.
        (c_minus_d as f64 / (untied_x * untied_y).sqrt()).clamp(-1.0, 1.0)
    }
}

/// Sum of t(t-1)/2 over maximal runs of adjacent items that `same` considers equal.
fn tied_pairs<T>(sorted: &[T], same: impl Fn(&T, &T) -> bool) -> u64 {
    let mut total = 0;
    let mut run: u64 = 1;
    for w in sorted.windows(2) {
        if same(&w[0], &w[1]) {
            run += 1;
        } else {
            total += run * (run - 1) / 2;
            run = 1;
        }
    }
    total + run * (run - 1) / 2
}

/// Stable bottom-up merge sort; returns how many pairs i < j had values[i] > values[j], i.e. the
/// number of adjacent swaps an insertion sort would make. Equal values never count.
fn merge_sort_counting_swaps(values: &mut Vec<f64>) -> u64 {
    let n = values.len();
    let mut src = std::mem::take(values);
    let mut dst = vec![0.0; n];
    let mut swaps: u64 = 0;
    let mut width = 1;
    while width < n {
        for lo in (0..n).step_by(2 * width) {
            let mid = (lo + width).min(n);
            let hi = (lo + 2 * width).min(n);
            let (mut i, mut j) = (lo, mid);
            for slot in &mut dst[lo..hi] {
                // Taking the left element on equality keeps the sort stable and ties uncounted.
                if j >= hi || (i < mid && src[i] <= src[j]) {
                    *slot = src[i];
                    i += 1;
                } else {
                    *slot = src[j];
                    j += 1;
                    // src[j] jumps over every remaining left element, each one greater.
                    swaps += (mid - i) as u64;
                }
            }
        }
        std::mem::swap(&mut src, &mut dst);
        width *= 2;
    }
    *values = src;
    swaps
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    const TOL: f64 = 1e-12;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= TOL
    }

    /// Tau-b straight from its definition, one pair at a time. `None` when undefined.
    fn naive_tau_b(x: &[f64], y: &[f64]) -> Option<f64> {
        let (mut concordant, mut discordant, mut only_x, mut only_y) = (0i64, 0i64, 0i64, 0i64);
        for i in 0..x.len() {
            for j in i + 1..x.len() {
                let dx = x[i] - x[j];
                let dy = y[i] - y[j];
                if dx == 0.0 && dy == 0.0 {
                    // Tied on both: in neither factor of the denominator.
                } else if dx == 0.0 {
                    only_x += 1;
                } else if dy == 0.0 {
                    only_y += 1;
                } else if (dx > 0.0) == (dy > 0.0) {
                    concordant += 1;
                } else {
                    discordant += 1;
                }
            }
        }
        let untied_x = (concordant + discordant + only_y) as f64;
        let untied_y = (concordant + discordant + only_x) as f64;
        let denom = (untied_x * untied_y).sqrt();
        (denom > 0.0).then(|| (concordant - discordant) as f64 / denom)
    }

    /// Ranks by counting: 1 + (# smaller) + (# equal others) / 2.
    fn naive_ranks(x: &[f64]) -> Vec<f64> {
        x.iter()
            .map(|&v| {
                let smaller = x.iter().filter(|&&w| w < v).count() as f64;
                let equal = x.iter().filter(|&&w| w == v).count() as f64;
                1.0 + smaller + (equal - 1.0) / 2.0
            })
            .collect()
    }

    /// Textbook Pearson without scaling. `None` when a side has zero variance.
    fn naive_pearson(x: &[f64], y: &[f64]) -> Option<f64> {
        let n = x.len() as f64;
        let mx = x.iter().sum::<f64>() / n;
        let my = y.iter().sum::<f64>() / n;
        let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
        let sxx: f64 = x.iter().map(|a| (a - mx) * (a - mx)).sum();
        let syy: f64 = y.iter().map(|b| (b - my) * (b - my)).sum();
        (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
    }

    fn naive_spearman(x: &[f64], y: &[f64]) -> Option<f64> {
        naive_pearson(&naive_ranks(x), &naive_ranks(y))
    }

    /// Fast and naive must agree, including on which inputs are undefined.
    fn assert_tau_matches_naive(x: &[f64], y: &[f64]) {
        let fast = kendall_tau_b(x, y).ok();
        let naive = naive_tau_b(x, y);
        match (fast, naive) {
            (Some(f), Some(n)) => assert!(close(f, n), "fast {f} naive {n} for {x:?} {y:?}"),
            (None, None) => {}
            other => panic!("definedness differs {other:?} for {x:?} {y:?}"),
        }
    }

    fn assert_spearman_matches_naive(x: &[f64], y: &[f64]) {
        let fast = spearman(x, y).ok();
        let naive = naive_spearman(x, y);
        match (fast, naive) {
            (Some(f), Some(n)) => assert!(close(f, n), "fast {f} naive {n} for {x:?} {y:?}"),
            (None, None) => {}
            other => panic!("definedness differs {other:?} for {x:?} {y:?}"),
        }
    }

    fn tied_pairs_strategy() -> impl Strategy<Value = (Vec<f64>, Vec<f64>)> {
        // Four distinct values make ties on x, on y and on both very common.
        (2usize..80).prop_flat_map(|n| {
            let small = (0u8..4).prop_map(f64::from);
            (
                proptest::collection::vec(small.clone(), n),
                proptest::collection::vec(small, n),
            )
        })
    }

    fn continuous_pairs_strategy() -> impl Strategy<Value = (Vec<f64>, Vec<f64>)> {
        (2usize..80).prop_flat_map(|n| {
            (
                proptest::collection::vec(-1.0e3..1.0e3f64, n),
                proptest::collection::vec(-1.0e3..1.0e3f64, n),
            )
        })
    }

    proptest! {
        #[test]
        fn kendall_tau_b_matches_naive_definition_with_many_ties((x, y) in tied_pairs_strategy()) {
            assert_tau_matches_naive(&x, &y);
        }

        #[test]
        fn kendall_tau_b_matches_naive_definition_on_continuous_data(
            (x, y) in continuous_pairs_strategy()
        ) {
            assert_tau_matches_naive(&x, &y);
        }

        #[test]
        fn spearman_matches_naive_ranks_with_many_ties((x, y) in tied_pairs_strategy()) {
            assert_spearman_matches_naive(&x, &y);
        }

        #[test]
        fn spearman_matches_naive_ranks_on_continuous_data((x, y) in continuous_pairs_strategy()) {
            assert_spearman_matches_naive(&x, &y);
        }

        #[test]
        fn pearson_matches_textbook_formula((x, y) in continuous_pairs_strategy()) {
            let fast = pearson(&x, &y).ok();
            let naive = naive_pearson(&x, &y);
            match (fast, naive) {
                (Some(f), Some(n)) => prop_assert!((f - n).abs() <= 1e-9, "{} vs {}", f, n),
                (None, None) => {}
                other => prop_assert!(false, "definedness differs {:?}", other),
            }
        }
    }

    #[test]
    fn kendall_tau_b_matches_naive_definition_on_large_seeded_samples() {
        // Sizes past proptest's range exercise many merge passes and odd tail blocks.
        let mut rng = StdRng::seed_from_u64(0x7ea1);
        for &n in &[2usize, 3, 17, 128, 257, 1000, 2047] {
            for distinct in [2u32, 5, 50, u32::MAX] {
                let x: Vec<f64> = (0..n)
                    .map(|_| f64::from(rng.random_range(0..distinct)))
                    .collect();
                let y: Vec<f64> = (0..n)
                    .map(|_| f64::from(rng.random_range(0..distinct)))
                    .collect();
                assert_tau_matches_naive(&x, &y);
                assert_spearman_matches_naive(&x, &y);
            }
        }
    }

    #[test]
    fn kendall_tau_b_hand_checked_without_ties() {
        // x = [1,2,3,4,5], y = [3,4,1,2,5]. The 10 pairs (i,j) by the sign of y_j - y_i:
        // (1,2)+ (1,3)- (1,4)- (1,5)+ (2,3)- (2,4)- (2,5)+ (3,4)+ (3,5)+ (4,5)+
        // C = 6, D = 4, no ties: tau-b = (6 - 4) / sqrt(10 * 10) = 0.2.
        let tau = kendall_tau_b(&[1.0, 2.0, 3.0, 4.0, 5.0], &[3.0, 4.0, 1.0, 2.0, 5.0]).unwrap();
        assert!(close(tau, 0.2), "{tau}");
    }

    #[test]
    fn kendall_tau_b_hand_checked_with_ties_on_each_side() {
        // x = [1,1,2,3], y = [1,2,2,3]. Pairs: (1,2) tied in x only; (2,3) tied in y only;
        // (1,3) (1,4) (2,4) (3,4) concordant. n0 = 6, n1 = 1, n2 = 1, n3 = 0, D = 0.
        // tau-b = (6 - 1 - 1 + 0 - 0) / sqrt((6 - 1)(6 - 1)) = 4 / 5 = 0.8.
        let tau = kendall_tau_b(&[1.0, 1.0, 2.0, 3.0], &[1.0, 2.0, 2.0, 3.0]).unwrap();
        assert!(close(tau, 0.8), "{tau}");
    }

    #[test]
    fn kendall_tau_b_hand_checked_with_joint_tie_and_three_way_tie() {
        // x = [1,1,2,2], y = [1,1,2,1]. Pairs: (1,2) tied in both; (1,4) (2,4) tied in y only;
        // (3,4) tied in x only; (1,3) (2,3) concordant.
        // n0 = 6, n1 = 1 + 1 = 2, n2 = 3 (y = 1 three times), n3 = 1, D = 0.
        // tau-b = (6 - 2 - 3 + 1) / sqrt((6 - 2)(6 - 3)) = 2 / sqrt(12) = 1 / sqrt(3).
        let tau = kendall_tau_b(&[1.0, 1.0, 2.0, 2.0], &[1.0, 1.0, 2.0, 1.0]).unwrap();
        assert!(close(tau, 1.0 / 3f64.sqrt()), "{tau}");
    }

    #[test]
    fn kendall_tau_b_is_one_for_perfect_agreement_and_minus_one_for_reversal() {
        let x: Vec<f64> = (0..100).map(f64::from).collect();
        let agree: Vec<f64> = x.iter().map(|v| v * v).collect();
        let reverse: Vec<f64> = x.iter().map(|v| -v).collect();
        assert_eq!(kendall_tau_b(&x, &agree).unwrap(), 1.0);
        assert_eq!(kendall_tau_b(&x, &reverse).unwrap(), -1.0);
    }

    #[test]
    fn kendall_tau_b_treats_negative_and_positive_zero_as_tied() {
        // A total order (`f64::total_cmp`) sorts -0.0 before 0.0 whatever their `y`, so the
        // merge pass would count the tied pair (-0.0, 3) / (0.0, 1) as discordant.
        let y = [3.0, 1.0, 4.0, 2.0];
        let with_signed_zero = kendall_tau_b(&[-0.0, 0.0, 1.0, 0.0], &y).unwrap();
        let with_plain_zero = kendall_tau_b(&[0.0, 0.0, 1.0, 0.0], &y).unwrap();
        assert_eq!(with_signed_zero, with_plain_zero);
        assert_tau_matches_naive(&[-0.0, 0.0, 1.0, 0.0], &y);
    }

    #[test]
    fn merge_sort_counts_inversions_and_sorts() {
        let mut v = vec![3.0, 1.0, 2.0, 2.0, 0.0];
        // Inversions: (3,1) (3,2) (3,2) (3,0) (1,0) (2,0) (2,0) = 7; (2,2) is a tie, not one.
        assert_eq!(merge_sort_counting_swaps(&mut v), 7);
        assert_eq!(v, vec![0.0, 1.0, 2.0, 2.0, 3.0]);
    }

    #[test]
    fn spearman_hand_checked_without_ties() {
        // Ranks equal the values. d = [-2,-2,2,2,0], sum d^2 = 16.
        // rho = 1 - 6 * 16 / (5 * (25 - 1)) = 1 - 96/120 = 0.2.
        let rho = spearman(&[1.0, 2.0, 3.0, 4.0, 5.0], &[3.0, 4.0, 1.0, 2.0, 5.0]).unwrap();
        assert!(close(rho, 0.2), "{rho}");
    }

    #[test]
    fn spearman_hand_checked_with_ties_uses_average_ranks() {
        // x = [1,1,2,3] -> ranks [1.5,1.5,3,4]; y = [1,2,2,3] -> ranks [1,2.5,2.5,4].
        // Both mean 2.5. dx = [-1,-1,0.5,1.5], dy = [-1.5,0,0,1.5].
        // sxy = 1.5 + 0 + 0 + 2.25 = 3.75; sxx = 1+1+0.25+2.25 = 4.5; syy = 2.25+0+0+2.25 = 4.5.
        // rho = 3.75 / 4.5 = 5/6.
        let rho = spearman(&[1.0, 1.0, 2.0, 3.0], &[1.0, 2.0, 2.0, 3.0]).unwrap();
        assert!(close(rho, 5.0 / 6.0), "{rho}");
    }

    #[test]
    fn average_ranks_give_tied_values_the_mean_rank() {
        assert_eq!(
            average_ranks(&[10.0, 30.0, 20.0, 30.0, 30.0]),
            vec![1.0, 4.0, 2.0, 4.0, 4.0]
        );
    }

    #[test]
    fn mse_hand_checked() {
        // Errors [-1, 0, -2] -> squares [1, 0, 4] -> 5 / 3.
        let e = mse(&[1.0, 2.0, 3.0], &[2.0, 2.0, 5.0]).unwrap();
        assert!(close(e, 5.0 / 3.0), "{e}");
        assert_eq!(mse(&[0.0, 0.0], &[0.0, 0.0]).unwrap(), 0.0);
    }

    #[test]
    fn mse_of_huge_but_representable_errors_does_not_overflow() {
        // The squared error (1.5e154)^2 = 2.25e308 overflows if squared directly, but the mean
        // over two samples, 1.125e308, is below f64::MAX.
        let e = mse(&[1.5e154, 0.0], &[0.0, 0.0]).unwrap();
        assert!((e / 1.125e308 - 1.0).abs() < 1e-12, "{e}");
    }

    #[test]
    fn mse_beyond_f64_range_is_an_overflow_error() {
        assert_eq!(
            mse(&[f64::MAX], &[-f64::MAX]),
            Err(MetricError::Overflow {
                metric: Metric::Mse
            })
        );
    }

    #[test]
    fn r_squared_hand_checked() {
        // actual = [1,2,3,4], mean 2.5, SS_tot = 2.25 + 0.25 + 0.25 + 2.25 = 5.
        // predicted = [1,2,3,5], SS_res = 1. R^2 = 1 - 1/5 = 0.8.
        let r2 = r_squared(&[1.0, 2.0, 3.0, 5.0], &[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert!(close(r2, 0.8), "{r2}");
    }

    #[test]
    fn r_squared_is_zero_for_the_mean_predictor_and_negative_when_worse() {
        let actual = [1.0, 2.0, 3.0, 4.0];
        assert!(close(r_squared(&[2.5; 4], &actual).unwrap(), 0.0));
        // Reversed: SS_res = 9 + 1 + 1 + 9 = 20, R^2 = 1 - 20/5 = -3.
        let r2 = r_squared(&[4.0, 3.0, 2.0, 1.0], &actual).unwrap();
        assert!(close(r2, -3.0), "{r2}");
    }

    #[test]
    fn r_squared_is_unaffected_by_tiny_actual_scale() {
        // Unscaled, SS_tot of values near 1e-200 underflows to zero.
        let r2 = r_squared(
            &[1e-200, 2e-200, 3e-200, 5e-200],
            &[1e-200, 2e-200, 3e-200, 4e-200],
        )
        .unwrap();
        assert!(close(r2, 0.8), "{r2}");
    }

    #[test]
    fn pearson_handles_values_near_f64_max() {
        let r = pearson(&[f64::MAX, -f64::MAX, 0.0], &[1.0, -1.0, 0.0]).unwrap();
        assert!(close(r, 1.0), "{r}");
    }

    #[test]
    fn mismatched_lengths_are_an_error_for_every_metric() {
        let expected = Err(MetricError::LengthMismatch {
            predicted: 3,
            actual: 2,
        });
        let (p, a) = ([1.0, 2.0, 3.0], [1.0, 2.0]);
        assert_eq!(mse(&p, &a), expected);
        assert_eq!(r_squared(&p, &a), expected);
        assert_eq!(pearson(&p, &a), expected);
        assert_eq!(spearman(&p, &a), expected);
        assert_eq!(kendall_tau_b(&p, &a), expected);
        assert_eq!(evaluate(&p, &a).err(), expected.err());
    }

    #[test]
    fn non_finite_values_are_an_error_naming_side_and_index() {
        let good = [1.0, 2.0, 3.0];
        let nan_actual = [1.0, 2.0, f64::NAN];
        let inf_predicted = [1.0, f64::NEG_INFINITY, 3.0];
        let nan_at_2 = Err(MetricError::NotFinite {
            index: 2,
            which: Side::Actual,
        });
        assert_eq!(mse(&good, &nan_actual), nan_at_2);
        assert_eq!(r_squared(&good, &nan_actual), nan_at_2);
        assert_eq!(spearman(&good, &nan_actual), nan_at_2);
        assert_eq!(kendall_tau_b(&good, &nan_actual), nan_at_2);
        assert_eq!(
            kendall_tau_b(&inf_predicted, &good),
            Err(MetricError::NotFinite {
                index: 1,
                which: Side::Predicted
            })
        );
    }

    #[test]
    fn constant_input_is_an_error_naming_the_side() {
        let varying = [1.0, 2.0, 3.0];
        // 0.1 + 0.1 + 0.1 != 0.3, so a computed variance would not be exactly zero here.
        let constant = [0.1; 3];
        let predicted_constant = Err(MetricError::Constant {
            which: Side::Predicted,
        });
        let actual_constant = Err(MetricError::Constant {
            which: Side::Actual,
        });
        assert_eq!(r_squared(&varying, &constant), actual_constant);
        assert_eq!(kendall_tau_b(&constant, &varying), predicted_constant);
        assert_eq!(kendall_tau_b(&varying, &constant), actual_constant);
        assert_eq!(spearman(&varying, &constant), actual_constant);
        assert_eq!(pearson(&constant, &varying), predicted_constant);
        // R^2 only needs variation in the truth; a constant prediction is a valid (bad) model.
        assert!(r_squared(&constant, &varying).is_ok());
    }

    #[test]
    fn too_few_samples_is_an_error() {
        assert_eq!(mse(&[], &[]), Err(MetricError::TooFew { n: 0, needed: 1 }));
        assert_eq!(
            kendall_tau_b(&[1.0], &[1.0]),
            Err(MetricError::TooFew { n: 1, needed: 2 })
        );
        assert_eq!(
            r_squared(&[1.0], &[1.0]),
            Err(MetricError::TooFew { n: 1, needed: 2 })
        );
    }

    #[test]
    fn evaluate_collects_every_metric_and_serializes_by_field_name() {
        let report = evaluate(&[1.0, 2.0, 3.0, 5.0], &[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(report.n, 4);
        assert!(close(report.mse, 0.25));
        assert!(close(report.r2, 0.8));
        assert_eq!(report.kendall_tau, 1.0);
        assert!(close(report.spearman, 1.0));
        let json = serde_json::to_value(report).unwrap();
        for key in ["mse", "r2", "kendall_tau", "spearman", "n"] {
            assert!(json.get(key).is_some(), "missing {key} in {json}");
        }
    }

    #[test]
    fn error_messages_name_the_input() {
        let msg = MetricError::NotFinite {
            index: 7,
            which: Side::Actual,
        }
        .to_string();
        assert_eq!(msg, "actual value at index 7 is not finite");
    }
}

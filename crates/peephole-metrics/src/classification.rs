//! How well a probability answers a yes/no question, for "will this network stay at chance?":
//! the area under the ROC curve (does it rank the networks that never train above the ones
//! that do), the Brier score (how close the probabilities are to what happened), and the
//! reliability table (of the networks given about 30%, did about 30% stay at chance).
//!
//! Inputs are `(probability, outcome)` pairs, one per training run; probabilities are checked
//! to lie in `[0, 1]`, and every error names what is wrong, as the regression metrics do.

use serde::{Deserialize, Serialize};

/// Why a classification metric could not be computed.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum ClassificationError {
    /// Probabilities and outcomes must pair up one to one.
    #[error("{probabilities} probabilities but {outcomes} outcomes; they must pair up")]
    LengthMismatch {
        /// Number of probabilities.
        probabilities: usize,
        /// Number of outcomes.
        outcomes: usize,
    },
    /// No run at all.
    #[error("no runs to score")]
    Empty,
    /// A probability is not a number in `[0, 1]`.
    #[error("probability {value} at index {index} is not in [0, 1]")]
    NotAProbability {
        /// Its position.
        index: usize,
        /// The value.
        value: f64,
    },
    /// AUC compares positives with negatives: every run had the same outcome.
    #[error("every run {}, so the AUC is undefined", if *.positive { "stayed at chance" } else { "trained" })]
    OneClass {
        /// The one outcome seen.
        positive: bool,
    },
    /// A reliability table needs at least one bin.
    #[error("a reliability table needs at least one bin")]
    NoBins,
}

fn check(probabilities: &[f64], outcomes: &[bool]) -> Result<(), ClassificationError> {
    if probabilities.len() != outcomes.len() {
        return Err(ClassificationError::LengthMismatch {
            probabilities: probabilities.len(),
            outcomes: outcomes.len(),
        });
    }
    if probabilities.is_empty() {
        return Err(ClassificationError::Empty);
    }
    match probabilities.iter().position(|p| !(0.0..=1.0).contains(p)) {
        Some(index) => Err(ClassificationError::NotAProbability {
            index,
            value: probabilities[index],
        }),
        None => Ok(()),
    }
}

/// Area under the ROC curve: the probability that a random run that stayed at chance got a
/// higher probability than a random run that trained, ties counting half (the Mann-Whitney U
/// statistic over both counts). 0.5 is a coin, 1 a perfect ranking.
///
/// # Errors
///
/// [`ClassificationError::LengthMismatch`], [`ClassificationError::Empty`],
/// [`ClassificationError::NotAProbability`], and [`ClassificationError::OneClass`] when every
/// run has the same outcome.
pub fn auc(probabilities: &[f64], outcomes: &[bool]) -> Result<f64, ClassificationError> {
    check(probabilities, outcomes)?;
    let positives = outcomes.iter().filter(|&&o| o).count();
    let negatives = outcomes.len() - positives;
    if positives == 0 || negatives == 0 {
        return Err(ClassificationError::OneClass {
            positive: positives > 0,
        });
    }
    // Ranks with ties averaged, 1-based; the positives' rank sum gives U.
    let mut order: Vec<usize> = (0..probabilities.len()).collect();
    order.sort_by(|&a, &b| probabilities[a].total_cmp(&probabilities[b]));
    let mut rank_sum = 0.0;
    let mut start = 0;
    while start < order.len() {
        let value = probabilities[order[start]];
        let end = start
            + order[start..]
                .iter()
                .take_while(|&&i| probabilities[i] == value)
                .count();
        // Ranks start+1 ..= end share their mean.
        let mean_rank = (start + 1 + end) as f64 / 2.0;
        rank_sum += mean_rank * order[start..end].iter().filter(|&&i| outcomes[i]).count() as f64;
        start = end;
    }
    let (p, n) = (positives as f64, negatives as f64);
    Ok((rank_sum - p * (p + 1.0) / 2.0) / (p * n))
}

/// Brier score: the mean squared difference between the probability and the outcome (1 for a
/// run that stayed at chance). 0 is perfect; always answering the base rate `b` scores
/// `b (1 - b)`.
///
/// # Errors
///
/// [`ClassificationError::LengthMismatch`], [`ClassificationError::Empty`] and
/// [`ClassificationError::NotAProbability`].
pub fn brier(probabilities: &[f64], outcomes: &[bool]) -> Result<f64, ClassificationError> {
    check(probabilities, outcomes)?;
    let total: f64 = probabilities
        .iter()
        .zip(outcomes)
        .map(|(p, &o)| (p - f64::from(u8::from(o))).powi(2))
        .sum();
    Ok(total / probabilities.len() as f64)
}

/// One bin of a reliability table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReliabilityBin {
    /// Lower edge of the bin's probabilities (inclusive).
    pub from: f64,
    /// Upper edge (exclusive, except the last bin's 1).
    pub to: f64,
    /// Runs whose probability fell in the bin.
    pub runs: usize,
    /// Their mean probability (`None` for an empty bin).
    pub mean_probability: Option<f64>,
    /// The share of them that stayed at chance (`None` for an empty bin).
    pub observed: Option<f64>,
}

/// The reliability table over `bins` equal-width bins of `[0, 1]`: a calibrated predictor's
/// mean probability and observed share agree in every bin with enough runs.
///
/// # Errors
///
/// [`ClassificationError::NoBins`], [`ClassificationError::LengthMismatch`],
/// [`ClassificationError::Empty`] and [`ClassificationError::NotAProbability`].
pub fn reliability(
    probabilities: &[f64],
    outcomes: &[bool],
    bins: usize,
) -> Result<Vec<ReliabilityBin>, ClassificationError> {
    if bins == 0 {
        return Err(ClassificationError::NoBins);
    }
    check(probabilities, outcomes)?;
    let mut sums = vec![(0usize, 0.0f64, 0usize); bins];
    for (&p, &o) in probabilities.iter().zip(outcomes) {
        // p in [0, 1]: bin floor(p * bins), with 1 in the last bin.
        let bin = ((p * bins as f64) as usize).min(bins - 1);
        let (runs, total, positives) = &mut sums[bin];
        *runs += 1;
        *total += p;
        *positives += usize::from(o);
    }
    Ok(sums
        .into_iter()
        .enumerate()
        .map(|(index, (runs, total, positives))| ReliabilityBin {
            from: index as f64 / bins as f64,
            to: (index + 1) as f64 / bins as f64,
            runs,
            mean_probability: (runs > 0).then(|| total / runs as f64),
            observed: (runs > 0).then(|| positives as f64 / runs as f64),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn auc_is_one_for_a_perfect_ranking_a_half_for_ties_and_zero_reversed() {
        let outcomes = [false, false, true, true];
        assert_eq!(auc(&[0.1, 0.2, 0.8, 0.9], &outcomes), Ok(1.0));
        assert_eq!(auc(&[0.9, 0.8, 0.2, 0.1], &outcomes), Ok(0.0));
        assert_eq!(auc(&[0.5; 4], &outcomes), Ok(0.5));
        // One positive ranked between the negatives: it beats one of two.
        assert_eq!(auc(&[0.1, 0.3, 0.2], &[false, false, true]), Ok(0.5));
    }

    #[test]
    fn brier_is_the_mean_squared_miss_and_the_base_rate_scores_b_times_one_minus_b() {
        assert_eq!(brier(&[1.0, 0.0], &[true, false]), Ok(0.0));
        assert_eq!(brier(&[0.0, 1.0], &[true, false]), Ok(1.0));
        let outcomes = [true, false, false, false];
        let base = brier(&[0.25; 4], &outcomes).unwrap();
        assert!((base - 0.25 * 0.75).abs() < 1e-12);
    }

    #[test]
    fn reliability_bins_hold_their_runs_mean_probability_and_observed_share() {
        let table = reliability(&[0.05, 0.15, 0.95, 1.0], &[false, true, true, true], 10).unwrap();
        assert_eq!(table.len(), 10);
        assert_eq!(table[0].runs, 1);
        assert_eq!(table[0].observed, Some(0.0));
        assert_eq!(table[1].mean_probability, Some(0.15));
        assert_eq!(table[9].runs, 2, "1.0 falls in the last bin");
        assert_eq!(table[9].observed, Some(1.0));
        assert_eq!(table[5].mean_probability, None);
    }

    #[test]
    fn bad_inputs_are_errors_that_say_what_is_wrong() {
        assert_eq!(
            auc(&[0.5], &[true, false]),
            Err(ClassificationError::LengthMismatch {
                probabilities: 1,
                outcomes: 2
            })
        );
        assert_eq!(brier(&[], &[]), Err(ClassificationError::Empty));
        let error = brier(&[0.2, 1.5], &[true, false]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "probability 1.5 at index 1 is not in [0, 1]"
        );
        assert!(matches!(
            brier(&[f64::NAN], &[true]),
            Err(ClassificationError::NotAProbability { index: 0, .. })
        ));
        assert_eq!(
            auc(&[0.2, 0.3], &[false, false]).unwrap_err().to_string(),
            "every run trained, so the AUC is undefined"
        );
        assert_eq!(
            reliability(&[0.5], &[true], 0),
            Err(ClassificationError::NoBins)
        );
    }

    proptest! {
        /// AUC against its definition: the share of (positive, negative) pairs ordered right,
        /// ties counting half, counted pair by pair.
        #[test]
        fn auc_equals_the_pairwise_count(
            pairs in proptest::collection::vec((0u8..=10, any::<bool>()), 2..60)
        ) {
            let probabilities: Vec<f64> = pairs.iter().map(|(p, _)| f64::from(*p) / 10.0).collect();
            let outcomes: Vec<bool> = pairs.iter().map(|(_, o)| *o).collect();
            let (mut wins, mut total) = (0.0, 0.0);
            for (i, &oi) in outcomes.iter().enumerate() {
                for (j, &oj) in outcomes.iter().enumerate() {
                    if oi && !oj {
                        total += 1.0;
                        wins += match probabilities[i].total_cmp(&probabilities[j]) {
                            std::cmp::Ordering::Greater => 1.0,
                            std::cmp::Ordering::Equal => 0.5,
                            std::cmp::Ordering::Less => 0.0,
                        };
                    }
                }
            }
            match auc(&probabilities, &outcomes) {
                Ok(value) => prop_assert!((value - wins / total).abs() < 1e-12),
                Err(ClassificationError::OneClass { .. }) => prop_assert_eq!(total, 0.0),
                Err(other) => prop_assert!(false, "{other}"),
            }
        }
    }
}

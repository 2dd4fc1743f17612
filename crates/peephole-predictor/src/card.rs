//! The model card: what a predictor was trained on and how well it does, stored beside the
//! model and inside it, so a prediction can say where it stands and refuse what it never saw.

use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use super::format::PREDICTOR_FORMAT;

/// Most epochs a card may declare: protocols train for a handful to a few hundred.
pub const MAX_EPOCHS: u32 = 10_000;

/// Largest model card file read: a card lists its held-out ids and metrics, a few kB to a few
/// hundred; anything far larger is not a card.
pub const MAX_CARD_BYTES: u64 = 16 << 20;

/// A zoo file a model was trained on, with what identifies its exact content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ZooFileInfo {
    /// Path as given on the command line.
    pub path: String,
    /// SHA-256 of the file's bytes.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Good records read from it.
    pub records: usize,
}

/// How the zoo was split, by network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SplitInfo {
    /// Seed of the split.
    pub seed: u64,
    /// Networks used for fitting.
    pub train: usize,
    /// Networks used for early stopping.
    pub validation: usize,
    /// Held-out networks the metrics are measured on.
    pub test: usize,
    /// Ids of the held-out networks, so evaluation uses exactly them.
    pub test_ids: Vec<String>,
    /// Networks of the zoo files that were on no side: generated networks whose architecture
    /// is also a reference network's, which the split keeps for evaluation only. Never fitted
    /// on, so an evaluation does not count them as seen (and still scores the reference
    /// network). Empty (and absent from the JSON) for most models.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_out_ids: Vec<String>,
    /// The committed split file the sides came from (evaluation protocol v2), when the model
    /// was fitted under one; absent for a seeded random split. Then `test_ids` are the zoo's
    /// networks on the file's test side, and `metrics` are measured on the validation side:
    /// the test side scores the finished model once, in `cargo xtask eval`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<SplitFileRef>,
}

/// A committed split file named by a model card: enough to tell which frozen sides a model
/// respected, and that the file has not changed since (an extended split keeps every entry, so
/// a later file with a different hash still holds the same sides for these networks).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SplitFileRef {
    /// Path as given on the command line.
    pub path: String,
    /// SHA-256 of the file's bytes when the model was fitted.
    pub sha256: String,
}

/// What the model saw in training; inputs outside it get a note or a refusal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Ranges {
    /// Shortest and longest ULC sequence.
    pub sequence_length: (usize, usize),
    /// Values seen per field: TY, KW, KH, CH.
    pub codes_seen: [Vec<u8>; 4],
    /// Final accuracy of the training networks at percentiles 0, 5, ..., 100.
    pub accuracy_percentiles: Vec<f64>,
}

impl Ranges {
    /// Where an accuracy falls among the training zoo's networks, in percent (0 to 100),
    /// interpolating between the stored percentiles.
    pub fn percentile_of(&self, accuracy: f64) -> f64 {
        let p = &self.accuracy_percentiles;
        if p.len() < 2 {
            return 50.0;
        }
        let step = 100.0 / (p.len() - 1) as f64;
        if accuracy <= p[0] {
            return 0.0;
        }
        for (i, pair) in p.windows(2).enumerate() {
            if accuracy <= pair[1] {
                let span = pair[1] - pair[0];
                let within = if span > 0.0 {
                    (accuracy - pair[0]) / span
                } else {
                    1.0
                };
                return (i as f64 + within) * step;
            }
        }
        100.0
    }

    /// The accuracy at a percentile (0 to 100), interpolated. A percentile outside 0..=100 is
    /// clamped, and NaN (a threshold nobody could mean) reads as 0, the most lenient, so a
    /// threshold built from it is a number every comparison sees, never a NaN that no
    /// prediction is ever below.
    pub fn accuracy_at(&self, percentile: f64) -> f64 {
        let p = &self.accuracy_percentiles;
        if p.is_empty() {
            return f64::NAN;
        }
        let percentile = if percentile.is_nan() {
            0.0
        } else {
            percentile.clamp(0.0, 100.0)
        };
        let position = (percentile / 100.0) * (p.len() - 1) as f64;
        let low = position.floor() as usize;
        let high = (low + 1).min(p.len() - 1);
        p[low] + (p[high] - p[low]) * (position - low as f64)
    }
}

/// Metrics of one method on the held-out networks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct MethodMetrics {
    /// Method name.
    pub method: String,
    /// Its numbers.
    pub report: Report,
}

/// All of the paper's Table 3 metrics for one predictor on one set of networks, as a card
/// records them; `peephole_metrics::evaluate` computes them together, so a report row
/// cannot mix numbers from different inputs. Defined with the card (the format) rather than
/// with the metrics, so reading a card needs no evaluation code.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// Mean squared error.
    pub mse: f64,
    /// Coefficient of determination, R^2.
    pub r2: f64,
    /// Kendall's tau-b.
    pub kendall_tau: f64,
    /// Spearman's rank correlation.
    pub spearman: f64,
    /// Number of (predicted, actual) pairs the metrics were computed on.
    pub n: usize,
}

/// The model card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ModelCard {
    /// Always [`PREDICTOR_FORMAT`].
    pub format: String,
    /// Model name.
    pub name: String,
    /// Protocol whose accuracies it predicts.
    pub protocol: String,
    /// ULC version it reads.
    pub ulc_version: String,
    /// Epochs of the protocol (valid epoch inputs are 1..=epochs).
    pub epochs: u32,
    /// Ensemble size.
    pub ensemble: usize,
    /// `final` (supervised on the last epoch) or `curve` (every epoch).
    pub supervision: String,
    /// Zoo files it was trained on.
    pub zoo: Vec<ZooFileInfo>,
    /// The split.
    pub split: SplitInfo,
    /// Ranges seen in training.
    pub ranges: Ranges,
    /// Metrics of the final-epoch prediction: on the held-out networks under a random split,
    /// on the validation side under a frozen one ([`SplitInfo::file`]).
    pub metrics: Vec<MethodMetrics>,
    /// Command that reproduces the model.
    pub command: String,
    /// The layer-feature set the model reads beside the ULC codes (`layer-features-v1`, then
    /// [`super::format::PREDICTOR_FORMAT_V2`]); absent for the paper's input, and in cards
    /// written before features existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_features: Option<String>,
}

/// Why a model card cannot be trusted to describe its model: the predictor refuses such a
/// model rather than answer with numbers the card cannot place.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum CardError {
    /// No epoch would be a valid input.
    #[error("has no epochs")]
    NoEpochs,
    /// More epochs than any protocol trains; a consumer that walks every epoch (the
    /// per-epoch table of `cargo peephole predict`) would allocate without end.
    #[error("has {epochs} epochs, more than the {MAX_EPOCHS} any protocol trains")]
    TooManyEpochs {
        /// The card's epochs.
        epochs: u32,
    },
    /// Percentiles of predictions could not be computed.
    #[error("has no accuracy percentiles")]
    NoPercentiles,
    /// A stored percentile is not an accuracy.
    #[error("has accuracy percentile {index} = {value}, which is not an accuracy in [0, 1]")]
    PercentileNotAccuracy {
        /// Its position in the list.
        index: usize,
        /// The value.
        value: f64,
    },
    /// The percentiles go down somewhere, so interpolating between them could leave the
    /// range of accuracies (found by the `card` fuzz target).
    #[error("has accuracy percentiles that decrease at position {index}")]
    UnsortedPercentiles {
        /// Position of the first value smaller than the one before it.
        index: usize,
    },
}

/// Why a model card file (`NAME.card.json`, written beside a model) could not be read.
#[derive(Debug, Error)]
pub enum CardFileError {
    /// The file could not be read: missing, not a regular file, larger than
    /// [`MAX_CARD_BYTES`] or not UTF-8.
    #[error("cannot read the model card {0}")]
    Io(#[source] peephole_io::ReadError),
    /// The file is not a model card.
    #[error("{path} is not a model card: {source}")]
    NotCard {
        /// The file.
        path: std::path::PathBuf,
        /// What the JSON reader said.
        source: serde_json::Error,
    },
}

impl ModelCard {
    /// Reads a card file on its own (without its model): for tools that need a model's split
    /// or ranges, such as evaluating baselines on its held-out networks.
    pub fn read(path: &std::path::Path) -> Result<ModelCard, CardFileError> {
        let text = peephole_io::read_text(path, MAX_CARD_BYTES, "model card")
            .map_err(CardFileError::Io)?;
        serde_json::from_str(&text).map_err(|source| CardFileError::NotCard {
            path: path.into(),
            source,
        })
    }

    /// Checks what inference relies on; the predictor calls it when it loads a model.
    pub fn check(&self) -> Result<(), CardError> {
        if self.epochs == 0 {
            return Err(CardError::NoEpochs);
        }
        if self.epochs > MAX_EPOCHS {
            return Err(CardError::TooManyEpochs {
                epochs: self.epochs,
            });
        }
        let percentiles = &self.ranges.accuracy_percentiles;
        if percentiles.is_empty() {
            return Err(CardError::NoPercentiles);
        }
        if let Some((index, &value)) = percentiles
            .iter()
            .enumerate()
            .find(|(_, v)| !(0.0..=1.0).contains(*v))
        {
            return Err(CardError::PercentileNotAccuracy { index, value });
        }
        if let Some(index) = percentiles.windows(2).position(|pair| pair[1] < pair[0]) {
            return Err(CardError::UnsortedPercentiles { index: index + 1 });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(percentiles: &[f64]) -> Ranges {
        Ranges {
            sequence_length: (1, 40),
            codes_seen: Default::default(),
            accuracy_percentiles: percentiles.to_vec(),
        }
    }

    // Found by the `card` fuzz target: `clamp` passes NaN through, and a NaN threshold is one
    // no prediction is ever below, so every network would pass.
    #[test]
    fn a_nan_percentile_reads_as_the_lowest_accuracy_not_nan() {
        let r = ranges(&[0.2, 0.5, 0.9]);
        assert_eq!(r.accuracy_at(f64::NAN), 0.2);
        assert_eq!(r.accuracy_at(-3.0), 0.2);
        assert_eq!(r.accuracy_at(1e9), 0.9);
        assert!((r.accuracy_at(50.0) - 0.5).abs() < 1e-12);
    }

    fn card(percentiles: &[f64]) -> ModelCard {
        let mut card: ModelCard =
            serde_json::from_str(include_str!("../models/default.card.json")).unwrap();
        card.ranges.accuracy_percentiles = percentiles.to_vec();
        card
    }

    // Found by the `card` fuzz target: with percentiles [0.9, 0.1] a card was accepted and
    // `accuracy_at` answered 0.1 for the 0th percentile, outside the card's own range.
    #[test]
    fn cards_with_decreasing_or_non_accuracy_percentiles_are_refused() {
        assert_eq!(
            card(&[0.9, 0.1]).check(),
            Err(CardError::UnsortedPercentiles { index: 1 })
        );
        assert_eq!(
            card(&[0.1, 1.5]).check(),
            Err(CardError::PercentileNotAccuracy {
                index: 1,
                value: 1.5
            })
        );
        assert_eq!(card(&[-0.0, 0.0, 1.0]).check(), Ok(()));
        assert_eq!(card(&[]).check(), Err(CardError::NoPercentiles));
    }

    #[test]
    fn an_accepted_card_places_every_accuracy_between_0_and_100() {
        let card = card(&[0.1, 0.1, 0.5, 0.9]);
        card.check().unwrap();
        for accuracy in [
            f64::NEG_INFINITY,
            -1.0,
            0.1,
            0.3,
            0.95,
            f64::INFINITY,
            f64::NAN,
        ] {
            let percentile = card.ranges.percentile_of(accuracy);
            assert!(
                (0.0..=100.0).contains(&percentile),
                "{accuracy} -> {percentile}"
            );
        }
    }
}

//! The model card: what a predictor was trained on and how well it does, stored beside the
//! model and inside it, so a prediction can say where it stands and refuse what it never saw.

use serde::{Deserialize, Serialize};

use crate::metrics::Report;

/// Format name of the predictor models this build reads and writes.
pub const PREDICTOR_FORMAT: &str = "peephole-predictor-v1";

/// A zoo file a model was trained on, with what identifies its exact content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
}

/// What the model saw in training; inputs outside it get a note or a refusal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
                let within = if span > 0.0 { (accuracy - pair[0]) / span } else { 1.0 };
                return (i as f64 + within) * step;
            }
        }
        100.0
    }

    /// The accuracy at a percentile (0 to 100), interpolated.
    pub fn accuracy_at(&self, percentile: f64) -> f64 {
        let p = &self.accuracy_percentiles;
        if p.is_empty() {
            return f64::NAN;
        }
        let position = (percentile.clamp(0.0, 100.0) / 100.0) * (p.len() - 1) as f64;
        let low = position.floor() as usize;
        let high = (low + 1).min(p.len() - 1);
        p[low] + (p[high] - p[low]) * (position - low as f64)
    }
}

/// Metrics of one method on the held-out networks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MethodMetrics {
    /// Method name.
    pub method: String,
    /// Its numbers.
    pub report: Report,
}

/// The model card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// Held-out metrics of the final-epoch prediction.
    pub metrics: Vec<MethodMetrics>,
    /// Command that reproduces the model.
    pub command: String,
}

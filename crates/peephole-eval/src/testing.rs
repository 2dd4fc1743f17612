//! Fixtures for tests of evaluations (this crate's and the figures' in xtask): a synthetic zoo
//! whose final accuracies a curve predicts, a model card of its protocol, and a predictor that
//! knows the answer.

use std::collections::HashMap;

use peephole_baselines::BaselineOptions;
use peephole_ir::ulc;
use peephole_metrics::bootstrap::Bootstrap;
use peephole_predictor::{ModelCard, PredictorError, Ranges, SplitInfo};
use peephole_zoo::ZooRecord;

use crate::inputs::Seen;
use crate::report::{Evaluation, FinalPrediction, FinalPredictor, Inputs, evaluate};
use crate::split::Split;

/// A record of generator v1's network `index` whose final accuracy grows with its first
/// epoch (so curve baselines have something to learn).
pub fn record(index: u64, generator: &str) -> ZooRecord {
    let first = 0.4 + 0.4 * ((index * 37 % 23) as f64 / 23.0);
    let last = (first + 0.1 + 0.3 * (1.0 - first) * first).min(0.99);
    let curve = (0..8)
        .map(|e| first + (last - first) * f64::from(e) / 7.0)
        .collect();
    peephole_zoo::testing::record_with_curve(&format!("s5-{index}"), generator, 5, index, curve)
}

/// The card of a model of [`zoo`]'s protocol (8 epochs) that saw nothing and has no zoo
/// percentiles.
pub fn card() -> ModelCard {
    ModelCard {
        format: peephole_predictor::PREDICTOR_FORMAT.into(),
        name: "test-model".into(),
        protocol: "fmnist-budget-v1".into(),
        ulc_version: ulc::ULC_VERSION.into(),
        epochs: 8,
        ensemble: 1,
        supervision: "final".into(),
        zoo: Vec::new(),
        split: SplitInfo {
            seed: 0,
            train: 0,
            validation: 0,
            test: 0,
            test_ids: Vec::new(),
            left_out_ids: Vec::new(),
            file: None,
        },
        ranges: Ranges {
            sequence_length: (1, 50),
            codes_seen: [vec![], vec![], vec![], vec![]],
            accuracy_percentiles: vec![],
        },
        metrics: Vec::new(),
        command: String::new(),
        layer_features: None,
    }
}

/// A predictor that knows the answer up to a fixed offset: its tau must be 1.
pub struct Oracle;

impl FinalPredictor for Oracle {
    fn predict_final(
        &self,
        networks: &[&ZooRecord],
    ) -> Result<Vec<FinalPrediction>, PredictorError> {
        Ok(networks
            .iter()
            .map(|r| FinalPrediction {
                mean: r.curve[7] - 0.01,
                spread: 0.02,
                notes: Vec::new(),
            })
            .collect())
    }
}

/// 160 v1 networks, 40 v2 networks (ids offset), 12 reference networks.
pub fn zoo() -> Vec<ZooRecord> {
    let mut records: Vec<ZooRecord> = (0..160).map(|i| record(i, "generator-v1")).collect();
    records.extend((160..200).map(|i| record(i, "generator-v2")));
    records.extend((200..212).map(|i| record(i, "reference-v1")));
    records
}

/// The [`Oracle`] evaluated on `records` under a split made for them, with two tree settings
/// and 200 resamples (seed 3) to stay quick.
///
/// # Panics
///
/// When the evaluation fails: a fixture's failure is the test's.
pub fn run_on(
    records: &[ZooRecord],
    seen: &Seen,
    second: &HashMap<String, f64>,
) -> (Split, Evaluation) {
    let refs: Vec<&ZooRecord> = records.iter().collect();
    let mut split = Split::new();
    split
        .extend(&refs)
        .expect("a fresh split takes any records");
    let mut options = BaselineOptions::for_epochs(8);
    options.gbt_grid.truncate(2);
    let inputs = Inputs {
        records: &refs,
        second_runs: second,
        split: &split,
        seen,
        options: &options,
        bootstrap: Bootstrap {
            resamples: 200,
            seed: 3,
        },
    };
    let evaluation = evaluate(&card(), Some(&Oracle), &inputs).expect("the fixture evaluates");
    (split, evaluation)
}

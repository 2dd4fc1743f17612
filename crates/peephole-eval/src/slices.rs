//! The slices every metric is reported on: generated networks of each generator on
//! the test side, the hand-written reference set, and the generated test networks that train.

use serde::{Deserialize, Serialize};

use crate::split::{Side, is_evaluation_generator};

/// Real final accuracy from which a network counts as trainable (a 10-class problem sits at
/// 0.1 when it does not train at all; 0.5 separates the networks that clearly learn).
pub const TRAINABLE_THRESHOLD: f64 = 0.5;

/// A reported slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Slice {
    /// Test-side networks of generator v1.
    GeneratorV1,
    /// Test-side networks of generator v2.
    GeneratorV2,
    /// The reference set (evaluation-only, hand-written).
    Reference,
    /// Test-side generated networks (v1 and v2) whose real final accuracy reaches
    /// [`TRAINABLE_THRESHOLD`]: where absolute accuracy must beat a constant.
    Trainable,
}

/// Which generator family drew a record (`generator-v1`, `generator-v1/fmnist-v1`, ...):
/// the one reading of a record's generator name that every per-generator slice uses.
pub fn family(generator: &str) -> Option<&str> {
    ["generator-v1", "generator-v2"].into_iter().find(|f| {
        generator == *f
            || generator
                .strip_prefix(f)
                .is_some_and(|rest| rest.starts_with('/'))
    })
}

impl Slice {
    /// Every slice, in table order.
    pub const ALL: [Slice; 4] = [
        Slice::GeneratorV1,
        Slice::GeneratorV2,
        Slice::Reference,
        Slice::Trainable,
    ];

    /// Stable id for JSON.
    pub const fn id(self) -> &'static str {
        match self {
            Slice::GeneratorV1 => "generator_v1",
            Slice::GeneratorV2 => "generator_v2",
            Slice::Reference => "reference",
            Slice::Trainable => "trainable",
        }
    }

    /// Name for tables, saying what the slice holds.
    pub fn label(self) -> String {
        match self {
            Slice::GeneratorV1 => "generator v1, test split".into(),
            Slice::GeneratorV2 => "generator v2, test split".into(),
            Slice::Reference => "reference set (hand-written, evaluation only)".into(),
            Slice::Trainable => format!(
                "trainable: generated test networks with real accuracy >= {TRAINABLE_THRESHOLD}"
            ),
        }
    }

    /// Whether a network of `generator` on `side` with real final accuracy `actual` is in
    /// the slice.
    pub fn contains(self, generator: &str, side: Side, actual: f64) -> bool {
        let generated_test = side == Side::Test && family(generator).is_some();
        match self {
            Slice::GeneratorV1 => side == Side::Test && family(generator) == Some("generator-v1"),
            Slice::GeneratorV2 => side == Side::Test && family(generator) == Some("generator-v2"),
            // A generated network whose architecture a reference network also has sits on the
            // evaluation side (never fitted) but is not part of the hand-written set.
            Slice::Reference => side == Side::Evaluation && is_evaluation_generator(generator),
            Slice::Trainable => generated_test && actual >= TRAINABLE_THRESHOLD,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_select_by_generator_side_and_accuracy() {
        use Slice::*;
        let held = |generator, side, actual| -> Vec<Slice> {
            Slice::ALL
                .into_iter()
                .filter(|s| s.contains(generator, side, actual))
                .collect()
        };
        assert_eq!(
            held("generator-v1", Side::Test, 0.8),
            [GeneratorV1, Trainable]
        );
        assert_eq!(
            held("generator-v1/fmnist-v1", Side::Test, 0.1),
            [GeneratorV1]
        );
        assert_eq!(
            held("generator-v2", Side::Test, 0.5),
            [GeneratorV2, Trainable]
        );
        assert_eq!(held("generator-v2", Side::Test, 0.4999), [GeneratorV2]);
        assert_eq!(held("reference-v1", Side::Evaluation, 0.9), [Reference]);
        assert!(held("generator-v1", Side::Evaluation, 0.9).is_empty());
        // Fitting and validation networks are in no slice; nor is an unknown generator.
        assert!(held("generator-v1", Side::Train, 0.9).is_empty());
        assert!(held("generator-v2", Side::Validation, 0.9).is_empty());
        assert!(held("generator-v10", Side::Test, 0.9).is_empty());
    }
}

//! `predicted_accuracy`: a predicted final accuracy below the threshold.

use super::{LintDoc, LintScope, LintSource};

/// What `predicted_accuracy` is, for the registry, `cargo peephole explain --lint` and README.
pub(super) const DOC: LintDoc = LintDoc {
    name: "predicted_accuracy",
    scope: LintScope::Network,
    source: LintSource::Predictor,
    summary: "a predicted final accuracy below the threshold",
    explanation: r#"The embedded predictor (or the one `model = "..."` or PEEPHOLE_MODEL names) predicts the network's final validation accuracy under the protocol it was trained on, with the ensemble's spread and where that would rank among the zoo's trained networks. Below the threshold (`min_accuracy`, by default the zoo's 25th percentile from the model card) it warns, with the single-layer edit that raises the prediction most when its gain exceeds the spread (the edit search has a budget and skips networks outside what the model saw). `peephole_check!` only."#,
    bad: "struct Net: [1, 28, 28] -> 10 { conv(3x3, 8), sigmoid, conv(3x3, 16), sigmoid, maxpool(2, stride = 2), conv(3x3, 32), sigmoid, conv(3x3, 32), sigmoid, maxpool(2, stride = 2), conv(3x3, 64), sigmoid }",
    good: "struct Net: [1, 28, 28] -> 10 { conv(3x3, 32), bn, relu, conv(3x3, 32), bn, relu, maxpool(2, stride = 2), conv(3x3, 64), bn, relu, conv(3x3, 64), bn, relu, maxpool(2, stride = 2) }",
};

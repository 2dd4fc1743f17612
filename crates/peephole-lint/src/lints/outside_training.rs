//! `outside_training`: a network outside what the model saw in training, whose prediction passes.

use super::{LintDoc, LintScope, LintSource};

/// What `outside_training` is, for the registry, `cargo peephole explain --lint` and README.
pub(super) const DOC: LintDoc = LintDoc {
    name: "outside_training",
    scope: LintScope::Network,
    source: LintSource::Predictor,
    summary: "a network outside what the model saw in training, whose prediction passes",
    explanation: "A prediction passes the threshold, but the network takes other images or classes than the protocol's, or has codes or lengths the model never saw: the model cannot vouch for it, so a passing number is no reassurance. The note says what is outside and the prediction is for the layers trained under the model's protocol. `peephole_check!` only.",
    bad: "struct Net: [3, 32, 32] -> 10 { conv(3x3, 32), bn, relu, conv(3x3, 32), bn, relu, maxpool(2, stride = 2), conv(3x3, 64), bn, relu, conv(3x3, 64), bn, relu, maxpool(2, stride = 2) }",
    good: "struct Net: [1, 28, 28] -> 10 { conv(3x3, 32), bn, relu, conv(3x3, 32), bn, relu, maxpool(2, stride = 2), conv(3x3, 64), bn, relu, conv(3x3, 64), bn, relu, maxpool(2, stride = 2) }",
};

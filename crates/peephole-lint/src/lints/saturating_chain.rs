//! `saturating_chain`: more than 3 sigmoid/tanh activations with no BatchNorm between them.

use super::{Context, Diagnostic, Lint, LintDoc, LintScope, LintSource, describe};
use peephole_ir::LayerKind;

/// More saturating activations (sigmoid/tanh) than this, with no BatchNorm between them, make
/// a [`Lint::SaturatingChain`]. Each sigmoid scales gradients by at most 0.25 (tanh by at
/// most 1, and far less once saturated), so after four of them the first layers get a small
/// fraction of the gradient; three is where plain sigmoid nets of the LeNet era still trained.
pub const SATURATING_CHAIN_LIMIT: usize = 3;

/// What `saturating_chain` is, for the registry, `cargo peephole explain --lint` and README.
pub(super) const DOC: LintDoc = LintDoc {
    name: "saturating_chain",
    scope: LintScope::Layer,
    source: LintSource::Rule,
    summary: "more than 3 sigmoid/tanh activations with no BatchNorm between them",
    explanation: "Each sigmoid scales the gradient by at most 0.25 (tanh by at most 1, and far less once saturated), so after four of them the first layers get a small fraction of the gradient and barely learn; the zoo's deep sigmoid chains sit at chance. Three is where plain sigmoid networks of the LeNet era still trained. The lint fires once per chain, at the fourth activation; a bn resets the count.",
    bad: "struct Net: [1, 28, 28] -> 10 { conv(3x3, 8), sigmoid, conv(3x3, 16), sigmoid, maxpool(2, stride = 2), conv(3x3, 32), sigmoid, conv(3x3, 32), sigmoid }",
    good: "struct Net: [1, 28, 28] -> 10 { conv(3x3, 8), sigmoid, conv(3x3, 16), sigmoid, maxpool(2, stride = 2), conv(3x3, 32), bn, sigmoid, conv(3x3, 32), sigmoid }",
};

/// [`Lint::SaturatingChain`]: reported once per chain, at its first activation past the limit.
pub(super) fn check(context: &Context) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    let mut run = 0usize;
    for (index, layer) in context.network.layers.iter().enumerate() {
        let kind = layer.kind();
        if kind == LayerKind::BatchNorm {
            run = 0;
        } else if kind.is_saturating() {
            run += 1;
            if run == SATURATING_CHAIN_LIMIT + 1 {
                found.push(Diagnostic {
                    lint: Lint::SaturatingChain,
                    layer: Some(index),
                    message: format!(
                        "{} is saturating activation number {run} (sigmoid/tanh) \
                         without a BatchNorm between them; each one shrinks the gradient \
                         (sigmoid's slope is at most 0.25), so the first layers barely learn",
                        describe(index, layer)
                    ),
                    help: Some("use relu, or put `bn` before the saturating activations".into()),
                });
            }
        }
    }
    found
}

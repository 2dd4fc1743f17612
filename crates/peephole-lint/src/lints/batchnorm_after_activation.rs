//! `batchnorm_after_activation`: a BatchNorm directly after an activation.

use super::{Context, Diagnostic, Lint, LintDoc, LintScope, LintSource, describe, with_previous};
use peephole_ir::LayerKind;

/// What `batchnorm_after_activation` is, for the registry, `cargo peephole explain --lint` and README.
pub(super) const DOC: LintDoc = LintDoc {
    name: "batchnorm_after_activation",
    scope: LintScope::Layer,
    source: LintSource::Rule,
    summary: "a BatchNorm directly after an activation",
    explanation: "The usual order is conv, bn, activation, so that the activation sees normalised inputs; BatchNorm after the activation normalises an already squashed or rectified output. The zoo's networks train best with bn before the activation.",
    bad: "struct Net: [1, 28, 28] -> 10 { conv(3x3, 16), relu, bn, maxpool(2, stride = 2), conv(3x3, 32), relu }",
    good: "struct Net: [1, 28, 28] -> 10 { conv(3x3, 16), bn, relu, maxpool(2, stride = 2), conv(3x3, 32), relu }",
};

/// [`Lint::BatchNormAfterActivation`].
pub(super) fn check(context: &Context) -> Vec<Diagnostic> {
    with_previous(context.network)
        .filter(|(_, layer, previous)| {
            previous.is_activation() && layer.kind() == LayerKind::BatchNorm
        })
        .map(|(index, layer, previous)| Diagnostic {
            lint: Lint::BatchNormAfterActivation,
            layer: Some(index),
            message: format!(
                "{} normalises the output of an activation ({}); the usual order is \
                 conv, bn, activation, so that the activation sees normalised inputs",
                describe(index, layer),
                previous.word()
            ),
            help: Some(format!("move `bn` before `{}`", previous.word())),
        })
        .collect()
}

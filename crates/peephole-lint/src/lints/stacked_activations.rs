//! `stacked_activations`: an activation directly after another activation.

use super::{Context, Diagnostic, Lint, LintDoc, LintScope, LintSource, describe, with_previous};
use peephole_ir::LayerKind;

/// What `stacked_activations` is, for the registry, `cargo peephole explain --lint` and README.
pub(super) const DOC: LintDoc = LintDoc {
    name: "stacked_activations",
    scope: LintScope::Layer,
    source: LintSource::Rule,
    summary: "an activation directly after another activation",
    explanation: "Two activations in a row with no weights between them add no capacity: relu after relu does nothing (relu is idempotent), and any other pair only distorts the first one's output again, which can also shrink the gradient. It is usually a leftover of editing a network.",
    bad: "struct Net: [1, 28, 28] -> 10 { conv(3x3, 16), relu, relu, maxpool(2, stride = 2), conv(3x3, 32), relu }",
    good: "struct Net: [1, 28, 28] -> 10 { conv(3x3, 16), relu, maxpool(2, stride = 2), conv(3x3, 32), relu }",
};

/// [`Lint::StackedActivations`].
pub(super) fn check(context: &Context) -> Vec<Diagnostic> {
    with_previous(context.network)
        .filter(|(_, layer, previous)| previous.is_activation() && layer.kind().is_activation())
        .map(|(index, layer, previous)| {
            let kind = layer.kind();
            let why = if previous == kind && kind == LayerKind::Relu {
                "relu is idempotent, so the second one does nothing".to_string()
            } else {
                format!(
                    "with no weights between them the second nonlinearity adds no \
                     capacity, it only distorts {}'s output again",
                    previous.word()
                )
            };
            Diagnostic {
                lint: Lint::StackedActivations,
                layer: Some(index),
                message: format!(
                    "{} follows another activation ({}); {why}",
                    describe(index, layer),
                    previous.word()
                ),
                help: Some("remove one of the two activations".into()),
            }
        })
        .collect()
}

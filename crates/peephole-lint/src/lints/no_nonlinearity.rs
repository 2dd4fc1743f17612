//! `no_nonlinearity`: a network without any activation (relu, sigmoid, tanh).

use super::{Context, Diagnostic, Lint, LintDoc, LintScope, LintSource};
use peephole_ir::LayerKind;

/// What `no_nonlinearity` is, for the registry, `cargo peephole explain --lint` and README.
pub(super) const DOC: LintDoc = LintDoc {
    name: "no_nonlinearity",
    scope: LintScope::Network,
    source: LintSource::Rule,
    summary: "a network without any activation (relu, sigmoid, tanh)",
    explanation: "Without an activation the convolutions compose into one linear map (max pooling aside), so the network cannot learn much more than a linear classifier on the pixels, however deep it is.",
    bad: "struct Net: [1, 28, 28] -> 10 { conv(3x3, 16), bn, maxpool(2, stride = 2), conv(3x3, 32) }",
    good: "struct Net: [1, 28, 28] -> 10 { conv(3x3, 16), bn, relu, maxpool(2, stride = 2), conv(3x3, 32), relu }",
};

/// [`Lint::NoNonlinearity`].
pub(super) fn check(context: &Context) -> Vec<Diagnostic> {
    let layers = &context.network.layers;
    if layers.iter().any(|l| l.kind().is_activation()) {
        return Vec::new();
    }
    let pooling = if layers.iter().any(|l| l.kind() == LayerKind::MaxPool) {
        " apart from max pooling"
    } else {
        ""
    };
    vec![Diagnostic {
        lint: Lint::NoNonlinearity,
        layer: None,
        message: format!(
            "the network has no activation (relu, sigmoid or tanh), so it is a linear \
             map{pooling} and cannot learn much more than a linear classifier"
        ),
        help: Some("add `relu` after each conv".into()),
    }]
}

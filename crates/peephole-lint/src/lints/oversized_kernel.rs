//! `oversized_kernel`: a conv or pool window larger than its input feature map.

use super::{Context, Diagnostic, Lint, LintDoc, LintScope, LintSource, describe};

/// What `oversized_kernel` is, for the registry, `cargo peephole explain --lint` and README.
pub(super) const DOC: LintDoc = LintDoc {
    name: "oversized_kernel",
    scope: LintScope::Layer,
    source: LintSource::Rule,
    summary: "a conv or pool window larger than its input feature map",
    explanation: "With same padding a window larger than the feature map is legal, but the part of it outside the map only ever sees padding: the extra weights never see data and only cost parameters and compute. It usually means the network downsamples earlier than its author thought.",
    bad: "struct Net: [1, 28, 28] -> 10 { conv(3x3, 16), relu, maxpool(4, stride = 4), maxpool(4, stride = 4), conv(5x5, 32), relu }",
    good: "struct Net: [1, 28, 28] -> 10 { conv(3x3, 16), relu, maxpool(4, stride = 4), maxpool(4, stride = 4), conv(1x1, 32), relu }",
};

/// [`Lint::OversizedKernel`].
pub(super) fn check(context: &Context) -> Vec<Diagnostic> {
    let layers = context.network.layers.iter().enumerate();
    layers
        .filter_map(|(index, layer)| {
            let (kernel, _, _) = layer.window()?;
            let input = context.analysis.layers[index].input;
            (kernel.width > input.width || kernel.height > input.height).then(|| Diagnostic {
                lint: Lint::OversizedKernel,
                layer: Some(index),
                message: format!(
                    "{} slides a {}x{} window over a {}x{} feature map; with same padding \
                     the part of the window outside the map only ever sees padding, which \
                     wastes parameters and compute",
                    describe(index, layer),
                    kernel.width,
                    kernel.height,
                    input.width,
                    input.height
                ),
                help: Some(format!(
                    "use a window of at most {}x{}, or downsample less before this layer",
                    input.width, input.height
                )),
            })
        })
        .collect()
}

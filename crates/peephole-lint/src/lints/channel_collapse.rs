//! `channel_collapse`: a conv to fewer than 4 output channels.

use super::{Context, Diagnostic, Lint, LintDoc, LintScope, LintSource, describe};
use peephole_ir::Layer;

/// A conv with fewer output channels than this is a [`Lint::ChannelCollapse`]: fewer than four
/// feature maps cannot carry the variety of features the later layers and the classifier need.
pub const MIN_CONV_CHANNELS: u32 = 4;

/// What `channel_collapse` is, for the registry, `cargo peephole explain --lint` and README.
pub(super) const DOC: LintDoc = LintDoc {
    name: "channel_collapse",
    scope: LintScope::Layer,
    source: LintSource::Rule,
    summary: "a conv to fewer than 4 output channels",
    explanation: "Fewer than four feature maps cannot carry the variety of features the later layers and the classifier need: every later layer and the head must squeeze through the bottleneck. The zoo's 1- and 2-channel bottlenecks train far below their wider twins.",
    bad: "struct Net: [1, 28, 28] -> 10 { conv(3x3, 16), relu, conv(1x1, 2), relu, conv(3x3, 32), relu }",
    good: "struct Net: [1, 28, 28] -> 10 { conv(3x3, 16), relu, conv(1x1, 8), relu, conv(3x3, 32), relu }",
};

/// [`Lint::ChannelCollapse`].
pub(super) fn check(context: &Context) -> Vec<Diagnostic> {
    let layers = context.network.layers.iter().enumerate();
    layers
        .filter_map(|(index, layer)| match *layer {
            Layer::Conv { out_channels, .. } if out_channels < MIN_CONV_CHANNELS => {
                let plural = if out_channels == 1 { "" } else { "s" };
                Some(Diagnostic {
                    lint: Lint::ChannelCollapse,
                    layer: Some(index),
                    message: format!(
                        "{} narrows the network to {out_channels} channel{plural}; fewer than \
                         {MIN_CONV_CHANNELS} feature maps is a bottleneck every later layer \
                         and the classifier must squeeze through",
                        describe(index, layer)
                    ),
                    help: Some(format!("use at least {MIN_CONV_CHANNELS} output channels")),
                })
            }
            _ => None,
        })
        .collect()
}

//! `conv_argument_order`: a conv kernel of 8 or more with fewer channels than its side, as conv(16, 3) gives.

use super::{Context, Diagnostic, Lint, LintDoc, LintScope, LintSource};
use peephole_ir::Layer;

/// Smallest square kernel side that [`Lint::ConvArgumentOrder`] questions: larger than any conv
/// kernel of the zoo (7x7) and of the usual 28x28 and 32x32 networks.
pub const SUSPICIOUS_KERNEL_SIDE: u32 = 8;

/// What `conv_argument_order` is, for the registry, `cargo peephole explain --lint` and README.
pub(super) const DOC: LintDoc = LintDoc {
    name: "conv_argument_order",
    scope: LintScope::Layer,
    source: LintSource::Rule,
    summary: "a conv kernel of 8 or more with fewer channels than its side, as conv(16, 3) gives",
    explanation: "Here a conv's kernel comes first, while PyTorch's `Conv2d(in, out, kernel)` and tch's `conv2d(vs, in, out, kernel)` put the channel counts first, so a ported `conv(16, 3)` silently means a 16x16 kernel with 3 channels instead of 16 channels of 3x3. A square kernel of 8 or more (larger than any conv of the zoo and of the usual 28x28 and 32x32 networks) with fewer channels than its side is asked about.",
    bad: "struct Net: [1, 28, 28] -> 10 { conv(16, 3), relu, maxpool(2, stride = 2) }",
    good: "struct Net: [1, 28, 28] -> 10 { conv(3x3, 16), relu, maxpool(2, stride = 2) }",
};

/// [`Lint::ConvArgumentOrder`]: here a conv's kernel comes first, while PyTorch's
/// `Conv2d(in, out, kernel)` and tch's `conv2d(vs, in, out, kernel)` put the channel counts
/// first, so a ported `conv(16, 3)` silently means a 16x16 kernel with 3 channels instead of
/// 16 channels of 3x3.
pub(super) fn check(context: &Context) -> Vec<Diagnostic> {
    let layers = context.network.layers.iter().enumerate();
    layers
        .filter_map(|(index, layer)| {
            let Layer::Conv {
                kernel,
                out_channels,
                ..
            } = *layer
            else {
                return None;
            };
            let side = kernel.width;
            let suspicious =
                kernel.height == side && side >= SUSPICIOUS_KERNEL_SIDE && out_channels < side;
            suspicious.then(|| Diagnostic {
                lint: Lint::ConvArgumentOrder,
                layer: Some(index),
                message: format!(
                    "layer {index} (`conv({side}, {out_channels})`) is a {side}x{side} kernel with \
                     {out_channels} output channel(s): conv takes the kernel first, while PyTorch \
                     and tch put the channel counts first"
                ),
                help: Some(format!(
                    "write `conv({out_channels}x{out_channels}, {side})` for {side} channels of \
                     {out_channels}x{out_channels}, or `conv({side}x{side}, {out_channels})` to keep \
                     this layer and say so"
                )),
            })
        })
        .collect()
}

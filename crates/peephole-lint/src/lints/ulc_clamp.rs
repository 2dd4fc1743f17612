//! `ulc_clamp`: a kernel or channel ratio outside ULC v1's table (clamped code).

use super::{Context, Diagnostic, Lint, LintDoc, LintScope, LintSource, describe};
use peephole_ir::ulc::{self, Clamp, UlcField};
use peephole_ir::{Layer, LayerKind};

/// What `ulc_clamp` is, for the registry, `cargo peephole explain --lint` and README.
pub(super) const DOC: LintDoc = LintDoc {
    name: "ulc_clamp",
    scope: LintScope::Layer,
    source: LintSource::Rule,
    summary: "a kernel or channel ratio outside ULC v1's table (clamped code)",
    explanation: "The predictor reads each layer as a Unified Layer Code whose kernel (1 to 5 per side for convs) and channel-ratio bins (0.25 to 3) are fixed; a value outside is coded as the nearest bin, so the prediction is for a slightly different network and is less reliable (the default model also reads the raw values as layer features, but was fitted on few such layers). The first conv's ratio (image channels to stem width) is exempt: nothing the user would change.",
    bad: "struct Net: [1, 28, 28] -> 10 { conv(7x7, 16), relu, maxpool(2, stride = 2), conv(3x3, 32), relu }",
    good: "struct Net: [1, 28, 28] -> 10 { conv(5x5, 16), relu, maxpool(2, stride = 2), conv(3x3, 32), relu }",
};

/// [`Lint::UlcClamp`]. The first conv's channel ratio is image channels to stem width (1 ->
/// 16 is "ratio 16"): nothing the user would change, so its clamp is no warning; its kernel
/// is.
pub(super) fn check(context: &Context) -> Vec<Diagnostic> {
    let network = context.network;
    let first_conv = network
        .layers
        .iter()
        .position(|layer| layer.kind() == LayerKind::Conv);
    let layers = network.layers.iter().enumerate();
    layers
        .filter_map(|(index, layer)| {
            let clamps: Vec<&Clamp> = context
                .encoding
                .clamps
                .iter()
                .filter(|c| c.layer == index)
                .filter(|c| !(c.field == UlcField::ChannelRatio && Some(c.layer) == first_conv))
                .collect();
            if clamps.is_empty() {
                return None;
            }
            let shape = &context.analysis.layers[index];
            Some(Diagnostic {
                lint: Lint::UlcClamp,
                layer: Some(index),
                message: format!(
                    "{}: {}; the predictor embeds the clamped code (the default model also \
                     reads the raw kernel and widths as layer features), so its estimate for \
                     this network is less reliable",
                    describe(index, layer),
                    clamp_phrase(layer, shape.input.channels, shape.output.channels, &clamps)
                ),
                help: None,
            })
        })
        .collect()
}

/// What ULC v1 clamped in one layer, e.g. `kernel 7x7 is outside ULC v1's 1..=5 per side and
/// is coded as 5x5`.
fn clamp_phrase(layer: &Layer, in_channels: u32, out_channels: u32, clamps: &[&Clamp]) -> String {
    let mut parts = Vec::new();
    if let Some((kernel, _, _)) = layer.window() {
        let coded = |field: UlcField, actual: u32| {
            clamps
                .iter()
                .find(|c| c.field == field)
                .map_or(actual.to_string(), |c| short(c.coded))
        };
        if clamps.iter().any(|c| c.field != UlcField::ChannelRatio) {
            let (low, high) = if layer.kind() == LayerKind::Conv {
                ulc::CONV_KERNEL_RANGE
            } else {
                ulc::POOL_KERNEL_RANGE
            };
            parts.push(format!(
                "kernel {}x{} is outside ULC v1's {low}..={high} per side and is coded as {}x{}",
                kernel.width,
                kernel.height,
                coded(UlcField::KernelWidth, kernel.width),
                coded(UlcField::KernelHeight, kernel.height),
            ));
        }
    }
    if let Some(clamp) = clamps.iter().find(|c| c.field == UlcField::ChannelRatio) {
        let low = f64::from(ulc::CHANNEL_RATIO_QUARTERS[0]) / 4.0;
        let high = f64::from(ulc::CHANNEL_RATIO_QUARTERS[7]) / 4.0;
        parts.push(format!(
            "channel ratio {} ({in_channels} -> {out_channels} channels) is outside ULC v1's \
             {}..={} and is coded as {}",
            short(clamp.actual),
            short(low),
            short(high),
            short(clamp.coded)
        ));
    }
    parts.join("; ")
}

/// A number with at most three decimals and no trailing zeros (`21.333`, `6`, `0.125`).
fn short(value: f64) -> String {
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

//! Lints: the one registry of every Peephole lint ([`Lint`]: names, scopes, summaries, which
//! front end reports it), and the rule lints, checks of a network that need no trained model,
//! shared by the `network!` macro (which turns them into compiler warnings) and any
//! command-line checker (which prints them), one function per rule.
//!
//! Lints return data ([`Diagnostic`]), never text on a terminal, so every front end reports
//! the same findings with the same stable names. Each lint has an opt-out by name
//! (`#[peephole(allow(NAME))]` in the macro); [`Lint::from_name`] is the one place that
//! knows which names exist.

use std::fmt;

use crate::text::layer_text;
use crate::ulc::{self, Clamp, UlcEncoding, UlcField};
use crate::{Analysis, Layer, LayerKind, Network, ShapeError};

/// More saturating activations (sigmoid/tanh) than this, with no BatchNorm between them, make
/// a [`Lint::SaturatingChain`]. Each sigmoid scales gradients by at most 0.25 (tanh by at
/// most 1, and far less once saturated), so after four of them the first layers get a small
/// fraction of the gradient; three is where plain sigmoid nets of the LeNet era still trained.
pub const SATURATING_CHAIN_LIMIT: usize = 3;

/// A conv with fewer output channels than this is a [`Lint::ChannelCollapse`]: fewer than four
/// feature maps cannot carry the variety of features the later layers and the classifier need.
pub const MIN_CONV_CHANNELS: u32 = 4;

/// Whether a lint is about one layer or about the network as a whole; an opt-out on a layer
/// only makes sense for the former.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LintScope {
    /// Each finding names one layer.
    Layer,
    /// Findings are about the whole network (no layer).
    Network,
}

/// Where a lint's findings come from: which front end can produce it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LintSource {
    /// A rule on the network alone, run by [`check`] for every front end.
    Rule,
    /// How the declaration was written (a default left implicit), which only the declaration
    /// syntax sees: `peephole-lint` reports it.
    Declaration,
    /// The predictor's verdict, under `peephole_check!` (and `cargo peephole check`).
    Predictor,
}

/// Every Peephole lint, whichever front end reports it: the one registry of names, scopes
/// and summaries that opt-outs are validated against and tools list. The names
/// ([`Lint::name`]) are stable: users write them in opt-outs and tools match on them, so a
/// name is never reused for a different check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lint {
    /// An activation directly after another activation.
    StackedActivations,
    /// A BatchNorm directly after an activation.
    BatchNormAfterActivation,
    /// No activation anywhere: the body is (almost) a linear map.
    NoNonlinearity,
    /// More than [`SATURATING_CHAIN_LIMIT`] sigmoid/tanh without a BatchNorm between them.
    SaturatingChain,
    /// A conv to fewer than [`MIN_CONV_CHANNELS`] channels.
    ChannelCollapse,
    /// A window larger than the feature map it slides over (legal with same padding, but the
    /// extra rows/columns only ever see padding).
    OversizedKernel,
    /// A kernel or channel ratio outside ULC v1's table, so the predictor embeds a clamped
    /// code (a model reading layer features also sees the raw values, but was fitted on few
    /// such layers).
    UlcClamp,
    /// The predicted final accuracy is below the threshold.
    PredictedAccuracy,
    /// The network is outside what the model saw in training, and its prediction passes.
    OutsideTraining,
    /// A pool written without a stride: 1 here, the kernel in PyTorch, tch and candle.
    PoolStrideDefault,
    /// A square conv kernel of at least [`SUSPICIOUS_KERNEL_SIDE`] with fewer output channels
    /// than its side: PyTorch's argument order (`conv(16, 3)`) read as ours.
    ConvArgumentOrder,
}

/// Smallest square kernel side that [`Lint::ConvArgumentOrder`] questions: larger than any conv
/// kernel of the zoo (7x7) and of the usual 28x28 and 32x32 networks.
pub const SUSPICIOUS_KERNEL_SIDE: u32 = 8;

impl Lint {
    /// Every lint, in the order diagnostics of one layer are reported and names are listed.
    pub const ALL: [Lint; 11] = [
        Lint::StackedActivations,
        Lint::BatchNormAfterActivation,
        Lint::NoNonlinearity,
        Lint::SaturatingChain,
        Lint::ChannelCollapse,
        Lint::OversizedKernel,
        Lint::UlcClamp,
        Lint::PredictedAccuracy,
        Lint::OutsideTraining,
        Lint::PoolStrideDefault,
        Lint::ConvArgumentOrder,
    ];

    /// The stable name users write in `allow(...)` and tools match on.
    pub const fn name(self) -> &'static str {
        match self {
            Lint::StackedActivations => "stacked_activations",
            Lint::BatchNormAfterActivation => "batchnorm_after_activation",
            Lint::NoNonlinearity => "no_nonlinearity",
            Lint::SaturatingChain => "saturating_chain",
            Lint::ChannelCollapse => "channel_collapse",
            Lint::OversizedKernel => "oversized_kernel",
            Lint::UlcClamp => "ulc_clamp",
            Lint::PredictedAccuracy => "predicted_accuracy",
            Lint::OutsideTraining => "outside_training",
            Lint::PoolStrideDefault => "pool_stride_default",
            Lint::ConvArgumentOrder => "conv_argument_order",
        }
    }

    /// The lint with this stable name, `None` for an unknown name (an opt-out naming it is
    /// an error, so typos do not silently allow nothing).
    pub fn from_name(name: &str) -> Option<Lint> {
        Lint::ALL.into_iter().find(|lint| lint.name() == name)
    }

    /// Whether findings of this lint name a layer.
    pub const fn scope(self) -> LintScope {
        match self {
            Lint::NoNonlinearity | Lint::PredictedAccuracy | Lint::OutsideTraining => {
                LintScope::Network
            }
            _ => LintScope::Layer,
        }
    }

    /// Which front end reports this lint.
    pub const fn source(self) -> LintSource {
        match self {
            Lint::PredictedAccuracy | Lint::OutsideTraining => LintSource::Predictor,
            Lint::PoolStrideDefault => LintSource::Declaration,
            _ => LintSource::Rule,
        }
    }

    /// One line saying what the lint looks for, for listings and documentation.
    pub const fn summary(self) -> &'static str {
        match self {
            Lint::StackedActivations => "an activation directly after another activation",
            Lint::BatchNormAfterActivation => "a BatchNorm directly after an activation",
            Lint::NoNonlinearity => "a network without any activation (relu, sigmoid, tanh)",
            Lint::SaturatingChain => {
                "more than 3 sigmoid/tanh activations with no BatchNorm between them"
            }
            Lint::ChannelCollapse => "a conv to fewer than 4 output channels",
            Lint::OversizedKernel => "a conv or pool window larger than its input feature map",
            Lint::UlcClamp => "a kernel or channel ratio outside ULC v1's table (clamped code)",
            Lint::PredictedAccuracy => "a predicted final accuracy below the threshold",
            Lint::OutsideTraining => {
                "a network outside what the model saw in training, whose prediction passes"
            }
            Lint::PoolStrideDefault => {
                "a pool written without a stride (1 here, the kernel in PyTorch, tch and candle)"
            }
            Lint::ConvArgumentOrder => {
                "a conv kernel of 8 or more with fewer channels than its side, as conv(16, 3) gives"
            }
        }
    }

    /// The rule that finds this lint on a network, for [`LintSource::Rule`] lints.
    fn rule(self) -> Option<Rule> {
        Some(match self {
            Lint::StackedActivations => stacked_activations,
            Lint::BatchNormAfterActivation => batchnorm_after_activation,
            Lint::NoNonlinearity => no_nonlinearity,
            Lint::SaturatingChain => saturating_chain,
            Lint::ChannelCollapse => channel_collapse,
            Lint::OversizedKernel => oversized_kernel,
            Lint::UlcClamp => ulc_clamp,
            Lint::ConvArgumentOrder => conv_argument_order,
            Lint::PredictedAccuracy | Lint::OutsideTraining | Lint::PoolStrideDefault => {
                return None;
            }
        })
    }
}

impl fmt::Display for Lint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One finding of a lint: plain data so the macro can attach a span to `layer` and a
/// command-line tool can print a line number instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Which lint fired.
    pub lint: Lint,
    /// 0-based index into `Network::layers`, `None` for findings about the whole network.
    pub layer: Option<usize>,
    /// What is wrong and why it matters, starting with the layer it is about.
    pub message: String,
    /// What to do about it, if there is a usual fix.
    pub help: Option<String>,
}

impl fmt::Display for Diagnostic {
    /// `peephole::NAME: MESSAGE`, the form every front end prints (help not included).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "peephole::{}: {}", self.lint, self.message)
    }
}

/// `layer 3 (relu)`: how every message names a layer, with its text form.
fn describe(index: usize, layer: &Layer) -> String {
    format!("layer {index} ({})", layer_text(layer))
}

/// What every rule may look at: the network and what shape inference and ULC encoding made
/// of it (computed once for all rules).
struct Context<'a> {
    network: &'a Network,
    analysis: Analysis,
    encoding: UlcEncoding,
}

/// A rule lint: all its findings on one network.
type Rule = fn(&Context) -> Vec<Diagnostic>;

/// Runs every rule lint and returns the findings ordered by layer (network-wide findings
/// first), and within a layer in [`Lint::ALL`]'s order. Fails only when the network itself
/// is invalid: callers report that as an error.
pub fn check(network: &Network) -> Result<Vec<Diagnostic>, ShapeError> {
    let context = Context {
        network,
        analysis: network.analyze()?,
        encoding: ulc::encode(network)?,
    };
    let mut found: Vec<Diagnostic> = Lint::ALL
        .into_iter()
        .filter_map(Lint::rule)
        .flat_map(|rule| rule(&context))
        .collect();
    // Stable: a rule's own findings keep their order.
    found.sort_by_key(|d| (d.layer, Lint::ALL.iter().position(|&l| l == d.lint)));
    Ok(found)
}

/// The layers with the previous layer's kind, where there is one.
fn with_previous(network: &Network) -> impl Iterator<Item = (usize, &Layer, LayerKind)> {
    let layers = &network.layers;
    layers
        .iter()
        .enumerate()
        .skip(1)
        .map(move |(index, layer)| (index, layer, layers[index - 1].kind()))
}

/// [`Lint::NoNonlinearity`].
fn no_nonlinearity(context: &Context) -> Vec<Diagnostic> {
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

/// [`Lint::StackedActivations`].
fn stacked_activations(context: &Context) -> Vec<Diagnostic> {
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

/// [`Lint::BatchNormAfterActivation`].
fn batchnorm_after_activation(context: &Context) -> Vec<Diagnostic> {
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

/// [`Lint::SaturatingChain`]: reported once per chain, at its first activation past the limit.
fn saturating_chain(context: &Context) -> Vec<Diagnostic> {
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

/// [`Lint::ChannelCollapse`].
fn channel_collapse(context: &Context) -> Vec<Diagnostic> {
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

/// [`Lint::OversizedKernel`].
fn oversized_kernel(context: &Context) -> Vec<Diagnostic> {
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

/// [`Lint::UlcClamp`]. The first conv's channel ratio is image channels to stem width (1 ->
/// 16 is "ratio 16"): nothing the user would change, so its clamp is no warning; its kernel
/// is.
fn ulc_clamp(context: &Context) -> Vec<Diagnostic> {
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

/// [`Lint::ConvArgumentOrder`]: here a conv's kernel comes first, while PyTorch's
/// `Conv2d(in, out, kernel)` and tch's `conv2d(vs, in, out, kernel)` put the channel counts
/// first, so a ported `conv(16, 3)` silently means a 16x16 kernel with 3 channels instead of
/// 16 channels of 3x3.
fn conv_argument_order(context: &Context) -> Vec<Diagnostic> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Kernel, Padding, Shape};

    fn conv(k: u32, c: u32) -> Layer {
        Layer::conv(Kernel::square(k), c, 1)
    }

    fn net(layers: Vec<Layer>) -> Network {
        Network {
            input: Shape::new(16, 8, 8),
            layers,
            classes: 10,
        }
    }

    fn lints(network: &Network) -> Vec<(Lint, Option<usize>)> {
        check(network)
            .expect("valid network")
            .into_iter()
            .map(|d| (d.lint, d.layer))
            .collect()
    }

    #[test]
    fn a_clean_network_has_no_findings() {
        let n = net(vec![
            conv(3, 16),
            Layer::BatchNorm,
            Layer::Relu,
            conv(3, 32),
        ]);
        assert_eq!(lints(&n), vec![]);
    }

    #[test]
    fn stacked_activations_point_at_the_second_one() {
        let n = net(vec![conv(3, 16), Layer::Tanh, Layer::Relu]);
        assert_eq!(lints(&n), vec![(Lint::StackedActivations, Some(2))]);
        let message = &check(&n).unwrap()[0].message;
        assert!(message.starts_with("layer 2 (relu) follows another activation (tanh)"));
    }

    #[test]
    fn batchnorm_after_activation_is_found() {
        let n = net(vec![conv(3, 16), Layer::Relu, Layer::BatchNorm]);
        assert_eq!(lints(&n), vec![(Lint::BatchNormAfterActivation, Some(2))]);
    }

    #[test]
    fn no_nonlinearity_is_network_wide() {
        let n = net(vec![conv(3, 16), Layer::BatchNorm]);
        assert_eq!(lints(&n), vec![(Lint::NoNonlinearity, None)]);
        assert_eq!(Lint::NoNonlinearity.scope(), LintScope::Network);
    }

    #[test]
    fn saturating_chain_fires_once_at_the_fourth_and_batchnorm_resets_it() {
        let mut layers = Vec::new();
        for _ in 0..5 {
            layers.push(conv(3, 16));
            layers.push(Layer::Sigmoid);
        }
        // sigmoids at 1, 3, 5, 7, 9: the fourth is layer 7, reported once.
        assert_eq!(
            lints(&net(layers.clone())),
            vec![(Lint::SaturatingChain, Some(7))]
        );
        // conv, bn, sigmoid before the fourth: the chain restarts.
        layers.insert(7, Layer::BatchNorm);
        assert_eq!(lints(&net(layers)), vec![]);
        // Exactly the limit is fine.
        let three = net(vec![
            Layer::Tanh,
            conv(3, 16),
            Layer::Sigmoid,
            conv(3, 16),
            Layer::Tanh,
        ]);
        assert_eq!(lints(&three), vec![]);
    }

    #[test]
    fn channel_collapse_below_four_channels() {
        let n = net(vec![
            conv(1, 16),
            Layer::Relu,
            conv(1, 3),
            Layer::Relu,
            conv(1, 4),
        ]);
        // 16 -> 3 is also a clamped channel ratio (below 0.25).
        assert_eq!(
            lints(&n),
            vec![(Lint::ChannelCollapse, Some(2)), (Lint::UlcClamp, Some(2))]
        );
    }

    #[test]
    fn oversized_kernel_with_same_padding() {
        let n = Network {
            input: Shape::new(16, 4, 4),
            layers: vec![
                Layer::Conv {
                    kernel: Kernel {
                        width: 5,
                        height: 1,
                    },
                    out_channels: 16,
                    stride: 1,
                    padding: Padding::Same,
                },
                Layer::Relu,
            ],
            classes: 10,
        };
        assert_eq!(lints(&n), vec![(Lint::OversizedKernel, Some(0))]);
    }

    #[test]
    fn ulc_clamps_are_reported_once_per_layer() {
        let n = Network {
            input: Shape::new(1, 28, 28),
            layers: vec![conv(7, 64), Layer::Relu],
            classes: 10,
        };
        let found = check(&n).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].lint, Lint::UlcClamp);
        assert_eq!(
            found[0].message,
            "layer 0 (conv7x7:64): kernel 7x7 is outside ULC v1's 1..=5 per side and is coded \
             as 5x5; the predictor embeds the clamped code (the default model also reads the \
             raw kernel and widths as layer features), so its estimate for this network is \
             less reliable"
        );
    }

    // Issue 19: `ulc_clamp` fired on nearly every network's first conv (1 -> 16 channels is
    // "ratio 16"), which the user cannot change; a later conv's ratio still warns.
    #[test]
    fn the_image_to_first_conv_channel_ratio_is_no_clamp_warning_but_a_later_one_is() {
        let n = Network {
            input: Shape::new(1, 28, 28),
            layers: vec![
                Layer::BatchNorm,
                conv(3, 16),
                Layer::Relu,
                conv(3, 64),
                Layer::Relu,
            ],
            classes: 10,
        };
        assert_eq!(lints(&n), vec![(Lint::UlcClamp, Some(3))]);
        assert!(
            check(&n).unwrap()[0]
                .message
                .contains("channel ratio 4 (16 -> 64 channels)")
        );
    }

    #[test]
    fn invalid_networks_are_errors_not_findings() {
        let n = Network {
            input: Shape::new(1, 2, 2),
            layers: vec![Layer::max_pool(Kernel::square(3), 2)],
            classes: 10,
        };
        assert!(matches!(
            check(&n),
            Err(ShapeError::KernelLargerThanInput { layer: 0, .. })
        ));
    }

    #[test]
    fn names_round_trip_and_are_unique() {
        for lint in Lint::ALL {
            assert_eq!(Lint::from_name(lint.name()), Some(lint));
        }
        assert_eq!(Lint::from_name("stacked_activation"), None);
    }

    #[test]
    fn display_reads_as_a_namespaced_line() {
        let n = net(vec![conv(3, 16), Layer::Relu, Layer::Relu]);
        let line = check(&n).unwrap()[0].to_string();
        assert!(line.starts_with("peephole::stacked_activations: layer 2 (relu)"));
    }
}

//! Every Peephole lint, one module each (clippy's layout): a module declares its lint's name,
//! scope, summary, a long explanation and a bad and a good example ([`LintDoc`]), and a rule
//! lint's module also holds its check. This module is the registry ([`Lint`], [`Lint::doc`])
//! that opt-outs are validated against, `cargo peephole explain --lint` prints and README's lint
//! table is generated from ([`markdown_table`]); [`check`] runs the rule lints, checks of a
//! network that need no trained model, shared by the macros (which turn them into compiler
//! warnings) and `cargo peephole check` (which prints them).
//!
//! Lints return data ([`Diagnostic`]), never text on a terminal, so every front end reports
//! the same findings with the same stable names. Each lint has an opt-out by name
//! (`#[peephole(allow(NAME))]` in the macro); [`Lint::from_name`] is the one place that
//! knows which names exist.

mod batchnorm_after_activation;
mod channel_collapse;
mod conv_argument_order;
mod no_nonlinearity;
mod outside_training;
mod oversized_kernel;
mod pool_stride_default;
mod predicted_accuracy;
mod saturating_chain;
mod stacked_activations;
mod ulc_clamp;

use std::fmt;

use peephole_ir::text::layer_text;
use peephole_ir::ulc::{self, UlcEncoding};
use peephole_ir::{Analysis, Layer, LayerKind, Network, ShapeError};

pub use channel_collapse::MIN_CONV_CHANNELS;
pub use conv_argument_order::SUSPICIOUS_KERNEL_SIDE;
pub use saturating_chain::SATURATING_CHAIN_LIMIT;

pub(crate) use pool_stride_default::check as pool_stride_default;

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

/// A lint's declaration: everything a user or a tool reads about it, written once in the lint's
/// own module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LintDoc {
    /// The stable name users write in `allow(...)` and tools match on.
    pub name: &'static str,
    /// Whether a finding names one layer.
    pub scope: LintScope,
    /// Which front end reports it.
    pub source: LintSource,
    /// One line saying what the lint looks for, for listings and README's table.
    pub summary: &'static str,
    /// Why it matters and what exactly fires it, for `cargo peephole explain --lint`.
    pub explanation: &'static str,
    /// A declaration (`peephole_check!` syntax) that fires the lint.
    pub bad: &'static str,
    /// The same network written so that the lint does not fire.
    pub good: &'static str,
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

    /// The lint's declaration, from its module: the one place each lint is described.
    pub const fn doc(self) -> &'static LintDoc {
        match self {
            Lint::StackedActivations => &stacked_activations::DOC,
            Lint::BatchNormAfterActivation => &batchnorm_after_activation::DOC,
            Lint::NoNonlinearity => &no_nonlinearity::DOC,
            Lint::SaturatingChain => &saturating_chain::DOC,
            Lint::ChannelCollapse => &channel_collapse::DOC,
            Lint::OversizedKernel => &oversized_kernel::DOC,
            Lint::UlcClamp => &ulc_clamp::DOC,
            Lint::PredictedAccuracy => &predicted_accuracy::DOC,
            Lint::OutsideTraining => &outside_training::DOC,
            Lint::PoolStrideDefault => &pool_stride_default::DOC,
            Lint::ConvArgumentOrder => &conv_argument_order::DOC,
        }
    }

    /// The stable name users write in `allow(...)` and tools match on.
    pub const fn name(self) -> &'static str {
        self.doc().name
    }

    /// The lint with this stable name, `None` for an unknown name (an opt-out naming it is
    /// an error, so typos do not silently allow nothing).
    pub fn from_name(name: &str) -> Option<Lint> {
        Lint::ALL.into_iter().find(|lint| lint.name() == name)
    }

    /// Whether findings of this lint name a layer.
    pub const fn scope(self) -> LintScope {
        self.doc().scope
    }

    /// Which front end reports this lint.
    pub const fn source(self) -> LintSource {
        self.doc().source
    }

    /// One line saying what the lint looks for, for listings and documentation.
    pub const fn summary(self) -> &'static str {
        self.doc().summary
    }

    /// The check that finds this lint on a network, for [`LintSource::Rule`] lints.
    fn rule(self) -> Option<Rule> {
        Some(match self {
            Lint::StackedActivations => stacked_activations::check,
            Lint::BatchNormAfterActivation => batchnorm_after_activation::check,
            Lint::NoNonlinearity => no_nonlinearity::check,
            Lint::SaturatingChain => saturating_chain::check,
            Lint::ChannelCollapse => channel_collapse::check,
            Lint::OversizedKernel => oversized_kernel::check,
            Lint::UlcClamp => ulc_clamp::check,
            Lint::ConvArgumentOrder => conv_argument_order::check,
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

/// README's lint table, generated from the registry (`cargo xtask lint-table` writes it between
/// README's `lints` markers; a test fails when the committed table differs).
pub fn markdown_table() -> String {
    let mut table = String::from("| name | reported by | fires on |\n|---|---|---|\n");
    for lint in Lint::ALL {
        let by = match lint.source() {
            LintSource::Rule => "`network!`, `peephole_check!`, `cargo peephole check`",
            LintSource::Declaration => "the declaration syntax (macros and `check`)",
            LintSource::Predictor => "`peephole_check!`, `cargo peephole check`",
        };
        table.push_str(&format!(
            "| `{}` | {by} | {} |\n",
            lint.name(),
            lint.summary()
        ));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use peephole_ir::{Kernel, Layer, Network, Padding, Shape, ShapeError};

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

    // The image-to-stem ratio (1 -> 16 channels is "ratio 16") is nothing the user would
    // change, so warning on it would fire on nearly every network's first conv.
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

//! Generator v2 (`shared/spec/generator-v2.md`): free-form networks in the styles people write
//! by hand (LeNet-sized stacks, VGG-style stages, strided convs, absolute widths), drawn so
//! that a predictor trained on v1 and v2 can vouch for what users declare.
//!
//! Two readings of the spec that it leaves open, fixed here and in the spec test:
//! - "the stage's first conv" that the strided-conv style runs at stride 2 is the first conv
//!   of the stage in layer order, which is the 1x1 bottleneck when a one-conv stage draws one;
//! - the stride-1 pool follows one of the stage's `n` drawn conv blocks (not the bottleneck),
//!   chosen uniformly.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::compute_filter;
use peephole_ir::{Kernel, Layer, LayerKind, Network, Shape};

/// Name of this generator in zoo records.
pub const GENERATOR_V2: &str = "generator-v2";

/// Input every v2 network takes (the spec fixes it; fmnist-budget-v1's images).
pub const V2_INPUT: Shape = Shape::new(1, 28, 28);
/// Classes of every v2 network's head.
pub const V2_CLASSES: u32 = 10;

/// Stage counts and their probabilities.
pub const STAGE_COUNTS: [(u32, f64); 4] = [(1, 0.15), (2, 0.30), (3, 0.35), (4, 0.20)];
/// Base widths, drawn uniformly.
pub const BASE_WIDTHS: [u32; 9] = [4, 8, 16, 24, 32, 48, 64, 96, 128];
/// Conv kernels (square extents) and their probabilities.
pub const CONV_KERNEL_PROBABILITIES: [(u32, f64); 6] = [
    (1, 0.15),
    (2, 0.05),
    (3, 0.50),
    (4, 0.05),
    (5, 0.15),
    (7, 0.10),
];
/// Convs per stage are drawn uniformly from this inclusive range.
pub const STAGE_CONVS: (u32, u32) = (1, 4);
/// Probability that a stage gets a 1x1 bottleneck conv before its last conv.
pub const BOTTLENECK_PROBABILITY: f64 = 0.15;
/// Probability that a stage gets a stride-1 pool after one of its conv blocks.
pub const STRIDE_ONE_POOL_PROBABILITY: f64 = 0.15;
/// Stride-1 pool kernels are drawn uniformly from this inclusive range.
pub const STRIDE_ONE_POOL_KERNELS: (u32, u32) = (2, 5);
/// Probability of a downsampling step after the last stage.
pub const FINAL_DOWNSAMPLE_PROBABILITY: f64 = 0.5;
/// Widest stage.
pub const MAX_STAGE_WIDTH: u32 = 256;
/// A downsampling step never takes the feature map below this side.
pub const MIN_DOWNSAMPLED_SIDE: u32 = 2;

/// Width growth from one stage to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Growth {
    /// Every stage as wide as the first.
    #[serde(rename = "1")]
    One,
    /// 1.5 times wider per stage.
    #[serde(rename = "1.5")]
    OneAndAHalf,
    /// Twice as wide per stage.
    #[serde(rename = "2")]
    Two,
}

/// Growths and their probabilities.
pub const GROWTHS: [(Growth, f64); 3] = [
    (Growth::One, 0.35),
    (Growth::OneAndAHalf, 0.15),
    (Growth::Two, 0.50),
];

impl Growth {
    /// Width of stage `stage` (0-based) for base width `base`: `floor(base * g^stage + 0.5)`,
    /// computed exactly in integers, at most [`MAX_STAGE_WIDTH`].
    pub fn stage_width(self, base: u32, stage: u32) -> u32 {
        let base = u128::from(base);
        let stage = stage.min(64);
        let width = match self {
            Growth::One => base,
            Growth::Two => base << stage,
            // floor(b * 3^s / 2^s + 1/2) = floor((2 b 3^s + 2^s) / 2^(s+1))
            Growth::OneAndAHalf => {
                let power = 3u128.saturating_pow(stage);
                (2 * base).saturating_mul(power).saturating_add(1 << stage) >> (stage + 1)
            }
        };
        u32::try_from(width.min(u128::from(MAX_STAGE_WIDTH))).unwrap_or(MAX_STAGE_WIDTH)
    }

    /// The factor as the spec writes it.
    pub const fn word(self) -> &'static str {
        match self {
            Growth::One => "1",
            Growth::OneAndAHalf => "1.5",
            Growth::Two => "2",
        }
    }
}

/// The activation style of a network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivationStyle {
    /// ReLU after every conv.
    Relu,
    /// Tanh after every conv.
    Tanh,
    /// Sigmoid after every conv.
    Sigmoid,
    /// No activation at all.
    None,
    /// Each conv draws ReLU, Tanh or Sigmoid uniformly.
    Mixed,
}

/// Activation styles and their probabilities.
pub const ACTIVATIONS: [(ActivationStyle, f64); 5] = [
    (ActivationStyle::Relu, 0.55),
    (ActivationStyle::Tanh, 0.12),
    (ActivationStyle::Sigmoid, 0.08),
    (ActivationStyle::None, 0.05),
    (ActivationStyle::Mixed, 0.20),
];

/// Activations a conv of the mixed style draws from, uniformly.
pub const MIXED_ACTIVATIONS: [LayerKind; 3] =
    [LayerKind::Relu, LayerKind::Tanh, LayerKind::Sigmoid];

/// Where BatchNorm goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Normalization {
    /// No BatchNorm.
    None,
    /// conv, bn, activation.
    BeforeActivation,
    /// conv, activation, bn.
    AfterActivation,
}

/// Normalization styles and their probabilities.
pub const NORMALIZATIONS: [(Normalization, f64); 3] = [
    (Normalization::None, 0.40),
    (Normalization::BeforeActivation, 0.45),
    (Normalization::AfterActivation, 0.15),
];

/// How a network halves its feature map between stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Downsampling {
    /// Max pool 2x2, stride 2.
    MaxPool2,
    /// Average pool 2x2, stride 2.
    AvgPool2,
    /// Max pool 3x3, stride 2.
    MaxPool3,
    /// The next stage's first conv at stride 2 (a max pool 2x2/2 after the last stage).
    StridedConv,
}

/// Downsampling styles and their probabilities.
pub const DOWNSAMPLINGS: [(Downsampling, f64); 4] = [
    (Downsampling::MaxPool2, 0.45),
    (Downsampling::AvgPool2, 0.20),
    (Downsampling::MaxPool3, 0.10),
    (Downsampling::StridedConv, 0.25),
];

impl Downsampling {
    /// The pool this style puts between stages, or after the last stage (the strided-conv
    /// style's step after the last stage is a max pool 2x2/2).
    pub const fn pool(self) -> Layer {
        match self {
            Downsampling::MaxPool2 | Downsampling::StridedConv => {
                Layer::max_pool(Kernel::square(2), 2)
            }
            Downsampling::AvgPool2 => Layer::avg_pool(Kernel::square(2), 2),
            Downsampling::MaxPool3 => Layer::max_pool(Kernel::square(3), 2),
        }
    }

    fn word(self) -> &'static str {
        match self {
            Downsampling::MaxPool2 => "maxpool2x2/2",
            Downsampling::AvgPool2 => "avgpool2x2/2",
            Downsampling::MaxPool3 => "maxpool3x3/2",
            Downsampling::StridedConv => "strided-conv",
        }
    }
}

/// The choices drawn once per network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Style {
    /// Number of stages.
    pub stages: u32,
    /// Width of the first stage.
    pub base_width: u32,
    /// Width growth per stage.
    pub growth: Growth,
    /// Activation style.
    pub activation: ActivationStyle,
    /// BatchNorm placement.
    pub normalization: Normalization,
    /// Downsampling style.
    pub downsampling: Downsampling,
}

/// One conv of a stage with the activation it drew (only the mixed style draws per conv).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ConvDraw {
    /// Square kernel extent.
    pub kernel: u32,
    /// The activation after it (`None` under the "none" style): relu, tanh or sigmoid.
    pub activation: Option<LayerKind>,
}

/// A stride-1 pool added inside a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct InnerPool {
    /// Index (0-based, among the stage's drawn convs) of the conv block it follows.
    pub after_conv: u32,
    /// Square kernel extent.
    pub kernel: u32,
}

/// Everything drawn for one stage.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StageDraw {
    /// The stage's convs in order (1 to 4).
    pub convs: Vec<ConvDraw>,
    /// The 1x1 bottleneck before the last conv, with its activation, if drawn.
    pub bottleneck: Option<ConvDraw>,
    /// The stride-1 pool, if drawn.
    pub pool: Option<InnerPool>,
}

/// A whole v2 design: the style and every per-stage draw; assembling it is deterministic.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Design {
    /// Network-level choices.
    pub style: Style,
    /// One entry per stage.
    pub stages: Vec<StageDraw>,
    /// Whether a downsampling step follows the last stage.
    pub final_downsample: bool,
}

/// Draws from a discrete distribution given as (value, probability) pairs; rounding slack
/// above the sum goes to the last value.
fn pick<T: Copy, R: Rng + ?Sized>(rng: &mut R, table: &[(T, f64)]) -> T {
    let mut u: f64 = rng.random();
    for &(value, p) in table {
        if u < p {
            return value;
        }
        u -= p;
    }
    table[table.len() - 1].0
}

fn draw_activation<R: Rng + ?Sized>(rng: &mut R, style: ActivationStyle) -> Option<LayerKind> {
    match style {
        ActivationStyle::Relu => Some(LayerKind::Relu),
        ActivationStyle::Tanh => Some(LayerKind::Tanh),
        ActivationStyle::Sigmoid => Some(LayerKind::Sigmoid),
        ActivationStyle::None => None,
        ActivationStyle::Mixed => {
            Some(MIXED_ACTIVATIONS[rng.random_range(0..MIXED_ACTIVATIONS.len())])
        }
    }
}

/// Draws the network-level style.
pub fn sample_style<R: Rng + ?Sized>(rng: &mut R) -> Style {
    Style {
        stages: pick(rng, &STAGE_COUNTS),
        base_width: BASE_WIDTHS[rng.random_range(0..BASE_WIDTHS.len())],
        growth: pick(rng, &GROWTHS),
        activation: pick(rng, &ACTIVATIONS),
        normalization: pick(rng, &NORMALIZATIONS),
        downsampling: pick(rng, &DOWNSAMPLINGS),
    }
}

/// Draws one design (before the compute filter).
pub fn sample_design<R: Rng + ?Sized>(rng: &mut R) -> Design {
    let style = sample_style(rng);
    let stages = (0..style.stages)
        .map(|_| {
            let n = rng.random_range(STAGE_CONVS.0..=STAGE_CONVS.1);
            let convs = (0..n)
                .map(|_| ConvDraw {
                    kernel: pick(rng, &CONV_KERNEL_PROBABILITIES),
                    activation: draw_activation(rng, style.activation),
                })
                .collect();
            let bottleneck = rng.random_bool(BOTTLENECK_PROBABILITY).then(|| ConvDraw {
                kernel: 1,
                activation: draw_activation(rng, style.activation),
            });
            let pool = rng
                .random_bool(STRIDE_ONE_POOL_PROBABILITY)
                .then(|| InnerPool {
                    after_conv: rng.random_range(0..n),
                    kernel: rng.random_range(STRIDE_ONE_POOL_KERNELS.0..=STRIDE_ONE_POOL_KERNELS.1),
                });
            StageDraw {
                convs,
                bottleneck,
                pool,
            }
        })
        .collect();
    Design {
        style,
        stages,
        final_downsample: rng.random_bool(FINAL_DOWNSAMPLE_PROBABILITY),
    }
}

/// Side of a square map after a valid window `kernel` at stride 2, or `None` when the skip
/// rule drops the step (window larger than the map, or a result below 2x2).
pub fn downsampled_side(side: u32, kernel: u32) -> Option<u32> {
    let out = side.checked_sub(kernel)? / 2 + 1;
    (out >= MIN_DOWNSAMPLED_SIDE).then_some(out)
}

impl Design {
    /// The network this design describes: stages, downsampling with the skip rule, on the
    /// spec's 1x28x28 input and 10-class head.
    pub fn assemble(&self) -> Network {
        let style = self.style;
        let mut layers = Vec::new();
        // Every layer keeps the map square and stride-1 layers keep its side.
        let mut side = V2_INPUT.height;
        let mut strided_next = false;
        let last = self.stages.len().saturating_sub(1);
        for (s, stage) in self.stages.iter().enumerate() {
            let width = style.growth.stage_width(style.base_width, s as u32);
            // (conv, output channels, index among the drawn convs; None for the bottleneck)
            let mut blocks: Vec<(ConvDraw, u32, Option<u32>)> = Vec::new();
            for (i, conv) in stage.convs.iter().enumerate() {
                if i + 1 == stage.convs.len()
                    && let Some(bottleneck) = stage.bottleneck
                {
                    blocks.push((bottleneck, (width / 4).max(1), None));
                }
                blocks.push((*conv, width, Some(i as u32)));
            }
            for (position, (conv, channels, drawn)) in blocks.iter().enumerate() {
                let mut stride = 1;
                if position == 0
                    && strided_next
                    && let Some(out) = downsampled_side(side, conv.kernel)
                {
                    stride = 2;
                    side = out;
                }
                layers.push(Layer::conv(Kernel::square(conv.kernel), *channels, stride));
                let activation = conv.activation.and_then(Layer::pointwise);
                match style.normalization {
                    Normalization::None => layers.extend(activation),
                    Normalization::BeforeActivation => {
                        layers.push(Layer::BatchNorm);
                        layers.extend(activation);
                    }
                    Normalization::AfterActivation => {
                        layers.extend(activation);
                        layers.push(Layer::BatchNorm);
                    }
                }
                if let Some(pool) = stage.pool
                    && *drawn == Some(pool.after_conv)
                {
                    let window = Kernel::square(pool.kernel);
                    layers.push(match style.downsampling {
                        Downsampling::AvgPool2 => Layer::avg_pool(window, 1),
                        _ => Layer::max_pool(window, 1),
                    });
                }
            }
            strided_next = false;
            let downsample = s < last || self.final_downsample;
            if !downsample {
                continue;
            }
            if style.downsampling == Downsampling::StridedConv && s < last {
                strided_next = true;
            } else {
                let pool = style.downsampling.pool();
                let kernel = pool.window().map_or(2, |(k, _, _)| k.width);
                if let Some(out) = downsampled_side(side, kernel) {
                    layers.push(pool);
                    side = out;
                }
            }
        }
        Network {
            input: V2_INPUT,
            layers,
            classes: V2_CLASSES,
        }
    }
}

impl std::fmt::Display for Design {
    /// A one-line summary of the style for records and `xtask sample`; the per-stage draws
    /// are visible in the network itself.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let style = self.style;
        let activation = match style.activation {
            ActivationStyle::Relu => "relu",
            ActivationStyle::Tanh => "tanh",
            ActivationStyle::Sigmoid => "sigmoid",
            ActivationStyle::None => "none",
            ActivationStyle::Mixed => "mixed",
        };
        let normalization = match style.normalization {
            Normalization::None => "none",
            Normalization::BeforeActivation => "bn-before-act",
            Normalization::AfterActivation => "bn-after-act",
        };
        let convs: Vec<String> = self
            .stages
            .iter()
            .map(|s| {
                let mut text = s.convs.len().to_string();
                if s.bottleneck.is_some() {
                    text.push('b');
                }
                if s.pool.is_some() {
                    text.push('p');
                }
                text
            })
            .collect();
        write!(
            f,
            "stages={} width={} growth={} act={activation} norm={normalization} down={} final-down={} convs={}",
            style.stages,
            style.base_width,
            style.growth.word(),
            style.downsampling.word(),
            if self.final_downsample { "yes" } else { "no" },
            convs.join(",")
        )
    }
}

/// A v2 network that passed the compute filter, with the design it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedV2 {
    /// The design.
    pub design: Design,
    /// The assembled network.
    pub network: Network,
    /// Multiply-accumulates per image.
    pub macs: u64,
    /// Parameters.
    pub params: u64,
    /// How many designs the compute filter threw away before this one.
    pub rejected: u32,
}

/// Draws designs until one passes the compute filter (the whole design is drawn again, as
/// the spec says).
pub fn sample_network_v2<R: Rng + ?Sized>(rng: &mut R) -> GeneratedV2 {
    let mut rejected = 0;
    loop {
        let design = sample_design(rng);
        let network = design.assemble();
        if compute_filter(&network).is_none()
            && let Ok(analysis) = network.analyze()
        {
            return GeneratedV2 {
                design,
                network,
                macs: analysis.macs,
                params: analysis.params,
                rejected,
            };
        }
        rejected += 1;
    }
}

/// Keeps v2's per-index streams apart from v1's under the same seed.
const V2_STREAM_KEY: u64 = 0x7632_5f66_7265_6501;

/// The `index`-th v2 network of the stream named by `seed`; each index has its own RNG
/// stream, so sharding and resuming draw the same networks whatever ran before.
pub fn network_at_v2(seed: u64, index: u64) -> GeneratedV2 {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ V2_STREAM_KEY);
    rng.set_stream(index);
    sample_network_v2(&mut rng)
}

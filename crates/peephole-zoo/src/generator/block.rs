//! The block design of generator v1 (`shared/spec/generator.md`): a Markov chain over layer
//! types that draws one block per network.

use rand::Rng;
use serde::{Deserialize, Serialize};

use peephole_ir::text::{BlockWord, TextError, block_words};
use peephole_ir::ulc::CHANNEL_RATIO_QUARTERS;
use peephole_ir::{Kernel, Layer, LayerKind, Padding};

/// Name of this generator, stored in zoo records so that zoos from different designs are
/// never mixed silently.
pub const GENERATOR_VERSION: &str = "generator-v1";

/// Probability that a BatchNorm follows a conv.
pub const BATCH_NORM_PROBABILITY: f64 = 0.6;
/// A block never holds more layers than this (BatchNorm counted).
pub const MAX_BLOCK_LAYERS: usize = 10;
/// A block never holds more convs than this; drawing one more ends the block.
pub const MAX_BLOCK_CONVS: usize = 3;
/// Conv kernels are drawn uniformly from this inclusive range.
pub const CONV_KERNELS: (u32, u32) = (1, 5);
/// Pool kernels are drawn uniformly from this inclusive range.
pub const POOL_KERNELS: (u32, u32) = (2, 5);

/// What the chain can draw next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Draw {
    /// A layer of this kind (never BatchNorm, which is inserted, not drawn).
    Layer(LayerKind),
    /// The block ends.
    End,
}

/// Column order of [`TRANSITIONS`].
pub const DRAW_ORDER: [Draw; 7] = [
    Draw::Layer(LayerKind::Conv),
    Draw::Layer(LayerKind::MaxPool),
    Draw::Layer(LayerKind::AvgPool),
    Draw::Layer(LayerKind::Relu),
    Draw::Layer(LayerKind::Sigmoid),
    Draw::Layer(LayerKind::Tanh),
    Draw::End,
];

/// The transition matrix, row = current layer kind, columns in [`DRAW_ORDER`]. BatchNorm is
/// never current: the row is the one of the conv before it.
pub const TRANSITIONS: [(LayerKind, [f64; 7]); 6] = [
    (LayerKind::Conv, [0.10, 0.05, 0.03, 0.55, 0.07, 0.10, 0.10]),
    (
        LayerKind::MaxPool,
        [0.60, 0.00, 0.00, 0.15, 0.02, 0.03, 0.20],
    ),
    (
        LayerKind::AvgPool,
        [0.60, 0.00, 0.00, 0.15, 0.02, 0.03, 0.20],
    ),
    (LayerKind::Relu, [0.55, 0.12, 0.08, 0.00, 0.00, 0.00, 0.25]),
    (
        LayerKind::Sigmoid,
        [0.55, 0.12, 0.08, 0.00, 0.00, 0.00, 0.25],
    ),
    (LayerKind::Tanh, [0.55, 0.12, 0.08, 0.00, 0.00, 0.00, 0.25]),
];

/// The transition row of a current layer kind.
pub fn transition_row(current: LayerKind) -> &'static [f64; 7] {
    let state = if current == LayerKind::BatchNorm {
        LayerKind::Conv
    } else {
        current
    };
    TRANSITIONS
        .iter()
        .find(|(kind, _)| *kind == state)
        .map(|(_, row)| row)
        .unwrap_or(&TRANSITIONS[0].1)
}

/// A nominal output/input channel ratio of a block conv, one of the eight ULC centres.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChannelRatio {
    quarters: u32,
}

impl ChannelRatio {
    /// The ratio `quarters / 4`, if it is one of the eight table values.
    pub fn from_quarters(quarters: u32) -> Option<Self> {
        CHANNEL_RATIO_QUARTERS
            .contains(&quarters)
            .then_some(ChannelRatio { quarters })
    }

    /// The ratio as a multiple of 1/4.
    pub const fn quarters(self) -> u32 {
        self.quarters
    }

    /// The ratio as a number.
    pub fn value(self) -> f64 {
        f64::from(self.quarters) / 4.0
    }

    /// Output width for an input width: `max(1, floor(in * ratio + 0.5))`, computed exactly.
    pub fn apply(self, in_channels: u32) -> u32 {
        let scaled = u64::from(in_channels) * u64::from(self.quarters);
        // floor(in * q / 4 + 1/2) == floor((in * q + 2) / 4)
        u32::try_from((scaled + 2) / 4).unwrap_or(u32::MAX).max(1)
    }
}

impl std::str::FromStr for ChannelRatio {
    type Err = String;

    /// Reads a ratio as the text form writes it (`1.5`), refusing any value off the table.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.parse::<f64>()
            .ok()
            .map(|r| r * 4.0)
            .filter(|q| q.fract() == 0.0 && *q >= 0.0 && *q <= 1e6)
            .and_then(|q| ChannelRatio::from_quarters(q as u32))
            .ok_or_else(|| {
                format!("width ratio {text} is not one of 0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 3")
            })
    }
}

impl std::fmt::Display for ChannelRatio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.value())
    }
}

/// One layer of a block: like [`Layer`] but with a relative width and the stride-1, same
/// padding geometry every block layer has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BlockLayer {
    /// Square conv scaling the width by `ratio`.
    Conv {
        /// Square kernel extent.
        kernel: u32,
        /// Nominal width ratio.
        ratio: ChannelRatio,
    },
    /// Square max pool, stride 1.
    MaxPool {
        /// Square kernel extent.
        kernel: u32,
    },
    /// Square average pool, stride 1.
    AvgPool {
        /// Square kernel extent.
        kernel: u32,
    },
    /// ReLU.
    Relu,
    /// Sigmoid.
    Sigmoid,
    /// Tanh.
    Tanh,
    /// BatchNorm.
    BatchNorm,
}

impl BlockLayer {
    /// Kind of the layer.
    pub const fn kind(self) -> LayerKind {
        match self {
            BlockLayer::Conv { .. } => LayerKind::Conv,
            BlockLayer::MaxPool { .. } => LayerKind::MaxPool,
            BlockLayer::AvgPool { .. } => LayerKind::AvgPool,
            BlockLayer::Relu => LayerKind::Relu,
            BlockLayer::Sigmoid => LayerKind::Sigmoid,
            BlockLayer::Tanh => LayerKind::Tanh,
            BlockLayer::BatchNorm => LayerKind::BatchNorm,
        }
    }
}

/// A block: the random part of a generated network, repeated in every stage of a skeleton.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Block {
    /// Layers in order.
    pub layers: Vec<BlockLayer>,
}

impl Block {
    /// The absolute layers this block becomes when applied to `in_channels`, and the width it
    /// leaves.
    pub fn instantiate(&self, in_channels: u32) -> (Vec<Layer>, u32) {
        let mut width = in_channels;
        let layers = self
            .layers
            .iter()
            .map(|layer| match *layer {
                BlockLayer::Conv { kernel, ratio } => {
                    width = ratio.apply(width);
                    Layer::conv(Kernel::square(kernel), width, 1)
                }
                BlockLayer::MaxPool { kernel } => Layer::max_pool(Kernel::square(kernel), 1),
                BlockLayer::AvgPool { kernel } => Layer::avg_pool(Kernel::square(kernel), 1),
                BlockLayer::Relu => Layer::Relu,
                BlockLayer::Sigmoid => Layer::Sigmoid,
                BlockLayer::Tanh => Layer::Tanh,
                BlockLayer::BatchNorm => Layer::BatchNorm,
            })
            .collect();
        (layers, width)
    }

    /// Number of convs, which the chain bounds.
    pub fn conv_count(&self) -> usize {
        self.layers
            .iter()
            .filter(|l| l.kind() == LayerKind::Conv)
            .count()
    }
}

fn draw_conv<R: Rng + ?Sized>(rng: &mut R) -> BlockLayer {
    let kernel = rng.random_range(CONV_KERNELS.0..=CONV_KERNELS.1);
    let quarters = CHANNEL_RATIO_QUARTERS[rng.random_range(0..CHANNEL_RATIO_QUARTERS.len())];
    BlockLayer::Conv {
        kernel,
        ratio: ChannelRatio { quarters },
    }
}

fn draw_next<R: Rng + ?Sized>(rng: &mut R, current: LayerKind) -> Draw {
    let row = transition_row(current);
    let mut u: f64 = rng.random();
    for (draw, &p) in DRAW_ORDER.iter().zip(row) {
        if u < p {
            return *draw;
        }
        u -= p;
    }
    // Rounding left a sliver above the row's sum: that mass belongs to the last column.
    Draw::End
}

/// Draws one block from the chain (before any compute filter).
///
/// A BatchNorm that would be an 11th layer is not inserted: the length limit is absolute.
pub fn sample_block<R: Rng + ?Sized>(rng: &mut R) -> Block {
    let mut layers = Vec::with_capacity(MAX_BLOCK_LAYERS);
    let mut convs = 0;
    let mut current = LayerKind::Conv;
    let push_conv = |layers: &mut Vec<BlockLayer>, rng: &mut R| {
        layers.push(draw_conv(rng));
        if layers.len() < MAX_BLOCK_LAYERS && rng.random_bool(BATCH_NORM_PROBABILITY) {
            layers.push(BlockLayer::BatchNorm);
        }
    };
    push_conv(&mut layers, rng);
    convs += 1;
    while layers.len() < MAX_BLOCK_LAYERS {
        match draw_next(rng, current) {
            Draw::End => break,
            Draw::Layer(LayerKind::Conv) => {
                if convs == MAX_BLOCK_CONVS {
                    break;
                }
                push_conv(&mut layers, rng);
                convs += 1;
                current = LayerKind::Conv;
            }
            Draw::Layer(kind) => {
                let layer = match kind {
                    LayerKind::MaxPool => BlockLayer::MaxPool {
                        kernel: rng.random_range(POOL_KERNELS.0..=POOL_KERNELS.1),
                    },
                    LayerKind::AvgPool => BlockLayer::AvgPool {
                        kernel: rng.random_range(POOL_KERNELS.0..=POOL_KERNELS.1),
                    },
                    LayerKind::Sigmoid => BlockLayer::Sigmoid,
                    LayerKind::Tanh => BlockLayer::Tanh,
                    // DRAW_ORDER holds no BatchNorm and Conv is handled above: this is ReLU.
                    _ => BlockLayer::Relu,
                };
                layers.push(layer);
                current = kind;
            }
        }
    }
    Block { layers }
}

impl std::fmt::Display for Block {
    /// The text form of a block: `conv3x3*1.5 bn relu maxpool3x3`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let words: Vec<String> = self
            .layers
            .iter()
            .map(|layer| {
                let word = layer.kind().word();
                match *layer {
                    BlockLayer::Conv { kernel, ratio } => {
                        format!("{word}{kernel}x{kernel}*{ratio}")
                    }
                    BlockLayer::MaxPool { kernel } | BlockLayer::AvgPool { kernel } => {
                        format!("{word}{kernel}x{kernel}")
                    }
                    _ => word.to_string(),
                }
            })
            .collect();
        write!(f, "{}", words.join(" "))
    }
}

/// Parses a block line (relative widths, square kernels, stride 1, same padding), the inverse
/// of its `Display`; the text form's syntax, this generator's vocabulary.
pub fn parse_block(source: &str) -> Result<Block, TextError> {
    let layers = block_words(source)?
        .into_iter()
        .map(|(column, word)| block_layer(column, word))
        .collect::<Result<_, _>>()?;
    Ok(Block { layers })
}

/// The block layer one word of a block line stands for.
fn block_layer(column: usize, word: BlockWord<'_>) -> Result<BlockLayer, TextError> {
    let error = |message: &str| TextError {
        column,
        message: message.into(),
    };
    match word {
        BlockWord::ScaledConv {
            kernel,
            stride,
            padding,
            ratio,
            ratio_column,
        } => {
            if stride != 1 || padding != Padding::Same || !kernel.is_square() {
                return Err(error(
                    "a block conv is square with stride 1 and same padding",
                ));
            }
            let ratio = ratio.parse().map_err(|message| TextError {
                column: ratio_column,
                message,
            })?;
            Ok(BlockLayer::Conv {
                kernel: kernel.width,
                ratio,
            })
        }
        BlockWord::Layer(layer) => match layer {
            Layer::MaxPool {
                kernel,
                stride: 1,
                padding: Padding::Same,
            } if kernel.is_square() => Ok(BlockLayer::MaxPool {
                kernel: kernel.width,
            }),
            Layer::AvgPool {
                kernel,
                stride: 1,
                padding: Padding::Same,
            } if kernel.is_square() => Ok(BlockLayer::AvgPool {
                kernel: kernel.width,
            }),
            Layer::Relu => Ok(BlockLayer::Relu),
            Layer::Sigmoid => Ok(BlockLayer::Sigmoid),
            Layer::Tanh => Ok(BlockLayer::Tanh),
            Layer::BatchNorm => Ok(BlockLayer::BatchNorm),
            _ => Err(error(
                "a block pool is square with stride 1 and same padding",
            )),
        },
    }
}

impl std::str::FromStr for Block {
    type Err = TextError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_block(s)
    }
}

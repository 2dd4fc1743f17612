//! Layer vocabulary of the architecture IR: the closed set of layers Peephole can reason about.

use serde::{Deserialize, Serialize};

/// A rectangular kernel; kept as two numbers because users may declare asymmetric kernels and
/// ULC codes width and height separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Kernel {
    /// Extent along the image width (ULC's KW).
    pub width: u32,
    /// Extent along the image height (ULC's KH).
    pub height: u32,
}

impl Kernel {
    /// A square kernel, the only shape the generator draws.
    pub const fn square(size: u32) -> Self {
        Kernel {
            width: size,
            height: size,
        }
    }

    /// True when width equals height, which lets the text form print `3` instead of `3x3`.
    pub const fn is_square(self) -> bool {
        self.width == self.height
    }
}

/// How a windowed layer pads its input, because the output size and the trained numbers
/// depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Padding {
    /// Total padding `k - 1` per axis, left/top `(k - 1) / 2` rounded down, right/bottom the
    /// rest (PyTorch's rule for even kernels). With stride 1 it keeps the spatial size.
    Same,
    /// No padding: the window must fit inside the input.
    Valid,
}

impl Padding {
    /// The padding a layer gets when a declaration does not say: "same" for stride 1 (the
    /// generator's block layers) and "valid" for larger strides (the skeleton's downsampling
    /// pools), so the common cases need no annotation.
    pub const fn default_for_stride(stride: u32) -> Self {
        if stride <= 1 {
            Padding::Same
        } else {
            Padding::Valid
        }
    }

    /// Padding before and after the input along one axis, for a kernel of extent `k`.
    pub const fn before_after(self, k: u32) -> (u32, u32) {
        match self {
            Padding::Same => {
                let total = k.saturating_sub(1);
                (total / 2, total - total / 2)
            }
            Padding::Valid => (0, 0),
        }
    }
}

/// The type of a layer without its hyper-parameters; this is what ULC's TY field and the
/// generator's Markov chain talk about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LayerKind {
    /// Convolution with bias.
    Conv,
    /// Max pooling (pads with -inf).
    MaxPool,
    /// Average pooling (pads with zeros that count in the mean).
    AvgPool,
    /// Rectified linear unit.
    Relu,
    /// Logistic sigmoid.
    Sigmoid,
    /// Hyperbolic tangent.
    Tanh,
    /// Batch normalization over channels.
    BatchNorm,
}

impl LayerKind {
    /// Every kind, in ULC TY order, for exhaustive tests and tables.
    pub const ALL: [LayerKind; 7] = [
        LayerKind::Conv,
        LayerKind::MaxPool,
        LayerKind::AvgPool,
        LayerKind::Relu,
        LayerKind::Sigmoid,
        LayerKind::Tanh,
        LayerKind::BatchNorm,
    ];

    /// True for element-wise nonlinearities, which rule lints reason about.
    pub const fn is_activation(self) -> bool {
        matches!(self, LayerKind::Relu | LayerKind::Sigmoid | LayerKind::Tanh)
    }

    /// True for the saturating activations whose long chains train poorly.
    pub const fn is_saturating(self) -> bool {
        matches!(self, LayerKind::Sigmoid | LayerKind::Tanh)
    }

    /// The word the text form and messages use for this kind.
    pub const fn word(self) -> &'static str {
        match self {
            LayerKind::Conv => "conv",
            LayerKind::MaxPool => "maxpool",
            LayerKind::AvgPool => "avgpool",
            LayerKind::Relu => "relu",
            LayerKind::Sigmoid => "sigmoid",
            LayerKind::Tanh => "tanh",
            LayerKind::BatchNorm => "bn",
        }
    }
}

/// One layer of a sequential CNN with every hyper-parameter needed to build and train it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Layer {
    /// Convolution (always with a bias, as the protocol says).
    Conv {
        /// Window extent.
        kernel: Kernel,
        /// Absolute number of output channels.
        out_channels: u32,
        /// Step in both axes.
        stride: u32,
        /// Padding rule.
        padding: Padding,
    },
    /// Max pooling; channels pass through.
    MaxPool {
        /// Window extent.
        kernel: Kernel,
        /// Step in both axes.
        stride: u32,
        /// Padding rule.
        padding: Padding,
    },
    /// Average pooling; channels pass through.
    AvgPool {
        /// Window extent.
        kernel: Kernel,
        /// Step in both axes.
        stride: u32,
        /// Padding rule.
        padding: Padding,
    },
    /// Rectified linear unit.
    Relu,
    /// Logistic sigmoid.
    Sigmoid,
    /// Hyperbolic tangent.
    Tanh,
    /// Batch normalization over channels.
    BatchNorm,
}

impl Layer {
    /// A conv with the padding a plain declaration implies for its stride.
    pub const fn conv(kernel: Kernel, out_channels: u32, stride: u32) -> Self {
        Layer::Conv {
            kernel,
            out_channels,
            stride,
            padding: Padding::default_for_stride(stride),
        }
    }

    /// A max pool with the padding a plain declaration implies for its stride.
    pub const fn max_pool(kernel: Kernel, stride: u32) -> Self {
        Layer::MaxPool {
            kernel,
            stride,
            padding: Padding::default_for_stride(stride),
        }
    }

    /// An average pool with the padding a plain declaration implies for its stride.
    pub const fn avg_pool(kernel: Kernel, stride: u32) -> Self {
        Layer::AvgPool {
            kernel,
            stride,
            padding: Padding::default_for_stride(stride),
        }
    }

    /// The layer's kind, dropping hyper-parameters.
    pub const fn kind(&self) -> LayerKind {
        match self {
            Layer::Conv { .. } => LayerKind::Conv,
            Layer::MaxPool { .. } => LayerKind::MaxPool,
            Layer::AvgPool { .. } => LayerKind::AvgPool,
            Layer::Relu => LayerKind::Relu,
            Layer::Sigmoid => LayerKind::Sigmoid,
            Layer::Tanh => LayerKind::Tanh,
            Layer::BatchNorm => LayerKind::BatchNorm,
        }
    }

    /// Kernel, stride and padding of a windowed layer; `None` for point-wise layers.
    pub const fn window(&self) -> Option<(Kernel, u32, Padding)> {
        match *self {
            Layer::Conv {
                kernel,
                stride,
                padding,
                ..
            }
            | Layer::MaxPool {
                kernel,
                stride,
                padding,
            }
            | Layer::AvgPool {
                kernel,
                stride,
                padding,
            } => Some((kernel, stride, padding)),
            _ => None,
        }
    }
}

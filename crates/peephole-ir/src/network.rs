//! A whole sequential network and its static analysis: shapes, parameters and compute.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::layer::{Layer, Padding};

/// Channels, height and width of a feature map (per image; the batch is never part of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Shape {
    /// Number of channels.
    pub channels: u32,
    /// Rows.
    pub height: u32,
    /// Columns.
    pub width: u32,
}

impl Shape {
    /// Shorthand used by skeletons and tests.
    pub const fn new(channels: u32, height: u32, width: u32) -> Self {
        Shape {
            channels,
            height,
            width,
        }
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}x{}", self.channels, self.height, self.width)
    }
}

/// A sequential CNN: input, body layers, and the fixed classifier head (global average pool
/// then a linear layer to `classes`). The head is implied, not listed, because ULC leaves it
/// out and every network shares it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Network {
    /// Shape of one input image.
    pub input: Shape,
    /// Body layers in order.
    pub layers: Vec<Layer>,
    /// Number of classes the head predicts.
    pub classes: u32,
}

/// Why a network cannot be built; every variant names the layer (0-based index into
/// `Network::layers`) so messages and spans can point at it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ShapeError {
    /// The input shape has a zero extent.
    #[error("the input shape {shape} has a zero extent")]
    EmptyInput {
        /// The offending input shape.
        shape: Shape,
    },
    /// The head needs at least one class.
    #[error("the classifier head needs at least one class, got 0")]
    NoClasses,
    /// A conv asks for zero output channels.
    #[error("layer {layer} (conv) has zero output channels")]
    ZeroChannels {
        /// Index of the layer.
        layer: usize,
    },
    /// A window with a zero extent.
    #[error("layer {layer} has a zero-sized kernel {width}x{height}")]
    ZeroKernel {
        /// Index of the layer.
        layer: usize,
        /// Kernel width.
        width: u32,
        /// Kernel height.
        height: u32,
    },
    /// A zero stride would never move the window.
    #[error("layer {layer} has stride 0")]
    ZeroStride {
        /// Index of the layer.
        layer: usize,
    },
    /// With valid padding a window larger than its input produces nothing.
    #[error(
        "{}",
        collapse_message(&format!("layer {layer}"), *kernel_width, *kernel_height, *input_width, *input_height)
    )]
    KernelLargerThanInput {
        /// Index of the layer.
        layer: usize,
        /// Kernel width.
        kernel_width: u32,
        /// Kernel height.
        kernel_height: u32,
        /// Input width.
        input_width: u32,
        /// Input height.
        input_height: u32,
    },
    /// Numbers so large that counting parameters or compute overflows.
    #[error("layer {layer} is too large to count (overflow)")]
    Overflow {
        /// Index of the layer.
        layer: usize,
    },
}

/// The one wording of a spatial collapse (a window larger than its unpadded input); `layer`
/// names the layer as well as the caller can.
fn collapse_message(
    layer: &str,
    kernel_width: u32,
    kernel_height: u32,
    input_width: u32,
    input_height: u32,
) -> String {
    format!(
        "the feature map collapses at {layer}: its {kernel_width}x{kernel_height} window does \
         not fit the {input_width}x{input_height} input without padding, so the spatial size \
         would reach 0"
    )
}

impl ShapeError {
    /// The message, with the layer it names also written as `layer_text` (its text form), as
    /// a tool that has the network at hand shows it: `layer 2 (conv3x3:8@valid)`.
    pub fn message_with_layer_text(&self, layer_text: &str) -> String {
        match *self {
            ShapeError::KernelLargerThanInput {
                layer,
                kernel_width,
                kernel_height,
                input_width,
                input_height,
            } => collapse_message(
                &format!("layer {layer} ({layer_text})"),
                kernel_width,
                kernel_height,
                input_width,
                input_height,
            ),
            _ => self.to_string(),
        }
    }

    /// The layer the error is about, when it is about one, so callers can attach a span.
    pub fn layer(&self) -> Option<usize> {
        match self {
            ShapeError::EmptyInput { .. } | ShapeError::NoClasses => None,
            ShapeError::ZeroChannels { layer }
            | ShapeError::ZeroKernel { layer, .. }
            | ShapeError::ZeroStride { layer }
            | ShapeError::KernelLargerThanInput { layer, .. }
            | ShapeError::Overflow { layer } => Some(*layer),
        }
    }
}

/// What shape inference learns about one layer; computed once and shared by ULC, lints,
/// compute counting and the trainer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerShape {
    /// Shape entering the layer.
    pub input: Shape,
    /// Shape leaving the layer.
    pub output: Shape,
    /// Trainable parameters of the layer.
    pub params: u64,
    /// Multiply-accumulates per image (convs only; everything else counts 0).
    pub macs: u64,
}

/// The result of analysing a whole network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Analysis {
    /// One entry per body layer.
    pub layers: Vec<LayerShape>,
    /// Shape entering the head.
    pub features: Shape,
    /// Parameters of body and head.
    pub params: u64,
    /// Multiply-accumulates per image of body and head.
    pub macs: u64,
}

impl Analysis {
    /// Widest channel count anywhere in the network (input included); the generator's compute
    /// filter bounds it.
    pub fn max_channels(&self) -> u32 {
        // `features` is the input itself when there are no body layers; with layers, the
        // first layer's input is the network input.
        self.layers
            .iter()
            .flat_map(|l| [l.input.channels, l.output.channels])
            .fold(self.features.channels, u32::max)
    }
}

fn out_extent(input: u32, kernel: u32, stride: u32, padding: Padding) -> Option<u32> {
    let (before, after) = padding.before_after(kernel);
    // In u64: a padded extent near u32::MAX would overflow u32 (a panic in debug builds).
    let padded = u64::from(input) + u64::from(before) + u64::from(after);
    let kernel = u64::from(kernel);
    if padded < kernel {
        return None;
    }
    // The output is never wider than the input (same padding keeps it at stride 1, valid
    // shrinks it), so it always fits back in a u32.
    u32::try_from((padded - kernel) / u64::from(stride) + 1).ok()
}

impl Network {
    /// Infers every layer's shape, parameters and compute; the single place where the
    /// output-size and counting rules live.
    pub fn analyze(&self) -> Result<Analysis, ShapeError> {
        let input = self.input;
        if input.channels == 0 || input.height == 0 || input.width == 0 {
            return Err(ShapeError::EmptyInput { shape: input });
        }
        if self.classes == 0 {
            return Err(ShapeError::NoClasses);
        }
        let mut current = input;
        let mut layers = Vec::with_capacity(self.layers.len());
        let mut params: u64 = 0;
        let mut macs: u64 = 0;
        for (index, layer) in self.layers.iter().enumerate() {
            let overflow = || ShapeError::Overflow { layer: index };
            let mut output = current;
            if let Some((kernel, stride, padding)) = layer.window() {
                if kernel.width == 0 || kernel.height == 0 {
                    return Err(ShapeError::ZeroKernel {
                        layer: index,
                        width: kernel.width,
                        height: kernel.height,
                    });
                }
                if stride == 0 {
                    return Err(ShapeError::ZeroStride { layer: index });
                }
                let too_large = || ShapeError::KernelLargerThanInput {
                    layer: index,
                    kernel_width: kernel.width,
                    kernel_height: kernel.height,
                    input_width: current.width,
                    input_height: current.height,
                };
                output.width = out_extent(current.width, kernel.width, stride, padding)
                    .ok_or_else(too_large)?;
                output.height = out_extent(current.height, kernel.height, stride, padding)
                    .ok_or_else(too_large)?;
            }
            let (layer_params, layer_macs) = match *layer {
                Layer::Conv {
                    kernel,
                    out_channels,
                    ..
                } => {
                    if out_channels == 0 {
                        return Err(ShapeError::ZeroChannels { layer: index });
                    }
                    output.channels = out_channels;
                    let window = u64::from(kernel.width) * u64::from(kernel.height);
                    let weights = window
                        .checked_mul(u64::from(current.channels))
                        .and_then(|w| w.checked_mul(u64::from(out_channels)))
                        .ok_or_else(overflow)?;
                    let positions = u64::from(output.width) * u64::from(output.height);
                    let layer_macs = weights.checked_mul(positions).ok_or_else(overflow)?;
                    let layer_params = weights
                        .checked_add(u64::from(out_channels))
                        .ok_or_else(overflow)?;
                    (layer_params, layer_macs)
                }
                Layer::BatchNorm => (2 * u64::from(current.channels), 0),
                _ => (0, 0),
            };
            params = params.checked_add(layer_params).ok_or_else(overflow)?;
            macs = macs.checked_add(layer_macs).ok_or_else(overflow)?;
            layers.push(LayerShape {
                input: current,
                output,
                params: layer_params,
                macs: layer_macs,
            });
            current = output;
        }
        let head = u64::from(current.channels) * u64::from(self.classes);
        // The head is not a layer of its own; an overflow there is blamed on the last body
        // layer (the one feeding the head), which only huge layers can cause: with no body
        // layers, C*classes + classes < 2^64 for any u32 values.
        let head_overflow = || ShapeError::Overflow {
            layer: self.layers.len().saturating_sub(1),
        };
        let params = params
            .checked_add(head)
            .and_then(|p| p.checked_add(u64::from(self.classes)))
            .ok_or_else(head_overflow)?;
        let macs = macs.checked_add(head).ok_or_else(head_overflow)?;
        Ok(Analysis {
            layers,
            features: current,
            params,
            macs,
        })
    }
}

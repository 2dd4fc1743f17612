//! IR -> tch: builds a trainable libtorch module from a [`Network`], exactly as the specs
//! say (same padding with PyTorch's rule for even kernels, -inf / zero padding for max /
//! average pooling, the protocol's initialisation, the global-average-pool + linear head).

use peephole_ir::{Layer, Network, Padding, ShapeError};
use tch::Tensor;
use tch::nn::{self, ModuleT};

/// Parameter-path group of the body layers: body layer `i`'s variables are
/// `layers.{i}.weight` and so on; the ONNX writer and tests use the same names.
pub const LAYERS_PATH: &str = "layers";

/// Parameter-path prefix of the classifier head.
pub const HEAD_PATH: &str = "head";

/// Explicit padding `[left, right, top, bottom]` of a windowed layer.
fn pads(kernel: peephole_ir::Kernel, padding: Padding) -> [i64; 4] {
    let (left, right) = padding.before_after(kernel.width);
    let (top, bottom) = padding.before_after(kernel.height);
    [left.into(), right.into(), top.into(), bottom.into()]
}

/// One compiled body layer.
#[derive(Debug)]
enum Compiled {
    Conv {
        conv: nn::Conv2D,
        pads: [i64; 4],
    },
    MaxPool {
        kernel: [i64; 2],
        stride: i64,
        pads: [i64; 4],
    },
    AvgPool {
        kernel: [i64; 2],
        stride: i64,
        pads: [i64; 4],
    },
    Relu,
    Sigmoid,
    Tanh,
    BatchNorm(nn::BatchNorm),
}

/// A network compiled to tch, ready to train with any tch optimizer.
#[derive(Debug)]
pub struct TchNetwork {
    network: Network,
    layers: Vec<Compiled>,
    head: nn::Linear,
}

/// Pads symmetric cases through the op itself (faster) and asymmetric ones explicitly.
fn symmetric(pads: [i64; 4]) -> Option<[i64; 2]> {
    (pads[0] == pads[1] && pads[2] == pads[3]).then_some([pads[2], pads[0]])
}

impl TchNetwork {
    /// Creates the module's variables under `root` with the protocol's initialisation:
    /// convs Kaiming normal (fan_out, gain sqrt 2) with zero bias, BatchNorm weight 1 and
    /// bias 0, the head as PyTorch's `nn.Linear` default.
    pub fn new(root: &nn::Path, network: &Network) -> Result<Self, ShapeError> {
        let analysis = network.analyze()?;
        let conv_init = nn::Init::Kaiming {
            dist: nn::init::NormalOrUniform::Normal,
            fan: nn::init::FanInOut::FanOut,
            non_linearity: nn::init::NonLinearity::ReLU,
        };
        let layers = network
            .layers
            .iter()
            .zip(&analysis.layers)
            .enumerate()
            .map(|(index, (layer, shape))| {
                let path = root / LAYERS_PATH / index;
                match *layer {
                    Layer::Conv {
                        kernel,
                        out_channels,
                        stride,
                        padding,
                    } => {
                        let pads = pads(kernel, padding);
                        let config = nn::ConvConfigND::<[i64; 2]> {
                            stride: [stride.into(), stride.into()],
                            padding: symmetric(pads).unwrap_or([0, 0]),
                            dilation: [1, 1],
                            groups: 1,
                            bias: true,
                            ws_init: conv_init,
                            bs_init: nn::Init::Const(0.0),
                            padding_mode: nn::PaddingMode::Zeros,
                        };
                        let conv = nn::conv(
                            path,
                            shape.input.channels.into(),
                            out_channels.into(),
                            [kernel.height.into(), kernel.width.into()],
                            config,
                        );
                        Compiled::Conv { conv, pads }
                    }
                    Layer::MaxPool {
                        kernel,
                        stride,
                        padding,
                    } => Compiled::MaxPool {
                        kernel: [kernel.height.into(), kernel.width.into()],
                        stride: stride.into(),
                        pads: pads(kernel, padding),
                    },
                    Layer::AvgPool {
                        kernel,
                        stride,
                        padding,
                    } => Compiled::AvgPool {
                        kernel: [kernel.height.into(), kernel.width.into()],
                        stride: stride.into(),
                        pads: pads(kernel, padding),
                    },
                    Layer::Relu => Compiled::Relu,
                    Layer::Sigmoid => Compiled::Sigmoid,
                    Layer::Tanh => Compiled::Tanh,
                    Layer::BatchNorm => Compiled::BatchNorm(nn::batch_norm2d(
                        path,
                        shape.input.channels.into(),
                        nn::BatchNormConfig {
                            ws_init: nn::Init::Const(1.0),
                            bs_init: nn::Init::Const(0.0),
                            momentum: 0.1,
                            eps: 1e-5,
                            ..Default::default()
                        },
                    )),
                }
            })
            .collect();
        let features = i64::from(analysis.features.channels);
        let bound = 1.0 / (features as f64).sqrt();
        let head = nn::linear(
            root / HEAD_PATH,
            features,
            network.classes.into(),
            nn::LinearConfig {
                ws_init: nn::Init::Uniform {
                    lo: -bound,
                    up: bound,
                },
                bs_init: Some(nn::Init::Uniform {
                    lo: -bound,
                    up: bound,
                }),
                bias: true,
            },
        );
        Ok(TchNetwork {
            network: network.clone(),
            layers,
            head,
        })
    }

    /// The network this module was compiled from.
    pub fn network(&self) -> &Network {
        &self.network
    }
}

impl ModuleT for TchNetwork {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let mut x = xs.shallow_clone();
        for layer in &self.layers {
            x = match layer {
                Compiled::Conv { conv, pads } => {
                    if symmetric(*pads).is_some() {
                        x.apply(conv)
                    } else {
                        x.constant_pad_nd(pads.as_slice()).apply(conv)
                    }
                }
                Compiled::MaxPool {
                    kernel,
                    stride,
                    pads,
                } => match symmetric(*pads) {
                    // PyTorch's own max-pool padding is -inf and allows at most half the kernel,
                    // which same padding of an odd kernel never exceeds.
                    Some(p) => {
                        x.max_pool2d(kernel.as_slice(), [*stride, *stride], p, [1, 1], false)
                    }
                    None => x
                        .pad(pads.as_slice(), "constant", f64::NEG_INFINITY)
                        .max_pool2d(kernel.as_slice(), [*stride, *stride], [0, 0], [1, 1], false),
                },
                Compiled::AvgPool {
                    kernel,
                    stride,
                    pads,
                } => match symmetric(*pads) {
                    Some(p) => {
                        x.avg_pool2d(kernel.as_slice(), [*stride, *stride], p, false, true, None)
                    }
                    None => x.constant_pad_nd(pads.as_slice()).avg_pool2d(
                        kernel.as_slice(),
                        [*stride, *stride],
                        [0, 0],
                        false,
                        true,
                        None,
                    ),
                },
                Compiled::Relu => x.relu(),
                Compiled::Sigmoid => x.sigmoid(),
                Compiled::Tanh => x.tanh(),
                Compiled::BatchNorm(bn) => x.apply_t(bn, train),
            };
        }
        x.mean_dim([2i64, 3].as_slice(), false, tch::Kind::Float)
            .apply(&self.head)
    }
}

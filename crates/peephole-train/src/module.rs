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

/// The trained parameters of one body layer; what the layer does is its [`Layer`], so the IR
/// stays the one description of a layer and this holds only what libtorch adds to it.
#[derive(Debug)]
enum Parameters {
    /// Pools and activations have none.
    None,
    /// A conv's weight and bias.
    Conv(nn::Conv2D),
    /// A BatchNorm's scale, shift and running statistics.
    BatchNorm(nn::BatchNorm),
}

/// `[height, width]` of a kernel, as tch's ops take it.
fn extent(kernel: peephole_ir::Kernel) -> [i64; 2] {
    [kernel.height.into(), kernel.width.into()]
}

/// A network compiled to tch, ready to train with any tch optimizer.
#[derive(Debug)]
pub struct TchNetwork {
    network: Network,
    /// Body layer `i`'s parameters, beside `network.layers[i]`.
    parameters: Vec<Parameters>,
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
        let parameters = network
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
                        let config = nn::ConvConfigND::<[i64; 2]> {
                            stride: [stride.into(), stride.into()],
                            padding: symmetric(pads(kernel, padding)).unwrap_or([0, 0]),
                            dilation: [1, 1],
                            groups: 1,
                            bias: true,
                            ws_init: conv_init,
                            bs_init: nn::Init::Const(0.0),
                            padding_mode: nn::PaddingMode::Zeros,
                        };
                        Parameters::Conv(nn::conv(
                            path,
                            shape.input.channels.into(),
                            out_channels.into(),
                            extent(kernel),
                            config,
                        ))
                    }
                    Layer::BatchNorm => Parameters::BatchNorm(nn::batch_norm2d(
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
                    Layer::MaxPool { .. }
                    | Layer::AvgPool { .. }
                    | Layer::Relu
                    | Layer::Sigmoid
                    | Layer::Tanh => Parameters::None,
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
            parameters,
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
        for (layer, parameters) in self.network.layers.iter().zip(&self.parameters) {
            x = match (*layer, parameters) {
                (
                    Layer::Conv {
                        kernel, padding, ..
                    },
                    Parameters::Conv(conv),
                ) => {
                    let pads = pads(kernel, padding);
                    if symmetric(pads).is_some() {
                        x.apply(conv)
                    } else {
                        x.constant_pad_nd(pads.as_slice()).apply(conv)
                    }
                }
                (
                    Layer::MaxPool {
                        kernel,
                        stride,
                        padding,
                    },
                    _,
                ) => {
                    let (kernel, stride, pads) =
                        (extent(kernel), i64::from(stride), pads(kernel, padding));
                    match symmetric(pads) {
                        // PyTorch's own max-pool padding is -inf and allows at most half the
                        // kernel, which same padding of an odd kernel never exceeds.
                        Some(p) => x.max_pool2d(kernel, [stride, stride], p, [1, 1], false),
                        None => x
                            .pad(pads.as_slice(), "constant", f64::NEG_INFINITY)
                            .max_pool2d(kernel, [stride, stride], [0, 0], [1, 1], false),
                    }
                }
                (
                    Layer::AvgPool {
                        kernel,
                        stride,
                        padding,
                    },
                    _,
                ) => {
                    let (kernel, stride, pads) =
                        (extent(kernel), i64::from(stride), pads(kernel, padding));
                    match symmetric(pads) {
                        Some(p) => x.avg_pool2d(kernel, [stride, stride], p, false, true, None),
                        None => x.constant_pad_nd(pads.as_slice()).avg_pool2d(
                            kernel,
                            [stride, stride],
                            [0, 0],
                            false,
                            true,
                            None,
                        ),
                    }
                }
                (Layer::Relu, _) => x.relu(),
                (Layer::Sigmoid, _) => x.sigmoid(),
                (Layer::Tanh, _) => x.tanh(),
                (Layer::BatchNorm, Parameters::BatchNorm(bn)) => x.apply_t(bn, train),
                // `new` gives a conv and a BatchNorm their parameters and nothing else any.
                (Layer::Conv { .. } | Layer::BatchNorm, _) => {
                    unreachable!("layer {layer:?} was compiled without its parameters")
                }
            };
        }
        x.mean_dim([2i64, 3].as_slice(), false, tch::Kind::Float)
            .apply(&self.head)
    }
}

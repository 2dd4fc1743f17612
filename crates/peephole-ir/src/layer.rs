//! Layer vocabulary of the architecture IR: the closed set of layers Peephole can reason about.

use serde::{Deserialize, Serialize};

/// A rectangular kernel; kept as two numbers because users may declare asymmetric kernels and
/// ULC codes width and height separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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

/// `WxH`, as both the text form (`conv3x1`) and declarations (`conv(3x1, 8)`) write a kernel.
impl std::fmt::Display for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

/// How a windowed layer pads its input, because the output size and the trained numbers
/// depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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

    /// The word both syntaxes use for this rule (`@same`, `padding = same`).
    pub const fn word(self) -> &'static str {
        match self {
            Padding::Same => "same",
            Padding::Valid => "valid",
        }
    }

    /// The rule a word names; the inverse of [`Padding::word`].
    pub fn from_word(word: &str) -> Option<Padding> {
        [Padding::Same, Padding::Valid]
            .into_iter()
            .find(|padding| padding.word() == word)
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

    /// True for the layers that slide a window (conv and the pools): they take a kernel, a
    /// stride and a padding, and are built by [`Layer::windowed`].
    pub const fn is_windowed(self) -> bool {
        matches!(
            self,
            LayerKind::Conv | LayerKind::MaxPool | LayerKind::AvgPool
        )
    }

    /// This kind's row of [`VOCABULARY`]: every name it goes by.
    pub const fn names(self) -> &'static KindNames {
        // `ALL` and `VOCABULARY` are in declaration order (a test checks both).
        &VOCABULARY[self as usize]
    }

    /// The word the text form, declarations and messages use for this kind.
    pub const fn word(self) -> &'static str {
        self.names().word
    }

    /// The kind a word names; the inverse of [`LayerKind::word`].
    pub fn from_word(word: &str) -> Option<LayerKind> {
        LayerKind::ALL.into_iter().find(|kind| kind.word() == word)
    }

    /// The kind another framework's name (or our word in another case, with underscores)
    /// stands for, for "did you mean" suggestions: `Conv2d`, `batch_norm`, `MaxPool2D`.
    pub fn from_alias(name: &str) -> Option<LayerKind> {
        let name = name.to_lowercase().replace('_', "");
        VOCABULARY
            .iter()
            .find(|row| row.word == name || row.aliases.contains(&name.as_str()))
            .map(|row| row.kind)
    }

    /// Every word in [`LayerKind::ALL`]'s order joined for a message, as in `conv, maxpool,
    /// ..., tanh or bn` (`last` is the word before the final one: "or", "and").
    pub fn word_list(last: &str) -> String {
        let [rest @ .., final_word] = LayerKind::ALL.map(LayerKind::word);
        format!("{} {last} {final_word}", rest.join(", "))
    }
}

/// Every name one layer kind goes by: the one vocabulary table that the text form, the
/// declaration syntax's suggestions, ULC's type codes, the ONNX exporter and the PyTorch
/// benchmark read (the fuzz dictionary and the PyTorch script are checked against it by tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindNames {
    /// The kind.
    pub kind: LayerKind,
    /// The word of the text form, declarations and messages (`maxpool`).
    pub word: &'static str,
    /// Other frameworks' names, lower case without underscores (`maxpool2d`): a declaration
    /// that writes one gets "did you mean" the word.
    pub aliases: &'static [&'static str],
    /// ULC v1's type code (the TY field, 1-based).
    pub ulc_type: u8,
    /// The ONNX operator an exported network uses for it.
    pub onnx_op: &'static str,
    /// PyTorch's module for it, as ported code and the PyTorch benchmark write it.
    pub pytorch: &'static str,
}

/// The layer vocabulary, one row per kind in [`LayerKind::ALL`]'s order.
pub const VOCABULARY: [KindNames; 7] = [
    KindNames {
        kind: LayerKind::Conv,
        word: "conv",
        aliases: &["conv2d", "convolution"],
        ulc_type: 1,
        onnx_op: "Conv",
        pytorch: "nn.Conv2d",
    },
    KindNames {
        kind: LayerKind::MaxPool,
        word: "maxpool",
        aliases: &["maxpool2d", "pool"],
        ulc_type: 2,
        onnx_op: "MaxPool",
        pytorch: "nn.MaxPool2d",
    },
    KindNames {
        kind: LayerKind::AvgPool,
        word: "avgpool",
        aliases: &["avgpool2d", "averagepool", "averagepool2d"],
        ulc_type: 3,
        onnx_op: "AveragePool",
        pytorch: "nn.AvgPool2d",
    },
    KindNames {
        kind: LayerKind::Relu,
        word: "relu",
        aliases: &[],
        ulc_type: 4,
        onnx_op: "Relu",
        pytorch: "nn.ReLU",
    },
    KindNames {
        kind: LayerKind::Sigmoid,
        word: "sigmoid",
        aliases: &[],
        ulc_type: 5,
        onnx_op: "Sigmoid",
        pytorch: "nn.Sigmoid",
    },
    KindNames {
        kind: LayerKind::Tanh,
        word: "tanh",
        aliases: &[],
        ulc_type: 6,
        onnx_op: "Tanh",
        pytorch: "nn.Tanh",
    },
    KindNames {
        kind: LayerKind::BatchNorm,
        word: "bn",
        aliases: &["batchnorm", "batchnorm2d", "batchnormalization", "bn2d"],
        ulc_type: 7,
        onnx_op: "BatchNormalization",
        pytorch: "nn.BatchNorm2d",
    },
];

/// One layer of a sequential CNN with every hyper-parameter needed to build and train it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    /// The one constructor of a windowed layer from its kind, shared by every syntax that
    /// names layers by word. `out_channels` is the conv's (a pool has none and ignores it).
    /// `None` for a point-wise kind, or for a conv without channels.
    pub const fn windowed(
        kind: LayerKind,
        kernel: Kernel,
        stride: u32,
        padding: Padding,
        out_channels: Option<u32>,
    ) -> Option<Self> {
        match (kind, out_channels) {
            (LayerKind::Conv, Some(out_channels)) => Some(Layer::Conv {
                kernel,
                out_channels,
                stride,
                padding,
            }),
            (LayerKind::MaxPool, _) => Some(Layer::MaxPool {
                kernel,
                stride,
                padding,
            }),
            (LayerKind::AvgPool, _) => Some(Layer::AvgPool {
                kernel,
                stride,
                padding,
            }),
            _ => None,
        }
    }

    /// The layer of a point-wise kind, which has no hyper-parameters; `None` for a windowed
    /// kind.
    pub const fn pointwise(kind: LayerKind) -> Option<Self> {
        match kind {
            LayerKind::Relu => Some(Layer::Relu),
            LayerKind::Sigmoid => Some(Layer::Sigmoid),
            LayerKind::Tanh => Some(Layer::Tanh),
            LayerKind::BatchNorm => Some(Layer::BatchNorm),
            LayerKind::Conv | LayerKind::MaxPool | LayerKind::AvgPool => None,
        }
    }

    /// The output channels of a conv; `None` for every other layer (they keep their input's).
    pub const fn out_channels(&self) -> Option<u32> {
        match *self {
            Layer::Conv { out_channels, .. } => Some(out_channels),
            _ => None,
        }
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_and_padding_word_reads_back_and_nothing_else_does() {
        for kind in LayerKind::ALL {
            assert_eq!(LayerKind::from_word(kind.word()), Some(kind));
        }
        for padding in [Padding::Same, Padding::Valid] {
            assert_eq!(Padding::from_word(padding.word()), Some(padding));
        }
        for word in ["", "Conv", "conv2d", "dropout", "batchnorm", " relu"] {
            assert_eq!(LayerKind::from_word(word), None, "{word:?}");
        }
        assert_eq!(Padding::from_word("Same"), None);
        assert_eq!(
            LayerKind::word_list("or"),
            "conv, maxpool, avgpool, relu, sigmoid, tanh or bn"
        );
    }

    #[test]
    fn the_vocabulary_has_one_row_per_kind_in_order_and_no_name_twice() {
        assert_eq!(VOCABULARY.map(|row| row.kind), LayerKind::ALL);
        for (index, kind) in LayerKind::ALL.into_iter().enumerate() {
            assert_eq!(
                kind as usize, index,
                "names() indexes VOCABULARY by discriminant"
            );
            assert_eq!(kind.names().kind, kind);
            assert_eq!(
                usize::from(kind.names().ulc_type),
                index + 1,
                "TY is 1-based"
            );
        }
        let mut names: Vec<&str> = VOCABULARY
            .iter()
            .flat_map(|row| std::iter::once(row.word).chain(row.aliases.iter().copied()))
            .collect();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "a name stands for one kind");
        for row in VOCABULARY {
            for alias in row.aliases {
                assert_eq!(
                    alias.to_lowercase().replace('_', ""),
                    *alias,
                    "stored normalised"
                );
            }
        }
    }

    #[test]
    fn other_frameworks_names_and_other_cases_read_as_aliases() {
        for (name, kind) in [
            ("Conv2d", LayerKind::Conv),
            ("batch_norm", LayerKind::BatchNorm),
            ("BatchNorm2d", LayerKind::BatchNorm),
            ("MaxPool2D", LayerKind::MaxPool),
            ("AveragePool", LayerKind::AvgPool),
            ("ReLU", LayerKind::Relu),
            ("max_pool", LayerKind::MaxPool),
        ] {
            assert_eq!(LayerKind::from_alias(name), Some(kind), "{name}");
        }
        for name in ["dropout", "linear", "Conv1d", ""] {
            assert_eq!(LayerKind::from_alias(name), None, "{name}");
        }
    }

    #[test]
    fn every_kind_is_built_by_exactly_one_constructor_and_keeps_its_kind() {
        let kernel = Kernel {
            width: 3,
            height: 1,
        };
        for kind in LayerKind::ALL {
            let windowed = Layer::windowed(kind, kernel, 2, Padding::Same, Some(8));
            let pointwise = Layer::pointwise(kind);
            assert_eq!(windowed.is_some(), kind.is_windowed(), "{kind:?}");
            assert_eq!(pointwise.is_some(), !kind.is_windowed(), "{kind:?}");
            let layer = windowed.or(pointwise).expect("one of them builds it");
            assert_eq!(layer.kind(), kind);
            if kind.is_windowed() {
                assert_eq!(layer.window(), Some((kernel, 2, Padding::Same)));
            }
        }
        assert_eq!(
            Layer::windowed(LayerKind::Conv, kernel, 1, Padding::Same, None),
            None
        );
        assert_eq!(
            Layer::windowed(LayerKind::Conv, kernel, 1, Padding::Same, Some(8))
                .and_then(|l| l.out_channels()),
            Some(8)
        );
    }

    /// The macro writes a layer as `Layer::<its kind's Debug name>`, which relies on the two
    /// enums naming their variants alike.
    #[test]
    fn layer_variants_are_named_after_their_kinds() {
        for kind in LayerKind::ALL {
            let layer = Layer::windowed(kind, Kernel::square(3), 1, Padding::Same, Some(4))
                .or(Layer::pointwise(kind))
                .expect("every kind builds");
            let debug = format!("{layer:?}");
            let variant = debug.split([' ', '{']).next().unwrap_or_default();
            assert_eq!(variant, format!("{kind:?}"));
        }
    }
}

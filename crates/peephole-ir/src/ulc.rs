//! Unified Layer Code, version 1 (`shared/spec/ulc.md`): the lossy integer encoding of a
//! network's layers that the predictor reads.
//!
//! The table lives here once; the macro, the generator, the trainer and the docs refer to it.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{Analysis, LayerKind, Network, ShapeError};

/// Name of this encoding, stored in zoo records, model cards and models so that mixing
/// versions is caught.
pub const ULC_VERSION: &str = "ulc-v1";

/// Centres of the channel-ratio bins, index 1..=8, in quarters (0.25 = 1, ..., 3.0 = 12) so
/// binning is exact integer arithmetic. The generator draws its ratios from the same table.
pub const CHANNEL_RATIO_QUARTERS: [u32; 8] = [1, 2, 3, 4, 6, 8, 10, 12];

/// Smallest and largest kernel extent a conv code can hold.
pub const CONV_KERNEL_RANGE: (u32, u32) = (1, 5);
/// Smallest and largest kernel extent a pool code can hold.
pub const POOL_KERNEL_RANGE: (u32, u32) = (2, 5);

/// Number of distinct values per field including the padding index 0; the predictor's
/// embedding tables have exactly these sizes.
pub const TYPE_VOCAB: usize = 8;
/// See [`TYPE_VOCAB`].
pub const KERNEL_VOCAB: usize = 6;
/// See [`TYPE_VOCAB`].
pub const CHANNEL_VOCAB: usize = 9;

/// A bin of the output/input channel ratio of a conv (1..=8); index 4 is ratio 1.0, which
/// every non-conv layer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ChannelRatioBin(u8);

impl ChannelRatioBin {
    /// The bin of ratio 1.0, used by every layer that keeps its channels.
    pub const IDENTITY: ChannelRatioBin = ChannelRatioBin(4);

    /// Bins the ratio `out / in` exactly: clamp to [0.25, 3.0], nearest centre, ties to the
    /// lower index. Returns the bin and whether the ratio was clamped.
    pub fn of_channels(in_channels: u32, out_channels: u32) -> (ChannelRatioBin, bool) {
        // Compare |4*out - q*in| for each centre q/4: exact, no floating-point ties.
        let four_out = 4 * u64::from(out_channels);
        let input = u64::from(in_channels);
        let low = u64::from(CHANNEL_RATIO_QUARTERS[0]) * input;
        let high = u64::from(CHANNEL_RATIO_QUARTERS[7]) * input;
        let clamped = four_out < low || four_out > high;
        let mut best = 0usize;
        let mut best_distance = u64::MAX;
        for (index, &quarters) in CHANNEL_RATIO_QUARTERS.iter().enumerate() {
            let distance = (u64::from(quarters) * input).abs_diff(four_out);
            if distance < best_distance {
                best = index;
                best_distance = distance;
            }
        }
        (ChannelRatioBin(best as u8 + 1), clamped)
    }

    /// Builds a bin from its index, rejecting values outside 1..=8.
    pub fn from_index(index: u8) -> Option<Self> {
        (1..=8).contains(&index).then_some(ChannelRatioBin(index))
    }

    /// The bin index, 1..=8.
    pub const fn index(self) -> u8 {
        self.0
    }

    /// The centre ratio of this bin.
    pub fn centre(self) -> f64 {
        f64::from(CHANNEL_RATIO_QUARTERS[usize::from(self.0) - 1]) / 4.0
    }
}

/// The TY value of a layer kind (1..=7), from the spec's table as the vocabulary
/// ([`crate::VOCABULARY`]) holds it.
pub const fn type_code(kind: LayerKind) -> u8 {
    kind.names().ulc_type
}

/// The layer kind of a TY value, `None` for 0 (padding) and unknown values.
pub fn kind_of_type_code(code: u8) -> Option<LayerKind> {
    LayerKind::ALL
        .into_iter()
        .find(|&kind| type_code(kind) == code)
}

/// One layer's code `(TY, KW, KH, CH)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct UlcCode {
    /// Layer type, 1..=7.
    pub ty: u8,
    /// Kernel width code.
    pub kw: u8,
    /// Kernel height code.
    pub kh: u8,
    /// Channel-ratio bin, 1..=8.
    pub ch: u8,
}

impl UlcCode {
    /// The code as the array the predictor's input tensor takes.
    pub const fn fields(self) -> [u8; 4] {
        [self.ty, self.kw, self.kh, self.ch]
    }
}

/// Which field of a code a clamp changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum UlcField {
    /// Kernel width.
    KernelWidth,
    /// Kernel height.
    KernelHeight,
    /// Channel ratio.
    ChannelRatio,
}

/// A value that did not fit the table and was clamped for the code (the network keeps its
/// real value); reported because the spec forbids hiding a clamp.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Clamp {
    /// Index of the layer in the network.
    pub layer: usize,
    /// Field that was clamped.
    pub field: UlcField,
    /// The real value (a kernel extent, or the channel ratio).
    pub actual: f64,
    /// The value the code represents instead.
    pub coded: f64,
}

impl std::fmt::Display for Clamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.field {
            UlcField::KernelWidth => "kernel width",
            UlcField::KernelHeight => "kernel height",
            UlcField::ChannelRatio => "channel ratio",
        };
        write!(
            f,
            "layer {}: {what} {} is outside ULC v1's range and is coded as {}",
            self.layer, self.actual, self.coded
        )
    }
}

/// A network's code sequence together with every clamp made while encoding it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UlcEncoding {
    /// One code per body layer (the head is not coded).
    pub codes: Vec<UlcCode>,
    /// Clamps, in layer order.
    pub clamps: Vec<Clamp>,
}

fn clamp_kernel(
    layer: usize,
    field: UlcField,
    value: u32,
    (low, high): (u32, u32),
    clamps: &mut Vec<Clamp>,
) -> u8 {
    let coded = value.clamp(low, high);
    if coded != value {
        clamps.push(Clamp {
            layer,
            field,
            actual: f64::from(value),
            coded: f64::from(coded),
        });
    }
    coded as u8
}

/// Encodes a network; fails only when the network itself is invalid (the channel ratio
/// needs shape inference).
pub fn encode(network: &Network) -> Result<UlcEncoding, ShapeError> {
    Ok(encode_analyzed(network, &network.analyze()?))
}

/// [`encode`] from the network's shape analysis, for callers that need the analysis for
/// other inputs too (the predictor's layer features) and so run it once.
pub fn encode_analyzed(network: &Network, analysis: &Analysis) -> UlcEncoding {
    let mut clamps = Vec::new();
    let codes = network
        .layers
        .iter()
        .zip(&analysis.layers)
        .enumerate()
        .map(|(index, (layer, shape))| {
            let kind = layer.kind();
            let (kw, kh) = match layer.window() {
                Some((kernel, _, _)) => {
                    let range = if kind == LayerKind::Conv {
                        CONV_KERNEL_RANGE
                    } else {
                        POOL_KERNEL_RANGE
                    };
                    (
                        clamp_kernel(
                            index,
                            UlcField::KernelWidth,
                            kernel.width,
                            range,
                            &mut clamps,
                        ),
                        clamp_kernel(
                            index,
                            UlcField::KernelHeight,
                            kernel.height,
                            range,
                            &mut clamps,
                        ),
                    )
                }
                None => (1, 1),
            };
            let ch = if kind == LayerKind::Conv {
                let (bin, clamped) =
                    ChannelRatioBin::of_channels(shape.input.channels, shape.output.channels);
                if clamped {
                    clamps.push(Clamp {
                        layer: index,
                        field: UlcField::ChannelRatio,
                        actual: f64::from(shape.output.channels) / f64::from(shape.input.channels),
                        coded: bin.centre(),
                    });
                }
                bin
            } else {
                ChannelRatioBin::IDENTITY
            };
            UlcCode {
                ty: type_code(kind),
                kw,
                kh,
                ch: ch.index(),
            }
        })
        .collect();
    UlcEncoding { codes, clamps }
}

/// Why a sequence of integers is not a valid ULC v1 sequence.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UlcDecodeError {
    /// A field holds a value the table does not have.
    #[error("code {position}: {field} = {value} is not a valid ULC v1 value ({expected})")]
    BadField {
        /// Index of the code in the sequence.
        position: usize,
        /// Field name (TY, KW, KH, CH).
        field: &'static str,
        /// The value found.
        value: u8,
        /// What the table allows for this layer type.
        expected: &'static str,
    },
    /// The flat integer list does not split into groups of four.
    #[error("a ULC sequence has 4 integers per layer, got {len} integers")]
    Ragged {
        /// Number of integers given.
        len: usize,
    },
}

/// Checks that every code is one the encoder could produce and returns the layer kinds; the
/// predictor uses it to reject hostile input before it reaches an embedding table.
pub fn validate(codes: &[UlcCode]) -> Result<Vec<LayerKind>, UlcDecodeError> {
    codes
        .iter()
        .enumerate()
        .map(|(position, code)| {
            let bad = |field, value, expected| UlcDecodeError::BadField {
                position,
                field,
                value,
                expected,
            };
            let kind = kind_of_type_code(code.ty).ok_or(bad("TY", code.ty, "1..=7"))?;
            match kind {
                LayerKind::Conv => {
                    for (field, value) in [("KW", code.kw), ("KH", code.kh)] {
                        if !(1..=5).contains(&value) {
                            return Err(bad(field, value, "1..=5 for a conv"));
                        }
                    }
                    if ChannelRatioBin::from_index(code.ch).is_none() {
                        return Err(bad("CH", code.ch, "1..=8 for a conv"));
                    }
                }
                LayerKind::MaxPool | LayerKind::AvgPool => {
                    for (field, value) in [("KW", code.kw), ("KH", code.kh)] {
                        if !(2..=5).contains(&value) {
                            return Err(bad(field, value, "2..=5 for a pool"));
                        }
                    }
                    if code.ch != ChannelRatioBin::IDENTITY.index() {
                        return Err(bad("CH", code.ch, "4 for a pool"));
                    }
                }
                _ => {
                    for (field, value) in [("KW", code.kw), ("KH", code.kh)] {
                        if value != 1 {
                            return Err(bad(field, value, "1 for a point-wise layer"));
                        }
                    }
                    if code.ch != ChannelRatioBin::IDENTITY.index() {
                        return Err(bad("CH", code.ch, "4 for a point-wise layer"));
                    }
                }
            }
            Ok(kind)
        })
        .collect()
}

/// Splits a flat `[TY, KW, KH, CH, TY, ...]` list into codes and validates them.
pub fn decode_flat(values: &[u8]) -> Result<Vec<UlcCode>, UlcDecodeError> {
    if !values.len().is_multiple_of(4) {
        return Err(UlcDecodeError::Ragged { len: values.len() });
    }
    let codes: Vec<UlcCode> = values
        .chunks_exact(4)
        .map(|c| UlcCode {
            ty: c[0],
            kw: c[1],
            kh: c[2],
            ch: c[3],
        })
        .collect();
    validate(&codes)?;
    Ok(codes)
}

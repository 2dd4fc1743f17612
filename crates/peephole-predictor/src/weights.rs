//! The predictor's weights as plain arrays: the one description of a trained Peephole model
//! that the tch trainer fills, the ONNX exporter writes and a native scorer can run.

use serde::{Deserialize, Serialize};

use peephole_ir::layer_features::FEATURE_COUNT;

/// Width of each embedding (layer type, kernel size, channel ratio, epoch), as in the paper.
pub const EMBEDDING_DIM: usize = 40;
/// Input width of the LSTM: four embedded fields per layer (KW and KH share one table).
pub const LAYER_FEATURES: usize = 4 * EMBEDDING_DIM;
/// LSTM hidden units, as in the paper.
pub const LSTM_HIDDEN: usize = 160;
/// Width of the MLP's hidden layers, as in the paper.
pub const MLP_WIDTH: usize = 200;

/// A dense row-major matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Matrix {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// `rows * cols` values, row-major.
    pub data: Vec<f32>,
}

impl Matrix {
    /// A matrix from row-major data, or `None` when the length does not match.
    pub fn new(rows: usize, cols: usize, data: Vec<f32>) -> Option<Self> {
        (rows.checked_mul(cols) == Some(data.len())).then_some(Matrix { rows, cols, data })
    }

    /// One row.
    pub fn row(&self, index: usize) -> &[f32] {
        &self.data[index * self.cols..(index + 1) * self.cols]
    }
}

/// A linear layer `y = W x + b` with `W` of shape `out x in` (PyTorch's layout).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Linear {
    /// Weight, `out x in`.
    pub weight: Matrix,
    /// Bias, `out`.
    pub bias: Vec<f32>,
}

/// One ensemble member in inference form (BatchNorm already folded into the linear layers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberWeights {
    /// Layer-type table, `TYPE_VOCAB x 40`.
    pub type_embedding: Matrix,
    /// Kernel-size table shared by KW and KH, `KERNEL_VOCAB x 40`.
    pub kernel_embedding: Matrix,
    /// Channel-ratio table, `CHANNEL_VOCAB x 40`.
    pub channel_embedding: Matrix,
    /// LSTM input weights, `4H x 160`, gates in PyTorch order i, f, g, o.
    pub lstm_w_ih: Matrix,
    /// LSTM recurrent weights, `4H x H`, gates i, f, g, o.
    pub lstm_w_hh: Matrix,
    /// LSTM input weights of the layer features (`peephole_ir::layer_features`), `4H x 7`, gates
    /// i, f, g, o: the columns of `W_ih` that follow the four embedded fields in a model
    /// fitted with `layer-features-v1`. `None` for a model that reads the ULC codes alone (the
    /// paper's), which is every model predictor format v1 can hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lstm_w_features: Option<Matrix>,
    /// LSTM input bias, `4H`.
    pub lstm_b_ih: Vec<f32>,
    /// LSTM recurrent bias, `4H`.
    pub lstm_b_hh: Vec<f32>,
    /// Epoch table, `(epochs + 1) x 40` (row 0 unused).
    pub epoch_embedding: Matrix,
    /// The MLP: two hidden layers (ReLU after each) and the output layer.
    pub mlp: [Linear; 3],
}

/// A whole predictor: the ensemble and the scaling of its output to an accuracy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictorWeights {
    /// Ensemble members; the prediction is their mean, the spread their standard deviation.
    pub members: Vec<MemberWeights>,
    /// Accuracy = raw output * `target_std` + `target_mean`.
    pub target_mean: f32,
    /// See `target_mean`.
    pub target_std: f32,
}

impl PredictorWeights {
    /// Whether the members read `layer-features-v1` rows beside the ULC codes: such a model
    /// must be given every layer's features, or it scores a network it was not fitted to see.
    pub fn reads_layer_features(&self) -> bool {
        self.members.iter().any(|m| m.lstm_w_features.is_some())
    }
}

/// Why an ONNX file could not be read back into [`PredictorWeights`].
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    /// The bytes are not an ONNX model.
    #[error("predictor weights from {source_name}: not an ONNX model ({reason})")]
    NotOnnx {
        /// Where the bytes came from.
        source_name: String,
        /// The decoder's message.
        reason: String,
    },
    /// An ONNX model, but not a Peephole predictor of the format this build reads.
    #[error("predictor weights from {source_name}: {reason}")]
    NotPredictor {
        /// Where the bytes came from.
        source_name: String,
        /// What is missing or different.
        reason: String,
    },
    /// An initializer the exporter always writes is absent.
    #[error("predictor weights from {source_name}: initializer `{name}` is missing")]
    MissingInitializer {
        /// Where the bytes came from.
        source_name: String,
        /// The initializer's name.
        name: String,
    },
    /// An initializer holds something other than inline f32 data.
    #[error("predictor weights from {source_name}: initializer `{name}` {reason}")]
    BadInitializer {
        /// Where the bytes came from.
        source_name: String,
        /// The initializer's name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An initializer's shape does not fit the rest of the member.
    #[error(
        "predictor weights from {source_name}: initializer `{name}` has shape {found:?}, expected {expected}"
    )]
    Shape {
        /// Where the bytes came from.
        source_name: String,
        /// The initializer's name.
        name: String,
        /// Its dims.
        found: Vec<i64>,
        /// What fits.
        expected: String,
    },
    /// Members disagree on the output scaling the exporter writes identically into each.
    #[error(
        "predictor weights from {source_name}: member {member} scales its output by ({mean}, {std}), member 0 by ({first_mean}, {first_std})"
    )]
    InconsistentScale {
        /// Where the bytes came from.
        source_name: String,
        /// The disagreeing member.
        member: usize,
        /// Its target mean.
        mean: f32,
        /// Its target std.
        std: f32,
        /// Member 0's target mean.
        first_mean: f32,
        /// Member 0's target std.
        first_std: f32,
    },
}

/// ONNX's LSTM gate blocks `[i; o; f; c]` back to PyTorch's `[i; f; g; o]`: the inverse of
/// the exporter's reorder (`peephole-onnx`'s `onnx_gate_order`).
fn torch_gate_order(rows: &[f32]) -> Vec<f32> {
    let block = rows.len() / 4;
    let gate = |g: usize| &rows[g * block..(g + 1) * block];
    [gate(0), gate(2), gate(3), gate(1)].concat()
}

/// The initializers of one decoded model, by name, with the error context to read them.
struct Initializers<'a> {
    source_name: &'a str,
    tensors: std::collections::HashMap<&'a str, &'a peephole_onnx_proto::TensorProto>,
}

impl Initializers<'_> {
    fn has(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// The dims and f32 values of `name`, checked against `expected` dims.
    fn read(&self, name: &str, expected: &[usize]) -> Result<Vec<f32>, WeightsError> {
        let source_name = self.source_name.to_string();
        let tensor = self
            .tensors
            .get(name)
            .ok_or_else(|| WeightsError::MissingInitializer {
                source_name: source_name.clone(),
                name: name.into(),
            })?;
        let bad = |reason: String| WeightsError::BadInitializer {
            source_name: source_name.clone(),
            name: name.into(),
            reason,
        };
        if tensor.data_type != peephole_onnx_proto::tensor_proto::DataType::Float as i32 {
            return Err(bad(format!(
                "has ONNX data type {}, not float",
                tensor.data_type
            )));
        }
        if !tensor.external_data.is_empty() || tensor.data_location == Some(1) {
            return Err(bad("keeps its data in an external file".into()));
        }
        let dims_match = tensor.dims.len() == expected.len()
            && tensor
                .dims
                .iter()
                .zip(expected)
                .all(|(&d, &e)| usize::try_from(d) == Ok(e));
        if !dims_match {
            return Err(WeightsError::Shape {
                source_name,
                name: name.into(),
                found: tensor.dims.clone(),
                expected: format!("{expected:?}"),
            });
        }
        let count: usize = expected.iter().product();
        let values: Vec<f32> = if tensor.raw_data.is_empty() {
            tensor.float_data.clone()
        } else {
            tensor
                .raw_data
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        };
        if values.len() != count
            || (!tensor.raw_data.is_empty() && tensor.raw_data.len() != 4 * count)
        {
            return Err(bad(format!(
                "holds {} values for {count} elements",
                values.len()
            )));
        }
        Ok(values)
    }

    /// The dims of `name`, for tensors whose extent the file decides (vocabularies, widths).
    fn dims(&self, name: &str) -> Result<Vec<usize>, WeightsError> {
        let tensor = self
            .tensors
            .get(name)
            .ok_or_else(|| WeightsError::MissingInitializer {
                source_name: self.source_name.to_string(),
                name: name.into(),
            })?;
        tensor
            .dims
            .iter()
            .map(|&d| usize::try_from(d))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| WeightsError::Shape {
                source_name: self.source_name.to_string(),
                name: name.into(),
                found: tensor.dims.clone(),
                expected: "non-negative dims".into(),
            })
    }

    /// A `rows x cols` matrix whose row count the file decides and whose width is `cols`.
    fn matrix(&self, name: &str, cols: usize) -> Result<Matrix, WeightsError> {
        let dims = self.dims(name)?;
        let rows = match dims.as_slice() {
            [rows, c] if *c == cols && *rows > 0 => *rows,
            _ => {
                return Err(WeightsError::Shape {
                    source_name: self.source_name.to_string(),
                    name: name.into(),
                    found: dims.iter().map(|&d| d as i64).collect(),
                    expected: format!("[rows, {cols}]"),
                });
            }
        };
        let data = self.read(name, &[rows, cols])?;
        Ok(Matrix { rows, cols, data })
    }

    /// A Gemm layer `{prefix}.weight` (`out x in`) and `{prefix}.bias`; `out` is decided by
    /// the file unless given.
    fn linear(
        &self,
        prefix: &str,
        inputs: usize,
        outputs: Option<usize>,
    ) -> Result<Linear, WeightsError> {
        let name = format!("{prefix}.weight");
        let weight = self.matrix(&name, inputs)?;
        if let Some(out) = outputs
            && weight.rows != out
        {
            return Err(WeightsError::Shape {
                source_name: self.source_name.to_string(),
                name,
                found: vec![weight.rows as i64, weight.cols as i64],
                expected: format!("[{out}, {inputs}]"),
            });
        }
        let bias = self.read(&format!("{prefix}.bias"), &[weight.rows])?;
        Ok(Linear { weight, bias })
    }

    fn scalar(&self, name: &str) -> Result<f32, WeightsError> {
        Ok(self.read(name, &[1])?[0])
    }
}

impl PredictorWeights {
    /// Reads the weights back out of a model written by `peephole-onnx`'s
    /// `export_predictor`, so the native scorers run exactly the model that tract and
    /// onnxruntime run (one file, no side-car weights). `source_name` names the bytes in
    /// errors.
    ///
    /// Member `i`'s tensors are the initializers `m{i}.*`; the LSTM's gates are put back in
    /// PyTorch order and its bias `[b_ih; b_hh]` split; the output scaling (`m{i}.mean`,
    /// `m{i}.std`) must be the same in every member.
    pub fn from_onnx_bytes(bytes: &[u8], source_name: &str) -> Result<Self, WeightsError> {
        use prost::Message;

        if bytes.len() > super::format::MAX_MODEL_BYTES {
            return Err(WeightsError::NotPredictor {
                source_name: source_name.to_string(),
                reason: format!("{} bytes is larger than any predictor", bytes.len()),
            });
        }
        let proto =
            peephole_onnx_proto::ModelProto::decode(bytes).map_err(|e| WeightsError::NotOnnx {
                source_name: source_name.to_string(),
                reason: e.to_string(),
            })?;
        Self::from_model_proto(&proto, source_name)
    }

    /// [`PredictorWeights::from_onnx_bytes`] on an already decoded model, so a caller that
    /// has decoded it (`Predictor`) does not decode it again.
    pub fn from_model_proto(
        proto: &peephole_onnx_proto::ModelProto,
        source_name: &str,
    ) -> Result<Self, WeightsError> {
        let name = source_name.to_string();
        let not_predictor = |reason: String| WeightsError::NotPredictor {
            source_name: name.clone(),
            reason,
        };
        let format = proto
            .metadata_props
            .iter()
            .find(|p| p.key == super::format::META_FORMAT)
            .map(|p| p.value.as_str());
        let format = format.ok_or_else(|| {
            not_predictor(format!(
                "no `{}` metadata: not a Peephole predictor",
                super::format::META_FORMAT
            ))
        })?;
        let reads_features = super::format::reads_layer_features(format).ok_or_else(|| {
            not_predictor(format!(
                "format {format}, this build reads {} and {}",
                super::format::PREDICTOR_FORMAT,
                super::format::PREDICTOR_FORMAT_V2
            ))
        })?;
        // v2 is v1 with the layer-feature columns after the four fields in `W`.
        let feature_columns = if reads_features { FEATURE_COUNT } else { 0 };
        let graph = proto
            .graph
            .as_ref()
            .ok_or_else(|| not_predictor("the model has no graph".into()))?;
        let init = Initializers {
            source_name,
            tensors: graph
                .initializer
                .iter()
                .map(|t| (t.name.as_str(), t))
                .collect(),
        };
        let mut members = Vec::new();
        let mut scale: Option<(f32, f32)> = None;
        while init.has(&format!("m{}.lstm.W", members.len())) {
            let index = members.len();
            let p = format!("m{index}");
            let type_embedding = init.matrix(&format!("{p}.type_embedding"), EMBEDDING_DIM)?;
            let kernel_embedding = init.matrix(&format!("{p}.kernel_embedding"), EMBEDDING_DIM)?;
            let channel_embedding =
                init.matrix(&format!("{p}.channel_embedding"), EMBEDDING_DIM)?;
            let epoch_embedding = init.matrix(&format!("{p}.epoch_embedding"), EMBEDDING_DIM)?;
            let gates = 4 * LSTM_HIDDEN;
            let input_width = LAYER_FEATURES + feature_columns;
            let w = torch_gate_order(&init.read(&format!("{p}.lstm.W"), &[1, gates, input_width])?);
            let columns = |range: std::ops::Range<usize>| -> Vec<f32> {
                w.chunks_exact(input_width)
                    .flat_map(|row| row[range.clone()].iter().copied())
                    .collect()
            };
            let r = init.read(&format!("{p}.lstm.R"), &[1, gates, LSTM_HIDDEN])?;
            let b = init.read(&format!("{p}.lstm.B"), &[1, 2 * gates])?;
            let mlp_in = LSTM_HIDDEN + EMBEDDING_DIM;
            let hidden1 = init.linear(&format!("{p}.hidden1"), mlp_in, None)?;
            let hidden2 = init.linear(&format!("{p}.hidden2"), hidden1.weight.rows, None)?;
            let output = init.linear(&format!("{p}.output"), hidden2.weight.rows, Some(1))?;
            let member_scale = (
                init.scalar(&format!("{p}.mean"))?,
                init.scalar(&format!("{p}.std"))?,
            );
            match scale {
                None => scale = Some(member_scale),
                Some(first)
                    if first.0.to_bits() != member_scale.0.to_bits()
                        || first.1.to_bits() != member_scale.1.to_bits() =>
                {
                    return Err(WeightsError::InconsistentScale {
                        source_name: name,
                        member: index,
                        mean: member_scale.0,
                        std: member_scale.1,
                        first_mean: first.0,
                        first_std: first.1,
                    });
                }
                Some(_) => {}
            }
            members.push(MemberWeights {
                type_embedding,
                kernel_embedding,
                channel_embedding,
                lstm_w_ih: Matrix {
                    rows: gates,
                    cols: LAYER_FEATURES,
                    data: columns(0..LAYER_FEATURES),
                },
                lstm_w_hh: Matrix {
                    rows: gates,
                    cols: LSTM_HIDDEN,
                    data: torch_gate_order(&r),
                },
                lstm_w_features: (feature_columns > 0).then(|| Matrix {
                    rows: gates,
                    cols: feature_columns,
                    data: columns(LAYER_FEATURES..input_width),
                }),
                lstm_b_ih: torch_gate_order(&b[..gates]),
                lstm_b_hh: torch_gate_order(&b[gates..]),
                epoch_embedding,
                mlp: [hidden1, hidden2, output],
            });
        }
        let (target_mean, target_std) = scale.ok_or_else(|| WeightsError::MissingInitializer {
            source_name: name.clone(),
            name: "m0.lstm.W".into(),
        })?;
        Ok(PredictorWeights {
            members,
            target_mean,
            target_std,
        })
    }
}

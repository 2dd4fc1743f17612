//! The predictor's weights as plain arrays: the one description of a trained Peephole model
//! that the tch trainer fills, the ONNX exporter writes and a native scorer can run.

use serde::{Deserialize, Serialize};

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

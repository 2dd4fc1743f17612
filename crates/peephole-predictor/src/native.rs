//! A plain-Rust forward pass over [`PredictorWeights`]: the reference every exported model is
//! checked against, and the base of the fast batch scorer.

use super::weights::{LSTM_HIDDEN, Linear, Matrix, MemberWeights, PredictorWeights};
use peephole_ir::layer_features::FeatureRow;
use peephole_ir::ulc::UlcCode;

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// `out += W x` for a row-major `W`.
fn matvec_add(matrix: &Matrix, x: &[f32], out: &mut [f32]) {
    for (row, o) in out.iter_mut().enumerate().take(matrix.rows) {
        let weights = matrix.row(row);
        *o += weights.iter().zip(x).map(|(w, v)| w * v).sum::<f32>();
    }
}

fn linear(layer: &Linear, x: &[f32]) -> Vec<f32> {
    let mut out = layer.bias.clone();
    matvec_add(&layer.weight, x, &mut out);
    out
}

/// The structural feature: the LSTM's hidden state after the last layer.
///
/// `features` holds one `layer-features-v1` row per code; a member fitted without them
/// ignores it, a member fitted with them reads row `t` at layer `t` (see [`predict`]).
pub fn member_structure(
    member: &MemberWeights,
    codes: &[UlcCode],
    features: &[FeatureRow],
) -> Vec<f32> {
    let hidden = LSTM_HIDDEN;
    let mut h = vec![0.0f32; hidden];
    let mut c = vec![0.0f32; hidden];
    let mut input = Vec::with_capacity(member.lstm_w_ih.cols);
    for (t, code) in codes.iter().enumerate() {
        input.clear();
        input.extend_from_slice(member.type_embedding.row(usize::from(code.ty)));
        input.extend_from_slice(member.kernel_embedding.row(usize::from(code.kw)));
        input.extend_from_slice(member.kernel_embedding.row(usize::from(code.kh)));
        input.extend_from_slice(member.channel_embedding.row(usize::from(code.ch)));
        let mut gates: Vec<f32> = member
            .lstm_b_ih
            .iter()
            .zip(&member.lstm_b_hh)
            .map(|(a, b)| a + b)
            .collect();
        matvec_add(&member.lstm_w_ih, &input, &mut gates);
        if let (Some(weights), Some(row)) = (&member.lstm_w_features, features.get(t)) {
            matvec_add(weights, row, &mut gates);
        }
        matvec_add(&member.lstm_w_hh, &h, &mut gates);
        for j in 0..hidden {
            let i = sigmoid(gates[j]);
            let f = sigmoid(gates[hidden + j]);
            let g = gates[2 * hidden + j].tanh();
            let o = sigmoid(gates[3 * hidden + j]);
            c[j] = f * c[j] + i * g;
            h[j] = o * c[j].tanh();
        }
    }
    h
}

/// One member's raw (scaled) output for a structure feature and an epoch.
pub fn member_head(member: &MemberWeights, structure: &[f32], epoch: u32) -> f32 {
    let mut x = structure.to_vec();
    x.extend_from_slice(member.epoch_embedding.row(epoch as usize));
    let relu = |v: Vec<f32>| v.into_iter().map(|a| a.max(0.0)).collect::<Vec<_>>();
    let x = relu(linear(&member.mlp[0], &x));
    let x = relu(linear(&member.mlp[1], &x));
    linear(&member.mlp[2], &x)[0]
}

/// Mean and (population) standard deviation of the members' predicted accuracies.
///
/// The caller validates codes and epoch first (see `ulc::validate`); out-of-table indices
/// would index past an embedding table. `features` are the network's `layer-features-v1`
/// rows (`peephole_ir::layer_features::layer_features`), one per code, for a model fitted with them
/// ([`PredictorWeights::reads_layer_features`]); a model of the ULC codes alone ignores them,
/// so `&[]` serves it.
pub fn predict(
    weights: &PredictorWeights,
    codes: &[UlcCode],
    features: &[FeatureRow],
    epoch: u32,
) -> (f64, f64) {
    let outputs: Vec<f64> = weights
        .members
        .iter()
        .map(|member| {
            let structure = member_structure(member, codes, features);
            f64::from(
                member_head(member, &structure, epoch) * weights.target_std + weights.target_mean,
            )
        })
        .collect();
    mean_and_spread(&outputs)
}

/// Mean and population standard deviation; the ONNX export computes the same.
pub fn mean_and_spread(values: &[f64]) -> (f64, f64) {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, variance.sqrt())
}

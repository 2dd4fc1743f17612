//! The Peephole model in tch, as the paper describes it: per-layer embeddings of the ULC
//! fields, an LSTM over the layers, an epoch embedding, and an MLP regressor.

use peephole_ir::layer_features::FEATURE_COUNT;
use peephole_ir::ulc::{CHANNEL_VOCAB, KERNEL_VOCAB, TYPE_VOCAB};
use peephole_predictor::{
    EMBEDDING_DIM, LAYER_FEATURES, LSTM_HIDDEN, Linear, MLP_WIDTH, Matrix, MemberWeights,
};
use tch::nn;
use tch::{Kind, Tensor};

/// Epsilon of the MLP's BatchNorm layers (tch's and PyTorch's default), needed to fold them.
const BATCH_NORM_EPS: f64 = 1e-5;

/// One ensemble member.
#[derive(Debug)]
pub struct PeepholeNet {
    type_embedding: nn::Embedding,
    kernel_embedding: nn::Embedding,
    channel_embedding: nn::Embedding,
    /// Input weights, `4H x 160` for the four embedded ULC fields, `4H x 167` when the
    /// member also reads `layer-features-v1` rows (their columns last).
    w_ih: Tensor,
    reads_layer_features: bool,
    w_hh: Tensor,
    b_ih: Tensor,
    b_hh: Tensor,
    epoch_embedding: nn::Embedding,
    hidden1: nn::Linear,
    norm1: nn::BatchNorm,
    hidden2: nn::Linear,
    norm2: nn::BatchNorm,
    output: nn::Linear,
}

/// A batch of encoded networks: codes `B x L x 4` (right-padded with 0), true lengths `B`,
/// and the 1-based epoch to predict `B`.
#[derive(Debug)]
pub struct PredictorBatch {
    /// ULC codes, int64.
    pub codes: Tensor,
    /// `layer-features-v1` rows `B x L x 7`, float (right-padded with 0), for members that
    /// read them; `None` otherwise.
    pub features: Option<Tensor>,
    /// Sequence lengths, int64.
    pub lengths: Tensor,
    /// Epochs, int64.
    pub epochs: Tensor,
}

impl PeepholeNet {
    /// Creates a member with PyTorch's default initialisations; with `reads_layer_features`
    /// its LSTM also reads a `layer-features-v1` row per layer beside the embedded codes.
    pub fn new(root: &nn::Path, epochs: u32, reads_layer_features: bool) -> Self {
        let embed = |name: &str, vocab: usize| {
            nn::embedding(
                root / name,
                vocab as i64,
                EMBEDDING_DIM as i64,
                Default::default(),
            )
        };
        let hidden = LSTM_HIDDEN as i64;
        let bound = 1.0 / (hidden as f64).sqrt();
        let uniform = nn::Init::Uniform {
            lo: -bound,
            up: bound,
        };
        let lstm = root / "lstm";
        let linear = |name: &str, input: usize, output: usize| {
            nn::linear(root / name, input as i64, output as i64, Default::default())
        };
        let norm = |name: &str| nn::batch_norm1d(root / name, MLP_WIDTH as i64, Default::default());
        PeepholeNet {
            type_embedding: embed("type_embedding", TYPE_VOCAB),
            kernel_embedding: embed("kernel_embedding", KERNEL_VOCAB),
            channel_embedding: embed("channel_embedding", CHANNEL_VOCAB),
            w_ih: lstm.var(
                "w_ih",
                &[4 * hidden, input_width(reads_layer_features) as i64],
                uniform,
            ),
            reads_layer_features,
            w_hh: lstm.var("w_hh", &[4 * hidden, hidden], uniform),
            b_ih: lstm.var("b_ih", &[4 * hidden], uniform),
            b_hh: lstm.var("b_hh", &[4 * hidden], uniform),
            epoch_embedding: embed("epoch_embedding", epochs as usize + 1),
            hidden1: linear("hidden1", LSTM_HIDDEN + EMBEDDING_DIM, MLP_WIDTH),
            norm1: norm("norm1"),
            hidden2: linear("hidden2", MLP_WIDTH, MLP_WIDTH),
            norm2: norm("norm2"),
            output: linear("output", MLP_WIDTH, 1),
        }
    }

    /// Per-layer LSTM input `B x L x 160`: the four embedded fields, concatenated; then the
    /// `layer-features-v1` rows (`B x L x 167`) for a member that reads them.
    fn layer_input(&self, codes: &Tensor, features: Option<&Tensor>) -> Tensor {
        let field = |i: i64| codes.select(2, i);
        let mut parts = vec![
            field(0).apply(&self.type_embedding),
            field(1).apply(&self.kernel_embedding),
            field(2).apply(&self.kernel_embedding),
            field(3).apply(&self.channel_embedding),
        ];
        if self.reads_layer_features {
            let features = features.expect(
                "a member that reads layer features is given them (the batch builder encodes them)",
            );
            parts.push(features.shallow_clone());
        }
        Tensor::cat(&parts, 2)
    }

    /// The LSTM's hidden state after each network's last layer, `B x 160`. Padded steps do
    /// not change the state, so a batch of mixed lengths predicts what one-by-one would.
    pub fn structure(&self, codes: &Tensor, features: Option<&Tensor>, lengths: &Tensor) -> Tensor {
        let features = self.layer_input(codes, features);
        let (batch, steps) = (features.size()[0], features.size()[1]);
        let options = (Kind::Float, features.device());
        let mut h = Tensor::zeros([batch, LSTM_HIDDEN as i64], options);
        let mut c = Tensor::zeros([batch, LSTM_HIDDEN as i64], options);
        let input_part = features.matmul(&self.w_ih.tr()) + &self.b_ih + &self.b_hh;
        for t in 0..steps {
            let gates = input_part.select(1, t) + h.matmul(&self.w_hh.tr());
            let chunks = gates.chunk(4, 1);
            let (i, f, g, o) = (
                chunks[0].sigmoid(),
                chunks[1].sigmoid(),
                chunks[2].tanh(),
                chunks[3].sigmoid(),
            );
            let c_next = &f * &c + &i * &g;
            let h_next = &o * c_next.tanh();
            let active = lengths.gt(t).unsqueeze(1);
            c = c_next.where_self(&active, &c);
            h = h_next.where_self(&active, &h);
        }
        h
    }

    /// Predicted (scaled) accuracy, `B`.
    pub fn forward(&self, batch: &PredictorBatch, train: bool) -> Tensor {
        self.regress(
            &self.structure(&batch.codes, batch.features.as_ref(), &batch.lengths),
            &batch.epochs,
            train,
        )
    }

    /// Predicted (scaled) accuracy from structural features `B x 160` and epochs `B`: the
    /// part after the LSTM, on its own so that training on whole curves can run the LSTM
    /// once per network and reuse its features for every epoch of that network.
    pub fn regress(&self, structure: &Tensor, epochs: &Tensor, train: bool) -> Tensor {
        let epoch = epochs.apply(&self.epoch_embedding);
        Tensor::cat(&[structure, &epoch], 1)
            .apply(&self.hidden1)
            .apply_t(&self.norm1, train)
            .relu()
            .apply(&self.hidden2)
            .apply_t(&self.norm2, train)
            .relu()
            .apply(&self.output)
            .squeeze_dim(1)
    }

    /// The member in inference form: BatchNorm folded into the linear layer before it.
    pub fn to_weights(&self) -> MemberWeights {
        let _guard = tch::no_grad_guard();
        let codes_part = self.w_ih.narrow(1, 0, LAYER_FEATURES as i64);
        let features_part = self.reads_layer_features.then(|| {
            matrix(
                &self
                    .w_ih
                    .narrow(1, LAYER_FEATURES as i64, FEATURE_COUNT as i64),
            )
        });
        MemberWeights {
            type_embedding: matrix(&self.type_embedding.ws),
            kernel_embedding: matrix(&self.kernel_embedding.ws),
            channel_embedding: matrix(&self.channel_embedding.ws),
            lstm_w_ih: matrix(&codes_part),
            lstm_w_features: features_part,
            lstm_w_hh: matrix(&self.w_hh),
            lstm_b_ih: vector(&self.b_ih),
            lstm_b_hh: vector(&self.b_hh),
            epoch_embedding: matrix(&self.epoch_embedding.ws),
            mlp: [
                fold(&self.hidden1, &self.norm1),
                fold(&self.hidden2, &self.norm2),
                Linear {
                    weight: matrix(&self.output.ws),
                    bias: self
                        .output
                        .bs
                        .as_ref()
                        .map(vector)
                        .unwrap_or_else(|| vec![0.0]),
                },
            ],
        }
    }
}

/// Width of the LSTM's input: the four embedded fields, plus the layer features when read.
fn input_width(reads_layer_features: bool) -> usize {
    LAYER_FEATURES
        + if reads_layer_features {
            FEATURE_COUNT
        } else {
            0
        }
}

fn vector(tensor: &Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(
        tensor
            .to_kind(Kind::Float)
            .to_device(tch::Device::Cpu)
            .flatten(0, -1),
    )
    .unwrap_or_default()
}

fn matrix(tensor: &Tensor) -> Matrix {
    let size = tensor.size();
    Matrix {
        rows: size[0] as usize,
        cols: size[1] as usize,
        data: vector(tensor),
    }
}

/// `BN(W x + b)` in eval mode equals `(s W) x + s (b - mean) + beta` with
/// `s = gamma / sqrt(var + eps)`.
fn fold(linear: &nn::Linear, norm: &nn::BatchNorm) -> Linear {
    let scale = norm
        .ws
        .as_ref()
        .map(|g| g.shallow_clone())
        .unwrap_or_else(|| norm.running_var.ones_like())
        / (&norm.running_var + BATCH_NORM_EPS).sqrt();
    let beta = norm
        .bs
        .as_ref()
        .map(|b| b.shallow_clone())
        .unwrap_or_else(|| norm.running_mean.zeros_like());
    let weight = &linear.ws * scale.unsqueeze(1);
    let bias = linear
        .bs
        .as_ref()
        .map(|b| b.shallow_clone())
        .unwrap_or_else(|| scale.zeros_like());
    let bias = (bias - &norm.running_mean) * &scale + beta;
    Linear {
        weight: matrix(&weight),
        bias: vector(&bias),
    }
}

//! The Peephole predictor at inference: a model file (ONNX) and its card read and screened,
//! networks scored by the native scorers (tract-onnx as a second engine behind the `tract`
//! feature), and the verdict with its edit advice that the lint and `cargo peephole` report.

mod card;
pub mod edits;
pub mod fast;
pub mod format;
mod length_batch;
pub mod native;
mod runtime;
pub mod screen;
pub mod verdict;
mod weights;

pub use card::{
    CardError, CardFileError, MAX_CARD_BYTES, MAX_EPOCHS, MethodMetrics, ModelCard,
    PREDICTOR_FORMAT, Ranges, Report, SplitFileRef, SplitInfo, ZooFileInfo,
};
pub use fast::{FastScorer, FastScorerError, Score, ScoreStats, SimdLevel};
pub use format::{MAX_MODEL_BYTES, MAX_SEQUENCE, META_CARD, META_FORMAT, ULC_ONLY_MODEL_PATH};
pub use length_batch::{LengthBatch, length_batches};
pub use runtime::{EMBEDDED_MODEL, Prediction, Predictor, PredictorError, RangeNote};
pub use weights::WeightsError;
pub use weights::{
    EMBEDDING_DIM, LAYER_FEATURES, LSTM_HIDDEN, Linear, MLP_WIDTH, Matrix, MemberWeights,
    PredictorWeights,
};

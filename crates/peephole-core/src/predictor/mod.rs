//! The Peephole predictor: its weights, its model card, and inference on ULC sequences.

pub mod advice;
mod card;
pub mod fast;
pub mod format;
mod length_batch;
pub mod native;
mod runtime;
pub mod screen;
mod weights;

pub use card::{
    CardError, CardFileError, MAX_CARD_BYTES, MAX_EPOCHS, MethodMetrics, ModelCard,
    PREDICTOR_FORMAT, Ranges, SplitFileRef, SplitInfo, ZooFileInfo,
};
pub use fast::{FastScorer, FastScorerError, Score, ScoreStats, SimdLevel};
pub use format::{MAX_MODEL_BYTES, META_CARD, META_FORMAT, ULC_ONLY_MODEL_PATH};
pub use length_batch::{LengthBatch, length_batches};
pub use runtime::{EMBEDDED_MODEL, MAX_SEQUENCE, Prediction, Predictor, PredictorError, RangeNote};
pub use weights::WeightsError;
pub use weights::{
    EMBEDDING_DIM, LAYER_FEATURES, LSTM_HIDDEN, Linear, MLP_WIDTH, Matrix, MemberWeights,
    PredictorWeights,
};

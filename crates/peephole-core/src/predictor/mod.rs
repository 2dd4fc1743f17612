//! The Peephole predictor: its weights, its model card, and inference on ULC sequences.

pub mod advice;
mod card;
pub mod native;
mod runtime;
mod weights;

pub use card::{MethodMetrics, ModelCard, PREDICTOR_FORMAT, Ranges, SplitInfo, ZooFileInfo};
pub use weights::{
    EMBEDDING_DIM, LAYER_FEATURES, LSTM_HIDDEN, Linear, MLP_WIDTH, Matrix, MemberWeights, PredictorWeights,
};
pub use runtime::{EMBEDDED_MODEL, MAX_MODEL_BYTES, MAX_SEQUENCE, META_CARD, META_FORMAT, Prediction, Predictor, PredictorError, RangeNote};

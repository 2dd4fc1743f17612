//! Peephole's pure-Rust core: the architecture IR, the Unified Layer Code, the block
//! generator, metrics, the zoo record format, the training-protocol definitions and predictor
//! inference. No libtorch and no native library here, so the build-time lint stays cheap.

pub mod generator;
pub mod ir;
pub mod layer_features;
pub mod lint;
pub mod metrics;
pub mod predictor;
pub mod protocol;
pub mod reference;
pub mod text;
pub mod ulc;
pub mod zoo;

pub use ir::{Analysis, Kernel, Layer, LayerKind, Network, Padding, Shape, ShapeError};

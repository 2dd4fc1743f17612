//! The network IR of Peephole: the one description of a sequential CNN that the declaration
//! macro, the generators, the encoder, the lints, the predictor and the trainer all share.
//!
//! - [`Layer`], [`Network`], [`Shape`]: layers, shape inference, parameters and MACs.
//! - [`text`]: the one-line text form every message, record and command line uses.
//! - [`ulc`]: the Unified Layer Code, the predictor's input encoding.
//! - [`layer_features`]: the raw per-layer numbers a feature-reading predictor sees beside ULC.
//! - [`protocol`]: the named training protocols a predicted accuracy refers to.
//!
//! Pure Rust with serde and thiserror only: every user's build compiles it under the lint.

mod layer;
pub mod layer_features;
mod network;
pub mod protocol;
pub mod text;
pub mod ulc;

pub use layer::{Kernel, KindNames, Layer, LayerKind, Padding, VOCABULARY};
pub use network::{Analysis, LayerShape, Network, Shape, ShapeError};

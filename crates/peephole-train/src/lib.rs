//! Peephole's libtorch side: compiles IR networks to tch modules, trains them under a
//! protocol, builds the zoo, and exports ONNX.

pub mod bench;
pub mod data;
pub mod export;
pub mod module;
pub mod predictor;
pub mod train;
pub mod zoo;

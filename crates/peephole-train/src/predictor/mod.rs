//! The Peephole predictor on the libtorch side: the model, its training on a zoo, and the
//! conversion to the plain weights that the ONNX exporter and native scorers read.

pub mod build;
pub mod model;
pub mod train;

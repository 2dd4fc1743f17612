//! Peephole's one ONNX writer: a small graph builder over the ONNX protobuf types of
//! `peephole-onnx-proto`, and the export of a trained [`peephole_ir::Network`].
//!
//! The format lives apart from the algorithms (core) and from libtorch (train): a trained
//! network reaches this crate as plain named `f32` tensors through [`WeightSource`], and the
//! predictor exporter reuses [`OnnxGraph`] for its LSTM.

mod error;
mod graph;
mod network;
pub mod predictor;

pub use error::OnnxError;
pub use graph::{Attribute, Dim, ElemType, IR_VERSION, Node, OPSET, OnnxGraph, PRODUCER_NAME};
pub use network::{
    BATCH_DIM, BATCH_NORM_EPSILON, HEAD_PATH, INPUT_NAME, LAYERS_PATH, METADATA_KIND,
    METADATA_NETWORK, NETWORK_KIND, OUTPUT_NAME, Weight, WeightSource, WeightSpec, export_network,
    network_graph, weight_specs,
};

/// The ONNX protobuf types (`peephole-onnx-proto`), re-exported so callers can inspect a
/// model through the crate that wrote it.
pub use peephole_onnx_proto as pb;

//! Why an ONNX model could not be built or written; every variant names the value, node,
//! weight or file at fault so the message alone says what to fix.

use std::path::PathBuf;

use peephole_ir::ShapeError;
use thiserror::Error;

/// Everything that can go wrong while building, exporting or writing an ONNX model.
#[derive(Debug, Error)]
pub enum OnnxError {
    /// ONNX graphs are in SSA form: a second definition would make a reader pick one silently.
    #[error("ONNX value `{name}` is defined twice (graph input, initializer or node output)")]
    DuplicateValue {
        /// The value name defined twice.
        name: String,
    },
    /// Nodes must come in topological order, so every input has to exist already.
    #[error(
        "ONNX node `{node}` ({op_type}) reads `{input}`, which no graph input, initializer or earlier node defines"
    )]
    UndefinedInput {
        /// The node's name (its op type when it has none).
        node: String,
        /// The node's operator.
        op_type: String,
        /// The value it reads.
        input: String,
    },
    /// A graph output must be something the graph computes or holds.
    #[error("ONNX graph output `{name}` is not defined by any input, initializer or node")]
    UndefinedOutput {
        /// The output name.
        name: String,
    },
    /// Readers keep one of two same-named attributes, and which one is not specified.
    #[error("ONNX node `{node}` ({op_type}) sets attribute `{attribute}` twice")]
    DuplicateAttribute {
        /// The node's name (its op type when it has none).
        node: String,
        /// The node's operator.
        op_type: String,
        /// The attribute set twice.
        attribute: String,
    },
    /// Metadata is a map; a second value for a key would shadow the first.
    #[error("ONNX metadata key `{key}` is set twice")]
    DuplicateMetadata {
        /// The key.
        key: String,
    },
    /// The values of a tensor must fill its dims exactly.
    #[error("tensor `{name}`: dims {dims:?} hold {expected} values, but {found} were given")]
    TensorLength {
        /// The tensor (initializer or weight) name; empty for an unnamed weight.
        name: String,
        /// Its declared dims.
        dims: Vec<usize>,
        /// The product of the dims.
        expected: usize,
        /// How many values came.
        found: usize,
    },
    /// ONNX stores extents as int64.
    #[error("`{name}`: extent {extent} does not fit ONNX's int64")]
    ExtentOverflow {
        /// The value or tensor whose dims overflow.
        name: String,
        /// The offending extent.
        extent: usize,
    },
    /// A model-level precondition an exporter checks before building (an empty ensemble,
    /// a model card that does not serialize); `reason` says which.
    #[error("cannot build the ONNX model: {reason}")]
    Invalid {
        /// What is wrong, in words.
        reason: String,
    },
    /// The network itself is invalid, so there is no graph to export.
    #[error("cannot export network {network}: {source}")]
    Network {
        /// The network in the text form.
        network: String,
        /// What is wrong with it.
        source: ShapeError,
    },
    /// The weights given do not hold a tensor the network needs (wrong var store or path).
    #[error("weight `{name}` is missing from the weights given to the ONNX export")]
    MissingWeight {
        /// The var-store name of the weight.
        name: String,
    },
    /// The weights were trained for a different network (or the names are shifted).
    #[error("weight `{name}` has shape {found:?}, but the network needs {expected:?}")]
    WeightShape {
        /// The var-store name of the weight.
        name: String,
        /// Shape the network implies.
        expected: Vec<usize>,
        /// Shape the weights hold.
        found: Vec<usize>,
    },
    /// The model could not be written (the target is left untouched).
    #[error("could not write the ONNX model to {path}: {source}")]
    Write {
        /// The target path.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
}

//! A small, checked builder for ONNX graphs: the one place in the workspace that turns
//! names, nodes and `f32` tensors into an ONNX `ModelProto` and writes it.
//!
//! It checks what ONNX readers assume but do not always verify (SSA names, topological
//! order, tensor lengths), so a mistake fails here with a name instead of deep inside tract
//! or onnxruntime.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use peephole_onnx_proto as pb;
use prost::Message;

use crate::error::OnnxError;

/// The ONNX operator set every model is written against.
///
/// 17 is new enough for everything Peephole writes (Conv, pools, BatchNormalization in
/// inference form, Gemm, and LSTM-14 with its `layout` attribute) and old enough that both
/// tract 0.23 and onnxruntime 1.31 implement every op of it.
pub const OPSET: i64 = 17;

/// The ONNX IR version matching [`OPSET`] (opset 17 was released with IR version 8);
/// readers refuse IR versions older than the opset needs.
pub const IR_VERSION: i64 = 8;

/// `producer_name` of every model this crate writes, so a model file says where it came from.
pub const PRODUCER_NAME: &str = "peephole-onnx";

/// Element type of a graph input or output.
///
/// Only the types Peephole's models use; each maps to one ONNX `TensorProto.DataType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ElemType {
    /// 32-bit float: images, logits, predictor features.
    F32,
    /// 32-bit integer: ONNX LSTM's `sequence_lens`.
    I32,
    /// 64-bit integer: ULC codes fed to an embedding (`Gather` indices).
    I64,
}

impl ElemType {
    fn data_type(self) -> pb::tensor_proto::DataType {
        match self {
            ElemType::F32 => pb::tensor_proto::DataType::Float,
            ElemType::I32 => pb::tensor_proto::DataType::Int32,
            ElemType::I64 => pb::tensor_proto::DataType::Int64,
        }
    }
}

/// One extent of an input or output shape: fixed, or a named symbol (a dynamic batch) that
/// the runtime binds at inference time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Dim {
    /// A known extent.
    Fixed(usize),
    /// A symbolic extent; every use of the same name must bind to the same value.
    Symbolic(String),
}

impl From<usize> for Dim {
    fn from(extent: usize) -> Self {
        Dim::Fixed(extent)
    }
}

impl From<u32> for Dim {
    fn from(extent: u32) -> Self {
        // u32 always fits usize on the 32- and 64-bit targets Rust supports for this crate.
        Dim::Fixed(extent as usize)
    }
}

impl From<&str> for Dim {
    fn from(symbol: &str) -> Self {
        Dim::Symbolic(symbol.to_owned())
    }
}

/// A node attribute value; the variants are the ONNX attribute kinds Peephole's ops need.
#[derive(Debug, Clone, PartialEq)]
pub enum Attribute {
    /// `INT`: flags and counts (`group`, `transB`, `hidden_size`, `count_include_pad`).
    Int(i64),
    /// `FLOAT`: `epsilon`, `alpha`.
    Float(f32),
    /// `INTS`: kernel shapes, strides, pads.
    Ints(Vec<i64>),
    /// `FLOATS`: activation parameters.
    Floats(Vec<f32>),
    /// `STRING`: LSTM `direction`.
    String(String),
    /// `STRINGS`: LSTM `activations`.
    Strings(Vec<String>),
}

impl From<i64> for Attribute {
    fn from(value: i64) -> Self {
        Attribute::Int(value)
    }
}

impl From<f32> for Attribute {
    fn from(value: f32) -> Self {
        Attribute::Float(value)
    }
}

impl From<Vec<i64>> for Attribute {
    fn from(values: Vec<i64>) -> Self {
        Attribute::Ints(values)
    }
}

impl<const N: usize> From<[i64; N]> for Attribute {
    fn from(values: [i64; N]) -> Self {
        Attribute::Ints(values.to_vec())
    }
}

impl From<Vec<f32>> for Attribute {
    fn from(values: Vec<f32>) -> Self {
        Attribute::Floats(values)
    }
}

impl From<&str> for Attribute {
    fn from(value: &str) -> Self {
        Attribute::String(value.to_owned())
    }
}

impl From<Vec<String>> for Attribute {
    fn from(values: Vec<String>) -> Self {
        Attribute::Strings(values)
    }
}

impl Attribute {
    fn to_proto(&self, name: &str) -> pb::AttributeProto {
        use pb::attribute_proto::AttributeType;
        let mut proto = pb::AttributeProto {
            name: name.to_owned(),
            ..Default::default()
        };
        let kind = match self {
            Attribute::Int(value) => {
                proto.i = *value;
                AttributeType::Int
            }
            Attribute::Float(value) => {
                proto.f = *value;
                AttributeType::Float
            }
            Attribute::Ints(values) => {
                proto.ints = values.clone();
                AttributeType::Ints
            }
            Attribute::Floats(values) => {
                proto.floats = values.clone();
                AttributeType::Floats
            }
            Attribute::String(value) => {
                proto.s = value.as_bytes().to_vec();
                AttributeType::String
            }
            Attribute::Strings(values) => {
                proto.strings = values.iter().map(|s| s.as_bytes().to_vec()).collect();
                AttributeType::Strings
            }
        };
        proto.r#type = kind as i32;
        proto
    }
}

/// One operator application, built fluently and handed to [`OnnxGraph::add_node`], which
/// checks it against what the graph already defines.
///
/// For LSTM (the predictor's reader), note that ONNX orders the gates i, o, f, c in `W`, `R`
/// and `B`, while torch orders them i, f, g, o (g = the cell candidate, ONNX's c); and ONNX's
/// `B` is `concat(Wb, Rb)` = `concat(b_ih, b_hh)`, each reordered, with a leading
/// `num_directions` axis on `W`, `R` and `B`. The predictor exporter must permute the gate
/// blocks; this builder stores whatever it is given.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    op_type: String,
    name: String,
    inputs: Vec<String>,
    outputs: Vec<String>,
    attributes: Vec<(String, Attribute)>,
}

impl Node {
    /// A node of the standard-domain operator `op_type` (`"Conv"`, `"LSTM"`, ...), with no
    /// inputs, outputs or attributes yet.
    pub fn new(op_type: impl Into<String>) -> Self {
        Node {
            op_type: op_type.into(),
            name: String::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            attributes: Vec::new(),
        }
    }

    /// Names the node, so runtime errors and profiles point at the layer it came from.
    #[must_use]
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Appends one input; the empty string skips an optional input, as ONNX specifies.
    #[must_use]
    pub fn input(mut self, name: impl Into<String>) -> Self {
        self.inputs.push(name.into());
        self
    }

    /// Appends one output; the empty string skips an optional output.
    #[must_use]
    pub fn output(mut self, name: impl Into<String>) -> Self {
        self.outputs.push(name.into());
        self
    }

    /// Sets an attribute (a duplicate name is reported by [`OnnxGraph::add_node`]).
    #[must_use]
    pub fn attr(mut self, name: impl Into<String>, value: impl Into<Attribute>) -> Self {
        self.attributes.push((name.into(), value.into()));
        self
    }

    /// The operator, for messages and tests.
    pub fn op_type(&self) -> &str {
        &self.op_type
    }

    fn label(&self) -> String {
        if self.name.is_empty() {
            self.op_type.clone()
        } else {
            self.name.clone()
        }
    }

    fn to_proto(&self) -> pb::NodeProto {
        pb::NodeProto {
            input: self.inputs.clone(),
            output: self.outputs.clone(),
            name: self.name.clone(),
            op_type: self.op_type.clone(),
            attribute: self
                .attributes
                .iter()
                .map(|(name, value)| value.to_proto(name))
                .collect(),
            ..Default::default()
        }
    }
}

/// A typed graph input or output.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ValueInfo {
    name: String,
    elem_type: ElemType,
    dims: Vec<Dim>,
}

impl ValueInfo {
    fn to_proto(&self) -> Result<pb::ValueInfoProto, OnnxError> {
        use pb::tensor_shape_proto::{Dimension, dimension};
        let dim = self
            .dims
            .iter()
            .map(|dim| {
                let value = match dim {
                    Dim::Fixed(extent) => dimension::Value::DimValue(to_i64(&self.name, *extent)?),
                    Dim::Symbolic(symbol) => dimension::Value::DimParam(symbol.clone()),
                };
                Ok(Dimension {
                    value: Some(value),
                    ..Default::default()
                })
            })
            .collect::<Result<_, OnnxError>>()?;
        Ok(pb::ValueInfoProto {
            name: self.name.clone(),
            r#type: Some(pb::TypeProto {
                value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                    elem_type: self.elem_type.data_type() as i32,
                    shape: Some(pb::TensorShapeProto { dim }),
                })),
                ..Default::default()
            }),
            ..Default::default()
        })
    }
}

fn to_i64(name: &str, extent: usize) -> Result<i64, OnnxError> {
    i64::try_from(extent).map_err(|_| OnnxError::ExtentOverflow {
        name: name.to_owned(),
        extent,
    })
}

/// An ONNX model under construction: inputs, nodes in topological order, `f32`
/// initializers, outputs and string metadata.
///
/// Every `add_*` checks its argument against what is already there, so a graph that
/// builds without error is well formed (names unique, inputs defined before use).
#[derive(Debug, Clone, Default)]
pub struct OnnxGraph {
    name: String,
    doc: String,
    inputs: Vec<ValueInfo>,
    outputs: Vec<ValueInfo>,
    nodes: Vec<Node>,
    initializers: Vec<pb::TensorProto>,
    metadata: Vec<(String, String)>,
    defined: HashSet<String>,
}

impl OnnxGraph {
    /// An empty graph called `name` (ONNX's `GraphProto.name`, shown by model viewers).
    pub fn new(name: impl Into<String>) -> Self {
        OnnxGraph {
            name: name.into(),
            ..Default::default()
        }
    }

    /// Sets the model's doc string, a human-readable note on what the model computes.
    pub fn set_doc(&mut self, doc: impl Into<String>) {
        self.doc = doc.into();
    }

    fn define(&mut self, name: &str) -> Result<(), OnnxError> {
        if !self.defined.insert(name.to_owned()) {
            return Err(OnnxError::DuplicateValue {
                name: name.to_owned(),
            });
        }
        Ok(())
    }

    /// Declares a graph input the caller feeds at run time.
    pub fn add_input(
        &mut self,
        name: impl Into<String>,
        elem_type: ElemType,
        dims: impl IntoIterator<Item = Dim>,
    ) -> Result<(), OnnxError> {
        let name = name.into();
        self.define(&name)?;
        self.inputs.push(ValueInfo {
            name,
            elem_type,
            dims: dims.into_iter().collect(),
        });
        Ok(())
    }

    /// Adds a constant `f32` tensor (a weight) that nodes can read by `name`; `values` are
    /// row-major and must fill `dims` exactly.
    pub fn add_initializer(
        &mut self,
        name: impl Into<String>,
        dims: &[usize],
        values: Vec<f32>,
    ) -> Result<(), OnnxError> {
        let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.push_initializer(name.into(), dims, values.len(), ElemType::F32, raw)
    }

    /// Adds a constant `i64` tensor: the index and axes inputs that ops such as `Gather`,
    /// `Unsqueeze` and `Squeeze` take as tensors since opset 13. `dims` may be empty for a
    /// scalar.
    pub fn add_i64_initializer(
        &mut self,
        name: impl Into<String>,
        dims: &[usize],
        values: Vec<i64>,
    ) -> Result<(), OnnxError> {
        let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.push_initializer(name.into(), dims, values.len(), ElemType::I64, raw)
    }

    fn push_initializer(
        &mut self,
        name: String,
        dims: &[usize],
        len: usize,
        elem_type: ElemType,
        raw_data: Vec<u8>,
    ) -> Result<(), OnnxError> {
        let expected = dims.iter().product::<usize>();
        if expected != len {
            return Err(OnnxError::TensorLength {
                name,
                dims: dims.to_vec(),
                expected,
                found: len,
            });
        }
        let dims = dims
            .iter()
            .map(|&extent| to_i64(&name, extent))
            .collect::<Result<Vec<_>, _>>()?;
        self.define(&name)?;
        self.initializers.push(pb::TensorProto {
            dims,
            data_type: elem_type.data_type() as i32,
            // raw_data (little-endian) is what exporters such as torch.onnx write and what
            // every reader handles; it is also smaller on the wire than packed typed fields.
            raw_data,
            name,
            ..Default::default()
        });
        Ok(())
    }

    /// Appends a node; its inputs must already be defined and its outputs must be new.
    pub fn add_node(&mut self, node: Node) -> Result<(), OnnxError> {
        for input in node.inputs.iter().filter(|i| !i.is_empty()) {
            if !self.defined.contains(input) {
                return Err(OnnxError::UndefinedInput {
                    node: node.label(),
                    op_type: node.op_type.clone(),
                    input: input.clone(),
                });
            }
        }
        let mut attributes = HashSet::new();
        for (attribute, _) in &node.attributes {
            if !attributes.insert(attribute.as_str()) {
                return Err(OnnxError::DuplicateAttribute {
                    node: node.label(),
                    op_type: node.op_type.clone(),
                    attribute: attribute.clone(),
                });
            }
        }
        let mut outputs = HashSet::new();
        for output in node.outputs.iter().filter(|o| !o.is_empty()) {
            if self.defined.contains(output) || !outputs.insert(output.as_str()) {
                return Err(OnnxError::DuplicateValue {
                    name: output.clone(),
                });
            }
        }
        self.defined
            .extend(node.outputs.iter().filter(|o| !o.is_empty()).cloned());
        self.nodes.push(node);
        Ok(())
    }

    /// Declares a graph output; it must name something the graph already defines.
    pub fn add_output(
        &mut self,
        name: impl Into<String>,
        elem_type: ElemType,
        dims: impl IntoIterator<Item = Dim>,
    ) -> Result<(), OnnxError> {
        let name = name.into();
        if !self.defined.contains(&name) {
            return Err(OnnxError::UndefinedOutput { name });
        }
        self.outputs.push(ValueInfo {
            name,
            elem_type,
            dims: dims.into_iter().collect(),
        });
        Ok(())
    }

    /// Records a key/value string in the model's `metadata_props`: what the model is
    /// (protocol, ULC version, ranges) travels with the file, not beside it.
    pub fn add_metadata(
        &mut self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<(), OnnxError> {
        let key = key.into();
        if self.metadata.iter().any(|(k, _)| *k == key) {
            return Err(OnnxError::DuplicateMetadata { key });
        }
        self.metadata.push((key, value.into()));
        Ok(())
    }

    /// The nodes added so far, in order.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The protobuf model: IR [`IR_VERSION`], opset [`OPSET`] of the default domain.
    pub fn to_model(&self) -> Result<pb::ModelProto, OnnxError> {
        let graph = pb::GraphProto {
            node: self.nodes.iter().map(Node::to_proto).collect(),
            name: self.name.clone(),
            initializer: self.initializers.clone(),
            input: self
                .inputs
                .iter()
                .map(ValueInfo::to_proto)
                .collect::<Result<_, _>>()?,
            output: self
                .outputs
                .iter()
                .map(ValueInfo::to_proto)
                .collect::<Result<_, _>>()?,
            ..Default::default()
        };
        Ok(pb::ModelProto {
            ir_version: IR_VERSION,
            opset_import: vec![pb::OperatorSetIdProto {
                domain: String::new(),
                version: OPSET,
            }],
            producer_name: PRODUCER_NAME.to_owned(),
            producer_version: env!("CARGO_PKG_VERSION").to_owned(),
            doc_string: self.doc.clone(),
            graph: Some(graph),
            metadata_props: self
                .metadata
                .iter()
                .map(|(key, value)| pb::StringStringEntryProto {
                    key: key.clone(),
                    value: value.clone(),
                })
                .collect(),
            ..Default::default()
        })
    }

    /// The serialized model, as `.onnx` files hold it.
    pub fn to_bytes(&self) -> Result<Vec<u8>, OnnxError> {
        Ok(self.to_model()?.encode_to_vec())
    }

    /// Writes the model to `path` through a temporary file in the same directory and a
    /// rename, so a crash or a full disk never leaves a truncated model where a good one
    /// (or none) was.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<(), OnnxError> {
        let path = path.as_ref();
        let bytes = self.to_bytes()?;
        write_atomically(path, &bytes).map_err(|source| OnnxError::Write {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// Writes `bytes` to a sibling temporary file, syncs it, then renames it over `path`.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let file_name = path.file_name().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the path names a directory, not a file",
        )
    })?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(file_name);
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp: PathBuf = path.with_file_name(temp_name);
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        // Best effort: the temporary file is ours and useless after a failure.
        let _ = std::fs::remove_file(&temp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph_with_input() -> OnnxGraph {
        let mut graph = OnnxGraph::new("test");
        graph
            .add_input("x", ElemType::F32, [Dim::from("batch"), Dim::from(4usize)])
            .expect("first input");
        graph
    }

    #[test]
    fn node_reading_an_undefined_value_is_refused_with_its_name() {
        let mut graph = graph_with_input();
        let error = graph
            .add_node(Node::new("Relu").named("act").input("y").output("z"))
            .expect_err("y is undefined");
        assert!(
            matches!(&error, OnnxError::UndefinedInput { node, input, .. } if node == "act" && input == "y"),
            "{error}"
        );
    }

    #[test]
    fn redefining_a_value_is_refused() {
        let mut graph = graph_with_input();
        let error = graph
            .add_initializer("x", &[1], vec![0.0])
            .expect_err("x is an input");
        assert!(matches!(error, OnnxError::DuplicateValue { name } if name == "x"));
        graph
            .add_node(Node::new("Relu").input("x").output("y"))
            .expect("first definition of y");
        let error = graph
            .add_node(Node::new("Tanh").input("x").output("y"))
            .expect_err("y is defined");
        assert!(matches!(error, OnnxError::DuplicateValue { name } if name == "y"));
    }

    #[test]
    fn duplicate_attribute_is_refused() {
        let mut graph = graph_with_input();
        let error = graph
            .add_node(
                Node::new("Flatten")
                    .input("x")
                    .output("y")
                    .attr("axis", 1_i64)
                    .attr("axis", 0_i64),
            )
            .expect_err("axis twice");
        assert!(
            matches!(error, OnnxError::DuplicateAttribute { attribute, .. } if attribute == "axis")
        );
    }

    #[test]
    fn initializer_whose_values_do_not_fill_its_dims_is_refused() {
        let mut graph = graph_with_input();
        let error = graph
            .add_initializer("w", &[2, 3], vec![0.0; 5])
            .expect_err("5 != 6");
        assert!(matches!(
            error,
            OnnxError::TensorLength { name, expected: 6, found: 5, .. } if name == "w"
        ));
    }

    #[test]
    fn i64_initializer_is_stored_little_endian_and_checked() {
        let mut graph = graph_with_input();
        graph
            .add_i64_initializer("axes", &[2], vec![0, -1])
            .expect("fills its dims");
        graph
            .add_i64_initializer("scalar", &[], vec![3])
            .expect("a scalar has one value");
        let error = graph
            .add_i64_initializer("bad", &[3], vec![1])
            .expect_err("1 != 3");
        assert!(matches!(error, OnnxError::TensorLength { name, .. } if name == "bad"));
        let model = graph.to_model().expect("model");
        let axes = &model.graph.expect("graph").initializer[0];
        assert_eq!(axes.data_type, pb::tensor_proto::DataType::Int64 as i32);
        let values: Vec<i64> = axes
            .raw_data
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect();
        assert_eq!(values, vec![0, -1]);
    }

    #[test]
    fn output_must_be_defined_and_metadata_keys_unique() {
        let mut graph = graph_with_input();
        let error = graph
            .add_output("nowhere", ElemType::F32, [])
            .expect_err("undefined");
        assert!(matches!(error, OnnxError::UndefinedOutput { name } if name == "nowhere"));
        graph.add_metadata("k", "v").expect("first key");
        let error = graph.add_metadata("k", "w").expect_err("second key");
        assert!(matches!(error, OnnxError::DuplicateMetadata { key } if key == "k"));
    }

    #[test]
    fn optional_inputs_may_be_skipped_with_an_empty_name() {
        let mut graph = graph_with_input();
        graph
            .add_node(Node::new("Clip").input("x").input("").input("").output("y"))
            .expect("empty names are skipped inputs");
    }

    #[test]
    fn model_declares_opset_ir_version_and_producer() {
        let mut graph = graph_with_input();
        graph
            .add_node(Node::new("Relu").input("x").output("y"))
            .expect("relu");
        graph
            .add_output("y", ElemType::F32, [Dim::from("batch"), Dim::from(4usize)])
            .expect("y is defined");
        let bytes = graph.to_bytes().expect("encodes");
        let model = pb::ModelProto::decode(bytes.as_slice()).expect("decodes");
        assert_eq!(model.ir_version, IR_VERSION);
        assert_eq!(model.opset_import.len(), 1);
        assert_eq!(model.opset_import[0].version, OPSET);
        assert_eq!(model.producer_name, PRODUCER_NAME);
    }

    #[test]
    fn write_replaces_the_target_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("model.onnx");
        std::fs::write(&path, b"old").expect("seed an old file");
        let mut graph = graph_with_input();
        graph
            .add_node(Node::new("Relu").input("x").output("y"))
            .expect("relu");
        graph.add_output("y", ElemType::F32, []).expect("y");
        graph.write(&path).expect("writes");
        assert_eq!(
            std::fs::read(&path).expect("reads back"),
            graph.to_bytes().expect("bytes")
        );
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("lists")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("model.onnx")]);
    }

    #[test]
    fn write_into_a_missing_directory_names_the_path() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("missing").join("model.onnx");
        let error = graph_with_input().write(&path).expect_err("no directory");
        assert!(matches!(&error, OnnxError::Write { path: p, .. } if *p == path));
    }
}

//! The part of ONNX's protobuf schema (`onnx.proto3`, IR version 8 and later) that Peephole
//! reads and writes, declared with `prost` derives.
//!
//! Why not `tract_onnx::pb`: those are the same messages, but reaching them compiles all of
//! tract (about 130 crates), and the build-time lint, which runs inside every user's
//! `cargo build`, only needs to read a predictor's weights and card. So the messages live here
//! with nothing but `prost` under them; the tract runtime stays behind `peephole-predictor`'s
//! `tract` feature.
//!
//! Field numbers and enum values are ONNX's (<https://github.com/onnx/onnx/blob/main/onnx/onnx.proto3>).
//! Messages and fields Peephole never uses (training info, functions, sequence and map types,
//! quantization annotations, ...) are left out: protobuf decoders skip unknown fields, so
//! models that carry them still decode, and re-encoding such a model drops them (Peephole
//! never re-encodes a model it did not write). Module and type names follow prost's
//! conventions for the schema (`tensor_proto::DataType`, `type_proto::Value`), so code reads
//! like code written against any generated ONNX binding.

#![warn(missing_docs)]

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    /// A model with every kind of field Peephole writes survives encode and decode, and the
    /// opaque fields keep what a reader must refuse.
    #[test]
    fn a_model_round_trips_and_keeps_its_opaque_parts() {
        let tensor = TensorProto {
            name: "w".into(),
            dims: vec![2, 3],
            data_type: tensor_proto::DataType::Float as i32,
            float_data: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            ..Default::default()
        };
        let model = ModelProto {
            ir_version: 8,
            opset_import: vec![OperatorSetIdProto {
                domain: String::new(),
                version: 17,
            }],
            producer_name: "test".into(),
            graph: Some(GraphProto {
                name: "g".into(),
                node: vec![NodeProto {
                    op_type: "Gemm".into(),
                    input: vec!["x".into(), "w".into()],
                    output: vec!["y".into()],
                    attribute: vec![AttributeProto {
                        name: "transB".into(),
                        r#type: attribute_proto::AttributeType::Int as i32,
                        i: 1,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                initializer: vec![tensor],
                input: vec![ValueInfoProto {
                    name: "x".into(),
                    r#type: Some(TypeProto {
                        value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                            elem_type: tensor_proto::DataType::Float as i32,
                            shape: Some(TensorShapeProto {
                                dim: vec![tensor_shape_proto::Dimension {
                                    value: Some(tensor_shape_proto::dimension::Value::DimParam(
                                        "batch".into(),
                                    )),
                                    ..Default::default()
                                }],
                            }),
                        })),
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            metadata_props: vec![StringStringEntryProto {
                key: "k".into(),
                value: "v".into(),
            }],
            functions: vec![vec![10, 1, b'f']],
            ..Default::default()
        };
        let bytes = model.encode_to_vec();
        assert_eq!(ModelProto::decode(bytes.as_slice()).unwrap(), model);
        assert_eq!(
            tensor_proto::DataType::try_from(1).unwrap().as_str_name(),
            "FLOAT"
        );
    }
}

/// A whole model: opsets, graph and free-form metadata (`ModelProto`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ModelProto {
    /// ONNX IR version the model is written against.
    #[prost(int64, tag = "1")]
    pub ir_version: i64,
    /// Operator sets the graph's nodes come from.
    #[prost(message, repeated, tag = "8")]
    pub opset_import: Vec<OperatorSetIdProto>,
    /// Tool that wrote the model.
    #[prost(string, tag = "2")]
    pub producer_name: String,
    /// That tool's version.
    #[prost(string, tag = "3")]
    pub producer_version: String,
    /// Reverse-DNS namespace of the model.
    #[prost(string, tag = "4")]
    pub domain: String,
    /// The model's own version.
    #[prost(int64, tag = "5")]
    pub model_version: i64,
    /// Free text.
    #[prost(string, tag = "6")]
    pub doc_string: String,
    /// The computation.
    #[prost(message, optional, tag = "7")]
    pub graph: Option<GraphProto>,
    /// Key-value metadata (Peephole keeps its format name and model card here).
    #[prost(message, repeated, tag = "14")]
    pub metadata_props: Vec<StringStringEntryProto>,
    /// `TrainingInfoProto` messages, each kept as its undecoded bytes: a reader only needs to
    /// know they are there (a predictor has none, and refuses a model that has some).
    #[prost(bytes = "vec", repeated, tag = "20")]
    pub training_info: Vec<Vec<u8>>,
    /// Model-local `FunctionProto` messages, undecoded bytes as `training_info`.
    #[prost(bytes = "vec", repeated, tag = "25")]
    pub functions: Vec<Vec<u8>>,
}

/// One key-value pair (`StringStringEntryProto`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct StringStringEntryProto {
    /// The key.
    #[prost(string, tag = "1")]
    pub key: String,
    /// The value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// An operator set a model imports (`OperatorSetIdProto`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct OperatorSetIdProto {
    /// Empty for the default ONNX domain.
    #[prost(string, tag = "1")]
    pub domain: String,
    /// The opset version.
    #[prost(int64, tag = "2")]
    pub version: i64,
}

/// A graph: nodes in topological order, constant tensors, inputs and outputs (`GraphProto`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct GraphProto {
    /// Nodes, in topological order.
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<NodeProto>,
    /// The graph's name.
    #[prost(string, tag = "2")]
    pub name: String,
    /// Constant tensors (weights).
    #[prost(message, repeated, tag = "5")]
    pub initializer: Vec<TensorProto>,
    /// Sparse constant tensors.
    #[prost(message, repeated, tag = "15")]
    pub sparse_initializer: Vec<SparseTensorProto>,
    /// Free text.
    #[prost(string, tag = "10")]
    pub doc_string: String,
    /// Inputs.
    #[prost(message, repeated, tag = "11")]
    pub input: Vec<ValueInfoProto>,
    /// Outputs.
    #[prost(message, repeated, tag = "12")]
    pub output: Vec<ValueInfoProto>,
    /// Types of intermediate values, when the writer recorded them.
    #[prost(message, repeated, tag = "13")]
    pub value_info: Vec<ValueInfoProto>,
}

/// One operator application (`NodeProto`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct NodeProto {
    /// Input value names (an empty name is an omitted optional input).
    #[prost(string, repeated, tag = "1")]
    pub input: Vec<String>,
    /// Output value names.
    #[prost(string, repeated, tag = "2")]
    pub output: Vec<String>,
    /// The node's name.
    #[prost(string, tag = "3")]
    pub name: String,
    /// The operator, e.g. `LSTM`.
    #[prost(string, tag = "4")]
    pub op_type: String,
    /// The operator's domain; empty for ONNX's own.
    #[prost(string, tag = "7")]
    pub domain: String,
    /// Attributes.
    #[prost(message, repeated, tag = "5")]
    pub attribute: Vec<AttributeProto>,
    /// Free text.
    #[prost(string, tag = "6")]
    pub doc_string: String,
}

/// A named attribute of a node (`AttributeProto`): `type` says which value field is in use.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AttributeProto {
    /// The attribute's name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// In functions: the caller's attribute this one refers to.
    #[prost(string, tag = "21")]
    pub ref_attr_name: String,
    /// Free text.
    #[prost(string, tag = "13")]
    pub doc_string: String,
    /// Which value field is in use.
    #[prost(enumeration = "attribute_proto::AttributeType", tag = "20")]
    pub r#type: i32,
    /// A float.
    #[prost(float, tag = "2")]
    pub f: f32,
    /// An integer.
    #[prost(int64, tag = "3")]
    pub i: i64,
    /// A UTF-8 string.
    #[prost(bytes = "vec", tag = "4")]
    pub s: Vec<u8>,
    /// A tensor.
    #[prost(message, optional, tag = "5")]
    pub t: Option<TensorProto>,
    /// A subgraph.
    #[prost(message, optional, boxed, tag = "6")]
    pub g: Option<Box<GraphProto>>,
    /// A sparse tensor.
    #[prost(message, optional, tag = "22")]
    pub sparse_tensor: Option<SparseTensorProto>,
    /// Floats.
    #[prost(float, repeated, tag = "7")]
    pub floats: Vec<f32>,
    /// Integers.
    #[prost(int64, repeated, tag = "8")]
    pub ints: Vec<i64>,
    /// UTF-8 strings.
    #[prost(bytes = "vec", repeated, tag = "9")]
    pub strings: Vec<Vec<u8>>,
    /// Tensors.
    #[prost(message, repeated, tag = "10")]
    pub tensors: Vec<TensorProto>,
    /// Subgraphs.
    #[prost(message, repeated, tag = "11")]
    pub graphs: Vec<GraphProto>,
    /// Sparse tensors.
    #[prost(message, repeated, tag = "23")]
    pub sparse_tensors: Vec<SparseTensorProto>,
}

/// Nested types of [`AttributeProto`].
pub mod attribute_proto {
    /// Which value field of an attribute is in use.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum AttributeType {
        /// Not set.
        Undefined = 0,
        /// `f`.
        Float = 1,
        /// `i`.
        Int = 2,
        /// `s`.
        String = 3,
        /// `t`.
        Tensor = 4,
        /// `g`.
        Graph = 5,
        /// `sparse_tensor`.
        SparseTensor = 11,
        /// A type proto (not declared here).
        TypeProto = 13,
        /// `floats`.
        Floats = 6,
        /// `ints`.
        Ints = 7,
        /// `strings`.
        Strings = 8,
        /// `tensors`.
        Tensors = 9,
        /// `graphs`.
        Graphs = 10,
        /// `sparse_tensors`.
        SparseTensors = 12,
        /// Type protos (not declared here).
        TypeProtos = 14,
    }
}

/// A graph input or output: its name and type (`ValueInfoProto`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ValueInfoProto {
    /// The value's name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Its type.
    #[prost(message, optional, tag = "2")]
    pub r#type: Option<TypeProto>,
    /// Free text.
    #[prost(string, tag = "3")]
    pub doc_string: String,
}

/// A value's type; Peephole only writes and reads tensor types (`TypeProto`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TypeProto {
    /// The kind of type.
    #[prost(oneof = "type_proto::Value", tags = "1")]
    pub value: Option<type_proto::Value>,
    /// A denotation (e.g. `IMAGE`).
    #[prost(string, tag = "6")]
    pub denotation: String,
}

/// Nested types of [`TypeProto`].
pub mod type_proto {
    /// A tensor type: element type and shape.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Tensor {
        /// A [`super::tensor_proto::DataType`].
        #[prost(int32, tag = "1")]
        pub elem_type: i32,
        /// The shape, when known.
        #[prost(message, optional, tag = "2")]
        pub shape: Option<super::TensorShapeProto>,
    }

    /// The kinds of type Peephole uses (sequences, maps, optionals are skipped on decode).
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Value {
        /// A tensor.
        #[prost(message, tag = "1")]
        TensorType(Tensor),
    }
}

/// A tensor shape, each dimension a number or a symbolic name (`TensorShapeProto`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorShapeProto {
    /// Dimensions, outermost first.
    #[prost(message, repeated, tag = "1")]
    pub dim: Vec<tensor_shape_proto::Dimension>,
}

/// Nested types of [`TensorShapeProto`].
pub mod tensor_shape_proto {
    /// One dimension.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Dimension {
        /// Its value.
        #[prost(oneof = "dimension::Value", tags = "1, 2")]
        pub value: Option<dimension::Value>,
        /// A denotation (e.g. `DATA_BATCH`).
        #[prost(string, tag = "3")]
        pub denotation: String,
    }

    /// Nested types of [`Dimension`].
    pub mod dimension {
        /// A fixed extent or a symbolic one.
        #[derive(Clone, PartialEq, prost::Oneof)]
        pub enum Value {
            /// A fixed extent.
            #[prost(int64, tag = "1")]
            DimValue(i64),
            /// A symbolic extent, e.g. `batch`.
            #[prost(string, tag = "2")]
            DimParam(String),
        }
    }
}

/// A dense tensor, its data inline in one of the typed fields or in `raw_data`
/// (little-endian), or in an external file (`TensorProto`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorProto {
    /// Dimensions, outermost first.
    #[prost(int64, repeated, tag = "1")]
    pub dims: Vec<i64>,
    /// A [`tensor_proto::DataType`].
    #[prost(int32, tag = "2")]
    pub data_type: i32,
    /// Float data.
    #[prost(float, repeated, tag = "4")]
    pub float_data: Vec<f32>,
    /// Data of int32 and narrower integer types.
    #[prost(int32, repeated, tag = "5")]
    pub int32_data: Vec<i32>,
    /// String data.
    #[prost(bytes = "vec", repeated, tag = "6")]
    pub string_data: Vec<Vec<u8>>,
    /// Int64 data.
    #[prost(int64, repeated, tag = "7")]
    pub int64_data: Vec<i64>,
    /// The tensor's name.
    #[prost(string, tag = "8")]
    pub name: String,
    /// Free text.
    #[prost(string, tag = "12")]
    pub doc_string: String,
    /// The data as little-endian bytes (instead of a typed field).
    #[prost(bytes = "vec", tag = "9")]
    pub raw_data: Vec<u8>,
    /// Double data.
    #[prost(double, repeated, tag = "10")]
    pub double_data: Vec<f64>,
    /// Data of uint32 and uint64.
    #[prost(uint64, repeated, tag = "11")]
    pub uint64_data: Vec<u64>,
    /// Where external data lives, when `data_location` is external.
    #[prost(message, repeated, tag = "13")]
    pub external_data: Vec<StringStringEntryProto>,
    /// A [`tensor_proto::DataLocation`], when set.
    #[prost(enumeration = "tensor_proto::DataLocation", optional, tag = "14")]
    pub data_location: Option<i32>,
}

/// Nested types of [`TensorProto`].
pub mod tensor_proto {
    /// Element types.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum DataType {
        /// Not set.
        Undefined = 0,
        /// f32.
        Float = 1,
        /// u8.
        Uint8 = 2,
        /// i8.
        Int8 = 3,
        /// u16.
        Uint16 = 4,
        /// i16.
        Int16 = 5,
        /// i32.
        Int32 = 6,
        /// i64.
        Int64 = 7,
        /// UTF-8 string.
        String = 8,
        /// bool.
        Bool = 9,
        /// IEEE half.
        Float16 = 10,
        /// f64.
        Double = 11,
        /// u32.
        Uint32 = 12,
        /// u64.
        Uint64 = 13,
    }

    impl DataType {
        /// The name the ONNX schema gives the value (`FLOAT`, `INT64`), for messages and
        /// golden files.
        pub const fn as_str_name(self) -> &'static str {
            match self {
                DataType::Undefined => "UNDEFINED",
                DataType::Float => "FLOAT",
                DataType::Uint8 => "UINT8",
                DataType::Int8 => "INT8",
                DataType::Uint16 => "UINT16",
                DataType::Int16 => "INT16",
                DataType::Int32 => "INT32",
                DataType::Int64 => "INT64",
                DataType::String => "STRING",
                DataType::Bool => "BOOL",
                DataType::Float16 => "FLOAT16",
                DataType::Double => "DOUBLE",
                DataType::Uint32 => "UINT32",
                DataType::Uint64 => "UINT64",
            }
        }
    }

    /// Where a tensor's data is.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum DataLocation {
        /// In the tensor's own fields.
        Default = 0,
        /// In an external file (`external_data`).
        External = 1,
    }
}

/// A sparse tensor: values, their indices and the dense shape (`SparseTensorProto`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct SparseTensorProto {
    /// The non-default values.
    #[prost(message, optional, tag = "1")]
    pub values: Option<TensorProto>,
    /// Their indices.
    #[prost(message, optional, tag = "2")]
    pub indices: Option<TensorProto>,
    /// The dense shape.
    #[prost(int64, repeated, tag = "3")]
    pub dims: Vec<i64>,
}

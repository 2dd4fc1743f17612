//! Golden tests of exported ONNX structure: op types, wiring, attributes, initializer shapes
//! and metadata, written as text so a diff shows what changed. Floats are not in the golden
//! files (the parity test in peephole-train checks numbers against tch).
//!
//! Regenerate after an intended change with `PEEPHOLE_BLESS=1 cargo test -p peephole-onnx`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use peephole_ir::{Network, Shape};
use peephole_onnx::pb::{self, attribute_proto::AttributeType};
use peephole_onnx::{
    IR_VERSION, METADATA_KIND, METADATA_NETWORK, NETWORK_KIND, OPSET, PRODUCER_NAME, Weight,
    export_network, network_graph, weight_specs,
};
use peephole_zoo::generator::Skeleton;
use prost::Message;
use tract_onnx::prelude::*;

/// Every layer kind and geometry the exporter handles: asymmetric and even kernels,
/// strides, valid and same padding, both pools, every activation, BatchNorm.
const EVERY_LAYER: &str = "[3x12x10] conv3x1:8 bn relu conv2x2:6/2@same sigmoid maxpool2x2 \
                           avgpool4x4 tanh conv3x3:5/2@valid avgpool3x3/2@same maxpool3x2 -> 7";

fn every_layer() -> Network {
    EVERY_LAYER.parse().expect("the golden network parses")
}

fn stem() -> Network {
    let skeleton = Skeleton::FmnistV1;
    Network {
        input: skeleton.input(),
        layers: skeleton.stem(),
        classes: skeleton.classes(),
    }
}

/// Deterministic, non-degenerate weights (positive variances) of the right shapes.
fn weights(network: &Network) -> BTreeMap<String, Weight> {
    weight_specs(network)
        .expect("valid network")
        .into_iter()
        .map(|spec| {
            let len: usize = spec.dims.iter().product();
            let values = (0..len)
                .map(|i| 0.5 + ((i * 7919) % 13) as f32 / 26.0)
                .collect();
            let weight = Weight::new(spec.dims, values).expect("fills its dims");
            (spec.name, weight)
        })
        .collect()
}

fn dims(value: &pb::ValueInfoProto) -> String {
    use pb::tensor_shape_proto::dimension::Value;
    let Some(pb::type_proto::Value::TensorType(tensor)) =
        value.r#type.as_ref().and_then(|t| t.value.as_ref())
    else {
        return "?".into();
    };
    let dims: Vec<String> = tensor
        .shape
        .iter()
        .flat_map(|s| &s.dim)
        .map(|d| match &d.value {
            Some(Value::DimValue(v)) => v.to_string(),
            Some(Value::DimParam(p)) => p.clone(),
            None => "?".into(),
        })
        .collect();
    let elem = pb::tensor_proto::DataType::try_from(tensor.elem_type)
        .map(|t| t.as_str_name().to_lowercase())
        .unwrap_or_else(|_| "?".into());
    format!("{elem} [{}]", dims.join(", "))
}

fn attribute(attribute: &pb::AttributeProto) -> String {
    let value = match AttributeType::try_from(attribute.r#type) {
        Ok(AttributeType::Int) => attribute.i.to_string(),
        Ok(AttributeType::Float) => format!("{:e}", attribute.f),
        Ok(AttributeType::Ints) => format!("{:?}", attribute.ints),
        Ok(AttributeType::Floats) => format!("{:?}", attribute.floats),
        Ok(AttributeType::String) => format!("{:?}", String::from_utf8_lossy(&attribute.s)),
        other => format!("<{other:?}>"),
    };
    format!("{}={value}", attribute.name)
}

/// The model as text: everything structural, nothing numeric but shapes and attributes.
fn summary(model: &pb::ModelProto) -> String {
    let mut out = String::new();
    let graph = model.graph.as_ref().expect("a model has a graph");
    writeln!(out, "ir_version {}", model.ir_version).unwrap();
    for opset in &model.opset_import {
        writeln!(out, "opset {:?} {}", opset.domain, opset.version).unwrap();
    }
    writeln!(out, "producer {}", model.producer_name).unwrap();
    writeln!(out, "graph {}", graph.name).unwrap();
    for entry in &model.metadata_props {
        writeln!(out, "metadata {} = {}", entry.key, entry.value).unwrap();
    }
    for input in &graph.input {
        writeln!(out, "input {}: {}", input.name, dims(input)).unwrap();
    }
    for init in &graph.initializer {
        let data_type = pb::tensor_proto::DataType::try_from(init.data_type)
            .map(|t| t.as_str_name().to_lowercase())
            .unwrap_or_else(|_| "?".into());
        writeln!(
            out,
            "initializer {}: {data_type} {:?} ({} bytes)",
            init.name,
            init.dims,
            init.raw_data.len()
        )
        .unwrap();
    }
    for node in &graph.node {
        let attributes: Vec<String> = node.attribute.iter().map(attribute).collect();
        let line = format!(
            "node {} {}({}) -> {} {}",
            node.name,
            node.op_type,
            node.input.join(", "),
            node.output.join(", "),
            attributes.join(" ")
        );
        writeln!(out, "{}", line.trim_end()).unwrap();
    }
    for output in &graph.output {
        writeln!(out, "output {}: {}", output.name, dims(output)).unwrap();
    }
    out
}

fn check_golden(file: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(file);
    if std::env::var_os("PEEPHOLE_BLESS").is_some() {
        std::fs::write(&path, actual).expect("writes the golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; run with PEEPHOLE_BLESS=1 to create it",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "{} differs from the export (run with PEEPHOLE_BLESS=1 if the change is intended)\n--- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    );
}

/// Encodes and decodes, so the golden text is what a reader of the file sees.
fn exported(network: &Network) -> pb::ModelProto {
    let bytes = network_graph(network, &weights(network))
        .expect("exports")
        .to_bytes()
        .expect("encodes");
    pb::ModelProto::decode(bytes.as_slice()).expect("decodes")
}

#[test]
fn every_layer_kind_exports_to_the_golden_graph() {
    check_golden("every_layer.txt", &summary(&exported(&every_layer())));
}

#[test]
fn fmnist_stem_exports_to_the_golden_graph() {
    check_golden("fmnist_stem.txt", &summary(&exported(&stem())));
}

#[test]
fn export_network_and_graph_bytes_agree() {
    let network = every_layer();
    let weights = weights(&network);
    let model = export_network(&network, &weights).expect("exports");
    let bytes = network_graph(&network, &weights)
        .expect("exports")
        .to_bytes()
        .expect("encodes");
    assert_eq!(model.encode_to_vec(), bytes);
}

#[test]
fn exported_model_declares_what_it_is() {
    let network = every_layer();
    let model = exported(&network);
    assert_eq!(model.ir_version, IR_VERSION);
    assert_eq!(model.opset_import[0].version, OPSET);
    assert_eq!(model.producer_name, PRODUCER_NAME);
    let metadata: BTreeMap<_, _> = model
        .metadata_props
        .iter()
        .map(|e| (e.key.as_str(), e.value.as_str()))
        .collect();
    assert_eq!(metadata.get(METADATA_KIND), Some(&NETWORK_KIND));
    let text = metadata.get(METADATA_NETWORK).expect("network metadata");
    assert_eq!(
        text.parse::<Network>().expect("metadata parses back"),
        network
    );
}

/// tract reads the file and infers the shapes the IR's own shape inference predicts, for
/// two batch sizes (the batch is symbolic).
#[test]
fn tract_loads_the_export_and_agrees_on_shapes() {
    for network in [every_layer(), stem()] {
        let bytes = network_graph(&network, &weights(&network))
            .expect("exports")
            .to_bytes()
            .expect("encodes");
        let Shape {
            channels,
            height,
            width,
        } = network.input;
        let (c, h, w) = (channels as usize, height as usize, width as usize);
        for batch in [1usize, 3] {
            let model = tract_onnx::onnx()
                .model_for_read(&mut bytes.as_slice())
                .expect("tract reads the model")
                .with_input_fact(0, f32::fact([batch, c, h, w]).into())
                .expect("pins the input")
                .into_optimized()
                .expect("optimizes")
                .into_runnable()
                .expect("plans");
            let input = Tensor::zero::<f32>(&[batch, c, h, w]).expect("input");
            let outputs = model.run(tvec!(input.into())).expect("runs");
            assert_eq!(
                outputs[0].shape(),
                &[batch, network.classes as usize],
                "{network}"
            );
        }
    }
}

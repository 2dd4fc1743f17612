//! Export of a trained [`Network`] to ONNX, op for op as `peephole-train`'s `module.rs`
//! computes it, so tract and onnxruntime reproduce the trainer's logits.
//!
//! The weights come in through [`WeightSource`] under the tch var-store names, which keeps
//! this crate free of libtorch: the trainer collects its var store into a map, tests can
//! hand-make one.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

use peephole_ir::{Kernel, Layer, Network, Padding};

use crate::error::OnnxError;
use crate::graph::{Dim, ElemType, Node, OnnxGraph};

/// Name of the image input, `[batch, C, H, W]` `f32`, normalised as the protocol says.
pub const INPUT_NAME: &str = "input";

/// Name of the output, `[batch, classes]` `f32` logits (no softmax, as the trainer's loss
/// takes logits).
pub const OUTPUT_NAME: &str = "logits";

/// The symbolic batch extent of input and output, so one file serves any batch size.
pub const BATCH_DIM: &str = "batch";

/// Var-store group of the body layers: layer `i`'s tensors are `layers.{i}.weight` and so on.
/// Must equal `peephole_train::module::LAYERS_PATH` (a test in peephole-train checks).
pub const LAYERS_PATH: &str = "layers";

/// Var-store prefix of the classifier head: `head.weight`, `head.bias`.
/// Must equal `peephole_train::module::HEAD_PATH` (a test in peephole-train checks).
pub const HEAD_PATH: &str = "head";

/// BatchNorm's epsilon: the protocol's value (`shared/spec/protocol-fmnist-budget-v1.md`),
/// the one the trainer's `BatchNormConfig` uses.
pub const BATCH_NORM_EPSILON: f32 = 1e-5;

/// Metadata key saying what a Peephole model file holds, so tools can refuse a network
/// where they expect a predictor and vice versa.
pub const METADATA_KIND: &str = "peephole.kind";

/// [`METADATA_KIND`] value of an exported network.
pub const NETWORK_KIND: &str = "network";

/// Metadata key holding the network in the text form, so the file says which architecture
/// its weights belong to.
pub const METADATA_NETWORK: &str = "peephole.network";

/// A named tensor's contents: row-major `f32` values that exactly fill `dims`.
#[derive(Debug, Clone, PartialEq)]
pub struct Weight {
    dims: Vec<usize>,
    values: Vec<f32>,
}

impl Weight {
    /// A tensor of shape `dims`; fails when `values` does not fill it exactly, so a
    /// [`Weight`] is always consistent.
    pub fn new(dims: Vec<usize>, values: Vec<f32>) -> Result<Self, OnnxError> {
        let expected = dims.iter().product::<usize>();
        if expected != values.len() {
            return Err(OnnxError::TensorLength {
                name: String::new(),
                dims,
                expected,
                found: values.len(),
            });
        }
        Ok(Weight { dims, values })
    }

    /// The shape.
    pub fn dims(&self) -> &[usize] {
        &self.dims
    }

    /// The values, row-major.
    pub fn values(&self) -> &[f32] {
        &self.values
    }
}

/// Where the export finds a trained network's tensors, by tch var-store name
/// (`layers.{i}.weight`, `layers.{i}.running_mean`, `head.bias`, ...).
///
/// A trait rather than a map so that the trainer, a checkpoint reader or a test can each
/// supply weights without this crate knowing libtorch.
pub trait WeightSource {
    /// The tensor called `name`, or `None` when there is none.
    fn weight(&self, name: &str) -> Option<&Weight>;
}

impl<S: BuildHasher> WeightSource for HashMap<String, Weight, S> {
    fn weight(&self, name: &str) -> Option<&Weight> {
        self.get(name)
    }
}

impl WeightSource for BTreeMap<String, Weight> {
    fn weight(&self, name: &str) -> Option<&Weight> {
        self.get(name)
    }
}

/// A tensor the export needs: its var-store name and the shape the network implies.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WeightSpec {
    /// Var-store name.
    pub name: String,
    /// Expected shape (torch layout: conv `[out, in, kh, kw]`, linear `[out, in]`).
    pub dims: Vec<usize>,
}

fn spec(name: String, dims: Vec<u32>) -> WeightSpec {
    WeightSpec {
        name,
        // u32 -> usize is lossless on every target this workspace builds for.
        dims: dims.into_iter().map(|d| d as usize).collect(),
    }
}

fn layer_name(index: usize, tensor: &str) -> String {
    format!("{LAYERS_PATH}.{index}.{tensor}")
}

fn head_name(tensor: &str) -> String {
    format!("{HEAD_PATH}.{tensor}")
}

fn shape_error(network: &Network) -> impl FnOnce(peephole_ir::ShapeError) -> OnnxError {
    let network = network.to_string();
    move |source| OnnxError::Network { network, source }
}

/// Every tensor the export of `network` reads, in layer order, with its expected shape; the
/// single statement of the naming and layout contract between trainer and writer.
pub fn weight_specs(network: &Network) -> Result<Vec<WeightSpec>, OnnxError> {
    let analysis = network.analyze().map_err(shape_error(network))?;
    let mut specs = Vec::new();
    for (index, (layer, shape)) in network.layers.iter().zip(&analysis.layers).enumerate() {
        match *layer {
            Layer::Conv {
                kernel,
                out_channels,
                ..
            } => {
                specs.push(spec(
                    layer_name(index, "weight"),
                    vec![
                        out_channels,
                        shape.input.channels,
                        kernel.height,
                        kernel.width,
                    ],
                ));
                specs.push(spec(layer_name(index, "bias"), vec![out_channels]));
            }
            Layer::BatchNorm => {
                for tensor in ["weight", "bias", "running_mean", "running_var"] {
                    specs.push(spec(layer_name(index, tensor), vec![shape.input.channels]));
                }
            }
            Layer::MaxPool { .. }
            | Layer::AvgPool { .. }
            | Layer::Relu
            | Layer::Sigmoid
            | Layer::Tanh => {}
        }
    }
    let features = analysis.features.channels;
    specs.push(spec(head_name("weight"), vec![network.classes, features]));
    specs.push(spec(head_name("bias"), vec![network.classes]));
    Ok(specs)
}

/// Looks `spec` up in `weights`, checks its shape and adds it as an initializer of the same
/// name; returns the name for the node that reads it.
fn add_weight(
    graph: &mut OnnxGraph,
    weights: &dyn WeightSource,
    spec: &WeightSpec,
) -> Result<String, OnnxError> {
    let weight = weights
        .weight(&spec.name)
        .ok_or_else(|| OnnxError::MissingWeight {
            name: spec.name.clone(),
        })?;
    if weight.dims() != spec.dims.as_slice() {
        return Err(OnnxError::WeightShape {
            name: spec.name.clone(),
            expected: spec.dims.clone(),
            found: weight.dims().to_vec(),
        });
    }
    graph.add_initializer(&spec.name, &spec.dims, weight.values().to_vec())?;
    Ok(spec.name.clone())
}

/// ONNX `pads` of a 2-D window: `[top, left, bottom, right]` (all begins, then all ends, in
/// axis order H, W), from the same rule the shape inference and the trainer use.
fn onnx_pads(kernel: Kernel, padding: Padding) -> [i64; 4] {
    let (top, bottom) = padding.before_after(kernel.height);
    let (left, right) = padding.before_after(kernel.width);
    [top.into(), left.into(), bottom.into(), right.into()]
}

/// `kernel_shape`, `strides` and `pads` of a windowed layer, shared by Conv and the pools.
fn window(node: Node, kernel: Kernel, stride: u32, padding: Padding) -> Node {
    node.attr(
        "kernel_shape",
        [i64::from(kernel.height), i64::from(kernel.width)],
    )
    .attr("strides", [i64::from(stride), i64::from(stride)])
    .attr("pads", onnx_pads(kernel, padding))
}

/// Builds the ONNX graph of `network` with the trained `weights`, for callers that add
/// their own metadata before writing; [`export_network`] is the one-call form.
///
/// Mapping (the trainer's `module.rs`, op for op): Conv with bias and explicit
/// `[top, left, bottom, right]` pads; MaxPool with explicit pads, whose padded cells ONNX
/// ignores, as PyTorch's -inf padding does; AveragePool with `count_include_pad = 1`, so
/// zero padding counts in the mean; Relu, Sigmoid, Tanh; BatchNormalization in inference
/// form (running statistics, epsilon [`BATCH_NORM_EPSILON`]); then the head
/// GlobalAveragePool, Flatten and Gemm with `transB = 1` (torch's `[out, in]` weight).
pub fn network_graph(
    network: &Network,
    weights: &dyn WeightSource,
) -> Result<OnnxGraph, OnnxError> {
    // weight_specs also validates the network (shape inference), so nothing below can fail
    // on geometry.
    let specs = weight_specs(network)?;
    let mut weights = Weights {
        specs: specs.iter(),
        source: weights,
    };
    let mut graph = OnnxGraph::new("peephole-network");
    graph.set_doc(format!(
        "Peephole network {network}: NCHW f32 images in `{INPUT_NAME}`, logits out in `{OUTPUT_NAME}`."
    ));
    graph.add_metadata(METADATA_KIND, NETWORK_KIND)?;
    graph.add_metadata(METADATA_NETWORK, network.to_string())?;
    let input = network.input;
    graph.add_input(
        INPUT_NAME,
        ElemType::F32,
        [
            Dim::from(BATCH_DIM),
            Dim::from(input.channels),
            Dim::from(input.height),
            Dim::from(input.width),
        ],
    )?;
    let mut current = INPUT_NAME.to_owned();
    for (index, layer) in network.layers.iter().enumerate() {
        let output = format!("{LAYERS_PATH}.{index}");
        let node = Node::new(layer.kind().names().onnx_op)
            .named(&output)
            .input(&current);
        let node = layer_node(node, layer, &mut graph, &mut weights)?;
        graph.add_node(node.output(&output))?;
        current = output;
    }
    add_head(&mut graph, &current, &mut weights)?;
    graph.add_output(
        OUTPUT_NAME,
        ElemType::F32,
        [Dim::from(BATCH_DIM), Dim::from(network.classes)],
    )?;
    Ok(graph)
}

/// The trained tensors of a network in the order [`weight_specs`] lists them, each added to
/// the graph as an initializer when its node asks for it.
struct Weights<'a> {
    specs: std::slice::Iter<'a, WeightSpec>,
    source: &'a dyn WeightSource,
}

impl Weights<'_> {
    /// Adds the next tensor and returns its name.
    fn next(&mut self, graph: &mut OnnxGraph) -> Result<String, OnnxError> {
        match self.specs.next() {
            Some(spec) => add_weight(graph, self.source, spec),
            // weight_specs lists exactly the tensors network_graph reads, in this order.
            None => unreachable!("weight_specs and network_graph disagree on the tensors"),
        }
    }
}

/// One layer's node: its operator's attributes, and its trained tensors as inputs.
fn layer_node(
    node: Node,
    layer: &Layer,
    graph: &mut OnnxGraph,
    weights: &mut Weights<'_>,
) -> Result<Node, OnnxError> {
    Ok(match *layer {
        Layer::Conv {
            kernel,
            stride,
            padding,
            ..
        } => {
            let weight = weights.next(graph)?;
            let bias = weights.next(graph)?;
            window(node.input(weight).input(bias), kernel, stride, padding)
                .attr("dilations", [1_i64, 1])
                .attr("group", 1_i64)
        }
        Layer::MaxPool {
            kernel,
            stride,
            padding,
        } => window(node, kernel, stride, padding).attr("ceil_mode", 0_i64),
        Layer::AvgPool {
            kernel,
            stride,
            padding,
        } => window(node, kernel, stride, padding)
            .attr("ceil_mode", 0_i64)
            .attr("count_include_pad", 1_i64),
        Layer::BatchNorm => {
            let mut node = node;
            // scale, B, input_mean, input_var: torch's weight, bias, running stats.
            for _ in 0..4 {
                node = node.input(weights.next(graph)?);
            }
            node.attr("epsilon", BATCH_NORM_EPSILON)
        }
        Layer::Relu | Layer::Sigmoid | Layer::Tanh => node,
    })
}

/// The head on the last layer's output `current`: global average pooling, flattening, and the
/// linear classifier into [`OUTPUT_NAME`].
fn add_head(
    graph: &mut OnnxGraph,
    current: &str,
    weights: &mut Weights<'_>,
) -> Result<(), OnnxError> {
    let pooled = format!("{HEAD_PATH}.pooled");
    let features = format!("{HEAD_PATH}.features");
    graph.add_node(
        Node::new("GlobalAveragePool")
            .named(&pooled)
            .input(current)
            .output(&pooled),
    )?;
    graph.add_node(
        Node::new("Flatten")
            .named(&features)
            .input(&pooled)
            .output(&features)
            .attr("axis", 1_i64),
    )?;
    let weight = weights.next(graph)?;
    let bias = weights.next(graph)?;
    graph.add_node(
        Node::new("Gemm")
            .named(HEAD_PATH)
            .input(&features)
            .input(weight)
            .input(bias)
            .output(OUTPUT_NAME)
            .attr("transB", 1_i64),
    )
}

/// Exports `network` with its trained `weights` as an ONNX model: input [`INPUT_NAME`]
/// `[batch, C, H, W]`, output [`OUTPUT_NAME`] `[batch, classes]`, opset
/// [`OPSET`](crate::OPSET). A missing weight or one of the wrong shape is an error naming it.
pub fn export_network(
    network: &Network,
    weights: &dyn WeightSource,
) -> Result<peephole_onnx_proto::ModelProto, OnnxError> {
    network_graph(network, weights)?.to_model()
}

#[cfg(test)]
mod tests {
    use super::*;
    use peephole_ir::Shape;

    fn small() -> Network {
        Network {
            input: Shape::new(2, 5, 4),
            layers: vec![
                Layer::conv(
                    Kernel {
                        width: 3,
                        height: 1,
                    },
                    3,
                    1,
                ),
                Layer::BatchNorm,
                Layer::Relu,
            ],
            classes: 4,
        }
    }

    fn zeros(network: &Network) -> BTreeMap<String, Weight> {
        weight_specs(network)
            .expect("valid network")
            .into_iter()
            .map(|spec| {
                let len = spec.dims.iter().product();
                let weight = Weight::new(spec.dims, vec![0.0; len]).expect("fills its dims");
                (spec.name, weight)
            })
            .collect()
    }

    #[test]
    fn weight_specs_use_var_store_names_and_torch_layouts() {
        let specs = weight_specs(&small()).expect("valid network");
        let listed: Vec<(&str, &[usize])> = specs
            .iter()
            .map(|s| (s.name.as_str(), s.dims.as_slice()))
            .collect();
        assert_eq!(
            listed,
            vec![
                ("layers.0.weight", &[3, 2, 1, 3][..]),
                ("layers.0.bias", &[3][..]),
                ("layers.1.weight", &[3][..]),
                ("layers.1.bias", &[3][..]),
                ("layers.1.running_mean", &[3][..]),
                ("layers.1.running_var", &[3][..]),
                ("head.weight", &[4, 3][..]),
                ("head.bias", &[4][..]),
            ]
        );
    }

    #[test]
    fn missing_weight_is_named() {
        let network = small();
        let mut weights = zeros(&network);
        weights.remove("layers.1.running_var");
        let error = export_network(&network, &weights).expect_err("missing");
        assert!(
            matches!(&error, OnnxError::MissingWeight { name } if name == "layers.1.running_var"),
            "{error}"
        );
    }

    #[test]
    fn weight_of_the_wrong_shape_is_named_with_both_shapes() {
        let network = small();
        let mut weights = zeros(&network);
        // A 1x3 kernel stored as 3x1: same count, transposed, which must not slip through.
        weights.insert(
            "layers.0.weight".into(),
            Weight::new(vec![3, 2, 3, 1], vec![0.0; 18]).expect("fills"),
        );
        let error = export_network(&network, &weights).expect_err("wrong shape");
        assert!(
            matches!(&error, OnnxError::WeightShape { name, expected, found }
                if name == "layers.0.weight" && expected == &[3, 2, 1, 3] && found == &[3, 2, 3, 1]),
            "{error}"
        );
    }

    #[test]
    fn invalid_network_is_refused_with_its_text() {
        let network = Network {
            input: Shape::new(1, 2, 2),
            layers: vec![Layer::conv(Kernel::square(3), 4, 2)],
            classes: 2,
        };
        let error = export_network(&network, &BTreeMap::new()).expect_err("kernel too big");
        assert!(matches!(error, OnnxError::Network { .. }));
        assert!(error.to_string().contains("conv3x3:4/2"), "{error}");
    }

    #[test]
    fn weight_that_does_not_fill_its_dims_is_refused() {
        assert!(matches!(
            Weight::new(vec![2, 2], vec![0.0; 3]),
            Err(OnnxError::TensorLength {
                expected: 4,
                found: 3,
                ..
            })
        ));
    }
}

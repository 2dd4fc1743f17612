//! Screens a predictor's ONNX graph before tract sees it: only the operators the exporter
//! writes, every name defined before it is read, and every tensor's size and the whole
//! graph's work bounded, computed from shapes alone.
//!
//! tract evaluates constant subgraphs while it analyses a model and allocates whatever their
//! shapes say: a 1 kB file whose `Tile` repeats a constant 2^20 x 2^20 times made it ask for
//! 4 TB, which aborts the process (found by the `model` fuzz target). Following shapes through
//! this small operator set costs microseconds, so the screen does it first, for the longest
//! sequence a call may pass, and refuses a model whose numbers are out of proportion. It runs
//! at batch 1 and batch 2 so that a graph whose cost grows faster than the batch (a batch x
//! batch product, harmless at batch 1) is caught too.

use std::collections::HashMap;

use peephole_onnx_proto as pb;
use thiserror::Error;

use super::format::INPUT_LAYER_FEATURES;
use super::format::MAX_SEQUENCE;
use peephole_ir::layer_features::FEATURE_COUNT;

/// Most elements one tensor of a predictor may hold at batch 1. The default model's largest
/// tensor (an LSTM weight) has about 10^5; a hostile shape asks for 10^12 and more.
pub const MAX_TENSOR_ELEMENTS: u64 = 1 << 24;

/// Most multiply-accumulates one sequence of [`MAX_SEQUENCE`] codes may cost. The default
/// five-member model needs about 5 x 10^8, so this leaves room for ensembles eight times as
/// large while keeping a hostile graph from running for minutes.
pub const MAX_SEQUENCE_MACS: u64 = 1 << 32;

/// The operators the exporter (`peephole-onnx`'s predictor) writes; a Peephole predictor
/// holds nothing else, and refusing the rest keeps data-dependent shapes out.
pub const OPERATORS: [&str; 14] = [
    "Add",
    "Concat",
    "Gather",
    "Gemm",
    "LSTM",
    "MatMul",
    "Mul",
    "ReduceMean",
    "Relu",
    "Sqrt",
    "Squeeze",
    "Sub",
    "Transpose",
    "Unsqueeze",
];

/// Why a graph is not one this build will hand to tract.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GraphError {
    /// The model holds no graph.
    #[error("it has no graph")]
    NoGraph,
    /// A feature the exporter never writes (subgraphs, functions, sparse or external data).
    #[error("it uses {what}, which a Peephole predictor never contains")]
    Unsupported {
        /// The feature.
        what: &'static str,
    },
    /// The inputs or outputs are not `codes`, `epoch` -> `mean`, `std` (format v1) or
    /// `codes`, `layer_features`, `epoch` -> `mean`, `std` (format v2).
    #[error("its interface is not codes[, layer_features], epoch -> mean, std: {reason}")]
    Interface {
        /// What differs.
        reason: String,
    },
    /// An operator outside [`OPERATORS`].
    #[error("node {node} uses operator {operator}, which a Peephole predictor never contains")]
    Operator {
        /// The node.
        node: String,
        /// Its operator (with its domain, if any).
        operator: String,
    },
    /// A name read before anything defines it, or defined twice.
    #[error("node {node}: tensor {tensor} is {problem}")]
    Name {
        /// The node.
        node: String,
        /// The tensor name.
        tensor: String,
        /// `not defined before it is read` or `defined twice`.
        problem: &'static str,
    },
    /// Shapes or attributes that do not fit the operator.
    #[error("node {node} ({operator}): {reason}")]
    Shape {
        /// The node.
        node: String,
        /// Its operator.
        operator: String,
        /// What does not fit.
        reason: String,
    },
    /// A tensor larger than [`MAX_TENSOR_ELEMENTS`].
    #[error(
        "tensor {tensor} would hold {elements} elements at batch {batch} (at most {MAX_TENSOR_ELEMENTS})"
    )]
    TooLarge {
        /// The tensor.
        tensor: String,
        /// Its element count (saturated).
        elements: u64,
        /// The batch it was computed for.
        batch: u64,
    },
    /// More work than [`MAX_SEQUENCE_MACS`].
    #[error(
        "one sequence of {MAX_SEQUENCE} codes would cost {macs} multiply-accumulates (at most {MAX_SEQUENCE_MACS})"
    )]
    TooMuchWork {
        /// Multiply-accumulates (saturated).
        macs: u64,
    },
    /// A tensor or the work grows faster than the batch.
    #[error("{what} grows faster than the batch ({at_one} at batch 1, {at_two} at batch 2)")]
    Superlinear {
        /// The tensor, or `the work`.
        what: String,
        /// Size at batch 1.
        at_one: u64,
        /// Size at batch 2.
        at_two: u64,
    },
}

type Dims = Vec<u64>;

/// What one pass over the graph measured.
struct Pass {
    sizes: HashMap<String, u64>,
    macs: u64,
}

/// Checks `model` as described in the module documentation.
pub fn screen(model: &pb::ModelProto) -> Result<(), GraphError> {
    let graph = model.graph.as_ref().ok_or(GraphError::NoGraph)?;
    if !model.functions.is_empty() {
        return Err(GraphError::Unsupported {
            what: "model-local functions",
        });
    }
    if !model.training_info.is_empty() {
        return Err(GraphError::Unsupported {
            what: "training information",
        });
    }
    if !graph.sparse_initializer.is_empty() {
        return Err(GraphError::Unsupported {
            what: "sparse initializers",
        });
    }
    check_interface(graph)?;
    let one = run_pass(graph, 1)?;
    let two = run_pass(graph, 2)?;
    for (tensor, &at_one) in &one.sizes {
        let at_two = two.sizes.get(tensor).copied().unwrap_or(0);
        if at_two > at_one.saturating_mul(2) {
            return Err(GraphError::Superlinear {
                what: format!("tensor {tensor}"),
                at_one,
                at_two,
            });
        }
    }
    if two.macs > one.macs.saturating_mul(2) {
        return Err(GraphError::Superlinear {
            what: "the work".into(),
            at_one: one.macs,
            at_two: two.macs,
        });
    }
    Ok(())
}

fn names(list: &[pb::ValueInfoProto]) -> Vec<&str> {
    list.iter().map(|v| v.name.as_str()).collect()
}

fn check_interface(graph: &pb::GraphProto) -> Result<(), GraphError> {
    let inputs = names(&graph.input);
    let outputs = names(&graph.output);
    // Format v1 reads codes and epochs; v2 also each layer's feature rows.
    if inputs != ["codes", "epoch"] && inputs != ["codes", INPUT_LAYER_FEATURES, "epoch"] {
        return Err(GraphError::Interface {
            reason: format!("inputs are {inputs:?}"),
        });
    }
    if outputs != ["mean", "std"] {
        return Err(GraphError::Interface {
            reason: format!("outputs are {outputs:?}"),
        });
    }
    Ok(())
}

fn elements(dims: &[u64]) -> Option<u64> {
    dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d))
}

/// The values of a small int64 initializer (axes lists), from typed or raw data.
fn int64_values(tensor: &pb::TensorProto) -> Vec<i64> {
    if !tensor.int64_data.is_empty() {
        return tensor.int64_data.clone();
    }
    tensor
        .raw_data
        .chunks_exact(8)
        .take(64)
        .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
        .collect()
}

fn run_pass(graph: &pb::GraphProto, batch: u64) -> Result<Pass, GraphError> {
    let mut shapes: HashMap<String, Dims> = HashMap::new();
    let mut constants: HashMap<String, Vec<i64>> = HashMap::new();
    let length = MAX_SEQUENCE as u64;
    shapes.insert("codes".into(), vec![batch, length, 4]);
    shapes.insert("epoch".into(), vec![batch]);
    if graph.input.iter().any(|i| i.name == INPUT_LAYER_FEATURES) {
        shapes.insert(
            INPUT_LAYER_FEATURES.into(),
            vec![batch, length, FEATURE_COUNT as u64],
        );
    }
    for tensor in &graph.initializer {
        if tensor.data_location == Some(pb::tensor_proto::DataLocation::External as i32)
            || !tensor.external_data.is_empty()
        {
            return Err(GraphError::Unsupported {
                what: "external tensor data",
            });
        }
        let dims: Option<Dims> = tensor.dims.iter().map(|&d| u64::try_from(d).ok()).collect();
        let dims = dims.ok_or_else(|| GraphError::Shape {
            node: tensor.name.clone(),
            operator: "initializer".into(),
            reason: format!("negative dimension in {:?}", tensor.dims),
        })?;
        if tensor.data_type == pb::tensor_proto::DataType::Int64 as i32
            && elements(&dims).is_some_and(|n| n <= 64)
        {
            constants.insert(tensor.name.clone(), int64_values(tensor));
        }
        define(&mut shapes, "initializer", &tensor.name, dims)?;
    }
    let mut sizes = HashMap::new();
    let mut macs = 0u64;
    for (index, node) in graph.node.iter().enumerate() {
        let name = if node.name.is_empty() {
            format!("#{index}")
        } else {
            node.name.clone()
        };
        let domain_ok = node.domain.is_empty() || node.domain == "ai.onnx";
        if !domain_ok || !OPERATORS.contains(&node.op_type.as_str()) {
            let operator = if domain_ok {
                node.op_type.clone()
            } else {
                format!("{}::{}", node.domain, node.op_type)
            };
            return Err(GraphError::Operator {
                node: name,
                operator,
            });
        }
        if node.attribute.iter().any(|a| {
            a.g.is_some()
                || !a.graphs.is_empty()
                || a.t.is_some()
                || !a.tensors.is_empty()
                || a.sparse_tensor.is_some()
                || !a.sparse_tensors.is_empty()
        }) {
            return Err(GraphError::Unsupported {
                what: "graph or tensor attributes",
            });
        }
        let mut inputs = Vec::with_capacity(node.input.len());
        for input in &node.input {
            if input.is_empty() {
                inputs.push(None);
            } else {
                let dims = shapes.get(input).ok_or_else(|| GraphError::Name {
                    node: name.clone(),
                    tensor: input.clone(),
                    problem: "not defined before it is read",
                })?;
                inputs.push(Some(dims.clone()));
            }
        }
        let ctx = Node {
            node,
            name: &name,
            inputs: &inputs,
            constants: &constants,
        };
        let (outputs, work) = ctx.infer()?;
        macs = macs.saturating_add(work);
        for (output, dims) in node.output.iter().zip(outputs) {
            if output.is_empty() {
                continue;
            }
            let count = elements(&dims).unwrap_or(u64::MAX);
            if count > MAX_TENSOR_ELEMENTS {
                return Err(GraphError::TooLarge {
                    tensor: output.clone(),
                    elements: count,
                    batch,
                });
            }
            sizes.insert(output.clone(), count);
            define(&mut shapes, &name, output, dims)?;
        }
    }
    if batch == 1 && macs > MAX_SEQUENCE_MACS {
        return Err(GraphError::TooMuchWork { macs });
    }
    for output in ["mean", "std"] {
        if !sizes.contains_key(output) {
            return Err(GraphError::Interface {
                reason: format!("no node computes {output}"),
            });
        }
    }
    Ok(Pass { sizes, macs })
}

fn define(
    shapes: &mut HashMap<String, Dims>,
    node: &str,
    tensor: &str,
    dims: Dims,
) -> Result<(), GraphError> {
    let count = elements(&dims).unwrap_or(u64::MAX);
    if count > MAX_TENSOR_ELEMENTS {
        return Err(GraphError::TooLarge {
            tensor: tensor.into(),
            elements: count,
            batch: 1,
        });
    }
    if shapes.insert(tensor.into(), dims).is_some() {
        return Err(GraphError::Name {
            node: node.into(),
            tensor: tensor.into(),
            problem: "defined twice",
        });
    }
    Ok(())
}

/// One node and the shapes of its inputs, for shape inference.
struct Node<'a> {
    node: &'a pb::NodeProto,
    name: &'a str,
    inputs: &'a [Option<Dims>],
    constants: &'a HashMap<String, Vec<i64>>,
}

impl Node<'_> {
    fn error(&self, reason: impl Into<String>) -> GraphError {
        GraphError::Shape {
            node: self.name.into(),
            operator: self.node.op_type.clone(),
            reason: reason.into(),
        }
    }

    fn input(&self, index: usize) -> Result<&Dims, GraphError> {
        self.inputs
            .get(index)
            .and_then(Option::as_ref)
            .ok_or_else(|| self.error(format!("input {index} is missing")))
    }

    fn optional(&self, index: usize) -> Option<&Dims> {
        self.inputs.get(index).and_then(Option::as_ref)
    }

    fn attribute(&self, name: &str) -> Option<&pb::AttributeProto> {
        self.node.attribute.iter().find(|a| a.name == name)
    }

    fn int(&self, name: &str, default: i64) -> i64 {
        self.attribute(name).map_or(default, |a| a.i)
    }

    fn ints(&self, name: &str) -> Option<Vec<i64>> {
        self.attribute(name).map(|a| a.ints.clone())
    }

    /// An axis in `-rank..rank`, as an index.
    fn axis(&self, axis: i64, rank: usize) -> Result<usize, GraphError> {
        let rank = rank as i64;
        if !(-rank..rank).contains(&axis) {
            return Err(self.error(format!("axis {axis} is outside a rank-{rank} tensor")));
        }
        Ok(if axis < 0 {
            (axis + rank) as usize
        } else {
            axis as usize
        })
    }

    /// Axes from input 1 (opset 13 and later) or the `axes` attribute.
    fn axes(&self) -> Result<Option<Vec<i64>>, GraphError> {
        match self.node.input.get(1).filter(|n| !n.is_empty()) {
            Some(name) => {
                let values = self.constants.get(name).ok_or_else(|| {
                    self.error(format!("axes {name} is not a small int64 constant"))
                })?;
                Ok(Some(values.clone()))
            }
            None => Ok(self.ints("axes")),
        }
    }

    fn broadcast(&self, a: &Dims, b: &Dims) -> Result<Dims, GraphError> {
        let rank = a.len().max(b.len());
        let at = |d: &Dims, i: usize| {
            if i + d.len() < rank {
                1
            } else {
                d[i + d.len() - rank]
            }
        };
        (0..rank)
            .map(|i| match (at(a, i), at(b, i)) {
                (x, y) if x == y || y == 1 => Ok(x),
                (1, y) => Ok(y),
                (x, y) => Err(self.error(format!(
                    "shapes {a:?} and {b:?} do not broadcast ({x} vs {y})"
                ))),
            })
            .collect()
    }

    /// Output shapes and multiply-accumulates of the node.
    fn infer(&self) -> Result<(Vec<Dims>, u64), GraphError> {
        let op = self.node.op_type.as_str();
        match op {
            "Relu" | "Sqrt" => Ok((vec![self.input(0)?.clone()], 0)),
            "Add" | "Sub" | "Mul" => Ok((vec![self.broadcast(self.input(0)?, self.input(1)?)?], 0)),
            "Gather" => {
                let data = self.input(0)?;
                let indices = self.input(1)?;
                let axis = self.axis(self.int("axis", 0), data.len())?;
                let mut out = data[..axis].to_vec();
                out.extend(indices);
                out.extend(&data[axis + 1..]);
                Ok((vec![out], 0))
            }
            "Concat" => {
                let parts: Vec<&Dims> = self.inputs.iter().flatten().collect();
                let first = parts.first().ok_or_else(|| self.error("no inputs"))?;
                let axis = self.axis(
                    self.attribute("axis")
                        .ok_or_else(|| self.error("no axis"))?
                        .i,
                    first.len(),
                )?;
                let mut out = (*first).clone();
                out[axis] = 0;
                for part in &parts {
                    let same = part.len() == first.len()
                        && part
                            .iter()
                            .zip(first.iter())
                            .enumerate()
                            .all(|(i, (p, f))| i == axis || p == f);
                    if !same {
                        return Err(self.error(format!(
                            "{part:?} does not concatenate with {first:?} on axis {axis}"
                        )));
                    }
                    out[axis] = out[axis]
                        .checked_add(part[axis])
                        .ok_or_else(|| self.error("concatenated size overflows"))?;
                }
                Ok((vec![out], 0))
            }
            "Transpose" => {
                let data = self.input(0)?;
                let perm: Vec<i64> = self
                    .ints("perm")
                    .filter(|p| !p.is_empty())
                    .unwrap_or_else(|| (0..data.len() as i64).rev().collect());
                let mut seen = vec![false; data.len()];
                let mut out = Vec::with_capacity(data.len());
                for &p in &perm {
                    let axis = usize::try_from(p)
                        .ok()
                        .filter(|&a| a < data.len() && !seen[a]);
                    let axis = axis.ok_or_else(|| {
                        self.error(format!(
                            "perm {perm:?} is not a permutation of a rank-{} tensor",
                            data.len()
                        ))
                    })?;
                    seen[axis] = true;
                    out.push(data[axis]);
                }
                if out.len() != data.len() {
                    return Err(self.error(format!(
                        "perm {perm:?} is not a permutation of a rank-{} tensor",
                        data.len()
                    )));
                }
                Ok((vec![out], 0))
            }
            "MatMul" => {
                let (a, b) = (self.input(0)?, self.input(1)?);
                if a.is_empty() || b.is_empty() {
                    return Err(self.error("MatMul of a scalar"));
                }
                let a2 = if a.len() == 1 {
                    vec![1, a[0]]
                } else {
                    a.clone()
                };
                let b2 = if b.len() == 1 {
                    vec![b[0], 1]
                } else {
                    b.clone()
                };
                let (n, k) = (a2[a2.len() - 2], a2[a2.len() - 1]);
                let (k2, m) = (b2[b2.len() - 2], b2[b2.len() - 1]);
                if k != k2 {
                    return Err(self.error(format!("inner dimensions of {a:?} and {b:?} differ")));
                }
                let mut out =
                    self.broadcast(&a2[..a2.len() - 2].to_vec(), &b2[..b2.len() - 2].to_vec())?;
                if a.len() > 1 {
                    out.push(n);
                }
                if b.len() > 1 {
                    out.push(m);
                }
                let work = elements(&out)
                    .and_then(|e| e.checked_mul(k))
                    .unwrap_or(u64::MAX);
                Ok((vec![out], work))
            }
            "Gemm" => {
                let (a, b) = (self.input(0)?, self.input(1)?);
                if a.len() != 2 || b.len() != 2 {
                    return Err(self.error(format!("Gemm needs matrices, got {a:?} and {b:?}")));
                }
                let (m, k) = if self.int("transA", 0) != 0 {
                    (a[1], a[0])
                } else {
                    (a[0], a[1])
                };
                let (k2, n) = if self.int("transB", 0) != 0 {
                    (b[1], b[0])
                } else {
                    (b[0], b[1])
                };
                if k != k2 {
                    return Err(self.error(format!("inner dimensions of {a:?} and {b:?} differ")));
                }
                let out = vec![m, n];
                if let Some(c) = self.optional(2)
                    && self.broadcast(c, &out)? != out
                {
                    return Err(self.error(format!("C {c:?} does not broadcast to {out:?}")));
                }
                let work = m.saturating_mul(n).saturating_mul(k);
                Ok((vec![out], work))
            }
            "Unsqueeze" => {
                let data = self.input(0)?;
                let axes = self.axes()?.ok_or_else(|| self.error("no axes"))?;
                let rank = data.len() + axes.len();
                let mut ones = vec![false; rank];
                for &axis in &axes {
                    let axis = self.axis(axis, rank)?;
                    if std::mem::replace(&mut ones[axis], true) {
                        return Err(self.error(format!("axis {axis} is listed twice")));
                    }
                }
                let mut rest = data.iter();
                let out = ones
                    .iter()
                    .map(|&one| if one { Some(1) } else { rest.next().copied() })
                    .collect::<Option<Dims>>();
                Ok((
                    vec![out.ok_or_else(|| self.error("axes do not fit the rank"))?],
                    0,
                ))
            }
            "Squeeze" => {
                let data = self.input(0)?;
                let out = match self.axes()?.filter(|a| !a.is_empty()) {
                    None => data.iter().copied().filter(|&d| d != 1).collect(),
                    Some(axes) => {
                        let mut drop = vec![false; data.len()];
                        for &axis in &axes {
                            let axis = self.axis(axis, data.len())?;
                            if data[axis] != 1 {
                                return Err(self.error(format!("axis {axis} of {data:?} is not 1")));
                            }
                            drop[axis] = true;
                        }
                        data.iter()
                            .zip(drop)
                            .filter(|(_, d)| !d)
                            .map(|(&x, _)| x)
                            .collect()
                    }
                };
                Ok((vec![out], 0))
            }
            "ReduceMean" => {
                let data = self.input(0)?;
                let axes = self
                    .ints("axes")
                    .filter(|a| !a.is_empty())
                    .unwrap_or_else(|| (0..data.len() as i64).collect());
                let mut reduced = vec![false; data.len()];
                for &axis in &axes {
                    reduced[self.axis(axis, data.len())?] = true;
                }
                let keep = self.int("keepdims", 1) != 0;
                let out = data
                    .iter()
                    .zip(&reduced)
                    .filter_map(|(&d, &r)| match (r, keep) {
                        (false, _) => Some(d),
                        (true, true) => Some(1),
                        (true, false) => None,
                    })
                    .collect();
                Ok((vec![out], 0))
            }
            "LSTM" => self.lstm(),
            _ => Err(GraphError::Operator {
                node: self.name.into(),
                operator: op.into(),
            }),
        }
    }

    fn lstm(&self) -> Result<(Vec<Dims>, u64), GraphError> {
        let (x, w, r) = (self.input(0)?, self.input(1)?, self.input(2)?);
        if self.int("layout", 0) != 0 {
            return Err(self.error("only layout 0 (time-major) is supported"));
        }
        let directions = match self.attribute("direction").map(|a| a.s.as_slice()) {
            None | Some(b"forward") | Some(b"reverse") => 1,
            Some(b"bidirectional") => 2,
            Some(other) => {
                return Err(self.error(format!("direction {:?}", String::from_utf8_lossy(other))));
            }
        };
        let hidden = u64::try_from(self.int("hidden_size", 0))
            .ok()
            .filter(|&h| h > 0)
            .ok_or_else(|| self.error("hidden_size is not positive"))?;
        let gates = hidden
            .checked_mul(4)
            .ok_or_else(|| self.error("hidden_size overflows"))?;
        let [steps, batch, features] = x[..] else {
            return Err(self.error(format!("X {x:?} is not [steps, batch, features]")));
        };
        let expect = |what: &str, dims: &Dims, wanted: Dims| {
            if *dims == wanted {
                Ok(())
            } else {
                Err(self.error(format!("{what} {dims:?} is not {wanted:?}")))
            }
        };
        expect("W", w, vec![directions, gates, features])?;
        expect("R", r, vec![directions, gates, hidden])?;
        if let Some(b) = self.optional(3) {
            expect("B", b, vec![directions, 2 * gates])?;
        }
        if let Some(lengths) = self.optional(4) {
            expect("sequence_lens", lengths, vec![batch])?;
        }
        for (index, what) in [(5, "initial_h"), (6, "initial_c")] {
            if let Some(state) = self.optional(index) {
                expect(what, state, vec![directions, batch, hidden])?;
            }
        }
        if let Some(peephole) = self.optional(7) {
            expect("P", peephole, vec![directions, 3 * hidden])?;
        }
        let state = vec![directions, batch, hidden];
        let outputs = vec![vec![steps, directions, batch, hidden], state.clone(), state];
        let work = [
            steps,
            batch,
            directions,
            gates,
            features.saturating_add(hidden),
        ]
        .iter()
        .fold(1u64, |a, &b| a.saturating_mul(b));
        Ok((outputs, work))
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;
    use crate::EMBEDDED_MODEL;

    fn default_model() -> pb::ModelProto {
        pb::ModelProto::decode(EMBEDDED_MODEL).expect("the default model decodes")
    }

    #[test]
    fn the_default_model_passes_with_room_to_spare() {
        let model = default_model();
        screen(&model).expect("the default model passes");
        let pass = run_pass(model.graph.as_ref().unwrap(), 1).unwrap();
        assert!(pass.macs < MAX_SEQUENCE_MACS / 4, "{} MACs", pass.macs);
        assert!(pass.sizes.values().all(|&s| s < MAX_TENSOR_ELEMENTS / 16));
    }

    fn replace_node(
        model: &mut pb::ModelProto,
        output: &str,
        node: pb::NodeProto,
        extra: Vec<pb::TensorProto>,
    ) {
        let graph = model.graph.as_mut().unwrap();
        let at = graph
            .node
            .iter()
            .position(|n| n.output.iter().any(|o| o == output))
            .expect("a node computes it");
        graph.node[at] = node;
        graph.initializer.extend(extra);
    }

    fn int64(name: &str, values: Vec<i64>) -> pb::TensorProto {
        pb::TensorProto {
            name: name.into(),
            dims: vec![values.len() as i64],
            data_type: 7,
            int64_data: values,
            ..Default::default()
        }
    }

    // The `model` fuzz target's first finding: a `Tile` of a constant by [2^20, 2^20]
    // made tract allocate 4 TB while analysing the graph.
    #[test]
    fn an_operator_the_exporter_never_writes_is_refused_by_name() {
        let mut model = default_model();
        let node = pb::NodeProto {
            op_type: "Tile".into(),
            name: "hostile".into(),
            input: vec!["m0.zero_state".into(), "repeats".into()],
            output: vec!["m0.zeros".into()],
            ..Default::default()
        };
        replace_node(
            &mut model,
            "m0.zeros",
            node,
            vec![int64("repeats", vec![1 << 20, 1 << 20])],
        );
        let error = screen(&model).unwrap_err();
        assert_eq!(
            error,
            GraphError::Operator {
                node: "hostile".into(),
                operator: "Tile".into()
            }
        );
    }

    #[test]
    fn an_allowed_operator_with_a_huge_result_is_refused_before_it_runs() {
        // [2^12, 1] x [1, 2^13] broadcasts to 2^25 elements from 12k values of constants.
        let mut model = default_model();
        let column = pb::TensorProto {
            name: "column".into(),
            dims: vec![1 << 12, 1],
            data_type: 1,
            float_data: vec![1.0; 1 << 12],
            ..Default::default()
        };
        let row = pb::TensorProto {
            name: "row".into(),
            dims: vec![1, 1 << 13],
            data_type: 1,
            float_data: vec![1.0; 1 << 13],
            ..Default::default()
        };
        let node = pb::NodeProto {
            op_type: "Mul".into(),
            name: "outer".into(),
            input: vec!["column".into(), "row".into()],
            output: vec!["m0.zeros".into()],
            ..Default::default()
        };
        replace_node(&mut model, "m0.zeros", node, vec![column, row]);
        assert!(
            matches!(screen(&model), Err(GraphError::TooLarge { ref tensor, .. }) if tensor == "m0.zeros"),
            "{:?}",
            screen(&model)
        );
    }

    #[test]
    fn a_product_of_the_batch_with_itself_is_refused() {
        // epoch [batch] as [batch, 1] times [1, batch]: fine at batch 1, quadratic later.
        let mut model = default_model();
        let graph = model.graph.as_mut().unwrap();
        graph.initializer.push(int64("axis1", vec![1]));
        graph.node.push(pb::NodeProto {
            op_type: "Unsqueeze".into(),
            name: "col".into(),
            input: vec!["epoch".into(), "axis1".into()],
            output: vec!["col".into()],
            ..Default::default()
        });
        graph.node.push(pb::NodeProto {
            op_type: "Unsqueeze".into(),
            name: "row".into(),
            input: vec!["epoch".into(), "axes0".into()],
            output: vec!["row".into()],
            ..Default::default()
        });
        graph.node.push(pb::NodeProto {
            op_type: "Mul".into(),
            name: "square".into(),
            input: vec!["col".into(), "row".into()],
            output: vec!["square".into()],
            ..Default::default()
        });
        assert!(
            matches!(screen(&model), Err(GraphError::Superlinear { .. })),
            "{:?}",
            screen(&model)
        );
    }

    #[test]
    fn a_name_read_before_it_is_defined_is_refused() {
        let mut model = default_model();
        let graph = model.graph.as_mut().unwrap();
        let last = graph.node.pop().unwrap();
        graph.node.insert(0, last);
        assert!(
            matches!(screen(&model), Err(GraphError::Name { .. })),
            "{:?}",
            screen(&model)
        );
    }
}

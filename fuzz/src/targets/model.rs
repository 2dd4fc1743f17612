//! Predictor models from bytes: truncated, bit-flipped and adversarial ONNX (graphs edited at
//! the protobuf level, hostile cards, huge declared shapes). Loading must give a typed error
//! or a model whose answers for valid input are finite or typed errors; never a panic, a
//! hang, or an allocation of what the file only claims.

use std::sync::OnceLock;
use std::time::Duration;

use peephole_ir::Network;
use peephole_ir::layer_features::FEATURE_COUNT;
use peephole_ir::text::parse_network;
use peephole_ir::ulc::{CHANNEL_VOCAB, KERNEL_VOCAB, TYPE_VOCAB};
use peephole_onnx::pb::{self, AttributeProto, ModelProto, NodeProto, TensorProto};
use peephole_predictor::format::format_of;
use peephole_predictor::{
    EMBEDDED_MODEL, EMBEDDING_DIM, LAYER_FEATURES, LSTM_HIDDEN, Linear, META_CARD, MLP_WIDTH,
    Matrix, MemberWeights, Predictor, PredictorError, PredictorWeights,
};
use prost::Message;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{MIB, Target, class};

/// See the module documentation.
pub const TARGET: Target = Target {
    name: "model",
    about: "predictor model bytes (truncated, bit flips, protobuf-level graph edits, hostile cards and shapes): typed error or finite answers",
    run,
    seeds,
    mutate: Some(mutate),
    dictionary: &[],
    max_len: 8 * MIB,
    timeout: Duration::from_secs(120),
    allocation_limit: 512 * MIB,
};

fn matrix(rng: &mut ChaCha8Rng, rows: usize, cols: usize) -> Matrix {
    let data = (0..rows * cols)
        .map(|_| rng.random_range(-0.1f32..0.1))
        .collect();
    Matrix::new(rows, cols, data).expect("rows * cols values")
}

fn linear(rng: &mut ChaCha8Rng, outputs: usize, inputs: usize) -> Linear {
    Linear {
        weight: matrix(rng, outputs, inputs),
        bias: vec![0.01; outputs],
    }
}

/// A one-member predictor with small random weights, of the default's format (v2: it reads
/// layer features): a valid model a fifth the size of the default one, so most runs spend
/// their time on the interesting part (the graph).
pub fn tiny_model() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| tiny(true))
}

/// [`tiny_model`] in format v1 (ULC codes only, the paper's model), so both formats are
/// fuzzed from the first run.
fn tiny_model_v1() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| tiny(false))
}

fn tiny(layer_features: bool) -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut card = super::card::default_card();
    card.ensemble = 1;
    card.name = "fuzz-tiny".into();
    let (format, features) = format_of(layer_features);
    card.format = format.into();
    card.layer_features = features.map(Into::into);
    let gates = 4 * LSTM_HIDDEN;
    let member = MemberWeights {
        type_embedding: matrix(&mut rng, TYPE_VOCAB, EMBEDDING_DIM),
        kernel_embedding: matrix(&mut rng, KERNEL_VOCAB, EMBEDDING_DIM),
        channel_embedding: matrix(&mut rng, CHANNEL_VOCAB, EMBEDDING_DIM),
        lstm_w_ih: matrix(&mut rng, gates, LAYER_FEATURES),
        lstm_w_hh: matrix(&mut rng, gates, LSTM_HIDDEN),
        lstm_w_features: layer_features.then(|| matrix(&mut rng, gates, FEATURE_COUNT)),
        lstm_b_ih: vec![0.0; gates],
        lstm_b_hh: vec![0.0; gates],
        epoch_embedding: matrix(&mut rng, card.epochs as usize + 1, EMBEDDING_DIM),
        mlp: [
            linear(&mut rng, MLP_WIDTH, LSTM_HIDDEN + EMBEDDING_DIM),
            linear(&mut rng, MLP_WIDTH, MLP_WIDTH),
            linear(&mut rng, 1, MLP_WIDTH),
        ],
    };
    let weights = PredictorWeights {
        members: vec![member],
        target_mean: 0.8,
        target_std: 0.1,
    };
    peephole_onnx::predictor::export_predictor(&weights, &card).expect("the tiny model exports")
}

fn seeds() -> Vec<Vec<u8>> {
    let mut seeds = vec![
        tiny_model().to_vec(),
        tiny_model_v1().to_vec(),
        EMBEDDED_MODEL.to_vec(),
    ];
    // A card that disagrees with its graph about the epochs made `predict` panic
    // inside tract (100000) or allocate 103 GB (u32::MAX); one past the graph's epoch
    // embedding is the smallest such lie. The card and the model are fuzzed together from
    // these, so every run starts where those bugs were.
    let embedded = super::card::default_card().epochs as i64;
    for epochs in [embedded + 1, 100_000, u32::MAX as i64] {
        seeds.push(with_card_epochs(tiny_model(), epochs));
    }
    seeds
}

/// `model` with its card's `epochs` replaced, the graph untouched.
fn with_card_epochs(model: &[u8], epochs: i64) -> Vec<u8> {
    let mut proto = decoded(model).expect("the tiny model decodes");
    let entry = proto
        .metadata_props
        .iter_mut()
        .find(|p| p.key == META_CARD)
        .expect("the tiny model has a card");
    let mut card: serde_json::Value = serde_json::from_str(&entry.value).expect("the card is JSON");
    card["epochs"] = serde_json::Value::from(epochs);
    entry.value = card.to_string();
    proto.encode_to_vec()
}

/// Valid sequences every loaded model is asked about: the largest index of every table.
/// Two small valid networks every loaded model must answer for: networks, not codes, so a
/// format-v2 model (which reads layer features beside the codes) is probed as well as v1.
fn probes() -> [Network; 2] {
    [
        "[1x28x28] conv3x3:16 bn relu maxpool2x2/2 -> 10",
        "[1x28x28] conv5x5:6 sigmoid maxpool2x2/2 conv5x5:16@valid relu -> 10",
    ]
    .map(|text| parse_network(text).expect("the probes are valid networks"))
}

fn run(data: &[u8]) -> String {
    let predictor = match Predictor::from_bytes(data, "fuzz.onnx") {
        Ok(predictor) => predictor,
        Err(error) => {
            assert!(
                error.to_string().contains("fuzz.onnx"),
                "the error does not name the model: {error}"
            );
            let kind = match &error {
                PredictorError::NotOnnx { .. } => "not-onnx".to_string(),
                PredictorError::NotPredictor { reason, .. } => {
                    format!("not-predictor {}", class(reason))
                }
                PredictorError::UlcVersion { .. } => "ulc-version".to_string(),
                PredictorError::Graph { source, .. } => format!(
                    "graph {}",
                    class(&format!("{source:?}"))
                        .split_whitespace()
                        .next()
                        .unwrap_or("")
                ),
                PredictorError::Inference { reason, .. } => format!("inference {}", class(reason)),
                other => panic!("loading gave an error that is not about the model: {other}"),
            };
            return format!("refused {}", kind.chars().take(40).collect::<String>());
        }
    };
    let epochs = predictor.card().epochs;
    let mut answers = Vec::new();
    for network in probes() {
        for epoch in [1, epochs] {
            match predictor.predict(&network, epoch) {
                Ok(p) => {
                    assert!(
                        p.mean.is_finite() && p.spread.is_finite(),
                        "a loaded model answered {p:?}"
                    );
                    let percentile =
                        peephole_predictor::verdict::zoo_percentile(&predictor, p.mean);
                    assert!(
                        (0.0..=100.0).contains(&percentile),
                        "percentile {percentile}"
                    );
                    answers.push("ok");
                }
                Err(PredictorError::NotFinite) => answers.push("not-finite"),
                Err(PredictorError::Inference { .. }) => answers.push("inference"),
                // A graph whose output was edited can answer outside [0, 1]: refused, typed.
                Err(PredictorError::NotAccuracy { .. }) => answers.push("not-accuracy"),
                Err(other) => panic!("a valid probe gave {other}"),
            }
        }
    }
    answers.dedup();
    format!("loaded {}", answers.join(","))
}

/// Values that break shape arithmetic when they land in dims or attributes.
const HOSTILE_INTS: [i64; 12] = [
    0,
    -1,
    1,
    2,
    3,
    7,
    1 << 20,
    1 << 31,
    1 << 40,
    i64::MAX,
    i64::MIN,
    -(1 << 31),
];

/// Operators a hostile node may use: everything the exporter writes, and the ones whose
/// output size comes from data (the usual way to make a runtime allocate).
const OPS: [&str; 24] = [
    "Gather",
    "Concat",
    "Transpose",
    "MatMul",
    "Unsqueeze",
    "LSTM",
    "Squeeze",
    "Gemm",
    "Relu",
    "Mul",
    "Add",
    "ReduceMean",
    "Sub",
    "Sqrt",
    "ConstantOfShape",
    "Expand",
    "Tile",
    "Range",
    "Reshape",
    "Resize",
    "Pad",
    "Loop",
    "Scan",
    "NoSuchOp",
];

fn pick<T>(rng: &mut ChaCha8Rng, items: &[T]) -> Option<usize> {
    (!items.is_empty()).then(|| rng.random_range(0..items.len()))
}

fn hostile_int(rng: &mut ChaCha8Rng) -> i64 {
    HOSTILE_INTS[rng.random_range(0..HOSTILE_INTS.len())]
}

fn i64_tensor(name: &str, values: Vec<i64>) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: vec![values.len() as i64],
        data_type: 7,
        int64_data: values,
        ..Default::default()
    }
}

/// Edits the card inside the model at the JSON level: the fields the predictor trusts.
fn mutate_card(rng: &mut ChaCha8Rng, json: &str) -> String {
    let Ok(mut card) = serde_json::from_str::<serde_json::Value>(json) else {
        return json.chars().take(json.len() / 2).collect();
    };
    let values = [
        serde_json::json!(0),
        serde_json::json!(-1),
        serde_json::json!(u32::MAX),
        serde_json::json!(1e308),
        serde_json::json!([]),
        serde_json::json!([0.9, 0.1]),
        serde_json::json!([0, 100000]),
        serde_json::json!([[], [], [], []]),
        serde_json::json!(null),
        serde_json::json!("ulc-v2"),
        serde_json::json!("mnist-paper"),
    ];
    let value = values[rng.random_range(0..values.len())].clone();
    let paths: [&[&str]; 9] = [
        &["epochs"],
        &["ensemble"],
        &["ulc_version"],
        &["protocol"],
        &["format"],
        &["ranges", "sequence_length"],
        &["ranges", "codes_seen"],
        &["ranges", "accuracy_percentiles"],
        &["split"],
    ];
    let path = paths[rng.random_range(0..paths.len())];
    let slot = match path {
        [key] => card.get_mut(*key),
        [outer, inner] => card.get_mut(*outer).and_then(|o| o.get_mut(*inner)),
        _ => None,
    };
    if let Some(slot) = slot {
        *slot = value;
    }
    card.to_string()
}

fn mutate_node(rng: &mut ChaCha8Rng, graph: &mut pb::GraphProto) {
    let Some(at) = pick(rng, &graph.node) else {
        return;
    };
    let names: Vec<String> = graph
        .node
        .iter()
        .flat_map(|n| n.output.clone())
        .chain(graph.initializer.iter().map(|t| t.name.clone()))
        .collect();
    match rng.random_range(0..7) {
        0 => graph.node[at].op_type = OPS[rng.random_range(0..OPS.len())].into(),
        1 => {
            graph.node.remove(at);
        }
        2 => {
            let copy = graph.node[at].clone();
            let to = rng.random_range(0..=graph.node.len());
            graph.node.insert(to, copy);
        }
        3 => {
            let node = &mut graph.node[at];
            if let (Some(i), Some(n)) = (pick(rng, &node.input), pick(rng, &names)) {
                node.input[i] = if rng.random_range(0..4) == 0 {
                    String::new()
                } else {
                    names[n].clone()
                };
            }
        }
        4 => {
            let node = &mut graph.node[at];
            if let Some(i) = pick(rng, &node.attribute) {
                mutate_attribute(rng, &mut node.attribute[i]);
            } else {
                node.attribute.push(AttributeProto {
                    name: "axis".into(),
                    r#type: 2,
                    i: hostile_int(rng),
                    ..Default::default()
                });
            }
        }
        5 => {
            // A node whose output size comes from a constant: the classic way to make a
            // runtime allocate what a tiny file only claims.
            let shape_name = format!("hostile_shape_{at}");
            let side = [1i64 << 16, 1 << 20, 1 << 31, i64::MAX][rng.random_range(0..4)];
            graph
                .initializer
                .push(i64_tensor(&shape_name, vec![side, side]));
            let target = &graph.node[at];
            let output = target.output.first().cloned().unwrap_or_default();
            let op = ["ConstantOfShape", "Expand", "Tile", "Reshape"][rng.random_range(0..4)];
            let inputs = match op {
                "ConstantOfShape" => vec![shape_name],
                _ => vec![
                    target.input.first().cloned().unwrap_or_default(),
                    shape_name,
                ],
            };
            graph.node[at] = NodeProto {
                op_type: op.into(),
                input: inputs,
                output: vec![output],
                name: format!("hostile{at}"),
                ..Default::default()
            };
        }
        _ => {
            let other = rng.random_range(0..graph.node.len());
            graph.node.swap(at, other);
        }
    }
}

fn mutate_attribute(rng: &mut ChaCha8Rng, attribute: &mut AttributeProto) {
    match rng.random_range(0..5) {
        0 => attribute.i = hostile_int(rng),
        1 => {
            attribute.ints = (0..rng.random_range(0..4))
                .map(|_| hostile_int(rng))
                .collect()
        }
        2 => attribute.r#type = rng.random_range(0..16),
        3 => attribute.f = [f32::NAN, f32::INFINITY, -1.0, 1e30][rng.random_range(0..4)],
        _ => {
            attribute.name = [
                "axis",
                "axes",
                "perm",
                "hidden_size",
                "direction",
                "transB",
                "keepdims",
            ][rng.random_range(0..7)]
            .into()
        }
    }
}

fn mutate_tensor(rng: &mut ChaCha8Rng, tensor: &mut TensorProto) {
    match rng.random_range(0..6) {
        0 => {
            if let Some(d) = pick(rng, &tensor.dims) {
                tensor.dims[d] = hostile_int(rng);
            }
        }
        1 => {
            // Shrink consistently: a smaller embedding table than the codes index.
            if let Some(&rows) = tensor.dims.first() {
                let keep = rng.random_range(0..rows.max(1));
                let row_bytes = tensor.raw_data.len() / rows.max(1) as usize;
                tensor.raw_data.truncate(keep as usize * row_bytes);
                let row_values = tensor.float_data.len() / rows.max(1) as usize;
                tensor.float_data.truncate(keep as usize * row_values);
                tensor.dims[0] = keep;
            }
        }
        2 => tensor.data_type = rng.random_range(0..24),
        3 => {
            let cut = rng.random_range(0..=tensor.raw_data.len());
            tensor.raw_data.truncate(cut);
        }
        4 => {
            // Non-finite weights: the model then answers NaN, which must not reach a caller.
            for chunk in tensor.raw_data.chunks_exact_mut(4).take(64) {
                chunk.copy_from_slice(&f32::NAN.to_le_bytes());
            }
            for value in tensor.float_data.iter_mut().take(64) {
                *value = f32::INFINITY;
            }
        }
        _ => {
            tensor.dims.push(hostile_int(rng));
        }
    }
}

fn mutate_proto(rng: &mut ChaCha8Rng, proto: &mut ModelProto) {
    let Some(graph) = proto.graph.as_mut() else {
        proto.graph = Some(pb::GraphProto::default());
        return;
    };
    match rng.random_range(0..10) {
        0 | 1 => {
            if let Some(entry) = proto.metadata_props.iter_mut().find(|p| p.key == META_CARD) {
                entry.value = mutate_card(rng, &entry.value);
            }
        }
        2 => {
            if let Some(i) = pick(rng, &proto.metadata_props) {
                if rng.random() {
                    proto.metadata_props.remove(i);
                } else {
                    proto.metadata_props[i].value = "peephole-predictor-v2".into();
                }
            }
        }
        3..=5 => mutate_node(rng, graph),
        6 | 7 => {
            if let Some(i) = pick(rng, &graph.initializer) {
                mutate_tensor(rng, &mut graph.initializer[i]);
            }
        }
        8 => {
            let ios = if rng.random() {
                &mut graph.input
            } else {
                &mut graph.output
            };
            if let Some(i) = pick(rng, ios) {
                match rng.random_range(0..3) {
                    0 => {
                        ios.remove(i);
                    }
                    1 => ios[i].name = "renamed".into(),
                    _ => {
                        if let Some(pb::type_proto::Value::TensorType(t)) =
                            ios[i].r#type.as_mut().and_then(|t| t.value.as_mut())
                        {
                            t.elem_type = rng.random_range(0..17);
                        }
                    }
                }
            }
        }
        _ => {
            if let Some(opset) = proto.opset_import.first_mut() {
                opset.version = [0, 1, 7, 9999, -1][rng.random_range(0..5)];
            }
        }
    }
}

/// Decoding the default model costs milliseconds, so the decoded seeds are kept.
fn decoded(bytes: &[u8]) -> Option<ModelProto> {
    static TINY: OnceLock<ModelProto> = OnceLock::new();
    static DEFAULT: OnceLock<ModelProto> = OnceLock::new();
    if bytes == tiny_model() {
        return Some(
            TINY.get_or_init(|| ModelProto::decode(tiny_model()).expect("decodes"))
                .clone(),
        );
    }
    if bytes == EMBEDDED_MODEL {
        return Some(
            DEFAULT
                .get_or_init(|| ModelProto::decode(EMBEDDED_MODEL).expect("decodes"))
                .clone(),
        );
    }
    ModelProto::decode(bytes).ok()
}

/// Mostly protobuf-level edits (what gets past the decoder), sometimes raw damage to the
/// bytes (truncation, bit flips), which is what a broken download or disk does.
fn mutate(rng: &mut ChaCha8Rng, input: &[u8]) -> Vec<u8> {
    let mut bytes = match decoded(input) {
        Some(mut proto) if rng.random_range(0..4) != 0 => {
            for _ in 0..rng.random_range(1..=3) {
                mutate_proto(rng, &mut proto);
            }
            proto.encode_to_vec()
        }
        _ => input.to_vec(),
    };
    if bytes.is_empty() || rng.random_range(0..3) != 0 {
        return bytes;
    }
    if rng.random() {
        let cut = rng.random_range(0..bytes.len());
        bytes.truncate(cut);
    } else {
        for _ in 0..rng.random_range(1..=8) {
            // The graph's structure sits at the start and the card at the end; the middle
            // is mostly float data, where a flip only changes a weight.
            let len = bytes.len();
            let at = match rng.random_range(0..3) {
                0 => rng.random_range(0..len.min(4096)),
                1 => len - 1 - rng.random_range(0..len.min(8192)),
                _ => rng.random_range(0..len),
            };
            bytes[at] ^= 1 << rng.random_range(0..8);
        }
    }
    bytes
}

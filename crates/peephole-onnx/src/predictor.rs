//! Exports a Peephole predictor (an ensemble of embedding + LSTM + MLP members) to ONNX, with
//! its model card in the metadata so the file alone says what it predicts and what it saw.
//!
//! Contract of the exported model (`peephole-predictor-v1`):
//! - input `codes`: int64 `[batch, length, 4]`, ULC v1 codes `(TY, KW, KH, CH)`. Every
//!   sequence of one call has the same length (no padding): callers group by length.
//! - input `epoch`: int64 `[batch]`, the 1-based epoch whose accuracy is asked for.
//! - outputs `mean` and `std`: f32 `[batch]`, the ensemble's mean predicted accuracy and the
//!   members' (population) standard deviation.
//! - metadata `peephole.format`, `peephole.protocol`, `peephole.ulc_version`, `peephole.epochs`
//!   and `peephole.card` (the model card as JSON).
//!
//! ONNX's LSTM orders gates i, o, f, c where PyTorch (and [`MemberWeights`]) use i, f, g, o;
//! its bias input is `concat(b_ih, b_hh)`. The reordering happens here, once.

use peephole_ir::layer_features::FEATURE_COUNT;
use peephole_predictor::format::{
    INPUT_LAYER_FEATURES, META_CARD, META_EPOCHS, META_FORMAT, META_LAYER_FEATURES, META_PROTOCOL,
    META_ULC_VERSION, format_of,
};
use peephole_predictor::{LSTM_HIDDEN, Linear, Matrix, MemberWeights, ModelCard, PredictorWeights};

use crate::error::OnnxError;
use crate::graph::{Dim, ElemType, Node, OnnxGraph};

/// Reorders PyTorch's `[i; f; g; o]` gate blocks (rows of `4H x n`) to ONNX's `[i; o; f; c]`.
fn onnx_gate_order(rows: &[f32], hidden: usize) -> Vec<f32> {
    let block = rows.len() / 4;
    debug_assert_eq!(block % hidden, 0);
    let gate = |g: usize| &rows[g * block..(g + 1) * block];
    [gate(0), gate(3), gate(1), gate(2)].concat()
}

fn add_matrix(graph: &mut OnnxGraph, name: &str, matrix: &Matrix) -> Result<(), OnnxError> {
    graph.add_initializer(name, &[matrix.rows, matrix.cols], matrix.data.clone())
}

fn add_linear(
    graph: &mut OnnxGraph,
    prefix: &str,
    input: &str,
    layer: &Linear,
    output: &str,
) -> Result<(), OnnxError> {
    add_matrix(graph, &format!("{prefix}.weight"), &layer.weight)?;
    graph.add_initializer(
        format!("{prefix}.bias"),
        &[layer.bias.len()],
        layer.bias.clone(),
    )?;
    graph.add_node(
        Node::new("Gemm")
            .named(prefix)
            .input(input)
            .input(format!("{prefix}.weight"))
            .input(format!("{prefix}.bias"))
            .output(output)
            .attr("transB", 1i64),
    )
}

/// Adds one member's subgraph; returns the name of its `[batch, 1]` accuracy output.
fn add_member(
    graph: &mut OnnxGraph,
    index: usize,
    member: &MemberWeights,
    scale: (f32, f32),
) -> Result<String, OnnxError> {
    let p = format!("m{index}");
    add_layer_inputs(graph, &p, member)?;
    add_lstm(graph, &p, member)?;
    add_head(graph, &p, member, scale)
}

/// A member's per-layer inputs, time-major: its embedding tables, the four code fields
/// embedded and concatenated (and a v2 member's layer-feature rows after them), as
/// `{p}.time_major`, `[length, batch, width]`.
fn add_layer_inputs(
    graph: &mut OnnxGraph,
    p: &str,
    member: &MemberWeights,
) -> Result<(), OnnxError> {
    for (table, matrix) in [
        ("type_embedding", &member.type_embedding),
        ("kernel_embedding", &member.kernel_embedding),
        ("channel_embedding", &member.channel_embedding),
        ("epoch_embedding", &member.epoch_embedding),
    ] {
        add_matrix(graph, &format!("{p}.{table}"), matrix)?;
    }
    // Per-layer features: the four fields embedded and concatenated, [batch, length, 160].
    let tables = [
        "type_embedding",
        "kernel_embedding",
        "kernel_embedding",
        "channel_embedding",
    ];
    let mut embedded = Vec::new();
    for (field, table) in tables.iter().enumerate() {
        let out = format!("{p}.field{field}");
        graph.add_node(
            Node::new("Gather")
                .named(out.clone())
                .input(format!("{p}.{table}"))
                .input(format!("field{field}"))
                .output(out.clone())
                .attr("axis", 0i64),
        )?;
        embedded.push(out);
    }
    let mut concat = Node::new("Concat")
        .named(format!("{p}.features"))
        .output(format!("{p}.features"))
        .attr("axis", 2i64);
    for e in &embedded {
        concat = concat.input(e.clone());
    }
    // A v2 member reads the layer-feature rows after the four fields, [batch, length, 167].
    if member.lstm_w_features.is_some() {
        concat = concat.input(INPUT_LAYER_FEATURES);
    }
    graph.add_node(concat)?;
    graph.add_node(
        Node::new("Transpose")
            .named(format!("{p}.time_major"))
            .input(format!("{p}.features"))
            .output(format!("{p}.time_major"))
            .attr("perm", [1i64, 0, 2]),
    )
}

/// A member's LSTM over `{p}.time_major`, started from zero states, and its last hidden state
/// as `{p}.structure`, `[batch, H]`; also `{p}.epoch`, the epoch embedding.
fn add_lstm(graph: &mut OnnxGraph, p: &str, member: &MemberWeights) -> Result<(), OnnxError> {
    let hidden = LSTM_HIDDEN;
    // LSTM weights in ONNX layout: W [1, 4H, in], R [1, 4H, H], B [1, 8H], gates i, o, f, c.
    let (input_width, w_ih) = match &member.lstm_w_features {
        Some(features) => {
            let rows: Vec<f32> = (0..member.lstm_w_ih.rows)
                .flat_map(|row| {
                    let codes = member.lstm_w_ih.row(row).iter();
                    codes.chain(features.row(row)).copied()
                })
                .collect();
            (member.lstm_w_ih.cols + features.cols, rows)
        }
        None => (member.lstm_w_ih.cols, member.lstm_w_ih.data.clone()),
    };
    let w = onnx_gate_order(&w_ih, hidden);
    let r = onnx_gate_order(&member.lstm_w_hh.data, hidden);
    let b = [
        onnx_gate_order(&member.lstm_b_ih, hidden),
        onnx_gate_order(&member.lstm_b_hh, hidden),
    ]
    .concat();
    graph.add_initializer(format!("{p}.lstm.W"), &[1, 4 * hidden, input_width], w)?;
    graph.add_initializer(format!("{p}.lstm.R"), &[1, 4 * hidden, hidden], r)?;
    graph.add_initializer(format!("{p}.lstm.B"), &[1, 8 * hidden], b)?;
    // The epoch embedding, [batch, 40]; also the source of a [batch, H] zero state, because
    // tract needs explicit initial states when the batch is symbolic.
    graph.add_node(
        Node::new("Gather")
            .named(format!("{p}.epoch"))
            .input(format!("{p}.epoch_embedding"))
            .input("epoch")
            .output(format!("{p}.epoch"))
            .attr("axis", 0i64),
    )?;
    let epoch_dim = member.epoch_embedding.cols;
    graph.add_initializer(
        format!("{p}.zero_state"),
        &[epoch_dim, hidden],
        vec![0.0; epoch_dim * hidden],
    )?;
    graph.add_node(
        Node::new("MatMul")
            .named(format!("{p}.zeros"))
            .input(format!("{p}.epoch"))
            .input(format!("{p}.zero_state"))
            .output(format!("{p}.zeros")),
    )?;
    graph.add_node(
        Node::new("Unsqueeze")
            .named(format!("{p}.initial"))
            .input(format!("{p}.zeros"))
            .input("axes0")
            .output(format!("{p}.initial")),
    )?;
    graph.add_node(
        Node::new("LSTM")
            .named(format!("{p}.lstm"))
            .input(format!("{p}.time_major"))
            .input(format!("{p}.lstm.W"))
            .input(format!("{p}.lstm.R"))
            .input(format!("{p}.lstm.B"))
            .input("")
            .input(format!("{p}.initial"))
            .input(format!("{p}.initial"))
            .output("")
            .output(format!("{p}.h"))
            .attr("hidden_size", hidden as i64)
            .attr("direction", "forward"),
    )?;
    graph.add_node(
        Node::new("Squeeze")
            .named(format!("{p}.structure"))
            .input(format!("{p}.h"))
            .input("axes0")
            .output(format!("{p}.structure")),
    )
}

/// A member's MLP on its structure and epoch embedding, scaled back to an accuracy as
/// `{p}.accuracy`; returns that name.
fn add_head(
    graph: &mut OnnxGraph,
    p: &str,
    member: &MemberWeights,
    scale: (f32, f32),
) -> Result<String, OnnxError> {
    graph.add_node(
        Node::new("Concat")
            .named(format!("{p}.mlp_in"))
            .input(format!("{p}.structure"))
            .input(format!("{p}.epoch"))
            .output(format!("{p}.mlp_in"))
            .attr("axis", 1i64),
    )?;
    add_linear(
        graph,
        &format!("{p}.hidden1"),
        &format!("{p}.mlp_in"),
        &member.mlp[0],
        &format!("{p}.hidden1"),
    )?;
    graph.add_node(
        Node::new("Relu")
            .named(format!("{p}.relu1"))
            .input(format!("{p}.hidden1"))
            .output(format!("{p}.relu1")),
    )?;
    add_linear(
        graph,
        &format!("{p}.hidden2"),
        &format!("{p}.relu1"),
        &member.mlp[1],
        &format!("{p}.hidden2"),
    )?;
    graph.add_node(
        Node::new("Relu")
            .named(format!("{p}.relu2"))
            .input(format!("{p}.hidden2"))
            .output(format!("{p}.relu2")),
    )?;
    add_linear(
        graph,
        &format!("{p}.output"),
        &format!("{p}.relu2"),
        &member.mlp[2],
        &format!("{p}.raw"),
    )?;
    graph.add_initializer(format!("{p}.std"), &[1], vec![scale.1])?;
    graph.add_initializer(format!("{p}.mean"), &[1], vec![scale.0])?;
    graph.add_node(
        Node::new("Mul")
            .named(format!("{p}.scaled"))
            .input(format!("{p}.raw"))
            .input(format!("{p}.std"))
            .output(format!("{p}.scaled")),
    )?;
    let out = format!("{p}.accuracy");
    graph.add_node(
        Node::new("Add")
            .named(out.clone())
            .input(format!("{p}.scaled"))
            .input(format!("{p}.mean"))
            .output(out.clone()),
    )?;
    Ok(out)
}

/// Builds the ONNX graph of a predictor with its card.
pub fn predictor_graph(
    weights: &PredictorWeights,
    card: &ModelCard,
) -> Result<OnnxGraph, OnnxError> {
    let (format, feature_set) = checked_format(weights, card)?;
    let mut graph = OnnxGraph::new(card.name.clone());
    graph.set_doc(format!(
        "Peephole predictor for protocol {} ({} members)",
        card.protocol,
        weights.members.len()
    ));
    add_inputs(&mut graph, weights.reads_layer_features())?;
    let mut members = Node::new("Concat")
        .named("members")
        .output("members")
        .attr("axis", 1i64);
    for (index, member) in weights.members.iter().enumerate() {
        let out = add_member(
            &mut graph,
            index,
            member,
            (weights.target_mean, weights.target_std),
        )?;
        members = members.input(out);
    }
    graph.add_node(members)?;
    add_mean_and_std(&mut graph)?;
    graph.add_output("mean", ElemType::F32, [Dim::from("batch")])?;
    graph.add_output("std", ElemType::F32, [Dim::from("batch")])?;
    add_metadata(&mut graph, card, format, feature_set)?;
    Ok(graph)
}

/// The model format (and layer-feature set) of `weights`, refusing an empty ensemble, members
/// that disagree, and a card that says otherwise.
fn checked_format(
    weights: &PredictorWeights,
    card: &ModelCard,
) -> Result<(&'static str, Option<&'static str>), OnnxError> {
    if weights.members.is_empty() {
        return Err(OnnxError::Invalid {
            reason: "a predictor needs at least one ensemble member".into(),
        });
    }
    let reads_features = weights.reads_layer_features();
    if weights
        .members
        .iter()
        .any(|m| m.lstm_w_features.is_some() != reads_features)
    {
        return Err(OnnxError::Invalid {
            reason: "some ensemble members read layer features and some do not".into(),
        });
    }
    let (format, feature_set) = format_of(reads_features);
    if card.format != format || card.layer_features.as_deref() != feature_set {
        return Err(OnnxError::Invalid {
            reason: format!(
                "the model card says format {} with layer features {:?}, the weights are format {format} with {feature_set:?}",
                card.format, card.layer_features
            ),
        });
    }
    Ok((format, feature_set))
}

/// The graph's inputs (`codes`, the layer features when read, `epoch`) and the four code
/// fields split off `codes` as `field0`..`field3`, shared by every member.
fn add_inputs(graph: &mut OnnxGraph, reads_features: bool) -> Result<(), OnnxError> {
    graph.add_input(
        "codes",
        ElemType::I64,
        [Dim::from("batch"), Dim::from("length"), Dim::Fixed(4)],
    )?;
    if reads_features {
        graph.add_input(
            INPUT_LAYER_FEATURES,
            ElemType::F32,
            [
                Dim::from("batch"),
                Dim::from("length"),
                Dim::Fixed(FEATURE_COUNT),
            ],
        )?;
    }
    graph.add_input("epoch", ElemType::I64, [Dim::from("batch")])?;
    graph.add_i64_initializer("axes0", &[1], vec![0])?;
    for field in 0..4 {
        graph.add_i64_initializer(format!("index{field}"), &[], vec![field as i64])?;
        graph.add_node(
            Node::new("Gather")
                .named(format!("field{field}"))
                .input("codes")
                .input(format!("index{field}"))
                .output(format!("field{field}"))
                .attr("axis", 2i64),
        )?;
    }
    Ok(())
}

/// The ensemble's `mean` and (population) `std` over the `members` column.
fn add_mean_and_std(graph: &mut OnnxGraph) -> Result<(), OnnxError> {
    graph.add_node(
        Node::new("ReduceMean")
            .named("mean")
            .input("members")
            .output("mean")
            .attr("axes", [1i64])
            .attr("keepdims", 0i64),
    )?;
    graph.add_node(
        Node::new("ReduceMean")
            .named("mean_kept")
            .input("members")
            .output("mean_kept")
            .attr("axes", [1i64])
            .attr("keepdims", 1i64),
    )?;
    graph.add_node(
        Node::new("Sub")
            .named("deviation")
            .input("members")
            .input("mean_kept")
            .output("deviation"),
    )?;
    graph.add_node(
        Node::new("Mul")
            .named("squared")
            .input("deviation")
            .input("deviation")
            .output("squared"),
    )?;
    graph.add_node(
        Node::new("ReduceMean")
            .named("variance")
            .input("squared")
            .output("variance")
            .attr("axes", [1i64])
            .attr("keepdims", 0i64),
    )?;
    graph.add_node(
        Node::new("Sqrt")
            .named("std")
            .input("variance")
            .output("std"),
    )
}

/// The metadata that lets the file alone say what it predicts: format, protocol, ULC version,
/// epochs and the whole card.
fn add_metadata(
    graph: &mut OnnxGraph,
    card: &ModelCard,
    format: &str,
    feature_set: Option<&str>,
) -> Result<(), OnnxError> {
    let card_json = serde_json::to_string(card).map_err(|e| OnnxError::Invalid {
        reason: format!("model card: {e}"),
    })?;
    graph.add_metadata(META_FORMAT, format)?;
    if let Some(feature_set) = feature_set {
        graph.add_metadata(META_LAYER_FEATURES, feature_set)?;
    }
    graph.add_metadata(META_PROTOCOL, card.protocol.clone())?;
    graph.add_metadata(META_ULC_VERSION, card.ulc_version.clone())?;
    graph.add_metadata(META_EPOCHS, card.epochs.to_string())?;
    graph.add_metadata(META_CARD, card_json)?;
    Ok(())
}

/// Exports a predictor to ONNX bytes.
pub fn export_predictor(
    weights: &PredictorWeights,
    card: &ModelCard,
) -> Result<Vec<u8>, OnnxError> {
    predictor_graph(weights, card)?.to_bytes()
}

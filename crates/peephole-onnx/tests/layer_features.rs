//! Predictor format v2: a model whose LSTM reads a `layer-features-v1` row per layer beside
//! the ULC codes. The export must read back bit-identical, run in tract (an independent ONNX
//! reader) to what the native reference computes with the same rows, and refuse a card that
//! describes another input.

use peephole_ir::layer_features::{FEATURE_COUNT, LAYER_FEATURES_V1, layer_features};
use peephole_ir::text::parse_network;
use peephole_ir::ulc::encode;
use peephole_onnx::predictor::export_predictor;
use peephole_predictor::format::PREDICTOR_FORMAT_V2;
use peephole_predictor::{EMBEDDED_MODEL, ModelCard, Predictor, PredictorWeights, native};
use tract_onnx::prelude::*;

/// The embedded default: a fitted format-v2 model, with its card.
fn v2_model() -> (PredictorWeights, ModelCard) {
    let weights = PredictorWeights::from_onnx_bytes(EMBEDDED_MODEL, "<embedded>")
        .expect("embedded weights read");
    let card = Predictor::embedded()
        .expect("embedded model loads")
        .card()
        .clone();
    assert_eq!(card.format, PREDICTOR_FORMAT_V2);
    assert_eq!(card.layer_features.as_deref(), Some(LAYER_FEATURES_V1));
    (weights, card)
}

/// [`v2_model`] exported and loaded by the runtime, beside its weights and card.
fn v2_predictor() -> (PredictorWeights, ModelCard, Predictor) {
    let (weights, card) = v2_model();
    let bytes = export_predictor(&weights, &card).expect("a v2 model exports");
    let predictor = Predictor::from_bytes(&bytes, "v2.onnx").expect("the runtime reads v2");
    (weights, card, predictor)
}

#[test]
fn a_v2_export_reads_back_bit_identical() {
    let (weights, card) = v2_model();
    assert!(weights.reads_layer_features());
    let bytes = export_predictor(&weights, &card).expect("a v2 model exports");
    let again = PredictorWeights::from_onnx_bytes(&bytes, "<v2>").expect("a v2 model reads");
    assert_eq!(
        weights, again,
        "read -> export -> read must be the identity"
    );
}

#[test]
fn tract_runs_a_v2_export_as_the_native_reference_does() {
    let (weights, card) = v2_model();
    let bytes = export_predictor(&weights, &card).expect("a v2 model exports");
    let network = parse_network(
        "[1x28x28] conv7x7:16/2 relu conv3x3:2 bn relu maxpool2x2/2 conv1x1:64 sigmoid -> 10",
    )
    .expect("valid network");
    let codes = encode(&network).expect("valid shapes").codes;
    let rows = layer_features(&network).expect("valid shapes");
    let length = codes.len();
    let plan = tract_onnx::onnx()
        .model_for_read(&mut bytes.as_slice())
        .expect("tract reads the export")
        .with_input_fact(0, i64::fact([1, length, 4]).into())
        .expect("codes fact")
        .with_input_fact(1, f32::fact([1, length, FEATURE_COUNT]).into())
        .expect("features fact")
        .with_input_fact(2, i64::fact([1]).into())
        .expect("epoch fact")
        .into_optimized()
        .expect("tract optimizes the export")
        .into_runnable()
        .expect("runnable");
    let code_values: Vec<i64> = codes
        .iter()
        .flat_map(|c| c.fields())
        .map(i64::from)
        .collect();
    let feature_values: Vec<f32> = rows.iter().flatten().copied().collect();
    let outputs = plan
        .run(tvec![
            Tensor::from_shape(&[1, length, 4], &code_values)
                .expect("codes tensor")
                .into(),
            Tensor::from_shape(&[1, length, FEATURE_COUNT], &feature_values)
                .expect("features tensor")
                .into(),
            Tensor::from_shape(&[1], &[i64::from(card.epochs)])
                .expect("epoch tensor")
                .into(),
        ])
        .expect("tract runs the export");
    let mean = *outputs[0]
        .to_plain_array_view::<f32>()
        .expect("mean is f32")
        .iter()
        .next()
        .expect("one mean");
    let (reference, _) = native::predict(&weights, &codes, &rows, card.epochs);
    assert!(
        (f64::from(mean) - reference).abs() < 1e-4,
        "tract {mean} vs native {reference}"
    );
    let (without_rows, _) = native::predict(&weights, &codes, &[], card.epochs);
    assert!(
        (reference - without_rows).abs() > 1e-3,
        "the rows must change the answer for this test to mean anything: {reference} vs {without_rows}"
    );
}

#[test]
fn a_card_that_names_another_input_is_refused() {
    let (weights, mut card) = v2_model();
    card.layer_features = None;
    let error = export_predictor(&weights, &card).expect_err("a v1 card for v2 weights");
    assert!(
        error.to_string().contains(PREDICTOR_FORMAT_V2),
        "the message names the format: {error}"
    );
}

#[test]
fn the_runtime_scores_networks_with_a_v2_model_and_refuses_bare_codes() {
    let (weights, card, predictor) = v2_predictor();
    assert!(predictor.reads_layer_features());
    let network =
        parse_network("[1x28x28] conv5x5:6 relu maxpool2x2/2 conv5x5:16@valid relu -> 10")
            .expect("valid network");
    let codes = encode(&network).expect("valid shapes").codes;
    let rows = layer_features(&network).expect("valid shapes");
    let (reference, spread) = native::predict(&weights, &codes, &rows, card.epochs);
    let single = predictor.predict_final_fast(&network).expect("v2 predicts");
    let batch = predictor
        .predict_networks(&[(&network, card.epochs), (&network, 1)])
        .expect("v2 predicts a batch");
    // `predict_final_fast` scores on the native fast scorer, which sums in another order;
    // `predict_networks` runs the graph in tract, with the rows as its third input.
    assert!((single.mean - reference).abs() < 1e-5);
    assert!((single.spread - spread).abs() < 1e-5);
    assert!((batch[0].mean - reference).abs() < 1e-4);
    assert!((batch[0].spread - spread).abs() < 1e-4);
    assert_ne!(batch[0].mean, batch[1].mean, "the epoch counts");
    let error = predictor
        .predict_batch(&[(&codes, card.epochs)])
        .expect_err("codes alone say too little");
    assert!(
        matches!(
            error,
            peephole_predictor::PredictorError::NeedsNetworks { .. }
        ),
        "{error}"
    );
}

#[test]
fn a_v2_model_whose_metadata_names_other_features_is_refused() {
    let (weights, card) = v2_model();
    let bytes = export_predictor(&weights, &card).expect("a v2 model exports");
    let mut proto = <peephole_onnx::pb::ModelProto as prost::Message>::decode(bytes.as_slice())
        .expect("decodes");
    for property in &mut proto.metadata_props {
        if property.key == "peephole.layer_features" {
            property.value = "layer-features-v9".into();
        }
    }
    let edited = prost::Message::encode_to_vec(&proto);
    let error = Predictor::from_bytes(&edited, "edited.onnx").expect_err("unknown features");
    assert!(
        error.to_string().contains("layer-features-v9"),
        "the message names what it found: {error}"
    );
}

#[test]
fn networks_with_the_same_codes_but_other_widths_are_scored_apart() {
    let (weights, card, predictor) = v2_predictor();
    // 1 -> 16 and 1 -> 32 channels both code as the clamped ratio 3: one ULC sequence, and
    // the fast scorer's shared prefixes must not merge what the features tell apart.
    let texts = [
        "[1x28x28] conv3x3:16 relu conv3x3:16 relu -> 10",
        "[1x28x28] conv3x3:32 relu conv3x3:32 relu -> 10",
        "[1x28x28] conv3x3:16 relu conv3x3:16 relu maxpool2x2/2 -> 10",
    ];
    let networks: Vec<_> = texts
        .iter()
        .map(|t| parse_network(t).expect("valid network"))
        .collect();
    assert_eq!(
        encode(&networks[0]).unwrap().codes,
        encode(&networks[1]).unwrap().codes
    );
    let items: Vec<_> = networks.iter().map(|n| (n, card.epochs)).collect();
    // Two lengths in one call: tract runs one batch per length, each with its own rows.
    let batch = predictor.predict_networks(&items).expect("v2 predicts");
    for (network, prediction) in networks.iter().zip(&batch) {
        let codes = encode(network).unwrap().codes;
        let rows = layer_features(network).unwrap();
        let (reference, _) = native::predict(&weights, &codes, &rows, card.epochs);
        let fast = predictor.predict_final_fast(network).expect("v2 predicts");
        assert!(
            (prediction.mean - reference).abs() < 1e-4,
            "{network}: tract {} vs native {reference}",
            prediction.mean
        );
        assert!(
            (fast.mean - reference).abs() < 1e-5,
            "{network}: fast {} vs native {reference}",
            fast.mean
        );
    }
    assert!((batch[0].mean - batch[1].mean).abs() > 1e-6);
}

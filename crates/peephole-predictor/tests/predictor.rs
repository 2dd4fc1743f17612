//! The `Predictor` on the embedded default model (format v2: ULC codes and layer features,
//! scored from networks) and on the committed ULC-only model (format v1, scored from codes
//! too): they load, answer for real zoo networks, agree between tract and the native scorer
//! the lint uses, give the same answer in a mixed batch as one by one, and refuse bad models
//! and bad inputs with typed errors.

mod common;

use common::{ulc_only_predictor, zoo_networks};
use peephole_ir::ulc::UlcCode;
use peephole_ir::{Network, Shape};
use peephole_predictor::{META_CARD, Prediction, Predictor, PredictorError, RangeNote};
use peephole_zoo::generator::{Skeleton, network_at};
use prost::Message;

/// Each item with an epoch, cycling through 1..=epochs.
fn cycling_epochs<T>(items: &[T], epochs: u32) -> Vec<(&T, u32)> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| (item, 1 + (i as u32 % epochs)))
        .collect()
}

/// Each code sequence as a batch item, epochs cycling as [`cycling_epochs`] does.
fn code_items(sequences: &[Vec<UlcCode>], epochs: u32) -> Vec<(&[UlcCode], u32)> {
    cycling_epochs(sequences, epochs)
        .into_iter()
        .map(|(codes, epoch)| (codes.as_slice(), epoch))
        .collect()
}

fn assert_same(what: &str, a: &Prediction, b: &Prediction, tolerance: f64) {
    assert!(
        (a.mean - b.mean).abs() < tolerance && (a.spread - b.spread).abs() < tolerance,
        "{what}: {a:?} vs {b:?}"
    );
    assert_eq!(a.notes, b.notes, "{what}");
}

#[test]
fn the_embedded_default_reads_layer_features_and_the_ulc_only_model_does_not() {
    let default = Predictor::embedded().expect("embedded model loads");
    assert!(default.reads_layer_features());
    assert_eq!(
        default.card().layer_features.as_deref(),
        Some("layer-features-v1")
    );
    let paper = ulc_only_predictor();
    assert!(!paper.reads_layer_features());
    assert_eq!(paper.card().layer_features, None);
}

#[test]
fn the_embedded_model_predicts_every_zoo_network_within_the_accuracy_range() {
    let predictor = Predictor::embedded().expect("embedded model loads");
    let card = predictor.card();
    assert_eq!(card.protocol, "fmnist-budget-v1");
    let networks: Vec<Network> = zoo_networks(12).into_iter().map(|(n, _)| n).collect();
    for epoch in [1, card.epochs] {
        let items: Vec<(&Network, u32)> = networks.iter().map(|n| (n, epoch)).collect();
        for p in predictor.predict_networks(&items).expect("predicts") {
            assert!(
                (0.0..=1.0).contains(&p.mean),
                "mean {} out of range",
                p.mean
            );
            assert!(p.spread >= 0.0 && p.spread < 0.5, "spread {}", p.spread);
        }
    }
}

#[test]
fn a_mixed_length_batch_matches_one_by_one() {
    let zoo = zoo_networks(10);
    let lengths: std::collections::HashSet<usize> = zoo.iter().map(|(_, c)| c.len()).collect();
    assert!(
        lengths.len() > 1,
        "the test needs sequences of different lengths"
    );
    // The default, from networks.
    let predictor = Predictor::embedded().unwrap();
    let networks: Vec<Network> = zoo.iter().map(|(n, _)| n.clone()).collect();
    let items: Vec<(&Network, u32)> = cycling_epochs(&networks, predictor.card().epochs);
    let batch = predictor.predict_networks(&items).unwrap();
    for ((network, epoch), together) in items.iter().zip(&batch) {
        let alone = predictor.predict(network, *epoch).unwrap();
        assert_same(&network.to_string(), &alone, together, 1e-5);
    }
    // The ULC-only model, from codes.
    let paper = ulc_only_predictor();
    let sequences: Vec<Vec<UlcCode>> = zoo.into_iter().map(|(_, c)| c).collect();
    let items = code_items(&sequences, paper.card().epochs);
    let batch = paper.predict_batch(&items).unwrap();
    for ((codes, epoch), together) in items.iter().zip(&batch) {
        let alone = paper.predict_codes(codes, *epoch).unwrap();
        assert_same("ULC-only model", &alone, together, 1e-5);
    }
}

#[test]
fn the_fast_path_the_lint_uses_agrees_with_tract_and_keeps_its_checks() {
    let zoo = zoo_networks(10);
    // The default: tract runs the graph with the feature rows as its second input.
    let predictor = Predictor::embedded().unwrap();
    let epochs = predictor.card().epochs;
    for (network, _) in &zoo {
        let tract = predictor.predict_final(network).unwrap();
        let fast = predictor.predict_final_fast(network).unwrap();
        assert_same(&network.to_string(), &tract, &fast, 1e-5);
    }
    // Bare codes say too little for a model that reads layer features.
    let codes = &zoo[0].1;
    for result in [
        predictor.predict_batch_fast(&[(codes, epochs)]),
        predictor.predict_batch(&[(codes, epochs)]),
    ] {
        assert!(
            matches!(result, Err(PredictorError::NeedsNetworks { .. })),
            "{result:?}"
        );
    }
    // The ULC-only model on codes.
    let paper = ulc_only_predictor();
    let sequences: Vec<Vec<UlcCode>> = zoo.into_iter().map(|(_, c)| c).collect();
    let items = code_items(&sequences, paper.card().epochs);
    let tract = paper.predict_batch(&items).unwrap();
    let fast = paper.predict_batch_fast(&items).unwrap();
    for (t, f) in tract.iter().zip(&fast) {
        assert_same("ULC-only model", t, f, 1e-5);
    }
    let codes = &sequences[0];
    assert!(matches!(
        paper.predict_batch_fast(&[(codes, epochs + 1)]),
        Err(PredictorError::Epoch { .. })
    ));
    assert!(matches!(
        paper.predict_batch_fast(&[(&[], 1)]),
        Err(PredictorError::Length { length: 0 })
    ));
}

#[test]
fn a_network_on_other_images_gets_an_input_note() {
    let fmnist = network_at(Skeleton::FmnistV1, 1, 0).network;
    let mut cifar = fmnist.clone();
    cifar.input = Shape::new(3, 32, 32);
    let input_notes = |p: &Prediction| -> Vec<String> {
        p.notes
            .iter()
            .filter(|n| matches!(n, RangeNote::Input { .. }))
            .map(ToString::to_string)
            .collect()
    };
    let paper = ulc_only_predictor();
    for predictor in [Predictor::embedded().unwrap(), ulc_only_predictor()] {
        let epochs = predictor.card().epochs;
        let own = predictor.predict(&fmnist, epochs).unwrap();
        assert!(input_notes(&own).is_empty(), "{:?}", own.notes);
        let other = predictor.predict(&cifar, epochs).unwrap();
        let notes = input_notes(&other);
        assert_eq!(notes.len(), 1, "{:?}", other.notes);
        assert!(
            notes[0].contains("1x28x28")
                && notes[0].contains("3x32x32")
                && notes[0].contains("fmnist-budget-v1"),
            "{}",
            notes[0]
        );
    }
    // The ULC-only model reads the layer sequence alone: only the note differs. (The
    // default's features see the input's channels and size, so its answer may move.)
    let epochs = paper.card().epochs;
    assert_eq!(
        paper.predict(&cifar, epochs).unwrap().mean,
        paper.predict(&fmnist, epochs).unwrap().mean
    );
}

#[test]
fn epochs_outside_the_protocol_are_typed_errors() {
    let zoo = zoo_networks(1);
    let (network, codes) = &zoo[0];
    let predictor = Predictor::embedded().unwrap();
    let paper = ulc_only_predictor();
    for epoch in [0, predictor.card().epochs + 1] {
        for error in [
            predictor.predict(network, epoch).unwrap_err(),
            paper.predict_codes(codes, epoch).unwrap_err(),
        ] {
            assert!(matches!(error, PredictorError::Epoch { .. }), "{error}");
            assert!(error.to_string().contains("fmnist-budget-v1"));
        }
    }
    assert!(matches!(
        paper.predict_codes(&[], 1),
        Err(PredictorError::Length { length: 0 })
    ));
}

#[test]
fn truncated_and_foreign_bytes_are_errors_not_panics() {
    let bytes = peephole_predictor::EMBEDDED_MODEL;
    for cut in [0, 1, 100, bytes.len() / 2, bytes.len() - 1] {
        let result = Predictor::from_bytes(&bytes[..cut], "cut.onnx");
        let error = result.expect_err("a truncated model must not load");
        assert!(error.to_string().contains("cut.onnx"), "{error}");
    }
    let error = Predictor::from_bytes(b"not a model at all", "text.onnx").unwrap_err();
    assert!(error.to_string().contains("text.onnx"), "{error}");
}

#[test]
fn a_model_for_another_ulc_version_is_refused() {
    let bytes = with_card(|card| card["ulc_version"] = "ulc-v2".into());
    let error = Predictor::from_bytes(&bytes, "v2.onnx").unwrap_err();
    assert!(
        matches!(error, PredictorError::UlcVersion { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("ulc-v2"), "{error}");
}

#[test]
fn a_missing_file_names_the_path() {
    let error = Predictor::from_path(std::path::Path::new("/nonexistent/model.onnx")).unwrap_err();
    assert!(
        error.to_string().contains("/nonexistent/model.onnx"),
        "{error}"
    );
}

/// The embedded model with its card edited by `edit`, re-encoded.
fn with_card(edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut proto =
        peephole_onnx_proto::ModelProto::decode(peephole_predictor::EMBEDDED_MODEL).unwrap();
    let card = proto
        .metadata_props
        .iter_mut()
        .find(|p| p.key == META_CARD)
        .expect("card metadata");
    let mut json: serde_json::Value = serde_json::from_str(&card.value).unwrap();
    edit(&mut json);
    card.value = json.to_string();
    proto.encode_to_vec()
}

// `epochs = 100000` made `predict` panic inside tract (a gather past the epoch
// table), `epochs = 4294967295` made it allocate 103 GB walking every epoch.
#[test]
fn a_card_claiming_more_epochs_than_its_graph_embeds_is_refused_at_load() {
    let error = Predictor::from_bytes(&with_card(|card| card["epochs"] = 100_000.into()), "e.onnx")
        .unwrap_err();
    assert!(
        matches!(error, PredictorError::NotPredictor { .. }),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("its model card has 100000 epochs, more than the 10000"),
        "{error}"
    );
    let error = Predictor::from_bytes(
        &with_card(|card| card["epochs"] = 4_294_967_295u32.into()),
        "e.onnx",
    )
    .unwrap_err();
    assert!(error.to_string().contains("4294967295 epochs"), "{error}");
    let error =
        Predictor::from_bytes(&with_card(|card| card["epochs"] = 9.into()), "e.onnx").unwrap_err();
    assert!(
        error.to_string().contains(
            "its model card says 9 epochs, its epoch embedding has rows for epochs 1..=8 only"
        ),
        "{error}"
    );
    let fewer = Predictor::from_bytes(&with_card(|card| card["epochs"] = 4.into()), "e.onnx")
        .expect("fewer epochs fit the table");
    assert_eq!(fewer.card().epochs, 4);
}

// A graph whose output bias was shifted printed "final 997.6%" as a verdict.
#[test]
fn a_graph_answering_outside_0_to_1_is_an_error_not_a_verdict() {
    let mut proto =
        peephole_onnx_proto::ModelProto::decode(peephole_predictor::EMBEDDED_MODEL).unwrap();
    let graph = proto.graph.as_mut().expect("graph");
    let mut shifted = 0;
    for tensor in graph
        .initializer
        .iter_mut()
        .filter(|t| t.name.ends_with(".mean"))
    {
        if tensor.raw_data.is_empty() {
            tensor.float_data = vec![10.0];
        } else {
            tensor.raw_data = 10.0f32.to_le_bytes().to_vec();
        }
        shifted += 1;
    }
    assert!(
        shifted > 0,
        "the exporter names the output scaling `m{{i}}.mean`"
    );
    let predictor = Predictor::from_bytes(&proto.encode_to_vec(), "shifted.onnx").expect("loads");
    let network = peephole_ir::text::parse_network("[1x28x28] conv3x3:16 bn relu -> 10").unwrap();
    for result in [
        predictor.predict_final(&network),
        predictor.predict_final_fast(&network),
    ] {
        let error = result.expect_err("not an accuracy");
        assert!(
            matches!(error, PredictorError::NotAccuracy { .. }),
            "{error}"
        );
        assert!(error.to_string().contains("shifted.onnx"), "{error}");
    }
}

// `--model /dev/zero` grew to 7 GB in 6 s, its size read as 0.
#[cfg(unix)]
#[test]
fn a_device_as_model_or_card_file_is_refused_without_reading_it() {
    let error = Predictor::from_path(std::path::Path::new("/dev/zero")).unwrap_err();
    assert_eq!(
        error.to_string(),
        "predictor model /dev/zero: is a character device, not a regular file"
    );
    let error = peephole_predictor::ModelCard::read(std::path::Path::new("/dev/zero")).unwrap_err();
    assert_eq!(
        error.to_string(),
        "cannot read the model card /dev/zero: is a character device, not a regular file"
    );
}

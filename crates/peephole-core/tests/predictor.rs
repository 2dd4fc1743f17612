//! The tract-backed `Predictor` on the embedded default model: it loads, answers for real zoo
//! networks, gives the same answer in a mixed batch as one by one, and refuses bad models and
//! bad inputs with typed errors.

use peephole_core::generator::{Skeleton, network_at};
use peephole_core::ir::Shape;
use peephole_core::predictor::{META_CARD, Predictor, PredictorError, RangeNote};
use peephole_core::ulc::UlcCode;
use peephole_core::zoo::read_zoo;
use prost::Message;

fn zoo_codes(count: usize) -> Vec<Vec<UlcCode>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/zoo/fmnist-budget-v1.jsonl");
    let zoo = read_zoo(&path).expect("the committed zoo reads");
    zoo.records.into_iter().take(count).map(|r| r.ulc).collect()
}

/// Each sequence with an epoch, cycling through 1..=epochs.
fn cycling_epochs(sequences: &[Vec<UlcCode>], epochs: u32) -> Vec<(&[UlcCode], u32)> {
    sequences
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_slice(), 1 + (i as u32 % epochs)))
        .collect()
}

#[test]
fn the_embedded_model_predicts_every_zoo_network_within_the_accuracy_range() {
    let predictor = Predictor::embedded().expect("embedded model loads");
    let card = predictor.card();
    assert_eq!(card.protocol, "fmnist-budget-v1");
    for codes in zoo_codes(12) {
        for epoch in [1, card.epochs] {
            let p = predictor.predict_codes(&codes, epoch).expect("predicts");
            assert!(
                (-0.1..=1.1).contains(&p.mean),
                "mean {} out of range",
                p.mean
            );
            assert!(p.spread >= 0.0 && p.spread < 0.5, "spread {}", p.spread);
        }
    }
}

#[test]
fn a_mixed_length_batch_matches_one_by_one() {
    let predictor = Predictor::embedded().unwrap();
    let sequences = zoo_codes(10);
    let items = cycling_epochs(&sequences, predictor.card().epochs);
    let lengths: std::collections::HashSet<usize> = sequences.iter().map(Vec::len).collect();
    assert!(
        lengths.len() > 1,
        "the test needs sequences of different lengths"
    );
    let batch = predictor.predict_batch(&items).unwrap();
    for ((codes, epoch), together) in items.iter().zip(&batch) {
        let alone = predictor.predict_codes(codes, *epoch).unwrap();
        assert!(
            (alone.mean - together.mean).abs() < 1e-5,
            "{} vs {}",
            alone.mean,
            together.mean
        );
        assert!((alone.spread - together.spread).abs() < 1e-5);
    }
}

#[test]
fn the_fast_path_the_lint_uses_agrees_with_tract_and_keeps_its_checks() {
    let predictor = Predictor::embedded().unwrap();
    let sequences = zoo_codes(10);
    let items = cycling_epochs(&sequences, predictor.card().epochs);
    let tract = predictor.predict_batch(&items).unwrap();
    let fast = predictor.predict_batch_fast(&items).unwrap();
    for (t, f) in tract.iter().zip(&fast) {
        assert!(
            (t.mean - f.mean).abs() < 1e-5 && (t.spread - f.spread).abs() < 1e-5,
            "{t:?} vs {f:?}"
        );
        assert_eq!(t.notes, f.notes);
    }
    let codes = &sequences[0];
    let epochs = predictor.card().epochs;
    assert!(matches!(
        predictor.predict_batch_fast(&[(codes, epochs + 1)]),
        Err(PredictorError::Epoch { .. })
    ));
    assert!(matches!(
        predictor.predict_batch_fast(&[(&[], 1)]),
        Err(PredictorError::Length { length: 0 })
    ));
}

#[test]
fn a_network_on_other_images_gets_an_input_note_and_the_same_prediction() {
    let predictor = Predictor::embedded().unwrap();
    let epochs = predictor.card().epochs;
    let fmnist = network_at(Skeleton::FmnistV1, 1, 0).network;
    let own = predictor.predict(&fmnist, epochs).unwrap();
    assert!(
        !own.notes
            .iter()
            .any(|n| matches!(n, RangeNote::Input { .. })),
        "{:?}",
        own.notes
    );
    let mut cifar = fmnist.clone();
    cifar.input = Shape::new(3, 32, 32);
    let other = predictor.predict(&cifar, epochs).unwrap();
    // The layer sequence is what the model reads; only the note differs.
    assert_eq!(other.mean, own.mean);
    let note = other
        .notes
        .iter()
        .find(|n| matches!(n, RangeNote::Input { .. }))
        .expect("an input note");
    let text = note.to_string();
    assert!(
        text.contains("1x28x28") && text.contains("3x32x32") && text.contains("fmnist-budget-v1"),
        "{text}"
    );
}

#[test]
fn epochs_outside_the_protocol_are_typed_errors() {
    let predictor = Predictor::embedded().unwrap();
    let codes = &zoo_codes(1)[0];
    for epoch in [0, predictor.card().epochs + 1] {
        let error = predictor.predict_codes(codes, epoch).unwrap_err();
        assert!(matches!(error, PredictorError::Epoch { .. }), "{error}");
        assert!(error.to_string().contains("fmnist-budget-v1"));
    }
    assert!(matches!(
        predictor.predict_codes(&[], 1),
        Err(PredictorError::Length { length: 0 })
    ));
}

#[test]
fn truncated_and_foreign_bytes_are_errors_not_panics() {
    let bytes = peephole_core::predictor::EMBEDDED_MODEL;
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
        peephole_onnx_proto::ModelProto::decode(peephole_core::predictor::EMBEDDED_MODEL).unwrap();
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

// Issue 19: `epochs = 100000` made `predict` panic inside tract (a gather past the epoch
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

// Issue 19: a graph whose output bias was shifted printed "final 997.6%" as a verdict.
#[test]
fn a_graph_answering_outside_0_to_1_is_an_error_not_a_verdict() {
    let mut proto =
        peephole_onnx_proto::ModelProto::decode(peephole_core::predictor::EMBEDDED_MODEL).unwrap();
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
    let network = peephole_core::text::parse_network("[1x28x28] conv3x3:16 bn relu -> 10").unwrap();
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

// Issue 19: `--model /dev/zero` grew to 7 GB in 6 s, its size read as 0.
#[cfg(unix)]
#[test]
fn a_device_as_model_or_card_file_is_refused_without_reading_it() {
    let error = Predictor::from_path(std::path::Path::new("/dev/zero")).unwrap_err();
    assert_eq!(
        error.to_string(),
        "predictor model /dev/zero: is a character device, not a regular file"
    );
    let error =
        peephole_core::predictor::ModelCard::read(std::path::Path::new("/dev/zero")).unwrap_err();
    assert_eq!(
        error.to_string(),
        "cannot read the model card /dev/zero: is a character device, not a regular file"
    );
}

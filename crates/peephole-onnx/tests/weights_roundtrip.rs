//! `PredictorWeights::from_onnx_bytes` (in peephole-predictor) is the exact inverse of this
//! crate's predictor exporter: reading a committed model (the embedded default, format v2,
//! and the ULC-only model, format v1), exporting what was read and reading that again gives
//! bit-identical weights, and the re-export carries every initializer of the original with
//! the same values.

use peephole_onnx::pb::ModelProto;
use peephole_onnx::predictor::export_predictor;
use peephole_predictor::{EMBEDDED_MODEL, Predictor, PredictorWeights, ULC_ONLY_MODEL_PATH};
use prost::Message;

/// The committed models: the embedded default and the ULC-only one ([`ULC_ONLY_MODEL_PATH`]).
fn committed_models() -> Vec<(&'static str, Vec<u8>)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(ULC_ONLY_MODEL_PATH);
    let ulc_only = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    vec![
        ("<embedded>", EMBEDDED_MODEL.to_vec()),
        (ULC_ONLY_MODEL_PATH, ulc_only),
    ]
}

/// A model's weights and card, as read back.
fn read(name: &str, bytes: &[u8]) -> (PredictorWeights, peephole_predictor::ModelCard) {
    let weights = PredictorWeights::from_onnx_bytes(bytes, name).expect("weights read");
    let card = Predictor::from_bytes(bytes, name)
        .expect("model loads")
        .card()
        .clone();
    (weights, card)
}

#[test]
fn export_of_weights_read_from_a_model_reads_back_bit_identical() {
    for (name, bytes) in committed_models() {
        let (weights, card) = read(name, &bytes);
        let exported = export_predictor(&weights, &card).expect("weights export");
        let again =
            PredictorWeights::from_onnx_bytes(&exported, "<re-export>").expect("re-export reads");
        assert_eq!(
            weights, again,
            "{name}: read -> export -> read must be the identity"
        );
    }
}

#[test]
fn the_re_export_holds_the_original_initializers_unchanged() {
    for (name, bytes) in committed_models() {
        let (weights, card) = read(name, &bytes);
        let exported = export_predictor(&weights, &card).expect("weights export");
        let initializers = |bytes: &[u8]| {
            let proto = ModelProto::decode(bytes).expect("ONNX decodes");
            let mut tensors: Vec<(String, Vec<i64>, Vec<u8>)> = proto
                .graph
                .expect("graph")
                .initializer
                .into_iter()
                .map(|t| (t.name, t.dims, t.raw_data))
                .collect();
            tensors.sort();
            tensors
        };
        let (original, round_trip) = (initializers(&bytes), initializers(&exported));
        assert_eq!(original.len(), round_trip.len());
        for (a, b) in original.iter().zip(&round_trip) {
            assert_eq!(
                (&a.0, &a.1),
                (&b.0, &b.1),
                "same initializer names and shapes"
            );
            assert!(
                a.2 == b.2,
                "{name}: initializer {} changed in the round trip",
                a.0
            );
        }
    }
}

//! `PredictorWeights::from_onnx_bytes` (in peephole-core) is the exact inverse of this
//! crate's predictor exporter: reading the embedded model, exporting what was read and
//! reading that again gives bit-identical weights, and the re-export carries every
//! initializer of the original with the same values.

use peephole_core::predictor::{EMBEDDED_MODEL, Predictor, PredictorWeights};
use peephole_onnx::pb::ModelProto;
use peephole_onnx::predictor::export_predictor;
use prost::Message;

#[test]
fn export_of_weights_read_from_a_model_reads_back_bit_identical() {
    let weights = PredictorWeights::from_onnx_bytes(EMBEDDED_MODEL, "<embedded>")
        .expect("embedded weights read");
    let card = Predictor::embedded()
        .expect("embedded model loads")
        .card()
        .clone();
    let exported = export_predictor(&weights, &card).expect("weights export");
    let again =
        PredictorWeights::from_onnx_bytes(&exported, "<re-export>").expect("re-export reads");
    assert_eq!(
        weights, again,
        "read -> export -> read must be the identity"
    );
}

#[test]
fn the_re_export_holds_the_original_initializers_unchanged() {
    let weights = PredictorWeights::from_onnx_bytes(EMBEDDED_MODEL, "<embedded>")
        .expect("embedded weights read");
    let card = Predictor::embedded()
        .expect("embedded model loads")
        .card()
        .clone();
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
    let (original, round_trip) = (initializers(EMBEDDED_MODEL), initializers(&exported));
    assert_eq!(original.len(), round_trip.len());
    for (a, b) in original.iter().zip(&round_trip) {
        assert_eq!(
            (&a.0, &a.1),
            (&b.0, &b.1),
            "same initializer names and shapes"
        );
        assert!(a.2 == b.2, "initializer {} changed in the round trip", a.0);
    }
}

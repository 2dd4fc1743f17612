//! The committed models and zoo networks the predictor tests run on (each test file includes
//! this module, so not every item is used by every file).
#![allow(dead_code)]

use peephole_ir::Network;
use peephole_predictor::ULC_ONLY_MODEL_PATH;

/// The committed ULC-only predictor (format v1, [`ULC_ONLY_MODEL_PATH`]): the paper's
/// model, which scores bare ULC sequences. The embedded default reads layer features too and
/// scores networks only, so the tests of the codes interface run on this one.
pub fn ulc_only_model() -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(ULC_ONLY_MODEL_PATH);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// [`ulc_only_model`] loaded.
pub fn ulc_only_predictor() -> peephole_predictor::Predictor {
    peephole_predictor::Predictor::from_bytes(&ulc_only_model(), ULC_ONLY_MODEL_PATH)
        .expect("the ULC-only model loads")
}

/// The first `count` networks of the committed generator-v1 zoo, with their ULC codes.
pub fn zoo_networks(count: usize) -> Vec<(Network, Vec<peephole_ir::ulc::UlcCode>)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/zoo/fmnist-budget-v1.jsonl");
    let zoo = peephole_zoo::read_zoo(&path).expect("the committed zoo reads");
    assert!(
        zoo.records.len() >= count,
        "the committed zoo has its networks"
    );
    zoo.records
        .into_iter()
        .take(count)
        .map(|r| (r.network, r.ulc))
        .collect()
}

//! Every card the repository commits still reads now that cards refuse unknown fields: the
//! `.card.json` files beside the models and in the evaluation records, and the cards inside the
//! committed models.

use std::path::{Path, PathBuf};

use peephole_predictor::{ModelCard, Predictor};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn files(dir: &str, suffix: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(workspace().join(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.to_string_lossy().ends_with(suffix))
        .collect();
    found.sort();
    found
}

#[test]
fn every_committed_card_and_model_reads() {
    let cards: Vec<PathBuf> = [
        "data/models",
        "docs/eval",
        "crates/peephole-predictor/models",
    ]
    .into_iter()
    .flat_map(|dir| files(dir, ".card.json"))
    .collect();
    assert!(cards.len() >= 4, "{cards:?}");
    for path in cards {
        ModelCard::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    let models: Vec<PathBuf> = ["data/models", "crates/peephole-predictor/models"]
        .into_iter()
        .flat_map(|dir| files(dir, ".onnx"))
        .collect();
    assert!(models.len() >= 3, "{models:?}");
    for path in models {
        Predictor::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

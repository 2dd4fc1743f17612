//! Model cards (JSON, stored inside every predictor model): a card the predictor accepts must
//! never make it answer a NaN or a percentile outside 0..=100.

use std::time::Duration;

use peephole_predictor::ModelCard;

use super::{MIB, Target, class};

/// See the module documentation.
pub const TARGET: Target = Target {
    name: "card",
    about: "model card JSON: cards that pass ModelCard::check give finite, in-range percentiles and accuracies",
    run,
    seeds,
    mutate: None,
    dictionary: &[
        b"\"epochs\":",
        b"\"accuracy_percentiles\":",
        b"\"sequence_length\":",
        b"\"codes_seen\":",
        b"[",
        b"]",
        b",",
        b"null",
        b"1e308",
        b"-1",
        b"0.5",
        b"[]",
        b"[0.9,0.1]",
        b"\"ulc-v2\"",
    ],
    max_len: 8192,
    timeout: Duration::from_secs(5),
    allocation_limit: 64 * MIB,
};

/// The default model's card, with its long id list cut so mutations land on the fields
/// that matter.
pub fn default_card() -> ModelCard {
    let mut card: ModelCard = serde_json::from_str(include_str!(
        "../../../crates/peephole-predictor/models/default.card.json"
    ))
    .expect("the default card parses");
    card.split.test_ids.truncate(2);
    card
}

fn seeds() -> Vec<Vec<u8>> {
    let card = default_card();
    let mut short = card.clone();
    short.ranges.accuracy_percentiles = vec![0.1, 0.9];
    vec![
        serde_json::to_vec(&card).expect("a card serializes"),
        serde_json::to_vec(&short).expect("a card serializes"),
    ]
}

fn run(data: &[u8]) -> String {
    let card: ModelCard = match serde_json::from_slice(data) {
        Ok(card) => card,
        Err(error) => return format!("json {}", class(&error.to_string())),
    };
    if let Err(reason) = card.check() {
        return format!("refused {}", class(&reason.to_string()));
    }
    let ranges = &card.ranges;
    for accuracy in [
        f64::NEG_INFINITY,
        -1.0,
        0.0,
        0.1,
        0.5,
        0.85,
        1.0,
        2.0,
        f64::INFINITY,
        f64::NAN,
    ] {
        let percentile = ranges.percentile_of(accuracy);
        assert!(
            (0.0..=100.0).contains(&percentile),
            "percentile_of({accuracy}) = {percentile} for an accepted card"
        );
    }
    let low = ranges.accuracy_percentiles.first().copied().unwrap_or(0.0);
    let high = ranges.accuracy_percentiles.last().copied().unwrap_or(1.0);
    for percentile in [
        f64::NEG_INFINITY,
        -5.0,
        0.0,
        2.5,
        50.0,
        99.9,
        100.0,
        1e9,
        f64::NAN,
    ] {
        let accuracy = ranges.accuracy_at(percentile);
        assert!(
            accuracy.is_finite() && (low..=high).contains(&accuracy),
            "accuracy_at({percentile}) = {accuracy} for an accepted card"
        );
    }
    "accepted".into()
}

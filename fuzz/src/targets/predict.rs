//! Predictor inputs: any code sequences and epochs through the codes interface, on the
//! committed ULC-only model (format v1, [`ULC_ONLY_MODEL_PATH`]). Valid inputs must get
//! finite answers, invalid ones typed errors; never a NaN, never a panic. The embedded
//! default (format v2) reads layer features, which bare codes do not carry: it must refuse
//! every one of these inputs with `NeedsNetworks`.

use std::sync::OnceLock;
use std::time::Duration;

use peephole_ir::ulc::{self, UlcCode};
use peephole_predictor::{MAX_SEQUENCE, Predictor, PredictorError, ULC_ONLY_MODEL_PATH};

use super::{MIB, Target};

/// See the module documentation.
pub const TARGET: Target = Target {
    name: "predict",
    about: "predictor inputs (codes, epochs, batches) on the ULC-only model: valid input gives finite mean, spread and percentile; invalid input gives Codes/Length/Epoch errors; the default (format v2) refuses bare codes",
    run,
    seeds,
    mutate: None,
    dictionary: &[
        &[1, 5, 5, 8],
        &[2, 5, 5, 4],
        &[7, 1, 1, 4],
        &[1, 1, 1, 1],
        &[0, 0, 0, 0],
        &[0xff],
    ],
    max_len: 4 * (MAX_SEQUENCE + 8),
    timeout: Duration::from_secs(60),
    allocation_limit: 512 * MIB,
};

/// The committed ULC-only model, loaded once per process.
pub fn ulc_only() -> &'static Predictor {
    static PREDICTOR: OnceLock<Predictor> = OnceLock::new();
    PREDICTOR.get_or_init(|| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(ULC_ONLY_MODEL_PATH);
        Predictor::from_path(&path).expect("the committed ULC-only model loads")
    })
}

/// The embedded default model, loaded once per process.
fn embedded() -> &'static Predictor {
    static PREDICTOR: OnceLock<Predictor> = OnceLock::new();
    PREDICTOR.get_or_init(|| Predictor::embedded().expect("the embedded model loads"))
}

fn seeds() -> Vec<Vec<u8>> {
    // Epoch selector, sequence count, then the stem of fmnist-v1 and a block.
    let stem = [1u8, 3, 3, 8, 7, 1, 1, 4, 4, 1, 1, 4, 2, 2, 2, 4];
    let block = [1u8, 5, 5, 6, 4, 1, 1, 4, 2, 3, 3, 4, 1, 1, 1, 4];
    let mut one = vec![8, 0];
    one.extend(stem);
    one.extend(block);
    let mut two = vec![1, 1];
    two.extend(stem);
    two.extend(block);
    two.extend(block);
    vec![one, two]
}

/// The epoch a selector byte asks for: mostly in or next to the model's range.
fn epoch(selector: u8, epochs: u32) -> u32 {
    match selector {
        0xf0 => u32::MAX,
        0xf1 => epochs + 1000,
        _ => u32::from(selector) % (epochs + 2),
    }
}

fn run(data: &[u8]) -> String {
    let predictor = ulc_only();
    let epochs = predictor.card().epochs;
    let (head, body) = data.split_at(data.len().min(2));
    let epoch = epoch(head.first().copied().unwrap_or(1), epochs);
    let parts = usize::from(head.get(1).copied().unwrap_or(0) % 4) + 1;
    let codes: Vec<UlcCode> = body
        .chunks_exact(4)
        .map(|c| UlcCode {
            ty: c[0],
            kw: c[1],
            kh: c[2],
            ch: c[3],
        })
        .collect();
    let size = codes.len().div_ceil(parts).max(1);
    let mut sequences: Vec<&[UlcCode]> = codes.chunks(size).collect();
    if sequences.is_empty() {
        sequences.push(&[]);
    }
    let items: Vec<(&[UlcCode], u32)> = sequences.iter().map(|s| (*s, epoch)).collect();
    let valid = (1..=epochs).contains(&epoch)
        && sequences
            .iter()
            .all(|s| (1..=MAX_SEQUENCE).contains(&s.len()) && ulc::validate(s).is_ok());
    let refused = embedded().predict_batch_fast(&items);
    assert!(
        matches!(refused, Err(PredictorError::NeedsNetworks { .. })),
        "the default, which reads layer features, answered bare codes: {refused:?}"
    );
    match predictor.predict_batch(&items) {
        Ok(predictions) => {
            assert!(
                valid,
                "the predictor answered for invalid input (epoch {epoch}, {} sequences)",
                items.len()
            );
            assert_eq!(predictions.len(), items.len());
            for p in &predictions {
                assert!(
                    p.mean.is_finite() && p.spread.is_finite() && p.spread >= 0.0,
                    "prediction {p:?}"
                );
                let percentile = peephole_predictor::verdict::zoo_percentile(predictor, p.mean);
                assert!(
                    (0.0..=100.0).contains(&percentile),
                    "percentile {percentile} of {}",
                    p.mean
                );
                for note in &p.notes {
                    note.to_string();
                }
            }
            format!(
                "ok notes={}",
                predictions.iter().any(|p| !p.notes.is_empty())
            )
        }
        Err(error) => {
            assert!(!valid, "valid input refused: {error}");
            match error {
                PredictorError::Codes(_) => "codes".into(),
                PredictorError::Length { .. } => "length".into(),
                PredictorError::Epoch { .. } => "epoch".into(),
                other => panic!("invalid input gave {other}, not a Codes, Length or Epoch error"),
            }
        }
    }
}

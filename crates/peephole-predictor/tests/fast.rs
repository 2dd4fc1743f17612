//! The predictor's weights read back from an exported ONNX model, and the native fast
//! scorer on them: both give tract's answers on the exported model to 1e-5 for every zoo
//! network and for random valid sequences, at every instruction-set level, in batches or one
//! by one, with or without prefix sharing; bad weights and bad inputs are typed errors. The
//! codes-only checks run on the committed ULC-only model (format v1); the embedded default
//! (format v2, layer features beside the codes) is held to tract on zoo networks of both
//! generators.

mod common;

use common::{ulc_only_model, ulc_only_predictor};
use peephole_ir::Network;
use peephole_ir::layer_features::{FeatureRow, layer_features};
use peephole_ir::ulc::{UlcCode, encode};
use peephole_predictor::{
    EMBEDDED_MODEL, FastScorer, FastScorerError, Predictor, PredictorWeights, SimdLevel,
    ULC_ONLY_MODEL_PATH, WeightsError, native,
};
use peephole_zoo::generator::{Skeleton, network_at};
use peephole_zoo::read_zoo;
use prost::Message;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const TOLERANCE: f64 = 1e-5;

fn zoo_codes() -> Vec<Vec<UlcCode>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/zoo/fmnist-budget-v1.jsonl");
    let zoo = read_zoo(&path).expect("the committed zoo reads");
    assert!(
        zoo.records.len() >= 300,
        "the committed zoo has its networks"
    );
    zoo.records.into_iter().map(|r| r.ulc).collect()
}

/// A random sequence that passes `ulc::validate`: any mix of layer types, any legal fields,
/// not only what the generator would build. A few lengths only, because tract compiles a
/// plan per length and that dominates the test's time.
fn random_valid_sequence(rng: &mut ChaCha8Rng) -> Vec<UlcCode> {
    let length = [1, 2, 9, 23, 48][rng.random_range(0..5)];
    (0..length)
        .map(|_| match rng.random_range(1..=7u8) {
            1 => UlcCode {
                ty: 1,
                kw: rng.random_range(1..=5),
                kh: rng.random_range(1..=5),
                ch: rng.random_range(1..=8),
            },
            ty @ (2 | 3) => UlcCode {
                ty,
                kw: rng.random_range(2..=5),
                kh: rng.random_range(2..=5),
                ch: 4,
            },
            ty => UlcCode {
                ty,
                kw: 1,
                kh: 1,
                ch: 4,
            },
        })
        .collect()
}

fn random_sequences(count: usize, seed: u64) -> Vec<Vec<UlcCode>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..count)
        .map(|_| random_valid_sequence(&mut rng))
        .collect()
}

fn generated_sequences(count: u64, seed: u64) -> Vec<Vec<UlcCode>> {
    (0..count)
        .map(|i| {
            encode(&network_at(Skeleton::FmnistV1, seed, i).network)
                .expect("generated networks encode")
                .codes
        })
        .collect()
}

fn ulc_only_weights() -> PredictorWeights {
    PredictorWeights::from_onnx_bytes(&ulc_only_model(), ULC_ONLY_MODEL_PATH)
        .expect("the ULC-only model's weights read back")
}

/// Networks of the committed zoo files of both generators (the first `per_file` of each).
fn zoo_networks_of_both_generators(per_file: usize) -> Vec<Network> {
    ["fmnist-budget-v1.jsonl", "fmnist-budget-v1-genv2.jsonl"]
        .iter()
        .flat_map(|file| {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../data/zoo")
                .join(file);
            let zoo = read_zoo(&path).expect("the committed zoo reads");
            zoo.records.into_iter().take(per_file).map(|r| r.network)
        })
        .collect()
}

/// Every sequence at the final epoch and at epoch 1 (alternating), as batch items.
fn items(sequences: &[Vec<UlcCode>], epochs: u32) -> Vec<(&[UlcCode], u32)> {
    sequences
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_slice(), if i % 2 == 0 { epochs } else { 1 }))
        .collect()
}

fn assert_close(what: &str, got: (f64, f64), want: (f64, f64)) {
    assert!(
        (got.0 - want.0).abs() < TOLERANCE && (got.1 - want.1).abs() < TOLERANCE,
        "{what}: mean/spread {got:?}, expected {want:?}"
    );
}

#[test]
fn weights_read_from_the_ulc_only_model_predict_like_tract_on_that_model() {
    let weights = ulc_only_weights();
    let predictor = ulc_only_predictor();
    assert_eq!(
        weights.members.len(),
        predictor.card().ensemble,
        "one weight set per ensemble member"
    );
    let mut sequences = zoo_codes();
    sequences.truncate(40);
    sequences.extend(random_sequences(15, 7));
    let items = items(&sequences, predictor.card().epochs);
    let tract = predictor.predict_batch(&items).unwrap();
    for (i, ((codes, epoch), t)) in items.iter().zip(&tract).enumerate() {
        let reference = native::predict(&weights, codes, &[], *epoch);
        assert_close(
            &format!("native vs tract, sequence {i}"),
            reference,
            (t.mean, t.spread),
        );
    }
}

#[test]
fn the_fast_scorer_matches_tract_on_every_zoo_network_and_random_sequences_at_every_simd_level() {
    let weights = ulc_only_weights();
    let predictor = ulc_only_predictor();
    let mut sequences = zoo_codes();
    sequences.extend(random_sequences(150, 11));
    sequences.extend(generated_sequences(50, 99));
    let items = items(&sequences, predictor.card().epochs);
    let tract = predictor.predict_batch(&items).unwrap();
    // Every item at the level this CPU picks; a slice of them at the other levels (debug
    // builds run the kernels unoptimized, and the slice already covers every code path).
    for level in SimdLevel::all().into_iter().filter(|l| l.is_supported()) {
        let count = if level == SimdLevel::detect() {
            items.len()
        } else {
            60
        };
        let scorer = FastScorer::new(&weights).unwrap().with_simd(level).unwrap();
        assert_eq!(scorer.epochs(), predictor.card().epochs);
        let fast = scorer.score(&items[items.len() - count..]).unwrap();
        for (i, (f, t)) in fast.iter().zip(&tract[items.len() - count..]).enumerate() {
            assert_close(
                &format!("{level}, item {}", items.len() - count + i),
                (f.mean, f.spread),
                (t.mean, t.spread),
            );
        }
    }
}

#[test]
fn batches_one_by_one_threads_and_sharing_all_give_the_same_scores() {
    let weights = ulc_only_weights();
    let mut sequences = generated_sequences(150, 5);
    // Duplicates and a sequence that is a prefix of another one.
    sequences.push(sequences[3].clone());
    sequences.push(sequences[10][..sequences[10].len() - 1].to_vec());
    sequences.extend(random_sequences(60, 3));
    let items = items(&sequences, 8);
    let shared = FastScorer::new(&weights).unwrap().with_threads(3);
    let (together, stats) = shared.score_with_stats(&items).unwrap();
    assert_eq!(stats.items, items.len());
    assert!(
        stats.unique_sequences < items.len(),
        "the duplicate is scored once: {stats:?}"
    );
    assert!(
        stats.lstm_steps < stats.layers,
        "shared prefixes save LSTM steps: {stats:?}"
    );
    assert!(stats.recurrent_rows < stats.lstm_steps);
    let unshared = FastScorer::new(&weights)
        .unwrap()
        .with_threads(1)
        .with_prefix_sharing(false);
    let (apart, apart_stats) = unshared.score_with_stats(&items).unwrap();
    assert_eq!(
        apart_stats.lstm_steps, apart_stats.layers,
        "without sharing every layer is a step"
    );
    for (i, (a, b)) in together.iter().zip(&apart).enumerate() {
        assert_close(
            &format!("shared vs unshared, item {i}"),
            (a.mean, a.spread),
            (b.mean, b.spread),
        );
    }
    for (i, &(codes, epoch)) in items.iter().enumerate().step_by(7) {
        let alone = shared.score_one(codes, epoch).unwrap();
        assert_close(
            &format!("alone vs batch, item {i}"),
            (alone.mean, alone.spread),
            (together[i].mean, together[i].spread),
        );
    }
    let reference = native::predict(&weights, items[0].0, &[], items[0].1);
    assert_close(
        "fast vs native",
        (together[0].mean, together[0].spread),
        reference,
    );
}

#[test]
fn bad_inputs_are_typed_errors_naming_the_item() {
    let scorer = FastScorer::new(&ulc_only_weights()).unwrap();
    let good = generated_sequences(1, 1).remove(0);
    let error = scorer.score(&[(&good, 1), (&good, 9)]).unwrap_err();
    assert!(
        matches!(
            error,
            FastScorerError::Epoch {
                item: 1,
                epoch: 9,
                epochs: 8
            }
        ),
        "{error}"
    );
    let error = scorer.score(&[(&good, 1), (&[], 1)]).unwrap_err();
    assert!(
        matches!(error, FastScorerError::Length { item: 1, length: 0 }),
        "{error}"
    );
    let mut bad = good.clone();
    bad[2] = UlcCode {
        ty: 9,
        kw: 1,
        kh: 1,
        ch: 4,
    };
    let error = scorer.score(&[(&bad, 1)]).unwrap_err();
    assert!(
        matches!(error, FastScorerError::Codes { item: 0, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("TY = 9"), "{error}");
}

#[test]
fn mismatched_weights_are_refused_when_the_scorer_is_built() {
    let mut weights = ulc_only_weights();
    weights.members[1].lstm_b_hh.pop();
    let error = FastScorer::new(&weights).unwrap_err();
    assert!(
        matches!(
            error,
            FastScorerError::Shape {
                member: 1,
                tensor: "lstm_b_hh",
                ..
            }
        ),
        "{error}"
    );
    weights.members.clear();
    assert!(matches!(
        FastScorer::new(&weights),
        Err(FastScorerError::NoMembers)
    ));
}

#[test]
fn broken_model_files_are_typed_weight_errors() {
    let bytes = ulc_only_model();
    let error = PredictorWeights::from_onnx_bytes(&bytes[..1000], "cut.onnx").unwrap_err();
    assert!(error.to_string().contains("cut.onnx"), "{error}");
    let proto = peephole_onnx_proto::ModelProto::decode(bytes.as_slice()).unwrap();

    let mut missing = proto.clone();
    missing
        .graph
        .as_mut()
        .unwrap()
        .initializer
        .retain(|t| t.name != "m2.lstm.R");
    let error =
        PredictorWeights::from_onnx_bytes(&missing.encode_to_vec(), "missing.onnx").unwrap_err();
    assert!(
        matches!(&error, WeightsError::MissingInitializer { name, .. } if name == "m2.lstm.R"),
        "{error}"
    );

    let mut reshaped = proto.clone();
    let tensor = reshaped
        .graph
        .as_mut()
        .unwrap()
        .initializer
        .iter_mut()
        .find(|t| t.name == "m0.lstm.B")
        .unwrap();
    tensor.dims = vec![2, 640];
    let error =
        PredictorWeights::from_onnx_bytes(&reshaped.encode_to_vec(), "shape.onnx").unwrap_err();
    assert!(
        matches!(&error, WeightsError::Shape { name, .. } if name == "m0.lstm.B"),
        "{error}"
    );

    let mut scaled = proto.clone();
    let tensor = scaled
        .graph
        .as_mut()
        .unwrap()
        .initializer
        .iter_mut()
        .find(|t| t.name == "m1.std")
        .unwrap();
    tensor.raw_data = 2.5f32.to_le_bytes().to_vec();
    let error =
        PredictorWeights::from_onnx_bytes(&scaled.encode_to_vec(), "scale.onnx").unwrap_err();
    assert!(
        matches!(error, WeightsError::InconsistentScale { member: 1, .. }),
        "{error}"
    );

    let mut foreign = proto;
    foreign
        .metadata_props
        .retain(|p| p.key != "peephole.format");
    let error =
        PredictorWeights::from_onnx_bytes(&foreign.encode_to_vec(), "foreign.onnx").unwrap_err();
    assert!(
        matches!(error, WeightsError::NotPredictor { .. }),
        "{error}"
    );
}

#[test]
fn the_gate_order_is_pytorchs_after_reading() {
    // ONNX stores gates i, o, f, c; reading must undo that, so the forget gate block of
    // `lstm_w_ih` (PyTorch's second block) is ONNX's third.
    let weights = ulc_only_weights();
    let proto = peephole_onnx_proto::ModelProto::decode(ulc_only_model().as_slice()).unwrap();
    let w = proto
        .graph
        .unwrap()
        .initializer
        .into_iter()
        .find(|t| t.name == "m0.lstm.W")
        .unwrap();
    let onnx: Vec<f32> = w
        .raw_data
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let block = onnx.len() / 4;
    let torch = &weights.members[0].lstm_w_ih.data;
    assert_eq!(&torch[block..2 * block], &onnx[2 * block..3 * block], "f");
    assert_eq!(&torch[3 * block..], &onnx[block..2 * block], "o");
}

#[test]
fn the_embedded_default_on_the_fast_scorer_matches_tract_at_every_simd_level() {
    let weights = PredictorWeights::from_onnx_bytes(EMBEDDED_MODEL, "<embedded>")
        .expect("the embedded model's weights read back");
    assert!(weights.reads_layer_features());
    let predictor = Predictor::embedded().unwrap();
    let epochs = predictor.card().epochs;
    let networks = zoo_networks_of_both_generators(120);
    let items: Vec<(&Network, u32)> = networks
        .iter()
        .enumerate()
        .map(|(i, n)| (n, if i % 2 == 0 { epochs } else { 1 }))
        .collect();
    let tract = predictor.predict_networks(&items).unwrap();
    let inputs: Vec<(Vec<UlcCode>, Vec<FeatureRow>, u32)> = items
        .iter()
        .map(|&(network, epoch)| {
            let codes = encode(network).expect("zoo networks encode").codes;
            let rows = layer_features(network).expect("zoo networks have shapes");
            (codes, rows, epoch)
        })
        .collect();
    let with_rows: Vec<(&[UlcCode], &[FeatureRow], u32)> = inputs
        .iter()
        .map(|(codes, rows, epoch)| (codes.as_slice(), rows.as_slice(), *epoch))
        .collect();
    for level in SimdLevel::all().into_iter().filter(|l| l.is_supported()) {
        let count = if level == SimdLevel::detect() {
            with_rows.len()
        } else {
            60
        };
        let scorer = FastScorer::new(&weights).unwrap().with_simd(level).unwrap();
        let fast = scorer
            .score_with_features(&with_rows[with_rows.len() - count..])
            .unwrap();
        for (i, (f, t)) in fast
            .iter()
            .zip(&tract[with_rows.len() - count..])
            .enumerate()
        {
            assert_close(
                &format!("{level}, network {}", with_rows.len() - count + i),
                (f.mean, f.spread),
                (t.mean, t.spread),
            );
        }
    }
    // And the native reference on a few.
    for (i, &(codes, rows, epoch)) in with_rows.iter().enumerate().step_by(37) {
        assert_close(
            &format!("native vs tract, network {i}"),
            native::predict(&weights, codes, rows, epoch),
            (tract[i].mean, tract[i].spread),
        );
    }
}

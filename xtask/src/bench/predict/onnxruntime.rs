//! The exported predictor run by onnxruntime: the optimized general-purpose runtime the fast
//! scorer is measured against, on the very same model file.
//!
//! Only `bench predict` runs the predictor in onnxruntime, so the backend lives here, behind
//! xtask's `ort` feature (which the optimized benchmark build turns on), and loads the
//! library through `peephole-ort`, the workspace's one loader of it.

use std::sync::Mutex;

use peephole_ir::layer_features::{FEATURE_COUNT, FeatureRow};
use peephole_ir::ulc::{self, UlcCode, UlcDecodeError};
use peephole_ort::{OrtRuntime, OrtRuntimeError, ort};
use peephole_predictor::{MAX_SEQUENCE, Score, length_batches};
use thiserror::Error;

/// Why onnxruntime could not load the predictor or could not answer.
#[derive(Debug, Error)]
pub enum OrtPredictorError {
    /// The library could not be found or loaded, or refused the model.
    #[error("onnxruntime could not load the predictor {source_name}")]
    Load {
        /// Where the model came from.
        source_name: String,
        /// The loader's complaint.
        #[source]
        source: OrtRuntimeError,
    },
    /// A sequence is empty or too long.
    #[error("item {item}: a ULC sequence of {length} layers is outside 1..={MAX_SEQUENCE}")]
    Length {
        /// Index of the item.
        item: usize,
        /// Its length.
        length: usize,
    },
    /// The codes are not valid ULC v1.
    #[error("item {item}: invalid ULC sequence")]
    Codes {
        /// Index of the item.
        item: usize,
        /// The decoder's complaint.
        #[source]
        source: UlcDecodeError,
    },
    /// onnxruntime failed on a batch (for instance an epoch beyond the model's table).
    #[error("onnxruntime failed on {batch} sequences of {length} layers")]
    Run {
        /// Sequences in the failing call.
        batch: usize,
        /// Their length.
        length: usize,
        /// onnxruntime's complaint.
        #[source]
        source: ort::Error,
    },
    /// onnxruntime answered with another number of values than sequences.
    #[error(
        "onnxruntime answered {means} means and {spreads} spreads for {batch} sequences of {length} layers"
    )]
    Shape {
        /// Sequences in the call.
        batch: usize,
        /// Their length.
        length: usize,
        /// Means returned.
        means: usize,
        /// Spreads returned.
        spreads: usize,
    },
    /// Some items carry layer-feature rows and others none, or an item's rows do not match
    /// its layers: a format-v2 model reads one row per layer, a v1 model none.
    #[error("item {item}: {rows} layer-feature rows for {layers} layers")]
    Rows {
        /// Index of the item.
        item: usize,
        /// Rows given.
        rows: usize,
        /// Layers of its sequence.
        layers: usize,
    },
    /// The model answered with a non-finite number.
    #[error("item {item}: onnxruntime returned a non-finite value")]
    NotFinite {
        /// Index of the item.
        item: usize,
    },
}

/// A predictor model loaded into onnxruntime.
pub struct OrtPredictor {
    source_name: String,
    session: Mutex<ort::session::Session>,
}

impl std::fmt::Debug for OrtPredictor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrtPredictor")
            .field("source", &self.source_name)
            .finish()
    }
}

impl OrtPredictor {
    /// Loads a predictor model (the bytes of an exported `.onnx`) into the process's
    /// onnxruntime ([`OrtRuntime::get`]). `threads` sets onnxruntime's intra-op threads;
    /// `None` keeps its default (one per core).
    pub fn from_bytes(
        bytes: &[u8],
        source_name: &str,
        threads: Option<usize>,
    ) -> Result<Self, OrtPredictorError> {
        let load = |source| OrtPredictorError::Load {
            source_name: source_name.to_string(),
            source,
        };
        let session = OrtRuntime::get()
            .map_err(load)?
            .session(bytes, threads)
            .map_err(load)?;
        Ok(OrtPredictor {
            source_name: source_name.to_string(),
            session: Mutex::new(session),
        })
    }

    /// Predicts every `(sequence, layer-feature rows, epoch)` item: rows empty for every item
    /// (a format-v1 model) or one per layer for every item (v2, fed as `layer_features`). The
    /// model takes unpadded sequences, so the items are grouped by length, one run per
    /// length; results are in input order.
    pub fn predict_batch(
        &self,
        items: &[(&[UlcCode], &[FeatureRow], u32)],
    ) -> Result<Vec<Score>, OrtPredictorError> {
        let with_rows = items.first().is_some_and(|(_, rows, _)| !rows.is_empty());
        for (item, (codes, rows, _)) in items.iter().enumerate() {
            let expected = if with_rows { codes.len() } else { 0 };
            if rows.len() != expected {
                return Err(OrtPredictorError::Rows {
                    item,
                    rows: rows.len(),
                    layers: codes.len(),
                });
            }
        }
        let rows: Vec<&[FeatureRow]> = items.iter().map(|&(_, rows, _)| rows).collect();
        let items: Vec<(&[UlcCode], u32)> = items.iter().map(|&(c, _, e)| (c, e)).collect();
        let items = items.as_slice();
        for (item, (codes, _)) in items.iter().enumerate() {
            if codes.is_empty() || codes.len() > MAX_SEQUENCE {
                return Err(OrtPredictorError::Length {
                    item,
                    length: codes.len(),
                });
            }
            ulc::validate(codes).map_err(|source| OrtPredictorError::Codes { item, source })?;
        }
        let mut results: Vec<Option<Score>> = vec![None; items.len()];
        let mut session = self
            .session
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for group in length_batches(items) {
            let (length, members) = (group.length, &group.members);
            let batch = members.len();
            let run_error = |source: ort::Error| OrtPredictorError::Run {
                batch,
                length,
                source,
            };
            let (codes, epochs) = (group.codes(items), group.epochs(items));
            let codes =
                ort::value::Tensor::from_array(([batch, length, 4], codes)).map_err(run_error)?;
            let epochs = ort::value::Tensor::from_array(([batch], epochs)).map_err(run_error)?;
            let outputs = if with_rows {
                let features = ort::value::Tensor::from_array((
                    [batch, length, FEATURE_COUNT],
                    group.features(&rows),
                ))
                .map_err(run_error)?;
                session.run(ort::inputs![
                    "codes" => codes,
                    "layer_features" => features,
                    "epoch" => epochs
                ])
            } else {
                session.run(ort::inputs!["codes" => codes, "epoch" => epochs])
            }
            .map_err(run_error)?;
            let (_, mean) = outputs["mean"]
                .try_extract_tensor::<f32>()
                .map_err(run_error)?;
            let (_, spread) = outputs["std"]
                .try_extract_tensor::<f32>()
                .map_err(run_error)?;
            if mean.len() != batch || spread.len() != batch {
                return Err(OrtPredictorError::Shape {
                    batch,
                    length,
                    means: mean.len(),
                    spreads: spread.len(),
                });
            }
            for (k, &i) in members.iter().enumerate() {
                let (m, s) = (f64::from(mean[k]), f64::from(spread[k]));
                if !m.is_finite() || !s.is_finite() {
                    return Err(OrtPredictorError::NotFinite { item: i });
                }
                results[i] = Some(Score { mean: m, spread: s });
            }
        }
        results
            .into_iter()
            .enumerate()
            .map(|(item, r)| r.ok_or(OrtPredictorError::NotFinite { item }))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use peephole_ir::Network;
    use peephole_ir::layer_features::layer_features;
    use peephole_ir::ulc::encode;
    use peephole_predictor::{EMBEDDED_MODEL, Predictor, ULC_ONLY_MODEL_PATH};
    use peephole_zoo::generator::{Skeleton, network_at};

    use super::*;

    /// The committed ULC-only model (format v1).
    fn ulc_only_model() -> Vec<u8> {
        std::fs::read(crate::cargo::root().join(ULC_ONLY_MODEL_PATH))
            .expect("the committed ULC-only model reads")
    }

    #[test]
    fn onnxruntime_answers_what_tract_answers_on_mixed_lengths_in_input_order() {
        // Both formats: the embedded default reads layer features, the ULC-only model none.
        for (bytes, name) in [
            (EMBEDDED_MODEL.to_vec(), "<embedded>"),
            (ulc_only_model(), ULC_ONLY_MODEL_PATH),
        ] {
            let predictor = Predictor::from_bytes(&bytes, name).expect("the model loads");
            let epoch = predictor.card().epochs;
            let networks: Vec<_> = (0..12)
                .map(|i| network_at(Skeleton::FmnistV1, 2024, i).network)
                .collect();
            let inputs: Vec<(Vec<UlcCode>, Vec<FeatureRow>)> = networks
                .iter()
                .map(|n| {
                    let codes = encode(n).expect("generated networks encode").codes;
                    let rows = if predictor.reads_layer_features() {
                        layer_features(n).expect("generated networks have shapes")
                    } else {
                        Vec::new()
                    };
                    (codes, rows)
                })
                .collect();
            let items: Vec<(&[UlcCode], &[FeatureRow], u32)> = inputs
                .iter()
                .map(|(codes, rows)| (codes.as_slice(), rows.as_slice(), epoch))
                .collect();
            let ort = OrtPredictor::from_bytes(&bytes, name, Some(1))
                .unwrap_or_else(|e| panic!("onnxruntime is required (cargo xtask setup): {e:?}"));
            let answers = ort.predict_batch(&items).expect("onnxruntime answers");
            let pairs: Vec<(&Network, u32)> = networks.iter().map(|n| (n, epoch)).collect();
            let expected = predictor.predict_networks(&pairs).expect("tract answers");
            assert_eq!(answers.len(), expected.len());
            for (item, (got, want)) in answers.iter().zip(&expected).enumerate() {
                assert!(
                    (got.mean - want.mean).abs() < 1e-5 && (got.spread - want.spread).abs() < 1e-5,
                    "{name}, item {item}: onnxruntime {got:?}, tract {want:?}"
                );
            }
        }
    }

    #[test]
    fn an_empty_sequence_is_refused_with_its_index() {
        let ort = OrtPredictor::from_bytes(EMBEDDED_MODEL, "<embedded>", Some(1))
            .unwrap_or_else(|e| panic!("onnxruntime is required (cargo xtask setup): {e:?}"));
        let error = ort
            .predict_batch(&[(&[], &[], 1)])
            .expect_err("empty is refused");
        assert!(
            matches!(error, OrtPredictorError::Length { item: 0, length: 0 }),
            "{error:?}"
        );
    }
}

//! The exported predictor run by onnxruntime: the optimized general-purpose runtime the fast
//! scorer is measured against, on the very same model file.
//!
//! onnxruntime is a native library, so this backend exists only with the crate's `ort`
//! feature (loaded at run time from a path the caller gives). Without the feature the type
//! still exists, so tools compile either way, but it cannot be constructed: `from_bytes`
//! says which feature is missing.

use std::path::{Path, PathBuf};

use thiserror::Error;

use super::Score;
use crate::ulc::{UlcCode, UlcDecodeError};

/// Whether this build has the onnxruntime backend (the `ort` feature).
pub const ORT_BUILT: bool = cfg!(feature = "ort");

/// Why onnxruntime could not load the predictor or could not answer.
#[derive(Debug, Error)]
pub enum OrtPredictorError {
    /// This build was made without the `ort` feature.
    #[error(
        "this build of peephole-core has no onnxruntime backend; build it with the `ort` feature"
    )]
    NotBuilt,
    /// The library could not be loaded or its environment not created.
    #[error("could not load onnxruntime from {path}: {message}")]
    Load {
        /// The library file.
        path: PathBuf,
        /// The loader's message.
        message: String,
    },
    /// onnxruntime refused the session options or the model.
    #[error("onnxruntime could not load the predictor {source_name}: {message}")]
    Session {
        /// Where the model came from.
        source_name: String,
        /// onnxruntime's message.
        message: String,
    },
    /// A sequence is empty or too long.
    #[error(
        "item {item}: a ULC sequence of {length} layers is outside 1..={}",
        super::MAX_SEQUENCE
    )]
    Length {
        /// Index of the item.
        item: usize,
        /// Its length.
        length: usize,
    },
    /// The codes are not valid ULC v1.
    #[error("item {item}: invalid ULC sequence: {source}")]
    Codes {
        /// Index of the item.
        item: usize,
        /// The decoder's complaint.
        source: UlcDecodeError,
    },
    /// onnxruntime failed on a batch (for instance an epoch beyond the model's table).
    #[error("onnxruntime failed on {batch} sequences of {length} layers: {message}")]
    Run {
        /// Sequences in the failing call.
        batch: usize,
        /// Their length.
        length: usize,
        /// onnxruntime's message.
        message: String,
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
    #[cfg(feature = "ort")]
    session: std::sync::Mutex<ort::session::Session>,
    /// Without the backend no value of this type can exist.
    #[cfg(not(feature = "ort"))]
    never: std::convert::Infallible,
}

impl std::fmt::Debug for OrtPredictor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrtPredictor")
            .field("source", &self.source_name)
            .finish()
    }
}

/// The process's one onnxruntime environment (onnxruntime allows one per process).
#[cfg(feature = "ort")]
fn environment(
    library: &Path,
) -> Result<&'static ort::environment::Environment, OrtPredictorError> {
    use std::sync::OnceLock;
    static ENVIRONMENT: OnceLock<Result<ort::environment::Environment, (PathBuf, String)>> =
        OnceLock::new();
    ENVIRONMENT
        .get_or_init(|| {
            let failed = |e: String| (library.to_path_buf(), e);
            ort::init_from(library)
                .map_err(|e| failed(e.to_string()))?
                .with_name("peephole-fast")
                .with_telemetry(false)
                .build()
                .map_err(|e| failed(e.to_string()))
        })
        .as_ref()
        .map_err(|(path, message)| OrtPredictorError::Load {
            path: path.clone(),
            message: message.clone(),
        })
}

impl OrtPredictor {
    /// Loads a predictor model (the bytes of an exported `.onnx`) into onnxruntime, the
    /// library being `library` (the first call of the process decides which library is
    /// used). `threads` sets onnxruntime's intra-op threads; `None` keeps its default (one
    /// per core).
    pub fn from_bytes(
        bytes: &[u8],
        source_name: &str,
        library: &Path,
        threads: Option<usize>,
    ) -> Result<Self, OrtPredictorError> {
        #[cfg(feature = "ort")]
        {
            let session_error = |message: String| OrtPredictorError::Session {
                source_name: source_name.to_string(),
                message,
            };
            let mut builder = ort::session::Session::builder(environment(library)?)
                .map_err(|e| session_error(e.to_string()))?;
            if let Some(threads) = threads {
                builder = builder
                    .with_intra_threads(threads)
                    .map_err(|e| session_error(e.to_string()))?;
            }
            let session = builder
                .commit_from_memory(bytes)
                .map_err(|e| session_error(e.to_string()))?;
            Ok(OrtPredictor {
                source_name: source_name.to_string(),
                session: std::sync::Mutex::new(session),
            })
        }
        #[cfg(not(feature = "ort"))]
        {
            let _ = (bytes, source_name, library, threads);
            Err(OrtPredictorError::NotBuilt)
        }
    }

    /// Where the model came from.
    pub fn source_name(&self) -> &str {
        &self.source_name
    }

    /// Predicts every `(sequence, epoch)` item. The model takes unpadded sequences, so the
    /// items are grouped by length, one run per length; results are in input order.
    pub fn predict_batch(
        &self,
        items: &[(&[UlcCode], u32)],
    ) -> Result<Vec<Score>, OrtPredictorError> {
        for (item, (codes, _)) in items.iter().enumerate() {
            if codes.is_empty() || codes.len() > super::MAX_SEQUENCE {
                return Err(OrtPredictorError::Length {
                    item,
                    length: codes.len(),
                });
            }
            crate::ulc::validate(codes)
                .map_err(|source| OrtPredictorError::Codes { item, source })?;
        }
        self.run_groups(items)
    }

    #[cfg(feature = "ort")]
    fn run_groups(&self, items: &[(&[UlcCode], u32)]) -> Result<Vec<Score>, OrtPredictorError> {
        let mut groups: std::collections::BTreeMap<usize, Vec<usize>> =
            std::collections::BTreeMap::new();
        for (index, (codes, _)) in items.iter().enumerate() {
            groups.entry(codes.len()).or_default().push(index);
        }
        let mut results: Vec<Option<Score>> = vec![None; items.len()];
        let mut session = self
            .session
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for (length, members) in groups {
            let batch = members.len();
            let run_error = |message: String| OrtPredictorError::Run {
                batch,
                length,
                message,
            };
            let codes: Vec<i64> = members
                .iter()
                .flat_map(|&i| items[i].0.iter().flat_map(|c| c.fields()).map(i64::from))
                .collect();
            let epochs: Vec<i64> = members.iter().map(|&i| i64::from(items[i].1)).collect();
            let codes = ort::value::Tensor::from_array(([batch, length, 4], codes))
                .map_err(|e| run_error(e.to_string()))?;
            let epochs = ort::value::Tensor::from_array(([batch], epochs))
                .map_err(|e| run_error(e.to_string()))?;
            let outputs = session
                .run(ort::inputs!["codes" => codes, "epoch" => epochs])
                .map_err(|e| run_error(e.to_string()))?;
            let (_, mean) = outputs["mean"]
                .try_extract_tensor::<f32>()
                .map_err(|e| run_error(e.to_string()))?;
            let (_, spread) = outputs["std"]
                .try_extract_tensor::<f32>()
                .map_err(|e| run_error(e.to_string()))?;
            if mean.len() != batch || spread.len() != batch {
                return Err(run_error(format!(
                    "{} means and {} spreads for {batch} sequences",
                    mean.len(),
                    spread.len()
                )));
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

    #[cfg(not(feature = "ort"))]
    fn run_groups(&self, _items: &[(&[UlcCode], u32)]) -> Result<Vec<Score>, OrtPredictorError> {
        match self.never {}
    }
}

//! The model-based check of `peephole_check!`: which predictor a network asks for, loading it
//! once per process, and turning a poor verdict of `peephole_predictor::verdict` into a
//! finding.
//!
//! Which model: `#[peephole(model = "path")]` on the network, else the `PEEPHOLE_MODEL`
//! environment variable (or whatever a tool puts in its place, see [`ModelContext`]), else the
//! default model embedded in peephole-predictor. Relative paths are relative to the crate's
//! manifest directory.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use crate::lints::{Diagnostic, Lint};
use peephole_predictor::verdict::{self, Threshold};
use peephole_predictor::{Predictor, PredictorError};
use proc_macro2::Span;

use crate::lower::Lowered;

/// The environment variable that chooses a predictor model for every check in a build.
pub const MODEL_ENV: &str = "PEEPHOLE_MODEL";

/// Where the model comes from, as the user chose it; also the key of the per-process cache.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ModelSource {
    /// The default model compiled into peephole-predictor.
    Embedded,
    /// A model file, already resolved against the manifest directory.
    File(PathBuf),
}

impl ModelSource {
    /// How errors name the model: `the embedded default predictor` or `predictor PATH`.
    pub fn describe(&self) -> String {
        match self {
            ModelSource::Embedded => "the embedded default predictor".to_string(),
            // A path from a source file or the environment: escaped for the terminal.
            ModelSource::File(path) => {
                format!(
                    "predictor {}",
                    peephole_io::escape(&path.display().to_string())
                )
            }
        }
    }
}

/// What decides a network's model besides its own `model = "..."`: the directory relative
/// paths start from and the build-wide default. The macro reads both from its environment
/// ([`ModelContext::from_env`]); `cargo peephole check` finds the crate of each file and takes
/// the default from `--model` or the same variable, so both pick the same model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelContext {
    /// The crate's manifest directory (`CARGO_MANIFEST_DIR` at build time).
    pub manifest_dir: Option<PathBuf>,
    /// The model for networks that do not name one (`PEEPHOLE_MODEL` at build time).
    pub default_model: Option<DefaultModel>,
}

/// A model chosen for every network that does not name its own, and who chose it, so that an
/// error loading it sends the user to the right place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultModel {
    /// As written: relative to the manifest directory unless absolute.
    pub path: PathBuf,
    /// Completes "chosen by ...": `the environment variable PEEPHOLE_MODEL`, `--model`.
    pub chosen_by: String,
}

impl ModelContext {
    /// The context of a build: `CARGO_MANIFEST_DIR` and `PEEPHOLE_MODEL` (blank means unset).
    pub fn from_env() -> Self {
        ModelContext {
            manifest_dir: std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from),
            default_model: DefaultModel::from_env(),
        }
    }

    fn resolve(&self, path: &Path) -> PathBuf {
        match &self.manifest_dir {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path.to_path_buf(),
        }
    }

    /// The model `network` asks for, and the span an error about it points at.
    pub fn source(&self, network: &Lowered) -> (ModelSource, Span) {
        if let Some(literal) = &network.predictor.model {
            return (
                ModelSource::File(self.resolve(Path::new(&literal.value()))),
                literal.span(),
            );
        }
        (self.default_source(), network.name_span)
    }

    /// The model of a network that does not name one: the default model, else the embedded
    /// one. Also what `cargo peephole predict` uses for networks given as text.
    pub fn default_source(&self) -> ModelSource {
        match &self.default_model {
            Some(default) => ModelSource::File(self.resolve(&default.path)),
            None => ModelSource::Embedded,
        }
    }
}

impl DefaultModel {
    /// `PEEPHOLE_MODEL`, `None` when unset or blank.
    pub fn from_env() -> Option<Self> {
        let path = std::env::var(MODEL_ENV).ok()?.trim().to_string();
        (!path.is_empty()).then(|| DefaultModel {
            path: PathBuf::from(path),
            chosen_by: format!("the environment variable {MODEL_ENV}"),
        })
    }
}

/// Predictors already loaded in this process: loading and compiling the graph is the
/// expensive part, and a crate with twenty checked networks should pay it once.
fn cache() -> &'static Mutex<HashMap<ModelSource, Arc<Predictor>>> {
    static CACHE: OnceLock<Mutex<HashMap<ModelSource, Arc<Predictor>>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The predictor of `source`, loaded at most once per process (failures are not cached, so
/// a fixed file is picked up by the next attempt).
pub fn load(source: &ModelSource) -> Result<Arc<Predictor>, PredictorError> {
    // A panic while loading leaves at worst a missing entry, so a poisoned cache is usable.
    let mut cache = cache().lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(predictor) = cache.get(source) {
        return Ok(predictor.clone());
    }
    let predictor = Arc::new(match source {
        ModelSource::Embedded => Predictor::embedded(),
        ModelSource::File(path) => Predictor::from_path(path),
    }?);
    cache.insert(source.clone(), predictor.clone());
    Ok(predictor)
}

/// The predictor's finding for one network: `predicted_accuracy` when the predicted final
/// accuracy is below the threshold; else `outside_training` when the network is outside what
/// the model saw in training (other images, unseen codes: the prediction may be far off
/// either way), its own lint so that allowing it never hides a real verdict and allowing
/// `predicted_accuracy` never hides it; nothing otherwise. A model that cannot be loaded or cannot answer is
/// an error at the `model = ...` literal (or the network's name), since the user asked for a
/// check that cannot run.
pub(crate) fn findings(network: &Lowered, context: &ModelContext) -> syn::Result<Vec<Diagnostic>> {
    let (source, span) = context.source(network);
    let which = source.describe();
    let predictor = load(&source).map_err(|reason| {
        let hint = match (&context.default_model, &network.predictor.model) {
            (Some(default), None) => format!(" (chosen by {})", default.chosen_by),
            _ => String::new(),
        };
        syn::Error::new(
            span,
            format!("peephole: cannot load {which}{hint}: {reason}"),
        )
    })?;
    let threshold = match &network.predictor.min_accuracy {
        Some((accuracy, _)) => Threshold::Accuracy(*accuracy),
        None => Threshold::default(),
    };
    let verdict = verdict::verdict(&predictor, &network.network, threshold).map_err(|error| {
        syn::Error::new(
            network.name_span,
            format!("peephole: {which} cannot score this network: {error}"),
        )
    })?;
    let (lint, help) = if verdict.is_poor() {
        (Lint::PredictedAccuracy, verdict.help(&network.network))
    } else if !verdict.prediction.notes.is_empty() {
        (Lint::OutsideTraining, None)
    } else {
        return Ok(Vec::new());
    };
    let mut message = verdict.message();
    if let Some(words) = verdict
        .protocol_in_plain_words()
        .filter(|_| first_mention(&verdict.protocol))
    {
        message.push_str(&format!("\nnote: {words}"));
    }
    Ok(vec![Diagnostic {
        lint,
        layer: None,
        message,
        help,
    }])
}

/// True the first time this process shows a verdict under `protocol`: the protocol is said in
/// plain words once, beside the first verdict, not on every warning. Under cargo a proc
/// macro runs in the compiler's process for one crate, so that is once per crate;
/// `cargo peephole check` says it once per run.
fn first_mention(protocol: &str) -> bool {
    static MENTIONED: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    MENTIONED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(protocol.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::Declaration;
    use crate::lower;

    fn lowered(source: &str) -> Lowered {
        let decl: Declaration = syn::parse_str(source).expect("parses");
        let Some(Ok(decl)) = decl.networks.into_iter().next() else {
            panic!("no network");
        };
        lower::network(&decl).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_networks_own_model_wins_over_the_default_and_both_resolve_against_the_crate() {
        let context = ModelContext {
            manifest_dir: Some(PathBuf::from("/crate")),
            default_model: Some(DefaultModel {
                path: PathBuf::from("env.onnx"),
                chosen_by: "--model".into(),
            }),
        };
        let own = lowered(
            r#"#[peephole(model = "models/own.onnx")] struct N: [1, 8, 8] -> 10 { conv(3, 8), relu }"#,
        );
        assert_eq!(
            context.source(&own).0,
            ModelSource::File(PathBuf::from("/crate/models/own.onnx"))
        );
        let plain = lowered("struct N: [1, 8, 8] -> 10 { conv(3, 8), relu }");
        assert_eq!(
            context.source(&plain).0,
            ModelSource::File(PathBuf::from("/crate/env.onnx"))
        );
        let absolute = ModelContext {
            default_model: Some(DefaultModel {
                path: PathBuf::from("/abs.onnx"),
                chosen_by: "--model".into(),
            }),
            ..context
        };
        assert_eq!(
            absolute.source(&plain).0,
            ModelSource::File(PathBuf::from("/abs.onnx"))
        );
        assert_eq!(
            ModelContext::default().source(&plain).0,
            ModelSource::Embedded
        );
    }

    #[test]
    fn a_missing_model_file_is_an_error_naming_it_and_who_chose_it() {
        let context = ModelContext {
            manifest_dir: None,
            default_model: Some(DefaultModel {
                path: PathBuf::from("/no/such/model.onnx"),
                chosen_by: format!("the environment variable {MODEL_ENV}"),
            }),
        };
        let plain = lowered("struct N: [1, 8, 8] -> 10 { conv(3, 8), relu }");
        let error = findings(&plain, &context)
            .expect_err("cannot load")
            .to_string();
        assert!(error.starts_with("peephole: cannot load predictor /no/such/model.onnx (chosen by the environment variable PEEPHOLE_MODEL): "), "{error}");
    }

    // `predicted_accuracy` fired for every network the model could not vouch for,
    // even with `min_accuracy = 0.0`, so silencing it hid real verdicts too.
    #[test]
    fn a_passing_network_outside_training_gets_only_outside_training() {
        let short = lowered(
            "#[peephole(min_accuracy = 0.0)] struct Short: [3, 32, 32] -> 10 { conv(3x3, 16), relu, maxpool(2, stride = 2) }",
        );
        let found = findings(&short, &ModelContext::default()).expect("the embedded model runs");
        let lints: Vec<Lint> = found.iter().map(|f| f.lint).collect();
        assert_eq!(lints, [Lint::OutsideTraining]);
        assert!(
            found[0]
                .message
                .contains("note: outside what the model saw"),
            "{}",
            found[0].message
        );
        assert!(
            found[0].message.starts_with("would rank above "),
            "{}",
            found[0].message
        );
        assert!(found[0].help.is_none());
    }

    #[test]
    fn the_protocol_is_said_in_plain_words_once_per_process() {
        assert!(first_mention("a-protocol-only-this-test-names"));
        assert!(!first_mention("a-protocol-only-this-test-names"));
        assert!(first_mention("another-protocol-only-this-test-names"));
    }

    #[test]
    fn loading_twice_returns_the_cached_predictor() {
        let first = load(&ModelSource::Embedded).expect("embedded model");
        let second = load(&ModelSource::Embedded).expect("embedded model");
        assert!(Arc::ptr_eq(&first, &second));
    }
}

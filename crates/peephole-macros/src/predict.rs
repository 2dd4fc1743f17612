//! The model-based check of `peephole_check!`: loads the predictor once per compiler process,
//! asks `peephole_core::predictor::advice` for a verdict, and turns a poor one into a finding.
//!
//! Which model: `#[peephole(model = "path")]` on the network, else the `PEEPHOLE_MODEL`
//! environment variable, else the default model embedded in peephole-core. Relative paths are
//! relative to the crate being compiled (its `CARGO_MANIFEST_DIR`). The expansion names the
//! model file and the variable (see [`tracking`]) so cargo rebuilds when either changes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use peephole_core::predictor::Predictor;
use peephole_core::predictor::advice::{self, Threshold};
use proc_macro2::{Span, TokenStream};
use quote::quote;

use crate::check::Finding;
use crate::lower::Lowered;

/// The environment variable that chooses a predictor model for every check in a build.
pub(crate) const MODEL_ENV: &str = "PEEPHOLE_MODEL";

/// Name of the predictor's warning; users allow it like any lint.
pub(crate) const PREDICTED_ACCURACY: &str = "predicted_accuracy";

/// Where the model comes from, as the user chose it.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Source {
    Embedded,
    File(PathBuf),
}

/// Predictors already loaded in this compiler process: loading and compiling the graph is the
/// expensive part, and a crate with twenty checked networks should pay it once.
fn cache() -> &'static Mutex<HashMap<Source, Arc<Predictor>>> {
    static CACHE: OnceLock<Mutex<HashMap<Source, Arc<Predictor>>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

fn resolve(path: &str) -> PathBuf {
    let path = PathBuf::from(path);
    if path.is_absolute() {
        return path;
    }
    match std::env::var_os("CARGO_MANIFEST_DIR") {
        Some(dir) => PathBuf::from(dir).join(path),
        None => path,
    }
}

/// The model a network asks for and the span an error about it points at.
fn source(network: &Lowered) -> (Source, Span) {
    if let Some(literal) = &network.predictor.model {
        return (Source::File(resolve(&literal.value())), literal.span());
    }
    match std::env::var(MODEL_ENV) {
        Ok(path) if !path.trim().is_empty() => (Source::File(resolve(path.trim())), network.name_span),
        _ => (Source::Embedded, network.name_span),
    }
}

fn load(source: &Source) -> Result<Arc<Predictor>, String> {
    let mut cache = cache().lock().map_err(|_| "the predictor cache is poisoned".to_string())?;
    if let Some(predictor) = cache.get(source) {
        return Ok(predictor.clone());
    }
    let predictor = match source {
        Source::Embedded => Predictor::embedded(),
        Source::File(path) => Predictor::from_path(path),
    }
    .map_err(|error| error.to_string())?;
    let predictor = Arc::new(predictor);
    cache.insert(source.clone(), predictor.clone());
    Ok(predictor)
}

/// The predictor's finding for one network: a warning when the predicted final accuracy is
/// below the threshold, nothing otherwise. A model that cannot be loaded or cannot answer is
/// a compile error at the `model = ...` literal (or the network's name), since the user asked
/// for a check that cannot run.
pub(crate) fn findings(network: &Lowered) -> syn::Result<Vec<Finding>> {
    let (source, span) = source(network);
    let which = match &source {
        Source::Embedded => "the embedded default predictor".to_string(),
        Source::File(path) => format!("predictor {}", path.display()),
    };
    let predictor = load(&source).map_err(|reason| {
        let hint = match &source {
            Source::File(_) if network.predictor.model.is_none() => {
                format!(" (chosen by the environment variable {MODEL_ENV})")
            }
            _ => String::new(),
        };
        syn::Error::new(span, format!("peephole: cannot load {which}{hint}: {reason}"))
    })?;
    let threshold = match &network.predictor.min_accuracy {
        Some((accuracy, _)) => Threshold::Accuracy(*accuracy),
        None => Threshold::default(),
    };
    let verdict = advice::verdict(&predictor, &network.network, threshold)
        .map_err(|error| syn::Error::new(network.name_span, format!("peephole: {which} cannot score this network: {error}")))?;
    if !verdict.is_poor() {
        return Ok(Vec::new());
    }
    Ok(vec![Finding {
        name: PREDICTED_ACCURACY,
        layer: None,
        message: verdict.message(),
        help: verdict.help(&network.network),
    }])
}

/// Items that make cargo rebuild the crate when the model file or `PEEPHOLE_MODEL` changes:
/// `include_bytes!` records the file and `option_env!` the variable in rustc's dep-info.
/// Neither ends up in the user's binary (unused anonymous consts).
pub(crate) fn tracking(network: &Lowered) -> TokenStream {
    let file = match source(network).0 {
        Source::File(path) => {
            let path = path.display().to_string();
            quote! { const _: &[u8] = ::core::include_bytes!(#path); }
        }
        Source::Embedded => TokenStream::new(),
    };
    quote! {
        const _: ::core::option::Option<&str> = ::core::option_env!(#MODEL_ENV);
        #file
    }
}

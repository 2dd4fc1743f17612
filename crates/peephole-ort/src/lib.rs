//! onnxruntime, found and loaded once per process: the workspace's one loader of it, shared
//! by the trainer's export parity tests and `cargo xtask bench predict`'s onnxruntime backend.
//! The library comes from the Python venv that `cargo xtask setup` creates (or from
//! `ORT_DYLIB_PATH`), never from a download.
//!
//! A crate of its own so that nothing else has to know `ort`: the trainer needs it only in its
//! tests, xtask only in its optimized benchmark build, and `peephole-predictor` (compiled into
//! every user's build through the lint) never.
//!
//! `ort` allows one environment per process and keeps only a weak reference to it, so the
//! environment lives in a process-wide static here and every session is built from it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use ort::environment::Environment;
use ort::session::Session;
use ort::session::builder::SessionBuilder;
use thiserror::Error;

/// The `ort` crate this loader was built with, so that callers build tensors and sessions
/// with the very version (and features) that loaded the library.
pub use ort;

/// Environment variable naming the onnxruntime library explicitly; it wins over the venv
/// search (ort's own convention, so one setting serves both).
pub const ORT_DYLIB_ENV: &str = "ORT_DYLIB_PATH";

/// Why onnxruntime is not usable. `Clone` (the causes behind an `Arc`) because the outcome of
/// loading is cached for the whole process and every caller gets the same answer.
#[derive(Debug, Clone, Error)]
pub enum OrtRuntimeError {
    /// Neither `ORT_DYLIB_PATH` nor any venv leads to the library.
    #[error(
        "onnxruntime was not found: {}no .venv/libonnxruntime.so or .venv/lib/python*/site-packages/onnxruntime/capi/libonnxruntime.* under {}; run `cargo xtask setup` to install it into .venv (CI does), or set {ORT_DYLIB_ENV} to the library",
        display_env(.env_path.as_deref()),
        display_paths(.searched)
    )]
    NotFound {
        /// `ORT_DYLIB_PATH` when it was set but named nothing.
        env_path: Option<PathBuf>,
        /// The directories whose `.venv` was searched.
        searched: Vec<PathBuf>,
    },
    /// The library is there but could not be loaded (wrong version, wrong architecture).
    #[error("could not load onnxruntime from {}", .path.display())]
    Load {
        /// The library file.
        path: PathBuf,
        /// The loader's complaint.
        #[source]
        source: Arc<ort::LoadDynamicError>,
    },
    /// onnxruntime loaded but its environment could not be created.
    #[error("could not create the onnxruntime environment ({})", .path.display())]
    Environment {
        /// The library file.
        path: PathBuf,
        /// onnxruntime's complaint.
        #[source]
        source: Arc<ort::Error>,
    },
    /// onnxruntime refused the session options or the model.
    #[error("onnxruntime could not create a session")]
    Session {
        /// onnxruntime's complaint.
        #[source]
        source: Arc<ort::Error>,
    },
}

fn display_env(path: Option<&Path>) -> String {
    path.map(|p| {
        format!(
            "{ORT_DYLIB_ENV} names {}, which does not exist; ",
            p.display()
        )
    })
    .unwrap_or_default()
}

fn display_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// True for the main onnxruntime library (not `libonnxruntime_providers_shared.so`).
fn is_onnxruntime_library(name: &str) -> bool {
    if cfg!(target_os = "macos") {
        name.starts_with("libonnxruntime.") && name.ends_with(".dylib")
    } else if cfg!(windows) {
        name == "onnxruntime.dll"
    } else {
        name.starts_with("libonnxruntime.so")
    }
}

/// The onnxruntime library inside one venv, if the wheel is installed there.
fn library_in_venv(venv: &Path) -> Option<PathBuf> {
    // `cargo xtask setup` links the wheel's library here, as it does .venv/libtorch.
    let link = venv.join(if cfg!(target_os = "macos") {
        "libonnxruntime.dylib"
    } else {
        "libonnxruntime.so"
    });
    if link.exists() {
        return Some(link);
    }
    // Unix venvs: lib/python3.X/site-packages; Windows venvs: Lib/site-packages.
    let mut site_packages: Vec<PathBuf> = std::fs::read_dir(venv.join("lib"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().starts_with("python"))
        .map(|entry| entry.path().join("site-packages"))
        .collect();
    site_packages.sort();
    site_packages.push(venv.join("Lib").join("site-packages"));
    site_packages.iter().rev().find_map(|site| {
        let capi = site.join("onnxruntime").join("capi");
        let mut libraries: Vec<PathBuf> = std::fs::read_dir(&capi)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|entry| is_onnxruntime_library(&entry.file_name().to_string_lossy()))
            .map(|entry| entry.path())
            .collect();
        // The longest name is the fully versioned file, not a symlink to it.
        libraries.sort_by_key(|p| (p.as_os_str().len(), p.clone()));
        libraries.pop()
    })
}

/// Where onnxruntime is: `ORT_DYLIB_PATH` when it names an existing file; otherwise the
/// `.venv` of `$VIRTUAL_ENV`, of the current directory or one of its ancestors, then of this
/// workspace (where `cargo xtask setup` puts it; found even when a test runs from a crate
/// directory).
///
/// A set but dangling `ORT_DYLIB_PATH` falls through to the search rather than failing:
/// `.cargo/config.toml` sets it to the link `cargo xtask setup` creates, which an older
/// setup did not make, while the wheel itself is there. It is named in the error when the
/// search finds nothing either.
pub fn locate_onnxruntime() -> Result<PathBuf, OrtRuntimeError> {
    let mut env_path = None;
    if let Some(path) = std::env::var_os(ORT_DYLIB_ENV).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        if path.exists() {
            return Ok(path);
        }
        env_path = Some(path);
    }
    let mut venvs: Vec<PathBuf> = Vec::new();
    if let Some(active) = std::env::var_os("VIRTUAL_ENV").filter(|p| !p.is_empty()) {
        venvs.push(PathBuf::from(active));
    }
    let mut searched = Vec::new();
    let roots = std::env::current_dir()
        .into_iter()
        .chain(std::iter::once(PathBuf::from(env!("CARGO_MANIFEST_DIR"))));
    for root in roots {
        for dir in root.ancestors() {
            if !searched.iter().any(|s: &PathBuf| s == dir) {
                searched.push(dir.to_path_buf());
                venvs.push(dir.join(".venv"));
            }
        }
    }
    venvs
        .iter()
        .find_map(|venv| library_in_venv(venv))
        .ok_or(OrtRuntimeError::NotFound { env_path, searched })
}

/// The loaded onnxruntime library and the process's one `ort` environment.
#[derive(Debug)]
pub struct OrtRuntime {
    library: PathBuf,
    environment: Environment,
}

static RUNTIME: OnceLock<Result<OrtRuntime, OrtRuntimeError>> = OnceLock::new();

impl OrtRuntime {
    /// The process's runtime: locates ([`locate_onnxruntime`]) and loads onnxruntime on the
    /// first call and returns the same runtime (or the same error) afterwards.
    pub fn get() -> Result<&'static OrtRuntime, OrtRuntimeError> {
        RUNTIME
            .get_or_init(|| OrtRuntime::load(locate_onnxruntime()?))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The one place that initialises `ort`: loads the library at `library` and creates the
    /// environment, each failure naming the file.
    fn load(library: PathBuf) -> Result<OrtRuntime, OrtRuntimeError> {
        let builder = match ort::init_from(&library) {
            Ok(builder) => builder,
            Err(source) => {
                return Err(OrtRuntimeError::Load {
                    path: library,
                    source: Arc::new(source),
                });
            }
        };
        match builder.with_name("peephole").with_telemetry(false).build() {
            Ok(environment) => Ok(OrtRuntime {
                library,
                environment,
            }),
            Err(source) => Err(OrtRuntimeError::Environment {
                path: library,
                source: Arc::new(source),
            }),
        }
    }

    /// The library file that was loaded, for logs and error messages.
    pub fn library(&self) -> &Path {
        &self.library
    }

    /// A session builder on this runtime's environment, for callers that set their own
    /// options (threads, optimisation level).
    pub fn session_builder(&self) -> Result<SessionBuilder, OrtRuntimeError> {
        Session::builder(&self.environment).map_err(session_error)
    }

    /// A session for the serialized model `model`, running on `threads` intra-op threads:
    /// one keeps results bit-reproducible and leaves the cores to training; `None` keeps
    /// onnxruntime's default (one per core), what a benchmark of onnxruntime should measure.
    pub fn session(
        &self,
        model: &[u8],
        threads: Option<usize>,
    ) -> Result<Session, OrtRuntimeError> {
        let mut builder = self.session_builder()?;
        if let Some(threads) = threads {
            builder = builder.with_intra_threads(threads).map_err(session_error)?;
        }
        builder.commit_from_memory(model).map_err(session_error)
    }
}

/// Wraps an `ort` error from building a session (a builder's error carries the builder back
/// for recovery, which nobody here wants) as [`OrtRuntimeError::Session`].
fn session_error<R>(error: ort::Error<R>) -> OrtRuntimeError
where
    ort::Error: From<ort::Error<R>>,
{
    OrtRuntimeError::Session {
        source: Arc::new(ort::Error::from(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_main_library_counts_as_onnxruntime() {
        if cfg!(target_os = "linux") {
            assert!(is_onnxruntime_library("libonnxruntime.so.1.31.1"));
            assert!(is_onnxruntime_library("libonnxruntime.so"));
            assert!(!is_onnxruntime_library(
                "libonnxruntime_providers_shared.so"
            ));
        }
    }

    #[test]
    fn missing_onnxruntime_says_how_to_install_it() {
        let error = OrtRuntimeError::NotFound {
            env_path: Some(PathBuf::from("/dangling/libonnxruntime.so")),
            searched: vec![PathBuf::from("/somewhere")],
        };
        let message = error.to_string();
        assert!(message.contains("cargo xtask setup"), "{message}");
        assert!(message.contains("/somewhere"), "{message}");
        assert!(message.contains("/dangling/libonnxruntime.so"), "{message}");
    }

    #[test]
    fn a_venv_without_onnxruntime_yields_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("lib/python3.12/site-packages"))
            .expect("fake venv");
        assert_eq!(library_in_venv(dir.path()), None);
    }

    #[test]
    fn the_versioned_library_of_a_venv_is_found() {
        if !cfg!(target_os = "linux") {
            return;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let capi = dir
            .path()
            .join("lib/python3.12/site-packages/onnxruntime/capi");
        std::fs::create_dir_all(&capi).expect("fake venv");
        for name in [
            "libonnxruntime.so.1.31.1",
            "libonnxruntime_providers_shared.so",
        ] {
            std::fs::write(capi.join(name), b"").expect("fake library");
        }
        assert_eq!(
            library_in_venv(dir.path()),
            Some(capi.join("libonnxruntime.so.1.31.1"))
        );
    }
}

//! Which predictor the commands use, chosen as a build chooses it: `--model` stands where
//! `PEEPHOLE_MODEL` stands for a build (and that variable still counts without it), else the
//! embedded default. Loading goes through `peephole_lint::predict`, the macros' loader.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use peephole_lint::predict::{self, DefaultModel, ModelContext, ModelSource};
use peephole_predictor::Predictor;

use crate::error::CliError;

/// The model context of networks given on the command line, or of the crate in
/// `manifest_dir` for `check`. `--model` is relative to the working directory, as any path
/// argument is; `PEEPHOLE_MODEL` to the crate, as in a build.
pub fn context(cli_model: Option<&Path>, manifest_dir: Option<PathBuf>) -> ModelContext {
    let from_cli = cli_model.map(|path| DefaultModel {
        path: std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()),
        chosen_by: "--model".to_string(),
    });
    ModelContext {
        manifest_dir,
        default_model: from_cli.or_else(DefaultModel::from_env),
    }
}

/// The predictor for networks given as text, loaded once per process.
pub fn load(context: &ModelContext) -> Result<(Arc<Predictor>, ModelSource), CliError> {
    let source = context.default_source();
    let predictor = predict::load(&source).map_err(|error| CliError::Model {
        which: describe(&source, context),
        source: Box::new(error),
    })?;
    Ok((predictor, source))
}

/// The model's name in errors, with who chose it when it is not the embedded one.
pub fn describe(source: &ModelSource, context: &ModelContext) -> String {
    match &context.default_model {
        Some(default) => format!("{} (chosen by {})", source.describe(), default.chosen_by),
        None => source.describe(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_flag_is_made_absolute_against_the_working_directory() {
        let context = context(
            Some(Path::new("models/x.onnx")),
            Some(PathBuf::from("/elsewhere")),
        );
        let cwd = std::env::current_dir().expect("cwd");
        assert_eq!(
            context.default_source(),
            ModelSource::File(cwd.join("models/x.onnx"))
        );
    }

    #[test]
    fn a_file_that_is_no_model_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("bad.onnx");
        std::fs::write(&path, b"not a model at all").expect("write");
        let error = load(&context(Some(&path), None))
            .expect_err("not a model")
            .to_string();
        assert!(
            error.starts_with(&format!(
                "cannot load predictor {} (chosen by --model): ",
                path.display()
            )),
            "{error}"
        );
    }
}

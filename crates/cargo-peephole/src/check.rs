//! `cargo peephole check`: finds `network!` and `peephole_check!` calls in Rust sources with
//! syn, without compiling anything, and diagnoses them with `peephole_lint`, the code the
//! macros run, so the warnings are the build's warnings.

use std::io::Write;
use std::path::{Path, PathBuf};

use peephole_io::escape;
use peephole_lint::ast::Declaration;
use peephole_lint::check::{self, Mode};
use peephole_lint::predict::ModelContext;
use proc_macro2::{Span, TokenStream};
use syn::spanned::Spanned;
use syn::visit::Visit;

use crate::error::CliError;
use crate::model;
use crate::render::{Diagnostic, Level, Style, summary};

/// A declaration macro call found in a source file.
pub struct Invocation {
    /// Which macro, by the last segment of its path.
    pub mode: Mode,
    /// What is inside its delimiters: the declaration.
    pub tokens: TokenStream,
    /// The whole call, where rustc points errors about the call itself.
    pub span: Span,
}

/// Every declaration call in a file, in source order: at item level, in functions, in
/// modules, wherever syn sees a macro call (not inside other macros' tokens, which mean
/// nothing until that macro expands).
pub fn invocations(file: &syn::File) -> Vec<Invocation> {
    struct Finder(Vec<Invocation>);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_macro(&mut self, call: &'ast syn::Macro) {
            let mode = call
                .path
                .segments
                .last()
                .and_then(|last| Mode::of_macro(&last.ident.to_string()));
            if let Some(mode) = mode {
                self.0.push(Invocation {
                    mode,
                    tokens: call.tokens.clone(),
                    span: call.span(),
                });
            }
            syn::visit::visit_macro(self, call);
        }
    }
    let mut finder = Finder(Vec::new());
    finder.visit_file(file);
    finder.0
}

/// The diagnostics of one source file, in source order, and how many networks it declares.
/// `file` is how the diagnostics name it.
pub fn check_source(source: &str, file: &Path, models: &ModelContext) -> (Vec<Diagnostic>, usize) {
    let parsed = match syn::parse_file(source) {
        Ok(parsed) => parsed,
        Err(error) => return (Diagnostic::errors(error, file), 0),
    };
    let mut diagnostics = Vec::new();
    let mut networks = 0;
    for call in invocations(&parsed) {
        let declaration = match syn::parse2::<Declaration>(call.tokens) {
            Ok(declaration) => declaration,
            Err(error) => {
                diagnostics.extend(Diagnostic::errors(error, file));
                continue;
            }
        };
        if let Err(error) = check::require_networks(&declaration, call.span) {
            diagnostics.extend(Diagnostic::errors(error, file));
        }
        for network in &declaration.networks {
            networks += 1;
            let warnings = network
                .as_ref()
                .map_err(Clone::clone)
                .and_then(|decl| check::lower(decl, call.mode))
                .and_then(|lowered| check::diagnose(&lowered, call.mode, models));
            match warnings {
                Ok(warnings) => diagnostics.extend(
                    warnings
                        .iter()
                        .map(|warning| Diagnostic::warning(warning, file)),
                ),
                Err(error) => diagnostics.extend(Diagnostic::errors(error, file)),
            }
        }
    }
    (diagnostics, networks)
}

/// Largest Rust source file read: generated sources run to a few MB; a device or a runaway
/// file stops here instead of filling memory.
pub const MAX_SOURCE_BYTES: u64 = 16 << 20;

/// Something under the checked path that `check` did not check, reported as an error while
/// the walk goes on.
#[derive(Debug, thiserror::Error)]
pub enum Skipped {
    /// A symbolic link whose target lies outside the checked directory: following it could
    /// print another file's contents (`host.rs -> /etc/passwd`) in a parse error.
    #[error("{}: a symbolic link out of the checked directory, not followed", escape(&path.display().to_string()))]
    OutsideRoot {
        /// The link.
        path: PathBuf,
    },
    /// A directory that could not be listed, or an entry whose type could not be read.
    #[error("cannot read {}: {source}", escape(&path.display().to_string()))]
    Unlistable {
        /// The directory or entry.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A `.rs` file that could not be read: a device, a FIFO, too large, not UTF-8.
    #[error("cannot read {0}")]
    Unreadable(#[source] peephole_io::ReadError),
}

/// What a walk found: the `.rs` files to check, sorted, and what it had to leave out.
#[derive(Debug, Default)]
pub struct Walk {
    /// Files to read, each inside the checked directory (or the one file asked for).
    pub files: Vec<PathBuf>,
    /// What was not checked, and why.
    pub skipped: Vec<Skipped>,
}

/// The `.rs` files to check: `path` itself if it is not a directory (then reading it says
/// whether it is a file), else every one below it, sorted, skipping `target` and hidden
/// directories (build output and VCS data hold no declarations of the user's). Symbolic
/// links are followed only to files inside `path`; directories are entered only as real
/// directories, so the walk never leaves `path` and never loops.
pub fn rust_files(path: &Path) -> Result<Walk, CliError> {
    let read = |source| CliError::Read {
        path: path.to_path_buf(),
        source,
    };
    if !std::fs::metadata(path).map_err(read)?.is_dir() {
        return Ok(Walk {
            files: vec![path.to_path_buf()],
            skipped: Vec::new(),
        });
    }
    let root = std::fs::canonicalize(path).map_err(read)?;
    let mut walk = Walk::default();
    let mut pending = vec![path.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(source) => {
                walk.skipped.push(Skipped::Unlistable { path: dir, source });
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(source) => {
                    walk.skipped.push(Skipped::Unlistable {
                        path: dir.clone(),
                        source,
                    });
                    continue;
                }
            };
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let kind = match entry.file_type() {
                Ok(kind) => kind,
                Err(source) => {
                    walk.skipped.push(Skipped::Unlistable { path, source });
                    continue;
                }
            };
            if kind.is_dir() {
                if name != "target" && !name.starts_with('.') {
                    pending.push(path);
                }
            } else if name.ends_with(".rs") {
                if kind.is_symlink() && !link_stays_inside(&path, &root) {
                    walk.skipped.push(Skipped::OutsideRoot { path });
                } else {
                    walk.files.push(path);
                }
            }
        }
    }
    walk.files.sort();
    walk.skipped
        .sort_by_key(|skipped| skipped_path(skipped).to_path_buf());
    Ok(walk)
}

/// Whether the symbolic link `link` resolves to something inside `root` (canonical); a
/// dangling link or one that cannot be resolved does not.
fn link_stays_inside(link: &Path, root: &Path) -> bool {
    std::fs::canonicalize(link).is_ok_and(|target| target.starts_with(root))
}

/// The path a skipped entry is about, for sorting.
fn skipped_path(skipped: &Skipped) -> &Path {
    match skipped {
        Skipped::OutsideRoot { path } | Skipped::Unlistable { path, .. } => path,
        Skipped::Unreadable(error) => error.path(),
    }
}

/// The directory of the nearest `Cargo.toml` above `file`: the crate's `CARGO_MANIFEST_DIR`,
/// which `model = "..."` paths are relative to.
pub fn manifest_dir(file: &Path) -> Option<PathBuf> {
    let file = std::path::absolute(file).ok()?;
    file.ancestors()
        .skip(1)
        .find(|dir| dir.join("Cargo.toml").is_file())
        .map(Path::to_path_buf)
}

/// What a whole `check` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Outcome {
    /// Files read.
    pub files: usize,
    /// Network declarations seen.
    pub networks: usize,
    /// Errors printed.
    pub errors: usize,
    /// Warnings printed.
    pub warnings: usize,
}

/// Checks every Rust file under `path`, printing diagnostics in `style` and rustc's closing
/// line to `out`. Fails only when `path` itself cannot be read; a file or directory below it that
/// cannot be read, or a link out of it, is reported as an error and the check goes on.
pub fn run(
    path: &Path,
    cli_model: Option<&Path>,
    style: Style,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let mut outcome = Outcome::default();
    let Walk { files, mut skipped } = rust_files(path)?;
    for file in files {
        let source = match peephole_io::read_text(&file, MAX_SOURCE_BYTES, "Rust source") {
            Ok(source) => source,
            Err(error) => {
                skipped.push(Skipped::Unreadable(error));
                continue;
            }
        };
        let models = model::context(cli_model, manifest_dir(&file));
        // `check` alone walks `.`: print `src/main.rs` as rustc does, not `./src/main.rs`.
        let shown = file.strip_prefix(".").unwrap_or(&file);
        let (diagnostics, networks) = check_source(&source, shown, &models);
        outcome.files += 1;
        outcome.networks += networks;
        for diagnostic in diagnostics {
            match diagnostic.level {
                Level::Warning => outcome.warnings += 1,
                Level::Error => outcome.errors += 1,
            }
            write!(out, "{}", diagnostic.render(&source, style))?;
        }
    }
    for problem in skipped {
        outcome.errors += 1;
        writeln!(out, "error: {problem}\n")?;
    }
    if let Some(line) = summary(outcome.errors, outcome.warnings) {
        writeln!(out, "{line}")?;
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lints(source: &str) -> Vec<(Option<String>, usize, usize)> {
        let (diagnostics, _) = check_source(source, Path::new("demo.rs"), &ModelContext::default());
        diagnostics
            .into_iter()
            .map(|d| (d.lint, d.line, d.column))
            .collect()
    }

    #[test]
    fn finds_declarations_at_item_level_in_functions_and_modules() {
        let source = r#"
peephole::network! { struct A: [16, 8, 8] -> 10 { conv(3, 16), tanh, relu } }
fn f() {
    network! { struct B: [16, 8, 8] -> 10 { conv(3, 16), relu, relu } }
}
mod m {
    other::thing! { struct C: [16, 8, 8] -> 10 { conv(3, 16), relu, relu } }
}
"#;
        let file = syn::parse_file(source).expect("parses");
        let found = invocations(&file);
        assert_eq!(found.len(), 2, "other::thing! is not ours");
        assert!(found.iter().all(|call| call.mode == Mode::Declare));
        let stacked = Some("stacked_activations".to_string());
        let last_relu = |line: usize| {
            source
                .lines()
                .nth(line - 1)
                .and_then(|l| l.rfind("relu"))
                .unwrap()
                + 1
        };
        assert_eq!(
            lints(source),
            [
                (stacked.clone(), 2, last_relu(2)),
                (stacked, 4, last_relu(4))
            ]
        );
    }

    #[test]
    fn opt_outs_silence_warnings_as_in_the_build() {
        let source = "peephole::network! {
    #[peephole(allow(stacked_activations))]
    struct A: [16, 8, 8] -> 10 { conv(3, 16), tanh, relu }
}";
        assert_eq!(lints(source), []);
    }

    #[test]
    fn malformed_declarations_are_errors_at_their_token_and_the_rest_still_checked() {
        let source = "peephole::network! {
    struct A: [16, 8, 8] -> 10 { conv(3, 16), dropout }
    struct B: [16, 8, 8] -> 10 { conv(3, 16), tanh, relu }
}
peephole::network! {}
peephole::network! { #[peephole(min_accuracy = 0.9)] struct C: [1, 8, 8] -> 10 { relu } }";
        let (diagnostics, networks) =
            check_source(source, Path::new("demo.rs"), &ModelContext::default());
        assert_eq!(networks, 3);
        let found: Vec<(Level, usize, usize, &str)> = diagnostics
            .iter()
            .map(|d| (d.level, d.line, d.column, d.message.as_str()))
            .collect();
        assert_eq!(found[0].0, Level::Error);
        assert_eq!((found[0].1, found[0].2), (2, 47));
        assert!(
            found[0].3.starts_with("unknown layer `dropout`"),
            "{found:?}"
        );
        assert_eq!((found[1].0, found[1].1), (Level::Warning, 3));
        assert_eq!((found[2].0, found[2].1, found[2].2), (Level::Error, 5, 1));
        assert!(found[2].3.starts_with("expected a network"), "{found:?}");
        assert_eq!((found[3].0, found[3].1), (Level::Error, 6), "{found:?}");
        assert!(
            found[3]
                .3
                .starts_with("`min_accuracy` and `model` configure the predictor"),
            "{found:?}"
        );
        assert_eq!(found.len(), 4, "{found:?}");
    }

    #[test]
    fn a_file_that_is_not_rust_is_an_error_not_a_crash() {
        let (diagnostics, networks) =
            check_source("fn (", Path::new("bad.rs"), &ModelContext::default());
        assert_eq!(networks, 0);
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(diagnostics[0].level, Level::Error);
    }

    #[test]
    fn walks_rust_files_but_not_build_output_or_hidden_directories() {
        let dir = tempfile::tempdir().expect("temp dir");
        for file in [
            "Cargo.toml",
            "src/main.rs",
            "src/a/b.rs",
            "target/debug/gen.rs",
            ".git/x.rs",
            "notes.txt",
        ] {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "").unwrap();
        }
        let files = rust_files(dir.path()).expect("walks").files;
        let relative: Vec<_> = files
            .iter()
            .map(|f| f.strip_prefix(dir.path()).unwrap().to_path_buf())
            .collect();
        assert_eq!(
            relative,
            [PathBuf::from("src/a/b.rs"), PathBuf::from("src/main.rs")]
        );
        assert_eq!(manifest_dir(&files[0]).as_deref(), Some(dir.path()));
        let missing = rust_files(&dir.path().join("nope"))
            .expect_err("missing")
            .to_string();
        assert!(
            missing.starts_with("cannot read ") && missing.contains("nope"),
            "{missing}"
        );
    }
}

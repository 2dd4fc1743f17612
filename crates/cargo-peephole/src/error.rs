//! What can go wrong on the command line, each naming the input it is about.

use std::path::PathBuf;

use peephole_io::{MAX_SHOWN_CHARS, escape, excerpt};
use peephole_ir::text::TextError;
use peephole_predictor::PredictorError;
use thiserror::Error;

/// A failure of one command, or of one network within a command; `main` prints it as
/// `error: ...` and exits non-zero.
#[derive(Debug, Error)]
pub enum CliError {
    /// A file or directory that `check` was asked to read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path as given or found.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `-` was given but standard input could not be read.
    #[error("cannot read networks from standard input: {0}")]
    Stdin(std::io::Error),
    /// The predictor could not be loaded.
    #[error("cannot load {which}: {source}")]
    Model {
        /// `the embedded default predictor` or `predictor PATH`.
        which: String,
        /// Why (boxed: [`PredictorError`] is large, and every `Result<_, CliError>` would
        /// carry its size).
        source: Box<PredictorError>,
    },
    /// A network in the text form that does not parse; the message shows the text with a
    /// caret under the column.
    #[error("malformed network at column {}:\n{}", .error.column, indent(&render_text_error(.text, .error)))]
    Text {
        /// The network as given.
        text: String,
        /// Where and what.
        error: TextError,
    },
    /// The predictor could not score a network that parsed (invalid shapes, an unusable
    /// model).
    #[error("{which} cannot score `{network}`: {source}")]
    Predict {
        /// The model, as in [`CliError::Model`].
        which: String,
        /// The network's text form.
        network: String,
        /// Why (boxed, as in [`CliError::Model`]).
        source: Box<PredictorError>,
    },
    /// `explain --lint` named no lint (names as in `allow(...)`).
    #[error("unknown lint `{name}`; the lints are {}", peephole_lint::lints::Lint::ALL.map(|lint| lint.name()).join(", "))]
    UnknownLint {
        /// The name as given, escaped for the terminal.
        name: String,
    },
    /// `explain` was given neither a network nor `--lint NAME`.
    #[error("explain needs a network in the text form, or --lint NAME")]
    NothingToExplain,
    /// Writing the results failed (a closed pipe, a full disk).
    #[error("cannot write the output: {0}")]
    Write(#[from] std::io::Error),
}

/// The input with a caret under the offending column, as [`TextError::render`] draws it,
/// but escaped (control and bidi characters) and cut around the column, so neither a hostile
/// line nor a 10 MB one reaches the terminal as given.
fn render_text_error(text: &str, error: &TextError) -> String {
    let (shown, caret) = excerpt(text, error.column.saturating_sub(1), MAX_SHOWN_CHARS);
    format!("{shown}\n{}^ {}", " ".repeat(caret), escape(&error.message))
}

/// Indents every line of a rendered snippet so it reads as part of the error above it.
fn indent(text: &str) -> String {
    text.lines()
        .map(|line| format!("  {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_error_points_a_caret_at_its_column() {
        let text = "[1x28x28] conv3x3:16 dropout -> 10".to_string();
        let error = peephole_ir::text::parse_network(&text).expect_err("dropout is no layer");
        let column = error.column;
        let shown = CliError::Text {
            text: text.clone(),
            error,
        }
        .to_string();
        let lines: Vec<&str> = shown.lines().collect();
        assert_eq!(
            lines[0],
            format!("malformed network at column {column}:"),
            "{shown}"
        );
        assert_eq!(lines[1], format!("  {text}"));
        assert_eq!(lines[2].find('^'), Some(column + 1), "{shown}");
        assert!(lines[2].ends_with("unknown layer `dropout`: expected conv, maxpool, avgpool, relu, sigmoid, tanh or bn"), "{shown}");
    }

    // Echoed input showed NUL as blank and bidi overrides raw, and a 10 MB line
    // was echoed whole to stderr.
    #[test]
    fn echoed_text_is_escaped_and_a_huge_line_is_cut_around_the_caret() {
        let text = format!("[1x28x28] {} \u{202e}\0 -> 10", "relu ".repeat(2_000_000));
        let error = peephole_ir::text::parse_network(&text).expect_err("not a layer");
        let shown = CliError::Text { text, error }.to_string();
        assert!(shown.len() < 1000, "{} bytes", shown.len());
        assert!(
            !shown.contains('\u{202e}') && !shown.contains('\0'),
            "{shown}"
        );
        assert!(shown.contains("\\u{202e}"), "{shown}");
        let lines: Vec<&str> = shown.lines().collect();
        assert_eq!(lines.len(), 3, "{shown}");
        assert!(
            lines[1].starts_with("  ...(") && lines[1].contains("characters) "),
            "{shown}"
        );
        let caret = lines[2].find('^').expect("a caret");
        assert_eq!(lines[1][caret..].chars().next(), Some('\\'), "{shown}");
    }
}

//! Diagnostics in rustc's layout (`warning: ...`, ` --> file:line:col`, the source line with
//! carets, `= help:` lines), so editors, CI log parsers and people read them as they read a
//! build's.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use peephole_core::lint::LintScope;
use peephole_io::{escape, excerpt};
use peephole_lint::Warning;
use proc_macro2::Span;

/// How many characters of a source line a diagnostic shows around its column; rustc's own
/// lines are rarely wider, and a minified or hostile 10 MB line is cut with a count.
pub const MAX_SOURCE_LINE_CHARS: usize = 160;

/// How serious a diagnostic is; errors fail `check` whether or not `--deny` is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// A lint finding.
    Warning,
    /// A declaration the macro would reject (or a model it could not run).
    Error,
}

/// One diagnostic at a place in a file, ready to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Warning or error.
    pub level: Level,
    /// The lint name for warnings (`stacked_activations`), `None` for errors.
    pub lint: Option<String>,
    /// The first line of the message.
    pub message: String,
    /// The file, as the user named it or as it was found under the checked directory.
    pub file: PathBuf,
    /// 1-based line of the first character.
    pub line: usize,
    /// 1-based column (in characters) of the first character, as rustc counts.
    pub column: usize,
    /// How many characters to underline on that line (at least 1).
    pub width: usize,
    /// Further lines, each `help: ...` or `note: ...`.
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// A diagnostic at `span`; the message's further lines become notes (the macros put
    /// `help:` and `note:` lines into their messages, which rustc prints below the first).
    pub fn at(level: Level, lint: Option<String>, message: &str, span: Span, file: &Path) -> Self {
        let (start, end) = (span.start(), span.end());
        let width = if end.line == start.line {
            end.column.saturating_sub(start.column)
        } else {
            1
        };
        let mut lines = message.lines();
        let first = lines.next().unwrap_or_default().to_string();
        Diagnostic {
            level,
            lint,
            message: first,
            file: file.to_path_buf(),
            line: start.line,
            column: start.column + 1,
            width: width.max(1),
            notes: lines.map(str::to_string).collect(),
        }
    }

    /// A lint warning, with its help and how to silence it.
    pub fn warning(warning: &Warning, file: &Path) -> Self {
        let name = warning.lint.name();
        let message = format!("peephole::{name}: {}", warning.message);
        let mut diagnostic = Diagnostic::at(
            Level::Warning,
            Some(name.to_string()),
            &message,
            warning.span,
            file,
        );
        if let Some(help) = &warning.help {
            diagnostic.notes.push(format!("help: {help}"));
        }
        let place = match warning.lint.scope() {
            LintScope::Layer => "on the layer or the network",
            LintScope::Network => "on the network",
        };
        diagnostic.notes.push(format!(
            "note: `#[peephole(allow({name}))]` {place} silences this"
        ));
        diagnostic
    }

    /// Every error of a (possibly combined) `syn::Error`, each at its own span.
    pub fn errors(error: syn::Error, file: &Path) -> Vec<Self> {
        error
            .into_iter()
            .map(|one| Diagnostic::at(Level::Error, None, &one.to_string(), one.span(), file))
            .collect()
    }

    /// The diagnostic as rustc prints it, `source` being the file's text; ends with a blank
    /// line.
    pub fn render(&self, source: &str) -> String {
        let level = match self.level {
            Level::Warning => "warning",
            Level::Error => "error",
        };
        let number = self.line.to_string();
        let gutter = " ".repeat(number.len());
        let mut out = String::new();
        // Messages quote the user's tokens and literals, paths come from the file system and
        // the source line is the file's own text: all are escaped so that none can write
        // control sequences or forge lines, and a huge line is cut around the caret.
        let _ = writeln!(out, "{level}: {}", escape(&self.message));
        let _ = writeln!(
            out,
            "{gutter}--> {}:{}:{}",
            escape(&self.file.display().to_string()),
            self.line,
            self.column
        );
        if let Some(text) = source.lines().nth(self.line.saturating_sub(1)) {
            let (shown, caret) = excerpt(text, self.column - 1, MAX_SOURCE_LINE_CHARS);
            let before: String = shown
                .chars()
                .take(caret)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let _ = writeln!(out, "{gutter} |");
            let _ = writeln!(out, "{number} | {shown}");
            let _ = writeln!(
                out,
                "{gutter} | {before}{}",
                "^".repeat(self.width.min(MAX_SOURCE_LINE_CHARS))
            );
        }
        if !self.notes.is_empty() {
            let _ = writeln!(out, "{gutter} |");
            for note in &self.notes {
                let _ = writeln!(out, "{gutter} = {}", escape(note));
            }
        }
        out.push('\n');
        out
    }
}

/// The closing line, as rustc words it: `warning: 3 warnings emitted`, or `error: aborting
/// due to 2 previous errors; 3 warnings emitted`; `None` when there was nothing to say.
pub fn summary(errors: usize, warnings: usize) -> Option<String> {
    let plural = |n: usize, what: &str| {
        if n == 1 {
            format!("1 {what}")
        } else {
            format!("{n} {what}s")
        }
    };
    match (errors, warnings) {
        (0, 0) => None,
        (0, w) => Some(format!("warning: {} emitted", plural(w, "warning"))),
        (e, 0) => Some(format!(
            "error: aborting due to {}",
            plural(e, "previous error")
        )),
        (e, w) => Some(format!(
            "error: aborting due to {}; {} emitted",
            plural(e, "previous error"),
            plural(w, "warning")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diagnostic() -> Diagnostic {
        Diagnostic {
            level: Level::Warning,
            lint: Some("stacked_activations".into()),
            message:
                "peephole::stacked_activations: layer 5 (relu) follows another activation (relu)"
                    .into(),
            file: PathBuf::from("src/main.rs"),
            line: 12,
            column: 30,
            width: 4,
            notes: vec!["help: remove one".into()],
        }
    }

    #[test]
    fn renders_like_rustc_with_the_caret_under_the_token() {
        let mut source = "\n".repeat(11);
        source.push_str("        conv(7x7, 64), relu, relu,\n");
        let shown = diagnostic().render(&source);
        let expected = "warning: peephole::stacked_activations: layer 5 (relu) follows another activation (relu)
  --> src/main.rs:12:30
   |
12 |         conv(7x7, 64), relu, relu,
   |                              ^^^^
   |
   = help: remove one

";
        assert_eq!(shown, expected);
    }

    #[test]
    fn spans_of_parsed_source_give_rustc_line_and_column() {
        let file: syn::File = syn::parse_str("fn f() {}\nstruct  Name;").expect("parses");
        let syn::Item::Struct(item) = &file.items[1] else {
            panic!("a struct")
        };
        let found = Diagnostic::at(
            Level::Error,
            None,
            "first\nhelp: second",
            item.ident.span(),
            Path::new("a.rs"),
        );
        assert_eq!((found.line, found.column, found.width), (2, 9, 4));
        assert_eq!(found.message, "first");
        assert_eq!(found.notes, ["help: second"]);
    }

    #[test]
    fn the_summary_counts_like_rustc() {
        assert_eq!(summary(0, 0), None);
        assert_eq!(summary(0, 1).as_deref(), Some("warning: 1 warning emitted"));
        assert_eq!(
            summary(2, 9).as_deref(),
            Some("error: aborting due to 2 previous errors; 9 warnings emitted")
        );
        assert_eq!(
            summary(1, 0).as_deref(),
            Some("error: aborting due to 1 previous error")
        );
    }
}

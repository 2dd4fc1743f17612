//! Diagnostics in rustc's layout (`warning: ...`, ` --> file:line:col`, the source lines with
//! the span underlined, `= help:` lines), drawn by annotate-snippets, the renderer rustc
//! itself uses, so editors, CI log parsers and people read them as they read a build's: tabs,
//! wide characters and spans over several lines are laid out as rustc lays them out.

use std::path::{Path, PathBuf};

use annotate_snippets::{AnnotationKind, Group, Level as Severity, Renderer, Snippet};
use peephole_io::escape;
use peephole_lint::Warning;
use peephole_lint::lints::LintScope;
use proc_macro2::Span;

/// How wide a diagnostic may be; a longer source line is cut around its span (with `...`),
/// so that a minified or hostile 10 MB line does not reach a CI log.
pub const MAX_SOURCE_LINE_CHARS: usize = 160;

/// How serious a diagnostic is; errors fail `check` whether or not `--deny` is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// A lint finding.
    Warning,
    /// A declaration the macro would reject (or a model it could not run).
    Error,
}

/// Whether diagnostics carry rustc's colours (ANSI escapes, for a terminal) or are plain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Style {
    /// No escapes: for files, pipes and tests.
    #[default]
    Plain,
    /// rustc's colours.
    Colored,
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
    /// 1-based line of the last character.
    pub end_line: usize,
    /// 1-based column (in characters) just after the last character; past `column` when the
    /// span is on one line, so that at least one character is underlined.
    pub end_column: usize,
    /// Further lines, each `help: ...` or `note: ...`.
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// A diagnostic at `span`; the message's further lines become notes (the macros put
    /// `help:` and `note:` lines into their messages, which rustc prints below the first).
    pub fn at(level: Level, lint: Option<String>, message: &str, span: Span, file: &Path) -> Self {
        let (start, end) = (span.start(), span.end());
        let (end_line, end_column) = if (end.line, end.column) > (start.line, start.column) {
            (end.line, end.column + 1)
        } else {
            (start.line, start.column + 2)
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
            end_line,
            end_column,
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
    pub fn render(&self, source: &str, style: Style) -> String {
        let severity = match self.level {
            Level::Warning => Severity::WARNING,
            Level::Error => Severity::ERROR,
        };
        // Messages quote the user's tokens and literals and paths come from the file system:
        // both are escaped so that neither can write control sequences or forge lines.
        // annotate-snippets makes the source lines safe in rustc's way (control characters
        // become visible symbols) and cuts long ones.
        let message = escape(&self.message);
        let path = escape(&self.file.display().to_string());
        let mut group = Group::with_title(severity.primary_title(message.as_str()));
        if let Some((text, span)) = self.excerpt(source) {
            group = group.element(
                Snippet::source(text)
                    .line_start(self.line)
                    .path(path.as_str())
                    .annotation(AnnotationKind::Primary.span(span)),
            );
        }
        let notes: Vec<(Severity, String)> = self
            .notes
            .iter()
            .map(|note| match note.split_once(": ") {
                Some(("help", text)) => (Severity::HELP, escape(text)),
                Some(("note", text)) => (Severity::NOTE, escape(text)),
                _ => (Severity::NOTE.no_name(), escape(note)),
            })
            .collect();
        for (severity, text) in &notes {
            group = group.element(severity.clone().message(text.as_str()));
        }
        let renderer = match style {
            Style::Plain => Renderer::plain(),
            Style::Colored => Renderer::styled(),
        };
        let mut out = renderer.term_width(MAX_SOURCE_LINE_CHARS).render(&[group]);
        out.push_str("\n\n");
        out
    }

    /// The lines the span covers, made safe beyond what annotate-snippets replaces, and the
    /// span as a byte range of them; `None` when the file has no such lines (it changed).
    fn excerpt(&self, source: &str) -> Option<(String, std::ops::Range<usize>)> {
        let count = self.end_line.checked_sub(self.line)? + 1;
        let lines: Vec<&str> = source
            .lines()
            .skip(self.line.checked_sub(1)?)
            .take(count)
            .collect();
        if lines.len() != count {
            return None;
        }
        // Character for character, so the columns still count characters of the file.
        let text: String = lines
            .join("\n")
            .chars()
            .map(|c| if beyond_rustc(c) { '\u{FFFD}' } else { c })
            .collect();
        let offset = |line: usize, column: usize| {
            let start: usize = lines[..line].iter().map(|l| l.chars().count() + 1).sum();
            let chars = start + (column - 1).min(lines[line].chars().count());
            text.char_indices()
                .nth(chars)
                .map_or(text.len(), |(byte, _)| byte)
        };
        let start = offset(0, self.column.max(1));
        let end = offset(count - 1, self.end_column.max(1)).max(start);
        // At least one character underlined, unless the span is at the very end.
        let end = if end == start {
            text[start..]
                .chars()
                .next()
                .map_or(start, |c| start + c.len_utf8())
        } else {
            end
        };
        Some((text, start..end))
    }
}

/// Characters `peephole_io::escape` refuses that rustc's own table (which annotate-snippets
/// applies to source lines) lets through: C1 controls and the directional marks.
fn beyond_rustc(c: char) -> bool {
    matches!(
        c,
        '\u{80}'..='\u{9f}' | '\u{061C}' | '\u{200E}' | '\u{200F}'
    )
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
            end_line: 12,
            end_column: 34,
            notes: vec!["help: remove one".into()],
        }
    }

    #[test]
    fn renders_like_rustc_with_the_caret_under_the_token() {
        let mut source = "\n".repeat(11);
        source.push_str("        conv(7x7, 64), relu, relu,\n");
        let shown = diagnostic().render(&source, Style::Plain);
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
    fn the_caret_lines_up_after_a_tab_and_a_wide_character() {
        let mut source = "\n".repeat(11);
        // A tab, then a CJK character (two columns wide) before the span.
        source.push_str("\t/*\u{4e2d}*/ relu, relu,\n");
        let mut diagnostic = diagnostic();
        diagnostic.column = 14;
        diagnostic.end_column = 18;
        let shown = diagnostic.render(&source, Style::Plain);
        let lines: Vec<&str> = shown.lines().collect();
        let (code, carets) = (lines[3], lines[4]);
        let word = code.rfind("relu").expect("the line is shown");
        let caret = carets.find('^').expect("a caret line");
        // Compare terminal columns: the wide character takes two.
        let width = |text: &str| {
            text.chars()
                .map(|c| if c == '\u{4e2d}' { 2 } else { 1 })
                .sum::<usize>()
        };
        assert_eq!(width(&code[..word]), width(&carets[..caret]), "{shown}");
        assert!(carets.ends_with("^^^^"), "{shown}");
        assert!(!code.contains('\t'), "{shown}");
        assert!(shown.contains("--> src/main.rs:12:14"), "{shown}");
    }

    #[test]
    fn a_span_over_several_lines_underlines_its_first_and_last_line() {
        let source = "a\nconv(\n    3x3, 16)\nz\n";
        let diagnostic = Diagnostic {
            line: 2,
            column: 1,
            end_line: 3,
            end_column: 13,
            ..diagnostic()
        };
        let shown = diagnostic.render(source, Style::Plain);
        assert!(shown.contains("2 | / conv("), "{shown}");
        assert!(shown.contains("3 | |     3x3, 16)"), "{shown}");
        assert!(shown.contains("  | |____________^"), "{shown}");
        assert!(!shown.contains("1 |") && !shown.contains("4 |"), "{shown}");
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
        assert_eq!(
            (found.line, found.column, found.end_line, found.end_column),
            (2, 9, 2, 13)
        );
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

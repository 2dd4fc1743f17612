//! The warning every check produces, before anyone decides how to show it.

use crate::lints::Lint;
use proc_macro2::Span;

/// One warning about a declared network: produced by the rule lints and by the predictor's
/// check, shown by the macro as a rustc lint and by `cargo peephole check` as printed text,
/// so both carry exactly the same name, sentence and help.
#[derive(Debug, Clone)]
pub struct Warning {
    /// Which lint; printed as `peephole::NAME`, and users allow it by that name.
    pub lint: Lint,
    /// The sentence after the name; further lines start with `note: `.
    pub message: String,
    /// What to do about it, printed on its own `help:` line.
    pub help: Option<String>,
    /// The user's token the warning points at.
    pub span: Span,
}

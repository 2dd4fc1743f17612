//! Network declarations as Rust tokens, from syntax to diagnostics: the one implementation
//! behind both `peephole::network!` / `peephole::peephole_check!` (at build time) and
//! `cargo peephole check` (without compiling), so the two never disagree.
//!
//! The pipeline is parse -> lower -> diagnose: [`ast`] keeps what was written with its spans,
//! [`lower`] builds peephole-ir's IR and collects every error, [`check`] decides the
//! warnings (the lints of [`lints`], one module each, and, when asked, the predictor's verdict
//! from [`predict`]). How a
//! warning reaches the user (a rustc lint from the macro, a printed diagnostic from the
//! command line) is the caller's business. [`print`] goes the other way, from IR to
//! declaration syntax.

pub mod ast;
pub mod check;
mod errors;
pub mod lints;
pub mod lower;
pub mod options;
pub mod predict;
pub mod print;
mod warning;

pub use warning::Warning;

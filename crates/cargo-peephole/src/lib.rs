//! `cargo peephole`: the predictor's verdict from the command line, in the shape cargo users
//! know. `predict` and `explain` take networks in the text form; `check` finds declarations
//! in Rust sources and prints the macros' own diagnostics without compiling. Pure Rust: the
//! embedded default predictor on the native scorer the lint uses (so both give the same
//! verdicts), no libtorch and no tract.
//!
//! One module per command (`predict`, `explain`, `check`), plus what they share: reading
//! networks (`input`), choosing the model (`model`), printing rustc-style diagnostics
//! (`render`) and the errors (`error`). `cli` ties them to the command line.

pub mod check;
pub mod cli;
pub mod error;
pub mod explain;
pub mod input;
pub mod model;
pub mod predict;
pub mod render;

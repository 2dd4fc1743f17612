//! How Peephole predictors are evaluated, kept out of the predictor crates so that the lint and
//! the proc macro never compile what only `cargo xtask eval` runs.
//!
//! - [`split`]: the frozen split by architecture (train / validation / test, and the
//!   evaluation-only reference set), with its deterministic rule and committed file.
//! - [`slices`]: which networks each reported slice holds.
//! - [`chance`]: "will it train at all?": the runs that stay at chance against the baselines
//!   and a predictor's ranking, as AUC, Brier score and reliability.
//! - [`inputs`]: the zoo files checked against a model's card, second training runs, the split
//!   file, and what a card says its model saw.
//! - [`report`]: [`report::evaluate`] and the report it writes (`eval.json`).
//! - [`markdown`]: a report as the tables `cargo xtask eval` prints and the book shows.
//! - [`testing`]: fixtures for tests of evaluations.
//!
//! The metrics and bootstrap intervals are `peephole-metrics`'s, the baselines
//! `peephole-baselines`'s.

pub mod chance;
pub mod inputs;
pub mod markdown;
pub mod report;
pub mod slices;
pub mod split;
pub mod testing;

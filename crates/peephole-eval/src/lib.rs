//! Evaluation of Peephole predictors (issue 16's protocol v2), kept out of the predictor crates so
//! that the lint and the proc macro never compile what only `cargo xtask eval` runs.
//!
//! - [`split`]: the frozen split by architecture (train / validation / test, and the
//!   evaluation-only reference set), with its deterministic rule and committed file.
//! - [`baselines`]: the paper's Table 3 baselines (nu-SVR, last seen, ridge on ULC counts,
//!   log MACs and params) and gradient-boosted trees on architecture features ([`gbt`]).
//! - [`slices`]: which networks each reported slice holds.
//! - [`bootstrap`]: seeded resampling of networks for 95% intervals of every metric.

pub mod baselines;
pub mod bootstrap;
pub mod gbt;
pub mod metrics;
pub mod slices;
pub mod split;

/// Synthetic zoo records (real generated networks, chosen curves) for the tests of this crate
/// and of its callers, so that the record layout is written once.
pub mod testing;

//! The zoo of Peephole: where the networks a predictor learns from come from and how their
//! training runs are stored.
//!
//! - [`generator`]: generator v1 (a block repeated in a skeleton) and v2 (the free-form shapes
//!   people write by hand), each a seeded stream indexed by network.
//! - [`reference`]: hand-written network lists (`name | source | network` lines).
//! - [`ZooRecord`], [`read_zoo`], [`ZooWriter`]: the JSONL record of one trained network.

pub mod generator;
mod records;
pub mod reference;
/// Synthetic zoo records (real generated networks, chosen curves) for the tests of this crate
/// and of its callers, so that the record layout is written once.
pub mod testing;

pub use records::*;

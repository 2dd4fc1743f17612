//! The fuzz targets: one per input Peephole takes from outside. A target takes any bytes,
//! calls the real API, and panics only when an invariant breaks (the API itself must return
//! errors, never panic); the string it returns classifies the outcome (`peephole-fuzz replay`
//! prints it).

use std::time::Duration;

use rand_chacha::ChaCha8Rng;

pub mod card;
pub mod cifar;
pub mod idx;
pub mod layers;
pub mod model;
pub mod predict;
pub mod text;
pub mod tree;
pub mod ulc;
pub mod zoo;

/// A structure-aware mutation: from a seeded random stream and an input of the corpus,
/// a new input that still gets past the format's first checks.
pub type Mutator = fn(&mut ChaCha8Rng, &[u8]) -> Vec<u8>;

/// A fuzz target and what an engine needs to run it well.
#[derive(Clone, Copy)]
pub struct Target {
    /// Name on the command line and of the corpus folder `fuzz/corpus/<name>`.
    pub name: &'static str,
    /// What it feeds and what it checks.
    pub about: &'static str,
    /// Runs one input; panics on a broken invariant; returns the outcome class.
    pub run: fn(&[u8]) -> String,
    /// Seeds built in code (valid inputs too large or too derived to commit as files).
    pub seeds: fn() -> Vec<Vec<u8>>,
    /// A structure-aware mutation, for formats where random bytes rarely get past the first
    /// check (protobuf models, token streams).
    pub mutate: Option<Mutator>,
    /// Tokens the generic mutator inserts.
    pub dictionary: &'static [&'static [u8]],
    /// Longest input the generic mutator produces.
    pub max_len: usize,
    /// One run taking longer than this is a hang.
    pub timeout: Duration,
    /// One allocation larger than this is a finding (the input claimed memory it does not hold).
    pub allocation_limit: usize,
}

/// Every target, in the order `cargo xtask fuzz` runs them.
pub const TARGETS: [Target; 10] = [
    text::TARGET,
    layers::TARGET,
    ulc::TARGET,
    predict::TARGET,
    card::TARGET,
    model::TARGET,
    zoo::TARGET,
    idx::TARGET,
    cifar::TARGET,
    tree::TARGET,
];

/// The target with this name.
pub fn by_name(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// A message reduced to its kind: the words before anything quoted from the input, without
/// numbers, so outcome classes stay few and each means a different path through the code.
pub fn class(message: &str) -> String {
    message
        .chars()
        .take_while(|c| !matches!(c, '`' | '"' | '\''))
        .filter(|c| c.is_ascii_alphabetic() || *c == ' ' || *c == ':')
        .take(48)
        .collect()
}

const MIB: usize = 1 << 20;

//! Fuzzing of every input Peephole takes from outside, on stable Rust.
//!
//! Why not cargo-fuzz: it needs a nightly toolchain and `cargo install`, while the workspace
//! pins 1.95.0 and CI starts from a fresh machine. Here the targets are plain functions
//! ([`targets`]), driven by a seeded, time-bounded mutation loop ([`driver`]) that
//! `cargo xtask fuzz --seconds N` runs, and that the corpus test replays under `cargo test`.
//! What libFuzzer adds and this lacks is coverage feedback; the targets make up for part of
//! it with structure-aware mutations (protobuf edits for models, word edits for the text
//! form, structured decoding for layer lists) and the driver keeps inputs that reach a new
//! *outcome class* (which error, which branch), a coarse stand-in for new coverage.
//! Huge allocations and hangs, which `catch_unwind` cannot see, are caught by [`guard`].

pub mod driver;
pub mod guard;
pub mod mutate;
pub mod targets;

pub use driver::{Finding, Options, Report, fuzz, quiet_panics, run_one};
pub use targets::{TARGETS, Target, by_name};

/// Writes a target's starting corpus (its committed inputs and the seeds built in code) into
/// `dir`, one file per distinct input named by its content, so that another engine
/// (libFuzzer) starts where the driver starts; returns how many files it wrote.
pub fn write_starting_corpus(target: &Target, dir: &std::path::Path) -> std::io::Result<usize> {
    std::fs::create_dir_all(dir)?;
    let mut names = std::collections::BTreeSet::new();
    for input in driver::load_corpus(target, &[corpus_dir(target)]) {
        let name = driver::input_name(&input);
        std::fs::write(dir.join(&name), &input)?;
        names.insert(name);
    }
    Ok(names.len())
}

/// The committed corpus folder of a target (`fuzz/corpus/<name>`).
pub fn corpus_dir(target: &Target) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target.name)
}

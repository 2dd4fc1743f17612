//! Fuzz targets for every input Peephole takes from outside, and what runs them on stable
//! Rust.
//!
//! The targets ([`targets`]) are plain functions: any bytes in, the real API called, a panic
//! only when an invariant breaks. Two things run them:
//! - **libFuzzer**, coverage-guided, through the cargo-fuzz harnesses of `fuzz/libfuzzer`
//!   (nightly, AddressSanitizer): `cargo xtask fuzz --seconds N`. Half of its mutations are
//!   the targets' own structure-aware ones ([`mutate`] and each target's `mutate`), so
//!   protobuf models and token streams get past their first checks.
//! - **replay** on stable ([`replay`]): `cargo test -p peephole-fuzz` runs every committed
//!   input (each past finding among them) through its target in CI, and `peephole-fuzz
//!   replay` reproduces one finding. A capped allocator ([`guard`]) turns a huge allocation
//!   into a clear abort there.
//!
//! A seeded mutation driver on stable used to run the targets too. One run of both engines
//! for 60 s per target (README, "Reliability") found the same one bug with each and left
//! libFuzzer ahead on coverage on 9 of 10 targets (level on the tenth), so the driver went.

pub mod guard;
pub mod mutate;
pub mod replay;
pub mod targets;

pub use replay::{Finding, quiet_panics, run_one};
pub use targets::{TARGETS, Target, by_name};

/// Writes a target's starting corpus (its committed inputs and the seeds built in code) into
/// `dir`, one file per distinct input named by its content, for libFuzzer to start from;
/// returns how many files it wrote.
pub fn write_starting_corpus(target: &Target, dir: &std::path::Path) -> std::io::Result<usize> {
    std::fs::create_dir_all(dir)?;
    let mut names = std::collections::BTreeSet::new();
    for input in replay::load_corpus(target, &[corpus_dir(target)]) {
        let name = replay::input_name(&input);
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

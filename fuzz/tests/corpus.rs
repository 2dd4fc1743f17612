//! The fuzz corpus as a regression suite on stable Rust, run in CI: every committed input
//! (each past finding among them) runs clean through its target, and the starting corpus
//! libFuzzer is given holds exactly those inputs and the built-in seeds. The fuzzing itself
//! is `cargo xtask fuzz --seconds N` (libFuzzer, nightly).

use peephole_fuzz::guard::{self, CappedAlloc};
use peephole_fuzz::replay::load_corpus;
use peephole_fuzz::{TARGETS, corpus_dir, quiet_panics, run_one};

#[global_allocator]
static ALLOCATOR: CappedAlloc = CappedAlloc;

/// The largest per-target limit: the tests run in parallel threads and share one allocator.
fn limit_allocations() {
    let largest = TARGETS
        .iter()
        .map(|t| t.allocation_limit)
        .max()
        .unwrap_or(usize::MAX);
    guard::set_allocation_limit(largest);
    quiet_panics();
}

#[test]
fn every_target_has_a_committed_corpus_and_every_input_in_it_runs_clean() {
    limit_allocations();
    let mut failures = Vec::new();
    for target in &TARGETS {
        let dir = corpus_dir(target);
        let inputs = load_corpus(target, std::slice::from_ref(&dir));
        let committed = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
        if committed == 0 {
            failures.push(format!(
                "{}: no committed corpus in {}",
                target.name,
                dir.display()
            ));
        }
        for input in inputs {
            if let Err(finding) = run_one(target, &input) {
                failures.push(format!(
                    "{}: {} at {}: {}",
                    target.name,
                    peephole_fuzz::replay::input_name(&input),
                    finding.location,
                    finding.message
                ));
            }
        }
    }
    // The quiet panic hook also swallows this assertion's message: print the findings first.
    if !failures.is_empty() {
        eprintln!("{}", failures.join("\n"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_starting_corpus_written_for_libfuzzer_holds_every_seed_and_committed_input() {
    limit_allocations();
    let dir = std::env::temp_dir().join(format!("peephole-fuzz-seeds-{}", std::process::id()));
    for target in &TARGETS {
        let target_dir = dir.join(target.name);
        let written = peephole_fuzz::write_starting_corpus(target, &target_dir)
            .unwrap_or_else(|e| panic!("{}: {e}", target.name));
        let expected: std::collections::BTreeSet<Vec<u8>> =
            load_corpus(target, &[corpus_dir(target)])
                .into_iter()
                .collect();
        let found: std::collections::BTreeSet<Vec<u8>> = std::fs::read_dir(&target_dir)
            .expect("the folder was written")
            .map(|e| std::fs::read(e.expect("an entry").path()).expect("a seed file reads"))
            .collect();
        assert_eq!(written, expected.len(), "{}", target.name);
        assert_eq!(
            found, expected,
            "{}: files differ from the committed corpus and seeds",
            target.name
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

//! The committed split file (`data/splits/eval-v2.json`) against the committed zoo files: it
//! must parse under this build's rule (no architecture on two sides, every generated one on the
//! side its hash gives) and list every architecture of every zoo file on its rule's side, so a
//! zoo that grew without `cargo xtask split --extend` fails here, not in an evaluation.

use std::path::{Path, PathBuf};

use peephole_eval::split::{Side, Split, architecture_text, rule};
use peephole_zoo::{ZooRecord, read_zoo};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn committed_split_agrees_with_the_rule_and_covers_every_committed_zoo_file() {
    let root = workspace();
    let text = std::fs::read_to_string(root.join("data/splits/eval-v2.json"))
        .expect("the split file is committed");
    let split = Split::from_json(&text).expect("the committed split follows this build's rule");
    for entry in split.entries() {
        if entry.side != Side::Evaluation {
            assert_eq!(entry.side, rule(&entry.text, false), "{}", entry.text);
        }
    }
    let mut records: Vec<ZooRecord> = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("data/zoo"))
        .expect("data/zoo is committed")
        .map(|e| e.expect("a readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    for file in &files {
        records.extend(read_zoo(file).expect("a committed zoo file reads").records);
    }
    let refs: Vec<&ZooRecord> = records.iter().collect();
    split
        .check(&refs)
        .expect("every committed architecture is in the split, on its rule's side");
    // Every reference network is evaluation-only; a generated one is exactly when a reference
    // network has its architecture (generator v2 drew `ref-tiny-one-conv` as `v2s1-000367`).
    let reference_architectures: std::collections::HashSet<String> = refs
        .iter()
        .filter(|r| r.generator == "reference-v1")
        .map(|r| architecture_text(r))
        .collect();
    for r in &refs {
        let side = split.side_of(r).expect("checked above");
        let expected = r.generator == "reference-v1"
            || reference_architectures.contains(&architecture_text(r));
        assert_eq!(side == Side::Evaluation, expected, "{}", r.id);
    }
}

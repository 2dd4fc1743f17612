//! The frozen evaluation split (protocol v2): every network goes to a side by its
//! architecture, so two records of the same architecture (the generators draw some twice, and a
//! second seed retrains the same network) never sit on both sides of the comparison.
//!
//! The rule is deterministic: an architecture drawn by an evaluation-only network list
//! ([`EVALUATION_GENERATORS`], the hand-written reference set) is [`Side::Evaluation`]; any other
//! goes by the SHA-256 of its canonical text ([`architecture_text`]), first 8 bytes read as a
//! big-endian number modulo 100: below [`TRAIN_PERCENT`] train, below
//! `TRAIN_PERCENT + VALIDATION_PERCENT` validation, else test. The committed file
//! ([`SplitFile`]) freezes the side of every architecture seen so far; growing the zoo only
//! appends ([`Split::extend`]), and an architecture whose side would move is an error, never a
//! silent move.

use std::collections::{BTreeMap, HashMap};

use peephole_zoo::ZooRecord;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

/// The committed split file, relative to the workspace root.
pub const DEFAULT_SPLIT: &str = "data/splits/eval-v2.json";

/// Format name of split files this build reads and writes.
pub const SPLIT_FORMAT: &str = "peephole-split-v1";

/// Generators (record field `generator`) whose networks are for evaluation only: never fitted
/// on, never used to choose a setting.
pub const EVALUATION_GENERATORS: [&str; 1] = ["reference-v1"];

/// Share of generated architectures (in percent of the hash range) that fit the models.
pub const TRAIN_PERCENT: u64 = 60;

/// Share that chooses settings (early stopping, hyper-parameters).
pub const VALIDATION_PERCENT: u64 = 20;

/// Where a network's architecture belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Fits models.
    Train,
    /// Chooses settings.
    Validation,
    /// Scores a finished model once; chooses nothing.
    Test,
    /// A hand-written evaluation-only list (the reference set): scored, never fitted on.
    Evaluation,
}

impl Side {
    /// Every side, in table order.
    pub const ALL: [Side; 4] = [Side::Train, Side::Validation, Side::Test, Side::Evaluation];

    /// Name for messages and tables.
    pub const fn name(self) -> &'static str {
        match self {
            Side::Train => "train",
            Side::Validation => "validation",
            Side::Test => "test",
            Side::Evaluation => "evaluation",
        }
    }
}

/// The text that identifies an architecture: the IR's own text form, recomputed from the
/// record's network (not its free `text` field) so that two records of one network always
/// agree.
pub fn architecture_text(record: &ZooRecord) -> String {
    record.network.to_string()
}

/// Whether `generator` names an evaluation-only network list.
pub fn is_evaluation_generator(generator: &str) -> bool {
    EVALUATION_GENERATORS.contains(&generator)
}

/// The hash bucket (0..100) of an architecture text.
pub fn bucket(text: &str) -> u64 {
    let digest = Sha256::digest(text.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first) % 100
}

/// The rule: the side of an architecture, given whether any record of it comes from an
/// evaluation-only list.
pub fn rule(text: &str, evaluation_only: bool) -> Side {
    if evaluation_only {
        return Side::Evaluation;
    }
    match bucket(text) {
        b if b < TRAIN_PERCENT => Side::Train,
        b if b < TRAIN_PERCENT + VALIDATION_PERCENT => Side::Validation,
        _ => Side::Test,
    }
}

/// One frozen architecture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Its side.
    pub side: Side,
    /// Its canonical text ([`architecture_text`]).
    pub text: String,
}

/// The committed split file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitFile {
    /// Always [`SPLIT_FORMAT`].
    pub format: String,
    /// The rule in words, for a reader of the file.
    pub rule: String,
    /// [`TRAIN_PERCENT`] when the file was written.
    pub train_percent: u64,
    /// [`VALIDATION_PERCENT`] when the file was written.
    pub validation_percent: u64,
    /// [`EVALUATION_GENERATORS`] when the file was written.
    pub evaluation_generators: Vec<String>,
    /// Every architecture seen so far, in the order it was first seen.
    pub architectures: Vec<Entry>,
}

/// Why a split file cannot be used, or a zoo does not fit it. Each variant names the
/// architecture (or file field) to look at.
#[derive(Debug, Error)]
pub enum SplitError {
    /// Not JSON of the expected shape.
    #[error("not a split file: {0}")]
    Json(#[from] serde_json::Error),
    /// Another format, or a file written under other constants.
    #[error("split file has {field} = {found}, this build uses {expected}")]
    Mismatch {
        /// The field.
        field: &'static str,
        /// Its value in the file.
        found: String,
        /// This build's value.
        expected: String,
    },
    /// The same architecture listed twice.
    #[error("architecture listed twice (as {first} and as {second}): {text}")]
    Duplicate {
        /// Its text.
        text: String,
        /// Side of the first entry.
        first: &'static str,
        /// Side of the second entry.
        second: &'static str,
    },
    /// An entry whose side is not what the rule gives.
    #[error("architecture is frozen on the {frozen} side but the rule puts it on {rule}: {text}")]
    DisagreesWithRule {
        /// Its text.
        text: String,
        /// The side in the file.
        frozen: &'static str,
        /// The side by the rule.
        rule: &'static str,
    },
    /// Records whose architecture the file does not list (run `cargo xtask split --extend`).
    #[error(
        "{count} architectures are not in the split file (first: network {first_id}); \
         run `cargo xtask split --extend`"
    )]
    Unlisted {
        /// How many architectures.
        count: usize,
        /// Id of the first record that has one.
        first_id: String,
    },
}

/// A split file, indexed by architecture text.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    file: SplitFile,
    index: HashMap<String, Side>,
}

impl Default for Split {
    fn default() -> Self {
        Split::new()
    }
}

impl Split {
    /// An empty split under this build's rule.
    pub fn new() -> Split {
        Split {
            file: SplitFile {
                format: SPLIT_FORMAT.into(),
                rule: format!(
                    "architecture text = the IR's text form of the network; a network of generator \
                     {} is evaluation; otherwise sha256(text), first 8 bytes big-endian, mod 100: \
                     < {TRAIN_PERCENT} train, < {} validation, else test. Frozen: entries never move.",
                    EVALUATION_GENERATORS.join(", "),
                    TRAIN_PERCENT + VALIDATION_PERCENT
                ),
                train_percent: TRAIN_PERCENT,
                validation_percent: VALIDATION_PERCENT,
                evaluation_generators: EVALUATION_GENERATORS
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                architectures: Vec::new(),
            },
            index: HashMap::new(),
        }
    }

    /// Parses a split file and checks it: this build's format and constants, no architecture
    /// twice, and every generated architecture on the side the rule gives (an evaluation entry
    /// can only be checked against records, by [`Split::check`]).
    ///
    /// # Errors
    ///
    /// [`SplitError::Json`], [`SplitError::Mismatch`], [`SplitError::Duplicate`],
    /// [`SplitError::DisagreesWithRule`].
    pub fn from_json(json: &str) -> Result<Split, SplitError> {
        let file: SplitFile = serde_json::from_str(json)?;
        let expected = Split::new().file;
        let mismatch = |field, found: String, expected: String| {
            if found == expected {
                Ok(())
            } else {
                Err(SplitError::Mismatch {
                    field,
                    found,
                    expected,
                })
            }
        };
        mismatch("format", file.format.clone(), expected.format)?;
        mismatch(
            "train_percent",
            file.train_percent.to_string(),
            expected.train_percent.to_string(),
        )?;
        mismatch(
            "validation_percent",
            file.validation_percent.to_string(),
            expected.validation_percent.to_string(),
        )?;
        mismatch(
            "evaluation_generators",
            file.evaluation_generators.join(","),
            expected.evaluation_generators.join(","),
        )?;
        let mut index = HashMap::with_capacity(file.architectures.len());
        for entry in &file.architectures {
            if let Some(first) = index.insert(entry.text.clone(), entry.side) {
                return Err(SplitError::Duplicate {
                    text: entry.text.clone(),
                    first: first.name(),
                    second: entry.side.name(),
                });
            }
            if entry.side != Side::Evaluation {
                let by_rule = rule(&entry.text, false);
                if by_rule != entry.side {
                    return Err(SplitError::DisagreesWithRule {
                        text: entry.text.clone(),
                        frozen: entry.side.name(),
                        rule: by_rule.name(),
                    });
                }
            }
        }
        Ok(Split { file, index })
    }

    /// The file's JSON (pretty, one entry per architecture), ending in a newline.
    pub fn to_json(&self) -> String {
        // A struct of strings, numbers and enums always serialises.
        serde_json::to_string_pretty(&self.file).unwrap_or_default() + "\n"
    }

    /// The frozen entries, in file order.
    pub fn entries(&self) -> &[Entry] {
        &self.file.architectures
    }

    /// The side of a record's architecture, if the file lists it.
    pub fn side_of(&self, record: &ZooRecord) -> Option<Side> {
        self.index.get(&architecture_text(record)).copied()
    }

    /// The side of an architecture text, if the file lists it.
    pub fn side_of_text(&self, text: &str) -> Option<Side> {
        self.index.get(text).copied()
    }

    /// What the rule says for each architecture of `records`: evaluation if any record of it
    /// comes from an evaluation-only list, else its hash bucket. In first-seen order.
    fn expected(records: &[&ZooRecord]) -> Vec<(String, Side, String)> {
        let mut order: Vec<String> = Vec::new();
        let mut seen: BTreeMap<String, (bool, String)> = BTreeMap::new();
        for record in records {
            let text = architecture_text(record);
            let evaluation = is_evaluation_generator(&record.generator);
            match seen.get_mut(&text) {
                Some(entry) => entry.0 |= evaluation,
                None => {
                    order.push(text.clone());
                    seen.insert(text, (evaluation, record.id.clone()));
                }
            }
        }
        order
            .into_iter()
            .map(|text| {
                let (evaluation, id) = seen[&text].clone();
                let side = rule(&text, evaluation);
                (text, side, id)
            })
            .collect()
    }

    /// Checks `records` against the file: every architecture listed, each on the side the
    /// rule gives it (or frozen on the evaluation side, see [`agrees`]).
    ///
    /// # Errors
    ///
    /// [`SplitError::DisagreesWithRule`] for the first architecture on another side,
    /// [`SplitError::Unlisted`] when some are missing.
    pub fn check(&self, records: &[&ZooRecord]) -> Result<(), SplitError> {
        let mut unlisted = Vec::new();
        for (text, side, id) in Split::expected(records) {
            match self.index.get(&text) {
                Some(&frozen) if !agrees(frozen, side) => {
                    return Err(SplitError::DisagreesWithRule {
                        text,
                        frozen: frozen.name(),
                        rule: side.name(),
                    });
                }
                Some(_) => {}
                None => unlisted.push(id),
            }
        }
        match unlisted.first() {
            Some(first) => Err(SplitError::Unlisted {
                count: unlisted.len(),
                first_id: first.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Appends every architecture of `records` the file does not list, by the rule; never
    /// moves a listed one. Returns how many were appended, per side.
    ///
    /// # Errors
    ///
    /// [`SplitError::DisagreesWithRule`] when a listed architecture would now go elsewhere
    /// (a generator drew a reference network, or the reverse); nothing is appended then.
    pub fn extend(&mut self, records: &[&ZooRecord]) -> Result<BTreeMap<Side, usize>, SplitError> {
        let expected = Split::expected(records);
        for (text, side, _) in &expected {
            if let Some(&frozen) = self.index.get(text)
                && !agrees(frozen, *side)
            {
                return Err(SplitError::DisagreesWithRule {
                    text: text.clone(),
                    frozen: frozen.name(),
                    rule: side.name(),
                });
            }
        }
        let mut added = BTreeMap::new();
        for (text, side, _) in expected {
            if self.index.contains_key(&text) {
                continue;
            }
            self.index.insert(text.clone(), side);
            self.file.architectures.push(Entry { side, text });
            *added.entry(side).or_insert(0) += 1;
        }
        Ok(added)
    }

    /// Architectures per side.
    pub fn counts(&self) -> BTreeMap<Side, usize> {
        let mut counts = BTreeMap::new();
        for entry in &self.file.architectures {
            *counts.entry(entry.side).or_insert(0) += 1;
        }
        counts
    }
}

/// Whether an architecture frozen on `frozen` agrees with the side the rule gives the records
/// at hand. Only a reference network ever puts an architecture on the evaluation side, and
/// once there it stays for every record of it: a generated twin (the generators can draw a
/// hand-written network) is checked without the reference file beside it. The reverse, a
/// reference network whose architecture is frozen on a fitting side, stays a disagreement.
fn agrees(frozen: Side, rule: Side) -> bool {
    frozen == rule || frozen == Side::Evaluation
}

#[cfg(test)]
mod tests {
    use super::*;
    use peephole_zoo::testing::record;

    #[test]
    fn a_generated_twin_of_a_reference_network_checks_without_the_reference_file() {
        let reference = record("ref-x", "reference-v1", 5);
        let generated = record("v2s1-5", "generator-v2", 5);
        let other = record("v2s1-6", "generator-v2", 6);
        let mut split = Split::new();
        split.extend(&[&reference, &other]).unwrap();
        split.check(&[&generated, &other]).unwrap();
        split.extend(&[&generated]).unwrap();
        assert_eq!(split.side_of(&generated), Some(Side::Evaluation));
        // A reference network on a side models fit on is still refused.
        let clash = record("ref-clash", "reference-v1", 6);
        assert!(split.check(&[&clash]).is_err());
    }

    #[test]
    fn two_records_of_one_architecture_land_on_one_side_even_across_generators() {
        let a = record("s1-1", "generator-v1", 3);
        let mut twin = record("s1-9", "generator-v1", 3);
        twin.seed = 77;
        let mut split = Split::new();
        split.extend(&[&a, &twin]).unwrap();
        assert_eq!(split.entries().len(), 1);
        // A reference network with a generated network's architecture pulls it to evaluation.
        let reference = record("ref-x", "reference-v1", 5);
        let generated = record("s1-5", "generator-v1", 5);
        let mut split = Split::new();
        split.extend(&[&generated, &reference]).unwrap();
        assert_eq!(split.side_of(&generated), Some(Side::Evaluation));
    }

    #[test]
    fn sides_follow_the_hash_rule_in_roughly_the_declared_shares() {
        let records: Vec<ZooRecord> = (0..400)
            .map(|i| record(&format!("s1-{i}"), "generator-v1", i))
            .collect();
        let refs: Vec<&ZooRecord> = records.iter().collect();
        let mut split = Split::new();
        split.extend(&refs).unwrap();
        let counts = split.counts();
        let n = split.entries().len() as f64;
        assert!(n > 300.0, "{n} distinct architectures");
        let share = |side| counts.get(&side).copied().unwrap_or(0) as f64 / n;
        // 5 sigma of a binomial share on ~400 draws is about 0.12.
        assert!((share(Side::Train) - 0.6).abs() < 0.12, "{counts:?}");
        assert!((share(Side::Test) - 0.2).abs() < 0.1, "{counts:?}");
        for entry in split.entries() {
            assert_eq!(entry.side, rule(&entry.text, false));
        }
    }

    #[test]
    fn extending_never_moves_a_frozen_architecture_and_refuses_a_conflict() {
        let records: Vec<ZooRecord> = (0..30)
            .map(|i| record(&format!("s1-{i}"), "generator-v1", i))
            .collect();
        let refs: Vec<&ZooRecord> = records.iter().collect();
        let mut split = Split::new();
        split.extend(&refs[..10]).unwrap();
        let before: Vec<Entry> = split.entries().to_vec();
        let added = split.extend(&refs).unwrap();
        assert_eq!(&split.entries()[..before.len()], &before[..]);
        assert_eq!(
            added.values().sum::<usize>(),
            split.entries().len() - before.len()
        );
        // A reference network whose architecture is frozen as train/validation/test is refused.
        let clash = record("ref-clash", "reference-v1", 0);
        let error = split.extend(&[&clash]).unwrap_err();
        assert!(
            matches!(
                error,
                SplitError::DisagreesWithRule {
                    rule: "evaluation",
                    ..
                }
            ),
            "{error}"
        );
        assert_eq!(
            split.entries().len(),
            before.len() + added.values().sum::<usize>()
        );
    }

    #[test]
    fn a_file_that_disagrees_with_the_rule_or_lists_an_architecture_twice_is_refused() {
        let records: Vec<ZooRecord> = (0..5)
            .map(|i| record(&format!("s1-{i}"), "generator-v1", i))
            .collect();
        let refs: Vec<&ZooRecord> = records.iter().collect();
        let mut split = Split::new();
        split.extend(&refs).unwrap();
        let json = split.to_json();
        assert_eq!(Split::from_json(&json).unwrap(), split);
        let mut moved = split.file.clone();
        moved.architectures[0].side = match moved.architectures[0].side {
            Side::Test => Side::Train,
            _ => Side::Test,
        };
        let error = Split::from_json(&serde_json::to_string(&moved).unwrap()).unwrap_err();
        assert!(
            matches!(error, SplitError::DisagreesWithRule { .. }),
            "{error}"
        );
        let mut twice = split.file.clone();
        twice.architectures.push(twice.architectures[0].clone());
        let error = Split::from_json(&serde_json::to_string(&twice).unwrap()).unwrap_err();
        assert!(matches!(error, SplitError::Duplicate { .. }), "{error}");
        let mut other = split.file.clone();
        other.train_percent = 70;
        assert!(matches!(
            Split::from_json(&serde_json::to_string(&other).unwrap()),
            Err(SplitError::Mismatch {
                field: "train_percent",
                ..
            })
        ));
    }

    #[test]
    fn check_names_unlisted_architectures() {
        let a = record("s1-1", "generator-v1", 1);
        let b = record("s1-2", "generator-v1", 2);
        let mut split = Split::new();
        split.extend(&[&a]).unwrap();
        assert!(split.check(&[&a]).is_ok());
        match split.check(&[&a, &b]) {
            Err(SplitError::Unlisted { count: 1, first_id }) => assert_eq!(first_id, "s1-2"),
            other => panic!("{other:?}"),
        }
    }
}

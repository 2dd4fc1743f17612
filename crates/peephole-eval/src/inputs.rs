//! What an evaluation reads besides the model: zoo files checked against the model's card, the
//! runs of a second training seed, the frozen split file, and what a card says its model saw.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use peephole_baselines::BaselineError;
use peephole_baselines::features::final_accuracy;
use peephole_predictor::ModelCard;
use peephole_zoo::{BadLine, ZooError, ZooRecord, read_zoo, read_zoo_from};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::split::{Split, SplitError, architecture_text};

/// Why the inputs of an evaluation cannot be used. Each variant names the file or network to
/// look at, and what is wrong with it.
#[derive(Debug, Error)]
pub enum InputError {
    /// A zoo file could not be read (its error names the file).
    #[error(transparent)]
    Zoo(#[from] ZooError),
    /// The split file could not be read.
    #[error("cannot read split file {path}: {source}")]
    SplitRead {
        /// The split file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The split file is not a usable split.
    #[error("split file {path}: {source}")]
    Split {
        /// The split file.
        path: PathBuf,
        /// What is wrong with it.
        source: SplitError,
    },
    /// The zoo files hold an architecture the split file does not list, or lists elsewhere.
    #[error("the zoo files against split file {path}: {source}")]
    SplitCoverage {
        /// The split file.
        path: PathBuf,
        /// The first architecture that does not fit.
        source: SplitError,
    },
    /// A record of another protocol: its accuracy answers a different question.
    #[error(
        "{file}: network {id} was trained under protocol {protocol}, but model {model} predicts {expected}"
    )]
    Protocol {
        /// The zoo file.
        file: String,
        /// The network.
        id: String,
        /// Its protocol.
        protocol: String,
        /// The model card's name.
        model: String,
        /// The card's protocol.
        expected: String,
    },
    /// A record encoded with another ULC version.
    #[error(
        "{file}: network {id} is encoded with {ulc_version}, but model {model} reads {expected}"
    )]
    UlcVersion {
        /// The zoo file.
        file: String,
        /// The network.
        id: String,
        /// Its ULC version.
        ulc_version: String,
        /// The model card's name.
        model: String,
        /// The card's ULC version.
        expected: String,
    },
    /// The same id in two files (or twice in one): the second would be scored twice.
    #[error(
        "network {id} occurs twice (in {first} and in {second}); give each zoo file once, \
         and a second seed's file with --second-seed"
    )]
    DuplicateId {
        /// The network.
        id: String,
        /// The file it was first read from.
        first: String,
        /// The file it occurs in again.
        second: String,
    },
    /// A second run of a network the first-run files lack.
    #[error("second-seed network {id} is in none of the --zoo files")]
    SecondRunUnpaired {
        /// The network.
        id: String,
    },
    /// A second run of the same id with another architecture: it would pair unrelated numbers.
    #[error("second-seed network {id} has another architecture than the first run")]
    SecondRunArchitecture {
        /// The network.
        id: String,
    },
    /// A second run without the protocol's final accuracy.
    #[error("second-seed network {id}: {source}")]
    SecondRunAccuracy {
        /// The network.
        id: String,
        /// What its curve lacks.
        source: BaselineError,
    },
    /// A zoo file a card was fitted on could not be read.
    #[error("cannot read {path} (model card {card} was fitted on it): {source}")]
    CardZooRead {
        /// The zoo file, under the root given.
        path: PathBuf,
        /// The card's name.
        card: String,
        /// Why.
        source: std::io::Error,
    },
    /// A zoo file a card was fitted on is shorter than what the card read.
    #[error("{path} has {found} bytes, fewer than the {expected} model card {card} read")]
    CardZooShort {
        /// The zoo file.
        path: PathBuf,
        /// Its length.
        found: usize,
        /// The length the card records.
        expected: u64,
        /// The card's name.
        card: String,
    },
    /// The prefix a card was fitted on has changed since.
    #[error(
        "the first {bytes} bytes of {path} are not what model card {card} was fitted on (SHA-256 differs)"
    )]
    CardZooChanged {
        /// The zoo file.
        path: PathBuf,
        /// The prefix length the card records.
        bytes: u64,
        /// The card's name.
        card: String,
    },
    /// A zoo file a card was fitted on could not be parsed.
    #[error("cannot parse {path}: {source}")]
    CardZooParse {
        /// The zoo file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// One zoo file as read: its good records, and the lines it skipped.
#[derive(Debug, Clone, Default)]
pub struct ZooFile {
    /// The path as given, for messages and the report.
    pub path: String,
    /// Good records in file order.
    pub records: Vec<ZooRecord>,
    /// Lines skipped, with reasons (the caller reports them).
    pub bad_lines: Vec<BadLine>,
}

impl ZooFile {
    /// A file of `records` named `path`, none skipped.
    pub fn new(path: impl Into<String>, records: Vec<ZooRecord>) -> ZooFile {
        ZooFile {
            path: path.into(),
            records,
            bad_lines: Vec::new(),
        }
    }
}

/// Every zoo file's records, in order; bad lines are kept for the caller to report.
///
/// # Errors
///
/// [`InputError::Zoo`] for a file that cannot be read at all.
pub fn read_files(paths: &[PathBuf]) -> Result<Vec<ZooFile>, InputError> {
    paths
        .iter()
        .map(|path| {
            let contents = read_zoo(path)?;
            Ok(ZooFile {
                path: path.display().to_string(),
                records: contents.records,
                bad_lines: contents.bad_lines,
            })
        })
        .collect()
}

/// The split file at `path`, checked against `records`: every record's architecture must be in
/// it, on the side the rule gives.
///
/// # Errors
///
/// [`InputError::SplitRead`], [`InputError::Split`] for a file that is not a split,
/// [`InputError::SplitCoverage`] for records it does not cover.
pub fn read_split(path: &Path, records: &[&ZooRecord]) -> Result<Split, InputError> {
    let text = std::fs::read_to_string(path).map_err(|source| InputError::SplitRead {
        path: path.to_path_buf(),
        source,
    })?;
    let split = Split::from_json(&text).map_err(|source| InputError::Split {
        path: path.to_path_buf(),
        source,
    })?;
    split
        .check(records)
        .map_err(|source| InputError::SplitCoverage {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(split)
}

/// Every record of the zoo files, after refusing records of another protocol or ULC version
/// (their accuracies answer a different question) and ids that occur twice.
///
/// # Errors
///
/// [`InputError::Protocol`], [`InputError::UlcVersion`], [`InputError::DuplicateId`] for the
/// first record that has the problem.
pub fn check_records<'a>(
    card: &ModelCard,
    files: &'a [ZooFile],
) -> Result<Vec<&'a ZooRecord>, InputError> {
    let mut seen: HashMap<&str, &str> = HashMap::new();
    let mut records = Vec::new();
    for file in files {
        for record in &file.records {
            check_record(card, &file.path, record)?;
            if let Some(other) = seen.insert(&record.id, &file.path) {
                return Err(InputError::DuplicateId {
                    id: record.id.clone(),
                    first: other.to_string(),
                    second: file.path.clone(),
                });
            }
            records.push(record);
        }
    }
    Ok(records)
}

/// Refuses a record of another protocol or ULC version than the card's.
fn check_record(card: &ModelCard, file: &str, record: &ZooRecord) -> Result<(), InputError> {
    if record.protocol != card.protocol {
        return Err(InputError::Protocol {
            file: file.to_string(),
            id: record.id.clone(),
            protocol: record.protocol.clone(),
            model: card.name.clone(),
            expected: card.protocol.clone(),
        });
    }
    if record.ulc_version != card.ulc_version {
        return Err(InputError::UlcVersion {
            file: file.to_string(),
            id: record.id.clone(),
            ulc_version: record.ulc_version.clone(),
            model: card.name.clone(),
            expected: card.ulc_version.clone(),
        });
    }
    Ok(())
}

/// The second run's final accuracy per id; a second run of a network the first files lack, or
/// of another architecture, is an error (it would pair unrelated numbers).
///
/// # Errors
///
/// As [`check_records`] for the second files, and [`InputError::SecondRunUnpaired`],
/// [`InputError::SecondRunArchitecture`], [`InputError::SecondRunAccuracy`].
pub fn second_runs(
    card: &ModelCard,
    second: &[ZooFile],
    records: &[&ZooRecord],
) -> Result<HashMap<String, f64>, InputError> {
    let first: HashMap<&str, &ZooRecord> = records.iter().map(|r| (r.id.as_str(), *r)).collect();
    let mut runs = HashMap::new();
    for record in check_records(card, second)? {
        let Some(original) = first.get(record.id.as_str()) else {
            return Err(InputError::SecondRunUnpaired {
                id: record.id.clone(),
            });
        };
        if original.text != record.text {
            return Err(InputError::SecondRunArchitecture {
                id: record.id.clone(),
            });
        }
        let accuracy = final_accuracy(record, card.epochs as usize).map_err(|source| {
            InputError::SecondRunAccuracy {
                id: record.id.clone(),
                source,
            }
        })?;
        runs.insert(record.id.clone(), accuracy);
    }
    Ok(runs)
}

/// What a model saw.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// Architecture texts ([`architecture_text`]).
    pub architectures: HashSet<String>,
    /// Networks (records) behind them.
    pub networks: usize,
}

/// Architectures the model saw while fitting or validating: every network of the zoo files its
/// card lists (paths under `root`; exactly the bytes it read: the card's size and SHA-256 are
/// checked on that prefix, so a grown file still counts) except the card's held-out ids.
///
/// # Errors
///
/// [`InputError::CardZooRead`], [`InputError::CardZooShort`], [`InputError::CardZooChanged`],
/// [`InputError::CardZooParse`] for the first listed file that is not what the card read.
pub fn seen_by_card(card: &ModelCard, root: &Path) -> Result<Seen, InputError> {
    // Held out: the test side, and networks the fit left out (reference twins).
    let held_out: HashSet<&str> = card
        .split
        .test_ids
        .iter()
        .chain(&card.split.left_out_ids)
        .map(String::as_str)
        .collect();
    let mut seen = Seen::default();
    for file in &card.zoo {
        let path = root.join(&file.path);
        let bytes = std::fs::read(&path).map_err(|source| InputError::CardZooRead {
            path: path.clone(),
            card: card.name.clone(),
            source,
        })?;
        let prefix = fitted_prefix(card, file, &path, &bytes)?;
        let contents = read_zoo_from(prefix).map_err(|source| InputError::CardZooParse {
            path: path.clone(),
            source,
        })?;
        for record in contents.records {
            if !held_out.contains(record.id.as_str()) {
                seen.architectures.insert(architecture_text(&record));
                seen.networks += 1;
            }
        }
    }
    Ok(seen)
}

/// The prefix of a zoo file's `bytes` that `card` read, checked against the size and SHA-256
/// the card recorded.
fn fitted_prefix<'a>(
    card: &ModelCard,
    file: &peephole_predictor::ZooFileInfo,
    path: &Path,
    bytes: &'a [u8],
) -> Result<&'a [u8], InputError> {
    let length = usize::try_from(file.bytes).unwrap_or(usize::MAX);
    if bytes.len() < length {
        return Err(InputError::CardZooShort {
            path: path.to_path_buf(),
            found: bytes.len(),
            expected: file.bytes,
            card: card.name.clone(),
        });
    }
    let prefix = &bytes[..length];
    let digest: String = Sha256::digest(prefix)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if digest != file.sha256 {
        return Err(InputError::CardZooChanged {
            path: path.to_path_buf(),
            bytes: file.bytes,
            card: card.name.clone(),
        });
    }
    Ok(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{card, record};

    #[test]
    fn records_of_another_protocol_and_duplicate_ids_are_refused() {
        let mut sources = vec![ZooFile::new(
            "a.jsonl",
            vec![record(1, "generator-v1"), record(2, "generator-v1")],
        )];
        sources[0].records[1].protocol = "mnist-paper".into();
        let error = check_records(&card(), &sources).unwrap_err().to_string();
        assert!(
            error.contains("network s5-2 was trained under protocol mnist-paper"),
            "{error}"
        );
        let twice = vec![
            ZooFile::new("a.jsonl", vec![record(1, "generator-v1")]),
            ZooFile::new("b.jsonl", vec![record(1, "generator-v1")]),
        ];
        let error = check_records(&card(), &twice).unwrap_err().to_string();
        assert!(
            error.contains("s5-1 occurs twice (in a.jsonl and in b.jsonl)"),
            "{error}"
        );
    }

    #[test]
    fn a_card_sees_what_it_was_fitted_on_but_not_its_test_side_or_its_left_out_twins() {
        let records: Vec<ZooRecord> = (0..3).map(|i| record(i, "generator-v2")).collect();
        let text: String = records
            .iter()
            .map(|r| serde_json::to_string(r).unwrap() + "\n")
            .collect();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("zoo.jsonl"), &text).unwrap();
        let mut card = card();
        card.zoo = vec![peephole_predictor::ZooFileInfo {
            path: "zoo.jsonl".into(),
            sha256: Sha256::digest(text.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
            bytes: text.len() as u64,
            records: 3,
        }];
        card.split.test_ids = vec![records[1].id.clone()];
        card.split.left_out_ids = vec![records[2].id.clone()];
        let seen = seen_by_card(&card, dir.path()).unwrap();
        assert_eq!(seen.networks, 1);
        assert!(seen.architectures.contains(&architecture_text(&records[0])));
        assert!(!seen.architectures.contains(&architecture_text(&records[1])));
        assert!(!seen.architectures.contains(&architecture_text(&records[2])));
    }
}

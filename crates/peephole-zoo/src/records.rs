//! The zoo record format: JSON Lines, one trained network per line, written so that a crash
//! can cost at most the line being written.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use peephole_ir::Network;
use peephole_ir::ulc::{Clamp, UlcCode};

/// One trained network: everything needed to learn from it and to reproduce it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ZooRecord {
    /// Stable identifier: generator stream and index (`s{seed}-{index}`), unique in a zoo.
    pub id: String,
    /// Training protocol name, e.g. `fmnist-budget-v1`.
    pub protocol: String,
    /// ULC version of `ulc`.
    pub ulc_version: String,
    /// What drew the network: `generator-v1`, `generator-v2`, or the name of a network list
    /// (`reference-v1`) for hand-written networks.
    pub generator: String,
    /// Skeleton name (`fmnist-v1`); `free-form` for networks no skeleton frames.
    pub skeleton: String,
    /// The random design in text: v1's block, v2's style summary, a listed network's source.
    pub block: String,
    /// The whole network in the text form (for people and grep).
    pub text: String,
    /// The whole network, every layer with its widths.
    pub network: Network,
    /// The ULC sequence.
    pub ulc: Vec<UlcCode>,
    /// Every value ULC v1 clamped while encoding `network` (a 7x7 kernel, a 1 -> 16 stem),
    /// so a reader sees where the codes say less than the network; absent in records written
    /// before it was recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ulc_clamps: Vec<Clamp>,
    /// Seed of the training run (initialisation and batch order).
    pub seed: u64,
    /// Validation accuracy after each epoch.
    pub curve: Vec<f64>,
    /// Mean training loss of each epoch; `None` from the epoch that diverged on.
    pub train_loss: Vec<Option<f64>>,
    /// Trainable parameters.
    pub params: u64,
    /// Multiply-accumulates per image.
    pub macs: u64,
    /// Wall-clock seconds of training and evaluation.
    pub wall_seconds: f64,
    /// Device it trained on (`cpu`, `cuda:0`).
    pub device: String,
    /// Whether a training loss was not finite.
    pub diverged: bool,
    /// Version of the tool that trained it.
    pub tool_version: String,
}

impl ZooRecord {
    /// The last point of the curve: the accuracy the predictor is trained to predict.
    pub fn final_accuracy(&self) -> Option<f64> {
        self.curve.last().copied()
    }

    /// Checks the invariants a reader relies on beyond JSON syntax.
    pub fn validate(&self) -> Result<(), InvalidRecord> {
        if self.id.is_empty() {
            return Err(InvalidRecord::EmptyId);
        }
        if self.curve.is_empty() {
            return Err(InvalidRecord::EmptyCurve);
        }
        if let Some((epoch, &value)) = self
            .curve
            .iter()
            .enumerate()
            .find(|(_, v)| !(v.is_finite() && (0.0..=1.0).contains(*v)))
        {
            return Err(InvalidRecord::NotAnAccuracy { epoch, value });
        }
        if self.train_loss.len() != self.curve.len() {
            return Err(InvalidRecord::LossCount {
                losses: self.train_loss.len(),
                points: self.curve.len(),
            });
        }
        // serde_json writes a non-finite number as `null`, which no reader accepts back: a
        // writer that let it through would durably store a record nobody can read.
        if !self.wall_seconds.is_finite() {
            return Err(InvalidRecord::WallSeconds(self.wall_seconds));
        }
        if self.ulc.len() != self.network.layers.len() {
            return Err(InvalidRecord::CodeCount {
                codes: self.ulc.len(),
                layers: self.network.layers.len(),
            });
        }
        Ok(())
    }
}

/// Why a record breaks an invariant readers rely on beyond JSON syntax: the reader skips it
/// as a bad line, the writer refuses to store it.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum InvalidRecord {
    /// The id is empty, so resuming cannot tell the record from any other.
    #[error("empty id")]
    EmptyId,
    /// No accuracy at all.
    #[error("empty curve")]
    EmptyCurve,
    /// A curve point outside [0, 1] or not finite.
    #[error("curve[{epoch}] = {value} is not an accuracy in [0, 1]")]
    NotAnAccuracy {
        /// 0-based index into the curve.
        epoch: usize,
        /// The value found there.
        value: f64,
    },
    /// One training loss per curve point is expected.
    #[error("{losses} training losses for {points} curve points")]
    LossCount {
        /// Training losses in the record.
        losses: usize,
        /// Curve points in the record.
        points: usize,
    },
    /// JSON cannot hold a non-finite number.
    #[error("wall_seconds = {0} is not a finite number")]
    WallSeconds(f64),
    /// One ULC code per layer is expected.
    #[error("{codes} ULC codes for {layers} layers")]
    CodeCount {
        /// Codes in the record.
        codes: usize,
        /// Layers of its network.
        layers: usize,
    },
}

/// Why a zoo file could not be read or written at all.
#[derive(Debug, Error)]
pub enum ZooError {
    /// The file could not be opened, read or written.
    #[error("zoo file {path}: {source}")]
    Io {
        /// The zoo file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A record could not be serialised (should not happen for valid records).
    #[error("zoo file {path}: record {id} cannot be written: {reason}")]
    Unwritable {
        /// The zoo file.
        path: PathBuf,
        /// The record's id.
        id: String,
        /// Why.
        reason: String,
    },
}

/// A line that is not a valid record; reported, skipped, never fatal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for BadLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// Every good record of a zoo file and every bad line, with its number.
#[derive(Debug, Clone, Default)]
pub struct ZooContents {
    /// Good records in file order.
    pub records: Vec<ZooRecord>,
    /// Lines skipped, with reasons.
    pub bad_lines: Vec<BadLine>,
}

/// Longest line the reader accepts; a real record is a few kB, so anything far larger is
/// damage, and bounding it keeps a hostile file from exhausting memory.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Parses zoo text from any reader, keeping every good line.
pub fn read_zoo_from(reader: impl Read) -> std::io::Result<ZooContents> {
    let mut contents = ZooContents::default();
    let mut reader = BufReader::new(reader);
    let mut buffer = Vec::new();
    let mut line = 0;
    loop {
        buffer.clear();
        line += 1;
        let read = (&mut reader)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut buffer)?;
        if read == 0 {
            break;
        }
        if buffer.len() > MAX_LINE_BYTES && buffer.last() != Some(&b'\n') {
            // Skip the rest of the overlong line.
            let mut sink = Vec::new();
            loop {
                sink.clear();
                let n = (&mut reader)
                    .take(MAX_LINE_BYTES as u64)
                    .read_until(b'\n', &mut sink)?;
                if n == 0 || sink.last() == Some(&b'\n') {
                    break;
                }
            }
            contents.bad_lines.push(BadLine {
                line,
                reason: format!("longer than {MAX_LINE_BYTES} bytes"),
            });
            continue;
        }
        let torn = buffer.last() != Some(&b'\n');
        let text = match std::str::from_utf8(&buffer) {
            Ok(text) => text.trim(),
            Err(e) => {
                // An interrupted write can cut a multi-byte character in half: still torn.
                let reason = if torn {
                    format!("torn last line (an interrupted write): not UTF-8: {e}")
                } else {
                    format!("not UTF-8: {e}")
                };
                contents.bad_lines.push(BadLine { line, reason });
                continue;
            }
        };
        if text.is_empty() {
            continue;
        }
        match serde_json::from_str::<ZooRecord>(text) {
            Ok(record) => match record.validate() {
                Ok(()) => contents.records.push(record),
                Err(invalid) => contents.bad_lines.push(BadLine {
                    line,
                    reason: invalid.to_string(),
                }),
            },
            Err(e) => {
                let reason = if torn {
                    format!("torn last line (an interrupted write): {e}")
                } else {
                    format!("not a zoo record: {e}")
                };
                contents.bad_lines.push(BadLine { line, reason });
            }
        }
    }
    Ok(contents)
}

/// Largest zoo file read: a record is a few kB, so this is far more networks than anyone
/// trains, and a device or a runaway file stops here instead of filling memory.
pub const MAX_ZOO_BYTES: u64 = 1 << 30;

/// Reads a zoo file (regular files only, at most [`MAX_ZOO_BYTES`]); a missing file is an
/// error, bad lines are not.
pub fn read_zoo(path: &Path) -> Result<ZooContents, ZooError> {
    let file =
        peephole_io::open(path, MAX_ZOO_BYTES, "zoo file").map_err(|error| ZooError::Io {
            path: path.into(),
            source: error.into_io(),
        })?;
    read_zoo_from(file).map_err(|source| ZooError::Io {
        path: path.into(),
        source,
    })
}

/// Ids already in a zoo file (an absent file holds none), so a rerun can skip them.
pub fn finished_ids(path: &Path) -> Result<HashSet<String>, ZooError> {
    if !path.exists() {
        return Ok(HashSet::new());
    }
    Ok(read_zoo(path)?.records.into_iter().map(|r| r.id).collect())
}

/// Appends whole records: one `write` per line, then flush and `fsync`, so a crash leaves at
/// most a torn last line and never touches earlier ones.
#[derive(Debug)]
pub struct ZooWriter {
    path: PathBuf,
    file: File,
}

impl ZooWriter {
    /// Opens (creating if needed) a zoo file for appending. If a previous run was killed
    /// mid-line, the torn line is closed with a newline first so the next record starts on a
    /// line of its own; the reader then reports the torn line and skips it.
    pub fn append(path: &Path) -> Result<Self, ZooError> {
        let io = |source| ZooError::Io {
            path: path.into(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(path)
            .map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        if len > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::Start(len - 1)).map_err(io)?;
            file.read_exact(&mut last).map_err(io)?;
            if last[0] != b'\n' {
                file.write_all(b"\n").map_err(io)?;
                file.sync_data().map_err(io)?;
            }
        }
        Ok(ZooWriter {
            path: path.into(),
            file,
        })
    }

    /// Appends one record durably.
    pub fn write(&mut self, record: &ZooRecord) -> Result<(), ZooError> {
        if let Err(invalid) = record.validate() {
            return Err(ZooError::Unwritable {
                path: self.path.clone(),
                id: record.id.clone(),
                reason: invalid.to_string(),
            });
        }
        let mut line = serde_json::to_string(record).map_err(|e| ZooError::Unwritable {
            path: self.path.clone(),
            id: record.id.clone(),
            reason: e.to_string(),
        })?;
        line.push('\n');
        let io = |source| ZooError::Io {
            path: self.path.clone(),
            source,
        };
        self.file.write_all(line.as_bytes()).map_err(io)?;
        self.file.flush().map_err(io)?;
        self.file.sync_data().map_err(io)
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

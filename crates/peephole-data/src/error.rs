//! The one error type of this crate: every variant names the file it is about and what is wrong with it.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Stands in for a file name when bytes were parsed from memory (`parse_*` functions, fuzzing),
/// so every error still names its input the same way.
pub const MEMORY_SOURCE: &str = "<memory>";

/// Returns the path used in errors for data that came from memory rather than a file.
pub(crate) fn memory_source() -> &'static Path {
    Path::new(MEMORY_SOURCE)
}

/// Everything that can go wrong while finding, reading or checking a dataset file.
///
/// Each variant carries the path (or [`MEMORY_SOURCE`]) so that a message printed at the binary
/// edge tells the user which file to look at, not just that "something" was truncated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The operating system (or the gzip decoder, which reports through `io::Error`) failed.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file being read.
        path: PathBuf,
        /// The underlying failure.
        source: io::Error,
    },

    /// The header does not describe an IDX file this crate can read.
    #[error("{} is not an IDX file of unsigned bytes: {reason}", path.display())]
    NotIdx {
        /// The file being read.
        path: PathBuf,
        /// Which part of the header is wrong.
        reason: IdxProblem,
    },

    /// The input ended before everything its header promised had arrived.
    #[error("{} is truncated: its {what} needs {expected} bytes but only {got} arrived", path.display())]
    Truncated {
        /// The file being read.
        path: PathBuf,
        /// Which part was cut short ("IDX header", "IDX data", ...).
        what: &'static str,
        /// Bytes the header promised.
        expected: usize,
        /// Bytes that actually arrived.
        got: usize,
    },

    /// Bytes follow the last item the header describes; the file is corrupt or not what it claims.
    #[error("{} has {trailing} unexpected bytes after the {what} its header describes", path.display())]
    TrailingBytes {
        /// The file being read.
        path: PathBuf,
        /// What the header described ("IDX data").
        what: &'static str,
        /// How many extra bytes there are.
        trailing: u64,
    },

    /// The header's dimensions multiply to more bytes than this machine can address.
    #[error("{}: header dimensions {dims:?} describe more bytes than this machine can address", path.display())]
    TooLarge {
        /// The file being read.
        path: PathBuf,
        /// The dimensions exactly as the header states them.
        dims: Vec<u64>,
    },

    /// The file's shape is not the one the dataset defines (e.g. images not 28x28).
    #[error("{}: expected shape {expected:?}, the header declares {found:?}", path.display())]
    BadShape {
        /// The file being read.
        path: PathBuf,
        /// Whole-file shape the dataset requires (first dimension: the file's item count).
        expected: Vec<usize>,
        /// Whole-file shape the header declares.
        found: Vec<usize>,
    },

    /// An images file and its labels file disagree on how many items they hold.
    #[error(
        "{} holds {images_count} images but {} holds {labels_count} labels",
        images.display(),
        labels.display()
    )]
    CountMismatch {
        /// The images file.
        images: PathBuf,
        /// Items according to the images file's header.
        images_count: usize,
        /// The labels file.
        labels: PathBuf,
        /// Items according to the labels file's header.
        labels_count: usize,
    },

    /// A split asks for more items than the file holds.
    #[error("{}: the split needs the first {wanted} items but the file holds only {available}", path.display())]
    TooFewItems {
        /// The file being read.
        path: PathBuf,
        /// Items the split asks for.
        wanted: usize,
        /// Items the file holds.
        available: usize,
    },

    /// A label is outside the dataset's class range.
    #[error("{}: label {label} of item {index} is outside 0..={max}", path.display())]
    BadLabel {
        /// The file being read.
        path: PathBuf,
        /// Zero-based index of the offending item (record) in the file.
        index: usize,
        /// The label found.
        label: u8,
        /// The largest valid label.
        max: u8,
    },

    /// A fixed-record file (CIFAR-10 binary) does not end on a record boundary.
    #[error(
        "{}: length {len} is not a multiple of the {record_len}-byte record; {trailing} trailing bytes",
        path.display()
    )]
    BadRecordLength {
        /// The file being read.
        path: PathBuf,
        /// Length of the file in bytes.
        len: u64,
        /// Length of one record.
        record_len: usize,
        /// Bytes after the last whole record.
        trailing: u64,
    },

    /// None of the searched directories holds all files of the dataset.
    #[error("{}", not_found_message(dataset, files, searched, fixes))]
    DatasetNotFound {
        /// Human name of the dataset ("Fashion-MNIST").
        dataset: &'static str,
        /// File names that must all be present (gzipped or not).
        files: &'static [&'static str],
        /// Directories searched, in order.
        searched: Vec<PathBuf>,
        /// Commands or settings, one per line, any of which makes the dataset findable.
        fixes: &'static [&'static str],
    },

    /// The caller's split parameters cannot produce sensible tensors (e.g. a zero std).
    #[error("invalid split parameters: {reason}")]
    BadSplitSpec {
        /// What is wrong with the parameters.
        reason: String,
    },
}

impl DataError {
    /// Wraps an `io::Error` with the path it happened on.
    pub(crate) fn io(path: &Path, source: io::Error) -> Self {
        DataError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Why a header is not a readable IDX header, as a type so tests and callers can match on it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdxProblem {
    /// The first two bytes must be zero.
    BadMagic {
        /// The two bytes found.
        found: [u8; 2],
    },
    /// Only type 0x08 (unsigned byte) is supported: every dataset this crate serves stores bytes.
    UnsupportedType {
        /// The type byte found.
        type_byte: u8,
    },
    /// A zero dimension count describes no items at all.
    NoDims,
    /// More dimensions than any image dataset needs; refusing keeps a hostile header small.
    TooManyDims {
        /// The dimension count found.
        count: u8,
        /// The largest count accepted.
        max: usize,
    },
    /// A dimension after the first is 0: every item would hold no bytes, whatever the item
    /// count says (and the declared sizes need not even multiply to something addressable).
    EmptyItems {
        /// Which dimension (0-based) is 0.
        dim: usize,
    },
}

impl fmt::Display for IdxProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdxProblem::BadMagic { found } => write!(
                f,
                "magic starts with {:#04x} {:#04x}, expected 0x00 0x00",
                found[0], found[1]
            ),
            IdxProblem::UnsupportedType { type_byte } => write!(
                f,
                "element type {type_byte:#04x} is not supported (only 0x08, unsigned byte)"
            ),
            IdxProblem::NoDims => write!(f, "the header declares zero dimensions"),
            IdxProblem::TooManyDims { count, max } => {
                write!(
                    f,
                    "the header declares {count} dimensions, at most {max} are supported"
                )
            }
            IdxProblem::EmptyItems { dim } => write!(
                f,
                "dimension {dim} is 0, so every item would be empty (only the item count, \
                 dimension 0, may be 0)"
            ),
        }
    }
}

/// Builds the "dataset not found" message: what was looked for, where, and the exact fixes.
fn not_found_message(
    dataset: &str,
    files: &[&str],
    searched: &[PathBuf],
    fixes: &[&str],
) -> String {
    let mut msg = format!("{dataset} not found. Looked for these files (each gzipped or not):\n");
    for file in files {
        msg.push_str(&format!("    {file}\n"));
    }
    msg.push_str("in these directories, in order:\n");
    if searched.is_empty() {
        msg.push_str("    (none)\n");
    }
    for dir in searched {
        msg.push_str(&format!("    {}\n", dir.display()));
    }
    msg.push_str("To fix it, do one of:");
    for fix in fixes {
        msg.push_str(&format!("\n    {fix}"));
    }
    msg
}

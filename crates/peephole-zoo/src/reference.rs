//! Network lists: hand-written networks declared one per line with a name and a source, such
//! as the reference set (`data/reference/reference-v1.txt`), so a zoo run can train exactly
//! the networks people write and the evaluation can report on them as a slice of their own.
//!
//! Format: `name | source | network in the text form`; `#` starts a comment line, blank lines
//! are skipped. Names are unique and made of lowercase letters, digits and `-`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use thiserror::Error;

use peephole_ir::Network;
use peephole_ir::text::parse_network;

/// One declared network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedNetwork {
    /// Unique name; zoo ids are `ref-{name}`.
    pub name: String,
    /// Where the network comes from (paper, tutorial, example) and how it was adapted.
    pub source: String,
    /// The network.
    pub network: Network,
    /// 1-based line of the declaration.
    pub line: usize,
}

impl ListedNetwork {
    /// The zoo id of this network: stable across seeds and files, never a generator id.
    pub fn record_id(&self) -> String {
        format!("ref-{}", self.name)
    }
}

/// Why a network list could not be used.
#[derive(Debug, Error)]
pub enum ListError {
    /// The file could not be read.
    #[error("network list {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A line is not a declaration.
    #[error("network list {path}, line {line}: {message}")]
    Line {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The file declares no network.
    #[error("network list {path}: declares no network")]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

/// Largest list file read (a list is a few kB; anything larger is not a list).
pub const MAX_LIST_BYTES: u64 = 4 << 20;

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Parses list text; `path` only names the input in errors.
pub fn parse_network_list(text: &str, path: &Path) -> Result<Vec<ListedNetwork>, ListError> {
    let mut networks = Vec::new();
    let mut names = HashSet::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let error = |message: String| ListError::Line {
            path: path.into(),
            line,
            message,
        };
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let mut fields = trimmed.splitn(3, '|').map(str::trim);
        let (Some(name), Some(source), Some(declaration)) =
            (fields.next(), fields.next(), fields.next())
        else {
            return Err(error(
                "expected `name | source | network in the text form`".into(),
            ));
        };
        if !valid_name(name) {
            return Err(error(format!(
                "name `{name}`: use lowercase letters, digits and `-` only"
            )));
        }
        if source.is_empty() {
            return Err(error(format!("network `{name}` has no source")));
        }
        if !names.insert(name.to_string()) {
            return Err(error(format!("network `{name}` is declared twice")));
        }
        let network = parse_network(declaration)
            .map_err(|e| error(format!("network `{name}`: {}", e.render(declaration))))?;
        network
            .analyze()
            .map_err(|e| error(format!("network `{name}`: {e}")))?;
        networks.push(ListedNetwork {
            name: name.to_string(),
            source: source.to_string(),
            network,
            line,
        });
    }
    if networks.is_empty() {
        return Err(ListError::Empty { path: path.into() });
    }
    Ok(networks)
}

/// Reads and parses a list file (regular files only, at most [`MAX_LIST_BYTES`], UTF-8),
/// through the one bounded reader every outside file goes through.
pub fn read_network_list(path: &Path) -> Result<Vec<ListedNetwork>, ListError> {
    let text = peephole_io::read_text(path, MAX_LIST_BYTES, "network list").map_err(|error| {
        ListError::Io {
            path: path.into(),
            source: error.into_io(),
        }
    })?;
    parse_network_list(&text, path)
}

/// The name a list's records carry as their `generator`: the file's stem
/// (`reference-v1` for `data/reference/reference-v1.txt`).
pub fn list_name(path: &Path) -> String {
    path.file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("network-list")
        .to_string()
}

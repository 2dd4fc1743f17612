//! What Peephole reads from outside and what it echoes back, made safe in one place: every
//! file (models, cards, zoo files, network lists, datasets, scanned sources) goes through
//! [`read`], and every piece of input shown on a terminal goes through [`show`].
//!
//! A leaf crate with no Peephole dependency, so the core, the dataset readers, the lint and
//! the command line all share it without importing each other.

pub mod read;
pub mod show;

pub use read::{BoundedFile, ReadError, open, read_bytes, read_text};
pub use show::{MAX_SHOWN_CHARS, escape, excerpt, shown};

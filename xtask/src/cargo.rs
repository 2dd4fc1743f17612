//! The workspace xtask works on: its root, cargo's target folder, and a `cargo` command there
//! (run through [`crate::process`]).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root, so every command works from any directory.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Where cargo puts what it builds: `CARGO_TARGET_DIR` when set (relative to the workspace
/// root when relative), `target/` in the workspace otherwise. Every binary xtask runs after
/// building it (the trainer, the fuzz targets) is looked up here.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root().join(dir),
        None => root().join("target"),
    }
}

/// A `cargo` command in the workspace root, with the cargo that runs xtask.
pub fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(root());
    command
}

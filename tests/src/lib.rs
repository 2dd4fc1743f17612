//! Helpers shared by the workspace's integration tests: where the workspace is, how a user's
//! crate is built, and which peephole warnings that build printed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace's root directory (this crate lives in `<root>/tests`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate is in the workspace")
        .to_path_buf()
}

/// Builds the crate in `dir` as a user would, `cargo build --offline
/// --message-format=json`, into `target_dir`, without this process's `RUSTFLAGS` or
/// `PEEPHOLE_MODEL` (a user's build sets neither). The build carries no debug information
/// and no incremental cache: neither changes a warning, and both cost gigabytes of disk.
pub fn build_json(dir: &Path, target_dir: &Path) -> Output {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    Command::new(cargo)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir)
        .env("CARGO_PROFILE_DEV_DEBUG", "false")
        .env("CARGO_INCREMENTAL", "0")
        .env_remove("RUSTFLAGS")
        .env_remove("PEEPHOLE_MODEL")
        .args(["build", "--offline", "--message-format=json"])
        .output()
        .expect("run cargo")
}

/// A peephole warning of a build: the lint and where its primary span starts (1-based).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct BuildWarning {
    /// The lint's name, as in `stacked_activations`.
    pub lint: String,
    /// Line of the primary span's start.
    pub line: u64,
    /// Column of the primary span's start.
    pub column: u64,
}

/// The peephole warnings among cargo's JSON messages, sorted: the macros emit each as the
/// use of a deprecated item `...::peephole::NAME`, so the lint name comes from the item's
/// path and the place from the primary span. Other lines and messages are skipped.
pub fn build_warnings(json_lines: &str) -> Vec<BuildWarning> {
    let mut found: Vec<BuildWarning> = json_lines
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-message")
        .map(|message| message["message"].clone())
        .filter(|message| message["code"]["code"] == "deprecated")
        .filter_map(|message| {
            let (_, after) = message["message"].as_str()?.split_once("::peephole::")?;
            let lint = after.split('`').next()?.to_string();
            let span = message["spans"]
                .as_array()?
                .iter()
                .find(|span| span["is_primary"] == true)?
                .clone();
            Some(BuildWarning {
                lint,
                line: span["line_start"].as_u64()?,
                column: span["column_start"].as_u64()?,
            })
        })
        .collect();
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deprecated_peephole_item_reads_as_its_lint_and_place_and_the_rest_is_skipped() {
        let json = [
            r#"{"reason":"compiler-artifact","target":{"name":"x"}}"#,
            "not json",
            r#"{"reason":"compiler-message","message":{"code":{"code":"unused_variables"},"message":"unused variable: `x`","spans":[{"is_primary":true,"line_start":1,"column_start":1}]}}"#,
            r#"{"reason":"compiler-message","message":{"code":{"code":"deprecated"},"message":"use of deprecated function `_::peephole::stacked_activations`: layer 5 (relu) follows another activation (relu)","spans":[{"is_primary":false,"line_start":3,"column_start":1},{"is_primary":true,"line_start":42,"column_start":30}]}}"#,
        ]
        .join("\n");
        assert_eq!(
            build_warnings(&json),
            vec![BuildWarning {
                lint: "stacked_activations".into(),
                line: 42,
                column: 30
            }]
        );
    }

    #[test]
    fn the_workspace_root_holds_the_lockfile() {
        assert!(workspace_root().join("Cargo.lock").is_file());
    }
}

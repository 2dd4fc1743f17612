//! `cargo peephole check` against the real thing: a user's build of `examples/lint-demo`
//! (`cargo build --message-format=json`) must print the same peephole warnings, at the same
//! lines and columns, as `check` does without compiling.
//!
//! The build uses its own target directory under cargo's per-test scratch space, so the first
//! run compiles peephole's dependencies once (minutes) and later runs only rerun the macros.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `(lint name, line, column)`, sorted.
type Found = Vec<(String, u64, u64)>;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/cargo-peephole is two levels down")
        .to_path_buf()
}

/// The peephole warnings of cargo's JSON messages: the lint name from the deprecated item's
/// path `...::peephole::NAME` and the primary span's start.
fn build_warnings(json_lines: &str) -> Found {
    let mut found: Found = json_lines
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-message")
        .map(|message| message["message"].clone())
        .filter(|message| message["code"]["code"] == "deprecated")
        .filter_map(|message| {
            let (_, after) = message["message"].as_str()?.split_once("::peephole::")?;
            let name = after.split('`').next()?.to_string();
            let span = message["spans"]
                .as_array()?
                .iter()
                .find(|span| span["is_primary"] == true)?
                .clone();
            Some((
                name,
                span["line_start"].as_u64()?,
                span["column_start"].as_u64()?,
            ))
        })
        .collect();
    found.sort();
    found
}

/// The warnings `check` prints: `warning: peephole::NAME: ...` followed by ` --> file:L:C`.
fn check_warnings(output: &str) -> Found {
    let lines: Vec<&str> = output.lines().collect();
    let mut found: Found = lines
        .windows(2)
        .filter_map(|pair| {
            let (_, rest) = pair[0].split_once("warning: peephole::")?;
            let name = rest.split(':').next()?.to_string();
            let (_, place) = pair[1].split_once("--> ")?;
            let mut parts = place.rsplitn(3, ':');
            let column = parts.next()?.parse().ok()?;
            let line = parts.next()?.parse().ok()?;
            Some((name, line, column))
        })
        .collect();
    found.sort();
    found
}

#[test]
fn check_prints_the_warnings_a_build_of_the_lint_demo_prints_at_the_same_places() {
    let demo = workspace_root().join("examples/lint-demo");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let build = Command::new(cargo)
        .current_dir(&demo)
        .env(
            "CARGO_TARGET_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("lint-demo"),
        )
        .env_remove("RUSTFLAGS")
        .env_remove("PEEPHOLE_MODEL")
        .args(["build", "--offline", "--message-format=json"])
        .output()
        .expect("run cargo");
    let stdout = String::from_utf8_lossy(&build.stdout);
    assert!(
        build.status.success(),
        "the demo builds (warnings only):\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let expected = build_warnings(&stdout);
    assert!(
        expected
            .iter()
            .any(|(name, ..)| name == "predicted_accuracy"),
        "{expected:?}"
    );
    assert!(
        expected.len() >= 9,
        "the demo warns about its bad networks: {expected:?}"
    );

    let check = Command::new(env!("CARGO_BIN_EXE_cargo-peephole"))
        .current_dir(&demo)
        .env_remove("PEEPHOLE_MODEL")
        .args(["peephole", "check", "--deny"])
        .output()
        .expect("run cargo-peephole");
    let printed = String::from_utf8_lossy(&check.stdout);
    assert_eq!(
        check.status.code(),
        Some(1),
        "--deny fails on warnings:\n{printed}"
    );
    assert_eq!(
        check_warnings(&printed),
        expected,
        "check printed:\n{printed}"
    );
    assert!(
        printed.ends_with(&format!("warning: {} warnings emitted\n", expected.len())),
        "{printed}"
    );
}

#[test]
fn the_two_parsers_read_the_same_warning() {
    let json = r#"{"reason":"compiler-message","message":{"code":{"code":"deprecated"},"message":"use of deprecated function `_::peephole::stacked_activations`: layer 5 (relu) follows another activation (relu)","spans":[{"is_primary":true,"line_start":42,"column_start":30}]}}"#;
    let text = "warning: peephole::stacked_activations: layer 5 (relu) follows another activation (relu)\n  --> src/main.rs:42:30\n";
    let expected = vec![("stacked_activations".to_string(), 42, 30)];
    assert_eq!(build_warnings(json), expected);
    assert_eq!(check_warnings(text), expected);
}

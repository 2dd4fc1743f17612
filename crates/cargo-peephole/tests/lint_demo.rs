//! `cargo peephole check` against the real thing: a user's build of `examples/lint-demo`
//! (`cargo build --message-format=json`) must print the same peephole warnings, at the same
//! lines and columns, as `check` does without compiling.
//!
//! The build uses its own target directory under cargo's per-test scratch space, so the first
//! run compiles peephole's dependencies once (minutes) and later runs only rerun the macros.

use std::path::Path;
use std::process::Command;

use peephole_tests::{build_json, build_warnings, workspace_root};

/// `(lint name, line, column)`, sorted.
type Found = Vec<(String, u64, u64)>;

/// The peephole warnings of a build as `(lint name, line, column)`, sorted.
fn build_found(json_lines: &str) -> Found {
    build_warnings(json_lines)
        .into_iter()
        .map(|warning| (warning.lint, warning.line, warning.column))
        .collect()
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
    let build = build_json(
        &demo,
        &Path::new(env!("CARGO_TARGET_TMPDIR")).join("lint-demo"),
    );
    let stdout = String::from_utf8_lossy(&build.stdout);
    assert!(
        build.status.success(),
        "the demo builds (warnings only):\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let expected = build_found(&stdout);
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
    assert_eq!(build_found(json), expected);
    assert_eq!(check_warnings(text), expected);
}

//! Builds the fixture crate `fixtures/warnings` as a user would (`cargo build
//! --message-format=json`) and checks that rustc prints exactly the rule warnings its
//! `// warns:` markers announce, on exactly those lines.
//!
//! The fixture has its own target directory, `<target>/fixtures`, shared by every run: its
//! first build compiles the lint's dependencies once (minutes), later runs only rebuild
//! the fixture. It is not the workspace's own `target/debug`, whose lock the running
//! `cargo test` may hold.

use std::path::{Path, PathBuf};

use peephole_tests::{build_json, build_warnings, workspace_root};

/// `(lint name, 1-based line)` pairs, sorted.
type Expected = Vec<(String, u64)>;

fn fixture_target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("fixtures")
}

/// Reads the `// warns: a, b` markers of a source file. A marker follows code on its line,
/// so comment lines that talk about markers are not markers.
fn expected_warnings(source: &str) -> Expected {
    let mut expected: Expected = source
        .lines()
        .zip(1u64..)
        .filter(|(line, _)| !line.trim_start().starts_with("//"))
        .filter_map(|(line, number)| {
            let (_, names) = line.split_once("// warns:")?;
            Some(
                names
                    .split(',')
                    .map(move |name| (name.trim().to_string(), number)),
            )
        })
        .flatten()
        .collect();
    expected.sort();
    expected
}

/// The peephole warnings of a build as `(lint name, line)` pairs, sorted.
fn actual_warnings(json_lines: &str) -> Expected {
    build_warnings(json_lines)
        .into_iter()
        .map(|warning| (warning.lint, warning.line))
        .collect()
}

#[test]
fn a_user_build_prints_each_rule_warning_on_its_line() {
    let root = workspace_root();
    let fixture = root.join("tests/fixtures/warnings");
    // The fixture resolves exactly the workspace's dependency versions (and needs no network).
    std::fs::copy(root.join("Cargo.lock"), fixture.join("Cargo.lock")).expect("copy Cargo.lock");
    let output = build_json(&fixture, &fixture_target_dir(&root));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the fixture must build (warnings only):\n{}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );

    let source = std::fs::read_to_string(fixture.join("src/main.rs")).expect("read fixture");
    let expected = expected_warnings(&source);
    assert_eq!(
        expected.len(),
        11,
        "the fixture's markers changed: {expected:?}"
    );
    assert_eq!(actual_warnings(&stdout), expected);
}

#[test]
fn the_message_reads_as_peephole_name_then_sentence() {
    let message = r#"{"reason":"compiler-message","message":{"code":{"code":"deprecated"},"message":"use of deprecated function `_::peephole::stacked_activations`: layer 2 (relu) follows another activation (tanh)","spans":[{"is_primary":true,"line_start":14,"column_start":9}]}}"#;
    assert_eq!(
        actual_warnings(message),
        vec![("stacked_activations".to_string(), 14)]
    );
}

//! `cargo peephole check` pointed at a tree an attacker wrote: it never leaves the
//! checked directory through a symbolic link, never hangs on a FIFO or reads a device without
//! end, reports what it cannot read and goes on, and echoes nothing raw to the terminal.

#![cfg(unix)]

use std::os::unix::fs::symlink;
use std::path::Path;

use cargo_peephole::check::{self, Outcome};
use cargo_peephole::render::Style;

/// A declaration with one `stacked_activations` warning, so a test sees the walk went on.
const WARNS: &str =
    "peephole::network! { struct A: [16, 8, 8] -> 10 { conv(3, 16), tanh, relu } }\n";

fn check(path: &Path) -> (Outcome, String) {
    let mut out = Vec::new();
    let outcome = check::run(path, None, Style::Plain, &mut out).expect("the walk runs");
    (outcome, String::from_utf8(out).expect("UTF-8 output"))
}

/// Asserts that `check` printed `says` and counted `(files, warnings, errors)`.
fn assert_reported(outcome: &Outcome, out: &str, says: &str, counts: (usize, usize, usize)) {
    assert!(out.contains(says), "{out}");
    assert_eq!(
        (outcome.files, outcome.warnings, outcome.errors),
        counts,
        "{out}"
    );
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
}

#[test]
fn a_symlink_out_of_the_tree_is_not_followed_and_its_contents_never_printed() {
    let outside = tempfile::tempdir().expect("temp dir");
    let secret = outside.path().join("passwd");
    std::fs::write(&secret, "root:SECRET-HASH:0:0::/root:/bin/sh\n").expect("write");
    let tree = tempfile::tempdir().expect("temp dir");
    symlink(&secret, tree.path().join("host.rs")).expect("symlink");
    std::fs::write(tree.path().join("lib.rs"), WARNS).expect("write");
    let (outcome, out) = check(tree.path());
    assert!(!out.contains("SECRET"), "{out}");
    assert_reported(
        &outcome,
        &out,
        "host.rs: a symbolic link out of the checked directory, not followed",
        (1, 1, 1),
    );
}

#[test]
fn a_symlink_to_a_file_inside_the_tree_is_checked() {
    let tree = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(tree.path().join("src")).expect("mkdir");
    std::fs::write(tree.path().join("real.txt"), WARNS).expect("write");
    symlink(tree.path().join("real.txt"), tree.path().join("src/lib.rs")).expect("symlink");
    let (outcome, out) = check(tree.path());
    assert_eq!(
        (outcome.files, outcome.warnings, outcome.errors),
        (1, 1, 0),
        "{out}"
    );
}

#[test]
fn evil_rs_linked_to_dev_zero_is_refused_without_reading() {
    let tree = tempfile::tempdir().expect("temp dir");
    symlink("/dev/zero", tree.path().join("evil.rs")).expect("symlink");
    let (outcome, out) = check(tree.path());
    assert_eq!(outcome.errors, 1, "{out}");
    assert!(
        out.contains("evil.rs: a symbolic link out of the checked directory"),
        "{out}"
    );
}

#[test]
fn a_device_given_by_path_is_an_error_not_an_endless_read() {
    let (outcome, out) = check(Path::new("/dev/zero"));
    assert_eq!((outcome.files, outcome.errors), (0, 1), "{out}");
    assert!(
        out.starts_with("error: cannot read /dev/zero: is a character device, not a regular file"),
        "{out}"
    );
}

#[test]
fn a_fifo_named_x_rs_is_reported_at_once_and_the_rest_checked() {
    let tree = tempfile::tempdir().expect("temp dir");
    mkfifo(&tree.path().join("x.rs"));
    std::fs::write(tree.path().join("y.rs"), WARNS).expect("write");
    let (outcome, out) = check(tree.path());
    assert!(out.contains("x.rs: is a FIFO, not a regular file"), "{out}");
    assert_eq!(
        (outcome.files, outcome.warnings, outcome.errors),
        (1, 1, 1),
        "{out}"
    );
    let (outcome, out) = check(&tree.path().join("x.rs"));
    assert_eq!((outcome.files, outcome.errors), (0, 1), "{out}");
}

#[test]
fn a_non_utf8_file_is_reported_and_the_check_goes_on() {
    let tree = tempfile::tempdir().expect("temp dir");
    std::fs::write(tree.path().join("a.rs"), b"// caf\xe9\n").expect("write");
    std::fs::write(tree.path().join("b.rs"), WARNS).expect("write");
    let (outcome, out) = check(tree.path());
    assert_reported(
        &outcome,
        &out,
        "a.rs: not UTF-8 text (invalid byte at offset 6)",
        (1, 1, 1),
    );
}

#[test]
fn an_unparsable_file_shows_only_its_offending_line_escaped_and_cut() {
    let tree = tempfile::tempdir().expect("temp dir");
    let source = format!(
        "// first line stays private\nfn ( \u{1b}[31m{}\n// last line stays private\n",
        "x".repeat(100_000)
    );
    std::fs::write(tree.path().join("bad.rs"), source).expect("write");
    let (outcome, out) = check(tree.path());
    assert_eq!(outcome.errors, 1, "{out}");
    assert!(!out.contains("private"), "{out}");
    assert!(!out.contains('\u{1b}'), "{out}");
    // rustc's way (annotate-snippets): a control character is drawn as its Unicode
    // picture, and a long line is cut around the span with `...`.
    assert!(out.contains("2 | fn ( \u{241b}[31mxxx"), "{out}");
    assert!(out.contains("xxx...\n"), "{out}");
    assert!(out.len() < 2000, "{} bytes", out.len());
}

#[test]
fn a_model_path_to_a_device_inside_a_scanned_file_is_an_error_not_a_hang() {
    let tree = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        tree.path().join("lib.rs"),
        r#"peephole::peephole_check! { #[peephole(model = "/dev/zero")] struct A: [1, 28, 28] -> 10 { conv(3, 16), relu } }"#,
    )
    .expect("write");
    let (outcome, out) = check(tree.path());
    assert_eq!(outcome.errors, 1, "{out}");
    assert!(
        out.contains("cannot load predictor /dev/zero: predictor model /dev/zero: is a character device, not a regular file"),
        "{out}"
    );
}

//! The committed reference set and the network-list reader: every declaration parses and
//! builds on the protocol's input, and bad lists are refused with the line and the reason.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use peephole_ir::Shape;
use peephole_zoo::reference::{ListError, parse_network_list, read_network_list};

fn reference_set() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/reference/reference-v1.txt")
}

#[test]
fn the_committed_reference_set_declares_at_least_30_distinct_networks_on_1x28x28() {
    let networks = read_network_list(&reference_set()).unwrap();
    assert!(networks.len() >= 30, "{} networks", networks.len());
    let texts: HashSet<String> = networks.iter().map(|n| n.network.to_string()).collect();
    assert_eq!(
        texts.len(),
        networks.len(),
        "two entries declare the same network"
    );
    for listed in &networks {
        assert_eq!(
            listed.network.input,
            Shape::new(1, 28, 28),
            "{}",
            listed.name
        );
        assert_eq!(listed.network.classes, 10, "{}", listed.name);
        assert!(
            listed.source.len() > 10,
            "{} names no real source",
            listed.name
        );
        assert!(listed.record_id().starts_with("ref-"));
    }
    // The families the issue asks for are there.
    for family in [
        "lenet-1",
        "lenet-4",
        "lenet-5",
        "vgg",
        "all-cnn",
        "nin",
        "poor-deep-sigmoid",
        "poor-no-activation",
        "poor-bottleneck-2",
    ] {
        assert!(
            networks.iter().any(|n| n.name.starts_with(family)),
            "no {family}"
        );
    }
}

#[test]
fn bad_lists_name_the_line_and_what_is_wrong() {
    let path = Path::new("list.txt");
    let cases = [
        ("lenet | src", "expected `name | source | network"),
        (
            "LeNet | src | [1x28x28] conv3x3:4 -> 10",
            "lowercase letters",
        ),
        ("a |  | [1x28x28] conv3x3:4 -> 10", "has no source"),
        (
            "a | s | [1x28x28] conv3x3:4 -> 10\na | s | [1x28x28] conv3x3:8 -> 10",
            "declared twice",
        ),
        ("a | s | [1x28x28] conv3x3 -> 10", "network `a`"),
        ("a | s | [1x4x4] conv5x5:4@valid -> 10", "does not fit"),
        ("# only a comment\n", "declares no network"),
    ];
    for (text, expected) in cases {
        let error = parse_network_list(text, path).unwrap_err().to_string();
        assert!(error.contains(expected), "{text:?}: {error}");
        assert!(error.contains("list.txt"), "{error}");
    }
    let error =
        parse_network_list("# c\n\nx | s | [1x28x28] relu -> 10\ny | s | oops", path).unwrap_err();
    assert!(matches!(error, ListError::Line { line: 4, .. }), "{error}");
}

#[test]
fn a_missing_or_non_regular_list_file_is_an_io_error_naming_it() {
    let error = read_network_list(Path::new("/nonexistent/list.txt")).unwrap_err();
    assert!(
        error.to_string().contains("/nonexistent/list.txt"),
        "{error}"
    );
    let error = read_network_list(Path::new("/dev/zero")).unwrap_err();
    assert!(error.to_string().contains("not a regular file"), "{error}");
}

//! The binary's answers to bad input: a pointed message and a failing status, never a panic.

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cargo-peephole"))
        .env_remove("PEEPHOLE_MODEL")
        .args(args)
        .output()
        .expect("run cargo-peephole")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn malformed_text_is_shown_with_a_caret_under_the_column() {
    let output = run(&["peephole", "explain", "[1x28x28] conv3x3:16 reul -> 10"]);
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "error: malformed network at column 22:", "{text}");
    assert_eq!(lines[1], "  [1x28x28] conv3x3:16 reul -> 10");
    assert_eq!(lines[2].find('^'), Some(2 + 21), "{text}");
    assert!(
        lines[2].ends_with(
            "^ unknown layer `reul`: expected conv, maxpool, avgpool, relu, sigmoid, tanh or bn"
        ),
        "{text}"
    );
}

#[test]
fn a_path_that_does_not_exist_is_named() {
    let output = run(&["peephole", "check", "/no/such/crate"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).starts_with("error: cannot read /no/such/crate: "),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_file_that_is_not_a_model_is_named_with_the_reason() {
    let dir = tempfile::tempdir().expect("temp dir");
    let model = dir.path().join("model.onnx");
    std::fs::write(&model, "{}").expect("write");
    let model = model.to_str().expect("utf-8 path");
    let output = run(&[
        "peephole",
        "--model",
        model,
        "predict",
        "[1x28x28] conv3x3:4 relu -> 10",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert!(
        text.starts_with(&format!(
            "error: cannot load predictor {model} (chosen by --model): "
        )),
        "{text}"
    );
}

#[test]
fn predict_answers_every_network_in_well_under_a_second_each() {
    let networks: Vec<String> = (1..=10u32)
        .map(|i| {
            format!(
                "[1x28x28] conv3x3:{} bn relu maxpool2x2/2 conv3x3:{} bn relu -> 10",
                4 * i,
                8 * i
            )
        })
        .collect();
    let mut args = vec!["peephole", "predict", "--json"];
    args.extend(networks.iter().map(String::as_str));
    let started = std::time::Instant::now();
    let output = run(&args);
    let elapsed = started.elapsed();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).lines().count(),
        networks.len()
    );
    // Model loading included; the bound leaves room for a loaded CI machine and a debug build.
    assert!(
        elapsed.as_secs_f64() < 0.5 * networks.len() as f64,
        "{elapsed:?} for {} networks",
        networks.len()
    );
}

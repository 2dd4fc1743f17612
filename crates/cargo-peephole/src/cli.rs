//! The command line: `cargo peephole [--model PATH] predict | check | explain`, and what each
//! command prints.

use std::ffi::OsString;
use std::io::{BufRead, Write};
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use peephole_lint::lints::Lint;

use crate::error::CliError;
use crate::render::Style;
use crate::{check, explain, input, model, predict};

/// Predict, explain and check CNN declarations without compiling them.
#[derive(Debug, Parser)]
#[command(name = "cargo peephole", bin_name = "cargo peephole", version)]
pub struct Cli {
    /// Predictor model (ONNX with a Peephole model card) instead of the embedded default; for
    /// `check` it stands where `PEEPHOLE_MODEL` stands in a build.
    #[arg(long, global = true, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// Colour `check`'s diagnostics as rustc does: `auto` when printing to a terminal and
    /// `NO_COLOR` is not set.
    #[arg(long, global = true, value_name = "WHEN", default_value = "auto")]
    pub color: ColorChoice,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// When to colour diagnostics, as cargo's and rustc's `--color` say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour when standard output is a terminal and `NO_COLOR` is unset or empty.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

impl ColorChoice {
    /// The style for an output that is (`terminal`) or is not a terminal.
    pub fn style(self, terminal: bool) -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
        match self {
            ColorChoice::Always => Style::Colored,
            ColorChoice::Auto if terminal && !no_color => Style::Colored,
            ColorChoice::Auto | ColorChoice::Never => Style::Plain,
        }
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Predict accuracy after each epoch of the protocol, the final value's zoo percentile,
    /// and notes on clamped codes or inputs the model never saw.
    Predict {
        /// Networks in the text form, e.g. '[1x28x28] conv3x3:16 bn relu maxpool2x2/2 -> 10';
        /// `-` reads one per line from standard input.
        #[arg(required = true, value_name = "NETWORK")]
        networks: Vec<String>,
        /// One JSON object per network, one per line.
        #[arg(long)]
        json: bool,
    },
    /// Print the warnings `network!` / `peephole_check!` give, for every declaration in the
    /// Rust files under PATH, without compiling.
    Check {
        /// A crate directory, any directory, or one `.rs` file.
        #[arg(default_value = ".")]
        path: PathBuf,
        /// Exit with status 1 when there is any warning (for CI).
        #[arg(long)]
        deny: bool,
    },
    /// Show which layers matter: the predicted change of every single-layer edit, best first;
    /// or, with `--lint NAME`, what a lint looks for, why, and a declaration that fires it.
    Explain {
        /// A network in the text form.
        #[arg(value_name = "NETWORK", required_unless_present = "lint")]
        network: Option<String>,
        /// Explain this lint instead (its name as in `allow(...)`, e.g. `saturating_chain`).
        #[arg(long, value_name = "NAME", conflicts_with = "network")]
        lint: Option<String>,
    },
}

/// The arguments as clap should see them: cargo runs `cargo-peephole peephole ARGS` for
/// `cargo peephole ARGS`, so the repeated subcommand name is dropped; a direct call
/// (`cargo-peephole ARGS`) is left alone.
pub fn arguments(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut args: Vec<OsString> = args.into_iter().collect();
    if args.get(1).is_some_and(|arg| arg == "peephole") {
        args.remove(1);
    }
    args
}

/// Where a command reads and writes, so tests can run it in memory.
pub struct Io<'a> {
    /// Networks for `-`.
    pub stdin: &'a mut dyn BufRead,
    /// Results.
    pub stdout: &'a mut dyn Write,
    /// Errors about single networks; the command goes on with the others.
    pub stderr: &'a mut dyn Write,
    /// Whether `stdout` is a terminal, for `--color auto`.
    pub terminal: bool,
}

/// Runs a command. `Ok(true)` when it succeeded, `Ok(false)` when it printed errors or
/// (`check --deny`) warnings, `Err` when it could not run at all.
pub fn run(cli: &Cli, io: Io<'_>) -> Result<bool, CliError> {
    let Io {
        stdin,
        stdout,
        stderr,
        terminal,
    } = io;
    let context = model::context(cli.model.as_deref(), None);
    match &cli.command {
        Command::Predict { networks, json } => {
            let texts = input::texts(networks, stdin)?;
            let (predictor, source) = model::load(&context)?;
            let mut ok = true;
            for text in &texts {
                let report = input::network(text).and_then(|network| {
                    predict::report(&predictor, &network).map_err(|error| CliError::Predict {
                        which: model::describe(&source, &context),
                        network: network.to_string(),
                        source: Box::new(error),
                    })
                });
                match report {
                    Ok(report) if *json => writeln!(stdout, "{}", report.json())?,
                    Ok(report) => writeln!(stdout, "{}", report.text())?,
                    Err(error) => {
                        ok = false;
                        writeln!(stderr, "error: {error}")?;
                    }
                }
            }
            Ok(ok)
        }
        Command::Explain {
            lint: Some(name), ..
        } => {
            let lint = Lint::from_name(name).ok_or_else(|| CliError::UnknownLint {
                name: peephole_io::escape(name),
            })?;
            write!(stdout, "{}", explain::lint_text(lint))?;
            Ok(true)
        }
        Command::Explain {
            network: Some(network),
            ..
        } => {
            let network = input::network(network)?;
            let (predictor, source) = model::load(&context)?;
            let explanation =
                explain::explain(&predictor, &network).map_err(|error| CliError::Predict {
                    which: model::describe(&source, &context),
                    network: network.to_string(),
                    source: Box::new(error),
                })?;
            write!(stdout, "{}", explanation.text())?;
            Ok(true)
        }
        // clap requires one of the two; a `Cli` built in code may have neither.
        Command::Explain { .. } => Err(CliError::NothingToExplain),
        Command::Check { path, deny } => {
            let outcome = check::run(
                path,
                cli.model.as_deref(),
                cli.color.style(terminal),
                stdout,
            )?;
            let files = if outcome.files == 1 { "file" } else { "files" };
            let networks = if outcome.networks == 1 {
                "network"
            } else {
                "networks"
            };
            writeln!(
                stderr,
                "     Checked {} {networks} in {} {files}",
                outcome.networks, outcome.files
            )?;
            Ok(outcome.errors == 0 && !(*deny && outcome.warnings > 0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_args(args: &[&str], stdin: &str) -> (Result<bool, String>, String, String) {
        let args = arguments(args.iter().map(OsString::from));
        let cli = Cli::try_parse_from(args).expect("valid arguments");
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        let mut stdin = stdin.as_bytes();
        let result = run(
            &cli,
            Io {
                stdin: &mut stdin,
                stdout: &mut stdout,
                stderr: &mut stderr,
                terminal: false,
            },
        );
        let text = |bytes: Vec<u8>| String::from_utf8(bytes).expect("utf-8");
        (
            result.map_err(|e| e.to_string()),
            text(stdout),
            text(stderr),
        )
    }

    #[test]
    fn cargo_invocation_and_direct_invocation_parse_the_same() {
        let via_cargo =
            arguments(["cargo-peephole", "peephole", "check", "--deny"].map(OsString::from));
        let direct = arguments(["cargo-peephole", "check", "--deny"].map(OsString::from));
        assert_eq!(via_cargo, direct);
        let cli = Cli::try_parse_from(direct).expect("parses");
        assert!(matches!(cli.command, Command::Check { deny: true, .. }));
    }

    #[test]
    fn predict_reports_good_networks_and_errors_for_bad_ones_then_fails() {
        let (result, stdout, stderr) = run_args(
            &["cargo-peephole", "predict", "--json", "-"],
            "[1x28x28] conv3x3:4 relu -> 10\n[1x28x28] conv3x3:4 reul -> 10\n",
        );
        assert_eq!(result, Ok(false));
        assert_eq!(stdout.lines().count(), 1, "{stdout}");
        assert!(
            stdout.starts_with(r#"{"network":"[1x28x28] conv3x3:4 relu -> 10""#),
            "{stdout}"
        );
        assert!(
            stderr.starts_with(
                "error: malformed network at column 21:\n  [1x28x28] conv3x3:4 reul -> 10\n"
            ),
            "{stderr}"
        );
    }

    #[test]
    fn a_missing_model_file_fails_the_command_naming_the_file() {
        let (result, _, _) = run_args(
            &[
                "cargo-peephole",
                "--model",
                "/no/such.onnx",
                "explain",
                "[1x8x8] relu -> 2",
            ],
            "",
        );
        let error = result.expect_err("no model");
        assert!(
            error.starts_with("cannot load predictor /no/such.onnx (chosen by --model): "),
            "{error}"
        );
    }

    /// A temporary crate file declaring one network with one rule warning (stacked
    /// activations); the folder lives as long as the returned guard.
    fn file_with_one_warning() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("lib.rs");
        std::fs::write(
            &file,
            "peephole::network! { struct A: [16, 8, 8] -> 10 { conv(3, 16), tanh, relu } }",
        )
        .unwrap();
        (dir, file)
    }

    #[test]
    fn check_deny_fails_on_warnings_and_passes_without() {
        let (_dir, file) = file_with_one_warning();
        let path = file.to_str().expect("utf-8 path");
        let (result, stdout, stderr) = run_args(&["cargo-peephole", "check", "--deny", path], "");
        assert_eq!(result, Ok(false));
        assert!(
            stdout.starts_with("warning: peephole::stacked_activations: "),
            "{stdout}"
        );
        assert!(stdout.ends_with("warning: 1 warning emitted\n"), "{stdout}");
        assert_eq!(stderr.trim(), "Checked 1 network in 1 file");
        let (result, _, _) = run_args(&["cargo-peephole", "check", path], "");
        assert_eq!(result, Ok(true), "warnings alone pass without --deny");
    }

    #[test]
    fn check_colours_only_when_asked_or_on_a_terminal() {
        let (_dir, file) = file_with_one_warning();
        let path = file.to_str().expect("utf-8 path");
        let (_, plain, _) = run_args(&["cargo-peephole", "check", path], "");
        assert!(!plain.contains('\u{1b}'), "{plain}");
        let (_, coloured, _) =
            run_args(&["cargo-peephole", "--color", "always", "check", path], "");
        assert!(coloured.contains("\u{1b}["), "{coloured}");
        assert_eq!(ColorChoice::Never.style(true), Style::Plain);
        assert_eq!(ColorChoice::Auto.style(false), Style::Plain);
    }

    #[test]
    fn explain_lint_prints_the_lints_own_declaration_and_an_unknown_name_lists_the_known() {
        let (result, stdout, _) = run_args(
            &["cargo-peephole", "explain", "--lint", "saturating_chain"],
            "",
        );
        assert_eq!(result, Ok(true));
        let doc = Lint::SaturatingChain.doc();
        assert!(
            stdout.starts_with(&format!("saturating_chain: {}", doc.summary)),
            "{stdout}"
        );
        for part in [
            doc.explanation,
            doc.bad,
            doc.good,
            "allow(saturating_chain)",
        ] {
            assert!(stdout.contains(part), "{stdout}");
        }
        let (result, _, _) = run_args(
            &["cargo-peephole", "explain", "--lint", "sigmoid_chain"],
            "",
        );
        let error = result.expect_err("an unknown lint");
        assert!(
            error.starts_with("unknown lint `sigmoid_chain`; the lints are stacked_activations, "),
            "{error}"
        );
    }
}

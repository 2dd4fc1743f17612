//! Running other programs, the one way xtask does it: every process xtask starts goes through
//! these functions, so each failure names its command line and the program's own words, and
//! [`run`] echoes what it runs the same way everywhere.
//!
//! Why not `xshell`: `test-slurm` starts daemons that outlive the call (munged, slurmctld,
//! slurmd), which `xshell` cannot spawn, so `std::process` would be needed beside it; one
//! small module over `std::process::Command` covers every case with one vocabulary.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};

use thiserror::Error;

/// Why a program did not do what xtask asked. Each variant names the command line.
#[derive(Debug, Error)]
pub enum ProcessError {
    /// The program could not be started (not installed, not executable).
    #[error("cannot start {line}: {source}")]
    Start {
        /// The command line.
        line: String,
        /// Why.
        source: std::io::Error,
    },
    /// The program ran and failed.
    #[error("{line} failed with {status}{}", with_words(.stderr))]
    Failed {
        /// The command line.
        line: String,
        /// Its exit status.
        status: ExitStatus,
        /// What it wrote to stderr, when that was captured.
        stderr: String,
    },
    /// The log file a background program writes to could not be created.
    #[error("cannot create {path} for {line}: {source}")]
    Log {
        /// The log file.
        path: PathBuf,
        /// The command line.
        line: String,
        /// Why.
        source: std::io::Error,
    },
}

/// A failed program's stderr after the status, when there is any.
fn with_words(stderr: &str) -> String {
    let stderr = stderr.trim();
    if stderr.is_empty() {
        String::new()
    } else {
        format!(":\n{stderr}")
    }
}

/// What a program that ran to the end wrote.
#[derive(Debug, Clone)]
pub struct Finished {
    /// Its exit status.
    pub status: ExitStatus,
    /// Its stdout (lossy UTF-8).
    pub stdout: String,
    /// Its stderr (lossy UTF-8).
    pub stderr: String,
}

/// The command line as messages show it: program and arguments, with the working folder and
/// environment changes `Command`'s `Debug` adds, without its quotes.
pub fn line(command: &Command) -> String {
    format!("{command:?}").replace('"', "")
}

/// Runs a command to completion on the terminal's stdin, stdout and stderr, echoing it first.
///
/// # Errors
///
/// [`ProcessError::Start`], [`ProcessError::Failed`] (without stderr: the user saw it).
pub fn run(command: &mut Command) -> Result<(), ProcessError> {
    let line = line(command);
    eprintln!("$ {line}");
    let status = command.status().map_err(|source| ProcessError::Start {
        line: line.clone(),
        source,
    })?;
    if !status.success() {
        return Err(ProcessError::Failed {
            line,
            status,
            stderr: String::new(),
        });
    }
    Ok(())
}

/// Runs a command with its stdout and stderr captured, whatever its exit status: for programs
/// whose failure is itself a result (libFuzzer exits non-zero when it finds a crash).
///
/// # Errors
///
/// [`ProcessError::Start`].
pub fn output(command: &mut Command) -> Result<Finished, ProcessError> {
    let output = command.output().map_err(|source| ProcessError::Start {
        line: line(command),
        source,
    })?;
    Ok(Finished {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

/// Runs a command that must succeed, with its stdout and stderr captured.
///
/// # Errors
///
/// [`ProcessError::Start`], [`ProcessError::Failed`] with the program's stderr.
pub fn read(command: &mut Command) -> Result<Finished, ProcessError> {
    let finished = output(command)?;
    if !finished.status.success() {
        return Err(ProcessError::Failed {
            line: line(command),
            status: finished.status,
            stderr: finished.stderr,
        });
    }
    Ok(finished)
}

/// The stdout of a command that must succeed, its stderr going to the terminal (cargo's
/// progress and diagnostics while it builds).
///
/// # Errors
///
/// [`ProcessError::Start`], [`ProcessError::Failed`].
pub fn read_stdout(command: &mut Command) -> Result<String, ProcessError> {
    command.stderr(Stdio::inherit());
    Ok(read(command)?.stdout)
}

/// Whether a command starts and succeeds: a probe (is this installed, at this version), where
/// failing to start means "no".
pub fn succeeds(command: &mut Command) -> bool {
    output(command).is_ok_and(|finished| finished.status.success())
}

/// Starts a program that runs in the background (a daemon in the foreground mode), its stdin
/// closed and its stdout and stderr appended to `log`; the caller owns and stops the child.
///
/// # Errors
///
/// [`ProcessError::Log`], [`ProcessError::Start`].
pub fn spawn_logged(command: &mut Command, log: &Path) -> Result<Child, ProcessError> {
    let log_error = |source| ProcessError::Log {
        path: log.to_path_buf(),
        line: line(command),
        source,
    };
    let file = File::create(log).map_err(log_error)?;
    let stderr = file.try_clone().map_err(log_error)?;
    command.stdin(Stdio::null()).stdout(file).stderr(stderr);
    command.spawn().map_err(|source| ProcessError::Start {
        line: line(command),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_program_is_named_with_its_status_and_its_own_words() {
        let error = read(Command::new("sh").args(["-c", "echo broken >&2; exit 3"])).unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with("sh -c echo broken >&2; exit 3 failed with exit status: 3"),
            "{message}"
        );
        assert!(message.ends_with(":\nbroken"), "{message}");
    }

    #[test]
    fn a_missing_program_cannot_start_and_a_probe_says_no() {
        let mut missing = Command::new("peephole-no-such-program");
        assert!(matches!(
            output(&mut missing),
            Err(ProcessError::Start { .. })
        ));
        assert!(!succeeds(&mut missing));
        assert!(succeeds(&mut Command::new("true")));
    }

    #[test]
    fn output_keeps_what_a_failing_program_wrote() {
        let finished = output(Command::new("sh").args(["-c", "echo out; echo err >&2; exit 1"]))
            .expect("sh starts");
        assert!(!finished.status.success());
        assert_eq!(
            (finished.stdout.as_str(), finished.stderr.as_str()),
            ("out\n", "err\n")
        );
    }
}

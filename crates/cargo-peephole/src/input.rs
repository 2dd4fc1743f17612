//! Networks given on the command line: text-form arguments, and `-` for one per line on
//! standard input (so a generator or a file can be piped in).

use std::io::BufRead;

use peephole_ir::Network;
use peephole_ir::text::parse_network;

use crate::error::CliError;

/// The network texts of `args` in order, each `-` replaced by the non-blank lines of `stdin`
/// (read once; a second `-` adds nothing).
pub fn texts(args: &[String], stdin: &mut dyn BufRead) -> Result<Vec<String>, CliError> {
    let mut texts = Vec::new();
    let mut stdin_read = false;
    for arg in args {
        if arg != "-" {
            texts.push(arg.clone());
            continue;
        }
        if std::mem::replace(&mut stdin_read, true) {
            continue;
        }
        for line in stdin.lines() {
            let line = line.map_err(CliError::Stdin)?;
            if !line.trim().is_empty() {
                texts.push(line.trim().to_string());
            }
        }
    }
    Ok(texts)
}

/// Parses one network, keeping the text for an error that points at the column.
pub fn network(text: &str) -> Result<Network, CliError> {
    parse_network(text).map_err(|error| CliError::Text {
        text: text.to_string(),
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dash_reads_one_network_per_non_blank_line_in_place() {
        let args = [
            "[1x8x8] relu -> 2".to_string(),
            "-".to_string(),
            "-".to_string(),
        ];
        let mut stdin = "[1x8x8] tanh -> 2\n\n  [1x8x8] bn relu -> 2  \n".as_bytes();
        let texts = texts(&args, &mut stdin).expect("reads");
        assert_eq!(
            texts,
            [
                "[1x8x8] relu -> 2",
                "[1x8x8] tanh -> 2",
                "[1x8x8] bn relu -> 2"
            ]
        );
    }

    #[test]
    fn a_malformed_network_names_its_column() {
        let error = network("[1x28x28] conv3x3:16 reul -> 10").expect_err("typo");
        let CliError::Text { error, .. } = &error else {
            panic!("a text error: {error}")
        };
        assert_eq!(error.column, 22);
    }
}

//! `cargo xtask split`: writes, extends or checks the frozen evaluation split
//! (`data/splits/eval-v2.json`): every architecture of the zoo files on one side, by the rule of
//! `peephole_eval::split`; extending appends new architectures and never moves one.

use std::path::PathBuf;

use anyhow::{Context, bail};
use peephole_eval::split::{DEFAULT_SPLIT, Split};
use peephole_zoo::ZooRecord;

use crate::cargo;
use crate::eval::read_files;

/// Options of `split`.
#[derive(clap::Args)]
pub struct Args {
    /// Zoo files (JSON Lines) whose architectures the split must cover.
    #[arg(long, num_args = 1.., required = true, value_name = "FILE")]
    zoo: Vec<PathBuf>,
    /// The split file [default: data/splits/eval-v2.json in the workspace].
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// Append the architectures the file does not list (creates the file when missing).
    #[arg(long, conflicts_with = "check", required_unless_present = "check")]
    extend: bool,
    /// Fail unless the file lists every architecture of the zoo files on its rule's side.
    #[arg(long)]
    check: bool,
}

/// Entry point of `cargo xtask split`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let path = args
        .file
        .clone()
        .unwrap_or_else(|| cargo::root().join(DEFAULT_SPLIT));
    let files = read_files(&args.zoo)?;
    let refs: Vec<&ZooRecord> = files.iter().flat_map(|file| &file.records).collect();
    let mut split = match std::fs::read_to_string(&path) {
        Ok(text) => {
            Split::from_json(&text).with_context(|| format!("split file {}", path.display()))?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && args.extend => Split::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    if args.check {
        split
            .check(&refs)
            .with_context(|| format!("checking {} against the zoo files", path.display()))?;
        println!(
            "{}: {} architectures, {:?}; covers the {} records given",
            path.display(),
            split.entries().len(),
            split.counts(),
            refs.len()
        );
        return Ok(());
    }
    if !args.extend {
        bail!("give --extend or --check");
    }
    let added = split
        .extend(&refs)
        .with_context(|| format!("extending {}", path.display()))?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(&path, split.to_json())
        .with_context(|| format!("writing {}", path.display()))?;
    println!(
        "{}: added {:?}; now {} architectures, {:?}",
        path.display(),
        added,
        split.entries().len(),
        split.counts()
    );
    Ok(())
}

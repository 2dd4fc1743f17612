//! `cargo xtask schema`: writes the JSON Schemas of the two formats other tools read, the zoo
//! record (one line of `data/zoo/*.jsonl`) and the model card (`*.card.json`, and the card
//! inside every predictor model), from the Rust types that read them, into `docs/schema/`.
//! `--check` (run by `cargo xtask test`) fails when a committed schema is stale, so the
//! documented format cannot drift from the parser. Both types refuse unknown fields.

use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::cargo::root;

/// Options of `schema`.
#[derive(clap::Args)]
pub struct Args {
    /// Only check that the committed schemas are current.
    #[arg(long)]
    pub check: bool,
}

/// Each committed schema: its file under `docs/schema/` and its current text.
fn schemas() -> anyhow::Result<Vec<(PathBuf, String)>> {
    let dir = root().join("docs/schema");
    let zoo = schemars::schema_for!(peephole_zoo::ZooRecord);
    let card = schemars::schema_for!(peephole_predictor::ModelCard);
    Ok(vec![
        (
            dir.join("zoo-record.schema.json"),
            serde_json::to_string_pretty(&zoo)? + "\n",
        ),
        (
            dir.join("model-card.schema.json"),
            serde_json::to_string_pretty(&card)? + "\n",
        ),
    ])
}

/// Entry point of `cargo xtask schema`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let mut stale = Vec::new();
    for (path, text) in schemas()? {
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed == text {
            continue;
        }
        if args.check {
            stale.push(path.display().to_string());
            continue;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    if !stale.is_empty() {
        bail!(
            "stale schema(s): {}; run `cargo xtask schema`",
            stale.join(", ")
        );
    }
    Ok(())
}

//! `cargo xtask lint-table`: writes README's lint table from the lint registry (each lint's own
//! module declares its name and summary), so the table is never typed by hand; `--check` fails
//! when the committed table is stale, as `peephole-lint`'s `lint_docs` test does.

use anyhow::{Context, bail};

use crate::cargo::root;

/// Options of `lint-table`.
#[derive(clap::Args)]
pub struct Args {
    /// Only check that README's table is current.
    #[arg(long)]
    check: bool,
}

const START: &str = "<!-- lints:start -->\n";
const END: &str = "<!-- lints:end -->";

/// Entry point of `cargo xtask lint-table`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let path = root().join("README.md");
    let readme =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let Some(from) = readme.find(START).map(|i| i + START.len()) else {
        bail!("{} has no `{}` marker", path.display(), START.trim_end());
    };
    let Some(to) = readme[from..].find(END).map(|i| i + from) else {
        bail!(
            "{} has no `{END}` marker after the start marker",
            path.display()
        );
    };
    let table = peephole_lint::lints::markdown_table();
    if readme[from..to] == table {
        eprintln!("README's lint table is current");
        return Ok(());
    }
    if args.check {
        bail!("README's lint table is stale: run `cargo xtask lint-table`");
    }
    let updated = format!("{}{table}{}", &readme[..from], &readme[to..]);
    std::fs::write(&path, updated).with_context(|| format!("writing {}", path.display()))?;
    eprintln!(
        "README's lint table written ({} lints)",
        peephole_lint::lints::Lint::ALL.len()
    );
    Ok(())
}

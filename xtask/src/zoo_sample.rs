//! `cargo xtask zoo-sample`: draws a seeded random sample of the generated networks in zoo
//! files, as an id list for `cargo xtask zoo --ids` (second-seed runs chosen at random, never by
//! a model's errors, so the sample measures seed noise across the whole zoo).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use peephole_zoo::generator::DrawnId;
use peephole_zoo::read_zoo;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// Options of `zoo-sample`.
#[derive(clap::Args)]
pub struct Args {
    /// Zoo files to draw from (their generated networks; listed ones are skipped).
    #[arg(long = "zoo", required = true, num_args = 1..)]
    zoo: Vec<PathBuf>,
    /// Zoo files whose networks are left out (those already retrained).
    #[arg(long = "exclude", num_args = 1..)]
    exclude: Vec<PathBuf>,
    /// How many ids.
    #[arg(long)]
    count: usize,
    /// The sample's seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The id file to write (refuses to overwrite one).
    #[arg(long)]
    out: PathBuf,
}

/// Entry point of `cargo xtask zoo-sample`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        !args.out.exists(),
        "--out {}: exists; a sample file is written once (delete it to draw again)",
        args.out.display()
    );
    let mut excluded = BTreeSet::new();
    for path in &args.exclude {
        let contents = read_zoo(path).with_context(|| format!("--exclude {}", path.display()))?;
        excluded.extend(contents.records.into_iter().map(|r| r.id));
    }
    // Sorted and deduplicated first, so the sample depends only on the ids and the seed.
    let mut pool = BTreeSet::new();
    for path in &args.zoo {
        let contents = read_zoo(path).with_context(|| format!("--zoo {}", path.display()))?;
        for record in contents.records {
            if let Ok(drawn) = record.id.parse::<DrawnId>()
                && !excluded.contains(&record.id)
            {
                pool.insert(drawn.record_id());
            }
        }
    }
    let mut pool: Vec<String> = pool.into_iter().collect();
    anyhow::ensure!(
        args.count <= pool.len(),
        "--count {}: the zoo files hold only {} generated networks not excluded",
        args.count,
        pool.len()
    );
    pool.shuffle(&mut ChaCha8Rng::seed_from_u64(args.seed));
    pool.truncate(args.count);
    let mut file = std::fs::File::create_new(&args.out)
        .with_context(|| format!("--out {}", args.out.display()))?;
    writeln!(
        file,
        "# {} generated networks drawn at random (seed {}) from {}, leaving out {}; in random\n# order, so every leading part is a random sample too. Written by `cargo xtask zoo-sample`.",
        args.count,
        args.seed,
        list(&args.zoo),
        if args.exclude.is_empty() {
            "none".into()
        } else {
            list(&args.exclude)
        },
    )?;
    for id in &pool {
        writeln!(file, "{id}")?;
    }
    eprintln!("{} ids written to {}", pool.len(), args.out.display());
    Ok(())
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| {
            p.file_name().map_or_else(
                || p.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

//! `cargo xtask zoo-size-figure`: draws the zoo-size curve (validation Kendall tau against the
//! number of training networks, one line per slice) from a committed table, as
//! `zoo-size.svg` and `zoo-size.png` beside it. Each point of the table is one
//! `train-predictor --train-fraction F --no-export` fit, whose printed validation taus are
//! copied into the table; the figure only draws them.

use std::path::PathBuf;

use anyhow::Context;

use crate::eval::plot::{ZooSizeCurve, zoo_size_png, zoo_size_svg};

/// Options of `zoo-size-figure`.
#[derive(clap::Args)]
pub struct Args {
    /// The table (JSON: `title`, `slices`, `points` of `training_networks` and one `tau` per
    /// slice).
    #[arg(long, default_value = "docs/eval/features-v1/zoo-size.json")]
    table: PathBuf,
    /// Where zoo-size.svg and zoo-size.png go [default: the table's folder].
    #[arg(long)]
    out_dir: Option<PathBuf>,
}

/// Entry point of `cargo xtask zoo-size-figure`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let curve = ZooSizeCurve::read(&args.table)?;
    let out_dir = args.out_dir.clone().unwrap_or_else(|| {
        args.table
            .parent()
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."))
    });
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let svg = out_dir.join("zoo-size.svg");
    std::fs::write(&svg, zoo_size_svg(&curve)?)
        .with_context(|| format!("writing {}", svg.display()))?;
    let png = out_dir.join("zoo-size.png");
    std::fs::write(&png, zoo_size_png(&curve)?)
        .with_context(|| format!("writing {}", png.display()))?;
    println!("wrote {} and {}", svg.display(), png.display());
    Ok(())
}

//! `cargo xtask sample`: prints networks drawn by generator v1 or v2, to eyeball a generator.

use peephole_ir::ulc::encode;
use peephole_zoo::generator::{Family, GeneratorChoice, Skeleton, draw, record_id};

/// Options of `sample`.
#[derive(clap::Args)]
pub struct Args {
    /// How many networks.
    #[arg(long, default_value_t = 5)]
    count: u64,
    /// Generator stream seed (the zoo's `--seed`).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// v1, v2, or mix:P (the share of v2).
    #[arg(long, default_value = "v1")]
    generator: GeneratorChoice,
    /// Skeleton of generator v1.
    #[arg(long, default_value = "fmnist-v1")]
    skeleton: String,
}

/// Entry point of `cargo xtask sample`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let skeleton = Skeleton::from_name(&args.skeleton).ok_or_else(|| {
        anyhow::anyhow!("--skeleton {}: unknown (known: fmnist-v1)", args.skeleton)
    })?;
    for index in 0..args.count {
        let family = args.generator.family_at(args.seed, index);
        let drawn = draw(family, skeleton, args.seed, index);
        let encoding = encode(&drawn.network)?;
        let ulc: Vec<String> = encoding
            .codes
            .iter()
            .map(|c| format!("{}{}{}{}", c.ty, c.kw, c.kh, c.ch))
            .collect();
        let design = match family {
            Family::V1 => "block: ",
            Family::V2 => "style: ",
        };
        println!(
            "#{index} {} ({}) {design}{}",
            record_id(family, args.seed, index),
            family.name(),
            drawn.design
        );
        println!("   network: {}", drawn.network);
        println!("   ULC v1:  {}", ulc.join(" "));
        println!(
            "   {} layers, {:.2} M MACs, {} params, {} design(s) rejected by the compute filter",
            drawn.network.layers.len(),
            drawn.macs as f64 / 1e6,
            drawn.params,
            drawn.rejected
        );
        for clamp in &encoding.clamps {
            println!("   note: {clamp}");
        }
    }
    Ok(())
}

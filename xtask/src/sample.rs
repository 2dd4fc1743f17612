//! `cargo xtask sample`: prints networks drawn by generator v1, to eyeball the generator.

use peephole_core::generator::{Skeleton, network_at};
use peephole_core::ulc::encode;

/// Options of `sample`.
#[derive(clap::Args)]
pub struct Args {
    /// How many networks.
    #[arg(long, default_value_t = 5)]
    count: u64,
    /// Generator stream seed (the zoo's `--seed`).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Skeleton.
    #[arg(long, default_value = "fmnist-v1")]
    skeleton: String,
}

/// Entry point of `cargo xtask sample`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let skeleton = Skeleton::from_name(&args.skeleton)
        .ok_or_else(|| anyhow::anyhow!("--skeleton {}: unknown (known: fmnist-v1)", args.skeleton))?;
    for index in 0..args.count {
        let generated = network_at(skeleton, args.seed, index);
        let encoding = encode(&generated.network)?;
        let ulc: Vec<String> = encoding.codes.iter().map(|c| format!("{}{}{}{}", c.ty, c.kw, c.kh, c.ch)).collect();
        println!("#{index} block: {}", generated.block);
        println!("   network: {}", generated.network);
        println!("   ULC v1:  {}", ulc.join(" "));
        println!(
            "   {} layers, {:.2} M MACs, {} params, {} block(s) rejected by the compute filter",
            generated.network.layers.len(),
            generated.macs as f64 / 1e6,
            generated.params,
            generated.rejected
        );
        for clamp in &encoding.clamps {
            println!("   note: {clamp}");
        }
    }
    Ok(())
}

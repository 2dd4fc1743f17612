//! Command line of the libtorch side; `cargo xtask` calls it for zoo generation and training.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use peephole_core::protocol::Protocol;
use peephole_train::data::load_protocol_data;
use peephole_train::train::{device_name, train_network};
use peephole_train::zoo::{Shard, ZooJob, run_zoo};
use tch::Device;

#[derive(Parser)]
#[command(
    name = "peephole-train",
    about = "Train Peephole zoo networks and predictors with libtorch"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate networks with generator v1 and train them into a zoo file (resumable).
    Zoo {
        #[arg(long, default_value = "fmnist-budget-v1")]
        protocol: String,
        #[arg(long)]
        count: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Training seed base (default: --seed); a second value retrains the same networks.
        #[arg(long)]
        train_seed: Option<u64>,
        #[arg(long)]
        out: PathBuf,
        /// cpu, cuda, or auto.
        #[arg(long, default_value = "auto")]
        device: String,
        #[arg(long, default_value_t = 1)]
        jobs: usize,
        /// Torch threads per job (default: available cores / jobs).
        #[arg(long)]
        threads: Option<usize>,
        #[arg(long, default_value = "0/1")]
        shard: Shard,
    },
    /// Train one network given in the text form and print its curve.
    TrainOne {
        network: String,
        #[arg(long, default_value = "fmnist-budget-v1")]
        protocol: String,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value = "auto")]
        device: String,
    },
}

fn parse_device(name: &str) -> anyhow::Result<Device> {
    match name {
        "auto" => Ok(Device::cuda_if_available()),
        "cpu" => Ok(Device::Cpu),
        "cuda" => {
            anyhow::ensure!(
                tch::Cuda::is_available(),
                "--device cuda: no CUDA device is available"
            );
            Ok(Device::Cuda(0))
        }
        other => anyhow::bail!("--device {other}: expected cpu, cuda or auto"),
    }
}

fn parse_protocol(name: &str) -> anyhow::Result<Protocol> {
    Protocol::by_name(name).with_context(|| {
        let known: Vec<_> = peephole_core::protocol::PROTOCOLS
            .iter()
            .map(|p| p.name)
            .collect();
        format!(
            "--protocol {name}: unknown protocol (known: {})",
            known.join(", ")
        )
    })
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    match cli.command {
        Command::Zoo {
            protocol,
            count,
            seed,
            train_seed,
            out,
            device,
            jobs,
            threads,
            shard,
        } => {
            let device = parse_device(&device)?;
            tch::set_num_threads(threads.unwrap_or((cores / jobs.max(1)).max(1)) as i32);
            let job = ZooJob {
                protocol: parse_protocol(&protocol)?,
                count,
                seed,
                train_seed: train_seed.unwrap_or(seed),
                out,
                device,
                jobs,
                shard,
            };
            run_zoo(&job)
        }
        Command::TrainOne {
            network,
            protocol,
            seed,
            device,
        } => {
            let network: peephole_core::Network =
                network
                    .parse()
                    .map_err(|e: peephole_core::text::TextError| {
                        anyhow::anyhow!("{}", e.render(&network))
                    })?;
            let protocol = parse_protocol(&protocol)?;
            let device = parse_device(&device)?;
            tch::set_num_threads(cores as i32);
            let (train, validation) = load_protocol_data(&protocol, device)?;
            let outcome = train_network(&network, &protocol, &train, &validation, seed, device)?;
            println!("network:  {network}");
            println!("device:   {}", device_name(device));
            for (epoch, (acc, loss)) in outcome.curve.iter().zip(&outcome.train_loss).enumerate() {
                let loss = loss.map_or("diverged".to_string(), |l| format!("{l:.4}"));
                println!(
                    "epoch {:>2}: val acc {acc:.4}  train loss {loss}",
                    epoch + 1
                );
            }
            println!(
                "wall:     {:.1}s{}",
                outcome.wall_seconds,
                if outcome.diverged { " (diverged)" } else { "" }
            );
            Ok(())
        }
    }
}

//! Command line of the libtorch side; `cargo xtask` calls it for zoo generation and training.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use peephole_ir::protocol::Protocol;
use peephole_predictor::{ModelCard, PredictorWeights};
use peephole_train::bench::{BenchTrainOptions, bench_train};
use peephole_train::data::load_protocol_data;
use peephole_train::predictor::build::{
    build_predictor, final_metrics, load_zoos, read_frozen_split, write_predictor,
};
use peephole_train::predictor::train::{Batching, FitOptions, FitProgress, Supervision};
use peephole_train::train::{device_name, train_network};
use peephole_train::zoo::{NetworkSource, Shard, ZooJob, read_drawn_ids, run_zoo};
use peephole_zoo::ZooRecord;
use peephole_zoo::generator::GeneratorChoice;
use peephole_zoo::reference::{list_name, read_network_list};
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

/// The subcommands; each has its arguments' struct and its function (`main` only
/// dispatches).
#[derive(Subcommand)]
enum Command {
    /// Draw networks from a generator (or read them from a list) and train them into a zoo
    /// file (resumable, shardable).
    Zoo(ZooArgs),
    /// Train the Peephole predictor on zoo files and export it to ONNX with its model card.
    TrainPredictor(TrainPredictorArgs),
    /// Time SGD steps of one network with tch on fixed Fashion-MNIST batches and export the
    /// same job for PyTorch (what `cargo xtask bench train` compares); prints one JSON line.
    BenchTrain(BenchTrainArgs),
    /// Train one network given in the text form and print its curve.
    TrainOne(TrainOneArgs),
}

/// Arguments of `zoo`.
#[derive(clap::Args)]
struct ZooArgs {
    #[arg(long, default_value = "fmnist-budget-v1")]
    protocol: String,
    /// v1, v2, or mix:P (each index draws v2 with probability P).
    #[arg(long, default_value = "v1", conflicts_with = "networks")]
    generator: GeneratorChoice,
    /// Networks 0..COUNT of the generator stream.
    #[arg(long, required_unless_present_any = ["networks", "ids"])]
    count: Option<u64>,
    /// Generator stream seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Train the networks of a list file (`name | source | network` per line, as
    /// data/reference/reference-v1.txt) instead of generated ones.
    #[arg(long, value_name = "FILE", conflicts_with = "count")]
    networks: Option<PathBuf>,
    /// Retrain generated networks named by record id, one a line (`s1-000042`,
    /// `v2s1-000042`), in file order: a random sample of committed zoos with --train-seed 2.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["count", "networks", "generator"])]
    ids: Option<PathBuf>,
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
    /// Zoo files whose networks count as trained (continue a committed zoo in a new file).
    #[arg(long = "done-in", num_args = 1..)]
    done_in: Vec<PathBuf>,
}

/// Arguments of `train-predictor`.
#[derive(clap::Args)]
struct TrainPredictorArgs {
    /// Zoo files (one protocol).
    #[arg(long = "zoo", required = true, num_args = 1..)]
    zoo: Vec<PathBuf>,
    /// Output model, e.g. models/fmnist-budget-v1.onnx (the card goes beside it).
    #[arg(long)]
    out: PathBuf,
    /// Supervise on the final epoch (the paper) or on every epoch of the curve.
    #[arg(long, value_enum, default_value = "final")]
    supervision: Supervision,
    /// Mini-batches of single (network, epoch) points, or of whole networks (faster fits
    /// under curve supervision; ranked worse in our fits).
    #[arg(long, value_enum, default_value = "points")]
    batching: Batching,
    /// Ensemble members.
    #[arg(long, default_value_t = 5)]
    ensemble: usize,
    /// Seed of the split and the members.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long, default_value_t = 400)]
    max_epochs: usize,
    #[arg(long, default_value_t = 40)]
    patience: usize,
    #[arg(long, default_value_t = 1e-3)]
    learning_rate: f64,
    /// Weight of a pairwise (RankNet) ranking term beside the paper's smooth L1 loss;
    /// 0 (the default) is the paper's loss alone.
    #[arg(long, default_value_t = 0.0)]
    ranking_weight: f64,
    /// Feed the LSTM a `layer-features-v1` row per layer beside the ULC codes (raw kernel,
    /// stride, log2 widths, log2 map side, compute share): the model is then written in
    /// predictor format v2. Without it, the paper's input, format v1.
    #[arg(long)]
    layer_features: bool,
    /// Fit and print the validation score, but write no model or card (ablations,
    /// settings studies).
    #[arg(long)]
    no_export: bool,
    /// Supervised points per mini-batch (with --batching networks, whole networks: under
    /// --supervision curve each brings every epoch of its curve).
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    #[arg(long, default_value_t = 0.2)]
    test_fraction: f64,
    #[arg(long, default_value_t = 0.15)]
    validation_fraction: f64,
    /// Fit on only this fraction of the training networks (the held-out and validation
    /// networks do not change): for learning curves over zoo size.
    #[arg(long, default_value_t = 1.0)]
    train_fraction: f64,
    /// Hold out exactly the networks another model held out (its card, NAME.card.json),
    /// instead of --test-fraction: compares a model fitted on a grown zoo on the same
    /// networks.
    #[arg(long, value_name = "CARD", conflicts_with = "split")]
    hold_out_from: Option<PathBuf>,
    /// Use the committed frozen split (evaluation protocol v2, e.g. data/splits/eval-v2.json)
    /// instead of a seeded random one: fit on its train side, stop early on its validation
    /// side, leave its test side to `cargo xtask eval`. The seed then only orders the
    /// training networks (and picks them under --train-fraction).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["test_fraction", "validation_fraction"])]
    split: Option<PathBuf>,
    #[arg(long, default_value = "auto")]
    device: String,
    /// Torch threads (default: available cores). The predictor's tensors are small, so
    /// two fits side by side run faster at one thread each than sharing every core.
    #[arg(long)]
    threads: Option<usize>,
}

/// Arguments of `bench-train`.
#[derive(clap::Args)]
struct BenchTrainArgs {
    /// The network, in the text form.
    #[arg(long, default_value = DEFAULT_BENCH_NETWORK)]
    network: String,
    /// Protocol whose data and optimizer settings are used.
    #[arg(long, default_value = "fmnist-budget-v1")]
    protocol: String,
    #[arg(long, default_value_t = 128)]
    batch: i64,
    #[arg(long, default_value_t = 40)]
    steps: usize,
    #[arg(long, default_value_t = 5)]
    warmup: usize,
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    /// Torch threads (default: available cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Where the job for the PyTorch side is written.
    #[arg(long)]
    export: PathBuf,
}

/// Arguments of `train-one`.
#[derive(clap::Args)]
struct TrainOneArgs {
    network: String,
    #[arg(long, default_value = "fmnist-budget-v1")]
    protocol: String,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long, default_value = "auto")]
    device: String,
}

/// The held-out ids of a model card file.
fn held_out_ids(path: &std::path::Path) -> anyhow::Result<std::collections::BTreeSet<String>> {
    let card = peephole_predictor::ModelCard::read(path).context("--hold-out-from")?;
    anyhow::ensure!(
        !card.split.test_ids.is_empty(),
        "--hold-out-from {}: the card holds out no networks",
        path.display()
    );
    Ok(card.split.test_ids.into_iter().collect())
}

/// A typical zoo network (s1-000173 of the committed zoo, 0.848 after 8 epochs).
const DEFAULT_BENCH_NETWORK: &str = "[1x28x28] conv3x3:16 bn relu maxpool2x2/2 conv2x2:32 relu conv1x1:16 maxpool2x2/2 conv2x2:32 relu maxpool2x2/2 conv2x2:64 relu maxpool2x2/2 -> 10";

/// A progress bar over members x epochs for predictor training.
struct BarProgress {
    bar: indicatif::ProgressBar,
    max_epochs: usize,
}

impl BarProgress {
    fn new(members: usize, max_epochs: usize) -> Self {
        let bar = indicatif::ProgressBar::new((members * max_epochs) as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} member {msg}  {elapsed_precise}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        BarProgress { bar, max_epochs }
    }
}

impl FitProgress for BarProgress {
    fn epoch(&self, member: usize, epoch: usize, validation_mse: f64, best: f64) {
        self.bar
            .set_position((member * self.max_epochs + epoch + 1) as u64);
        self.bar.set_message(format!(
            "{} epoch {}: val MSE {validation_mse:.5} (best {best:.5})",
            member + 1,
            epoch + 1
        ));
    }
}

/// A network in the text form, with the error drawn under the offending column.
fn parse_network(text: &str) -> anyhow::Result<peephole_ir::Network> {
    text.parse()
        .map_err(|e: peephole_ir::text::TextError| anyhow::anyhow!("{}", e.render(text)))
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
        let known: Vec<_> = peephole_ir::protocol::PROTOCOLS
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
    match Cli::parse().command {
        Command::Zoo(args) => zoo_command(args),
        Command::TrainPredictor(args) => train_predictor_command(&args),
        Command::BenchTrain(args) => bench_train_command(args),
        Command::TrainOne(args) => train_one_command(args),
    }
}

/// The cores torch may use when the command names no thread count.
fn available_cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// `zoo`: trains the generated or listed networks into a zoo file.
fn zoo_command(args: ZooArgs) -> anyhow::Result<()> {
    let ZooArgs {
        protocol,
        generator,
        count,
        seed,
        networks,
        ids,
        train_seed,
        out,
        device,
        jobs,
        threads,
        shard,
        done_in,
    } = args;
    let device = parse_device(&device)?;
    let threads = threads.unwrap_or((available_cores() / jobs.max(1)).max(1));
    tch::set_num_threads(threads as i32);
    let source = match (networks, ids, count) {
        (Some(path), _, _) => NetworkSource::Listed {
            name: list_name(&path),
            networks: read_network_list(&path)?,
        },
        (None, Some(path), _) => NetworkSource::Drawn {
            ids: read_drawn_ids(&path)?,
        },
        (None, None, Some(count)) => NetworkSource::Generated {
            choice: generator,
            count,
            seed,
        },
        (None, None, None) => {
            anyhow::bail!("give --count N (generated networks), --networks FILE or --ids FILE")
        }
    };
    let job = ZooJob {
        protocol: parse_protocol(&protocol)?,
        source,
        train_seed: train_seed.unwrap_or(seed),
        out,
        device,
        jobs,
        shard,
        done_in,
    };
    run_zoo(&job)
}

/// `train-predictor`: fits the ensemble, writes the model and its card (unless
/// `--no-export`), and prints the split and the scores.
fn train_predictor_command(args: &TrainPredictorArgs) -> anyhow::Result<()> {
    args.check()?;
    let device = parse_device(&args.device)?;
    tch::set_num_threads(args.threads.unwrap_or(available_cores()).max(1) as i32);
    let loaded = load_zoos(&args.zoo)?;
    let options = args.fit_options(loaded.protocol.epochs, device)?;
    let name = args
        .out
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("predictor")
        .to_string();
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let progress = BarProgress::new(args.ensemble, args.max_epochs);
    let (weights, card, split) = build_predictor(&loaded, &name, &options, command, &progress)?;
    progress.bar.finish_and_clear();
    if args.no_export {
        println!("--no-export: no model written");
    } else {
        let card_path = write_predictor(&args.out, &weights, &card)?;
        println!("wrote {} and {}", args.out.display(), card_path.display());
    }
    print_split(&card);
    print_validation_slices(&weights, &split.validation, card.epochs);
    Ok(())
}

impl TrainPredictorArgs {
    /// The ranges clap cannot check, before any zoo is read.
    fn check(&self) -> anyhow::Result<()> {
        let train_fraction = self.train_fraction;
        anyhow::ensure!(
            train_fraction > 0.0 && train_fraction <= 1.0,
            "--train-fraction {train_fraction}: must be in (0, 1]"
        );
        anyhow::ensure!(self.ensemble >= 1, "--ensemble must be at least 1");
        let ranking_weight = self.ranking_weight;
        anyhow::ensure!(
            ranking_weight.is_finite() && ranking_weight >= 0.0,
            "--ranking-weight {ranking_weight}: must be a finite number >= 0"
        );
        Ok(())
    }

    /// The fit's settings, for a protocol of `epochs` epochs; reads the card of
    /// `--hold-out-from` and the file of `--split`.
    fn fit_options(&self, epochs: u32, device: Device) -> anyhow::Result<FitOptions> {
        Ok(FitOptions {
            supervision: self.supervision,
            batching: self.batching,
            ensemble: self.ensemble,
            seed: self.seed,
            test_fraction: self.test_fraction,
            validation_fraction: self.validation_fraction,
            train_fraction: self.train_fraction,
            max_epochs: self.max_epochs,
            patience: self.patience,
            learning_rate: self.learning_rate,
            ranking_weight: self.ranking_weight,
            layer_features: self.layer_features,
            batch_size: self.batch_size,
            epochs,
            device,
            hold_out: self
                .hold_out_from
                .as_deref()
                .map(held_out_ids)
                .transpose()?,
            frozen: self.split.as_deref().map(read_frozen_split).transpose()?,
        })
    }
}

/// How the zoo was split and, for a seeded split, the held-out scores the card records (a
/// frozen split leaves its test side to `cargo xtask eval`).
fn print_split(card: &ModelCard) {
    println!(
        "split: {} train, {} validation, {} held-out networks",
        card.split.train, card.split.validation, card.split.test
    );
    if !card.split.left_out_ids.is_empty() {
        println!(
            "left out of every side (generated twins of reference networks, evaluation only): {}",
            card.split.left_out_ids.join(", ")
        );
    }
    if card.split.file.is_none() {
        for m in &card.metrics {
            let r = &m.report;
            println!(
                "held-out {}: MSE {:.5}  Kendall tau {:.3}  R2 {:.3}  Spearman {:.3}  (n = {})",
                m.method, r.mse, r.kendall_tau, r.r2, r.spearman, r.n
            );
        }
    }
}

/// The scores on the networks early stopping watched: the score to compare settings by, so
/// that the held-out networks stay unseen by every choice. All of them, then each
/// generator's when there are several, since a model fitted on v1 and v2 together can rank
/// one well and the other not.
fn print_validation_slices(weights: &PredictorWeights, validation: &[ZooRecord], epochs: u32) {
    print_validation_slice("all", weights, validation, epochs);
    let mut generators: Vec<&str> = validation.iter().map(|r| r.generator.as_str()).collect();
    generators.sort_unstable();
    generators.dedup();
    if generators.len() > 1 {
        for generator in generators {
            let records: Vec<ZooRecord> = validation
                .iter()
                .filter(|r| r.generator == generator)
                .cloned()
                .collect();
            print_validation_slice(generator, weights, &records, epochs);
        }
    }
}

/// One line of [`print_validation_slices`]: the slice's scores, or why there are none.
fn print_validation_slice(
    slice: &str,
    weights: &PredictorWeights,
    records: &[ZooRecord],
    epochs: u32,
) {
    match final_metrics(weights, records, epochs) {
        Ok(r) => println!(
            "validation peephole [{slice}]: MSE {:.5}  Kendall tau {:.3}  R2 {:.3}  Spearman {:.3}  (n = {})",
            r.mse, r.kendall_tau, r.r2, r.spearman, r.n
        ),
        Err(error) => println!("validation peephole [{slice}]: {error}"),
    }
}

/// `bench-train`: times tch's SGD steps, writes the job for the PyTorch side, and prints
/// one JSON line.
fn bench_train_command(args: BenchTrainArgs) -> anyhow::Result<()> {
    let BenchTrainArgs {
        network,
        protocol,
        batch,
        steps,
        warmup,
        repeats,
        threads,
        export,
    } = args;
    let network = parse_network(&network)?;
    let protocol = parse_protocol(&protocol)?;
    let threads = threads.unwrap_or(available_cores());
    let (train, _) = load_protocol_data(&protocol, Device::Cpu)?;
    let options = BenchTrainOptions {
        batch,
        steps,
        warmup,
        repeats,
    };
    let rates = bench_train(
        &network,
        &protocol,
        &train,
        &options,
        threads as i32,
        &export,
    )?;
    println!(
        "{}",
        serde_json::json!({ "backend": "tch", "threads": threads, "images_per_second": rates })
    );
    Ok(())
}

/// `train-one`: trains one network and prints its curve.
fn train_one_command(args: TrainOneArgs) -> anyhow::Result<()> {
    let TrainOneArgs {
        network,
        protocol,
        seed,
        device,
    } = args;
    let network = parse_network(&network)?;
    let protocol = parse_protocol(&protocol)?;
    let device = parse_device(&device)?;
    tch::set_num_threads(available_cores() as i32);
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

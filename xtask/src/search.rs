//! `cargo xtask search`: predictor-guided architecture search. Samples networks with
//! generator v1 in the protocol's skeleton, scores every distinct one (distinct in what the
//! model reads: the ULC codes, and each layer's `layer-features-v1` row for a format-v2
//! model) with the native fast scorer, and prints the best as text form and as a `peephole::network!` declaration to
//! paste into Rust. `--verify K` trains the K best and the K worst under the protocol (with
//! the release trainer) and prints predicted against real accuracy.
//!
//! Candidate `i` is `network_at(skeleton, seed, i)`, the same stream `cargo xtask zoo` trains,
//! so a pick is reproducible from its index alone.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, ensure};
use peephole_ir::Network;
use peephole_ir::layer_features::{FeatureRow, layer_features};
use peephole_ir::protocol::Protocol;
use peephole_ir::ulc::{UlcCode, encode};
use peephole_lint::lints::{self, Lint};
use peephole_predictor::{EMBEDDED_MODEL, FastScorer, Predictor, PredictorWeights, ScoreStats};
use peephole_zoo::generator::{Generated, Skeleton, network_at};

use crate::bench::timing;
use crate::cargo::root;
use crate::process;

/// Options of `search`.
#[derive(clap::Args)]
pub struct Args {
    /// Training protocol whose accuracy is predicted (its skeleton frames the candidates).
    #[arg(long, default_value = "fmnist-budget-v1")]
    protocol: String,
    /// Networks to sample: indices 0..N of the generator stream.
    #[arg(long, default_value_t = 100_000)]
    candidates: u64,
    /// Generator stream seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How many of the best to print.
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// Predictor model (ONNX) [default: the embedded default model].
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// Train the K best and the K worst candidates and compare with the predictions.
    #[arg(long, value_name = "K")]
    verify: Option<usize>,
    /// Training seed of --verify.
    #[arg(long, default_value_t = 1)]
    train_seed: u64,
    /// Device of --verify: cpu, cuda or auto.
    #[arg(long, default_value = "cpu")]
    device: String,
}

/// What the model reads of one sampled network: its ULC codes, and its layer-feature rows
/// when the model reads them (empty otherwise).
#[derive(Clone, PartialEq)]
struct ModelInput {
    codes: Vec<UlcCode>,
    rows: Vec<FeatureRow>,
}

impl ModelInput {
    /// A key equal exactly when the inputs are (bitwise) equal: the model cannot tell such
    /// samples apart.
    fn key(
        &self,
    ) -> (
        Vec<UlcCode>,
        Vec<[u32; peephole_ir::layer_features::FEATURE_COUNT]>,
    ) {
        let bits = self.rows.iter().map(|row| row.map(f32::to_bits)).collect();
        (self.codes.clone(), bits)
    }
}

/// One distinct model input among the samples.
struct Candidate {
    /// First stream index that produced it.
    index: u64,
    /// How many samples produced it.
    count: u32,
    input: ModelInput,
    mean: f64,
    spread: f64,
}

/// Entry point of `cargo xtask search`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    if !timing::optimized() {
        return timing::rerun_optimized();
    }
    let protocol = Protocol::by_name(&args.protocol)
        .with_context(|| format!("unknown protocol {}", args.protocol))?;
    let skeleton = Skeleton::of_protocol(&protocol).with_context(|| {
        format!(
            "protocol {} has no skeleton to sample networks in",
            protocol.name
        )
    })?;
    ensure!(args.candidates > 0, "--candidates must be positive");
    let (bytes, source) = match &args.model {
        Some(path) => (
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?,
            path.display().to_string(),
        ),
        None => (EMBEDDED_MODEL.to_vec(), "<embedded default>".to_string()),
    };
    let predictor = Predictor::from_bytes(&bytes, &source)?;
    let card = predictor.card();
    ensure!(
        card.protocol == protocol.name,
        "the model {source} predicts protocol {}, not {}",
        card.protocol,
        protocol.name
    );
    let scorer = FastScorer::new(&PredictorWeights::from_onnx_bytes(&bytes, &source)?)?;

    let start = Instant::now();
    let features = scorer.reads_layer_features();
    let sampled = sample(skeleton, args.seed, args.candidates, features)?;
    let sampling = start.elapsed();
    let mut candidates = distinct(sampled);
    let scoring_start = Instant::now();
    let stats = score_all(&scorer, &mut candidates, card.epochs)?;
    let scoring = scoring_start.elapsed();
    candidates.sort_by(|a, b| b.mean.total_cmp(&a.mean).then(a.index.cmp(&b.index)));
    let total = start.elapsed();

    print_summary(
        args,
        &source,
        &candidates,
        &stats,
        (
            sampling.as_secs_f64(),
            scoring.as_secs_f64(),
            total.as_secs_f64(),
        ),
        scorer.simd().name(),
    );
    print_picks(args, skeleton, &candidates, protocol.name)?;
    if let Some(k) = args.verify {
        verify(args, skeleton, &candidates, k)?;
    }
    Ok(())
}

/// Scores every candidate at `epochs` (with its feature rows when the model reads them),
/// filling in its mean and spread.
fn score_all(
    scorer: &FastScorer,
    candidates: &mut [Candidate],
    epochs: u32,
) -> anyhow::Result<ScoreStats> {
    let (scores, stats) = if scorer.reads_layer_features() {
        let items: Vec<(&[UlcCode], &[FeatureRow], u32)> = candidates
            .iter()
            .map(|c| (c.input.codes.as_slice(), c.input.rows.as_slice(), epochs))
            .collect();
        scorer.score_with_features_and_stats(&items)?
    } else {
        let items: Vec<(&[UlcCode], u32)> = candidates
            .iter()
            .map(|c| (c.input.codes.as_slice(), epochs))
            .collect();
        scorer.score_with_stats(&items)?
    };
    for (candidate, score) in candidates.iter_mut().zip(scores) {
        candidate.mean = score.mean;
        candidate.spread = score.spread;
    }
    Ok(stats)
}

/// Prints the `--top` best candidates (best first) and their declaration.
fn print_picks(
    args: &Args,
    skeleton: Skeleton,
    candidates: &[Candidate],
    protocol: &str,
) -> anyhow::Result<()> {
    let top: Vec<&Candidate> = candidates.iter().take(args.top).collect();
    let picks: Vec<(String, Generated, &Candidate)> = top
        .iter()
        .enumerate()
        .map(|(rank, c)| {
            (
                format!("Pick{}", rank + 1),
                network_at(skeleton, args.seed, c.index),
                *c,
            )
        })
        .collect();
    println!();
    for (rank, (_, generated, candidate)) in picks.iter().enumerate() {
        println!(
            "#{:<3} predicted {:.4} ± {:.4}  (candidate {}, drawn {}x)  {} params, {:.1}M MACs",
            rank + 1,
            candidate.mean,
            candidate.spread,
            candidate.index,
            candidate.count,
            generated.params,
            generated.macs as f64 / 1e6
        );
        println!("     block:   {}", generated.block);
        println!("     network: {}", generated.network);
    }
    println!();
    println!("{}", declaration(&picks, args, protocol)?);
    Ok(())
}

/// Draws candidates 0..count on every core; returns `(index, model input)` in index order,
/// with layer-feature rows when `features` (the model reads them).
fn sample(
    skeleton: Skeleton,
    seed: u64,
    count: u64,
    features: bool,
) -> anyhow::Result<Vec<(u64, ModelInput)>> {
    let workers = std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1) as u64;
    let per_worker = count.div_ceil(workers);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                scope.spawn(move || {
                    (w * per_worker..((w + 1) * per_worker).min(count))
                        .map(|i| {
                            let network = network_at(skeleton, seed, i).network;
                            let invalid = || format!("candidate {i} ({network}) is invalid");
                            let codes = encode(&network).with_context(invalid)?.codes;
                            let rows = if features {
                                layer_features(&network).with_context(invalid)?
                            } else {
                                Vec::new()
                            };
                            Ok((i, ModelInput { codes, rows }))
                        })
                        .collect::<anyhow::Result<Vec<_>>>()
                })
            })
            .collect();
        let mut all = Vec::with_capacity(count as usize);
        for handle in handles {
            match handle.join() {
                Ok(part) => all.extend(part?),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        Ok(all)
    })
}

/// Merges samples with the same model input (the predictor cannot tell them apart).
fn distinct(sampled: Vec<(u64, ModelInput)>) -> Vec<Candidate> {
    let mut seen: HashMap<_, usize> = HashMap::new();
    let mut candidates: Vec<Candidate> = Vec::new();
    for (index, input) in sampled {
        let key = input.key();
        match seen.get(&key) {
            Some(&at) => candidates[at].count += 1,
            None => {
                seen.insert(key, candidates.len());
                candidates.push(Candidate {
                    index,
                    count: 1,
                    input,
                    mean: f64::NAN,
                    spread: f64::NAN,
                });
            }
        }
    }
    candidates
}

fn print_summary(
    args: &Args,
    source: &str,
    candidates: &[Candidate],
    stats: &ScoreStats,
    seconds: (f64, f64, f64),
    simd: &str,
) {
    let quantile =
        |q: f64| candidates[((candidates.len() - 1) as f64 * (1.0 - q)).round() as usize].mean;
    println!(
        "searched {} candidates of generator v1 (seed {}) for protocol {} with model {source}",
        args.candidates, args.seed, args.protocol
    );
    println!(
        "  {} distinct model inputs; predicted final accuracy: best {:.4}, 90th percentile {:.4}, median {:.4}, worst {:.4}",
        candidates.len(),
        quantile(1.0),
        quantile(0.9),
        quantile(0.5),
        quantile(0.0)
    );
    println!(
        "  sampling {:.2} s, scoring {:.2} s (native fast scorer, {simd}; {} LSTM steps per member for {} layers), total {:.2} s",
        seconds.0, seconds.1, stats.lstm_steps, stats.layers, seconds.2
    );
}

/// The picks as one `peephole::network!` block. A layer whose code is clamped (the stem's
/// 1 -> 16 conv, by design of the skeleton) gets `allow(ulc_clamp)`; any other lint finding
/// stays a warning and is named in the doc comment.
fn declaration(
    picks: &[(String, Generated, &Candidate)],
    args: &Args,
    protocol: &str,
) -> anyhow::Result<String> {
    let mut out = String::from("peephole::network! {\n");
    for (i, (name, generated, candidate)) in picks.iter().enumerate() {
        let network: &Network = &generated.network;
        let findings = lints::check(network)
            .with_context(|| format!("candidate {} ({network}) is invalid", candidate.index))?;
        let clamped: Vec<usize> = findings
            .iter()
            .filter(|d| d.lint == Lint::UlcClamp)
            .filter_map(|d| d.layer)
            .collect();
        let mut warns: Vec<&str> = findings
            .iter()
            .filter(|d| d.lint != Lint::UlcClamp)
            .map(|d| d.lint.name())
            .collect();
        warns.dedup();
        if i > 0 {
            out.push('\n');
        }
        writeln!(
            out,
            "    /// Search pick {} of {} candidates (generator v1, seed {}, index {}): predicted\n    /// {protocol} accuracy {:.4} ± {:.4}. Block: `{}`.",
            i + 1,
            args.candidates,
            args.seed,
            candidate.index,
            candidate.mean,
            candidate.spread,
            generated.block
        )?;
        if !warns.is_empty() {
            writeln!(out, "    /// Warns: {}.", warns.join(", "))?;
        }
        let input = network.input;
        writeln!(
            out,
            "    pub struct {name}: [{}, {}, {}] -> {} {{",
            input.channels, input.height, input.width, network.classes
        )?;
        let layers: Vec<String> = network
            .layers
            .iter()
            .enumerate()
            .map(|(index, layer)| {
                let text = peephole_lint::print::layer(layer);
                if clamped.contains(&index) {
                    format!("#[peephole(allow(ulc_clamp))] {text}")
                } else {
                    text
                }
            })
            .collect();
        // Six layers per line keeps the lines readable.
        for line in layers.chunks(6) {
            writeln!(out, "        {},", line.join(", "))?;
        }
        writeln!(out, "    }}")?;
    }
    out.push('}');
    Ok(out)
}

/// The release trainer; built only when it is missing (building it takes long, and a
/// running zoo may be using it).
fn trainer() -> anyhow::Result<PathBuf> {
    let binary = crate::cargo::target_dir().join("release/peephole-train");
    if !binary.exists() {
        let mut command = crate::cargo::cargo();
        command.args([
            "build",
            "--release",
            "-p",
            "peephole-train",
            "--bin",
            "peephole-train",
        ]);
        process::run(&mut command)?;
    }
    Ok(binary)
}

/// Trains one network with `train-one` and returns its final validation accuracy.
fn train(binary: &PathBuf, network: &Network, args: &Args) -> anyhow::Result<(f64, f64)> {
    let start = Instant::now();
    let stdout = process::read(
        Command::new(binary)
            .current_dir(root())
            .args([
                "train-one",
                &network.to_string(),
                "--protocol",
                &args.protocol,
            ])
            .args([
                "--seed",
                &args.train_seed.to_string(),
                "--device",
                &args.device,
            ]),
    )
    .with_context(|| format!("training {network} failed"))?
    .stdout;
    // The curve lines read `epoch  8: val acc 0.8512  train loss 0.4321`; the last is final.
    let accuracy = stdout
        .lines()
        .filter_map(|line| {
            line.trim()
                .strip_prefix("epoch")?
                .split_once("val acc")?
                .1
                .split_whitespace()
                .next()?
                .parse::<f64>()
                .ok()
        })
        .next_back()
        .with_context(|| {
            format!("no `val acc` line in the trainer's output for {network}:\n{stdout}")
        })?;
    Ok((accuracy, start.elapsed().as_secs_f64()))
}

fn verify(
    args: &Args,
    skeleton: Skeleton,
    candidates: &[Candidate],
    k: usize,
) -> anyhow::Result<()> {
    ensure!(
        k > 0 && 2 * k <= candidates.len(),
        "--verify {k} needs 2*{k} distinct candidates, there are {}",
        candidates.len()
    );
    let binary = trainer()?;
    let chosen: Vec<(String, &Candidate)> = (0..k)
        .map(|r| (format!("top {}", r + 1), &candidates[r]))
        .chain((0..k).map(|r| {
            (
                format!("bottom {}", r + 1),
                &candidates[candidates.len() - 1 - r],
            )
        }))
        .collect();
    println!();
    println!(
        "verifying: training {} networks under {} ({}, seed {})",
        chosen.len(),
        args.protocol,
        args.device,
        args.train_seed
    );
    println!("| pick | candidate | predicted | real | real - predicted | train s |");
    println!("|---|---|---|---|---|---|");
    let mut real = Vec::new();
    for (label, candidate) in &chosen {
        let network = network_at(skeleton, args.seed, candidate.index).network;
        let (accuracy, seconds) = train(&binary, &network, args)?;
        println!(
            "| {label} | {} | {:.4} ± {:.4} | {accuracy:.4} | {:+.4} | {seconds:.0} |",
            candidate.index,
            candidate.mean,
            candidate.spread,
            accuracy - candidate.mean
        );
        real.push(accuracy);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (top, bottom) = real.split_at(k);
    let worst_top = top.iter().copied().fold(f64::INFINITY, f64::min);
    let best_bottom = bottom.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    println!();
    println!(
        "real accuracy: top {k} mean {:.4} (worst {worst_top:.4}), bottom {k} mean {:.4} (best {best_bottom:.4}): {}",
        mean(top),
        mean(bottom),
        if worst_top > best_bottom {
            "every top pick trained better than every bottom pick"
        } else if mean(top) > mean(bottom) {
            "the top picks trained better on average"
        } else {
            "the top picks did NOT train better"
        }
    );
    Ok(())
}

//! `cargo xtask bench predict`: batch-1 latency and batch throughput of every way this
//! workspace runs the predictor (the native fast scorer, tract, onnxruntime, and PyTorch
//! from the venv) on the same weights and the same sequences, in one run, with medians over
//! repeats, and each backend's largest difference from the ONNX model (tract). A model that
//! reads layer features (format v2, the default) gets each network's `layer-features-v1`
//! rows in every backend, computed before the clock starts.
//!
//! The Rust backends are timed round-robin inside one process (repeat by repeat), so load
//! from other processes on the machine falls on all of them alike; PyTorch runs in its own
//! process right after, with the weights and sequences written to a temporary directory.

#[cfg(feature = "ort")]
mod onnxruntime;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, ensure};
use peephole_ir::layer_features::{FeatureRow, layer_features};
use peephole_ir::ulc::{UlcCode, encode};
use peephole_predictor::{EMBEDDED_MODEL, FastScorer, Predictor, PredictorWeights, ScoreStats};
use peephole_zoo::generator::{Skeleton, network_at};
use serde::Deserialize;

use super::timing::{self, median};
use crate::cargo::root;
use crate::process;

/// Options of `bench predict`.
#[derive(clap::Args)]
pub struct Args {
    /// Predictor model (ONNX) [default: the embedded default model].
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// Sequences in the throughput batch: networks 0..N of generator v1.
    #[arg(long, default_value_t = 1024)]
    batch: usize,
    /// Generator stream seed of those networks.
    #[arg(long, default_value_t = 2024)]
    seed: u64,
    /// Timed repeats per backend; the table shows medians.
    #[arg(long, default_value_t = 7)]
    repeats: usize,
    /// Single-sequence calls per repeat for the batch-1 latency.
    #[arg(long, default_value_t = 64)]
    latency_calls: usize,
    /// Worker threads of the native scorer [default: every core].
    #[arg(long)]
    threads: Option<usize>,
    /// Leave PyTorch out (no venv needed).
    #[arg(long)]
    no_torch: bool,
}

/// One backend's measurements.
struct Row {
    name: String,
    threads: String,
    /// Seconds per single-sequence call, every call of every repeat.
    latency: Vec<f64>,
    /// Seconds per whole-batch call, one per repeat.
    batch: Vec<f64>,
    /// (mean, spread) per sequence from the batch call.
    scores: Vec<(f64, f64)>,
}

/// One input of the benchmark: a network's ULC codes, its layer-feature rows (one per layer
/// for a model that reads them, none otherwise) and the epoch asked for.
type Item<'a> = (&'a [UlcCode], &'a [FeatureRow], u32);

type Backend<'a> = Box<dyn Fn(&[Item]) -> anyhow::Result<Vec<(f64, f64)>> + 'a>;

/// The codes and epochs of `items`, for the engines' codes-only entry points (format v1).
fn codes_only<'a>(items: &[Item<'a>]) -> Vec<(&'a [UlcCode], u32)> {
    items
        .iter()
        .map(|&(codes, _, epoch)| (codes, epoch))
        .collect()
}

/// `scorer` on `items`, with their rows when the model reads them.
fn score_native(
    scorer: &FastScorer,
    items: &[Item],
) -> Result<Vec<peephole_predictor::Score>, peephole_predictor::FastScorerError> {
    if scorer.reads_layer_features() {
        scorer.score_with_features(items)
    } else {
        scorer.score(&codes_only(items))
    }
}

/// onnxruntime's row: the model loaded into onnxruntime with its default threads (one per
/// core), found through `peephole-ort` (`ORT_DYLIB_PATH`, else the venv).
#[cfg(feature = "ort")]
fn onnxruntime_backend<'a>(
    bytes: &[u8],
    source: &str,
    cores: usize,
) -> anyhow::Result<Option<(String, String, Backend<'a>)>> {
    let ort = onnxruntime::OrtPredictor::from_bytes(bytes, source, None)?;
    Ok(Some((
        "onnxruntime".into(),
        format!("{cores} (default)"),
        Box::new(move |items| {
            Ok(ort
                .predict_batch(items)?
                .into_iter()
                .map(|s| (s.mean, s.spread))
                .collect())
        }),
    )))
}

/// Without xtask's `ort` feature there is no onnxruntime row (`timing::rerun_optimized`
/// builds with it).
#[cfg(not(feature = "ort"))]
fn onnxruntime_backend<'a>(
    _bytes: &[u8],
    _source: &str,
    _cores: usize,
) -> anyhow::Result<Option<(String, String, Backend<'a>)>> {
    eprintln!("note: this xtask was built without its `ort` feature; onnxruntime is left out");
    Ok(None)
}

/// Entry point of `cargo xtask bench predict`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    if !timing::optimized() {
        return timing::rerun_optimized();
    }
    ensure!(
        args.batch > 0 && args.repeats > 0 && args.latency_calls > 0,
        "--batch, --repeats and --latency-calls must be positive"
    );
    let (bytes, source) = match &args.model {
        Some(path) => (
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?,
            path.display().to_string(),
        ),
        None => (EMBEDDED_MODEL.to_vec(), "<embedded default>".to_string()),
    };
    let predictor = Predictor::from_bytes(&bytes, &source)?;
    let epoch = predictor.card().epochs;
    let weights = PredictorWeights::from_onnx_bytes(&bytes, &source)?;
    let cores = std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1);
    let threads = args.threads.unwrap_or(cores);
    let scorers = Scorers::new(&weights, threads)?;
    let inputs = Sequences::generate(args, predictor.reads_layer_features())?;
    let items = inputs.items(epoch);
    let mut backends = rust_backends(&predictor, &scorers, threads);
    backends.extend(onnxruntime_backend(&bytes, &source, cores)?);
    eprintln!(
        "warming up ({} backends; tract compiles a plan per batch shape)...",
        backends.len()
    );
    let calls = Calls::new(args.latency_calls, &inputs.lengths());
    let mut one_member_latency = OneMember {
        ensemble: weights.members.len(),
        ..OneMember::default()
    };
    let mut rows = time_backends(
        args,
        &backends,
        &items,
        &calls,
        &scorers.single,
        &mut one_member_latency,
    )?;
    let (_, stats) = if predictor.reads_layer_features() {
        scorers.fast.score_with_features_and_stats(&items)?
    } else {
        scorers.fast.score_with_stats(&codes_only(&items))?
    };
    if !args.no_torch {
        rows.push(torch_row(args, &weights, &items)?);
    }
    print_report(
        args,
        &source,
        epoch,
        inputs.length_summary(),
        &stats,
        &rows,
        &one_member_latency,
    );
    Ok(())
}

/// The native scorers the table compares.
struct Scorers {
    /// The fast scorer as the lint runs it.
    fast: FastScorer,
    /// The same without prefix sharing.
    unshared: FastScorer,
    /// One member alone: the paper's predictor (one LSTM and its MLP), the size that latency
    /// targets for a single predictor are about; the default model averages five of them.
    single: FastScorer,
}

impl Scorers {
    fn new(weights: &PredictorWeights, threads: usize) -> anyhow::Result<Scorers> {
        let one_member = PredictorWeights {
            members: weights.members[..1].to_vec(),
            ..weights.clone()
        };
        Ok(Scorers {
            fast: FastScorer::new(weights)?.with_threads(threads),
            unshared: FastScorer::new(weights)?
                .with_threads(threads)
                .with_prefix_sharing(false),
            single: FastScorer::new(&one_member)?.with_threads(threads),
        })
    }
}

/// The benchmark's inputs: networks 0..batch of generator v1, encoded, with their feature rows
/// when the model reads them.
struct Sequences {
    codes: Vec<Vec<UlcCode>>,
    rows: Vec<Vec<FeatureRow>>,
}

impl Sequences {
    fn generate(args: &Args, features: bool) -> anyhow::Result<Sequences> {
        let mut codes: Vec<Vec<UlcCode>> = Vec::with_capacity(args.batch);
        let mut rows: Vec<Vec<FeatureRow>> = Vec::with_capacity(args.batch);
        for i in 0..args.batch as u64 {
            let network = network_at(Skeleton::FmnistV1, args.seed, i).network;
            codes.push(encode(&network)?.codes);
            rows.push(if features {
                layer_features(&network)?
            } else {
                Vec::new()
            });
        }
        Ok(Sequences { codes, rows })
    }

    /// Every sequence asked for at `epoch`.
    fn items(&self, epoch: u32) -> Vec<Item<'_>> {
        self.codes
            .iter()
            .zip(&self.rows)
            .map(|(s, r)| (s.as_slice(), r.as_slice(), epoch))
            .collect()
    }

    fn lengths(&self) -> Vec<usize> {
        self.codes.iter().map(Vec::len).collect()
    }

    /// Shortest, mean and longest length.
    fn length_summary(&self) -> (usize, f64, usize) {
        let lengths = self.lengths();
        (
            lengths.iter().min().copied().unwrap_or(0),
            lengths.iter().sum::<usize>() as f64 / lengths.len() as f64,
            lengths.iter().max().copied().unwrap_or(0),
        )
    }
}

/// The in-process Rust backends: the fast scorer with and without prefix sharing, and tract.
fn rust_backends<'a>(
    predictor: &'a Predictor,
    scorers: &'a Scorers,
    threads: usize,
) -> Vec<(String, String, Backend<'a>)> {
    let to_pairs = |scores: Vec<peephole_predictor::Score>| -> Vec<(f64, f64)> {
        scores.into_iter().map(|s| (s.mean, s.spread)).collect()
    };
    vec![
        (
            format!("native fast ({})", scorers.fast.simd()),
            threads.to_string(),
            Box::new(move |items| Ok(to_pairs(score_native(&scorers.fast, items)?))),
        ),
        (
            "native, no prefix sharing".into(),
            threads.to_string(),
            Box::new(move |items| Ok(to_pairs(score_native(&scorers.unshared, items)?))),
        ),
        (
            "tract".into(),
            "1".into(),
            Box::new(move |items| {
                let predictions = if predictor.reads_layer_features() {
                    predictor.predict_batch_with_features(items)?
                } else {
                    predictor.predict_batch(&codes_only(items))?
                };
                Ok(predictions
                    .into_iter()
                    .map(|p| (p.mean, p.spread))
                    .collect())
            }),
        ),
    ]
}

/// Which items the batch-1 calls score: round-robin over all, and over the longest only.
struct Calls {
    singles: Vec<usize>,
    long_singles: Vec<usize>,
}

impl Calls {
    fn new(latency_calls: usize, lengths: &[usize]) -> Calls {
        let longest = lengths.iter().max().copied().unwrap_or(0);
        let longest_items: Vec<usize> = (0..lengths.len())
            .filter(|&i| lengths[i] == longest)
            .collect();
        Calls {
            singles: (0..latency_calls).map(|k| k % lengths.len()).collect(),
            long_singles: (0..latency_calls)
                .map(|k| longest_items[k % longest_items.len()])
                .collect(),
        }
    }
}

/// Warms every backend up (keeping its batch scores), then times them round-robin, repeat by
/// repeat, with the one-member scorer's batch-1 calls in the same rounds.
fn time_backends(
    args: &Args,
    backends: &[(String, String, Backend<'_>)],
    items: &[Item<'_>],
    calls: &Calls,
    single: &FastScorer,
    one_member: &mut OneMember,
) -> anyhow::Result<Vec<Row>> {
    let mut rows: Vec<Row> = Vec::new();
    for (name, threads, backend) in backends {
        let scores = backend(items)?;
        for &i in &calls.singles {
            backend(&items[i..i + 1])?;
        }
        rows.push(Row {
            name: name.clone(),
            threads: threads.clone(),
            latency: Vec::new(),
            batch: Vec::new(),
            scores,
        });
    }
    for &i in calls.singles.iter().chain(&calls.long_singles) {
        score_native(single, &items[i..i + 1])?;
    }
    for repeat in 0..args.repeats {
        for (indices, times) in [
            (&calls.singles, &mut one_member.all),
            (&calls.long_singles, &mut one_member.longest),
        ] {
            for &i in indices {
                let start = Instant::now();
                score_native(single, &items[i..i + 1])?;
                times.push(start.elapsed().as_secs_f64());
            }
        }
        eprintln!("repeat {}/{}", repeat + 1, args.repeats);
        for ((_, _, backend), row) in backends.iter().zip(&mut rows) {
            let start = Instant::now();
            backend(items)?;
            row.batch.push(start.elapsed().as_secs_f64());
            for &i in &calls.singles {
                let start = Instant::now();
                backend(&items[i..i + 1])?;
                row.latency.push(start.elapsed().as_secs_f64());
            }
        }
    }
    Ok(rows)
}

/// Batch-1 latencies of the native scorer on one ensemble member alone, in seconds.
#[derive(Default)]
struct OneMember {
    /// Members of the whole model, for the report.
    ensemble: usize,
    /// Over the same single sequences as the table's latency column.
    all: Vec<f64>,
    /// Over the batch's longest sequences only.
    longest: Vec<f64>,
}

#[derive(Deserialize)]
struct TorchOutput {
    version: String,
    threads: usize,
    batch_seconds: Vec<f64>,
    latency_seconds: Vec<f64>,
    mean: Vec<f64>,
    spread: Vec<f64>,
}

/// Runs the PyTorch script on the same weights and sequences.
fn torch_row(args: &Args, weights: &PredictorWeights, items: &[Item]) -> anyhow::Result<Row> {
    let python = root().join(".venv/bin/python");
    ensure!(
        python.exists(),
        "{} is missing: run `cargo xtask setup`, or pass --no-torch",
        python.display()
    );
    // Removed when dropped; the folder holds only what this run wrote.
    let dir = tempfile::Builder::new()
        .prefix("peephole-bench-predict-")
        .tempdir()
        .context("cannot create a temporary folder for the PyTorch run")?;
    run_torch(args, &python, dir.path(), weights, items)
}

fn run_torch(
    args: &Args,
    python: &Path,
    dir: &Path,
    weights: &PredictorWeights,
    items: &[Item],
) -> anyhow::Result<Row> {
    let write = |name: &str, value: serde_json::Value| -> anyhow::Result<PathBuf> {
        let path = dir.join(name);
        std::fs::write(&path, value.to_string())
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(path)
    };
    let weights_path = write("weights.json", serde_json::to_value(weights)?)?;
    let codes: Vec<Vec<[u8; 4]>> = items
        .iter()
        .map(|(s, _, _)| s.iter().map(|c| c.fields()).collect())
        .collect();
    let features: Vec<&[FeatureRow]> = items.iter().map(|&(_, rows, _)| rows).collect();
    let epochs: Vec<u32> = items.iter().map(|&(_, _, epoch)| epoch).collect();
    let sequences_path = write(
        "sequences.json",
        serde_json::json!({ "sequences": codes, "features": features, "epochs": epochs }),
    )?;
    let out = dir.join("torch.json");
    let script = root().join("xtask/scripts/bench_predict_torch.py");
    let mut command = Command::new(python);
    command
        .arg(&script)
        .arg("--weights")
        .arg(&weights_path)
        .arg("--sequences")
        .arg(&sequences_path)
        .args([
            "--repeats",
            &args.repeats.to_string(),
            "--latency-calls",
            &args.latency_calls.to_string(),
            "--out",
        ])
        .arg(&out);
    process::run(&mut command)
        .with_context(|| format!("the PyTorch benchmark ({}) failed", script.display()))?;
    let text =
        std::fs::read_to_string(&out).with_context(|| format!("cannot read {}", out.display()))?;
    let output: TorchOutput =
        serde_json::from_str(&text).with_context(|| format!("{} is malformed", out.display()))?;
    ensure!(
        output.mean.len() == items.len(),
        "PyTorch answered {} of {} sequences",
        output.mean.len(),
        items.len()
    );
    Ok(Row {
        name: format!("pytorch {}", output.version),
        threads: output.threads.to_string(),
        latency: output.latency_seconds,
        batch: output.batch_seconds,
        scores: output.mean.into_iter().zip(output.spread).collect(),
    })
}

fn print_report(
    args: &Args,
    source: &str,
    epoch: u32,
    lengths: (usize, f64, usize),
    stats: &ScoreStats,
    rows: &[Row],
    one_member: &OneMember,
) {
    let batch = args.batch;
    println!(
        "predictor inference, model {source}: {batch} networks of generator v1 (seed {}), {}..{} layers (mean {:.1}), epoch {epoch}",
        args.seed, lengths.0, lengths.2, lengths.1
    );
    println!(
        "medians over {} repeats; batch-1 latency over {} single-sequence calls per repeat; {} cores",
        args.repeats,
        args.latency_calls,
        std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1)
    );
    println!(
        "native prefix sharing on this batch: {} distinct sequences, {} LSTM steps per member instead of {} ({:.0}% saved), {} recurrent rows",
        stats.unique_sequences,
        stats.lstm_steps,
        stats.layers,
        100.0 * (1.0 - stats.lstm_steps as f64 / stats.layers.max(1) as f64),
        stats.recurrent_rows
    );
    println!();
    let reference = rows
        .iter()
        .find(|r| r.name == "tract")
        .map(|r| r.scores.clone());
    let ort_throughput = rows
        .iter()
        .find(|r| r.name == "onnxruntime")
        .map(|r| batch as f64 / median(&r.batch));
    println!(
        "| backend | threads | batch-1 latency (ms) | batch-{batch} time (ms) | throughput (seq/s) | vs onnxruntime | max abs diff vs ONNX (tract): mean, spread |"
    );
    println!("|---|---|---|---|---|---|---|");
    for row in rows {
        let throughput = batch as f64 / median(&row.batch);
        let versus =
            ort_throughput.map_or("-".to_string(), |ort| format!("{:.2}x", throughput / ort));
        let difference = reference.as_ref().map_or("-".to_string(), |reference| {
            let (mut mean, mut spread) = (0.0f64, 0.0f64);
            for (a, b) in row.scores.iter().zip(reference) {
                mean = mean.max((a.0 - b.0).abs());
                spread = spread.max((a.1 - b.1).abs());
            }
            format!("{mean:.1e}, {spread:.1e}")
        });
        println!(
            "| {} | {} | {:.3} | {:.1} | {:.0} | {versus} | {difference} |",
            row.name,
            row.threads,
            1e3 * median(&row.latency),
            1e3 * median(&row.batch),
            throughput
        );
    }
    println!();
    let (one_all, one_longest) = (
        1e3 * median(&one_member.all),
        1e3 * median(&one_member.longest),
    );
    println!(
        "one member alone (one LSTM and its MLP: the paper's predictor, of which this model averages {}): batch-1 latency {one_all:.3} ms over the same sequences, {one_longest:.3} ms over the {}-layer ones",
        one_member.ensemble, lengths.2
    );
    let verdict = |ms: f64| if ms < 0.3 { "met" } else { "missed" };
    if let Some(native) = rows.first() {
        let latency = 1e3 * median(&native.latency);
        println!(
            "goal: native batch-1 latency under 0.3 ms: the {}-member ensemble {latency:.3} ms ({}); one member, {}-layer sequences {one_longest:.3} ms ({})",
            one_member.ensemble,
            verdict(latency),
            lengths.2,
            verdict(one_longest)
        );
        if let Some(ort) = ort_throughput {
            let ratio = batch as f64 / median(&native.batch) / ort;
            println!(
                "goal: native batch-{batch} throughput at least 2x onnxruntime's: {ratio:.2}x ({})",
                if ratio >= 2.0 { "met" } else { "missed" }
            );
        }
    }
}

//! Zoo generation: samples networks with generator v1, trains each under a protocol, and
//! appends records; resumable, shardable, interruptible without a half record.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use indicatif::{ProgressBar, ProgressStyle};
use peephole_core::generator::{GENERATOR_VERSION, network_at};
use peephole_core::protocol::Protocol;
use peephole_core::ulc::{ULC_VERSION, encode};
use peephole_core::zoo::{ZooRecord, ZooWriter, finished_ids};
use tch::Device;

use crate::data::{TensorSplit, load_protocol_data};
use crate::train::{device_name, train_network};

/// Which part of the index range this process trains: indices `i` with `i % count == index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard, 0-based.
    pub index: u64,
    /// Number of shards.
    pub count: u64,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("shard `{s}`: expected I/N, as in 0/4"))?;
        let index: u64 = i
            .trim()
            .parse()
            .map_err(|_| format!("shard `{s}`: I is not a number"))?;
        let count: u64 = n
            .trim()
            .parse()
            .map_err(|_| format!("shard `{s}`: N is not a number"))?;
        if count == 0 || index >= count {
            return Err(format!("shard `{s}`: need 0 <= I < N"));
        }
        Ok(Shard { index, count })
    }
}

/// Everything a zoo run needs.
#[derive(Debug, Clone)]
pub struct ZooJob {
    /// Protocol to train under (must have a skeleton).
    pub protocol: Protocol,
    /// Networks `0..count` of the generator stream.
    pub count: u64,
    /// Generator stream seed: picks the networks.
    pub seed: u64,
    /// Training seed base: network `i` trains with `train_seed * 1_000_000 + i`.
    pub train_seed: u64,
    /// Output file (appended to).
    pub out: PathBuf,
    /// Device.
    pub device: Device,
    /// Parallel trainings in this process.
    pub jobs: usize,
    /// Part of the range to train.
    pub shard: Shard,
    /// Other zoo files whose networks count as trained: a committed zoo continues in a new
    /// file (so the models trained on the old one stay reproducible) without training a
    /// network twice. Each must exist.
    pub done_in: Vec<PathBuf>,
}

/// The id of network `index` of stream `seed`: the same network in every zoo that uses it.
pub fn record_id(seed: u64, index: u64) -> String {
    format!("s{seed}-{index:06}")
}

/// Trains network `index` and builds its record.
pub fn train_record(
    job: &ZooJob,
    index: u64,
    train: &TensorSplit,
    validation: &TensorSplit,
) -> anyhow::Result<ZooRecord> {
    let skeleton = job.protocol.skeleton.ok_or_else(|| {
        anyhow::anyhow!(
            "protocol {} has no skeleton to generate networks in",
            job.protocol.name
        )
    })?;
    let generated = network_at(skeleton, job.seed, index);
    let encoding = encode(&generated.network)?;
    let seed = job.train_seed * 1_000_000 + index;
    let outcome = train_network(
        &generated.network,
        &job.protocol,
        train,
        validation,
        seed,
        job.device,
    )?;
    Ok(ZooRecord {
        id: record_id(job.seed, index),
        protocol: job.protocol.name.into(),
        ulc_version: ULC_VERSION.into(),
        generator: GENERATOR_VERSION.into(),
        skeleton: skeleton.name().into(),
        block: generated.block.to_string(),
        text: generated.network.to_string(),
        network: generated.network,
        ulc: encoding.codes,
        seed,
        curve: outcome.curve,
        train_loss: outcome.train_loss,
        params: generated.params,
        macs: generated.macs,
        wall_seconds: outcome.wall_seconds,
        device: device_name(job.device),
        diverged: outcome.diverged,
        tool_version: concat!("peephole-train ", env!("CARGO_PKG_VERSION")).into(),
    })
}

/// Runs a zoo job to completion (or Ctrl-C), printing a progress bar with ETA.
pub fn run_zoo(job: &ZooJob) -> anyhow::Result<()> {
    anyhow::ensure!(job.jobs >= 1, "--jobs must be at least 1");
    let mut done = finished_ids(&job.out)?;
    for other in &job.done_in {
        anyhow::ensure!(
            other.is_file(),
            "--done-in {}: no such zoo file",
            other.display()
        );
        done.extend(finished_ids(other)?);
    }
    let todo: Vec<u64> = (0..job.count)
        .filter(|i| i % job.shard.count == job.shard.index)
        .filter(|&i| !done.contains(&record_id(job.seed, i)))
        .collect();
    eprintln!(
        "zoo {}: {} networks in shard {}/{}, {} already in {}, {} to train on {} with {} job(s)",
        job.protocol.name,
        job.count,
        job.shard.index,
        job.shard.count,
        done.len(),
        std::iter::once(&job.out)
            .chain(&job.done_in)
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" + "),
        todo.len(),
        device_name(job.device),
        job.jobs
    );
    if todo.is_empty() {
        return Ok(());
    }
    let (train, validation) = load_protocol_data(&job.protocol, job.device)?;
    let writer = Arc::new(Mutex::new(ZooWriter::append(&job.out)?));
    {
        // Ctrl-C waits for a write in progress (the lock), then exits: never a half record.
        let writer = Arc::clone(&writer);
        let _ = ctrlc::set_handler(move || {
            let _held = writer.lock();
            eprintln!(
                "\ninterrupted: finished records are saved; rerun the same command to resume"
            );
            std::process::exit(130);
        });
    }
    let bar = ProgressBar::new(todo.len() as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:30} {pos}/{len} networks  {elapsed_precise} elapsed, ETA {eta_precise}  {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let queue = Arc::new(Mutex::new(todo.into_iter()));
    let stop = Arc::new(AtomicBool::new(false));
    let (sender, receiver) = mpsc::channel::<(u64, anyhow::Result<ZooRecord>)>();
    std::thread::scope(|scope| {
        for _ in 0..job.jobs {
            let queue = Arc::clone(&queue);
            let sender = sender.clone();
            let stop = Arc::clone(&stop);
            let (train, validation) = (train.shallow_clone(), validation.shallow_clone());
            scope.spawn(move || {
                loop {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let next = queue.lock().ok().and_then(|mut q| q.next());
                    let Some(index) = next else { break };
                    let result = train_record(job, index, &train, &validation);
                    if sender.send((index, result)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        let mut failures = 0;
        for (index, result) in receiver {
            match result {
                Ok(record) => {
                    let accuracy = record.final_accuracy().unwrap_or(f64::NAN);
                    let mut guard = writer
                        .lock()
                        .map_err(|_| anyhow::anyhow!("zoo writer poisoned"))?;
                    guard.write(&record)?;
                    drop(guard);
                    bar.set_message(format!(
                        "{} -> {:.3} in {:.0}s",
                        record.id, accuracy, record.wall_seconds
                    ));
                }
                Err(error) => {
                    failures += 1;
                    bar.println(format!("network {index} failed: {error:#}"));
                }
            }
            bar.inc(1);
        }
        bar.finish();
        stop.store(true, Ordering::Relaxed);
        if failures > 0 {
            anyhow::bail!("{failures} network(s) failed to train; rerun to retry them");
        }
        Ok(())
    })
}

//! Zoo generation: draws networks from a generator (v1, v2 or a mix) or reads them from a
//! network list (the reference set), trains each under a protocol, and appends records;
//! resumable, shardable, interruptible without a half record.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use indicatif::{ProgressBar, ProgressStyle};
use peephole_ir::protocol::Protocol;
use peephole_ir::ulc::{ULC_VERSION, encode};
use peephole_zoo::generator::free_form::{V2_CLASSES, V2_INPUT};
use peephole_zoo::generator::{DrawnId, Family, GeneratorChoice, Skeleton, draw};
use peephole_zoo::reference::ListedNetwork;
use peephole_zoo::{ZooRecord, ZooWriter, finished_ids};
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

/// Where a zoo run's networks come from.
#[derive(Debug, Clone)]
pub enum NetworkSource {
    /// Indices `0..count` of a generator stream.
    Generated {
        /// v1, v2 or a mix.
        choice: GeneratorChoice,
        /// Networks `0..count`.
        count: u64,
        /// Generator stream seed: picks the networks.
        seed: u64,
    },
    /// Generated networks named by their record ids, in the given order (index = position):
    /// a sample of committed zoos retrained with another training seed. Each trains with the
    /// seed its stream index gives it, as in a run over the whole stream.
    Drawn {
        /// The networks.
        ids: Vec<DrawnId>,
    },
    /// Every network of a list file, in file order (index = position).
    Listed {
        /// The list's name, written as each record's `generator`.
        name: String,
        /// The networks.
        networks: Vec<ListedNetwork>,
    },
}

impl NetworkSource {
    /// How many indices the source has.
    pub fn len(&self) -> u64 {
        match self {
            NetworkSource::Generated { count, .. } => *count,
            NetworkSource::Drawn { ids } => ids.len() as u64,
            NetworkSource::Listed { networks, .. } => networks.len() as u64,
        }
    }

    /// True when it has no network.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The record id of index `index`.
    pub fn record_id(&self, index: u64) -> String {
        match self {
            NetworkSource::Generated { choice, seed, .. } => {
                record_id(choice.family_at(*seed, index), *seed, index)
            }
            NetworkSource::Drawn { ids } => usize::try_from(index)
                .ok()
                .and_then(|i| ids.get(i))
                .map_or_else(|| format!("drawn-missing-{index}"), DrawnId::record_id),
            NetworkSource::Listed { networks, .. } => usize::try_from(index)
                .ok()
                .and_then(|i| networks.get(i))
                .map_or_else(|| format!("ref-missing-{index}"), ListedNetwork::record_id),
        }
    }

    /// The generated network at position `index` of the source, if it is one.
    fn drawn_at(&self, index: u64) -> Option<DrawnId> {
        match self {
            NetworkSource::Generated { choice, seed, .. } => Some(DrawnId {
                family: choice.family_at(*seed, index),
                seed: *seed,
                index,
            }),
            NetworkSource::Drawn { ids } => usize::try_from(index)
                .ok()
                .and_then(|i| ids.get(i))
                .copied(),
            NetworkSource::Listed { .. } => None,
        }
    }

    /// The index that picks network `index`'s training seed: its stream index for a generated
    /// network (so a sample retrained with seed 2 trains each network exactly as a whole-stream
    /// run with seed 2 would), its position in a list otherwise.
    pub fn seed_index(&self, index: u64) -> u64 {
        self.drawn_at(index).map_or(index, |drawn| drawn.index)
    }
}

/// Reads a file of generated networks' record ids, one a line (`#` starts a comment), for
/// [`NetworkSource::Drawn`]; an id twice, or one no generator writes, is refused with its line.
pub fn read_drawn_ids(path: &std::path::Path) -> anyhow::Result<Vec<DrawnId>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("--ids {}: {e}", path.display()))?;
    let mut seen = std::collections::HashSet::new();
    let mut ids = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let id = line.split('#').next().unwrap_or("").trim();
        if id.is_empty() {
            continue;
        }
        let drawn: DrawnId = id
            .parse()
            .map_err(|e| anyhow::anyhow!("--ids {} line {}: {e}", path.display(), number + 1))?;
        anyhow::ensure!(
            seen.insert(drawn),
            "--ids {} line {}: `{id}` is listed twice",
            path.display(),
            number + 1
        );
        ids.push(drawn);
    }
    anyhow::ensure!(
        !ids.is_empty(),
        "--ids {}: lists no network",
        path.display()
    );
    Ok(ids)
}

/// Everything a zoo run needs.
#[derive(Debug, Clone)]
pub struct ZooJob {
    /// Protocol to train under (must have a skeleton).
    pub protocol: Protocol,
    /// The networks.
    pub source: NetworkSource,
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

pub use peephole_zoo::generator::record_id;

/// A network ready to train, with what its record says of where it came from.
struct Prepared {
    id: String,
    generator: String,
    skeleton: String,
    design: String,
    network: peephole_ir::Network,
    params: u64,
    macs: u64,
}

/// Draws or looks up network `index` of the job's source.
fn prepare(job: &ZooJob, index: u64) -> anyhow::Result<Prepared> {
    let skeleton = Skeleton::of_protocol(&job.protocol).ok_or_else(|| {
        anyhow::anyhow!(
            "protocol {} has no skeleton to generate networks in",
            job.protocol.name
        )
    })?;
    match &job.source {
        NetworkSource::Generated { .. } | NetworkSource::Drawn { .. } => {
            let DrawnId {
                family,
                seed,
                index,
            } = job
                .source
                .drawn_at(index)
                .ok_or_else(|| anyhow::anyhow!("the id list has no index {index}"))?;
            if family == Family::V2 {
                anyhow::ensure!(
                    skeleton.input() == V2_INPUT && skeleton.classes() == V2_CLASSES,
                    "generator v2 draws {V2_INPUT} networks with {V2_CLASSES} classes; protocol {} trains {} images with {} classes",
                    job.protocol.name,
                    skeleton.input(),
                    skeleton.classes()
                );
            }
            let drawn = draw(family, skeleton, seed, index);
            Ok(Prepared {
                id: record_id(family, seed, index),
                generator: family.name().into(),
                skeleton: match family {
                    Family::V1 => skeleton.name().into(),
                    Family::V2 => FREE_FORM.into(),
                },
                design: drawn.design,
                network: drawn.network,
                params: drawn.params,
                macs: drawn.macs,
            })
        }
        NetworkSource::Listed { name, networks } => {
            let listed = usize::try_from(index)
                .ok()
                .and_then(|i| networks.get(i))
                .ok_or_else(|| anyhow::anyhow!("network list {name} has no index {index}"))?;
            let network = listed.network.clone();
            anyhow::ensure!(
                network.input == skeleton.input() && network.classes == skeleton.classes(),
                "network {} of {name} takes {} images with {} classes; protocol {} trains {} images with {} classes",
                listed.name,
                network.input,
                network.classes,
                job.protocol.name,
                skeleton.input(),
                skeleton.classes()
            );
            let analysis = network.analyze()?;
            Ok(Prepared {
                id: listed.record_id(),
                generator: name.clone(),
                skeleton: FREE_FORM.into(),
                design: listed.source.clone(),
                network,
                params: analysis.params,
                macs: analysis.macs,
            })
        }
    }
}

/// The `skeleton` of records whose networks no skeleton frames (v2, network lists).
pub const FREE_FORM: &str = "free-form";

/// Trains network `index` and builds its record.
pub fn train_record(
    job: &ZooJob,
    index: u64,
    train: &TensorSplit,
    validation: &TensorSplit,
) -> anyhow::Result<ZooRecord> {
    let prepared = prepare(job, index)?;
    let encoding = encode(&prepared.network)?;
    let seed = job.train_seed * 1_000_000 + job.source.seed_index(index);
    let outcome = train_network(
        &prepared.network,
        &job.protocol,
        train,
        validation,
        seed,
        job.device,
    )?;
    Ok(ZooRecord {
        id: prepared.id,
        protocol: job.protocol.name.into(),
        ulc_version: ULC_VERSION.into(),
        generator: prepared.generator,
        skeleton: prepared.skeleton,
        block: prepared.design,
        text: prepared.network.to_string(),
        network: prepared.network,
        ulc: encoding.codes,
        ulc_clamps: encoding.clamps,
        seed,
        curve: outcome.curve,
        train_loss: outcome.train_loss,
        params: prepared.params,
        macs: prepared.macs,
        wall_seconds: outcome.wall_seconds,
        device: device_name(job.device),
        diverged: outcome.diverged,
        tool_version: concat!("peephole-train ", env!("CARGO_PKG_VERSION")).into(),
    })
}

/// The indices of the job's shard whose ids are in neither its output nor a `--done-in` file,
/// after saying what the run will do.
fn todo_ids(job: &ZooJob) -> anyhow::Result<Vec<u64>> {
    let mut done = finished_ids(&job.out)?;
    for other in &job.done_in {
        anyhow::ensure!(
            other.is_file(),
            "--done-in {}: no such zoo file",
            other.display()
        );
        done.extend(finished_ids(other)?);
    }
    let todo: Vec<u64> = (0..job.source.len())
        .filter(|i| i % job.shard.count == job.shard.index)
        .filter(|&i| !done.contains(&job.source.record_id(i)))
        .collect();
    eprintln!(
        "zoo {}: {} networks in shard {}/{}, {} already in {}, {} to train on {} with {} job(s)",
        job.protocol.name,
        job.source.len(),
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
    Ok(todo)
}

/// Makes Ctrl-C wait for a write in progress (the lock), then exit: never a half record in
/// `out`.
fn wait_for_a_write_on_interrupt(writer: &Arc<Mutex<ZooWriter>>, out: &Path) {
    let writer = Arc::clone(writer);
    let installed = ctrlc::set_handler(move || {
        let _held = writer.lock();
        eprintln!("\ninterrupted: finished records are saved; rerun the same command to resume");
        std::process::exit(130);
    });
    // A process has one handler: a second zoo run in the same process (a test, a
    // library caller) keeps the first one's, whose writer is another file. Say so
    // rather than pretend the guarantee holds.
    if let Err(error) = installed {
        eprintln!(
            "warning: Ctrl-C will not wait for a record being written to {} ({error}); \
             a record cut by an interrupt is skipped, with its line number, on reading",
            out.display()
        );
    }
}

/// Runs a zoo job to completion (or Ctrl-C), printing a progress bar with ETA.
pub fn run_zoo(job: &ZooJob) -> anyhow::Result<()> {
    anyhow::ensure!(job.jobs >= 1, "--jobs must be at least 1");
    let todo = todo_ids(job)?;
    if todo.is_empty() {
        return Ok(());
    }
    let (train, validation) = load_protocol_data(&job.protocol, job.device)?;
    let writer = Arc::new(Mutex::new(ZooWriter::append(&job.out)?));
    wait_for_a_write_on_interrupt(&writer, &job.out);
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

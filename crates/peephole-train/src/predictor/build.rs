//! The whole `train-predictor` job: read and check zoo files, split, fit the ensemble,
//! measure it on the held-out networks, and write the ONNX model with its card.

use std::path::{Path, PathBuf};

use anyhow::Context;
use peephole_eval::split::Split;
use peephole_ir::layer_features::layer_features;
use peephole_ir::protocol::Protocol;
use peephole_ir::ulc::ULC_VERSION;
use peephole_metrics::{MetricError, Report, evaluate};
use peephole_predictor::format::format_of;
use peephole_predictor::{
    MethodMetrics, ModelCard, PredictorWeights, Ranges, SplitFileRef, SplitInfo, ZooFileInfo,
    native,
};
use peephole_zoo::{ZooRecord, read_zoo};
use sha2::{Digest, Sha256};

use super::train::{
    FitOptions, FitProgress, FrozenSplit, ZooSplit, codes_seen, fit_ensemble, split_frozen,
    split_zoo,
};

/// Records of several zoo files, checked to share one protocol and ULC version.
#[derive(Debug)]
pub struct LoadedZoo {
    /// All good records.
    pub records: Vec<ZooRecord>,
    /// What identifies each file.
    pub files: Vec<ZooFileInfo>,
    /// Their common protocol.
    pub protocol: Protocol,
}

/// Reads zoo files; mixing protocols or ULC versions is an error naming both.
pub fn load_zoos(paths: &[PathBuf]) -> anyhow::Result<LoadedZoo> {
    anyhow::ensure!(!paths.is_empty(), "give at least one zoo file");
    let mut records: Vec<ZooRecord> = Vec::new();
    let mut files = Vec::new();
    for path in paths {
        let bytes =
            std::fs::read(path).with_context(|| format!("reading zoo file {}", path.display()))?;
        let contents = read_zoo(path)?;
        for bad in &contents.bad_lines {
            eprintln!("{}: {bad} (skipped)", path.display());
        }
        files.push(ZooFileInfo {
            path: path.display().to_string(),
            sha256: format!("{:x}", Sha256::digest(&bytes)),
            bytes: bytes.len() as u64,
            records: contents.records.len(),
        });
        records.extend(contents.records);
    }
    let first = records
        .first()
        .with_context(|| "the zoo files hold no record")?;
    for record in &records {
        anyhow::ensure!(
            record.protocol == first.protocol,
            "zoo records of two protocols are mixed: {} is {} but {} is {}; train one predictor per protocol",
            record.id,
            record.protocol,
            first.id,
            first.protocol
        );
        anyhow::ensure!(
            record.ulc_version == ULC_VERSION,
            "record {} is coded with {}, this build reads {ULC_VERSION}",
            record.id,
            record.ulc_version
        );
    }
    let protocol = Protocol::by_name(&first.protocol)
        .with_context(|| format!("zoo protocol {} is unknown to this build", first.protocol))?;
    Ok(LoadedZoo {
        records,
        files,
        protocol,
    })
}

/// Accuracy percentiles 0, 5, ..., 100 of final accuracies (linear interpolation).
pub fn percentiles(values: &[f64]) -> Vec<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return Vec::new();
    }
    (0..=20)
        .map(|k| {
            let position = k as f64 / 20.0 * (sorted.len() - 1) as f64;
            let low = position.floor() as usize;
            let high = (low + 1).min(sorted.len() - 1);
            sorted[low] + (sorted[high] - sorted[low]) * (position - low as f64)
        })
        .collect()
}

/// How well `weights` (native forward pass) predicts the final accuracy of `records`
/// (networks without one are skipped): the held-out score of a card, and the validation score
/// settings are chosen by.
pub fn final_metrics(
    weights: &PredictorWeights,
    records: &[ZooRecord],
    epochs: u32,
) -> Result<Report, MetricError> {
    let reads_features = weights.reads_layer_features();
    let (predicted, actual): (Vec<f64>, Vec<f64>) = records
        .iter()
        .filter_map(|r| {
            let actual = r.final_accuracy()?;
            // A zoo record's network passed shape inference when its codes were written, so
            // its features exist; `ok()?` only guards a hand-edited file.
            let features = if reads_features {
                layer_features(&r.network).ok()?
            } else {
                Vec::new()
            };
            Some((
                native::predict(weights, &r.ulc, &features, epochs).0,
                actual,
            ))
        })
        .unzip();
    evaluate(&predicted, &actual)
}

/// Reads and checks a committed split file (`--split`) for [`FitOptions::frozen`].
pub fn read_frozen_split(path: &Path) -> anyhow::Result<FrozenSplit> {
    let bytes =
        std::fs::read(path).with_context(|| format!("reading split file {}", path.display()))?;
    let text = std::str::from_utf8(&bytes)
        .with_context(|| format!("split file {} is not UTF-8", path.display()))?;
    let split = Split::from_json(text).with_context(|| format!("split file {}", path.display()))?;
    Ok(FrozenSplit {
        split,
        path: path.display().to_string(),
        sha256: format!("{:x}", Sha256::digest(&bytes)),
    })
}

/// Fits, measures and describes a predictor; the caller writes it.
pub fn build_predictor(
    zoo: &LoadedZoo,
    name: &str,
    options: &FitOptions,
    command: String,
    progress: &dyn FitProgress,
) -> anyhow::Result<(PredictorWeights, ModelCard, ZooSplit)> {
    let split = match &options.frozen {
        Some(frozen) => split_frozen(&zoo.records, frozen, options.seed, options.train_fraction)?,
        None => split_zoo(
            &zoo.records,
            options.seed,
            (
                options.test_fraction,
                options.validation_fraction,
                options.train_fraction,
            ),
            options.hold_out.as_ref(),
        )?,
    };
    let weights = fit_ensemble(&split, options, progress)?;
    // Under a frozen split the test side is not scored here: it scores the finished model once,
    // in `cargo xtask eval`, and the card carries the validation score settings are chosen by.
    let (scored, method, side) = match options.frozen {
        Some(_) => (&split.validation, "peephole (validation)", "validation"),
        None => (&split.test, "peephole", "held-out"),
    };
    let mut metrics = Vec::new();
    if scored.len() >= 2 {
        match final_metrics(&weights, scored, options.epochs) {
            Ok(report) => metrics.push(MethodMetrics {
                method: method.into(),
                report,
            }),
            Err(error) => eprintln!("{side} metrics unavailable: {error}"),
        }
    }
    let finals: Vec<f64> = split
        .train
        .iter()
        .filter_map(|r| r.final_accuracy())
        .collect();
    let lengths = split.train.iter().map(|r| r.ulc.len());
    let card = ModelCard {
        format: format_of(options.layer_features).0.into(),
        name: name.into(),
        protocol: zoo.protocol.name.into(),
        ulc_version: ULC_VERSION.into(),
        epochs: options.epochs,
        ensemble: weights.members.len(),
        supervision: options.supervision.name().into(),
        zoo: zoo.files.clone(),
        split: SplitInfo {
            seed: options.seed,
            train: split.train.len(),
            validation: split.validation.len(),
            test: split.test.len(),
            test_ids: split.test.iter().map(|r| r.id.clone()).collect(),
            left_out_ids: split.left_out.clone(),
            file: options.frozen.as_ref().map(|f| SplitFileRef {
                path: f.path.clone(),
                sha256: f.sha256.clone(),
            }),
        },
        ranges: Ranges {
            sequence_length: (
                lengths.clone().min().unwrap_or(0),
                lengths.max().unwrap_or(0),
            ),
            codes_seen: codes_seen(&split.train),
            accuracy_percentiles: percentiles(&finals),
        },
        metrics,
        command,
        layer_features: format_of(options.layer_features).1.map(String::from),
    };
    Ok((weights, card, split))
}

/// Writes the model and its card (`NAME.onnx` and `NAME.card.json`), each through a
/// temporary file and a rename, so a crash never leaves half a model.
pub fn write_predictor(
    path: &Path,
    weights: &PredictorWeights,
    card: &ModelCard,
) -> anyhow::Result<PathBuf> {
    let bytes = peephole_onnx::predictor::export_predictor(weights, card)?;
    write_atomically(path, &bytes)?;
    let card_path = path.with_extension("card.json");
    write_atomically(&card_path, serde_json::to_string_pretty(card)?.as_bytes())?;
    Ok(card_path)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, bytes)
        .with_context(|| format!("writing {}", temporary.display()))?;
    std::fs::rename(&temporary, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

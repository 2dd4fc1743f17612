//! Fits a Peephole ensemble on a zoo: split by network, early stopping on the validation
//! networks, and the held-out networks kept for evaluation.

use std::collections::BTreeSet;

use peephole_core::predictor::{MemberWeights, PredictorWeights};
use peephole_core::ulc::UlcCode;
use peephole_core::zoo::ZooRecord;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use tch::nn::{self, OptimizerConfig};
use tch::{Device, Tensor};

use super::model::{PeepholeNet, PredictorBatch};

/// What the model is supervised on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Supervision {
    /// Only the final epoch's accuracy, as in the paper.
    Final,
    /// Every epoch of the curve (the epoch embedding tells them apart).
    Curve,
}

impl Supervision {
    /// Name stored in the model card.
    pub fn name(self) -> &'static str {
        match self {
            Supervision::Final => "final",
            Supervision::Curve => "curve",
        }
    }
}

/// Hyper-parameters of a predictor fit.
#[derive(Debug, Clone)]
pub struct FitOptions {
    /// Supervision target.
    pub supervision: Supervision,
    /// Ensemble members.
    pub ensemble: usize,
    /// Seed of the split and of every member's initialisation.
    pub seed: u64,
    /// Fraction of networks held out for the final evaluation.
    pub test_fraction: f64,
    /// Fraction of networks used for early stopping.
    pub validation_fraction: f64,
    /// Fraction of the remaining (training) networks actually fitted on, for learning curves
    /// over zoo size: the held-out and validation networks stay exactly the same.
    pub train_fraction: f64,
    /// Most training epochs per member.
    pub max_epochs: usize,
    /// Epochs without validation improvement before stopping.
    pub patience: usize,
    /// Adam learning rate.
    pub learning_rate: f64,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Protocol epochs (the curve length).
    pub epochs: u32,
    /// Device.
    pub device: Device,
    /// Held-out networks fixed in advance (another model's card, `--hold-out-from`) instead
    /// of `test_fraction`: a model fitted on a grown zoo is then measured on the very
    /// networks an earlier one was, which is what a learning curve over zoo size needs.
    pub hold_out: Option<BTreeSet<String>>,
}

/// A split of the zoo by network.
#[derive(Debug, Clone)]
pub struct ZooSplit {
    /// Networks to fit on.
    pub train: Vec<ZooRecord>,
    /// Networks for early stopping.
    pub validation: Vec<ZooRecord>,
    /// Held-out networks.
    pub test: Vec<ZooRecord>,
}

/// Held-out networks named in advance that the zoo does not have.
#[derive(Debug, thiserror::Error)]
#[error("{} held-out network(s) are not in the zoo files: {}", missing.len(), missing.join(", "))]
pub struct MissingHeldOut {
    /// The ids not found.
    pub missing: Vec<String>,
}

/// Splits by network id (sorted first, so the split depends only on the ids and the seed).
/// `train_fraction` keeps only a leading part of the training networks; the held-out and
/// validation parts do not depend on it, so fits on 25%, 50% and 100% are compared on the
/// same networks. With `hold_out`, exactly those networks are held out (the validation and
/// training networks are drawn from the rest in the same shuffled order, so the split of the
/// zoo the ids came from is reproduced exactly).
pub fn split_zoo(
    records: &[ZooRecord],
    seed: u64,
    (test_fraction, validation_fraction, train_fraction): (f64, f64, f64),
    hold_out: Option<&BTreeSet<String>>,
) -> Result<ZooSplit, MissingHeldOut> {
    let mut sorted: Vec<ZooRecord> = records.to_vec();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    sorted.dedup_by(|a, b| a.id == b.id);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    sorted.shuffle(&mut rng);
    let n = sorted.len();
    let (test, mut rest) = match hold_out {
        None => {
            let test = ((n as f64 * test_fraction).round() as usize).min(n);
            let rest = sorted.split_off(test);
            (sorted, rest)
        }
        Some(ids) => {
            let found: BTreeSet<&str> = sorted.iter().map(|r| r.id.as_str()).collect();
            let missing: Vec<String> = ids.iter().filter(|id| !found.contains(id.as_str())).cloned().collect();
            if !missing.is_empty() {
                return Err(MissingHeldOut { missing });
            }
            sorted.into_iter().partition(|r| ids.contains(&r.id))
        }
    };
    let validation = ((n as f64 * validation_fraction).round() as usize).min(rest.len());
    let mut train = rest.split_off(validation);
    let kept = ((train.len() as f64 * train_fraction.clamp(0.0, 1.0)).round() as usize).max(1).min(train.len());
    train.truncate(kept);
    Ok(ZooSplit { test, validation: rest, train })
}

/// One supervised example.
#[derive(Debug, Clone)]
struct Example {
    codes: Vec<UlcCode>,
    epoch: u32,
    accuracy: f64,
}

fn examples(records: &[ZooRecord], supervision: Supervision, epochs: u32) -> Vec<Example> {
    records
        .iter()
        .flat_map(|r| {
            let points: Vec<(u32, f64)> = match supervision {
                Supervision::Final => r.final_accuracy().map(|a| (epochs, a)).into_iter().collect(),
                Supervision::Curve => r.curve.iter().enumerate().map(|(e, &a)| (e as u32 + 1, a)).collect(),
            };
            points.into_iter().map(|(epoch, accuracy)| Example { codes: r.ulc.clone(), epoch, accuracy })
        })
        .collect()
}

/// Builds a padded batch for sequences and epochs.
pub fn make_batch(sequences: &[&[UlcCode]], epochs: &[u32], device: Device) -> PredictorBatch {
    let longest = sequences.iter().map(|s| s.len()).max().unwrap_or(0).max(1);
    let mut codes = vec![0i64; sequences.len() * longest * 4];
    for (b, sequence) in sequences.iter().enumerate() {
        for (t, code) in sequence.iter().enumerate() {
            for (f, value) in code.fields().iter().enumerate() {
                codes[(b * longest + t) * 4 + f] = i64::from(*value);
            }
        }
    }
    let lengths: Vec<i64> = sequences.iter().map(|s| s.len() as i64).collect();
    let epochs: Vec<i64> = epochs.iter().map(|&e| i64::from(e)).collect();
    PredictorBatch {
        codes: Tensor::from_slice(&codes).reshape([sequences.len() as i64, longest as i64, 4]).to_device(device),
        lengths: Tensor::from_slice(&lengths).to_device(device),
        epochs: Tensor::from_slice(&epochs).to_device(device),
    }
}

fn batch_of(examples: &[&Example], device: Device) -> (PredictorBatch, Tensor) {
    let sequences: Vec<&[UlcCode]> = examples.iter().map(|e| e.codes.as_slice()).collect();
    let epochs: Vec<u32> = examples.iter().map(|e| e.epoch).collect();
    let targets: Vec<f32> = examples.iter().map(|e| e.accuracy as f32).collect();
    (make_batch(&sequences, &epochs, device), Tensor::from_slice(&targets).to_device(device))
}

/// Predicts (unscaled, i.e. accuracy) with one member in eval mode.
fn predict_member(net: &PeepholeNet, batch: &PredictorBatch, mean: f32, std: f32) -> Vec<f64> {
    let _guard = tch::no_grad_guard();
    let out = net.forward(batch, false) * f64::from(std) + f64::from(mean);
    Vec::<f32>::try_from(out.to_device(Device::Cpu)).unwrap_or_default().into_iter().map(f64::from).collect()
}

/// Progress of a fit, for a progress bar.
pub trait FitProgress {
    /// Called after each training epoch of each member.
    fn epoch(&self, member: usize, epoch: usize, validation_mse: f64, best: f64);
}

/// Trains an ensemble and returns its inference-form weights.
pub fn fit_ensemble(
    split: &ZooSplit,
    options: &FitOptions,
    progress: &dyn FitProgress,
) -> anyhow::Result<PredictorWeights> {
    anyhow::ensure!(!split.train.is_empty(), "no training networks (zoo too small for the split)");
    anyhow::ensure!(!split.validation.is_empty(), "no validation networks (zoo too small for the split)");
    let device = options.device;
    let train = examples(&split.train, options.supervision, options.epochs);
    let validation = examples(&split.validation, Supervision::Final, options.epochs);
    let targets: Vec<f64> = train.iter().map(|e| e.accuracy).collect();
    let mean = targets.iter().sum::<f64>() / targets.len() as f64;
    let std = (targets.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / targets.len() as f64).sqrt().max(1e-3);
    let (mean, std) = (mean as f32, std as f32);
    let validation_refs: Vec<&Example> = validation.iter().collect();
    let (validation_batch, validation_targets) = batch_of(&validation_refs, device);
    let validation_targets: Vec<f64> =
        Vec::<f32>::try_from(validation_targets.to_device(Device::Cpu))?.into_iter().map(f64::from).collect();

    let mut members: Vec<MemberWeights> = Vec::with_capacity(options.ensemble);
    for member in 0..options.ensemble {
        let member_seed = options.seed.wrapping_mul(1_000).wrapping_add(member as u64);
        tch::manual_seed(member_seed as i64);
        let vs = nn::VarStore::new(device);
        let net = PeepholeNet::new(&vs.root(), options.epochs);
        let mut optimizer = nn::Adam { wd: 1e-4, ..Default::default() }.build(&vs, options.learning_rate)?;
        let mut rng = ChaCha8Rng::seed_from_u64(member_seed);
        let mut order: Vec<usize> = (0..train.len()).collect();
        let mut best = f64::INFINITY;
        let mut best_weights = net.to_weights();
        let mut since_best = 0;
        for epoch in 0..options.max_epochs {
            order.shuffle(&mut rng);
            for chunk in order.chunks(options.batch_size) {
                // BatchNorm needs more than one sample per batch in training mode.
                if chunk.len() < 2 {
                    continue;
                }
                let picked: Vec<&Example> = chunk.iter().map(|&i| &train[i]).collect();
                let (batch, target) = batch_of(&picked, device);
                let scaled = (target - f64::from(mean)) / f64::from(std);
                let loss = net.forward(&batch, true).smooth_l1_loss(&scaled, tch::Reduction::Mean, 1.0);
                optimizer.backward_step(&loss);
            }
            let predicted = predict_member(&net, &validation_batch, mean, std);
            let mse = predicted.iter().zip(&validation_targets).map(|(p, a)| (p - a).powi(2)).sum::<f64>()
                / predicted.len() as f64;
            if mse < best {
                best = mse;
                best_weights = net.to_weights();
                since_best = 0;
            } else {
                since_best += 1;
            }
            progress.epoch(member, epoch, mse, best);
            if since_best >= options.patience {
                break;
            }
        }
        members.push(best_weights);
    }
    Ok(PredictorWeights { members, target_mean: mean, target_std: std })
}

/// Values seen per ULC field, for the model card's ranges.
pub fn codes_seen(records: &[ZooRecord]) -> [Vec<u8>; 4] {
    let mut seen: [BTreeSet<u8>; 4] = Default::default();
    for code in records.iter().flat_map(|r| r.ulc.iter()) {
        for (field, value) in code.fields().iter().enumerate() {
            seen[field].insert(*value);
        }
    }
    seen.map(|s| s.into_iter().collect())
}


#[cfg(test)]
mod tests {
    use super::*;

    fn committed_zoo() -> Vec<ZooRecord> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/zoo/fmnist-budget-v1.jsonl");
        peephole_core::zoo::read_zoo(std::path::Path::new(path)).expect("the committed zoo reads").records
    }

    fn ids(records: &[ZooRecord]) -> Vec<&str> {
        records.iter().map(|r| r.id.as_str()).collect()
    }

    #[test]
    fn holding_out_a_splits_own_networks_reproduces_that_split() {
        let zoo = committed_zoo();
        let fractions = (0.2, 0.15, 1.0);
        let first = split_zoo(&zoo, 1, fractions, None).unwrap();
        let held: BTreeSet<String> = first.test.iter().map(|r| r.id.clone()).collect();
        let again = split_zoo(&zoo, 1, fractions, Some(&held)).unwrap();
        assert_eq!(ids(&again.test), ids(&first.test));
        assert_eq!(ids(&again.validation), ids(&first.validation));
        assert_eq!(ids(&again.train), ids(&first.train));
    }

    #[test]
    fn a_grown_zoo_keeps_the_held_out_networks_and_trains_on_the_rest() {
        let zoo = committed_zoo();
        let fractions = (0.2, 0.15, 1.0);
        let small = split_zoo(&zoo[..200], 1, fractions, None).unwrap();
        let held: BTreeSet<String> = small.test.iter().map(|r| r.id.clone()).collect();
        let grown = split_zoo(&zoo, 1, fractions, Some(&held)).unwrap();
        let grown_test: BTreeSet<String> = grown.test.iter().map(|r| r.id.clone()).collect();
        assert_eq!(grown_test, held);
        assert!(grown.train.iter().chain(&grown.validation).all(|r| !held.contains(&r.id)));
        assert_eq!(grown.test.len() + grown.validation.len() + grown.train.len(), zoo.len());
        assert_eq!(grown.validation.len(), (zoo.len() as f64 * 0.15).round() as usize);

        let mut unknown = held.clone();
        unknown.insert("s9-999999".into());
        let error = split_zoo(&zoo, 1, fractions, Some(&unknown)).unwrap_err();
        assert_eq!(error.missing, ["s9-999999"]);
        assert!(error.to_string().contains("s9-999999"), "{error}");
    }
}

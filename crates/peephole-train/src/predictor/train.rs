//! Fits a Peephole ensemble on a zoo: split by network, early stopping on the validation
//! networks, and the held-out networks kept for evaluation.

use std::collections::BTreeSet;

use peephole_eval::split::{Side, Split, is_evaluation_generator};
use peephole_ir::layer_features::{FEATURE_COUNT, FeatureRow, layer_features};
use peephole_ir::ulc::UlcCode;
use peephole_predictor::{MemberWeights, PredictorWeights};
use peephole_zoo::ZooRecord;
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

/// How a fit under curve supervision forms its mini-batches (under final supervision, where
/// each network has one point, both are the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Batching {
    /// Every (network, epoch) point on its own, shuffled together: a batch sees as many
    /// architectures as points, and the LSTM reruns for each point. The default model's way.
    Points,
    /// Whole networks with every point of their curves: the LSTM runs once per network, so a
    /// fit takes 3-5 times less time; in our fits it ranked the held-out networks worse
    /// (README, "How good is the predictor"), so it serves quick studies.
    Networks,
}

/// Hyper-parameters of a predictor fit.
#[derive(Debug, Clone)]
pub struct FitOptions {
    /// Supervision target.
    pub supervision: Supervision,
    /// How mini-batches are formed.
    pub batching: Batching,
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
    /// Weight of a pairwise ranking term (RankNet's logistic loss over every pair of points
    /// in a mini-batch whose real accuracies differ by more than [`RANKING_MARGIN`]) added to
    /// the paper's smooth L1 loss; 0 fits the paper's loss alone. The lint's verdict is a
    /// rank (a zoo percentile), and rankers in the literature gain from such a term.
    pub ranking_weight: f64,
    /// Whether the LSTM reads a `layer-features-v1` row per layer beside the ULC codes (the
    /// raw kernel, stride, widths, map size and compute share ULC v1 clamps or leaves out);
    /// `false` is the paper's model. Such a model is written in predictor format v2.
    pub layer_features: bool,
    /// Supervised points per mini-batch; with [`Batching::Networks`] a batch takes whole
    /// networks, so under curve supervision (8 points a network) 128 means 16 networks.
    pub batch_size: usize,
    /// Protocol epochs (the curve length).
    pub epochs: u32,
    /// Device.
    pub device: Device,
    /// Held-out networks fixed in advance (another model's card, `--hold-out-from`) instead
    /// of `test_fraction`: a model fitted on a grown zoo is then measured on the very
    /// networks an earlier one was, which is what a learning curve over zoo size needs.
    pub hold_out: Option<BTreeSet<String>>,
    /// The committed frozen split (`--split`, evaluation protocol v2) instead of a seeded
    /// random one: fit on its train side, stop early on its validation side, never look at its
    /// test side (`cargo xtask eval` scores that once, for the finished model).
    pub frozen: Option<FrozenSplit>,
}

/// A committed split file as the trainer uses it, with what identifies its exact content so
/// the card can name it.
#[derive(Debug, Clone)]
pub struct FrozenSplit {
    /// The parsed, checked split.
    pub split: Split,
    /// Path as given on the command line.
    pub path: String,
    /// SHA-256 of the file's bytes.
    pub sha256: String,
}

/// Why the zoo cannot be fitted under a frozen split. Both name the networks to look at.
#[derive(Debug, thiserror::Error)]
pub enum FrozenSplitError {
    /// Networks whose architecture the split file does not list: the split must be extended
    /// first (`cargo xtask split --extend`), so that their side is frozen before any fit.
    #[error(
        "{} network(s) are not in the split file {path} (extend it first with `cargo xtask split --extend`): {}",
        ids.len(),
        ids.join(", ")
    )]
    NotCovered {
        /// The split file.
        path: String,
        /// Their ids.
        ids: Vec<String>,
    },
    /// Networks on the evaluation-only side (the hand-written reference set): a shipped model
    /// must never be fitted on them.
    #[error(
        "{} network(s) are evaluation-only in {path} (the reference set is never fitted on; leave its zoo files out): {}",
        ids.len(),
        ids.join(", ")
    )]
    EvaluationOnly {
        /// The split file.
        path: String,
        /// Their ids.
        ids: Vec<String>,
    },
}

/// Smallest difference of real accuracy (0.5 percentage points) for a pair of points to enter
/// the ranking term: closer pairs are within the seed-to-seed noise of one network, and asking
/// the model to order them would teach it noise.
pub const RANKING_MARGIN: f64 = 0.005;

/// RankNet's pairwise logistic loss: for every pair (i, j) of the batch with
/// `target_i > target_j + margin` (scaled targets), `softplus(-(predicted_i - predicted_j))`,
/// averaged over those pairs; 0 when the batch has no such pair.
fn pairwise_ranking_loss(predicted: &Tensor, targets: &Tensor, margin: f64) -> Tensor {
    let predicted_gap = predicted.unsqueeze(1) - predicted.unsqueeze(0);
    let target_gap = targets.unsqueeze(1) - targets.unsqueeze(0);
    let ordered = target_gap.gt(margin).to_kind(tch::Kind::Float);
    let pairs = ordered.sum(tch::Kind::Float).clamp_min(1.0);
    ((-predicted_gap).softplus() * &ordered).sum(tch::Kind::Float) / pairs
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
    /// Ids of generated networks on no side: the frozen split keeps them for evaluation only
    /// because a reference network has the same architecture (the generators can draw a
    /// hand-written network), so they are never fitted on.
    pub left_out: Vec<String>,
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
            let missing: Vec<String> = ids
                .iter()
                .filter(|id| !found.contains(id.as_str()))
                .cloned()
                .collect();
            if !missing.is_empty() {
                return Err(MissingHeldOut { missing });
            }
            sorted.into_iter().partition(|r| ids.contains(&r.id))
        }
    };
    let validation = ((n as f64 * validation_fraction).round() as usize).min(rest.len());
    let mut train = rest.split_off(validation);
    let kept = ((train.len() as f64 * train_fraction.clamp(0.0, 1.0)).round() as usize)
        .max(1)
        .min(train.len());
    train.truncate(kept);
    Ok(ZooSplit {
        test,
        validation: rest,
        train,
        left_out: Vec::new(),
    })
}

/// Splits by the committed frozen split: every architecture goes to the side the file gives it,
/// so all copies of a text land on one side. `train_fraction` keeps a seeded leading part of
/// the training networks (validation and test do not depend on it), for zoo-size curves.
pub fn split_frozen(
    records: &[ZooRecord],
    frozen: &FrozenSplit,
    seed: u64,
    train_fraction: f64,
) -> Result<ZooSplit, FrozenSplitError> {
    let mut sorted: Vec<ZooRecord> = records.to_vec();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    sorted.dedup_by(|a, b| a.id == b.id);
    let (mut train, mut validation, mut test) = (Vec::new(), Vec::new(), Vec::new());
    let (mut not_covered, mut evaluation_only) = (Vec::new(), Vec::new());
    let mut left_out = Vec::new();
    for record in sorted {
        match frozen.split.side_of(&record) {
            Some(Side::Train) => train.push(record),
            Some(Side::Validation) => validation.push(record),
            Some(Side::Test) => test.push(record),
            // A reference network's zoo file given to the trainer is a mistake; a generated
            // twin of one is the split's rule at work.
            Some(Side::Evaluation) if is_evaluation_generator(&record.generator) => {
                evaluation_only.push(record.id)
            }
            Some(Side::Evaluation) => left_out.push(record.id),
            None => not_covered.push(record.id),
        }
    }
    if !not_covered.is_empty() {
        return Err(FrozenSplitError::NotCovered {
            path: frozen.path.clone(),
            ids: not_covered,
        });
    }
    if !evaluation_only.is_empty() {
        return Err(FrozenSplitError::EvaluationOnly {
            path: frozen.path.clone(),
            ids: evaluation_only,
        });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    train.shuffle(&mut rng);
    let kept = ((train.len() as f64 * train_fraction.clamp(0.0, 1.0)).round() as usize)
        .max(1)
        .min(train.len());
    train.truncate(kept);
    Ok(ZooSplit {
        train,
        validation,
        test,
        left_out,
    })
}

/// One network with the points of its curve it is supervised on.
#[derive(Debug, Clone)]
struct Supervised {
    codes: Vec<UlcCode>,
    /// `layer-features-v1` rows, one per code (empty when the fit does not read them).
    features: Vec<FeatureRow>,
    /// (1-based epoch, accuracy) pairs.
    points: Vec<(u32, f64)>,
}

fn supervised(
    records: &[ZooRecord],
    supervision: Supervision,
    epochs: u32,
    with_features: bool,
) -> anyhow::Result<Vec<Supervised>> {
    records
        .iter()
        .map(|r| -> anyhow::Result<Supervised> {
            let points: Vec<(u32, f64)> = match supervision {
                Supervision::Final => r
                    .final_accuracy()
                    .map(|a| (epochs, a))
                    .into_iter()
                    .collect(),
                Supervision::Curve => r
                    .curve
                    .iter()
                    .enumerate()
                    .map(|(e, &a)| (e as u32 + 1, a))
                    .collect(),
            };
            let features = if with_features {
                let rows = layer_features(&r.network).map_err(|error| {
                    anyhow::anyhow!("zoo record {}: no layer features: {error}", r.id)
                })?;
                anyhow::ensure!(
                    rows.len() == r.ulc.len(),
                    "zoo record {}: {} layers but {} ULC codes",
                    r.id,
                    rows.len(),
                    r.ulc.len()
                );
                rows
            } else {
                Vec::new()
            };
            Ok(Supervised {
                codes: r.ulc.clone(),
                features,
                points,
            })
        })
        .filter(|n| n.as_ref().map_or(true, |n| !n.points.is_empty()))
        .collect()
}

/// Builds a padded batch for sequences and epochs (a model of the ULC codes alone).
pub fn make_batch(sequences: &[&[UlcCode]], epochs: &[u32], device: Device) -> PredictorBatch {
    let (codes, lengths) = encode_sequences(sequences, device);
    let epochs: Vec<i64> = epochs.iter().map(|&e| i64::from(e)).collect();
    PredictorBatch {
        codes,
        features: None,
        lengths,
        epochs: Tensor::from_slice(&epochs).to_device(device),
    }
}

/// Sequences as the LSTM's input: codes `B x L x 4`, right-padded with 0, and lengths `B`.
fn encode_sequences(sequences: &[&[UlcCode]], device: Device) -> (Tensor, Tensor) {
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
    (
        Tensor::from_slice(&codes)
            .reshape([sequences.len() as i64, longest as i64, 4])
            .to_device(device),
        Tensor::from_slice(&lengths).to_device(device),
    )
}

/// Feature rows as the LSTM's input beside the codes: `B x L x 7`, right-padded with 0 to the
/// longest sequence (padded steps do not change the state).
fn encode_features(rows: &[&[FeatureRow]], device: Device) -> Tensor {
    let longest = rows.iter().map(|s| s.len()).max().unwrap_or(0).max(1);
    let mut values = vec![0f32; rows.len() * longest * FEATURE_COUNT];
    for (b, sequence) in rows.iter().enumerate() {
        for (t, row) in sequence.iter().enumerate() {
            let start = (b * longest + t) * FEATURE_COUNT;
            values[start..start + FEATURE_COUNT].copy_from_slice(row);
        }
    }
    Tensor::from_slice(&values)
        .reshape([rows.len() as i64, longest as i64, FEATURE_COUNT as i64])
        .to_device(device)
}

/// Networks and their supervised points as tensors: the LSTM runs once per network
/// (`codes`, `lengths`), and `owner` maps each point to its network's row, so a curve of
/// eight epochs costs one pass over the layers instead of eight.
struct CurveBatch {
    codes: Tensor,
    features: Option<Tensor>,
    lengths: Tensor,
    owner: Tensor,
    epochs: Tensor,
    targets: Tensor,
}

impl CurveBatch {
    fn new(picked: &[&Supervised], device: Device) -> CurveBatch {
        let sequences: Vec<&[UlcCode]> = picked.iter().map(|n| n.codes.as_slice()).collect();
        let (mut owner, mut epochs, mut targets) = (Vec::new(), Vec::new(), Vec::new());
        for (row, network) in picked.iter().enumerate() {
            for &(epoch, accuracy) in &network.points {
                owner.push(row as i64);
                epochs.push(i64::from(epoch));
                targets.push(accuracy as f32);
            }
        }
        let (codes, lengths) = encode_sequences(&sequences, device);
        // Every network of a fit has rows or none does; the codes are never empty.
        let features = picked.iter().any(|n| !n.features.is_empty()).then(|| {
            let rows: Vec<&[FeatureRow]> = picked.iter().map(|n| n.features.as_slice()).collect();
            encode_features(&rows, device)
        });
        CurveBatch {
            codes,
            features,
            lengths,
            owner: Tensor::from_slice(&owner).to_device(device),
            epochs: Tensor::from_slice(&epochs).to_device(device),
            targets: Tensor::from_slice(&targets).to_device(device),
        }
    }

    fn points(&self) -> i64 {
        self.owner.size()[0]
    }

    /// Predicted (scaled) accuracy of every point.
    fn forward(&self, net: &PeepholeNet, train: bool) -> Tensor {
        let structure = net
            .structure(&self.codes, self.features.as_ref(), &self.lengths)
            .index_select(0, &self.owner);
        net.regress(&structure, &self.epochs, train)
    }
}

/// Predicts (unscaled, i.e. accuracy) with one member in eval mode.
fn predict_member(net: &PeepholeNet, batch: &CurveBatch, mean: f32, std: f32) -> Vec<f64> {
    let _guard = tch::no_grad_guard();
    let out = batch.forward(net, false) * f64::from(std) + f64::from(mean);
    Vec::<f32>::try_from(out.to_device(Device::Cpu))
        .unwrap_or_default()
        .into_iter()
        .map(f64::from)
        .collect()
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
    anyhow::ensure!(
        !split.train.is_empty(),
        "no training networks (zoo too small for the split)"
    );
    anyhow::ensure!(
        !split.validation.is_empty(),
        "no validation networks (zoo too small for the split)"
    );
    let train = training_set(split, options)?;
    let validation = supervised(
        &split.validation,
        Supervision::Final,
        options.epochs,
        options.layer_features,
    )?;
    let (mean, std) = target_scale(&train);
    let validation_refs: Vec<&Supervised> = validation.iter().collect();
    let validation_batch = CurveBatch::new(&validation_refs, options.device);
    let validation_targets: Vec<f64> =
        Vec::<f32>::try_from(validation_batch.targets.to_device(Device::Cpu))?
            .into_iter()
            .map(f64::from)
            .collect();
    let validation = Validation {
        batch: &validation_batch,
        targets: &validation_targets,
    };
    let mut members: Vec<MemberWeights> = Vec::with_capacity(options.ensemble);
    for member in 0..options.ensemble {
        members.push(fit_member(
            member,
            &train,
            &validation,
            (mean, std),
            options,
            progress,
        )?);
    }
    Ok(PredictorWeights {
        members,
        target_mean: mean,
        target_std: std,
    })
}

/// The training side as supervised entries: one per network, or one per point when
/// [`Batching::Points`].
fn training_set(split: &ZooSplit, options: &FitOptions) -> anyhow::Result<Vec<Supervised>> {
    let train = supervised(
        &split.train,
        options.supervision,
        options.epochs,
        options.layer_features,
    )?;
    if options.batching != Batching::Points {
        return Ok(train);
    }
    Ok(train
        .into_iter()
        .flat_map(|n| {
            n.points.into_iter().map(move |point| Supervised {
                codes: n.codes.clone(),
                features: n.features.clone(),
                points: vec![point],
            })
        })
        .collect())
}

/// Mean and standard deviation (at least 1e-3) of the training targets: the member predicts
/// accuracies scaled by them.
fn target_scale(train: &[Supervised]) -> (f32, f32) {
    let targets: Vec<f64> = train
        .iter()
        .flat_map(|n| n.points.iter().map(|p| p.1))
        .collect();
    let mean = targets.iter().sum::<f64>() / targets.len() as f64;
    let std = (targets.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / targets.len() as f64)
        .sqrt()
        .max(1e-3);
    (mean as f32, std as f32)
}

/// The validation side, batched once, and its real accuracies.
struct Validation<'a> {
    batch: &'a CurveBatch,
    targets: &'a [f64],
}

/// Trains ensemble member `member` with early stopping on the validation MSE; returns its
/// weights at the best epoch.
fn fit_member(
    member: usize,
    train: &[Supervised],
    validation: &Validation<'_>,
    (mean, std): (f32, f32),
    options: &FitOptions,
    progress: &dyn FitProgress,
) -> anyhow::Result<MemberWeights> {
    let device = options.device;
    // `batch_size` counts supervised points; a batch takes whole entries of `train`.
    let points_per_network = train.iter().map(|n| n.points.len()).max().unwrap_or(1);
    let networks_per_batch = (options.batch_size / points_per_network).max(1);
    let member_seed = options.seed.wrapping_mul(1_000).wrapping_add(member as u64);
    tch::manual_seed(member_seed as i64);
    let vs = nn::VarStore::new(device);
    let net = PeepholeNet::new(&vs.root(), options.epochs, options.layer_features);
    let mut optimizer = nn::Adam {
        wd: 1e-4,
        ..Default::default()
    }
    .build(&vs, options.learning_rate)?;
    let mut rng = ChaCha8Rng::seed_from_u64(member_seed);
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut best = f64::INFINITY;
    let mut best_weights = net.to_weights();
    let mut since_best = 0;
    for epoch in 0..options.max_epochs {
        order.shuffle(&mut rng);
        for chunk in order.chunks(networks_per_batch) {
            let picked: Vec<&Supervised> = chunk.iter().map(|&i| &train[i]).collect();
            let batch = CurveBatch::new(&picked, device);
            // BatchNorm needs more than one sample per batch in training mode.
            if batch.points() < 2 {
                continue;
            }
            let scaled = (&batch.targets - f64::from(mean)) / f64::from(std);
            let predicted = batch.forward(&net, true);
            let loss = predicted.smooth_l1_loss(&scaled, tch::Reduction::Mean, 1.0);
            // A new tensor, not `+=` (tch's `AddAssign` adds in place, into a tensor the
            // graph recorded).
            let loss = if options.ranking_weight > 0.0 {
                let margin = RANKING_MARGIN / f64::from(std);
                loss + pairwise_ranking_loss(&predicted, &scaled, margin) * options.ranking_weight
            } else {
                loss
            };
            optimizer.backward_step(&loss);
        }
        let predicted = predict_member(&net, validation.batch, mean, std);
        let mse = predicted
            .iter()
            .zip(validation.targets)
            .map(|(p, a)| (p - a).powi(2))
            .sum::<f64>()
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
    Ok(best_weights)
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
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../data/zoo/fmnist-budget-v1.jsonl"
        );
        peephole_zoo::read_zoo(std::path::Path::new(path))
            .expect("the committed zoo reads")
            .records
    }

    fn ids(records: &[ZooRecord]) -> Vec<&str> {
        records.iter().map(|r| r.id.as_str()).collect()
    }

    #[test]
    fn a_curve_batch_predicts_what_one_row_per_point_predicts() {
        let zoo = committed_zoo();
        let networks = supervised(&zoo[..5], Supervision::Curve, 8, false).expect("codes only");
        let picked: Vec<&Supervised> = networks.iter().collect();
        let shared = CurveBatch::new(&picked, Device::Cpu);
        let (sequences, epochs): (Vec<&[UlcCode]>, Vec<u32>) = networks
            .iter()
            .flat_map(|n| n.points.iter().map(move |p| (n.codes.as_slice(), p.0)))
            .unzip();
        assert_eq!(shared.points(), 40);
        tch::manual_seed(3);
        let vs = nn::VarStore::new(Device::Cpu);
        let net = PeepholeNet::new(&vs.root(), 8, false);
        let _guard = tch::no_grad_guard();
        let one_row_per_point = net.forward(&make_batch(&sequences, &epochs, Device::Cpu), false);
        let difference = f64::try_from(
            (shared.forward(&net, false) - one_row_per_point)
                .abs()
                .max(),
        )
        .unwrap();
        assert!(
            difference < 1e-5,
            "shared-structure forward differs by {difference}"
        );
        // Distinct networks and epochs do predict differently, so the comparison can fail.
        let spread = f64::try_from(shared.forward(&net, false).std(false)).unwrap();
        assert!(spread > 1e-4, "predictions are all alike ({spread})");
    }

    #[test]
    fn a_member_reading_layer_features_is_what_its_weights_score_natively() {
        let zoo = committed_zoo();
        let networks = supervised(&zoo[..6], Supervision::Final, 8, true).expect("features");
        assert!(networks.iter().all(|n| n.features.len() == n.codes.len()));
        let picked: Vec<&Supervised> = networks.iter().collect();
        let batch = CurveBatch::new(&picked, Device::Cpu);
        assert!(batch.features.is_some());
        tch::manual_seed(5);
        let vs = nn::VarStore::new(Device::Cpu);
        let net = PeepholeNet::new(&vs.root(), 8, true);
        let member = net.to_weights();
        let features = member
            .lstm_w_features
            .as_ref()
            .expect("the member keeps its feature columns apart");
        assert_eq!((features.rows, features.cols), (4 * 160, FEATURE_COUNT));
        let weights = PredictorWeights {
            members: vec![member],
            target_mean: 0.0,
            target_std: 1.0,
        };
        let tch = predict_member(&net, &batch, 0.0, 1.0);
        for (network, predicted) in networks.iter().zip(&tch) {
            let (native, _) =
                peephole_predictor::native::predict(&weights, &network.codes, &network.features, 8);
            assert!(
                (native - predicted).abs() < 1e-4,
                "native {native} vs tch {predicted}"
            );
            let (codes_only, _) =
                peephole_predictor::native::predict(&weights, &network.codes, &[], 8);
            assert!(
                (codes_only - predicted).abs() > 1e-6,
                "the features must count, or this test cannot fail"
            );
        }
    }

    fn frozen(records: &[&ZooRecord]) -> FrozenSplit {
        let mut split = Split::new();
        split.extend(records).expect("the split covers them");
        FrozenSplit {
            split,
            path: "splits/test.json".into(),
            sha256: "0".repeat(64),
        }
    }

    #[test]
    fn a_frozen_split_keeps_every_copy_of_an_architecture_on_its_side() {
        use peephole_zoo::testing::record_with_curve;
        // 60 architectures, each drawn twice under different ids (twins).
        let records: Vec<ZooRecord> = (0..120)
            .map(|i| {
                record_with_curve(
                    &format!("n{i:03}"),
                    "generator-v1",
                    7,
                    i / 2,
                    vec![0.5, 0.6],
                )
            })
            .collect();
        let refs: Vec<&ZooRecord> = records.iter().collect();
        let frozen = frozen(&refs);
        let split = split_frozen(&records, &frozen, 1, 1.0).unwrap();
        assert_eq!(
            split.train.len() + split.validation.len() + split.test.len(),
            120
        );
        assert!(!split.train.is_empty() && !split.validation.is_empty() && !split.test.is_empty());
        let side_of = |text: &str| {
            [
                (&split.train, "train"),
                (&split.validation, "validation"),
                (&split.test, "test"),
            ]
            .into_iter()
            .filter(|(part, _)| part.iter().any(|r| r.text == text))
            .map(|(_, name)| name)
            .collect::<Vec<_>>()
        };
        for record in &records {
            assert_eq!(
                side_of(&record.text).len(),
                1,
                "{} is on two sides",
                record.text
            );
        }
        // A fraction of the training side keeps validation and test as they are.
        let half = split_frozen(&records, &frozen, 1, 0.5).unwrap();
        assert_eq!(
            half.train.len(),
            (split.train.len() as f64 * 0.5).round() as usize
        );
        assert_eq!(ids(&half.validation), ids(&split.validation));
        assert_eq!(ids(&half.test), ids(&split.test));
    }

    #[test]
    fn a_frozen_split_refuses_unlisted_and_evaluation_only_networks() {
        use peephole_zoo::testing::record_with_curve;
        let listed = record_with_curve("listed", "generator-v1", 7, 0, vec![0.5]);
        let reference = record_with_curve("lenet", "reference-v1", 7, 1, vec![0.5]);
        let frozen = frozen(&[&listed, &reference]);
        let unlisted = record_with_curve("new-one", "generator-v1", 7, 2, vec![0.5]);
        let error = split_frozen(&[listed.clone(), unlisted], &frozen, 1, 1.0).unwrap_err();
        assert!(
            matches!(&error, FrozenSplitError::NotCovered { ids, .. } if ids == &["new-one"]),
            "{error}"
        );
        assert!(
            error.to_string().contains("splits/test.json")
                && error.to_string().contains("--extend"),
            "{error}"
        );
        let error = split_frozen(&[listed, reference], &frozen, 1, 1.0).unwrap_err();
        assert!(
            matches!(&error, FrozenSplitError::EvaluationOnly { ids, .. } if ids == &["lenet"]),
            "{error}"
        );
    }

    #[test]
    fn a_generated_twin_of_a_reference_network_is_left_out_of_every_side() {
        use peephole_zoo::testing::record_with_curve;
        let listed = record_with_curve("listed", "generator-v1", 7, 0, vec![0.5]);
        let reference = record_with_curve("lenet", "reference-v1", 7, 1, vec![0.5]);
        // The generator drew the reference network's architecture (same stream and index).
        let twin = record_with_curve("v2-twin", "generator-v2", 7, 1, vec![0.6]);
        let frozen = frozen(&[&listed, &reference, &twin]);
        let split = split_frozen(&[listed, twin], &frozen, 1, 1.0).unwrap();
        assert_eq!(split.left_out, ["v2-twin"]);
        let sides: Vec<&str> = [&split.train, &split.validation, &split.test]
            .into_iter()
            .flatten()
            .map(|r| r.id.as_str())
            .collect();
        assert_eq!(sides, ["listed"]);
    }

    #[test]
    fn the_ranking_loss_rewards_the_right_order_and_ignores_near_ties() {
        let targets = Tensor::from_slice(&[0.0f32, 1.0, 2.0]);
        let right = pairwise_ranking_loss(&Tensor::from_slice(&[0.0f32, 5.0, 10.0]), &targets, 0.1);
        let wrong = pairwise_ranking_loss(&Tensor::from_slice(&[10.0f32, 5.0, 0.0]), &targets, 0.1);
        let (right, wrong) = (f64::try_from(right).unwrap(), f64::try_from(wrong).unwrap());
        assert!(
            right < 0.01 && wrong > 5.0,
            "right order {right}, wrong order {wrong}"
        );
        // Targets closer than the margin form no pair, whatever the predictions say.
        let ties = Tensor::from_slice(&[1.0f32, 1.05, 0.98]);
        let tied = pairwise_ranking_loss(&Tensor::from_slice(&[10.0f32, 0.0, 5.0]), &ties, 0.1);
        assert_eq!(f64::try_from(tied).unwrap(), 0.0);
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
        assert!(
            grown
                .train
                .iter()
                .chain(&grown.validation)
                .all(|r| !held.contains(&r.id))
        );
        assert_eq!(
            grown.test.len() + grown.validation.len() + grown.train.len(),
            zoo.len()
        );
        assert_eq!(
            grown.validation.len(),
            (zoo.len() as f64 * 0.15).round() as usize
        );

        let mut unknown = held.clone();
        unknown.insert("s9-999999".into());
        let error = split_zoo(&zoo, 1, fractions, Some(&unknown)).unwrap_err();
        assert_eq!(error.missing, ["s9-999999"]);
        assert!(error.to_string().contains("s9-999999"), "{error}");
    }
}

//! Trains one network under a protocol and measures its learning curve: the ground truth
//! every zoo record holds.

use std::time::Instant;

use peephole_ir::protocol::Protocol;
use peephole_ir::{Network, ShapeError};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use tch::nn::{self, ModuleT, OptimizerConfig};
use tch::{Device, Kind, Tensor};
use thiserror::Error;

use crate::data::TensorSplit;
use crate::module::TchNetwork;

/// Why a training run could not happen (divergence is a result, not an error).
#[derive(Debug, Error)]
pub enum TrainError {
    /// The network is invalid.
    #[error("network {network}: {source}")]
    Shape {
        /// The network, in the text form.
        network: String,
        /// What is wrong with it.
        source: ShapeError,
    },
    /// libtorch failed (out of memory, device problem).
    #[error("libtorch failed while training {network}: {source}")]
    Torch {
        /// The network, in the text form.
        network: String,
        /// libtorch's message.
        source: tch::TchError,
    },
}

/// The outcome of one protocol run.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainOutcome {
    /// Validation accuracy after each epoch.
    pub curve: Vec<f64>,
    /// Mean training loss per epoch; `None` from the epoch that diverged on.
    pub train_loss: Vec<Option<f64>>,
    /// Whether a training loss was not finite.
    pub diverged: bool,
    /// Wall-clock seconds.
    pub wall_seconds: f64,
}

/// A device name as records store it.
pub fn device_name(device: Device) -> String {
    match device {
        Device::Cpu => "cpu".into(),
        Device::Cuda(i) => format!("cuda:{i}"),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// The permutation of `count` training images for one epoch, from our own RNG so a record's
/// seed reproduces the batch order whatever libtorch's generator does.
pub fn epoch_permutation(seed: u64, epoch: u32, count: usize) -> Vec<i64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(u64::from(epoch));
    let mut order: Vec<i64> = (0..count as i64).collect();
    order.shuffle(&mut rng);
    order
}

/// Top-1 accuracy in eval mode; a sample whose logits are not all finite counts as wrong.
pub fn accuracy(model: &impl ModuleT, split: &TensorSplit, batch: i64) -> f64 {
    let _guard = tch::no_grad_guard();
    let count = split.len();
    let mut correct = 0i64;
    let mut start = 0;
    while start < count {
        let size = batch.min(count - start);
        let images = split.images.narrow(0, start, size);
        let labels = split.labels.narrow(0, start, size);
        let logits = model.forward_t(&images, false);
        let finite = logits.isfinite().all_dim(1, false);
        let hits = logits
            .argmax(1, false)
            .eq_tensor(&labels)
            .logical_and(&finite);
        correct += hits.sum(Kind::Int64).int64_value(&[]);
        start += size;
    }
    correct as f64 / count as f64
}

/// Trains `network` under `protocol` with `seed` and returns its curve.
///
/// `seed` sets libtorch's generator (initialisation) and the batch order.
pub fn train_network(
    network: &Network,
    protocol: &Protocol,
    train: &TensorSplit,
    validation: &TensorSplit,
    seed: u64,
    device: Device,
) -> Result<TrainOutcome, TrainError> {
    let started = Instant::now();
    let text = network.to_string();
    let torch = |source| TrainError::Torch {
        network: text.clone(),
        source,
    };
    tch::manual_seed(seed as i64);
    let vs = nn::VarStore::new(device);
    let model = TchNetwork::new(&vs.root(), network).map_err(|source| TrainError::Shape {
        network: text.clone(),
        source,
    })?;
    let mut optimizer = nn::Sgd {
        momentum: protocol.momentum,
        dampening: 0.0,
        wd: protocol.weight_decay,
        nesterov: false,
    }
    .build(&vs, protocol.learning_rate.rate(1))
    .map_err(torch)?;

    let epochs = protocol.epochs as usize;
    let mut curve = Vec::with_capacity(epochs);
    let mut train_loss = Vec::with_capacity(epochs);
    let mut diverged = false;
    let count = train.len();
    let batch = protocol.batch_size as i64;
    for epoch in 1..=protocol.epochs {
        if diverged {
            curve.push(protocol.divergence_accuracy);
            train_loss.push(None);
            continue;
        }
        optimizer.set_lr(protocol.learning_rate.rate(epoch));
        let order =
            Tensor::from_slice(&epoch_permutation(seed, epoch, count as usize)).to_device(device);
        let mut loss_sum = 0.0;
        let mut start = 0;
        while start < count {
            let size = batch.min(count - start);
            let index = order.narrow(0, start, size);
            let images = train.images.index_select(0, &index);
            let labels = train.labels.index_select(0, &index);
            let loss = model
                .forward_t(&images, true)
                .cross_entropy_for_logits(&labels);
            let value = loss.double_value(&[]);
            if !value.is_finite() {
                diverged = true;
                break;
            }
            optimizer.backward_step(&loss);
            loss_sum += value * size as f64;
            start += size;
        }
        if diverged {
            curve.push(protocol.divergence_accuracy);
            train_loss.push(None);
            continue;
        }
        train_loss.push(Some(loss_sum / count as f64));
        curve.push(accuracy(&model, validation, 1000));
    }
    Ok(TrainOutcome {
        curve,
        train_loss,
        diverged,
        wall_seconds: started.elapsed().as_secs_f64(),
    })
}

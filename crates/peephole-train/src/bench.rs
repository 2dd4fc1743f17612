//! The tch half of `cargo xtask bench train`: times SGD steps of one network on fixed
//! Fashion-MNIST batches, and writes what the PyTorch half needs to time the very same work
//! (the layers with their explicit padding, the batches) so the two are comparable.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use peephole_ir::protocol::Protocol;
use peephole_ir::{Layer, Network, Padding};
use serde::Serialize;
use tch::nn::{self, ModuleT, OptimizerConfig};
use tch::{Device, Tensor};

use crate::data::TensorSplit;
use crate::module::TchNetwork;

/// Distinct batches cycled through: enough that caches do not flatter either side, few
/// enough that the exported file stays small.
pub const BATCHES: i64 = 8;

/// What is measured.
#[derive(Debug, Clone)]
pub struct BenchTrainOptions {
    /// Images per step.
    pub batch: i64,
    /// Timed steps per repeat.
    pub steps: usize,
    /// Untimed steps before the first repeat (allocator and kernel warm-up).
    pub warmup: usize,
    /// Timed repeats; the median is reported.
    pub repeats: usize,
}

/// One layer as the PyTorch side rebuilds it, with padding already resolved to
/// `[left, right, top, bottom]` so both sides pad identically.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum LayerSpec {
    Conv {
        in_channels: u32,
        out_channels: u32,
        kernel: [u32; 2],
        stride: u32,
        pads: [u32; 4],
    },
    MaxPool {
        kernel: [u32; 2],
        stride: u32,
        pads: [u32; 4],
    },
    AvgPool {
        kernel: [u32; 2],
        stride: u32,
        pads: [u32; 4],
    },
    Relu,
    Sigmoid,
    Tanh,
    BatchNorm {
        channels: u32,
    },
}

/// The whole job for the PyTorch side.
#[derive(Debug, Serialize)]
struct Spec {
    network: String,
    layers: Vec<LayerSpec>,
    features: u32,
    classes: u32,
    input: [u32; 3],
    batch: i64,
    batches: i64,
    steps: usize,
    warmup: usize,
    repeats: usize,
    learning_rate: f64,
    momentum: f64,
    weight_decay: f64,
    threads: i32,
}

fn pads(kernel: peephole_ir::Kernel, padding: Padding) -> [u32; 4] {
    let (left, right) = padding.before_after(kernel.width);
    let (top, bottom) = padding.before_after(kernel.height);
    [left, right, top, bottom]
}

fn layer_specs(network: &Network) -> anyhow::Result<(Vec<LayerSpec>, u32)> {
    let analysis = network.analyze()?;
    let layers = network
        .layers
        .iter()
        .zip(&analysis.layers)
        .map(|(layer, shape)| match *layer {
            Layer::Conv {
                kernel,
                out_channels,
                stride,
                padding,
            } => LayerSpec::Conv {
                in_channels: shape.input.channels,
                out_channels,
                kernel: [kernel.height, kernel.width],
                stride,
                pads: pads(kernel, padding),
            },
            Layer::MaxPool {
                kernel,
                stride,
                padding,
            } => LayerSpec::MaxPool {
                kernel: [kernel.height, kernel.width],
                stride,
                pads: pads(kernel, padding),
            },
            Layer::AvgPool {
                kernel,
                stride,
                padding,
            } => LayerSpec::AvgPool {
                kernel: [kernel.height, kernel.width],
                stride,
                pads: pads(kernel, padding),
            },
            Layer::Relu => LayerSpec::Relu,
            Layer::Sigmoid => LayerSpec::Sigmoid,
            Layer::Tanh => LayerSpec::Tanh,
            Layer::BatchNorm => LayerSpec::BatchNorm {
                channels: shape.input.channels,
            },
        })
        .collect();
    Ok((layers, analysis.features.channels))
}

/// Writes `spec.json`, `images.f32` (little-endian, N x C x H x W) and `labels.i64` into
/// `dir` for the PyTorch side.
fn export(dir: &Path, spec: &Spec, images: &Tensor, labels: &Tensor) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let write = |name: &str, bytes: &[u8]| -> anyhow::Result<()> {
        let path = dir.join(name);
        let mut file =
            std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        file.write_all(bytes)
            .with_context(|| format!("writing {}", path.display()))
    };
    write("spec.json", serde_json::to_string_pretty(spec)?.as_bytes())?;
    let pixels: Vec<f32> = Vec::<f32>::try_from(images.flatten(0, -1))?;
    write(
        "images.f32",
        &pixels
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect::<Vec<u8>>(),
    )?;
    let classes: Vec<i64> = Vec::<i64>::try_from(labels)?;
    write(
        "labels.i64",
        &classes
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect::<Vec<u8>>(),
    )?;
    Ok(())
}

/// Times `options.steps` SGD steps (forward, cross-entropy, backward, update, and reading the
/// loss, as the trainer does) per repeat on the CPU with `threads` threads, after exporting
/// the same job for PyTorch into `export_dir`. Returns images per second per repeat.
pub fn bench_train(
    network: &Network,
    protocol: &Protocol,
    train: &TensorSplit,
    options: &BenchTrainOptions,
    threads: i32,
    export_dir: &Path,
) -> anyhow::Result<Vec<f64>> {
    anyhow::ensure!(
        options.batch > 0 && options.steps > 0 && options.repeats > 0,
        "batch, steps and repeats must be positive"
    );
    let needed = options.batch * BATCHES;
    anyhow::ensure!(
        train.len() >= needed,
        "the training split has {} images, the benchmark needs {needed}",
        train.len()
    );
    let images = train
        .images
        .narrow(0, 0, needed)
        .to_device(Device::Cpu)
        .contiguous();
    let labels = train
        .labels
        .narrow(0, 0, needed)
        .to_device(Device::Cpu)
        .contiguous();
    let (layers, features) = layer_specs(network)?;
    let input = network.input;
    let spec = Spec {
        network: network.to_string(),
        layers,
        features,
        classes: network.classes,
        input: [input.channels, input.height, input.width],
        batch: options.batch,
        batches: BATCHES,
        steps: options.steps,
        warmup: options.warmup,
        repeats: options.repeats,
        learning_rate: protocol.learning_rate.rate(1),
        momentum: protocol.momentum,
        weight_decay: protocol.weight_decay,
        threads,
    };
    export(export_dir, &spec, &images, &labels)?;

    tch::set_num_threads(threads);
    tch::manual_seed(1);
    let vs = nn::VarStore::new(Device::Cpu);
    let model = TchNetwork::new(&vs.root(), network)?;
    let mut optimizer = nn::Sgd {
        momentum: protocol.momentum,
        dampening: 0.0,
        wd: protocol.weight_decay,
        nesterov: false,
    }
    .build(&vs, spec.learning_rate)?;
    let batches: Vec<(Tensor, Tensor)> = (0..BATCHES)
        .map(|b| {
            (
                images.narrow(0, b * options.batch, options.batch),
                labels.narrow(0, b * options.batch, options.batch),
            )
        })
        .collect();
    let mut step = |index: usize| -> f64 {
        let (x, y) = &batches[index % batches.len()];
        let loss = model.forward_t(x, true).cross_entropy_for_logits(y);
        optimizer.backward_step(&loss);
        loss.double_value(&[])
    };
    for i in 0..options.warmup {
        step(i);
    }
    let mut rates = Vec::with_capacity(options.repeats);
    for _ in 0..options.repeats {
        let started = Instant::now();
        let mut last = 0.0;
        for i in 0..options.steps {
            last = step(i);
        }
        let seconds = started.elapsed().as_secs_f64();
        anyhow::ensure!(last.is_finite(), "the loss diverged during the benchmark");
        rates.push((options.steps as i64 * options.batch) as f64 / seconds);
    }
    Ok(rates)
}

//! A network declared with `peephole::network!` trains through the tch module of the facade's
//! `tch` feature: a few passes of SGD over a small Fashion-MNIST subset (the first 2048 training
//! images) lower the loss and lift accuracy on 256 test images well above chance.
//!
//! Needs the `tch` feature, libtorch and Fashion-MNIST; `cargo xtask test` runs it with all
//! three (`cargo test --workspace --features peephole/tch`, libtorch found through
//! `LD_LIBRARY_PATH`, since the facade itself sets no rpath).

use peephole::train::TchModule;
use peephole::train::tch::nn::{self, ModuleT, OptimizerConfig};
use peephole::train::tch::{self, Device, Tensor};
use peephole_data::{FashionMnistFile, SplitSpec, load_fashion_mnist_split};

peephole::network! {
    /// Small enough to train in seconds on a CPU.
    #[peephole(allow(ulc_clamp))]
    pub struct Tiny: [1, 28, 28] -> 10 {
        conv(3x3, 16), bn, relu, maxpool(2, stride = 2),
        conv(3x3, 32), bn, relu, maxpool(2, stride = 2),
    }
}

/// The first `count` images of one Fashion-MNIST file as tensors (normalised like the
/// budget protocol).
fn subset(file: FashionMnistFile, count: usize) -> (Tensor, Tensor) {
    let spec = SplitSpec {
        file,
        first: count,
        mean: 0.2860,
        std: 0.3530,
    };
    let split = load_fashion_mnist_split(&spec)
        .unwrap_or_else(|e| panic!("Fashion-MNIST is needed (run `cargo xtask setup`): {e}"));
    let shape = split.shape().map(|d| d as i64);
    let images = Tensor::from_slice(&split.images).reshape(shape);
    let labels: Vec<i64> = split.labels.iter().map(|&l| i64::from(l)).collect();
    (images, Tensor::from_slice(&labels))
}

/// Mean cross-entropy and top-1 accuracy in eval mode.
fn evaluate(model: &impl ModuleT, images: &Tensor, labels: &Tensor) -> (f64, f64) {
    let _guard = tch::no_grad_guard();
    let logits = model.forward_t(images, false);
    let loss = logits.cross_entropy_for_logits(labels).double_value(&[]);
    let hits = logits
        .argmax(-1, false)
        .eq_tensor(labels)
        .to_kind(tch::Kind::Float);
    (loss, hits.mean(tch::Kind::Float).double_value(&[]))
}

/// Training images: enough for a few hundred SGD steps, seconds on a CPU.
const TRAIN_IMAGES: i64 = 2048;

#[test]
fn a_declared_network_trains_through_its_tch_module() {
    tch::manual_seed(1);
    let (train_images, train_labels) = subset(FashionMnistFile::Train, TRAIN_IMAGES as usize);
    let (test_images, test_labels) = subset(FashionMnistFile::Test, 256);
    let vs = nn::VarStore::new(Device::Cpu);
    let model = Tiny::tch_module(&vs.root()).expect("the declared network analyses");
    // The module holds exactly the parameters the declaration promises.
    let count: i64 = vs
        .trainable_variables()
        .iter()
        .map(|t| t.numel() as i64)
        .sum();
    assert_eq!(count as u64, Tiny::PARAMS);

    let (loss_before, accuracy_before) = evaluate(&model, &test_images, &test_labels);
    let mut sgd = nn::Sgd {
        momentum: 0.9,
        ..Default::default()
    }
    .build(&vs, 0.05)
    .expect("optimizer");
    for _ in 0..5 {
        for start in (0..TRAIN_IMAGES).step_by(64) {
            let images = train_images.narrow(0, start, 64);
            let labels = train_labels.narrow(0, start, 64);
            sgd.backward_step(
                &model
                    .forward_t(&images, true)
                    .cross_entropy_for_logits(&labels),
            );
        }
    }
    let (loss_after, accuracy_after) = evaluate(&model, &test_images, &test_labels);
    eprintln!(
        "test loss {loss_before:.3} -> {loss_after:.3}, accuracy {accuracy_before:.3} -> {accuracy_after:.3}"
    );
    assert!(
        loss_after < 0.7 * loss_before,
        "test loss went from {loss_before:.3} to {loss_after:.3}"
    );
    // Ten balanced classes: chance is 0.10.
    assert!(
        accuracy_after > 0.5,
        "test accuracy after training {accuracy_after:.3}"
    );
}

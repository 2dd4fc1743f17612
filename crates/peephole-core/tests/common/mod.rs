//! Strategies, builders and checks shared by the integration tests (each test file includes this
//! module, so not every item is used by every file).
#![allow(dead_code)]

use peephole_core::predictor::ULC_ONLY_MODEL_PATH;
use peephole_core::{Kernel, Layer, Network, Padding, Shape};
use proptest::prelude::*;

/// Small extents most of the time (so valid networks come out), any `u32` now and then (so
/// overflow paths are exercised too).
pub fn extent(small: std::ops::RangeInclusive<u32>) -> impl Strategy<Value = u32> + Clone {
    prop_oneof![8 => small, 1 => any::<u32>()]
}

pub fn padding() -> impl Strategy<Value = Padding> + Clone {
    prop_oneof![Just(Padding::Same), Just(Padding::Valid)]
}

/// Any layer, with kernels that may be asymmetric, zero or huge, any stride and padding.
pub fn any_layer() -> impl Strategy<Value = Layer> {
    let kernel =
        (extent(0..=9), extent(0..=9)).prop_map(|(width, height)| Kernel { width, height });
    prop_oneof![
        (kernel.clone(), extent(0..=70), extent(0..=4), padding()).prop_map(
            |(kernel, out_channels, stride, padding)| Layer::Conv {
                kernel,
                out_channels,
                stride,
                padding,
            }
        ),
        (kernel.clone(), extent(0..=4), padding()).prop_map(|(kernel, stride, padding)| {
            Layer::MaxPool {
                kernel,
                stride,
                padding,
            }
        }),
        (kernel, extent(0..=4), padding()).prop_map(|(kernel, stride, padding)| {
            Layer::AvgPool {
                kernel,
                stride,
                padding,
            }
        }),
        Just(Layer::Relu),
        Just(Layer::Sigmoid),
        Just(Layer::Tanh),
        Just(Layer::BatchNorm),
    ]
}

/// Any network, valid or not.
pub fn any_network() -> impl Strategy<Value = Network> {
    (
        (extent(0..=8), extent(0..=40), extent(0..=40)),
        proptest::collection::vec(any_layer(), 0..12),
        extent(0..=20),
    )
        .prop_map(|((c, h, w), layers, classes)| Network {
            input: Shape::new(c, h, w),
            layers,
            classes,
        })
}

/// A network that always passes shape inference: positive extents, "same" padding, stride
/// 1..=3, kernels 1..=9 (so the ULC ranges are left on both sides), widths 1..=96.
pub fn valid_network() -> impl Strategy<Value = Network> {
    let kernel = (1u32..=9, 1u32..=9).prop_map(|(width, height)| Kernel { width, height });
    let layer = prop_oneof![
        3 => (kernel.clone(), 1u32..=96, 1u32..=3).prop_map(|(kernel, out_channels, stride)| {
            Layer::Conv {
                kernel,
                out_channels,
                stride,
                padding: Padding::Same,
            }
        }),
        1 => (kernel.clone(), 1u32..=3).prop_map(|(kernel, stride)| Layer::MaxPool {
            kernel,
            stride,
            padding: Padding::Same,
        }),
        1 => (kernel, 1u32..=3).prop_map(|(kernel, stride)| Layer::AvgPool {
            kernel,
            stride,
            padding: Padding::Same,
        }),
        1 => Just(Layer::Relu),
        1 => Just(Layer::Sigmoid),
        1 => Just(Layer::Tanh),
        1 => Just(Layer::BatchNorm),
    ];
    (
        (1u32..=64, 1u32..=32, 1u32..=32),
        proptest::collection::vec(layer, 0..16),
        1u32..=100,
    )
        .prop_map(|((c, h, w), layers, classes)| Network {
            input: Shape::new(c, h, w),
            layers,
            classes,
        })
}

/// Shorthand for a layer-kind-specific conv with explicit padding.
pub fn conv(width: u32, height: u32, out_channels: u32, stride: u32, padding: Padding) -> Layer {
    Layer::Conv {
        kernel: Kernel { width, height },
        out_channels,
        stride,
        padding,
    }
}

/// Asserts that `count` of `n` draws is within 5 standard deviations of the spec's `p`.
///
/// Why 5 standard deviations: a frequency over n independent draws has standard deviation
/// sqrt(p(1-p)/n) and, for the thousands of draws each cell gets in these tests, is close to
/// normal. A correct generator lands outside 5 sigma with probability ~5.7e-7 per cell, so
/// the ~100 cells of a test file fail by chance with probability ~6e-5 in all, for any seed;
/// the bound is tight enough to catch a probability moved by 0.02. A cell the spec gives
/// probability 0 has no variance at all: it must be exactly 0, not "within 5 sigma of 0".
pub fn assert_frequency(what: &str, count: u64, n: u64, p: f64) {
    assert!(n > 0, "{what}: no observations");
    if p == 0.0 {
        assert_eq!(
            count, 0,
            "{what}: the spec gives probability 0, seen {count} of {n}"
        );
        return;
    }
    let frequency = count as f64 / n as f64;
    let sigma = (p * (1.0 - p) / n as f64).sqrt();
    assert!(
        (frequency - p).abs() <= 5.0 * sigma,
        "{what}: {count}/{n} = {frequency:.5}, spec {p}, bound 5 sigma = {:.5}",
        5.0 * sigma
    );
}

/// The committed ULC-only predictor (format v1, [`ULC_ONLY_MODEL_PATH`]): the paper's
/// model, which scores bare ULC sequences. The embedded default reads layer features too and
/// scores networks only, so the tests of the codes interface run on this one.
pub fn ulc_only_model() -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(ULC_ONLY_MODEL_PATH);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// [`ulc_only_model`] loaded.
pub fn ulc_only_predictor() -> peephole_core::predictor::Predictor {
    peephole_core::predictor::Predictor::from_bytes(&ulc_only_model(), ULC_ONLY_MODEL_PATH)
        .expect("the ULC-only model loads")
}

/// The first `count` networks of the committed generator-v1 zoo, with their ULC codes.
pub fn zoo_networks(count: usize) -> Vec<(Network, Vec<peephole_core::ulc::UlcCode>)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/zoo/fmnist-budget-v1.jsonl");
    let zoo = peephole_core::zoo::read_zoo(&path).expect("the committed zoo reads");
    assert!(
        zoo.records.len() >= count,
        "the committed zoo has its networks"
    );
    zoo.records
        .into_iter()
        .take(count)
        .map(|r| (r.network, r.ulc))
        .collect()
}

//! Strategies and builders shared by the integration tests (each test file includes this
//! module, so not every item is used by every file).
#![allow(dead_code)]

use peephole_ir::{Kernel, Layer, Network, Padding, Shape};
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

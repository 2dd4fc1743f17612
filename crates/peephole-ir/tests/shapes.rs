//! Shape inference, parameter and MAC counting (`Network::analyze`): worked by hand, checked
//! against the size formulas, every error reachable with the right layer, and a reference
//! implementation in wide integers for arbitrary layer lists.

mod common;

use common::{any_network, conv};
use peephole_ir::{Kernel, Layer, Network, Padding, Shape, ShapeError};
use proptest::prelude::*;

fn pool(max: bool, width: u32, height: u32, stride: u32, padding: Padding) -> Layer {
    let kernel = Kernel { width, height };
    if max {
        Layer::MaxPool {
            kernel,
            stride,
            padding,
        }
    } else {
        Layer::AvgPool {
            kernel,
            stride,
            padding,
        }
    }
}

fn net(input: Shape, layers: Vec<Layer>, classes: u32) -> Network {
    Network {
        input,
        layers,
        classes,
    }
}

#[test]
fn a_small_network_has_the_hand_computed_shapes_params_and_macs() {
    let network = net(
        Shape::new(3, 32, 32),
        vec![
            conv(5, 5, 8, 1, Padding::Same),     // 0
            Layer::BatchNorm,                    // 1
            Layer::Relu,                         // 2
            pool(true, 2, 2, 2, Padding::Valid), // 3
            conv(3, 3, 16, 2, Padding::Valid),   // 4
            pool(false, 3, 3, 1, Padding::Same), // 5
            conv(4, 2, 4, 1, Padding::Same),     // 6: even, asymmetric kernel
            Layer::Sigmoid,                      // 7
            conv(2, 2, 6, 2, Padding::Same),     // 8
            Layer::Tanh,                         // 9
        ],
        10,
    );
    let analysis = network.analyze().unwrap();
    let shapes: Vec<(Shape, u64, u64)> = analysis
        .layers
        .iter()
        .map(|l| (l.output, l.params, l.macs))
        .collect();
    assert_eq!(
        shapes,
        vec![
            // 0: same, stride 1 keeps 32x32. Weights 5*5*3*8 = 600, + 8 biases = 608.
            //    MACs 32*32 positions * 600 = 614,400.
            (Shape::new(8, 32, 32), 608, 614_400),
            // 1: BatchNorm, weight and bias per channel: 2*8 = 16.
            (Shape::new(8, 32, 32), 16, 0),
            // 2: ReLU, nothing.
            (Shape::new(8, 32, 32), 0, 0),
            // 3: valid 2x2 stride 2: (32 - 2) / 2 + 1 = 16.
            (Shape::new(8, 16, 16), 0, 0),
            // 4: valid 3x3 stride 2: floor((16 - 3) / 2) + 1 = 6 + 1 = 7.
            //    Weights 3*3*8*16 = 1,152, + 16 = 1,168. MACs 7*7 * 1,152 = 56,448.
            (Shape::new(16, 7, 7), 1_168, 56_448),
            // 5: same 3x3 stride 1 keeps 7x7; a pool has no parameters and counts 0 MACs.
            (Shape::new(16, 7, 7), 0, 0),
            // 6: same 4x2 (width 4, height 2), stride 1 keeps 7x7 (pads 1+2 and 0+1).
            //    Weights 4*2*16*4 = 512, + 4 = 516. MACs 49 * 512 = 25,088.
            (Shape::new(4, 7, 7), 516, 25_088),
            (Shape::new(4, 7, 7), 0, 0),
            // 8: same 2x2 stride 2: floor((7 - 1) / 2) + 1 = 4.
            //    Weights 2*2*4*6 = 96, + 6 = 102. MACs 4*4 * 96 = 1,536.
            (Shape::new(6, 4, 4), 102, 1_536),
            (Shape::new(6, 4, 4), 0, 0),
        ]
    );
    // Each layer's input is the previous layer's output.
    assert_eq!(analysis.layers[0].input, Shape::new(3, 32, 32));
    for pair in analysis.layers.windows(2) {
        assert_eq!(pair[1].input, pair[0].output);
    }
    assert_eq!(analysis.features, Shape::new(6, 4, 4));
    // Head: global average pool (nothing) + Linear 6 -> 10: 60 weights + 10 biases, 60 MACs.
    // Params: 608 + 16 + 1,168 + 516 + 102 + 70 = 2,480.
    assert_eq!(analysis.params, 2_480);
    // MACs: 614,400 + 56,448 + 25,088 + 1,536 + 60 = 697,532.
    assert_eq!(analysis.macs, 697_532);
    assert_eq!(analysis.max_channels(), 16);
}

#[test]
fn width_and_height_are_computed_separately_for_asymmetric_kernels_and_inputs() {
    // Input 9 rows x 5 columns; kernel 3 wide, 5 high, valid, stride 2:
    // width (5 - 3) / 2 + 1 = 2, height (9 - 5) / 2 + 1 = 3.
    let network = net(
        Shape::new(1, 9, 5),
        vec![conv(3, 5, 2, 2, Padding::Valid)],
        2,
    );
    let analysis = network.analyze().unwrap();
    assert_eq!(analysis.layers[0].output, Shape::new(2, 3, 2));
    // Weights 3*5*1*2 = 30, + 2 biases; MACs 3*2 positions * 30 = 180; head 2*2 + 2.
    assert_eq!(analysis.layers[0].params, 32);
    assert_eq!(analysis.layers[0].macs, 180);
    assert_eq!(analysis.params, 32 + 6);
    assert_eq!(analysis.macs, 180 + 4);
}

#[test]
fn same_padding_follows_pytorchs_rule_for_even_kernels() {
    // Total k - 1; before = floor((k - 1) / 2), after = the rest.
    let cases = [
        (1, (0, 0)),
        (2, (0, 1)),
        (3, (1, 1)),
        (4, (1, 2)),
        (5, (2, 2)),
        (6, (2, 3)),
    ];
    for (k, expected) in cases {
        assert_eq!(Padding::Same.before_after(k), expected, "k = {k}");
        assert_eq!(Padding::Valid.before_after(k), (0, 0), "k = {k}");
    }
    assert_eq!(Padding::default_for_stride(1), Padding::Same);
    assert_eq!(Padding::default_for_stride(2), Padding::Valid);
    // With stride 1 every same kernel keeps the size, even a 4x4 one on a 1x1 input.
    for k in 1..=6 {
        for max in [true, false] {
            let network = net(
                Shape::new(2, 5, 7),
                vec![
                    conv(k, k, 3, 1, Padding::Same),
                    pool(max, k, k, 1, Padding::Same),
                ],
                1,
            );
            let analysis = network.analyze().unwrap();
            assert_eq!(analysis.layers[0].output, Shape::new(3, 5, 7), "k = {k}");
            assert_eq!(analysis.layers[1].output, Shape::new(3, 5, 7), "k = {k}");
        }
        let tiny = net(
            Shape::new(1, 1, 1),
            vec![conv(k, k, 1, 1, Padding::Same)],
            1,
        );
        assert_eq!(tiny.analyze().unwrap().features, Shape::new(1, 1, 1));
    }
}

#[test]
fn stride_two_sizes_by_hand() {
    // (input, kernel, padding, output): same floor((in - 1) / 2) + 1, valid floor((in - k) / 2) + 1.
    let cases = [
        (28, 2, Padding::Valid, 14),
        (14, 2, Padding::Valid, 7),
        (7, 2, Padding::Valid, 3),
        (3, 2, Padding::Valid, 1),
        (7, 3, Padding::Valid, 3),
        (8, 3, Padding::Valid, 3),
        (5, 5, Padding::Valid, 1),
        (28, 3, Padding::Same, 14),
        (7, 3, Padding::Same, 4),
        (7, 4, Padding::Same, 4),
        (1, 5, Padding::Same, 1),
        (2, 2, Padding::Same, 1),
    ];
    for (input, k, padding, output) in cases {
        let network = net(
            Shape::new(1, input, input),
            vec![conv(k, k, 1, 2, padding)],
            1,
        );
        assert_eq!(
            network.analyze().unwrap().features,
            Shape::new(1, output, output),
            "in {input}, k {k}, {padding:?}"
        );
    }
}

proptest! {
    #[test]
    fn output_sizes_follow_the_same_and_valid_formulas(
        height in 1u32..=64,
        width in 1u32..=64,
        kw in 1u32..=7,
        kh in 1u32..=7,
        stride in 1u32..=4,
        kind in 0u8..3,
        padding in common::padding(),
    ) {
        let kernel = Kernel { width: kw, height: kh };
        let layer = match kind {
            0 => Layer::Conv { kernel, out_channels: 3, stride, padding },
            1 => Layer::MaxPool { kernel, stride, padding },
            _ => Layer::AvgPool { kernel, stride, padding },
        };
        let network = net(Shape::new(2, height, width), vec![layer], 1);
        let extent = |input: u32, k: u32| match padding {
            Padding::Same => Some((input - 1) / stride + 1),
            Padding::Valid => (input >= k).then(|| (input - k) / stride + 1),
        };
        match (extent(width, kw), extent(height, kh)) {
            (Some(w), Some(h)) => {
                let channels = if kind == 0 { 3 } else { 2 };
                prop_assert_eq!(network.analyze().unwrap().features, Shape::new(channels, h, w));
            }
            _ => prop_assert_eq!(
                network.analyze(),
                Err(ShapeError::KernelLargerThanInput {
                    layer: 0,
                    kernel_width: kw,
                    kernel_height: kh,
                    input_width: width,
                    input_height: height,
                })
            ),
        }
    }
}

#[test]
fn every_shape_error_is_reachable_and_names_its_layer() {
    let input = Shape::new(1, 8, 8);
    let cases: Vec<(Network, ShapeError)> = vec![
        (
            net(Shape::new(0, 8, 8), vec![], 10),
            ShapeError::EmptyInput {
                shape: Shape::new(0, 8, 8),
            },
        ),
        (
            net(Shape::new(1, 0, 8), vec![], 10),
            ShapeError::EmptyInput {
                shape: Shape::new(1, 0, 8),
            },
        ),
        (
            net(Shape::new(1, 8, 0), vec![], 10),
            ShapeError::EmptyInput {
                shape: Shape::new(1, 8, 0),
            },
        ),
        (net(input, vec![Layer::Relu], 0), ShapeError::NoClasses),
        (
            net(
                input,
                vec![
                    Layer::Relu,
                    Layer::BatchNorm,
                    conv(3, 3, 0, 1, Padding::Same),
                ],
                10,
            ),
            ShapeError::ZeroChannels { layer: 2 },
        ),
        (
            net(input, vec![conv(3, 0, 4, 1, Padding::Same)], 10),
            ShapeError::ZeroKernel {
                layer: 0,
                width: 3,
                height: 0,
            },
        ),
        (
            net(
                input,
                vec![Layer::Relu, pool(true, 0, 3, 1, Padding::Same)],
                10,
            ),
            ShapeError::ZeroKernel {
                layer: 1,
                width: 0,
                height: 3,
            },
        ),
        (
            net(
                input,
                vec![
                    Layer::Tanh,
                    Layer::Tanh,
                    pool(false, 0, 0, 1, Padding::Valid),
                ],
                10,
            ),
            ShapeError::ZeroKernel {
                layer: 2,
                width: 0,
                height: 0,
            },
        ),
        (
            net(
                input,
                vec![
                    Layer::Relu,
                    Layer::Relu,
                    Layer::Relu,
                    pool(false, 2, 2, 0, Padding::Same),
                ],
                10,
            ),
            ShapeError::ZeroStride { layer: 3 },
        ),
        (
            net(input, vec![conv(3, 3, 4, 0, Padding::Valid)], 10),
            ShapeError::ZeroStride { layer: 0 },
        ),
        (
            // 8x8 -> 4x4 after the pool; a valid 5x3 kernel does not fit 4 columns.
            net(
                input,
                vec![
                    pool(true, 2, 2, 2, Padding::Valid),
                    conv(5, 3, 4, 1, Padding::Valid),
                ],
                10,
            ),
            ShapeError::KernelLargerThanInput {
                layer: 1,
                kernel_width: 5,
                kernel_height: 3,
                input_width: 4,
                input_height: 4,
            },
        ),
        (
            // 4 rows, 10 columns: the width fits, the height of 5 does not.
            net(
                Shape::new(1, 4, 10),
                vec![Layer::Relu, pool(false, 3, 5, 1, Padding::Valid)],
                10,
            ),
            ShapeError::KernelLargerThanInput {
                layer: 1,
                kernel_width: 3,
                kernel_height: 5,
                input_width: 10,
                input_height: 4,
            },
        ),
        (
            // MACs of one layer: 2^16 * 2^16 positions * (1*1*2^16*2^16 weights) = 2^64.
            net(
                Shape::new(65_536, 65_536, 65_536),
                vec![conv(1, 1, 65_536, 1, Padding::Same)],
                10,
            ),
            ShapeError::Overflow { layer: 0 },
        ),
        (
            // Two layers of 2^63 MACs each (window 2^32 on a 1x1 input, same padding):
            // the sum overflows at the second.
            net(
                Shape::new(65_536, 1, 1),
                vec![
                    conv(65_536, 65_536, 32_768, 1, Padding::Same),
                    Layer::Relu,
                    conv(65_536, 65_536, 65_536, 1, Padding::Same),
                ],
                10,
            ),
            ShapeError::Overflow { layer: 2 },
        ),
    ];
    for (network, expected) in cases {
        let got = network.analyze();
        assert_eq!(got, Err(expected.clone()), "{network}");
        let layer = match expected {
            ShapeError::EmptyInput { .. } | ShapeError::NoClasses => None,
            ShapeError::ZeroChannels { layer }
            | ShapeError::ZeroKernel { layer, .. }
            | ShapeError::ZeroStride { layer }
            | ShapeError::KernelLargerThanInput { layer, .. }
            | ShapeError::Overflow { layer } => Some(layer),
        };
        assert_eq!(expected.layer(), layer);
        // The message names the layer it is about.
        if let Some(layer) = layer {
            assert!(expected.to_string().contains(&format!("layer {layer}")));
        }
    }
}

// 2^64 - 1 = 3 * 5 * 17 * 257 * 641 * 65537 * 6700417: kernels built from these factors make
// counts land exactly on u64::MAX, so the next addition must be caught.
const P641_65537: u32 = 641 * 65_537; // 42,009,217
const P6700417: u32 = 6_700_417;

#[test]
fn a_conv_whose_weights_fill_u64_reports_overflow_for_its_bias_instead_of_panicking() {
    // Weights 42,009,217 * 6,700,417 * 21,845 * 3 = 2^64 - 1 on a 1x1 input (1 position):
    // adding the 3 biases overflows.
    let network = net(
        Shape::new(5 * 17 * 257, 1, 1),
        vec![Layer::Relu, conv(P641_65537, P6700417, 3, 1, Padding::Same)],
        10,
    );
    assert_eq!(network.analyze(), Err(ShapeError::Overflow { layer: 1 }));
}

#[test]
fn a_head_that_overflows_the_mac_total_is_blamed_on_the_last_layer() {
    // Input 257 x 5 x 17 (85 positions), same padding: weights 42,009,217 * 6,700,417 * 257
    // * 3, MACs that * 85 = 2^64 - 1 exactly. The head's 3 * 10 MACs overflow the total.
    let network = net(
        Shape::new(257, 5, 17),
        vec![conv(P641_65537, P6700417, 3, 1, Padding::Same)],
        10,
    );
    assert_eq!(network.analyze(), Err(ShapeError::Overflow { layer: 0 }));
}

#[test]
fn a_head_that_overflows_the_parameter_total_is_blamed_on_the_last_layer() {
    // Weights (2^32 - 1)^2 = 2^64 - 2^33 + 1, + 1 bias; head (1 * (2^32 - 1) weights and
    // 2^32 - 1 biases) adds 2^33 - 2: exactly 2^64.
    let network = net(
        Shape::new(1, 1, 1),
        vec![
            Layer::Relu,
            conv(u32::MAX, u32::MAX, 1, 1, Padding::Same),
            Layer::BatchNorm,
        ],
        u32::MAX,
    );
    assert_eq!(network.analyze(), Err(ShapeError::Overflow { layer: 2 }));
}

#[test]
fn extents_near_u32_max_do_not_overflow_the_padding_arithmetic() {
    // Same padding on a u32::MAX-wide input pads to beyond u32: the output is still u32::MAX.
    let network = net(
        Shape::new(1, u32::MAX, u32::MAX),
        vec![
            pool(true, 5, 4, 1, Padding::Same),
            pool(false, 3, 3, 2, Padding::Same),
        ],
        1,
    );
    let analysis = network.analyze().unwrap();
    assert_eq!(analysis.layers[0].output, Shape::new(1, u32::MAX, u32::MAX));
    // floor((2^32 - 2) / 2) + 1 = 2^31.
    assert_eq!(analysis.features, Shape::new(1, 1 << 31, 1 << 31));
}

#[test]
fn max_channels_includes_the_input() {
    let analysis = net(
        Shape::new(300, 4, 4),
        vec![conv(1, 1, 8, 1, Padding::Same)],
        10,
    )
    .analyze()
    .unwrap();
    assert_eq!(analysis.max_channels(), 300);
    let no_layers = net(Shape::new(257, 1, 1), vec![], 10).analyze().unwrap();
    assert_eq!(no_layers.max_channels(), 257);
    let widening = net(
        Shape::new(3, 4, 4),
        vec![
            conv(1, 1, 40, 1, Padding::Same),
            conv(1, 1, 8, 1, Padding::Same),
        ],
        10,
    )
    .analyze()
    .unwrap();
    assert_eq!(widening.max_channels(), 40);
}

/// What the reference finds wrong with a layer, for the first layer with a fault.
#[derive(Debug, PartialEq)]
enum Fault {
    Structure(Vec<ShapeError>),
    Overflow,
}

/// Output shapes, parameters and MACs of a sound network.
type Counts = (Vec<Shape>, u64, u64);
/// The layer at fault (none for the input or head) and what is wrong with it.
type Found = (Option<usize>, Fault);

/// A reference analysis in u128 (saturating far above u64::MAX), written from the spec's
/// rules: out = floor((in + pad - k) / s) + 1, conv weights k_w*k_h*c_in*c_out + c_out
/// biases, MACs weights * H_out * W_out, BatchNorm 2*C, head C*classes + classes.
fn reference(network: &Network) -> Result<Counts, Found> {
    let input = network.input;
    if input.channels == 0 || input.height == 0 || input.width == 0 {
        return Err((
            None,
            Fault::Structure(vec![ShapeError::EmptyInput { shape: input }]),
        ));
    }
    if network.classes == 0 {
        return Err((None, Fault::Structure(vec![ShapeError::NoClasses])));
    }
    let big = |x: u64| u128::from(x);
    let mul = |a: u128, b: u128| a.saturating_mul(b);
    let mut current = input;
    let mut shapes = Vec::new();
    let (mut params, mut macs) = (0u128, 0u128);
    for (layer, l) in network.layers.iter().enumerate() {
        let mut faults = Vec::new();
        let mut output = current;
        if let Some((kernel, stride, padding)) = l.window() {
            if kernel.width == 0 || kernel.height == 0 {
                faults.push(ShapeError::ZeroKernel {
                    layer,
                    width: kernel.width,
                    height: kernel.height,
                });
            }
            if stride == 0 {
                faults.push(ShapeError::ZeroStride { layer });
            }
            let extent = |i: u32, k: u32| -> Option<u32> {
                let pad = if padding == Padding::Same {
                    u64::from(k.saturating_sub(1))
                } else {
                    0
                };
                let padded = u64::from(i) + pad;
                (padded >= u64::from(k))
                    .then(|| ((padded - u64::from(k)) / u64::from(stride.max(1)) + 1) as u32)
            };
            match (
                extent(current.width, kernel.width),
                extent(current.height, kernel.height),
            ) {
                (Some(w), Some(h)) => {
                    output.width = w;
                    output.height = h;
                }
                _ => faults.push(ShapeError::KernelLargerThanInput {
                    layer,
                    kernel_width: kernel.width,
                    kernel_height: kernel.height,
                    input_width: current.width,
                    input_height: current.height,
                }),
            }
        }
        let (p, m) = match *l {
            Layer::Conv {
                kernel,
                out_channels,
                ..
            } => {
                if out_channels == 0 {
                    faults.push(ShapeError::ZeroChannels { layer });
                }
                output.channels = out_channels;
                let weights = mul(
                    mul(big(kernel.width.into()), big(kernel.height.into())),
                    mul(big(current.channels.into()), big(out_channels.into())),
                );
                let positions = mul(big(output.width.into()), big(output.height.into()));
                (
                    weights.saturating_add(u128::from(out_channels)),
                    mul(weights, positions),
                )
            }
            Layer::BatchNorm => (2 * u128::from(current.channels), 0),
            _ => (0, 0),
        };
        if !faults.is_empty() {
            return Err((Some(layer), Fault::Structure(faults)));
        }
        params = params.saturating_add(p);
        macs = macs.saturating_add(m);
        if params > u128::from(u64::MAX) || macs > u128::from(u64::MAX) {
            return Err((Some(layer), Fault::Overflow));
        }
        shapes.push(output);
        current = output;
    }
    let head = u128::from(current.channels) * u128::from(network.classes);
    params = params.saturating_add(head + u128::from(network.classes));
    macs = macs.saturating_add(head);
    match (u64::try_from(params), u64::try_from(macs)) {
        (Ok(params), Ok(macs)) => Ok((shapes, params, macs)),
        _ => Err((
            Some(network.layers.len().saturating_sub(1)),
            Fault::Overflow,
        )),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn analyze_never_panics_and_agrees_with_a_wide_integer_reference(network in any_network()) {
        let got = network.analyze();
        match (got, reference(&network)) {
            (Ok(analysis), Ok((shapes, params, macs))) => {
                let outputs: Vec<Shape> = analysis.layers.iter().map(|l| l.output).collect();
                prop_assert_eq!(outputs, shapes);
                prop_assert_eq!(analysis.params, params);
                prop_assert_eq!(analysis.macs, macs);
                let layer_params: u64 = analysis.layers.iter().map(|l| l.params).sum();
                let layer_macs: u64 = analysis.layers.iter().map(|l| l.macs).sum();
                let head = u64::from(analysis.features.channels) * u64::from(network.classes);
                prop_assert_eq!(analysis.params, layer_params + head + u64::from(network.classes));
                prop_assert_eq!(analysis.macs, layer_macs + head);
            }
            (Err(error), Err((layer, fault))) => {
                prop_assert_eq!(error.layer(), layer, "{} vs {:?}", error, fault);
                match fault {
                    Fault::Overflow => prop_assert!(matches!(error, ShapeError::Overflow { .. }), "{}", error),
                    Fault::Structure(faults) => prop_assert!(faults.contains(&error), "{} not in {:?}", error, faults),
                }
            }
            (got, expected) => prop_assert!(false, "analyze {:?}, reference {:?}", got, expected),
        }
    }
}

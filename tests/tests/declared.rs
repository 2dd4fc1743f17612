//! The generated constants agree with peephole-ir computing the same things at run time:
//! the macro is a build-time cache of the core API, never a second implementation.

use peephole::{DeclaredNetwork, Kernel, Layer, Padding, Shape, ulc};

peephole::network! {
    /// LeNet-style.
    #[peephole(allow(ulc_clamp))]
    pub struct LeNet: [1, 28, 28] -> 10 {
        conv(5x5, 6), relu, maxpool(2, stride = 2),
        conv(5x5, 16), bn, relu, maxpool(2, stride = 2),
    }

    #[peephole(allow(ulc_clamp, oversized_kernel, pool_stride_default))]
    pub(crate) struct Odd: [3, 9, 7] -> 4 {
        conv(3x1, 8, stride = 2, padding = same), tanh,
        avgpool(3 x 2), conv(7, 12, padding = same), sigmoid,
        maxpool(2, stride = 3, padding = valid),
    }
}

/// Checks every constant of a declared network against the core API.
fn agrees_with_core<N: DeclaredNetwork>() {
    let network = N::network();
    assert_eq!(N::TEXT, network.to_string(), "{}", N::NAME);
    let analysis = network.analyze().expect("declared networks analyse");
    assert_eq!(N::PARAMS, analysis.params, "{}", N::NAME);
    assert_eq!(N::MACS, analysis.macs, "{}", N::NAME);
    let encoding = ulc::encode(&network).expect("declared networks encode");
    assert_eq!(N::ULC, encoding.codes.as_slice(), "{}", N::NAME);
    ulc::validate(N::ULC).expect("codes are valid ULC v1");
    let reparsed: peephole::Network = N::TEXT.parse().expect("TEXT is valid text form");
    assert_eq!(reparsed, network, "{}", N::NAME);
}

#[test]
fn generated_constants_match_the_core_api() {
    agrees_with_core::<LeNet>();
    agrees_with_core::<Odd>();
}

#[test]
fn lenet_lowers_to_the_expected_ir() {
    assert_eq!(LeNet::NAME, "LeNet");
    assert_eq!(LeNet::INPUT, Shape::new(1, 28, 28));
    assert_eq!(LeNet::CLASSES, 10);
    assert_eq!(
        LeNet::TEXT,
        "[1x28x28] conv5x5:6 relu maxpool2x2/2 conv5x5:16 bn relu maxpool2x2/2 -> 10"
    );
    assert_eq!(
        LeNet::LAYERS[2],
        Layer::MaxPool {
            kernel: Kernel::square(2),
            stride: 2,
            padding: Padding::Valid
        }
    );
    // 1 -> 6 channels is a ratio of 6, clamped to the top bin (8).
    assert_eq!(LeNet::ULC[0].fields(), [1, 5, 5, 8]);
    // Inherent items and the trait agree.
    assert_eq!(<LeNet as DeclaredNetwork>::ULC, LeNet::ULC);
}

#[test]
fn asymmetric_kernels_are_width_by_height_and_overrides_are_kept() {
    assert_eq!(
        Odd::LAYERS[0],
        Layer::Conv {
            kernel: Kernel {
                width: 3,
                height: 1
            },
            out_channels: 8,
            stride: 2,
            padding: Padding::Same,
        }
    );
    assert_eq!(
        Odd::LAYERS[2],
        Layer::avg_pool(
            Kernel {
                width: 3,
                height: 2
            },
            1
        )
    );
    assert!(Odd::TEXT.contains("conv3x1:8/2@same"), "{}", Odd::TEXT);
}

#[test]
fn generated_types_are_plain_values() {
    let net = LeNet;
    let copy = net;
    assert_eq!(format!("{copy:?}"), "LeNet");
}

//! Arbitrary layer lists through the core API the `network!` macro's lowering calls
//! (`Network::analyze`, `ulc::encode`, `text::layer_text`) and the lint it reports.
//!
//! The macro itself runs inside rustc and cannot be fuzzed in-process; everything it decides
//! comes from these functions, so fuzzing them on any layer list covers what a declaration
//! can make it do.

use std::time::Duration;

use peephole_ir::Padding;
use peephole_ir::{Kernel, Layer, Network, Shape, text, ulc};
use peephole_lint::lints as lint;
use peephole_zoo::generator::compute_filter;

use super::{MIB, Target};
use crate::mutate::ByteReader;

/// See the module documentation.
pub const TARGET: Target = Target {
    name: "layers",
    about: "arbitrary layer lists: analyze, ULC encode and lints agree, never panic, encode only emits valid codes, and the text form round-trips",
    run,
    seeds,
    mutate: None,
    dictionary: &[
        &[0xff, 0xff, 0xff, 0xff, 0xff],
        &[0xef],
        &[0xe0],
        &[0, 0, 0, 0],
    ],
    max_len: 512,
    timeout: Duration::from_secs(5),
    allocation_limit: 64 * MIB,
};

fn seeds() -> Vec<Vec<u8>> {
    vec![
        Vec::new(),
        // 1x28x28, 10 classes, conv3x3:16, relu, maxpool2x2/2.
        vec![1, 28, 28, 10, 3, 0, 3, 3, 16, 1, 0, 3, 1, 2, 2, 2, 0],
        vec![0xef, 0xef, 0xef, 0xef, 2, 0, 0xef, 0xef, 0xef, 0xef, 0, 6],
    ]
}

fn padding(reader: &mut ByteReader<'_>) -> Padding {
    if reader.byte().is_multiple_of(2) {
        Padding::Same
    } else {
        Padding::Valid
    }
}

/// Decodes any bytes into a network (every choice has a meaning, so no input is wasted).
pub fn network_from(bytes: &[u8]) -> Network {
    let mut reader = ByteReader::new(bytes);
    let input = Shape::new(reader.extent(), reader.extent(), reader.extent());
    let classes = reader.extent();
    let count = usize::from(reader.byte() % 64);
    let mut layers = Vec::with_capacity(count);
    for _ in 0..count {
        let layer = match reader.byte() % 7 {
            0 => Layer::Conv {
                kernel: Kernel {
                    width: reader.extent(),
                    height: reader.extent(),
                },
                out_channels: reader.extent(),
                stride: reader.extent(),
                padding: padding(&mut reader),
            },
            1 => Layer::MaxPool {
                kernel: Kernel {
                    width: reader.extent(),
                    height: reader.extent(),
                },
                stride: reader.extent(),
                padding: padding(&mut reader),
            },
            2 => Layer::AvgPool {
                kernel: Kernel {
                    width: reader.extent(),
                    height: reader.extent(),
                },
                stride: reader.extent(),
                padding: padding(&mut reader),
            },
            3 => Layer::Relu,
            4 => Layer::Sigmoid,
            5 => Layer::Tanh,
            _ => Layer::BatchNorm,
        };
        layers.push(layer);
    }
    Network {
        input,
        layers,
        classes,
    }
}

fn run(data: &[u8]) -> String {
    let network = network_from(data);
    let printed = network.to_string();
    match text::parse_network(&printed) {
        Ok(again) => assert_eq!(again, network, "{printed} parses to another network"),
        Err(error) => panic!("the text form {printed} of a network does not parse: {error}"),
    }
    exercise(&network)
}

/// What the macro's lowering and the lint do with a network, with the invariants that tie
/// them together; returns the outcome class.
pub fn exercise(network: &Network) -> String {
    let analysis = network.analyze();
    let encoding = ulc::encode(network);
    let lints = lint::check(network);
    let filter = compute_filter(network);
    for layer in &network.layers {
        text::layer_text(layer);
    }
    match (&analysis, &encoding, &lints) {
        (Ok(analysis), Ok(encoding), Ok(diagnostics)) => {
            assert_eq!(analysis.layers.len(), network.layers.len());
            assert_eq!(encoding.codes.len(), network.layers.len());
            if let Err(error) = ulc::validate(&encoding.codes) {
                panic!("ulc::encode produced a code ulc::validate refuses for {network}: {error}");
            }
            for clamp in &encoding.clamps {
                assert!(
                    clamp.layer < network.layers.len(),
                    "clamp of layer {} in {network}",
                    clamp.layer
                );
                assert!(
                    clamp.actual.is_finite() && clamp.coded.is_finite(),
                    "non-finite clamp {clamp:?}"
                );
                clamp.to_string();
            }
            for diagnostic in diagnostics {
                if let Some(layer) = diagnostic.layer {
                    assert!(
                        layer < network.layers.len(),
                        "{diagnostic} names layer {layer} of {network}"
                    );
                }
            }
            let layer_params: u64 = analysis.layers.iter().map(|l| l.params).sum();
            assert!(
                layer_params <= analysis.params,
                "layer parameters exceed the total for {network}"
            );
            format!(
                "ok filter={} clamps={}",
                filter.is_some(),
                encoding.clamps.len().min(3)
            )
        }
        (Err(a), Err(b), Err(c)) => {
            assert_eq!(
                a, b,
                "analyze and encode report different errors for {network}"
            );
            assert_eq!(
                a, c,
                "analyze and lint report different errors for {network}"
            );
            if let Some(layer) = a.layer() {
                assert!(
                    layer < network.layers.len(),
                    "{a} names layer {layer} of {network}"
                );
            }
            assert!(
                filter.is_some(),
                "the compute filter accepts the invalid {network}"
            );
            format!(
                "err {}",
                super::class(&format!("{a:?}"))
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
            )
        }
        _ => panic!(
            "analyze ({}), encode ({}) and lint ({}) disagree on whether {network} is valid",
            analysis.is_ok(),
            encoding.is_ok(),
            lints.is_ok()
        ),
    }
}

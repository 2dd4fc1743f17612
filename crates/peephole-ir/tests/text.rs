//! The text form: printing and parsing are inverse, errors point at the offending character
//! (1-based, counted in characters, not bytes), and no input makes the parser panic.

mod common;

use common::{any_network, conv};
use peephole_ir::text::{self, TextError};
use peephole_ir::{Kernel, Layer, Network, Padding, Shape};
use peephole_zoo::generator::{self, Block, BlockLayer, ChannelRatio, Skeleton};
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn column_of_network_error(source: &str) -> usize {
    match text::parse_network(source) {
        Ok(network) => panic!("{source:?} parsed as {network}"),
        Err(error) => error.column,
    }
}

fn column_of_block_error(source: &str) -> usize {
    match generator::parse_block(source) {
        Ok(block) => panic!("{source:?} parsed as {block}"),
        Err(error) => error.column,
    }
}

#[test]
fn a_network_prints_in_the_documented_form() {
    let network = Network {
        input: Shape::new(1, 28, 28),
        layers: vec![
            conv(3, 3, 16, 1, Padding::Same),
            Layer::BatchNorm,
            Layer::Relu,
            Layer::MaxPool {
                kernel: Kernel::square(2),
                stride: 2,
                padding: Padding::Valid,
            },
            conv(5, 3, 24, 2, Padding::Same),
            Layer::AvgPool {
                kernel: Kernel::square(3),
                stride: 1,
                padding: Padding::Valid,
            },
            Layer::Sigmoid,
            Layer::Tanh,
        ],
        classes: 10,
    };
    let printed = network.to_string();
    assert_eq!(
        printed,
        "[1x28x28] conv3x3:16 bn relu maxpool2x2/2 conv5x3:24/2@same avgpool3x3@valid sigmoid tanh -> 10"
    );
    assert_eq!(text::parse_network(&printed), Ok(network));
    let empty = Network {
        input: Shape::new(3, 32, 32),
        layers: vec![],
        classes: 100,
    };
    assert_eq!(empty.to_string(), "[3x32x32] -> 100");
    assert_eq!(text::parse_network("[3x32x32] -> 100"), Ok(empty));
}

#[test]
fn square_shorthand_and_stride_default_padding_parse_as_documented() {
    let parsed =
        text::parse_network("[3x32x32] conv3:8/2 maxpool2/2@same avgpool3@valid conv1:4 -> 5")
            .unwrap();
    assert_eq!(
        parsed.layers,
        vec![
            // Stride 2 defaults to valid, stride 1 to same.
            conv(3, 3, 8, 2, Padding::Valid),
            Layer::MaxPool {
                kernel: Kernel::square(2),
                stride: 2,
                padding: Padding::Same,
            },
            Layer::AvgPool {
                kernel: Kernel::square(3),
                stride: 1,
                padding: Padding::Valid,
            },
            conv(1, 1, 4, 1, Padding::Same),
        ]
    );
    assert_eq!(parsed.input, Shape::new(3, 32, 32));
    assert_eq!(parsed.classes, 5);
}

#[test]
fn a_block_prints_with_ratios_and_parses_back() {
    let ratio = |q| ChannelRatio::from_quarters(q).unwrap();
    let block = Block {
        layers: vec![
            BlockLayer::Conv {
                kernel: 3,
                ratio: ratio(6),
            },
            BlockLayer::BatchNorm,
            BlockLayer::Relu,
            BlockLayer::MaxPool { kernel: 3 },
            BlockLayer::Conv {
                kernel: 1,
                ratio: ratio(1),
            },
            BlockLayer::AvgPool { kernel: 5 },
            BlockLayer::Conv {
                kernel: 5,
                ratio: ratio(4),
            },
            BlockLayer::Sigmoid,
            BlockLayer::Tanh,
        ],
    };
    let printed = block.to_string();
    assert_eq!(
        printed,
        "conv3x3*1.5 bn relu maxpool3x3 conv1x1*0.25 avgpool5x5 conv5x5*1 sigmoid tanh"
    );
    assert_eq!(generator::parse_block(&printed), Ok(block));
}

#[test]
fn network_errors_point_at_the_offending_character() {
    // (input, 1-based column of the offending character)
    let cases: &[(&str, usize)] = &[
        ("", 1),
        ("   ", 1),
        ("1x28x28] relu -> 10", 1),                  // no `[`
        ("[1x28y28] -> 10", 6),                      // `y` instead of `x`
        ("[1x28x28 relu -> 10", 9),                  // `]` missing at the end of the word
        ("[1x28x28] relu foo -> 10", 16),            // unknown layer word
        ("[1x28x28] conv3x3 -> 10", 18),             // `:` missing right after the kernel
        ("[1x28x28] conv3x3:abc -> 10", 19),         // channels are not a number
        ("[1x28x28] conv3xq:16 -> 10", 17),          // kernel height is not a number
        ("[1x28x28] maxpool2/2@foo -> 10", 22),      // after `@`
        ("[1x28x28] maxpool2/x -> 10", 20),          // stride is not a number
        ("[1x28x28] conv3x3:16% -> 10", 21),         // trailing junk in a word
        ("[1x28x28] relu", 15),                      // no `->`: one past the end
        ("[1x28x28] relu ->", 18),                   // nothing after `->`: one past it
        ("[1x28x28] relu -> 10 extra", 22),          // a word after the head
        ("[1x28x28] relu -> 1a", 20),                // junk after the class count
        ("[1x28x28] conv3x3:99999999999 -> 10", 19), // too large for u32
        ("[1x28x28] conv3*1.5 -> 10", 16),           // a ratio in a network
        // Columns count characters: a 3-byte ideographic space and a 2-byte `é` before the
        // error would shift a byte count by 2 and 1.
        ("[1x28x28]\u{3000}conv3x3:é -> 10", 19),
        ("[1×28x28] -> 10", 3),
        ("[1x28x28] rélu -> 10", 11),
        (
            "[1x28x28] relu\t\tconv3x3:16/2@same bn sigmoid tanh avgpool3 conv1x1:8@ -> 10",
            70,
        ),
    ];
    for &(source, column) in cases {
        assert_eq!(column_of_network_error(source), column, "{source:?}");
    }
}

#[test]
fn block_errors_point_at_the_offending_character() {
    let cases: &[(&str, usize)] = &[
        ("", 1),
        ("conv3x3*0.3", 9),   // not one of the eight ratios: at the ratio
        ("conv3*1.2.3", 7),   // not a number: at the ratio
        ("conv3*", 7),        // nothing after `*`
        ("conv3x3:16", 8),    // channels instead of a ratio
        ("conv3x5*1", 1),     // a block conv is square: the word
        ("conv3*1@valid", 1), // ... with same padding
        ("conv3x3*1.5 maxpool3/2", 13), // a block pool has stride 1: the word
        ("conv3*1 maxpool2x3", 9),
        ("conv3*1 avgpool3@valid", 9),
        ("conv3x3*1 relu  conv3x3/2*1", 24), // `*` expected where `/` is
        ("conv3*1 rélu", 9),
        ("conv3*1\u{3000}bn\u{3000}x", 12),
    ];
    for &(source, column) in cases {
        assert_eq!(column_of_block_error(source), column, "{source:?}");
    }
}

#[test]
fn an_error_renders_a_caret_under_its_column() {
    let source = "[1x28x28] relu foo -> 10";
    let error = text::parse_network(source).unwrap_err();
    let rendered = error.render(source);
    let caret_line = rendered.lines().nth(1).unwrap();
    assert_eq!(caret_line.find('^'), Some(15), "{rendered}");
    assert_eq!(
        TextError {
            column: 1,
            message: "m".into()
        }
        .render("x"),
        "x\n^ m"
    );
}

/// Any block layer, with any kernel and any of the eight ratios.
fn any_block() -> impl Strategy<Value = Block> {
    let ratio = proptest::sample::select(vec![1u32, 2, 3, 4, 6, 8, 10, 12])
        .prop_map(|q| ChannelRatio::from_quarters(q).unwrap());
    let kernel = prop_oneof![4 => 0u32..=9, 1 => any::<u32>()];
    let layer = prop_oneof![
        (kernel.clone(), ratio).prop_map(|(kernel, ratio)| BlockLayer::Conv { kernel, ratio }),
        kernel
            .clone()
            .prop_map(|kernel| BlockLayer::MaxPool { kernel }),
        kernel.prop_map(|kernel| BlockLayer::AvgPool { kernel }),
        Just(BlockLayer::Relu),
        Just(BlockLayer::Sigmoid),
        Just(BlockLayer::Tanh),
        Just(BlockLayer::BatchNorm),
    ];
    proptest::collection::vec(layer, 1..12).prop_map(|layers| Block { layers })
}

/// Text made of the grammar's own pieces, so random input gets deep into the parser.
fn near_text() -> impl Strategy<Value = String> {
    let pieces = proptest::sample::select(vec![
        "[",
        "]",
        "x",
        "1",
        "28",
        "0",
        "conv",
        "maxpool",
        "avgpool",
        "relu",
        "sigmoid",
        "tanh",
        "bn",
        ":",
        "*",
        "/",
        "@",
        "same",
        "valid",
        "->",
        " ",
        "\t",
        "1.5",
        "0.25",
        ".",
        "é",
        "\u{3000}",
        "99999999999",
        "[1x28x28] ",
        " -> 10",
    ]);
    proptest::collection::vec(pieces, 0..24).prop_map(|p| p.concat())
}

fn any_unicode() -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<char>(), 0..48).prop_map(|c| c.into_iter().collect())
}

fn check_no_panic(source: &str) -> Result<(), TestCaseError> {
    let width = source.chars().count();
    match text::parse_network(source) {
        Ok(network) => {
            prop_assert_eq!(text::parse_network(&network.to_string()), Ok(network))
        }
        Err(error) => prop_assert!(
            (1..=width + 1).contains(&error.column),
            "column {} outside 1..={} for {:?}",
            error.column,
            width + 1,
            source
        ),
    }
    match generator::parse_block(source) {
        Ok(block) => prop_assert_eq!(generator::parse_block(&block.to_string()), Ok(block)),
        Err(error) => prop_assert!((1..=width + 1).contains(&error.column)),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn every_generated_network_and_its_block_parse_back_from_their_text(
        seed in any::<u64>(),
        index in any::<u64>(),
    ) {
        let generated = generator::network_at(Skeleton::FmnistV1, seed, index);
        let printed = generated.network.to_string();
        prop_assert_eq!(text::parse_network(&printed), Ok(generated.network.clone()));
        prop_assert_eq!(printed.parse::<Network>(), Ok(generated.network));
        prop_assert_eq!(generator::parse_block(&generated.block.to_string()), Ok(generated.block.clone()));
        prop_assert_eq!(generated.block.to_string().parse::<Block>(), Ok(generated.block));
    }

    #[test]
    fn every_sampled_block_parses_back_from_its_text(seed in any::<u64>()) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for _ in 0..16 {
            let block = generator::sample_block(&mut rng);
            prop_assert_eq!(generator::parse_block(&block.to_string()), Ok(block));
        }
    }

    #[test]
    fn hand_built_networks_with_any_kernels_strides_and_padding_parse_back(
        network in any_network()
    ) {
        prop_assert_eq!(text::parse_network(&network.to_string()), Ok(network));
    }

    #[test]
    fn hand_built_blocks_with_any_kernels_parse_back(block in any_block()) {
        prop_assert_eq!(generator::parse_block(&block.to_string()), Ok(block));
    }

    #[test]
    fn no_unicode_string_makes_the_parsers_panic_and_errors_stay_on_the_line(
        source in any_unicode()
    ) {
        check_no_panic(&source)?;
    }

    #[test]
    fn no_string_of_grammar_pieces_makes_the_parsers_panic(source in near_text()) {
        check_no_panic(&source)?;
    }
}

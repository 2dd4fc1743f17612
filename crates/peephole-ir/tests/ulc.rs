//! ULC v1 against `shared/spec/ulc.md`, to the letter. The spec's table and binning rule are
//! written out again here (not read from the crate's consts) so that a wrong const fails.

mod common;

use common::{conv, valid_network};
use peephole_ir::ulc::{
    self, CHANNEL_VOCAB, ChannelRatioBin, Clamp, KERNEL_VOCAB, TYPE_VOCAB, UlcCode, UlcDecodeError,
    UlcField,
};
use peephole_ir::{Kernel, Layer, LayerKind, Network, Padding, Shape, ShapeError};
use peephole_zoo::generator::{self, Skeleton};
use proptest::prelude::*;

/// The spec's table: (kind, TY, KW/KH range). CH is 4 for every non-conv.
const SPEC_TABLE: [(LayerKind, u8, (u8, u8)); 7] = [
    (LayerKind::Conv, 1, (1, 5)),
    (LayerKind::MaxPool, 2, (2, 5)),
    (LayerKind::AvgPool, 3, (2, 5)),
    (LayerKind::Relu, 4, (1, 1)),
    (LayerKind::Sigmoid, 5, (1, 1)),
    (LayerKind::Tanh, 6, (1, 1)),
    (LayerKind::BatchNorm, 7, (1, 1)),
];

/// The spec's bin centres, index 1..=8.
const SPEC_CENTRES: [f64; 8] = [0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0];

/// Whether the spec allows this code (index 0 is padding, never a layer).
fn spec_accepts(code: [u8; 4]) -> bool {
    let [ty, kw, kh, ch] = code;
    match SPEC_TABLE.iter().find(|(_, t, _)| *t == ty) {
        None => false,
        Some((kind, _, (low, high))) => {
            let kernel_ok = (*low..=*high).contains(&kw) && (*low..=*high).contains(&kh);
            let ch_ok = if *kind == LayerKind::Conv {
                (1..=8).contains(&ch)
            } else {
                ch == 4
            };
            kernel_ok && ch_ok
        }
    }
}

/// Nearest centre by linear distance after clamping, ties to the lower index, in floating
/// point (exact for the small integer widths the tests use: a non-tie is at least 1/(8*in)
/// away from a tie, far above rounding error).
fn spec_bin(in_channels: u32, out_channels: u32) -> (u8, bool) {
    let ratio = f64::from(out_channels) / f64::from(in_channels);
    let clamped = !(0.25..=3.0).contains(&ratio);
    let r = ratio.clamp(0.25, 3.0);
    let mut best = 0;
    for (i, c) in SPEC_CENTRES.iter().enumerate() {
        if (r - c).abs() < (r - SPEC_CENTRES[best]).abs() {
            best = i;
        }
    }
    (best as u8 + 1, clamped)
}

fn net(input: Shape, layers: Vec<Layer>) -> Network {
    Network {
        input,
        layers,
        classes: 10,
    }
}

fn window(kind: LayerKind, width: u32, height: u32) -> Layer {
    let kernel = Kernel { width, height };
    match kind {
        LayerKind::Conv => Layer::Conv {
            kernel,
            out_channels: 4,
            stride: 1,
            padding: Padding::Same,
        },
        LayerKind::MaxPool => Layer::MaxPool {
            kernel,
            stride: 1,
            padding: Padding::Same,
        },
        LayerKind::AvgPool => Layer::AvgPool {
            kernel,
            stride: 1,
            padding: Padding::Same,
        },
        LayerKind::Relu => Layer::Relu,
        LayerKind::Sigmoid => Layer::Sigmoid,
        LayerKind::Tanh => Layer::Tanh,
        LayerKind::BatchNorm => Layer::BatchNorm,
    }
}

fn code(fields: [u8; 4]) -> UlcCode {
    UlcCode {
        ty: fields[0],
        kw: fields[1],
        kh: fields[2],
        ch: fields[3],
    }
}

#[test]
fn every_layer_kind_codes_as_the_spec_table_says_for_every_in_range_kernel() {
    for (kind, ty, (low, high)) in SPEC_TABLE {
        assert_eq!(ulc::type_code(kind), ty, "{kind:?}");
        assert_eq!(ulc::kind_of_type_code(ty), Some(kind), "TY {ty}");
        for width in u32::from(low)..=u32::from(high) {
            for height in u32::from(low)..=u32::from(high) {
                // Input width 4 and conv output 4: ratio 1.0, so the conv's CH is 4 as well.
                let network = net(Shape::new(4, 8, 8), vec![window(kind, width, height)]);
                let encoding = ulc::encode(&network).unwrap();
                assert_eq!(
                    encoding.codes,
                    vec![code([ty, width as u8, height as u8, 4])],
                    "{kind:?} {width}x{height}"
                );
                assert!(encoding.clamps.is_empty(), "{kind:?} {width}x{height}");
            }
        }
    }
}

#[test]
fn type_codes_zero_and_above_seven_are_no_layer() {
    assert_eq!(ulc::kind_of_type_code(0), None);
    for ty in 8..=u8::MAX {
        assert_eq!(ulc::kind_of_type_code(ty), None, "TY {ty}");
    }
}

#[test]
fn vocabularies_hold_the_padding_index_and_every_table_value() {
    // TY 0..=7, KW/KH 0..=5, CH 0..=8.
    assert_eq!(TYPE_VOCAB, 8);
    assert_eq!(KERNEL_VOCAB, 6);
    assert_eq!(CHANNEL_VOCAB, 9);
}

#[test]
fn non_conv_layers_code_ch_4_even_after_a_conv_changed_the_width() {
    let network = net(
        Shape::new(8, 6, 6),
        vec![
            conv(3, 3, 24, 1, Padding::Same),
            Layer::BatchNorm,
            Layer::Relu,
            Layer::MaxPool {
                kernel: Kernel::square(3),
                stride: 1,
                padding: Padding::Same,
            },
            Layer::AvgPool {
                kernel: Kernel::square(2),
                stride: 1,
                padding: Padding::Same,
            },
            Layer::Sigmoid,
            Layer::Tanh,
        ],
    );
    let encoding = ulc::encode(&network).unwrap();
    let expected: Vec<UlcCode> = [
        [1, 3, 3, 8], // 24 / 8 = 3.0
        [7, 1, 1, 4],
        [4, 1, 1, 4],
        [2, 3, 3, 4],
        [3, 2, 2, 4],
        [5, 1, 1, 4],
        [6, 1, 1, 4],
    ]
    .into_iter()
    .map(code)
    .collect();
    assert_eq!(encoding.codes, expected);
    assert!(encoding.clamps.is_empty());
}

#[test]
fn asymmetric_kernels_code_width_as_kw_and_height_as_kh() {
    let network = net(
        Shape::new(4, 8, 8),
        vec![
            conv(2, 5, 4, 1, Padding::Same),
            Layer::MaxPool {
                kernel: Kernel {
                    width: 5,
                    height: 3,
                },
                stride: 1,
                padding: Padding::Same,
            },
        ],
    );
    let codes = ulc::encode(&network).unwrap().codes;
    assert_eq!(codes, vec![code([1, 2, 5, 4]), code([2, 5, 3, 4])]);
}

/// (in, out, bin, clamped), worked out by hand from the spec: centres 0.25, 0.5, 0.75, 1.0,
/// 1.5, 2.0, 2.5, 3.0; clamp to [0.25, 3.0]; nearest; ties to the lower index.
const RATIO_CASES: &[(u32, u32, u8, bool)] = &[
    // Exactly on a centre.
    (4, 1, 1, false),
    (4, 2, 2, false),
    (4, 3, 3, false),
    (4, 4, 4, false),
    (4, 6, 5, false),
    (4, 8, 6, false),
    (4, 10, 7, false),
    (4, 12, 8, false),
    (16, 4, 1, false),
    (1, 3, 8, false),
    // Exact ties between two centres go to the lower index.
    (8, 3, 1, false),   // 0.375: between 0.25 and 0.5
    (8, 5, 2, false),   // 0.625: between 0.5 and 0.75
    (8, 7, 3, false),   // 0.875: between 0.75 and 1.0
    (4, 5, 4, false),   // 1.25: between 1.0 and 1.5
    (4, 7, 5, false),   // 1.75: between 1.5 and 2.0
    (4, 9, 6, false),   // 2.25: between 2.0 and 2.5
    (4, 11, 7, false),  // 2.75: between 2.5 and 3.0
    (16, 6, 1, false),  // 0.375 again, other widths
    (24, 30, 4, false), // 1.25 again
    // Just off a tie goes to the nearer centre.
    (1000, 374, 1, false),
    (1000, 376, 2, false),
    (1000, 1249, 4, false),
    (1000, 1251, 5, false),
    (1000, 1749, 5, false),
    (1000, 1751, 6, false),
    (1000, 2249, 6, false),
    (1000, 2251, 7, false),
    (1000, 2749, 7, false),
    (1000, 2751, 8, false),
    // Outside [0.25, 3.0]: clamped to the end bins, and reported.
    (5, 1, 1, true),   // 0.2
    (256, 1, 1, true), // 1/256
    (1000, 249, 1, true),
    (1000, 3001, 8, true),
    (4, 13, 8, true), // 3.25
    (1, 16, 8, true), // 16: the fmnist-v1 stem
    (1, 256, 8, true),
];

#[test]
fn channel_ratio_bins_match_hand_worked_cases_including_ties_and_clamps() {
    for &(input, output, bin, clamped) in RATIO_CASES {
        let (got, got_clamped) = ChannelRatioBin::of_channels(input, output);
        assert_eq!(
            (got.index(), got_clamped),
            (bin, clamped),
            "{output}/{input}"
        );
        // The test's own float oracle agrees with the hand-worked table.
        assert_eq!(
            spec_bin(input, output),
            (bin, clamped),
            "oracle {output}/{input}"
        );
    }
}

#[test]
fn encode_reports_every_clamped_ratio_with_layer_actual_and_coded_value() {
    for &(input, output, bin, clamped) in RATIO_CASES {
        let network = net(
            Shape::new(input, 4, 4),
            vec![Layer::Relu, conv(1, 1, output, 1, Padding::Same)],
        );
        let encoding = ulc::encode(&network).unwrap();
        assert_eq!(encoding.codes[1], code([1, 1, 1, bin]), "{output}/{input}");
        let expected: Vec<Clamp> = if clamped {
            vec![Clamp {
                layer: 1,
                field: UlcField::ChannelRatio,
                actual: f64::from(output) / f64::from(input),
                coded: SPEC_CENTRES[usize::from(bin) - 1],
            }]
        } else {
            vec![]
        };
        assert_eq!(encoding.clamps, expected, "{output}/{input}");
    }
}

#[test]
fn bin_centres_and_indices_are_the_spec_values() {
    for (i, &centre) in SPEC_CENTRES.iter().enumerate() {
        let bin = ChannelRatioBin::from_index(i as u8 + 1).unwrap();
        assert_eq!(bin.index(), i as u8 + 1);
        assert_eq!(bin.centre(), centre);
    }
    assert_eq!(ChannelRatioBin::from_index(0), None);
    assert_eq!(ChannelRatioBin::from_index(9), None);
    assert_eq!(ChannelRatioBin::IDENTITY.index(), 4);
    assert_eq!(ChannelRatioBin::IDENTITY.centre(), 1.0);
}

#[test]
fn a_7x7_conv_codes_as_5x5_reports_both_clamps_and_the_network_keeps_7x7() {
    // Valid padding on a 9x9 input: a real 7x7 kernel leaves 3x3, a 5x5 one would leave 5x5.
    let network = net(Shape::new(4, 9, 9), vec![conv(7, 7, 4, 1, Padding::Valid)]);
    let before = network.clone();
    let encoding = ulc::encode(&network).unwrap();
    assert_eq!(encoding.codes, vec![code([1, 5, 5, 4])]);
    let clamp = |field| Clamp {
        layer: 0,
        field,
        actual: 7.0,
        coded: 5.0,
    };
    assert_eq!(
        encoding.clamps,
        vec![clamp(UlcField::KernelWidth), clamp(UlcField::KernelHeight)]
    );
    assert_eq!(network, before);
    let analysis = network.analyze().unwrap();
    assert_eq!(analysis.layers[0].output, Shape::new(4, 3, 3));
    let message = encoding.clamps[0].to_string();
    assert!(
        message.contains("layer 0") && message.contains("kernel width 7") && message.contains('5'),
        "{message}"
    );
}

#[test]
fn a_1x1_pool_codes_as_2x2_and_a_6x6_pool_as_5x5_each_clamp_reported() {
    let pool = |kind, size| window(kind, size, size);
    let network = net(
        Shape::new(4, 8, 8),
        vec![
            pool(LayerKind::MaxPool, 1),
            Layer::Relu,
            pool(LayerKind::AvgPool, 6),
            window(LayerKind::MaxPool, 3, 9),
        ],
    );
    let encoding = ulc::encode(&network).unwrap();
    assert_eq!(
        encoding.codes,
        vec![
            code([2, 2, 2, 4]),
            code([4, 1, 1, 4]),
            code([3, 5, 5, 4]),
            code([2, 3, 5, 4]),
        ]
    );
    let clamp = |layer, field, actual, coded| Clamp {
        layer,
        field,
        actual,
        coded,
    };
    assert_eq!(
        encoding.clamps,
        vec![
            clamp(0, UlcField::KernelWidth, 1.0, 2.0),
            clamp(0, UlcField::KernelHeight, 1.0, 2.0),
            clamp(2, UlcField::KernelWidth, 6.0, 5.0),
            clamp(2, UlcField::KernelHeight, 6.0, 5.0),
            clamp(3, UlcField::KernelHeight, 9.0, 5.0),
        ]
    );
}

#[test]
fn a_conv_clamped_in_kernel_height_and_ratio_reports_both_clamps_in_field_order() {
    let network = net(Shape::new(2, 8, 8), vec![conv(1, 8, 16, 1, Padding::Same)]);
    let encoding = ulc::encode(&network).unwrap();
    assert_eq!(encoding.codes, vec![code([1, 1, 5, 8])]);
    let fields: Vec<_> = encoding.clamps.iter().map(|c| (c.layer, c.field)).collect();
    assert_eq!(
        fields,
        vec![(0, UlcField::KernelHeight), (0, UlcField::ChannelRatio)]
    );
    assert_eq!(encoding.clamps[1].actual, 8.0);
    assert_eq!(encoding.clamps[1].coded, 3.0);
}

#[test]
fn encode_refuses_a_network_that_fails_shape_inference() {
    let network = net(
        Shape::new(4, 8, 8),
        vec![Layer::Relu, conv(3, 3, 0, 1, Padding::Same)],
    );
    assert_eq!(
        ulc::encode(&network),
        Err(ShapeError::ZeroChannels { layer: 1 })
    );
}

#[test]
fn generated_networks_encode_every_layer_including_stem_and_adaptation_and_report_the_stem_ratio() {
    for index in 0..60 {
        let generated = generator::network_at(Skeleton::FmnistV1, 11, index);
        let encoding = ulc::encode(&generated.network).unwrap();
        assert_eq!(encoding.codes.len(), generated.network.layers.len());
        ulc::validate(&encoding.codes).unwrap();
        // Stem conv 3x3 1->16: ratio 16 is clamped to bin 8 and reported as such.
        assert_eq!(encoding.codes[0], code([1, 3, 3, 8]));
        assert_eq!(
            encoding.codes[1..4],
            [code([7, 1, 1, 4]), code([4, 1, 1, 4]), code([2, 2, 2, 4]),]
        );
        assert_eq!(
            encoding.clamps[0],
            Clamp {
                layer: 0,
                field: UlcField::ChannelRatio,
                actual: 16.0,
                coded: 3.0,
            }
        );
        // Every generated kernel is in range, so any clamp is a ratio clamp (the stem's, a
        // rounded block width such as 5 * 0.25 -> 1, or an adaptation conv back to a stage
        // width).
        assert!(
            encoding
                .clamps
                .iter()
                .all(|c| c.field == UlcField::ChannelRatio),
            "{}",
            generated.network
        );
    }
}

#[test]
fn validate_accepts_exactly_the_codes_the_spec_table_allows() {
    // Every combination around the table's edges, plus the far end of u8.
    let values = |top: u8| (0..=top).chain([u8::MAX - 1, u8::MAX]);
    let mut accepted = 0;
    for ty in values(9) {
        for kw in values(7) {
            for kh in values(7) {
                for ch in values(10) {
                    let fields = [ty, kw, kh, ch];
                    let spec = spec_accepts(fields);
                    let got = ulc::validate(&[code(fields)]);
                    assert_eq!(got.is_ok(), spec, "{fields:?}: {got:?}");
                    if let Ok(kinds) = got {
                        accepted += 1;
                        assert_eq!(kinds, vec![ulc::kind_of_type_code(ty).unwrap()]);
                    }
                    assert_eq!(ulc::decode_flat(&fields).is_ok(), spec, "{fields:?}");
                }
            }
        }
    }
    // 25*8 conv + 2*16 pool + 4 point-wise codes.
    assert_eq!(accepted, 200 + 32 + 4);
}

#[test]
fn decode_flat_rejects_a_length_that_is_not_a_multiple_of_four() {
    for len in [1usize, 2, 3, 5, 6, 7, 9, 4001] {
        let values = vec![4u8; len];
        assert_eq!(
            ulc::decode_flat(&values),
            Err(UlcDecodeError::Ragged { len }),
            "len {len}"
        );
    }
    assert_eq!(ulc::decode_flat(&[]), Ok(vec![]));
}

#[test]
fn decode_flat_names_the_position_field_and_value_of_the_first_bad_code() {
    // (flat values, position, field, value)
    let cases: &[(&[u8], usize, &str, u8)] = &[
        (&[0, 1, 1, 4], 0, "TY", 0), // padding is no layer
        (&[8, 1, 1, 4], 0, "TY", 8),
        (&[1, 3, 3, 4, 4, 1, 1, 4, 2, 1, 2, 4], 2, "KW", 1), // a 1-wide pool
        (&[1, 3, 3, 4, 1, 3, 6, 4], 1, "KH", 6),
        (&[1, 0, 3, 4], 0, "KW", 0),
        (&[1, 3, 3, 0], 0, "CH", 0),
        (&[1, 3, 3, 9], 0, "CH", 9),
        (&[4, 1, 1, 4, 3, 2, 2, 5], 1, "CH", 5), // a pool keeps its channels
        (
            &[4, 1, 1, 4, 4, 1, 1, 4, 4, 1, 1, 4, 5, 2, 1, 4],
            3,
            "KW",
            2,
        ),
        (&[7, 1, 1, 1, 1, 1, 1, 1], 0, "CH", 1),
        (&[6, 1, 255, 4], 0, "KH", 255),
    ];
    for &(values, position, field, value) in cases {
        match ulc::decode_flat(values) {
            Err(UlcDecodeError::BadField {
                position: p,
                field: f,
                value: v,
                ..
            }) => assert_eq!((p, f, v), (position, field, value), "{values:?}"),
            other => panic!("{values:?}: expected BadField, got {other:?}"),
        }
    }
}

fn field_is_bad(fields: [u8; 4], field: &str) -> bool {
    let [ty, kw, kh, ch] = fields;
    let Some((kind, _, (low, high))) = SPEC_TABLE.iter().find(|(_, t, _)| *t == ty) else {
        return field == "TY";
    };
    match field {
        "KW" => !(*low..=*high).contains(&kw),
        "KH" => !(*low..=*high).contains(&kh),
        "CH" if *kind == LayerKind::Conv => !(1..=8).contains(&ch),
        "CH" => ch != 4,
        _ => false,
    }
}

proptest! {
    #[test]
    fn encoding_valid_networks_gives_one_valid_code_per_layer_as_the_spec_computes_it(
        network in valid_network()
    ) {
        let encoding = ulc::encode(&network).unwrap();
        prop_assert_eq!(encoding.codes.len(), network.layers.len());
        let kinds: Vec<LayerKind> = network.layers.iter().map(Layer::kind).collect();
        prop_assert_eq!(ulc::validate(&encoding.codes), Ok(kinds));
        // Deterministic.
        prop_assert_eq!(&ulc::encode(&network).unwrap(), &encoding);
        // Flattened and decoded again, the same codes.
        let flat: Vec<u8> = encoding.codes.iter().flat_map(|c| c.fields()).collect();
        prop_assert_eq!(ulc::decode_flat(&flat), Ok(encoding.codes.clone()));

        // The spec's own computation, layer by layer, codes and clamps.
        let analysis = network.analyze().unwrap();
        let mut clamps = Vec::new();
        for (index, (layer, shape)) in network.layers.iter().zip(&analysis.layers).enumerate() {
            let (_, ty, (low, high)) =
                *SPEC_TABLE.iter().find(|(k, _, _)| *k == layer.kind()).unwrap();
            let mut kernel = |field, value: u32| {
                let coded = value.clamp(u32::from(low), u32::from(high));
                if coded != value {
                    clamps.push(Clamp { layer: index, field, actual: value.into(), coded: coded.into() });
                }
                coded as u8
            };
            let (kw, kh) = match layer.window() {
                Some((k, _, _)) => (kernel(UlcField::KernelWidth, k.width), kernel(UlcField::KernelHeight, k.height)),
                None => (1, 1),
            };
            let ch = if layer.kind() == LayerKind::Conv {
                let (bin, clamped) = spec_bin(shape.input.channels, shape.output.channels);
                if clamped {
                    clamps.push(Clamp {
                        layer: index,
                        field: UlcField::ChannelRatio,
                        actual: f64::from(shape.output.channels) / f64::from(shape.input.channels),
                        coded: SPEC_CENTRES[usize::from(bin) - 1],
                    });
                }
                bin
            } else {
                4
            };
            prop_assert_eq!(encoding.codes[index], code([ty, kw, kh, ch]), "layer {}", index);
        }
        prop_assert_eq!(encoding.clamps, clamps);
    }

    #[test]
    fn decode_flat_accepts_exactly_spec_codes_and_points_at_the_first_bad_one(
        values in proptest::collection::vec(prop_oneof![9 => 0u8..=9, 1 => any::<u8>()], 0..41)
    ) {
        let result = ulc::decode_flat(&values);
        if values.len() % 4 != 0 {
            prop_assert_eq!(result, Err(UlcDecodeError::Ragged { len: values.len() }));
            return Ok(());
        }
        let codes: Vec<[u8; 4]> = values.chunks_exact(4).map(|c| [c[0], c[1], c[2], c[3]]).collect();
        let first_bad = codes.iter().position(|&c| !spec_accepts(c));
        match (result, first_bad) {
            (Ok(decoded), None) => {
                let expected: Vec<UlcCode> = codes.iter().copied().map(code).collect();
                prop_assert_eq!(decoded, expected);
            }
            (Err(UlcDecodeError::BadField { position, field, value, .. }), Some(bad)) => {
                prop_assert_eq!(position, bad);
                let fields = codes[bad];
                let index = ["TY", "KW", "KH", "CH"].iter().position(|f| *f == field).unwrap();
                prop_assert_eq!(value, fields[index]);
                prop_assert!(field_is_bad(fields, field), "{:?} {}", fields, field);
            }
            (result, bad) => prop_assert!(false, "{:?} vs first bad {:?}", result, bad),
        }
    }
}

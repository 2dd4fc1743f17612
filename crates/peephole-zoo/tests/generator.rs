//! Generator v1 against `shared/spec/generator.md`: the block chain's distribution (a
//! statistical test against the spec's matrix written out here), the block's structural
//! limits, the `fmnist-v1` skeleton, the compute filter and the per-index streams.

mod common;

use std::collections::HashSet;
use std::sync::OnceLock;

use common::assert_frequency;
use peephole_ir::{Kernel, Layer, LayerKind, Network, Padding, Shape};
use peephole_zoo::generator::{
    self, Block, BlockLayer, ChannelRatio, MAX_CHANNELS, MAX_MACS, Skeleton,
};
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

// ---------------------------------------------------------------------------------------
// The spec, written out literally: an oracle independent of the crate's constants.
// ---------------------------------------------------------------------------------------

/// Rows and columns of the spec's table, in its order. `END` is the last column.
const KINDS: [LayerKind; 6] = [
    LayerKind::Conv,
    LayerKind::MaxPool,
    LayerKind::AvgPool,
    LayerKind::Relu,
    LayerKind::Sigmoid,
    LayerKind::Tanh,
];
const END: usize = 6;

/// `shared/spec/generator.md`, step 3. Row = current, column = next (Conv, MaxPool, AvgPool,
/// ReLU, Sigmoid, Tanh, End).
const SPEC_MATRIX: [[f64; 7]; 6] = [
    /* Conv    */ [0.10, 0.05, 0.03, 0.55, 0.07, 0.10, 0.10],
    /* MaxPool */ [0.60, 0.00, 0.00, 0.15, 0.02, 0.03, 0.20],
    /* AvgPool */ [0.60, 0.00, 0.00, 0.15, 0.02, 0.03, 0.20],
    /* ReLU    */ [0.55, 0.12, 0.08, 0.00, 0.00, 0.00, 0.25],
    /* Sigmoid */ [0.55, 0.12, 0.08, 0.00, 0.00, 0.00, 0.25],
    /* Tanh    */ [0.55, 0.12, 0.08, 0.00, 0.00, 0.00, 0.25],
];
const SPEC_BATCH_NORM: f64 = 0.6;
const SPEC_CONV_KERNELS: [u32; 5] = [1, 2, 3, 4, 5];
const SPEC_POOL_KERNELS: [u32; 4] = [2, 3, 4, 5];
const SPEC_RATIOS: [f64; 8] = [0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0];
const SPEC_MAX_LAYERS: usize = 10;
const SPEC_MAX_CONVS: usize = 3;

/// Blocks drawn for the statistical tests.
const BLOCKS: usize = 100_000;
const SEED: u64 = 0x5eed_b10c;

fn row_of(kind: LayerKind) -> usize {
    KINDS.iter().position(|&k| k == kind).unwrap()
}

/// Counts recovered from blocks.
#[derive(Default)]
struct Tally {
    /// Fully observed draws: [row][column].
    draws: [[u64; 7]; 6],
    /// Draws taken with 3 convs already in the block (and fewer than 10 layers): whether the
    /// block ended there, per row.
    third_conv_states: [u64; 6],
    third_conv_ends: [u64; 6],
    /// Convs that had room for a BatchNorm after them, and how many got one.
    bn_eligible: u64,
    bn_inserted: u64,
    first_conv_kernels: [u64; 6],
    first_conv_ratios: [u64; 8],
    conv_kernels: [u64; 6],
    conv_ratios: [u64; 8],
    max_pool_kernels: [u64; 6],
    avg_pool_kernels: [u64; 6],
    blocks_at_max_length: u64,
    blocks_at_max_convs: u64,
}

fn ratio_index(ratio: ChannelRatio) -> usize {
    SPEC_RATIOS
        .iter()
        .position(|&r| r == ratio.value())
        .unwrap_or_else(|| panic!("ratio {} is not in the spec", ratio.value()))
}

/// Replays one block through the chain. The block's layers are the chain's draws with
/// BatchNorms inserted; a draw is fully observed when it was taken with fewer than 3 convs
/// and fewer than 10 layers in the block: then the next non-BatchNorm layer, or the end of
/// the block, is exactly what was drawn. (With 3 convs, a drawn Conv also ends the block, so
/// an End there is ambiguous; at 10 layers nothing is drawn.)
fn replay(block: &Block, tally: &mut Tally) {
    let layers = &block.layers;
    assert!(!layers.is_empty(), "empty block");
    assert!(
        layers.len() <= SPEC_MAX_LAYERS,
        "{} layers: {block}",
        layers.len()
    );
    assert!(block.conv_count() <= SPEC_MAX_CONVS, "{block}");
    let BlockLayer::Conv { .. } = layers[0] else {
        panic!("a block starts with a conv: {block}");
    };
    let mut convs = 0;
    let mut current = LayerKind::Conv;
    let mut i = 0;
    // Consumes the drawn layer at `i` and the BatchNorm the spec may put after a conv.
    let take = |i: &mut usize, convs: &mut usize, tally: &mut Tally, first: bool| match layers[*i] {
        BlockLayer::Conv { kernel, ratio } => {
            *convs += 1;
            let k = usize::try_from(kernel).unwrap();
            assert!(k < 6, "conv kernel {kernel}: {block}");
            if first {
                tally.first_conv_kernels[k] += 1;
                tally.first_conv_ratios[ratio_index(ratio)] += 1;
            }
            tally.conv_kernels[k] += 1;
            tally.conv_ratios[ratio_index(ratio)] += 1;
            *i += 1;
            if *i < SPEC_MAX_LAYERS {
                tally.bn_eligible += 1;
                if layers.get(*i) == Some(&BlockLayer::BatchNorm) {
                    tally.bn_inserted += 1;
                    *i += 1;
                }
            }
        }
        BlockLayer::MaxPool { kernel } => {
            let k = usize::try_from(kernel).unwrap();
            assert!(k < 6, "pool kernel {kernel}: {block}");
            tally.max_pool_kernels[k] += 1;
            *i += 1;
        }
        BlockLayer::AvgPool { kernel } => {
            let k = usize::try_from(kernel).unwrap();
            assert!(k < 6, "pool kernel {kernel}: {block}");
            tally.avg_pool_kernels[k] += 1;
            *i += 1;
        }
        BlockLayer::BatchNorm => panic!("a BatchNorm not right after a conv: {block}"),
        _ => *i += 1,
    };
    take(&mut i, &mut convs, tally, true);
    loop {
        if i >= SPEC_MAX_LAYERS {
            assert_eq!(i, layers.len(), "{block}");
            tally.blocks_at_max_length += 1;
            break;
        }
        let drawn = match layers.get(i) {
            None => END,
            Some(layer) => row_of(layer.kind()),
        };
        let row = row_of(current);
        if convs < SPEC_MAX_CONVS {
            tally.draws[row][drawn] += 1;
        } else {
            assert_ne!(drawn, row_of(LayerKind::Conv), "a 4th conv: {block}");
            tally.third_conv_states[row] += 1;
            if drawn == END {
                tally.third_conv_ends[row] += 1;
            }
        }
        if drawn == END {
            break;
        }
        current = layers[i].kind();
        take(&mut i, &mut convs, tally, false);
    }
    if convs == SPEC_MAX_CONVS {
        tally.blocks_at_max_convs += 1;
    }
}

/// The tally of `BLOCKS` blocks from a fixed seed, computed once for all tests here.
fn tally_of_blocks() -> &'static Tally {
    static TALLY: OnceLock<Tally> = OnceLock::new();
    TALLY.get_or_init(|| {
        let mut rng = ChaCha8Rng::seed_from_u64(SEED);
        let mut tally = Tally::default();
        for _ in 0..BLOCKS {
            replay(&generator::sample_block(&mut rng), &mut tally);
        }
        tally
    })
}

#[test]
fn chain_transitions_match_the_spec_matrix_within_five_sigma_and_zero_cells_are_never_drawn() {
    let tally = tally_of_blocks();
    for (row, kind) in KINDS.iter().enumerate() {
        let n: u64 = tally.draws[row].iter().sum();
        // Enough draws per row for the bound to mean something (the rarest row, Sigmoid,
        // gets about 12,000 with this seed).
        assert!(n >= 10_000, "row {kind:?}: only {n} fully observed draws");
        for column in 0..7 {
            let next = if column == END {
                "End".to_string()
            } else {
                format!("{:?}", KINDS[column])
            };
            assert_frequency(
                &format!("{kind:?} -> {next}"),
                tally.draws[row][column],
                n,
                SPEC_MATRIX[row][column],
            );
        }
    }
}

#[test]
fn a_fourth_conv_ends_the_block_so_with_three_convs_end_has_probability_end_plus_conv() {
    let tally = tally_of_blocks();
    for (row, kind) in KINDS.iter().enumerate() {
        let n = tally.third_conv_states[row];
        assert!(n >= 2_000, "row {kind:?}: only {n} draws with three convs");
        let p = SPEC_MATRIX[row][END] + SPEC_MATRIX[row][0];
        assert_frequency(
            &format!("{kind:?} with 3 convs -> End"),
            tally.third_conv_ends[row],
            n,
            p,
        );
    }
    // Both limits are reached in practice, so the checks above are not vacuous.
    assert!(tally.blocks_at_max_convs > 10_000);
    assert!(tally.blocks_at_max_length > 1_000);
}

#[test]
fn a_batch_norm_follows_a_conv_with_probability_six_tenths() {
    let tally = tally_of_blocks();
    // Convs that were the 10th layer are excluded: no BatchNorm fits after them.
    assert!(tally.bn_eligible > 100_000);
    assert_frequency(
        "BatchNorm after a conv",
        tally.bn_inserted,
        tally.bn_eligible,
        SPEC_BATCH_NORM,
    );
}

#[test]
fn conv_kernels_are_uniform_in_1_to_5_and_ratios_uniform_over_the_eight_values() {
    let tally = tally_of_blocks();
    for (what, kernels, ratios) in [
        (
            "first conv",
            tally.first_conv_kernels,
            tally.first_conv_ratios,
        ),
        ("any conv", tally.conv_kernels, tally.conv_ratios),
    ] {
        let n: u64 = kernels.iter().sum();
        for k in 0..6u32 {
            let p = if SPEC_CONV_KERNELS.contains(&k) {
                1.0 / SPEC_CONV_KERNELS.len() as f64
            } else {
                0.0
            };
            assert_frequency(&format!("{what} kernel {k}"), kernels[k as usize], n, p);
        }
        for (i, ratio) in SPEC_RATIOS.iter().enumerate() {
            assert_frequency(&format!("{what} ratio {ratio}"), ratios[i], n, 1.0 / 8.0);
        }
    }
}

#[test]
fn pool_kernels_are_uniform_in_2_to_5() {
    let tally = tally_of_blocks();
    for (what, kernels) in [
        ("max pool", tally.max_pool_kernels),
        ("avg pool", tally.avg_pool_kernels),
    ] {
        let n: u64 = kernels.iter().sum();
        assert!(n > 5_000, "{what}: {n}");
        for k in 0..6u32 {
            let p = if SPEC_POOL_KERNELS.contains(&k) {
                1.0 / SPEC_POOL_KERNELS.len() as f64
            } else {
                0.0
            };
            assert_frequency(&format!("{what} kernel {k}"), kernels[k as usize], n, p);
        }
    }
}

#[test]
fn the_tally_would_catch_a_wrong_matrix() {
    // The oracle has teeth: the Conv row's ReLU and Tanh swapped would be far outside 5 sigma.
    let tally = tally_of_blocks();
    let row = row_of(LayerKind::Conv);
    let n: u64 = tally.draws[row].iter().sum();
    let count = tally.draws[row][row_of(LayerKind::Tanh)];
    let p = SPEC_MATRIX[row][row_of(LayerKind::Relu)];
    let sigma = (p * (1.0 - p) / n as f64).sqrt();
    assert!((count as f64 / n as f64 - p).abs() > 50.0 * sigma);
}

// ---------------------------------------------------------------------------------------
// Width rule.
// ---------------------------------------------------------------------------------------

fn ratio(value: f64) -> ChannelRatio {
    ChannelRatio::from_quarters((value * 4.0) as u32).unwrap()
}

#[test]
fn conv_width_is_max_1_floor_in_times_ratio_plus_half_for_hand_worked_values() {
    // (in, ratio, out) with the arithmetic in the comment.
    let cases = [
        (16, 0.25, 4),  // 4.0 + 0.5 -> 4
        (16, 1.5, 24),  // 24.5 -> 24
        (3, 0.75, 2),   // 2.25 + 0.5 = 2.75 -> 2
        (2, 0.75, 2),   // 1.5 + 0.5 = 2.0 -> 2 (a half rounds up)
        (1, 0.25, 1),   // 0.25 + 0.5 = 0.75 -> 0 -> max(1, 0) = 1
        (2, 0.25, 1),   // 0.5 + 0.5 = 1.0 -> 1
        (5, 0.25, 1),   // 1.25 + 0.5 = 1.75 -> 1
        (6, 0.25, 2),   // 1.5 + 0.5 = 2.0 -> 2
        (10, 0.25, 3),  // 2.5 + 0.5 = 3.0 -> 3
        (3, 2.5, 8),    // 7.5 + 0.5 = 8.0 -> 8
        (5, 1.5, 8),    // 7.5 + 0.5 -> 8
        (10, 0.75, 8),  // 7.5 + 0.5 -> 8
        (1, 2.5, 3),    // 2.5 + 0.5 -> 3
        (3, 0.5, 2),    // 1.5 + 0.5 -> 2
        (1, 0.5, 1),    // 0.5 + 0.5 -> 1
        (7, 3.0, 21),   // 21.5 -> 21
        (85, 3.0, 255), // 255.5 -> 255
        (13, 1.0, 13),  // 13.5 -> 13
        (9, 2.0, 18),   // 18.5 -> 18
    ];
    for (input, r, output) in cases {
        assert_eq!(ratio(r).apply(input), output, "{input} * {r}");
    }
}

proptest! {
    #[test]
    fn conv_width_rule_holds_for_any_width(input in 1u32..=1_000_000, q in proptest::sample::select(vec![1u32, 2, 3, 4, 6, 8, 10, 12])) {
        // Exact in f64: input * q / 4 has at most 22 significant bits.
        let expected = ((f64::from(input) * f64::from(q) / 4.0 + 0.5).floor() as u32).max(1);
        prop_assert_eq!(ChannelRatio::from_quarters(q).unwrap().apply(input), expected);
    }
}

#[test]
fn only_the_eight_spec_ratios_exist() {
    let valid: Vec<u32> = (0..=16)
        .filter(|&q| ChannelRatio::from_quarters(q).is_some())
        .collect();
    assert_eq!(valid, vec![1, 2, 3, 4, 6, 8, 10, 12]);
    for q in valid {
        assert_eq!(
            ChannelRatio::from_quarters(q).unwrap().value(),
            f64::from(q) / 4.0
        );
    }
}

// ---------------------------------------------------------------------------------------
// Skeleton fmnist-v1.
// ---------------------------------------------------------------------------------------

fn same_conv(k: u32, out_channels: u32) -> Layer {
    Layer::Conv {
        kernel: Kernel::square(k),
        out_channels,
        stride: 1,
        padding: Padding::Same,
    }
}

fn stage_pool() -> Layer {
    Layer::MaxPool {
        kernel: Kernel::square(2),
        stride: 2,
        padding: Padding::Valid,
    }
}

/// Stem: Conv 3x3 1->16, BatchNorm, ReLU, MaxPool 2x2 stride 2.
fn spec_stem() -> Vec<Layer> {
    vec![
        same_conv(3, 16),
        Layer::BatchNorm,
        Layer::Relu,
        stage_pool(),
    ]
}

/// The skeleton as the spec words it, rebuilt independently of `Skeleton::assemble`.
fn spec_assemble(block: &Block) -> Network {
    let mut layers = spec_stem();
    let mut width: u32 = 16;
    for stage_width in [16, 32, 64] {
        for layer in &block.layers {
            layers.push(match *layer {
                BlockLayer::Conv { kernel, ratio } => {
                    width = ((f64::from(width) * ratio.value() + 0.5).floor() as u32).max(1);
                    same_conv(kernel, width)
                }
                BlockLayer::MaxPool { kernel } => Layer::MaxPool {
                    kernel: Kernel::square(kernel),
                    stride: 1,
                    padding: Padding::Same,
                },
                BlockLayer::AvgPool { kernel } => Layer::AvgPool {
                    kernel: Kernel::square(kernel),
                    stride: 1,
                    padding: Padding::Same,
                },
                BlockLayer::Relu => Layer::Relu,
                BlockLayer::Sigmoid => Layer::Sigmoid,
                BlockLayer::Tanh => Layer::Tanh,
                BlockLayer::BatchNorm => Layer::BatchNorm,
            });
        }
        if width != stage_width {
            layers.push(same_conv(1, stage_width));
        }
        layers.push(stage_pool());
        width = stage_width;
    }
    Network {
        input: Shape::new(1, 28, 28),
        layers,
        classes: 10,
    }
}

fn block(source: &str) -> Block {
    generator::parse_block(source).unwrap()
}

#[test]
fn skeleton_constants_are_the_specs() {
    let skeleton = Skeleton::FmnistV1;
    assert_eq!(skeleton.name(), "fmnist-v1");
    assert_eq!(Skeleton::from_name("fmnist-v1"), Some(skeleton));
    assert_eq!(Skeleton::from_name("fmnist-v2"), None);
    assert_eq!(skeleton.input(), Shape::new(1, 28, 28));
    assert_eq!(skeleton.classes(), 10);
    assert_eq!(skeleton.stage_widths(), &[16, 32, 64]);
    assert_eq!(skeleton.stem(), spec_stem());
}

#[test]
fn a_width_keeping_block_gets_adaptation_convs_in_stages_two_and_three_only() {
    // Ratio 1: the block leaves 16, 16, 32 for stages of width 16, 32, 64.
    let network = Skeleton::FmnistV1.assemble(&block("conv3x3*1 relu"));
    let mut expected = spec_stem();
    expected.extend([same_conv(3, 16), Layer::Relu, stage_pool()]);
    expected.extend([
        same_conv(3, 16),
        Layer::Relu,
        same_conv(1, 32),
        stage_pool(),
    ]);
    expected.extend([
        same_conv(3, 32),
        Layer::Relu,
        same_conv(1, 64),
        stage_pool(),
    ]);
    assert_eq!(network.layers, expected);
    assert_eq!(network.input, Shape::new(1, 28, 28));
    assert_eq!(network.classes, 10);
}

#[test]
fn a_width_doubling_block_gets_an_adaptation_conv_in_stage_one_only() {
    // Ratio 2: 16 -> 32 (stage 16: adapt), 16 -> 32 (stage 32), 32 -> 64 (stage 64).
    let network = Skeleton::FmnistV1.assemble(&block("conv5x5*2 bn tanh maxpool3x3"));
    let pool3 = Layer::MaxPool {
        kernel: Kernel::square(3),
        stride: 1,
        padding: Padding::Same,
    };
    let mut expected = spec_stem();
    expected.extend([same_conv(5, 32), Layer::BatchNorm, Layer::Tanh, pool3]);
    expected.extend([same_conv(1, 16), stage_pool()]);
    expected.extend([
        same_conv(5, 32),
        Layer::BatchNorm,
        Layer::Tanh,
        pool3,
        stage_pool(),
    ]);
    expected.extend([
        same_conv(5, 64),
        Layer::BatchNorm,
        Layer::Tanh,
        pool3,
        stage_pool(),
    ]);
    assert_eq!(network.layers, expected);
}

#[test]
fn a_block_that_comes_back_to_its_input_width_needs_no_adaptation_in_stage_one() {
    // 16 * 0.5 = 8, 8 * 2 = 16: equal to stage 1's width, although the block has convs.
    let network = Skeleton::FmnistV1.assemble(&block("conv1x1*0.5 conv1x1*2"));
    assert_eq!(network, spec_assemble(&block("conv1x1*0.5 conv1x1*2")));
    // Stage 1 is the two block convs and the stage pool, nothing in between.
    assert_eq!(
        network.layers[4..7],
        [same_conv(1, 8), same_conv(1, 16), stage_pool()]
    );
    let one_by_one = network.layers[4..]
        .iter()
        .filter(
            |l| matches!(l, Layer::Conv { kernel, .. } if kernel.width == 1 && kernel.height == 1),
        )
        .count();
    // Two block convs per stage, plus adaptations in stages 2 and 3 (16 != 32, 32 != 64).
    assert_eq!(one_by_one, 3 * 2 + 2);
}

#[test]
fn block_instantiation_applies_each_ratio_to_the_running_width() {
    let (layers, width) = block("conv3x3*1.5 bn relu conv1x1*0.25 avgpool2x2").instantiate(16);
    assert_eq!(
        layers,
        vec![
            same_conv(3, 24),
            Layer::BatchNorm,
            Layer::Relu,
            same_conv(1, 6),
            Layer::AvgPool {
                kernel: Kernel::square(2),
                stride: 1,
                padding: Padding::Same,
            },
        ]
    );
    assert_eq!(width, 6);
}

/// Indices of the stage pools (stride-2 max pools) in an assembled network.
fn stage_pools(network: &Network) -> Vec<usize> {
    network
        .layers
        .iter()
        .enumerate()
        .filter(|(_, l)| matches!(l, Layer::MaxPool { stride: 2, .. }))
        .map(|(i, _)| i)
        .collect()
}

#[test]
fn generated_networks_are_the_skeleton_around_their_block_and_pass_the_compute_filter() {
    let mut rejected = 0;
    for seed in [0, 1, 0xdead_beef] {
        for index in 0..150 {
            let generated = generator::network_at(Skeleton::FmnistV1, seed, index);
            let network = &generated.network;
            assert_eq!(*network, spec_assemble(&generated.block), "{network}");
            assert_eq!(*network, Skeleton::FmnistV1.assemble(&generated.block));

            let analysis = network.analyze().unwrap();
            assert_eq!(generated.macs, analysis.macs);
            assert_eq!(generated.params, analysis.params);
            // The compute filter, checked from the shapes, not from max_channels.
            assert!(
                analysis.macs <= 25_000_000,
                "{} MACs: {network}",
                analysis.macs
            );
            let widest = analysis
                .layers
                .iter()
                .map(|l| l.output.channels)
                .max()
                .unwrap();
            assert!(widest <= 256, "{widest} channels: {network}");
            assert_eq!(generator::compute_filter(network), None);

            // Stage pools take 28 -> 14 (stem), then 14 -> 7 -> 3 -> 1.
            let pools = stage_pools(network);
            assert_eq!(pools.len(), 4, "{network}");
            assert_eq!(pools[0], 3);
            let sizes: Vec<(u32, u32)> = pools
                .iter()
                .map(|&i| {
                    (
                        analysis.layers[i].output.height,
                        analysis.layers[i].output.width,
                    )
                })
                .collect();
            assert_eq!(sizes, vec![(14, 14), (7, 7), (3, 3), (1, 1)], "{network}");
            // Every other layer keeps the spatial size (stride 1, same padding).
            for (i, shape) in analysis.layers.iter().enumerate() {
                if !pools.contains(&i) {
                    assert_eq!(
                        (shape.input.height, shape.input.width),
                        (shape.output.height, shape.output.width),
                        "layer {i} of {network}"
                    );
                }
            }
            // The features entering the head are the last stage's width at 1x1.
            assert_eq!(analysis.features, Shape::new(64, 1, 1));
            rejected += generated.rejected;
        }
    }
    // The filter did throw blocks away on the way (so it was exercised).
    assert!(rejected > 0);
}

#[test]
fn compute_filter_allows_exactly_25_million_macs_and_256_channels() {
    // No body layers: the only compute is the head, in * out = 1 * classes MACs.
    let head_only = |classes| Network {
        input: Shape::new(1, 1, 1),
        layers: vec![],
        classes,
    };
    assert_eq!(MAX_MACS, 25_000_000);
    assert_eq!(MAX_CHANNELS, 256);
    assert_eq!(generator::compute_filter(&head_only(25_000_000)), None);
    assert!(generator::compute_filter(&head_only(25_000_001)).is_some());
    // A conv 3x3 on 10x10 from 8 channels: 100 * 8 * C * 9 MACs; C = 256 is 1,843,200.
    let wide = |channels| Network {
        input: Shape::new(8, 10, 10),
        layers: vec![same_conv(3, channels), Layer::Relu],
        classes: 10,
    };
    assert_eq!(generator::compute_filter(&wide(256)), None);
    let refusal = generator::compute_filter(&wide(257)).unwrap();
    assert!(refusal.contains("257"), "{refusal}");
    // A layer wider than 256 anywhere counts, even when a later layer narrows again.
    let mut narrowing = wide(300);
    narrowing.layers.push(same_conv(1, 8));
    assert!(generator::compute_filter(&narrowing).is_some());
    // An invalid network is refused, not passed.
    let mut invalid = wide(8);
    invalid.layers.push(same_conv(0, 8));
    assert!(generator::compute_filter(&invalid).is_some());
}

#[test]
fn an_expensive_block_is_refused_by_the_compute_filter() {
    // Width 16 -> 48 -> 144 in stage 1, 32 -> 96 -> 288 > 256 in stage 2.
    let network = Skeleton::FmnistV1.assemble(&block("conv5x5*3 conv5x5*3"));
    assert!(generator::compute_filter(&network).is_some());
}

#[test]
fn network_at_is_deterministic_per_seed_and_index() {
    for index in [0, 1, 17, u64::MAX] {
        let a = generator::network_at(Skeleton::FmnistV1, 42, index);
        let b = generator::network_at(Skeleton::FmnistV1, 42, index);
        assert_eq!(a, b, "index {index}");
    }
}

#[test]
fn network_at_draws_different_networks_for_different_indices_and_seeds() {
    let texts: HashSet<String> = (0..64)
        .map(|i| {
            generator::network_at(Skeleton::FmnistV1, 42, i)
                .network
                .to_string()
        })
        .collect();
    // A few coincidences are possible (short blocks), a shared stream is not.
    assert!(texts.len() >= 56, "only {} distinct networks", texts.len());
    let differing = (0..32)
        .filter(|&i| {
            generator::network_at(Skeleton::FmnistV1, 1, i).block
                != generator::network_at(Skeleton::FmnistV1, 2, i).block
        })
        .count();
    assert!(
        differing >= 28,
        "seeds 1 and 2 agree on {} of 32",
        32 - differing
    );
}

proptest! {
    #[test]
    fn a_record_id_reads_back_as_the_stream_and_index_that_drew_it(
        v2 in any::<bool>(), seed in 0u64..1_000, index in 0u64..10_000_000,
    ) {
        let family = if v2 { generator::Family::V2 } else { generator::Family::V1 };
        let id = generator::record_id(family, seed, index);
        let drawn: generator::DrawnId = id.parse().map_err(|e: String| TestCaseError::fail(e))?;
        prop_assert_eq!(drawn, generator::DrawnId { family, seed, index });
    }
}

#[test]
fn ids_that_no_generator_writes_are_refused_with_the_reason() {
    for (id, reason) in [
        ("ref-lenet-5", "no generated network's id"),
        ("s1000042", "expected a `-`"),
        ("s1-", "index `` is not a number"),
        ("v2sx-000001", "seed `x` is not a number"),
        ("s1-42", "not written as records write it (`s1-000042`)"),
        ("s1-+00042", "is not a number"),
    ] {
        let error = id.parse::<generator::DrawnId>().unwrap_err();
        assert!(error.contains(reason), "{id}: {error}");
    }
}

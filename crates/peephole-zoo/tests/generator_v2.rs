//! Generator v2 against `shared/spec/generator-v2.md`: every style choice's frequency, the
//! kernel frequencies, stage and conv counts, bottleneck and stride-1 pool rates (statistical
//! tests against the spec's numbers written out here), the assembly and skip rule (an
//! independent assembler written from the spec), the compute filter and the per-index
//! streams, and that the text form, ULC and shape inference handle everything v2 draws.

mod common;

use std::collections::HashMap;
use std::sync::OnceLock;

use common::assert_frequency;
use peephole_ir::text::parse_network;
use peephole_ir::ulc::{UlcField, encode};
use peephole_ir::{Kernel, Layer, LayerKind, Network, Padding, Shape};
use peephole_zoo::generator::free_form::{
    self, ActivationStyle, Design, Downsampling, GeneratedV2, Growth, Normalization,
};
use peephole_zoo::generator::{
    self, Family, GeneratorChoice, MAX_CHANNELS, MAX_MACS, Skeleton, record_id,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

// ---------------------------------------------------------------------------------------
// The spec, written out literally: an oracle independent of the crate's constants.
// ---------------------------------------------------------------------------------------

const SPEC_STAGES: [(u32, f64); 4] = [(1, 0.15), (2, 0.30), (3, 0.35), (4, 0.20)];
const SPEC_WIDTHS: [u32; 9] = [4, 8, 16, 24, 32, 48, 64, 96, 128];
const SPEC_GROWTH: [(Growth, f64); 3] = [
    (Growth::One, 0.35),
    (Growth::OneAndAHalf, 0.15),
    (Growth::Two, 0.50),
];
const SPEC_ACTIVATION: [(ActivationStyle, f64); 5] = [
    (ActivationStyle::Relu, 0.55),
    (ActivationStyle::Tanh, 0.12),
    (ActivationStyle::Sigmoid, 0.08),
    (ActivationStyle::None, 0.05),
    (ActivationStyle::Mixed, 0.20),
];
const SPEC_NORMALIZATION: [(Normalization, f64); 3] = [
    (Normalization::None, 0.40),
    (Normalization::BeforeActivation, 0.45),
    (Normalization::AfterActivation, 0.15),
];
const SPEC_DOWNSAMPLING: [(Downsampling, f64); 4] = [
    (Downsampling::MaxPool2, 0.45),
    (Downsampling::AvgPool2, 0.20),
    (Downsampling::MaxPool3, 0.10),
    (Downsampling::StridedConv, 0.25),
];
const SPEC_KERNELS: [(u32, f64); 6] = [
    (1, 0.15),
    (2, 0.05),
    (3, 0.50),
    (4, 0.05),
    (5, 0.15),
    (7, 0.10),
];
const SPEC_CONVS_PER_STAGE: [u32; 4] = [1, 2, 3, 4];
const SPEC_BOTTLENECK: f64 = 0.15;
const SPEC_INNER_POOL: f64 = 0.15;
const SPEC_INNER_POOL_KERNELS: [u32; 4] = [2, 3, 4, 5];
const SPEC_FINAL_DOWNSAMPLE: f64 = 0.5;
const SPEC_MAX_WIDTH: u32 = 256;

/// Designs drawn for the frequency tests (the spec's probabilities hold before the filter).
const DESIGNS: usize = 60_000;
/// Networks drawn through the filter for the assembly and filter tests.
const NETWORKS: u64 = 50_000;
const SEED: u64 = 0x5eed_0002;

fn designs() -> &'static [Design] {
    static DESIGNS_CELL: OnceLock<Vec<Design>> = OnceLock::new();
    DESIGNS_CELL.get_or_init(|| {
        let mut rng = ChaCha8Rng::seed_from_u64(SEED);
        (0..DESIGNS)
            .map(|_| free_form::sample_design(&mut rng))
            .collect()
    })
}

fn networks() -> &'static [GeneratedV2] {
    static NETWORKS_CELL: OnceLock<Vec<GeneratedV2>> = OnceLock::new();
    NETWORKS_CELL.get_or_init(|| {
        (0..NETWORKS)
            .map(|i| free_form::network_at_v2(7, i))
            .collect()
    })
}

fn count_of<T: PartialEq + Copy>(values: impl Iterator<Item = T>, value: T) -> u64 {
    values.filter(|v| *v == value).count() as u64
}

// ---------------------------------------------------------------------------------------
// Style choices
// ---------------------------------------------------------------------------------------

#[test]
fn network_style_choices_match_the_spec_within_five_sigma() {
    let designs = designs();
    let n = designs.len() as u64;
    for (stages, p) in SPEC_STAGES {
        let seen = count_of(designs.iter().map(|d| d.style.stages), stages);
        assert_frequency(&format!("stages = {stages}"), seen, n, p);
    }
    for width in SPEC_WIDTHS {
        let seen = count_of(designs.iter().map(|d| d.style.base_width), width);
        assert_frequency(&format!("base width {width}"), seen, n, 1.0 / 9.0);
    }
    assert!(
        designs
            .iter()
            .all(|d| SPEC_WIDTHS.contains(&d.style.base_width))
    );
    for (growth, p) in SPEC_GROWTH {
        let seen = count_of(designs.iter().map(|d| d.style.growth), growth);
        assert_frequency(&format!("growth {growth:?}"), seen, n, p);
    }
    for (activation, p) in SPEC_ACTIVATION {
        let seen = count_of(designs.iter().map(|d| d.style.activation), activation);
        assert_frequency(&format!("activation {activation:?}"), seen, n, p);
    }
    for (normalization, p) in SPEC_NORMALIZATION {
        let seen = count_of(designs.iter().map(|d| d.style.normalization), normalization);
        assert_frequency(&format!("normalization {normalization:?}"), seen, n, p);
    }
    for (downsampling, p) in SPEC_DOWNSAMPLING {
        let seen = count_of(designs.iter().map(|d| d.style.downsampling), downsampling);
        assert_frequency(&format!("downsampling {downsampling:?}"), seen, n, p);
    }
    let final_down = designs.iter().filter(|d| d.final_downsample).count() as u64;
    assert_frequency(
        "downsampling after the last stage",
        final_down,
        n,
        SPEC_FINAL_DOWNSAMPLE,
    );
}

#[test]
fn stage_counts_convs_per_stage_and_kernels_match_the_spec() {
    let designs = designs();
    for design in designs {
        assert_eq!(design.stages.len() as u32, design.style.stages);
    }
    let stages: Vec<_> = designs.iter().flat_map(|d| &d.stages).collect();
    let n_stages = stages.len() as u64;
    for convs in SPEC_CONVS_PER_STAGE {
        let seen = count_of(stages.iter().map(|s| s.convs.len() as u32), convs);
        assert_frequency(&format!("{convs} convs in a stage"), seen, n_stages, 0.25);
    }
    let kernels: Vec<u32> = stages
        .iter()
        .flat_map(|s| s.convs.iter().map(|c| c.kernel))
        .collect();
    let n_convs = kernels.len() as u64;
    let mut spec_total = 0.0;
    for (kernel, p) in SPEC_KERNELS {
        spec_total += p;
        let seen = count_of(kernels.iter().copied(), kernel);
        assert_frequency(&format!("conv kernel {kernel}"), seen, n_convs, p);
    }
    assert!((spec_total - 1.0f64).abs() < 1e-12);
    assert!(
        kernels
            .iter()
            .all(|k| SPEC_KERNELS.iter().any(|(s, _)| s == k))
    );
    // Bottlenecks are always 1x1.
    assert!(
        stages
            .iter()
            .filter_map(|s| s.bottleneck)
            .all(|b| b.kernel == 1)
    );
}

#[test]
fn bottleneck_and_stride_one_pool_rates_match_the_spec() {
    let stages: Vec<_> = designs().iter().flat_map(|d| &d.stages).collect();
    let n = stages.len() as u64;
    let bottlenecks = stages.iter().filter(|s| s.bottleneck.is_some()).count() as u64;
    assert_frequency("stage with a bottleneck", bottlenecks, n, SPEC_BOTTLENECK);
    let pools: Vec<_> = stages
        .iter()
        .filter_map(|s| s.pool.map(|p| (p, s.convs.len())))
        .collect();
    assert_frequency(
        "stage with a stride-1 pool",
        pools.len() as u64,
        n,
        SPEC_INNER_POOL,
    );
    for kernel in SPEC_INNER_POOL_KERNELS {
        let seen = count_of(pools.iter().map(|(p, _)| p.kernel), kernel);
        assert_frequency(
            &format!("stride-1 pool kernel {kernel}"),
            seen,
            pools.len() as u64,
            0.25,
        );
    }
    // The pool follows one of the stage's conv blocks, uniformly: in 4-conv stages each
    // position has probability 1/4.
    let four: Vec<_> = pools.iter().filter(|(_, n)| *n == 4).collect();
    for position in 0..4 {
        let seen = count_of(four.iter().map(|(p, _)| p.after_conv), position);
        assert_frequency(
            &format!("pool after conv {position} of 4"),
            seen,
            four.len() as u64,
            0.25,
        );
    }
    assert!(pools.iter().all(|(p, n)| (p.after_conv as usize) < *n));
}

#[test]
fn mixed_style_draws_each_activation_per_conv_uniformly_and_other_styles_never_mix() {
    let mut mixed: HashMap<LayerKind, u64> = HashMap::new();
    let mut total = 0;
    for design in designs() {
        let convs = design
            .stages
            .iter()
            .flat_map(|s| s.convs.iter().chain(s.bottleneck.iter()));
        for conv in convs {
            let expected = match design.style.activation {
                ActivationStyle::Relu => Some(LayerKind::Relu),
                ActivationStyle::Tanh => Some(LayerKind::Tanh),
                ActivationStyle::Sigmoid => Some(LayerKind::Sigmoid),
                ActivationStyle::None => None,
                ActivationStyle::Mixed => {
                    let drawn = conv.activation.expect("mixed convs have an activation");
                    *mixed.entry(drawn).or_default() += 1;
                    total += 1;
                    continue;
                }
            };
            assert_eq!(conv.activation, expected, "{design}");
        }
    }
    for word in [LayerKind::Relu, LayerKind::Tanh, LayerKind::Sigmoid] {
        assert_frequency(&format!("mixed {word:?}"), mixed[&word], total, 1.0 / 3.0);
    }
}

#[test]
fn the_frequency_check_would_catch_a_probability_moved_by_two_points() {
    // The relu style's real count, tested against 0.53 instead of 0.55, must fail.
    let designs = designs();
    let seen = count_of(
        designs.iter().map(|d| d.style.activation),
        ActivationStyle::Relu,
    );
    let n = designs.len() as u64;
    let moved = std::panic::catch_unwind(|| assert_frequency("relu", seen, n, 0.53));
    assert!(moved.is_err(), "a 2-point shift went unnoticed: {seen}/{n}");
    let bottlenecks = designs
        .iter()
        .flat_map(|d| &d.stages)
        .filter(|s| s.bottleneck.is_some())
        .count() as u64;
    let stages = designs.iter().map(|d| d.stages.len()).sum::<usize>() as u64;
    let moved = std::panic::catch_unwind(|| assert_frequency("bn", bottlenecks, stages, 0.13));
    assert!(
        moved.is_err(),
        "a 2-point shift went unnoticed: {bottlenecks}/{stages}"
    );
}

// ---------------------------------------------------------------------------------------
// Assembly, written again from the spec
// ---------------------------------------------------------------------------------------

fn spec_width(base: u32, growth: Growth, stage: u32) -> u32 {
    let g: f64 = match growth {
        Growth::One => 1.0,
        Growth::OneAndAHalf => 1.5,
        Growth::Two => 2.0,
    };
    // Exact in f64 for these magnitudes (base <= 128, g^s <= 3.375).
    let width = (f64::from(base) * g.powi(stage as i32) + 0.5).floor() as u32;
    width.min(SPEC_MAX_WIDTH)
}

fn activation_layer(word: Option<LayerKind>) -> Option<Layer> {
    word.map(|w| match w {
        LayerKind::Relu => Layer::Relu,
        LayerKind::Tanh => Layer::Tanh,
        LayerKind::Sigmoid => Layer::Sigmoid,
        other => panic!("generator v2 drew {other:?} as an activation"),
    })
}

fn window(kind: &str, k: u32, stride: u32) -> Layer {
    let kernel = Kernel::square(k);
    let padding = if stride == 1 {
        Padding::Same
    } else {
        Padding::Valid
    };
    match kind {
        "max" => Layer::MaxPool {
            kernel,
            stride,
            padding,
        },
        _ => Layer::AvgPool {
            kernel,
            stride,
            padding,
        },
    }
}

/// The spec's stride-2 step on a square map: skipped when the window is larger than the map
/// or the result would be below 2x2.
fn spec_step(side: u32, k: u32) -> Option<u32> {
    if k > side {
        return None;
    }
    let out = (side - k) / 2 + 1;
    (out >= 2).then_some(out)
}

fn spec_assemble(design: &Design) -> Network {
    let style = design.style;
    let mut layers = Vec::new();
    let mut side = 28;
    let mut strided_next = false;
    for (s, stage) in design.stages.iter().enumerate() {
        let width = spec_width(style.base_width, style.growth, s as u32);
        let n = stage.convs.len();
        let mut first_conv_of_stage = true;
        for (i, conv) in stage.convs.iter().enumerate() {
            let mut blocks = Vec::new();
            if i + 1 == n
                && let Some(b) = stage.bottleneck
            {
                blocks.push((b, std::cmp::max(1, width / 4)));
            }
            blocks.push((*conv, width));
            for (c, out) in blocks {
                let mut stride = 1;
                if first_conv_of_stage
                    && strided_next
                    && let Some(next) = spec_step(side, c.kernel)
                {
                    stride = 2;
                    side = next;
                }
                first_conv_of_stage = false;
                layers.push(Layer::Conv {
                    kernel: Kernel::square(c.kernel),
                    out_channels: out,
                    stride,
                    padding: if stride == 1 {
                        Padding::Same
                    } else {
                        Padding::Valid
                    },
                });
                let act = activation_layer(c.activation);
                match style.normalization {
                    Normalization::None => layers.extend(act),
                    Normalization::BeforeActivation => {
                        layers.push(Layer::BatchNorm);
                        layers.extend(act);
                    }
                    Normalization::AfterActivation => {
                        layers.extend(act);
                        layers.push(Layer::BatchNorm);
                    }
                }
            }
            if let Some(pool) = stage.pool
                && pool.after_conv as usize == i
            {
                let kind = if style.downsampling == Downsampling::AvgPool2 {
                    "avg"
                } else {
                    "max"
                };
                layers.push(window(kind, pool.kernel, 1));
            }
        }
        let last = s + 1 == design.stages.len();
        strided_next = false;
        if !last || design.final_downsample {
            let (kind, k) = match style.downsampling {
                Downsampling::MaxPool2 => ("max", 2),
                Downsampling::AvgPool2 => ("avg", 2),
                Downsampling::MaxPool3 => ("max", 3),
                Downsampling::StridedConv if !last => {
                    strided_next = true;
                    continue;
                }
                Downsampling::StridedConv => ("max", 2),
            };
            if let Some(next) = spec_step(side, k) {
                layers.push(window(kind, k, 2));
                side = next;
            }
        }
    }
    Network {
        input: Shape::new(1, 28, 28),
        layers,
        classes: 10,
    }
}

#[test]
fn every_drawn_design_assembles_as_the_spec_says() {
    for design in designs().iter().take(20_000) {
        assert_eq!(design.assemble(), spec_assemble(design), "{design}");
    }
}

#[test]
fn stage_widths_follow_floor_base_times_growth_plus_half_capped_at_256() {
    for base in SPEC_WIDTHS {
        for (growth, _) in SPEC_GROWTH {
            for stage in 0..4 {
                assert_eq!(
                    growth.stage_width(base, stage),
                    spec_width(base, growth, stage)
                );
            }
        }
    }
    // Hand-worked: 24 * 1.5^3 = 81 exactly; 48 * 1.5^3 = 162; 32 * 1.5 = 48; 4 * 1.5^3 = 13.5 -> 14.
    assert_eq!(Growth::OneAndAHalf.stage_width(24, 3), 81);
    assert_eq!(Growth::OneAndAHalf.stage_width(4, 3), 14);
    assert_eq!(Growth::Two.stage_width(128, 3), 256);
    assert_eq!(Growth::Two.stage_width(96, 2), 256);
}

#[test]
fn the_skip_rule_drops_a_step_below_two_by_two_or_with_a_window_larger_than_the_map() {
    assert_eq!(free_form::downsampled_side(28, 2), Some(14));
    assert_eq!(free_form::downsampled_side(7, 2), Some(3));
    assert_eq!(
        free_form::downsampled_side(3, 2),
        None,
        "3x3 -> 1x1 is below 2x2"
    );
    assert_eq!(free_form::downsampled_side(3, 3), None);
    assert_eq!(free_form::downsampled_side(5, 3), Some(2));
    assert_eq!(
        free_form::downsampled_side(4, 7),
        None,
        "a 7x7 window on a 4x4 map"
    );
    // In drawn networks no map ever goes below 2x2 through a stride-2 step.
    for generated in networks().iter().take(10_000) {
        let analysis = generated.network.analyze().unwrap();
        for (layer, shape) in generated.network.layers.iter().zip(&analysis.layers) {
            if layer.window().is_some_and(|(_, stride, _)| stride == 2) {
                assert!(shape.output.height >= 2, "{}", generated.network);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Compute filter, streams, downstream formats
// ---------------------------------------------------------------------------------------

#[test]
fn every_generated_network_passes_the_compute_filter_and_rejected_designs_fail_it() {
    for generated in networks() {
        let analysis = generated.network.analyze().unwrap();
        assert!(analysis.macs <= MAX_MACS, "{}", generated.network);
        assert!(analysis.max_channels() <= MAX_CHANNELS);
        assert_eq!(
            (generated.macs, generated.params),
            (analysis.macs, analysis.params)
        );
    }
    // Replay one stream: sample_network_v2 returns the first design that passes, and every
    // design before it fails the filter.
    let mut rejected_total = 0;
    for stream in 0..300u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(99);
        rng.set_stream(stream);
        let mut replay = rng.clone();
        let generated = free_form::sample_network_v2(&mut rng);
        for _ in 0..generated.rejected {
            let design = free_form::sample_design(&mut replay);
            let analysis = design.assemble().analyze().unwrap();
            assert!(
                analysis.macs > MAX_MACS,
                "a passing design was rejected: {design}"
            );
        }
        assert_eq!(free_form::sample_design(&mut replay), generated.design);
        rejected_total += generated.rejected;
    }
    assert!(rejected_total > 0, "the filter never acted in 300 draws");
}

#[test]
fn lengths_run_from_a_few_layers_to_about_45() {
    let lengths: Vec<usize> = networks().iter().map(|g| g.network.layers.len()).collect();
    let min = *lengths.iter().min().unwrap();
    let max = *lengths.iter().max().unwrap();
    let within = lengths.iter().filter(|&&l| (2..=45).contains(&l)).count();
    // The spec's "2 to about 45": a one-conv network without activation, norm or pool has
    // one layer (rare), and four full stages can pass 45.
    assert!(min <= 3, "shortest {min}");
    assert!(max >= 40, "longest {max}");
    assert!(
        within as f64 / lengths.len() as f64 > 0.95,
        "{within} of {} in 2..=45",
        lengths.len()
    );
}

#[test]
fn v2_networks_round_trip_through_the_text_form_and_encode_with_reported_clamps() {
    let mut seven = 0;
    for generated in networks().iter().take(5_000) {
        let text = generated.network.to_string();
        assert_eq!(
            parse_network(&text).as_ref(),
            Ok(&generated.network),
            "{text}"
        );
        let encoding = encode(&generated.network).unwrap();
        assert_eq!(encoding.codes.len(), generated.network.layers.len());
        for (index, layer) in generated.network.layers.iter().enumerate() {
            if let Some((kernel, _, _)) = layer.window()
                && kernel.width > 5
            {
                seven += 1;
                assert!(
                    encoding
                        .clamps
                        .iter()
                        .any(|c| c.layer == index && c.field == UlcField::KernelWidth),
                    "a {}x{} kernel was coded without a clamp note: {text}",
                    kernel.width,
                    kernel.height
                );
            }
        }
    }
    assert!(seven > 0, "no 7x7 kernel in 5,000 networks");
}

#[test]
fn network_at_v2_is_deterministic_and_apart_from_v1() {
    for index in [0, 3, 99, u64::MAX] {
        assert_eq!(
            free_form::network_at_v2(5, index),
            free_form::network_at_v2(5, index)
        );
    }
    let distinct: std::collections::HashSet<String> = (0..64)
        .map(|i| free_form::network_at_v2(5, i).network.to_string())
        .collect();
    assert!(
        distinct.len() >= 56,
        "only {} distinct of 64",
        distinct.len()
    );
    assert_eq!(record_id(Family::V1, 1, 42), "s1-000042");
    assert_eq!(record_id(Family::V2, 1, 42), "v2s1-000042");
}

#[test]
fn a_mix_draws_v2_with_its_share_and_its_v2_networks_are_the_pure_v2_streams() {
    let choice: GeneratorChoice = "mix:0.3".parse().unwrap();
    let n = 20_000;
    let v2 = (0..n)
        .filter(|&i| choice.family_at(1, i) == Family::V2)
        .count() as u64;
    assert_frequency("v2 share of mix:0.3", v2, n, 0.3);
    for index in 0..50 {
        let family = choice.family_at(1, index);
        let drawn = generator::draw(family, Skeleton::FmnistV1, 1, index);
        let pure = generator::draw(family, Skeleton::FmnistV1, 1, index);
        assert_eq!(drawn, pure);
        if family == Family::V2 {
            assert_eq!(drawn.network, free_form::network_at_v2(1, index).network);
        }
    }
    assert_eq!(
        "v1".parse::<GeneratorChoice>(),
        Ok(GeneratorChoice::Only(Family::V1))
    );
    assert_eq!(
        "v2".parse::<GeneratorChoice>(),
        Ok(GeneratorChoice::Only(Family::V2))
    );
    for bad in ["v3", "mix:", "mix:1.5", "mix:-0.1", "mix:abc", ""] {
        let error = bad.parse::<GeneratorChoice>().unwrap_err().to_string();
        assert!(error.contains("expected v1, v2 or mix:P"), "{bad}: {error}");
    }
}

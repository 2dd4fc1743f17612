//! Lowering: the syntax tree becomes peephole-ir's IR, checked, with every span it needs.
//!
//! All problems of one network are collected ([`Errors`]) and reported together. Shape
//! inference (`Network::analyze`) only runs on a network whose every layer lowered, so a
//! spatial collapse is reported at the right layer and never as a follow-up of a typo.

use peephole_ir::text;
use peephole_ir::ulc::{self, UlcEncoding};
use peephole_ir::{Analysis, Kernel, Layer, LayerKind, Network, Padding, Shape, ShapeError};
use proc_macro2::Span;
use quote::ToTokens;
use syn::{Ident, Lit};

use crate::ast::{Arg, Args, InputShape, LayerDecl, NetworkDecl, Value};
use crate::errors::{Errors, closest};
use crate::options::{self, Allow, PredictorOptions, Site};

/// A network that passed every check, with what codegen and the lints need.
pub struct Lowered {
    /// The IR, exactly as the generated `network()` rebuilds it.
    pub network: Network,
    /// Shapes, parameters and compute of the network.
    pub analysis: Analysis,
    /// Its ULC v1 codes and the clamps made.
    pub encoding: UlcEncoding,
    /// The network's name, where network-wide warnings point.
    pub name_span: Span,
    /// Each layer's word (`conv`, `relu`), where that layer's warnings point.
    pub layer_spans: Vec<Span>,
    /// Lints allowed on the whole network.
    pub allow: Allow,
    /// Lints allowed on each layer.
    pub layer_allow: Vec<Allow>,
    /// `min_accuracy` and `model`, for `peephole_check!`.
    pub predictor: PredictorOptions,
    /// The pools whose stride was not written (layer indexes): stride 1 here, the kernel in
    /// PyTorch, tch and candle, which the `pool_stride_default` lint points out.
    pub unwritten_pool_strides: Vec<usize>,
}

/// Whether a pool declaration leaves its stride to the default (a kernel of one pixel is
/// the same either way).
fn pool_stride_unwritten(decl: &LayerDecl, layer: &Layer) -> bool {
    let kernel = match layer {
        Layer::MaxPool { kernel, .. } | Layer::AvgPool { kernel, .. } => kernel,
        _ => return false,
    };
    let written = decl.args.as_ref().is_some_and(|args| {
        args.items
            .iter()
            .any(|item| matches!(item, Ok(Arg::Named { name, .. }) if name == "stride"))
    });
    !written && (kernel.width > 1 || kernel.height > 1)
}

/// Lowers and checks one network declaration.
pub fn network(decl: &NetworkDecl) -> syn::Result<Lowered> {
    let mut errors = Errors::default();
    let (allow, predictor) = options::read(&decl.attrs, Site::Network, &mut errors);
    let input = input_shape(&decl.input, &mut errors);
    let classes = positive(&decl.classes, "the class count", &mut errors);

    let mut layers = Vec::with_capacity(decl.layers.len());
    let mut layer_decls = Vec::with_capacity(decl.layers.len());
    let mut layer_allow = Vec::with_capacity(decl.layers.len());
    for item in &decl.layers {
        match item {
            Ok(layer_decl) => {
                layer_allow.push(options::allow(&layer_decl.attrs, Site::Layer, &mut errors));
                if let Some(layer) = layer(layer_decl, &mut errors) {
                    layers.push(layer);
                    layer_decls.push(layer_decl);
                }
            }
            Err(error) => errors.push(error.clone()),
        }
    }
    if decl.layers.is_empty() {
        errors.at(
            decl.name.span(),
            format!(
                "`{}` declares no layers; a network needs at least one, as in `{{ conv(3x3, 16), relu }}`",
                decl.name
            ),
        );
    }
    errors.finish()?;
    let (Some(input), Some(classes)) = (input, classes) else {
        // Unreachable: a missing value always records an error above. Still no panic.
        return Err(syn::Error::new(
            decl.name.span(),
            "peephole: invalid declaration",
        ));
    };
    let network = Network {
        input,
        layers,
        classes,
    };
    let analysis = network
        .analyze()
        .map_err(|error| shape_error(&error, &network, decl, &layer_decls))?;
    let encoding =
        ulc::encode(&network).map_err(|error| shape_error(&error, &network, decl, &layer_decls))?;
    let unwritten_pool_strides = layer_decls
        .iter()
        .zip(&network.layers)
        .enumerate()
        .filter(|(_, (decl, layer))| pool_stride_unwritten(decl, layer))
        .map(|(index, _)| index)
        .collect();
    Ok(Lowered {
        unwritten_pool_strides,
        network,
        analysis,
        encoding,
        name_span: decl.name.span(),
        layer_spans: layer_decls.iter().map(|l| l.name.span()).collect(),
        allow,
        layer_allow,
        predictor,
    })
}

/// Turns a shape error into a compile error at the layer it names (all of its tokens).
fn shape_error(
    error: &ShapeError,
    network: &Network,
    decl: &NetworkDecl,
    layers: &[&LayerDecl],
) -> syn::Error {
    let layer = error.layer().and_then(|index| layers.get(index));
    let text = error
        .layer()
        .and_then(|index| network.layers.get(index))
        .map(text::layer_text)
        .unwrap_or_default();
    let mut message = error.message_with_layer_text(&text);
    if let ShapeError::KernelLargerThanInput { .. } = error {
        message.push_str(
            "\nhelp: use `padding = same`, a smaller window, or downsample less before this layer",
        );
    }
    match layer {
        Some(layer) => syn::Error::new_spanned(layer, message),
        None => syn::Error::new(decl.name.span(), message),
    }
}

fn input_shape(shape: &InputShape, errors: &mut Errors) -> Option<Shape> {
    let usage = "the input shape is `[channels, height, width]`, as in `[1, 28, 28]`";
    let before = errors.count();
    let mut dims = Vec::with_capacity(3);
    for dim in &shape.dims {
        match dim {
            Ok(Value::Lit(lit)) if lit_text(lit).contains('x') => {
                errors.at(
                    lit.span(),
                    format!("separate the extents with commas: {usage}"),
                );
            }
            Ok(value) => dims.push(positive(value, "an input extent", errors)),
            Err(error) => errors.push(error.clone()),
        }
    }
    if errors.count() > before {
        return None;
    }
    match dims[..] {
        [Some(channels), Some(height), Some(width)] => Some(Shape::new(channels, height, width)),
        _ => {
            errors.at(
                shape.bracket.span.join(),
                format!("expected 3 extents, found {}; {usage}", dims.len()),
            );
            None
        }
    }
}

/// Lowers one layer; `None` (with errors recorded) when it is not a valid layer.
fn layer(decl: &LayerDecl, errors: &mut Errors) -> Option<Layer> {
    let Some(kind) = LayerKind::from_word(&decl.name.to_string()) else {
        errors.at(decl.name.span(), unknown_layer(&decl.name));
        return None;
    };
    let Some(pointwise) = Layer::pointwise(kind) else {
        return windowed(decl, kind, errors);
    };
    if let Some(args) = &decl.args {
        errors.at(
            args.paren.span.join(),
            format!("`{}` takes no arguments", kind.word()),
        );
        return None;
    }
    Some(pointwise)
}

fn unknown_layer(name: &Ident) -> String {
    let word = name.to_string();
    let lower = word.to_lowercase().replace('_', "");
    let words = LayerKind::ALL.map(LayerKind::word);
    let known = words.join(", ");
    // Other frameworks' names for our layers, or our own words in another case.
    let alias = LayerKind::from_alias(&word);
    if matches!(
        lower.as_str(),
        "linear" | "fc" | "dense" | "flatten" | "globalavgpool"
    ) {
        return format!(
            "unknown layer `{word}`: the classifier head (global average pool + linear) is \
             implied by `-> classes`, so the body only holds {known}"
        );
    }
    match alias.map(LayerKind::word).or_else(|| closest(&word, words)) {
        Some(near) => format!("unknown layer `{word}`; did you mean `{near}`? Layers are {known}"),
        None => format!("unknown layer `{word}`; layers are {known}"),
    }
}

/// Hyper-parameters of a conv or pool as written, before defaults.
#[derive(Default)]
struct WindowArgs {
    kernel: Option<Kernel>,
    channels: Option<u32>,
    stride: Option<u32>,
    padding: Option<Padding>,
}

fn windowed(decl: &LayerDecl, kind: LayerKind, errors: &mut Errors) -> Option<Layer> {
    let is_conv = kind == LayerKind::Conv;
    let usage = if is_conv {
        "conv takes a kernel and output channels, then optionally `stride = N` and `padding = \
         same | valid`, as in `conv(3x3, 16, stride = 2)`"
    } else {
        "a pool takes a kernel, then optionally `stride = N` and `padding = same | valid`, as \
         in `maxpool(2, stride = 2)`"
    };
    let Some(args) = &decl.args else {
        errors.at(
            decl.name.span(),
            format!("`{}` needs arguments: {usage}", kind.word()),
        );
        return None;
    };
    let before = errors.count();
    let parsed = window_args(args, is_conv, usage, errors);
    if parsed.kernel.is_none() && errors.count() == before {
        errors.at(args.paren.span.join(), format!("missing kernel: {usage}"));
    }
    if is_conv && parsed.kernel.is_some() && parsed.channels.is_none() && errors.count() == before {
        errors.at(
            args.paren.span.join(),
            format!("missing output channels: {usage}"),
        );
    }
    if errors.count() > before {
        return None;
    }
    let kernel = parsed.kernel?;
    let stride = parsed.stride.unwrap_or(1);
    let padding = parsed
        .padding
        .unwrap_or(Padding::default_for_stride(stride));
    Layer::windowed(kind, kernel, stride, padding, parsed.channels)
}

fn window_args(args: &Args, is_conv: bool, usage: &str, errors: &mut Errors) -> WindowArgs {
    let mut parsed = WindowArgs::default();
    let mut positional = 0;
    for item in &args.items {
        let arg = match item {
            Ok(arg) => arg,
            Err(error) => {
                errors.push(error.clone());
                continue;
            }
        };
        match arg {
            Arg::Positional(value) => {
                match positional {
                    0 => parsed.kernel = kernel(value, errors),
                    1 if is_conv => match (written_kernel(value), &parsed.kernel) {
                        // `conv(16, 3x3)`: PyTorch's order (channels, then kernel).
                        (Some(written), Some(first)) if first.width == first.height => {
                            errors.spanned(
                                value,
                                format!(
                                    "conv takes the kernel first, then the output channels: did you mean `conv({written}, {})`?",
                                    first.width
                                ),
                            );
                        }
                        _ => parsed.channels = positive(value, "the output channel count", errors),
                    },
                    _ => errors.spanned(value, format!("unexpected argument: {usage}")),
                }
                positional += 1;
            }
            Arg::Named { name, value, .. } => {
                let key = name.to_string();
                let duplicate = match key.as_str() {
                    "stride" => {
                        let seen = parsed.stride.is_some();
                        parsed.stride = positive(value, "the stride", errors).or(parsed.stride);
                        seen
                    }
                    "padding" => {
                        let seen = parsed.padding.is_some();
                        parsed.padding = padding(value, errors).or(parsed.padding);
                        seen
                    }
                    _ => {
                        let hint = closest(&key, ["stride", "padding"])
                            .map(|near| format!("did you mean `{near}`? "))
                            .unwrap_or_default();
                        errors.at(
                            name.span(),
                            format!("unknown argument `{key}`; {hint}{usage}"),
                        );
                        false
                    }
                };
                if duplicate {
                    errors.at(name.span(), format!("`{key}` is given twice"));
                }
            }
        }
    }
    parsed
}

/// A value written as a two-sided kernel (`3x3` or `3 x 3`), as it reads: where a channel
/// count is expected, such a value means the arguments came in the wrong order.
fn written_kernel(value: &Value) -> Option<String> {
    let plain = |text: &str| !text.is_empty() && text.chars().all(|c| c.is_ascii_digit());
    match value {
        Value::Lit(lit @ Lit::Int(_)) => {
            let text = lit_text(lit);
            let (width, height) = text.split_once('x')?;
            (plain(width) && plain(height)).then_some(text)
        }
        Value::Product { width, height, .. } => {
            let (width, height) = (lit_text(width), lit_text(height));
            (plain(&width) && plain(&height)).then(|| format!("{width}x{height}"))
        }
        _ => None,
    }
}

/// A whole number >= 1 written in decimal without a suffix.
fn positive(value: &Value, what: &str, errors: &mut Errors) -> Option<u32> {
    let Value::Lit(lit) = value else {
        errors.spanned(value, format!("expected a number for {what}"));
        return None;
    };
    let number = decimal(lit, what, errors)?;
    if number == 0 {
        errors.at(lit.span(), format!("{what} must be at least 1"));
        return None;
    }
    Some(number)
}

/// A plain decimal integer literal as a `u32`.
fn decimal(lit: &Lit, what: &str, errors: &mut Errors) -> Option<u32> {
    let text = lit_text(lit);
    if !matches!(lit, Lit::Int(_)) || !text.chars().all(|c| c.is_ascii_digit() || c == '_') {
        errors.at(
            lit.span(),
            format!("expected a whole number (decimal, no suffix) for {what}"),
        );
        return None;
    }
    parse_u32(&text.replace('_', ""), lit.span(), what, errors)
}

fn parse_u32(digits: &str, span: Span, what: &str, errors: &mut Errors) -> Option<u32> {
    match digits.parse::<u32>() {
        Ok(value) => Some(value),
        Err(_) => {
            errors.at(
                span,
                format!("{what} {digits} is too large (at most {})", u32::MAX),
            );
            None
        }
    }
}

/// A kernel: `3` (square), `3x1` (width x height, as in the text form) or `3 x 1`.
fn kernel(value: &Value, errors: &mut Errors) -> Option<Kernel> {
    let usage = "expected a kernel such as `3` (square) or `3x1` (width x height)";
    let (width, height, span) = match value {
        Value::Lit(lit @ Lit::Int(_)) => {
            let text = lit_text(lit);
            let (width, height) = text.split_once('x').unwrap_or((&text, &text));
            let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
            if !digits(width) || !digits(height) {
                let hint = if text.contains('X') {
                    " (use a lowercase `x`)"
                } else {
                    ""
                };
                errors.at(lit.span(), format!("{usage}, found `{text}`{hint}"));
                return None;
            }
            (width.to_string(), height.to_string(), lit.span())
        }
        Value::Product { width, height, .. } => {
            let width_text = lit_text(width);
            let height_text = lit_text(height);
            let plain = |lit: &Lit, text: &str| {
                matches!(lit, Lit::Int(_)) && text.chars().all(|c| c.is_ascii_digit())
            };
            if !plain(width, &width_text) || !plain(height, &height_text) {
                let found = value.to_token_stream();
                errors.spanned(value, format!("{usage}, found `{found}`"));
                return None;
            }
            (width_text, height_text, value.span())
        }
        _ => {
            errors.spanned(
                value,
                format!("{usage}, found `{}`", value.to_token_stream()),
            );
            return None;
        }
    };
    let width = parse_u32(&width, span, "the kernel width", errors)?;
    let height = parse_u32(&height, span, "the kernel height", errors)?;
    if width == 0 || height == 0 {
        errors.at(
            span,
            format!("a kernel extent must be at least 1, found {width}x{height}"),
        );
        return None;
    }
    Some(Kernel { width, height })
}

fn padding(value: &Value, errors: &mut Errors) -> Option<Padding> {
    let padding = match value {
        Value::Word(word) => Padding::from_word(&word.to_string()),
        _ => None,
    };
    if padding.is_none() {
        errors.spanned(value, "padding is `same` or `valid`");
    }
    padding
}

/// The literal exactly as written (`3x1`, `0x10`, `16u8`), which syn's accessors normalise.
fn lit_text(lit: &Lit) -> String {
    lit.to_token_stream().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::Declaration;

    fn lower(source: &str) -> Result<Lowered, Vec<String>> {
        let decl: Declaration = syn::parse_str(source).expect("parses");
        let decl = match decl.networks.into_iter().next() {
            Some(Ok(decl)) => decl,
            Some(Err(error)) => return Err(vec![error.to_string()]),
            None => panic!("no network"),
        };
        network(&decl).map_err(|e| e.into_iter().map(|e| e.to_string()).collect())
    }

    #[test]
    fn lowers_lenet_to_the_ir_and_text_form() {
        let lowered = lower(
            "pub struct LeNet: [1, 28, 28] -> 10 {
                conv(5x5, 6), relu, maxpool(2, stride = 2),
                conv(5 x 5, 16, padding = valid), bn, relu, avgpool(2x1, stride = 2),
            }",
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            lowered.network.to_string(),
            "[1x28x28] conv5x5:6 relu maxpool2x2/2 conv5x5:16@valid bn relu avgpool2x1/2 -> 10"
        );
        assert_eq!(lowered.layer_spans.len(), 7);
    }

    #[test]
    fn reports_every_error_of_a_network_at_once() {
        let errors = lower(
            "struct Bad: [1, 0, 28] -> 0 {
                conv(3x3, 0), dropout, maxpool(2, strid = 2), relu(1), conv(3X3, 4), conv,
                avgpool(2, stride = 2, stride = 1), conv(3x3), conv(3x3, 8, 9),
            }",
        )
        .err()
        .expect("errors");
        let expected = [
            "an input extent must be at least 1",
            "the class count must be at least 1",
            "the output channel count must be at least 1",
            "unknown layer `dropout`; layers are conv, maxpool, avgpool, relu, sigmoid, tanh, bn",
            "unknown argument `strid`; did you mean `stride`?",
            "`relu` takes no arguments",
            "(use a lowercase `x`)",
            "`conv` needs arguments",
            "`stride` is given twice",
            "missing output channels",
            "unexpected argument",
        ];
        assert_eq!(errors.len(), expected.len(), "{errors:#?}");
        for (error, fragment) in errors.iter().zip(expected) {
            assert!(error.contains(fragment), "{error:?} lacks {fragment:?}");
        }
    }

    #[test]
    fn spatial_collapse_is_an_error_at_the_layer() {
        let errors = lower(
            "struct Tiny: [1, 4, 4] -> 10 { maxpool(2, stride = 2), maxpool(2, stride = 2), conv(3x3, 8, padding = valid) }",
        )
        .err()
        .expect("errors");
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with(
                "the feature map collapses at layer 2 (conv3x3:8@valid): its 3x3 window does not \
                 fit the 1x1 input"
            ),
            "{errors:?}"
        );
    }

    #[test]
    fn input_shape_needs_three_extents() {
        let errors = lower("struct A: [1x28x28] -> 10 { relu }")
            .err()
            .expect("errors");
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with("separate the extents with commas"),
            "{errors:?}"
        );
        let errors = lower("struct A: [28, 28] -> 10 { relu }")
            .err()
            .expect("errors");
        assert!(
            errors[0].starts_with("expected 3 extents, found 2"),
            "{errors:?}"
        );
    }

    #[test]
    fn unknown_layer_hints_at_the_word_we_use() {
        let errors = lower("struct A: [1, 8, 8] -> 10 { conv(3, 8), BatchNorm, linear }")
            .err()
            .expect("errors");
        assert!(errors[0].contains("did you mean `bn`?"), "{errors:?}");
        assert!(errors[1].contains("head (global average pool + linear) is implied"));
    }

    #[test]
    fn huge_numbers_are_errors_not_overflows() {
        let errors = lower("struct A: [1, 8, 8] -> 10 { conv(3, 99999999999) }")
            .err()
            .expect("errors");
        assert!(errors[0].contains("too large"), "{errors:?}");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn any_layer() -> impl Strategy<Value = Layer> {
            let kernel = (1u32..=7, 1u32..=7).prop_map(|(width, height)| Kernel { width, height });
            let padding = prop_oneof![Just(Padding::Same), Just(Padding::Valid)];
            prop_oneof![
                (kernel.clone(), 1u32..=64, 1u32..=3, padding.clone()).prop_map(
                    |(kernel, out_channels, stride, padding)| Layer::Conv {
                        kernel,
                        out_channels,
                        stride,
                        padding
                    }
                ),
                (kernel.clone(), 1u32..=3, padding.clone()).prop_map(
                    |(kernel, stride, padding)| Layer::MaxPool {
                        kernel,
                        stride,
                        padding
                    }
                ),
                (kernel, 1u32..=3, padding).prop_map(|(kernel, stride, padding)| Layer::AvgPool {
                    kernel,
                    stride,
                    padding
                }),
                Just(Layer::Relu),
                Just(Layer::Sigmoid),
                Just(Layer::Tanh),
                Just(Layer::BatchNorm),
            ]
        }

        fn any_network() -> impl Strategy<Value = Network> {
            (
                1u32..=8,
                1u32..=48,
                1u32..=48,
                // At least one layer: an empty body is an error of its own (tested apart).
                prop::collection::vec(any_layer(), 1..10),
                1u32..=100,
            )
                .prop_map(|(c, h, w, layers, classes)| Network {
                    input: Shape::new(c, h, w),
                    layers,
                    classes,
                })
        }

        proptest! {
            /// Any IR network printed in declaration syntax lowers back to exactly that
            /// network when the core accepts it, with every pool's stride written, and to a
            /// collapse error at the same layer when not.
            #[test]
            fn printed_declarations_lower_to_the_same_ir(network in any_network()) {
                let source = crate::print::network("P", &network);
                match (lower(&source), network.analyze()) {
                    (Ok(lowered), Ok(analysis)) => {
                        prop_assert_eq!(&lowered.network, &network);
                        prop_assert!(lowered.unwritten_pool_strides.is_empty(), "{}", source);
                        prop_assert_eq!(lowered.analysis, analysis);
                        prop_assert_eq!(lowered.encoding, ulc::encode(&network).unwrap());
                        prop_assert_eq!(lowered.layer_spans.len(), network.layers.len());
                    }
                    (Err(errors), Err(error)) => {
                        prop_assert_eq!(errors.len(), 1);
                        let layer = error.layer().map(|l| format!("layer {l}")).unwrap_or_default();
                        prop_assert!(errors[0].contains(&layer), "{:?} vs {}", errors, error);
                    }
                    (ours, core) => prop_assert!(
                        false,
                        "macro and core disagree on {}: {:?} vs {:?}",
                        source,
                        ours.err(),
                        core.err()
                    ),
                }
            }
        }
    }
}

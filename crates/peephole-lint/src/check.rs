//! What a declared network is warned about: runs every check on a lowered network, applies
//! the user's opt-outs, and attaches spans. The lints themselves live in [`crate::lints`], one module each;
//! this module only decides which apply and where each finding points. The macros and
//! `cargo peephole check` both call [`diagnose`].
//!
//! Model-based checks (the accuracy predictor) and declaration lints plug in at [`diagnose`]:
//! they produce [`Diagnostic`]s, and get the same opt-outs, spans and
//! emission as the rule lints.

use crate::lints::{self, Diagnostic, Lint};
use proc_macro2::Span;

use crate::ast::{Declaration, NetworkDecl};
use crate::lower::{self, Lowered};
use crate::predict::{self, ModelContext};
use crate::warning::Warning;

/// Which macro a declaration is written in: the two share everything but the predictor's
/// check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `network!`: declaration and rule lints, no model.
    Declare,
    /// `peephole_check!`: also the predictor's verdict.
    Check,
}

impl Mode {
    /// The mode of a macro named by the last segment of its path, for tools that find
    /// declarations in source files: `network` or `peephole_check`.
    pub fn of_macro(name: &str) -> Option<Mode> {
        match name {
            "network" => Some(Mode::Declare),
            "peephole_check" => Some(Mode::Check),
            _ => None,
        }
    }
}

/// A call must declare at least one network; the error points at `call_site` (the macro call).
pub fn require_networks(declaration: &Declaration, call_site: Span) -> syn::Result<()> {
    if declaration.networks.is_empty() {
        return Err(syn::Error::new(
            call_site,
            "expected a network, as in `pub struct LeNet: [1, 28, 28] -> 10 { conv(5x5, 6), \
             relu }`",
        ));
    }
    Ok(())
}

/// Lowers one network as `mode`'s macro accepts it: every lowering error, and predictor
/// options where no predictor runs.
pub fn lower(decl: &NetworkDecl, mode: Mode) -> syn::Result<Lowered> {
    let lowered = lower::network(decl)?;
    predictor_options_fit(&lowered, mode)?;
    Ok(lowered)
}

/// `min_accuracy` and `model` configure the predictor, which only `peephole_check!` runs;
/// under `network!` they would silently do nothing, so they are errors there.
fn predictor_options_fit(lowered: &Lowered, mode: Mode) -> syn::Result<()> {
    if mode == Mode::Check {
        return Ok(());
    }
    let options = &lowered.predictor;
    let span = match (&options.min_accuracy, &options.model) {
        (Some((_, literal)), _) => literal.span(),
        (None, Some(literal)) => literal.span(),
        (None, None) => return Ok(()),
    };
    Err(syn::Error::new(
        span,
        "`min_accuracy` and `model` configure the predictor, which only runs under \
         `peephole::peephole_check!`; use that macro instead of `network!`",
    ))
}

/// Every warning for one network, in layer order, opt-outs applied, spans attached.
///
/// This is the single entry point for diagnostics of declarations: the rule lints always,
/// and the predictor's check under [`Mode::Check`] (unless allowed), with the model `models`
/// picks. Fails only when the predictor was asked for and cannot run.
pub fn diagnose(network: &Lowered, mode: Mode, models: &ModelContext) -> syn::Result<Vec<Warning>> {
    let mut findings = rule_lints(network);
    // Both predictor lints allowed: the model need not run at all.
    let predictor_allowed = network.allow.allows(Lint::PredictedAccuracy)
        && network.allow.allows(Lint::OutsideTraining);
    if mode == Mode::Check && !predictor_allowed {
        findings.extend(predict::findings(network, models)?);
    }
    findings.extend(lints::pool_stride_default(
        &network.network,
        &network.unwritten_pool_strides,
    ));
    findings.retain(|finding| !allowed(network, finding));
    Ok(findings
        .into_iter()
        .map(|finding| Warning {
            span: finding
                .layer
                .and_then(|index| network.layer_spans.get(index).copied())
                .unwrap_or(network.name_span),
            lint: finding.lint,
            message: finding.message,
            help: finding.help,
        })
        .collect())
}

/// The rule lints of [`crate::lints`].
fn rule_lints(network: &Lowered) -> Vec<Diagnostic> {
    // `lint::check` only fails on a network that does not analyse, and lowering has already
    // turned that into a compile error, so there is nothing to warn about in that case.
    lints::check(&network.network).unwrap_or_default()
}

fn allowed(network: &Lowered, finding: &Diagnostic) -> bool {
    network.allow.allows(finding.lint)
        || finding
            .layer
            .and_then(|index| network.layer_allow.get(index))
            .is_some_and(|allow| allow.allows(finding.lint))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn warnings(source: &str) -> Vec<(String, String)> {
        let decl: Declaration = syn::parse_str(source).expect("parses");
        let Some(Ok(decl)) = decl.networks.into_iter().next() else {
            panic!("no network");
        };
        let lowered = lower::network(&decl).unwrap_or_else(|e| panic!("{e}"));
        diagnose(&lowered, Mode::Declare, &ModelContext::default())
            .expect("rule lints never fail")
            .into_iter()
            .map(|w| (w.lint.name().to_string(), w.message))
            .collect()
    }

    #[test]
    fn opt_outs_on_network_and_layer_silence_only_their_lint() {
        let source = |network_attr: &str, layer_attr: &str| {
            format!(
                "{network_attr} struct N: [3, 8, 8] -> 10 {{
                    conv(7, 16), tanh, relu, {layer_attr} conv(1, 2), relu,
                }}"
            )
        };
        let names = |s: String| -> Vec<String> { warnings(&s).into_iter().map(|w| w.0).collect() };
        assert_eq!(
            names(source("", "")),
            [
                "ulc_clamp",
                "stacked_activations",
                "channel_collapse",
                "ulc_clamp"
            ]
        );
        assert_eq!(
            names(source("#[peephole(allow(ulc_clamp))]", "")),
            ["stacked_activations", "channel_collapse"]
        );
        assert_eq!(
            names(source(
                "",
                "#[peephole(allow(channel_collapse, ulc_clamp))]"
            )),
            ["ulc_clamp", "stacked_activations"]
        );
    }

    #[test]
    fn the_message_names_the_layer() {
        let found = warnings("struct N: [16, 8, 8] -> 10 { conv(3, 16), tanh, relu }");
        assert_eq!(found.len(), 1);
        assert!(
            found[0]
                .1
                .starts_with("layer 2 (relu) follows another activation (tanh)")
        );
    }

    // `maxpool(2)` keeps the stride at 1 where PyTorch, tch and candle default it to
    // the kernel; written strides and 1-pixel pools are not flagged.
    #[test]
    fn a_pool_without_a_stride_says_what_pytorch_would_do() {
        let found = warnings(
            "struct N: [8, 8, 8] -> 10 { conv(3, 8), relu, maxpool(2), avgpool(3x2), maxpool(2, stride = 1), maxpool(1) }",
        );
        let pools: Vec<&(String, String)> = found
            .iter()
            .filter(|(name, _)| name == Lint::PoolStrideDefault.name())
            .collect();
        assert_eq!(pools.len(), 2, "{found:?}");
        assert!(
            pools[0]
                .1
                .starts_with("layer 2 (`maxpool(2)`) has no stride, so it is 1"),
            "{found:?}"
        );
        assert!(
            pools[0]
                .1
                .contains("PyTorch, tch and candle default a pool's stride to its kernel (2)")
        );
        assert!(
            pools[1].1.starts_with("layer 3 (`avgpool(3x2)`)"),
            "{found:?}"
        );
        assert_eq!(
            Lint::PoolStrideDefault.scope(),
            crate::lints::LintScope::Layer
        );
    }

    // `conv(16, 3)`, PyTorch's order, reads as a 16x16 kernel with 3 channels.
    #[test]
    fn a_conv_with_a_huge_kernel_and_few_channels_asks_about_the_argument_order() {
        let found = warnings(
            "struct N: [1, 28, 28] -> 10 { conv(16, 3), relu, conv(8x8, 4), conv(9x3, 2), conv(7, 3), conv(11, 32) }",
        );
        let swapped: Vec<&(String, String)> = found
            .iter()
            .filter(|(name, _)| name == Lint::ConvArgumentOrder.name())
            .collect();
        assert_eq!(swapped.len(), 2, "{found:?}");
        assert!(
            swapped[0]
                .1
                .starts_with("layer 0 (`conv(16, 3)`) is a 16x16 kernel with 3 output channel(s)"),
            "{found:?}"
        );
        assert!(
            swapped[1].1.starts_with("layer 2 (`conv(8, 4)`)"),
            "{found:?}"
        );
        assert_eq!(
            Lint::ConvArgumentOrder.scope(),
            crate::lints::LintScope::Layer
        );
        let allowed = warnings(
            "struct N: [1, 28, 28] -> 10 { #[peephole(allow(conv_argument_order))] conv(16, 3), relu }",
        );
        assert!(
            allowed
                .iter()
                .all(|(name, _)| name != Lint::ConvArgumentOrder.name()),
            "{allowed:?}"
        );
    }

    // `conv(16, 3x3)` (channels first, then the kernel) says what was meant.
    #[test]
    fn a_kernel_written_second_is_an_error_that_suggests_the_order() {
        assert_eq!(
            lowering_errors("struct N: [1, 28, 28] -> 10 { conv(16, 3x3), relu }"),
            [
                "conv takes the kernel first, then the output channels: did you mean `conv(3x3, 16)`?"
            ]
        );
    }

    fn lowering_errors(source: &str) -> Vec<String> {
        let decl: Declaration = syn::parse_str(source).expect("parses");
        let Some(Ok(decl)) = decl.networks.into_iter().next() else {
            panic!("no network");
        };
        match lower::network(&decl) {
            Ok(_) => Vec::new(),
            Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    // An empty body `{ }` was accepted.
    #[test]
    fn an_empty_body_is_an_error_at_the_name() {
        assert_eq!(
            lowering_errors("struct Empty: [1, 8, 8] -> 10 { }"),
            [
                "`Empty` declares no layers; a network needs at least one, as in `{ conv(3x3, 16), relu }`"
            ]
        );
    }

    // A repeated option silently kept the last value.
    #[test]
    fn a_repeated_option_is_an_error_not_the_last_value() {
        assert_eq!(
            lowering_errors(
                r#"#[peephole(min_accuracy = 0.8, min_accuracy = 0.9)] #[peephole(model = "a.onnx")] #[peephole(model = "b.onnx")] struct N: [1, 8, 8] -> 10 { relu }"#
            ),
            [
                "`min_accuracy` is given twice; which one did you mean?",
                "`model` is given twice; which one did you mean?"
            ]
        );
    }
}

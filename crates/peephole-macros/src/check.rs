//! What `network!` warns about: runs every check on a lowered network, applies the user's
//! opt-outs, and attaches spans. The rules themselves live in `peephole_core::lint` (shared
//! with command-line tools); this module only decides where each finding points.
//!
//! Model-based checks (the accuracy predictor) plug in at [`diagnose`]: produce [`Finding`]s
//! and they get the same opt-outs, spans and emission as the rule lints.

use peephole_core::lint::{self, Lint, LintScope};

use crate::lower::Lowered;
use crate::predict::{self, PREDICTED_ACCURACY};
use crate::warning::Warning;

/// A check's result before it gets a span: which check fired and which layer it is about.
pub(crate) struct Finding {
    /// Stable snake_case name; users allow it by this name.
    pub name: &'static str,
    /// 0-based layer index, or `None` for the whole network.
    pub layer: Option<usize>,
    /// The sentence shown after `peephole::NAME:`.
    pub message: String,
    /// What to do about it.
    pub help: Option<String>,
}

impl From<lint::Diagnostic> for Finding {
    fn from(diagnostic: lint::Diagnostic) -> Self {
        Finding {
            name: diagnostic.lint.name(),
            layer: diagnostic.layer,
            message: diagnostic.message,
            help: diagnostic.help,
        }
    }
}

/// Every warning for one network, in layer order, opt-outs applied, spans attached.
///
/// This is the single entry point for build-time diagnostics: the rule lints always, and the
/// predictor's check when `with_predictor` (under `peephole_check!`, unless allowed). Fails
/// only when the predictor was asked for and cannot run.
pub(crate) fn diagnose(network: &Lowered, with_predictor: bool) -> syn::Result<Vec<Warning>> {
    let mut findings = rule_lints(network);
    if with_predictor && !network.allow.allows(PREDICTED_ACCURACY) {
        findings.extend(predict::findings(network)?);
    }
    findings.retain(|finding| !allowed(network, finding));
    Ok(findings
        .into_iter()
        .map(|finding| Warning {
            span: finding
                .layer
                .and_then(|index| network.layer_spans.get(index).copied())
                .unwrap_or(network.name_span),
            name: finding.name.to_string(),
            message: finding.message,
            help: finding.help,
        })
        .collect())
}

/// The rule lints of `peephole_core::lint`.
fn rule_lints(network: &Lowered) -> Vec<Finding> {
    // `lint::check` only fails on a network that does not analyse, and lowering has already
    // turned that into a compile error, so there is nothing to warn about in that case.
    lint::check(&network.network)
        .map(|diagnostics| diagnostics.into_iter().map(Finding::from).collect())
        .unwrap_or_default()
}

fn allowed(network: &Lowered, finding: &Finding) -> bool {
    network.allow.allows(finding.name)
        || finding
            .layer
            .and_then(|index| network.layer_allow.get(index))
            .is_some_and(|allow| allow.allows(finding.name))
}

/// Whether `name` is a check users may allow, and where: the one list `#[peephole(allow)]`
/// validates against, so that unknown names are errors.
pub(crate) fn lint_scope(name: &str) -> Option<LintScope> {
    if name == PREDICTED_ACCURACY {
        return Some(LintScope::Network);
    }
    Lint::from_name(name).map(Lint::scope)
}

/// Every name [`lint_scope`] accepts, for error messages.
pub(crate) fn lint_names() -> Vec<&'static str> {
    Lint::ALL.iter().map(|lint| lint.name()).chain([PREDICTED_ACCURACY]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::Declaration;
    use crate::lower;

    fn warnings(source: &str) -> Vec<(String, String)> {
        let decl: Declaration = syn::parse_str(source).expect("parses");
        let Some(Ok(decl)) = decl.networks.into_iter().next() else {
            panic!("no network");
        };
        let lowered = lower::network(&decl).unwrap_or_else(|e| panic!("{e}"));
        diagnose(&lowered, false)
            .expect("rule lints never fail")
            .into_iter()
            .map(|w| (w.name, w.message))
            .collect()
    }

    #[test]
    fn opt_outs_on_network_and_layer_silence_only_their_lint() {
        let source = |network_attr: &str, layer_attr: &str| {
            format!(
                "{network_attr} struct N: [3, 8, 8] -> 10 {{
                    conv(3, 16), tanh, relu, {layer_attr} conv(1, 2), relu,
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
}

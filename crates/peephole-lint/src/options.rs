//! `#[peephole(...)]` attributes: the opt-outs a user writes on a network or on one layer.

use crate::lints::{Lint, LintScope};
use syn::{Attribute, Ident};

use crate::errors::{Errors, closest};

/// The name of our attribute; every other attribute on a network goes to the generated type.
pub const ATTRIBUTE: &str = "peephole";

/// Lints allowed on a network or a layer.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Allow(Vec<Lint>);

impl Allow {
    /// True when `lint` is allowed here.
    pub fn allows(&self, lint: Lint) -> bool {
        self.0.contains(&lint)
    }
}

/// Where an attribute stands; a layer only accepts opt-outs of lints that name a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Site {
    /// On a network declaration.
    Network,
    /// On one body layer.
    Layer,
}

/// The predictor options of a network, read from `#[peephole(min_accuracy = .., model = "..")]`;
/// they only mean something under `peephole_check!`.
#[derive(Default, Clone)]
pub struct PredictorOptions {
    /// `min_accuracy = 0.85`, with the literal for errors.
    pub min_accuracy: Option<(f64, syn::LitFloat)>,
    /// `model = "models/my.onnx"`, relative to the crate's manifest directory.
    pub model: Option<syn::LitStr>,
}

/// Reads every `#[peephole(...)]` among `attrs`. On a layer, any other attribute except a
/// doc comment is an error (there is no item to put it on).
pub(crate) fn allow(attrs: &[Attribute], site: Site, errors: &mut Errors) -> Allow {
    read(attrs, site, errors).0
}

/// Reads the opt-outs and the predictor options of a network or a layer.
pub(crate) fn read(
    attrs: &[Attribute],
    site: Site,
    errors: &mut Errors,
) -> (Allow, PredictorOptions) {
    let mut allowed = Vec::new();
    let mut predictor = PredictorOptions::default();
    for attr in attrs {
        if !attr.path().is_ident(ATTRIBUTE) {
            if site == Site::Layer && !attr.path().is_ident("doc") {
                errors.spanned(
                    attr,
                    "a layer only takes `#[peephole(allow(...))]`; other attributes have no \
                     item to go on",
                );
            }
            continue;
        }
        let parsed = attr.parse_nested_meta(|meta| {
            if site == Site::Network && meta.path.is_ident("min_accuracy") {
                let literal: syn::LitFloat = meta.value()?.parse().map_err(|_| {
                    meta.error("`min_accuracy` takes an accuracy between 0 and 1, as in `min_accuracy = 0.85`")
                })?;
                if predictor.min_accuracy.is_some() {
                    errors.spanned(&literal, "`min_accuracy` is given twice; which one did you mean?");
                    return Ok(());
                }
                match literal.base10_parse::<f64>() {
                    Ok(value) if (0.0..=1.0).contains(&value) => predictor.min_accuracy = Some((value, literal)),
                    _ => errors.spanned(&literal, "`min_accuracy` is an accuracy between 0 and 1, such as 0.85"),
                }
                return Ok(());
            }
            if site == Site::Network && meta.path.is_ident("model") {
                let literal: syn::LitStr = meta.value()?.parse().map_err(|_| {
                    meta.error("`model` takes a path in quotes, as in `model = \"models/mine.onnx\"`")
                })?;
                if predictor.model.is_some() {
                    errors.spanned(&literal, "`model` is given twice; which one did you mean?");
                    return Ok(());
                }
                predictor.model = Some(literal);
                return Ok(());
            }
            if !meta.path.is_ident("allow") {
                let known = match site {
                    Site::Network => "the options are `allow(lint, ...)`, `min_accuracy = 0.85` and `model = \"path.onnx\"`",
                    Site::Layer => "the only option on a layer is `allow(lint, ...)`",
                };
                return Err(meta.error(format!("unknown peephole option; {known}")));
            }
            meta.parse_nested_meta(|lint| {
                match lint.path.get_ident() {
                    Some(ident) => {
                        if let Some(name) = known(ident, site, errors) {
                            allowed.push(name);
                        }
                    }
                    None => errors.spanned(&lint.path, "expected a lint name such as `ulc_clamp`"),
                }
                Ok(())
            })
        });
        if let Err(error) = parsed {
            errors.push(error);
        }
    }
    (Allow(allowed), predictor)
}

/// The lint `ident` names, if it may be allowed at `site`; otherwise records why not.
/// Unknown names are errors so that a typo never silently allows nothing.
fn known(ident: &Ident, site: Site, errors: &mut Errors) -> Option<Lint> {
    let name = ident.to_string();
    let lint = Lint::from_name(&name);
    match lint.map(Lint::scope) {
        None => {
            let names: Vec<&str> = Lint::ALL.iter().map(|lint| lint.name()).collect();
            let hint = closest(&name, names.iter().copied())
                .map(|near| format!("did you mean `{near}`? "))
                .unwrap_or_default();
            errors.at(
                ident.span(),
                format!(
                    "unknown peephole lint `{name}`; {hint}known lints: {}",
                    names.join(", ")
                ),
            );
            None
        }
        Some(LintScope::Network) if site == Site::Layer => {
            errors.at(
                ident.span(),
                format!(
                    "`{name}` is about the whole network, not one layer; allow it on the network"
                ),
            );
            None
        }
        Some(_) => lint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    #[test]
    fn reads_allow_lists_on_networks() {
        let attrs: Vec<Attribute> = vec![
            parse_quote!(#[doc = " docs are ignored"]),
            parse_quote!(#[peephole(allow(ulc_clamp, stacked_activations))]),
            parse_quote!(#[peephole(allow(no_nonlinearity))]),
        ];
        let mut errors = Errors::default();
        let allow = allow(&attrs, Site::Network, &mut errors);
        assert_eq!(errors.count(), 0);
        assert!(allow.allows(Lint::UlcClamp));
        assert!(allow.allows(Lint::NoNonlinearity));
        assert!(!allow.allows(Lint::ChannelCollapse));
    }

    #[test]
    fn unknown_lints_and_options_are_all_reported() {
        let attrs: Vec<Attribute> = vec![
            parse_quote!(#[peephole(allow(stacked_activation, ulc_clamp, nonsense))]),
            parse_quote!(#[peephole(deny(ulc_clamp))]),
        ];
        let mut errors = Errors::default();
        let allow = allow(&attrs, Site::Network, &mut errors);
        assert!(allow.allows(Lint::UlcClamp));
        let messages: Vec<String> = errors
            .finish()
            .unwrap_err()
            .into_iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(messages.len(), 3, "{messages:?}");
        assert!(messages[0].contains("did you mean `stacked_activations`?"));
        assert!(messages[1].starts_with("unknown peephole lint `nonsense`; known lints:"));
        assert!(messages[2].starts_with("unknown peephole option"));
    }

    #[test]
    fn layers_reject_network_wide_lints_and_foreign_attributes() {
        let attrs: Vec<Attribute> = vec![
            parse_quote!(#[peephole(allow(no_nonlinearity, channel_collapse))]),
            parse_quote!(#[inline]),
        ];
        let mut errors = Errors::default();
        let allow = allow(&attrs, Site::Layer, &mut errors);
        assert!(allow.allows(Lint::ChannelCollapse));
        assert!(!allow.allows(Lint::NoNonlinearity));
        assert_eq!(errors.count(), 2);
    }
}

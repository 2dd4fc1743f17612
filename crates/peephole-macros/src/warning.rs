//! Compiler warnings from a proc macro on stable Rust, the one place that knows how.
//!
//! `proc_macro::Diagnostic` is unstable, but the `deprecated` lint is not: the expansion
//! declares a deprecated function whose note is our message and uses it at the user's token.
//! rustc then prints
//!
//! ```text
//! warning: use of deprecated function `_::peephole::stacked_activations`: layer 3 (relu) follows ...
//!          help: remove one of the two activations
//!  --> src/main.rs:7:24
//! ```
//!
//! so the lint name reads as `peephole::NAME`, the message is ours, and the caret is on the
//! layer. Because it is an ordinary lint, `#[allow(deprecated)]`, `#![deny(deprecated)]` and
//! `-D warnings` work on it as users expect, and cargo replays it on cached builds.

use peephole_lint::Warning;
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::{Attribute, Ident};

/// Expands to items that make rustc print every warning at its span. Each warning lives in
/// its own anonymous const so that names never clash, and declares a module `peephole` so the
/// printed path ends in `peephole::NAME`. `attrs` (the declaration's `#[cfg]`s) go on each.
pub(crate) fn emit(warnings: &[Warning], attrs: &[&Attribute]) -> TokenStream {
    warnings
        .iter()
        .map(|warning| emit_one(warning, attrs))
        .collect()
}

fn emit_one(warning: &Warning, attrs: &[&Attribute]) -> TokenStream {
    // Every lint name is a snake_case identifier (`Lint::name`).
    let name = Ident::new(warning.lint.name(), Span::call_site());
    let note = match &warning.help {
        Some(help) => format!("{}\nhelp: {help}", warning.message),
        None => warning.message.clone(),
    };
    // The use carries the user's span on both path segments: rustc reports the deprecation
    // at the path's last segment and treats it as the user's code, not macro internals.
    let module_at_user = Ident::new("peephole", warning.span);
    let mut name_at_user = name.clone();
    name_at_user.set_span(warning.span);
    let use_site = quote_spanned!(warning.span=> let _ = #module_at_user::#name_at_user;);
    quote! {
        #(#attrs)*
        const _: () = {
            mod peephole {
                #[deprecated(note = #note)]
                pub fn #name() {}
            }
            #use_site
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use peephole_lint::lints::Lint;

    fn warning(lint: Lint) -> Warning {
        Warning {
            lint,
            message: "layer 2 (relu) follows another activation (tanh)".into(),
            help: Some("remove one".into()),
            span: Span::call_site(),
        }
    }

    #[test]
    fn emits_a_deprecated_function_and_its_use() {
        let tokens = emit(&[warning(Lint::StackedActivations)], &[]).to_string();
        assert!(tokens.contains("deprecated"), "{tokens}");
        assert!(
            tokens.contains("layer 2 (relu) follows another activation (tanh)\\nhelp: remove one")
        );
        assert!(tokens.contains("pub fn stacked_activations"));
        assert!(tokens.contains("let _ = peephole :: stacked_activations"));
        syn::parse2::<syn::File>(tokens.parse().unwrap()).expect("valid items");
    }

    #[test]
    fn every_lint_name_is_an_identifier_the_expansion_can_declare() {
        for lint in Lint::ALL {
            let tokens = emit(&[warning(lint)], &[]).to_string();
            syn::parse2::<syn::File>(tokens.parse().unwrap()).expect("valid items");
        }
    }
}

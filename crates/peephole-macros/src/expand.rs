//! Code generation: reads only checked IR and writes the user's type, its constants and the
//! warnings. On error it still writes the type with placeholder values (thiserror's
//! fallback), so code using `LeNet::ULC` does not bury the real error under follow-ups.

use peephole_ir::Layer;
use peephole_ir::ulc::UlcCode;
use peephole_lint::lints::LintSource;
use proc_macro2::{Literal, Span, TokenStream};
use quote::{format_ident, quote};
use syn::Attribute;

use peephole_lint::ast::{Declaration, NetworkDecl};
use peephole_lint::check::{self, Mode};
use peephole_lint::lower::Lowered;
use peephole_lint::options::ATTRIBUTE;
use peephole_lint::predict::{MODEL_ENV, ModelContext, ModelSource};

use crate::{speed, warning};

/// Expands a whole `network!` or `peephole_check!` call: each network on its own, so one bad
/// network does not stop the others from being generated and checked.
pub(crate) fn declaration(declaration: &Declaration, mode: Mode) -> TokenStream {
    if let Err(error) = check::require_networks(declaration, Span::call_site()) {
        return error.to_compile_error();
    }
    declaration
        .networks
        .iter()
        .map(|network| match network {
            Ok(decl) => self::network(decl, mode),
            Err(error) => error.to_compile_error(),
        })
        .collect()
}

fn network(decl: &NetworkDecl, mode: Mode) -> TokenStream {
    match check::lower(decl, mode) {
        Ok(lowered) => {
            let items = items(decl, Some(&lowered));
            let models = ModelContext::from_env();
            let warnings = match check::diagnose(&lowered, mode, &models) {
                Ok(mut warnings) => {
                    // The first predictor warning of the crate carries the build-speed hint.
                    if let Some(first) = warnings
                        .iter_mut()
                        .find(|w| w.lint.source() == LintSource::Predictor)
                        && let Some(hint) = speed::take_hint()
                    {
                        first.message.push('\n');
                        first.message.push_str(&hint);
                    }
                    warning::emit(&warnings, &cfgs(&decl.attrs))
                }
                Err(error) => error.to_compile_error(),
            };
            let tracking = match mode {
                Mode::Check => tracking(&models.source(&lowered).0),
                Mode::Declare => TokenStream::new(),
            };
            quote! { #items #warnings #tracking }
        }
        Err(error) => {
            let fallback = items(decl, None);
            let error = error.to_compile_error();
            quote! { #fallback #error }
        }
    }
}

/// Items that make cargo rebuild the crate when the model file or `PEEPHOLE_MODEL` changes:
/// `include_bytes!` records the file and `option_env!` the variable in rustc's dep-info.
/// Neither ends up in the user's binary (unused anonymous consts).
fn tracking(source: &ModelSource) -> TokenStream {
    let file = match source {
        ModelSource::File(path) => {
            let path = path.display().to_string();
            quote! { const _: &[u8] = ::core::include_bytes!(#path); }
        }
        ModelSource::Embedded => TokenStream::new(),
    };
    quote! {
        const _: ::core::option::Option<&str> = ::core::option_env!(#MODEL_ENV);
        #file
    }
}

/// `#[cfg]`s of the declaration, repeated on every generated item so they come and go together.
fn cfgs(attrs: &[Attribute]) -> Vec<&Attribute> {
    attrs.iter().filter(|a| a.path().is_ident("cfg")).collect()
}

/// The type, its inherent constants and its `DeclaredNetwork` impl. `None` writes
/// placeholders after an error (never seen at run time: the build fails).
fn items(decl: &NetworkDecl, lowered: Option<&Lowered>) -> TokenStream {
    let NetworkDecl {
        attrs, vis, name, ..
    } = decl;
    let passed: Vec<&Attribute> = attrs
        .iter()
        .filter(|a| !a.path().is_ident(ATTRIBUTE))
        .collect();
    let cfgs = cfgs(attrs);
    let name_text = name.to_string();
    let values = match lowered {
        Some(lowered) => Values::of(lowered),
        None => Values::placeholder(),
    };
    let Values {
        input: [channels, height, width],
        classes,
        layers,
        codes,
        text,
        params,
        macs,
    } = values;
    let summary = lowered.map(|l| {
        let separator = attrs
            .iter()
            .any(|a| a.path().is_ident("doc"))
            .then(|| quote!(#[doc = ""]));
        let line = format!(
            " `{}`: {} parameters, {} multiply-accumulates per image (declared with \
             `peephole::network!`).",
            l.network, l.analysis.params, l.analysis.macs
        );
        quote! { #separator #[doc = #line] }
    });
    quote! {
        #(#passed)*
        #summary
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        #vis struct #name;

        #(#cfgs)*
        impl #name {
            /// The network's name as declared, for messages and reports.
            pub const NAME: &'static str = #name_text;
            /// Shape of one input image (channels, height, width).
            pub const INPUT: ::peephole::Shape = ::peephole::Shape::new(#channels, #height, #width);
            /// Classes predicted by the implied head (global average pool + linear).
            pub const CLASSES: u32 = #classes;
            /// Body layers in order; the head is implied and not listed.
            pub const LAYERS: &'static [::peephole::Layer] = &[#(#layers),*];
            /// One Unified Layer Code (v1) per body layer: what the accuracy predictor reads.
            /// Computed at build time from the declaration.
            pub const ULC: &'static [::peephole::ulc::UlcCode] = &[#(#codes),*];
            /// The one-line text form (`peephole::Network`'s `Display`), for logs and tools.
            pub const TEXT: &'static str = #text;
            /// Trainable parameters of body and head.
            pub const PARAMS: u64 = #params;
            /// Multiply-accumulates per image of body and head.
            pub const MACS: u64 = #macs;

            /// The network as peephole's IR, to analyse, encode or train it.
            pub fn network() -> ::peephole::Network {
                <Self as ::peephole::DeclaredNetwork>::network()
            }
        }

        #(#cfgs)*
        impl ::peephole::DeclaredNetwork for #name {
            const NAME: &'static str = Self::NAME;
            const INPUT: ::peephole::Shape = Self::INPUT;
            const CLASSES: u32 = Self::CLASSES;
            const LAYERS: &'static [::peephole::Layer] = Self::LAYERS;
            const ULC: &'static [::peephole::ulc::UlcCode] = Self::ULC;
            const TEXT: &'static str = Self::TEXT;
            const PARAMS: u64 = Self::PARAMS;
            const MACS: u64 = Self::MACS;
        }
    }
}

/// The constant values of a network as tokens.
struct Values {
    input: [Literal; 3],
    classes: Literal,
    layers: Vec<TokenStream>,
    codes: Vec<TokenStream>,
    text: String,
    params: Literal,
    macs: Literal,
}

impl Values {
    fn of(lowered: &Lowered) -> Self {
        let network = &lowered.network;
        Values {
            input: [
                Literal::u32_unsuffixed(network.input.channels),
                Literal::u32_unsuffixed(network.input.height),
                Literal::u32_unsuffixed(network.input.width),
            ],
            classes: Literal::u32_unsuffixed(network.classes),
            layers: network.layers.iter().map(layer).collect(),
            codes: lowered.encoding.codes.iter().map(code).collect(),
            text: network.to_string(),
            params: Literal::u64_unsuffixed(lowered.analysis.params),
            macs: Literal::u64_unsuffixed(lowered.analysis.macs),
        }
    }

    fn placeholder() -> Self {
        let zero = || Literal::u32_unsuffixed(0);
        Values {
            input: [zero(), zero(), zero()],
            classes: zero(),
            layers: Vec::new(),
            codes: Vec::new(),
            text: String::new(),
            params: zero(),
            macs: zero(),
        }
    }
}

/// A layer as a `::peephole::Layer` expression. `Layer`'s variants are named after their
/// `LayerKind` and `Padding`'s after themselves (core's tests hold it), so the names come
/// from the IR instead of a table of our own.
fn layer(layer: &Layer) -> TokenStream {
    let variant = format_ident!("{}", format!("{:?}", layer.kind()));
    let Some((kernel, stride, padding)) = layer.window() else {
        return quote!(::peephole::Layer::#variant);
    };
    let (width, height, stride) = (
        Literal::u32_unsuffixed(kernel.width),
        Literal::u32_unsuffixed(kernel.height),
        Literal::u32_unsuffixed(stride),
    );
    let padding = format_ident!("{}", format!("{padding:?}"));
    let channels = layer.out_channels().map(|channels| {
        let channels = Literal::u32_unsuffixed(channels);
        quote!(out_channels: #channels,)
    });
    quote!(::peephole::Layer::#variant {
        kernel: ::peephole::Kernel { width: #width, height: #height },
        #channels
        stride: #stride,
        padding: ::peephole::Padding::#padding
    })
}

fn code(code: &UlcCode) -> TokenStream {
    let [ty, kw, kh, ch] = code.fields().map(Literal::u8_unsuffixed);
    quote!(::peephole::ulc::UlcCode { ty: #ty, kw: #kw, kh: #kh, ch: #ch })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(source: &str) -> String {
        let decl: Declaration = syn::parse_str(source).expect("parses");
        declaration(&decl, Mode::Declare).to_string()
    }

    #[test]
    fn expansion_is_valid_rust_with_computed_constants() {
        let out = expand(
            "/// Docs.
             pub struct LeNet: [1, 28, 28] -> 10 { conv(5x5, 6), relu, relu, maxpool(2, stride = 2) }",
        );
        syn::parse_str::<syn::File>(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
        assert!(out.contains("pub struct LeNet"));
        assert!(out.contains(
            r#"TEXT : & 'static str = "[1x28x28] conv5x5:6 relu relu maxpool2x2/2 -> 10""#
        ));
        assert!(
            out.contains("UlcCode { ty : 1 , kw : 5 , kh : 5 , ch : 8 }"),
            "{out}"
        );
        // The second relu follows the first (stacked_activations):
        // a warning is emitted as a deprecated item.
        assert!(out.contains("deprecated"), "{out}");
    }

    #[test]
    fn errors_keep_the_type_and_report_every_network() {
        let out = expand(
            "struct A: [1, 8, 8] -> 10 { conv(3, 0) }
             struct B: [1, 8, 8] -> 10 { dropout }
             struct C [1, 8, 8] -> 10 { relu }
             struct D: [1, 8, 8] -> 10 { relu }",
        );
        syn::parse_str::<syn::File>(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
        assert_eq!(out.matches("compile_error").count(), 3, "{out}");
        for name in ["struct A", "struct B", "struct D"] {
            assert!(out.contains(name), "{name} missing");
        }
    }

    #[test]
    fn an_empty_call_is_an_error() {
        assert!(expand("").contains("compile_error"));
    }
}

//! The declaration's syntax tree: what the user wrote, with every span, before any meaning.
//!
//! Parsing is deliberately permissive below the network header: a layer is any word with
//! optional arguments, an argument any literal or word, so that *lowering* can say precisely
//! what is wrong with each one and report all of them at once. Pieces that do not even parse
//! are kept as errors in place ([`syn::Result`] items) instead of ending the parse, for the
//! same reason.

use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::parse::discouraged::Speculative;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Attribute, Ident, Lit, Token, Visibility, braced, bracketed, parenthesized, token};

/// Everything inside one `network! { ... }` call: one or more networks.
pub struct Declaration {
    /// Networks in declaration order; a network whose header did not parse is an error here.
    pub networks: Vec<syn::Result<NetworkDecl>>,
}

/// `/// docs  #[peephole(...)]  pub struct Name: [C, H, W] -> N { layers }`.
pub struct NetworkDecl {
    /// Outer attributes, doc comments included.
    pub attrs: Vec<Attribute>,
    /// Visibility of the generated type.
    pub vis: Visibility,
    /// Name of the generated type.
    pub name: Ident,
    /// `[C, H, W]`.
    pub input: InputShape,
    /// The class count of the implied head.
    pub classes: Value,
    /// Body layers in order, each parsed on its own.
    pub layers: Vec<syn::Result<LayerDecl>>,
}

/// `[C, H, W]`: the input shape, one value per comma-separated slot.
pub struct InputShape {
    /// The brackets, for errors about the shape as a whole.
    pub bracket: token::Bracket,
    /// The slots as written.
    pub dims: Vec<syn::Result<Value>>,
}

/// One body layer: `#[peephole(...)] conv(3x3, 16, stride = 2)` or `relu`.
pub struct LayerDecl {
    /// Outer attributes (only `#[peephole(allow(...))]` and doc comments mean something).
    pub attrs: Vec<Attribute>,
    /// The layer word: `conv`, `maxpool`, `relu`, ...
    pub name: Ident,
    /// Parenthesised arguments, if any were written.
    pub args: Option<Args>,
}

/// `( ... )` after a layer word.
pub struct Args {
    /// The parentheses, for errors about missing arguments.
    pub paren: token::Paren,
    /// Arguments in order, each parsed on its own.
    pub items: Vec<syn::Result<Arg>>,
}

/// One argument of a layer.
pub enum Arg {
    /// `3x3`, `16`.
    Positional(Value),
    /// `stride = 2`, `padding = same`.
    Named {
        /// Argument name.
        name: Ident,
        /// The `=`.
        eq: Token![=],
        /// Its value.
        value: Value,
    },
}

/// A value as written: what it means (kernel, channel count, padding word) is decided when
/// lowering, where the layer it belongs to is known.
pub enum Value {
    /// A literal: `3`, `16`, or a kernel `3x1` (Rust lexes that as the integer 3 with the
    /// suffix `x1`).
    Lit(Lit),
    /// A kernel written with spaces: `3 x 1`.
    Product {
        /// Left factor (width).
        width: Lit,
        /// The `x`.
        x: Ident,
        /// Right factor (height).
        height: Lit,
    },
    /// A word: `same`, `valid`.
    Word(Ident),
}

impl Parse for Declaration {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut networks = Vec::new();
        while !input.is_empty() {
            let fork = input.fork();
            match fork.parse::<NetworkDecl>() {
                Ok(network) => {
                    input.advance_to(&fork);
                    networks.push(Ok(network));
                }
                Err(error) => {
                    // Skip to the end of this network's body so the next one still gets
                    // checked: every malformed declaration should be reported at once.
                    skip_past_brace_group(input)?;
                    networks.push(Err(error));
                }
            }
        }
        Ok(Declaration { networks })
    }
}

fn skip_past_brace_group(input: ParseStream) -> syn::Result<()> {
    while !input.is_empty() {
        let tree: TokenTree = input.parse()?;
        if let TokenTree::Group(group) = tree
            && group.delimiter() == Delimiter::Brace
        {
            break;
        }
    }
    Ok(())
}

impl Parse for NetworkDecl {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        // `struct`, `:` and `->` only make the declaration read like the item it generates
        // and like the data flow; they carry no meaning, so the tree does not keep them.
        expect::<Token![struct]>(input)?;
        let name = expect(input)?;
        expect::<Token![:]>(input)?;
        let shape;
        if !input.peek(token::Bracket) {
            return Err(with_usage(
                input.error("expected the input shape `[C, H, W]`"),
            ));
        }
        let bracket = bracketed!(shape in input);
        let dims = comma_separated(&shape, "an input extent", Value::parse)?;
        expect::<Token![->]>(input)?;
        let classes = expect(input)?;
        let body;
        if !input.peek(token::Brace) {
            return Err(with_usage(input.error("expected `{` and the layers")));
        }
        braced!(body in input);
        let layers = comma_separated(&body, "a layer", LayerDecl::parse)?;
        Ok(NetworkDecl {
            attrs,
            vis,
            name,
            input: InputShape { bracket, dims },
            classes,
            layers,
        })
    }
}

/// How a network declaration reads, appended to errors in its header.
const NETWORK_USAGE: &str =
    "a network reads `struct Name: [channels, height, width] -> classes { layers }`";

fn with_usage(error: syn::Error) -> syn::Error {
    syn::Error::new(error.span(), format!("{error}; {NETWORK_USAGE}"))
}

/// Parses the next header piece, explaining the whole header shape if it is not there.
fn expect<T: Parse>(input: ParseStream) -> syn::Result<T> {
    input.parse().map_err(with_usage)
}

impl Parse for LayerDecl {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let name = input.parse()?;
        let args = if input.peek(token::Paren) {
            let content;
            let paren = parenthesized!(content in input);
            let items = comma_separated(&content, "an argument", Arg::parse)?;
            Some(Args { paren, items })
        } else {
            None
        };
        Ok(LayerDecl { attrs, name, args })
    }
}

impl Parse for Arg {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(Ident) && input.peek2(Token![=]) {
            Ok(Arg::Named {
                name: input.parse()?,
                eq: input.parse()?,
                value: input.parse()?,
            })
        } else {
            Ok(Arg::Positional(input.parse()?))
        }
    }
}

impl Parse for Value {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(Lit) {
            let width: Lit = input.parse()?;
            let x_follows = input
                .fork()
                .parse::<Ident>()
                .is_ok_and(|ident| ident == "x");
            if x_follows && input.peek2(Lit) {
                return Ok(Value::Product {
                    width,
                    x: input.parse()?,
                    height: input.parse()?,
                });
            }
            Ok(Value::Lit(width))
        } else if input.peek(Ident) {
            Ok(Value::Word(input.parse()?))
        } else {
            Err(input.error(
                "expected a number such as `16`, a kernel such as `3x3`, or a word such as `same`",
            ))
        }
    }
}

/// Parses a comma-separated list item by item with `parse`, so one bad item neither hides
/// the others nor shifts their meaning: after an error the rest of that item is skipped up to
/// the next top-level comma. A trailing comma is allowed; an empty item (`a,,b`) is an error
/// at its comma.
fn comma_separated<T>(
    input: ParseStream,
    what: &str,
    parse: fn(ParseStream) -> syn::Result<T>,
) -> syn::Result<Vec<syn::Result<T>>> {
    let mut items = Vec::new();
    while !input.is_empty() {
        if input.peek(Token![,]) {
            let comma: Token![,] = input.parse()?;
            items.push(Err(syn::Error::new(
                comma.span,
                format!("expected {what} before this comma"),
            )));
            continue;
        }
        let fork = input.fork();
        let item = parse(&fork).and_then(|value| {
            if fork.is_empty() || fork.peek(Token![,]) {
                Ok(value)
            } else {
                Err(fork.error("unexpected token; expected `,` or the end of the list"))
            }
        });
        match item {
            Ok(value) => {
                input.advance_to(&fork);
                items.push(Ok(value));
            }
            Err(error) => {
                while !input.is_empty() && !input.peek(Token![,]) {
                    input.parse::<TokenTree>()?;
                }
                items.push(Err(error));
            }
        }
        if !input.is_empty() {
            input.parse::<Token![,]>()?;
        }
    }
    Ok(items)
}

impl Value {
    /// The span of the whole value, for errors.
    pub fn span(&self) -> Span {
        match self {
            Value::Lit(lit) => lit.span(),
            Value::Product { width, .. } => width.span(),
            Value::Word(word) => word.span(),
        }
    }
}

impl ToTokens for Value {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        match self {
            Value::Lit(lit) => lit.to_tokens(tokens),
            Value::Product { width, x, height } => {
                width.to_tokens(tokens);
                x.to_tokens(tokens);
                height.to_tokens(tokens);
            }
            Value::Word(word) => word.to_tokens(tokens),
        }
    }
}

impl ToTokens for Arg {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        match self {
            Arg::Positional(value) => value.to_tokens(tokens),
            Arg::Named { name, eq, value } => {
                name.to_tokens(tokens);
                eq.to_tokens(tokens);
                value.to_tokens(tokens);
            }
        }
    }
}

/// Prints the layer back (without attributes) so errors can span all of `conv(5x5, 6)`.
impl ToTokens for LayerDecl {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        self.name.to_tokens(tokens);
        if let Some(args) = &self.args {
            args.paren.surround(tokens, |inner| {
                let parsed: Punctuated<&Arg, Token![,]> = args
                    .items
                    .iter()
                    .filter_map(|item| item.as_ref().ok())
                    .collect();
                parsed.to_tokens(inner);
            });
        }
    }
}

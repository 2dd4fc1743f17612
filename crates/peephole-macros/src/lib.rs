//! `network!`: declare sequential CNNs in Rust and get Peephole's checks as compiler
//! diagnostics. Use it through the `peephole` facade crate, whose paths the expansion names.
//!
//! The macro is parse -> lower -> check -> expand. The first three live in `peephole_lint`,
//! shared with `cargo peephole check` so that the command line and the build say the same
//! thing; here `warning` turns the warnings into rustc warnings and `expand` writes the code.

mod expand;
mod speed;
mod warning;

use peephole_lint::ast;

/// Declares one or more sequential CNNs and checks them at build time.
///
/// ```text
/// peephole::network! {
///     /// A LeNet-style baseline.
///     pub struct LeNet: [1, 28, 28] -> 10 {
///         #[peephole(allow(ulc_clamp))] conv(5x5, 6), relu, maxpool(2, stride = 2),
///         conv(5x5, 16), bn, relu, maxpool(2, stride = 2),
///     }
/// }
/// ```
///
/// A network is `struct NAME: [channels, height, width] -> classes { layers }`: the input
/// flows through the layers into the implied head (global average pool + linear to
/// `classes`). Layers, separated by commas:
///
/// | layer | arguments |
/// |---|---|
/// | `conv(K, C)` | kernel `K`, output channels `C`; optional `stride = S`, `padding = same \| valid` |
/// | `maxpool(K)`, `avgpool(K)` | kernel `K`; optional `stride = S`, `padding = same \| valid` |
/// | `relu`, `sigmoid`, `tanh`, `bn` | none (`bn` is BatchNorm) |
///
/// A kernel is `3` (square), `3x1` or `3 x 1` (**width x height**, as in the text form; note
/// PyTorch's `kernel_size=(h, w)` is the other way round). Like the text form, the stride
/// defaults to 1 and the padding to `same` at stride 1 and `valid` above, so `maxpool(2)`
/// keeps the size: write `maxpool(2, stride = 2)` to halve it.
///
/// For each network the macro generates a unit struct (deriving `Debug, Clone, Copy,
/// PartialEq, Eq, Hash, Default`) with `NAME`, `INPUT`, `CLASSES`, `LAYERS`, `ULC`, `TEXT`,
/// `PARAMS`, `MACS` and `fn network() -> peephole::Network`, and implements
/// `peephole::DeclaredNetwork`. Doc comments and other attributes go onto the struct
/// (`#[cfg]` onto everything generated).
///
/// Problems are reported at the offending token: malformed declarations and networks whose
/// feature map shrinks to nothing are errors; the rule lints of `peephole_lint::lints` are
/// warnings (`warning: use of deprecated function `…::peephole::NAME`: MESSAGE`). Opt out
/// with `#[peephole(allow(NAME, ...))]` on a network or on a layer.
#[proc_macro]
pub fn network(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    let declaration = syn::parse_macro_input!(input as ast::Declaration);
    expand::declaration(&declaration, peephole_lint::check::Mode::Declare).into()
}

/// Declares networks exactly like [`network!`] and also checks each one with the Peephole
/// predictor at build time: a network whose predicted final accuracy is below the threshold
/// gets a `peephole::predicted_accuracy` warning at its name, with the prediction and its
/// spread, the threshold, where it falls among the zoo's trained networks, and the
/// single-layer edit predicted to help most. A network the model cannot vouch for (other
/// images or classes than its protocol's, codes or lengths never seen in training) gets the
/// same warning with a note saying so, whatever its prediction.
///
/// ```text
/// peephole::peephole_check! {
///     #[peephole(min_accuracy = 0.85)]          // default: the zoo's 25th percentile
///     #[peephole(model = "models/mine.onnx")]   // default: $PEEPHOLE_MODEL, else embedded
///     pub struct Small: [1, 28, 28] -> 10 { conv(3, 16), bn, relu, maxpool(2, stride = 2) }
/// }
/// ```
///
/// The default predictor is embedded (no files, no libtorch). `model = "path"` (relative to
/// the crate's `Cargo.toml`) or the `PEEPHOLE_MODEL` environment variable choose another; the
/// build reruns when either changes. Silence the check with
/// `#[peephole(allow(predicted_accuracy))]`.
#[proc_macro]
pub fn peephole_check(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    let declaration = syn::parse_macro_input!(input as ast::Declaration);
    expand::declaration(&declaration, peephole_lint::check::Mode::Check).into()
}

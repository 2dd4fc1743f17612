//! Peephole: predict how well a CNN will train before training it. Declare a network in Rust
//! with [`network!`] and `cargo build` tells you what is wrong with it.
//!
//! ```
//! peephole::network! {
//!     /// A LeNet-style baseline.
//!     #[peephole(allow(ulc_clamp))]
//!     pub struct LeNet: [1, 28, 28] -> 10 {
//!         conv(5x5, 6), relu, maxpool(2, stride = 2),
//!         conv(5x5, 16), bn, relu, maxpool(2, stride = 2),
//!     }
//! }
//!
//! assert_eq!(
//!     LeNet::TEXT,
//!     "[1x28x28] conv5x5:6 relu maxpool2x2/2 conv5x5:16 bn relu maxpool2x2/2 -> 10"
//! );
//! assert_eq!(LeNet::ULC[0].fields(), [1, 5, 5, 8]);
//! assert_eq!(LeNet::network().analyze().unwrap().params, LeNet::PARAMS);
//! ```
//!
//! The facade is the one crate users depend on: the macro's expansion names only
//! `::peephole::...` paths, and the `tch` feature adds `peephole::train` without the lint ever
//! needing libtorch.

#![warn(missing_docs)]

#[doc(inline)]
pub use peephole_macros::{network, peephole_check};

// The IR, the encoder and the text form, so that users (and the macro's expansion) need only
// this crate. The lints run inside the macros; their documentation is `cargo peephole explain
// --lint NAME`.
pub use peephole_ir::{
    Analysis, Kernel, Layer, LayerKind, Network, Padding, Shape, ShapeError, text, ulc,
};

/// A network declared with [`network!`]: what every generated type provides, so generic code
/// (reports, training loops, the `tch` constructor) can take any declared network.
///
/// The generated types also have these as inherent items, so `LeNet::ULC` works without
/// importing this trait.
pub trait DeclaredNetwork {
    /// The name as declared.
    const NAME: &'static str;
    /// Shape of one input image.
    const INPUT: Shape;
    /// Classes of the implied head.
    const CLASSES: u32;
    /// Body layers in order.
    const LAYERS: &'static [Layer];
    /// ULC v1 codes of the body layers, computed at build time.
    const ULC: &'static [ulc::UlcCode];
    /// The one-line text form.
    const TEXT: &'static str;
    /// Trainable parameters of body and head.
    const PARAMS: u64;
    /// Multiply-accumulates per image of body and head.
    const MACS: u64;

    /// The network as IR, rebuilt from the constants (the IR owns a `Vec`, so it cannot be
    /// a constant itself).
    fn network() -> Network {
        Network {
            input: Self::INPUT,
            layers: Self::LAYERS.to_vec(),
            classes: Self::CLASSES,
        }
    }
}

/// Training side, only with the `tch` feature: builds declared networks as libtorch modules
/// through peephole-train, so the declaration and the lints never need libtorch.
///
/// ```ignore
/// use peephole::train::{TchModule, tch};
/// let vs = tch::nn::VarStore::new(tch::Device::Cpu);
/// let module = LeNet::tch_module(&vs.root())?;
/// ```
#[cfg(feature = "tch")]
pub mod train {
    use crate::{DeclaredNetwork, Network, ShapeError};

    pub use peephole_train::module::TchNetwork;
    /// The `tch` version peephole-train is built against; use it to get matching types.
    pub use tch;

    /// Builds any IR network as a trainable module under `path` (the protocol's
    /// initialisation); fails only for a network that does not analyse.
    pub fn module_for(network: &Network, path: &tch::nn::Path) -> Result<TchNetwork, ShapeError> {
        TchNetwork::new(path, network)
    }

    /// `LeNet::tch_module(&vs.root())` for every declared network. A blanket trait rather
    /// than generated code, because the macro cannot see which features the facade has.
    pub trait TchModule: DeclaredNetwork {
        /// Builds this network as a trainable module under `path`.
        fn tch_module(path: &tch::nn::Path) -> Result<TchNetwork, ShapeError> {
            module_for(&Self::network(), path)
        }
    }

    impl<N: DeclaredNetwork> TchModule for N {}
}

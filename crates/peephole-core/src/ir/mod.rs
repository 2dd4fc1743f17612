//! The architecture IR: the one description of a network that the macro, the generator, the
//! encoder, the lints and the trainer all share.

mod layer;
mod network;

pub use layer::{Kernel, Layer, LayerKind, Padding};
pub use network::{Analysis, LayerShape, Network, Shape, ShapeError};

//! Concrete datasets: where their files live and how a split of them becomes normalized
//! tensors' worth of `f32`, built on the readers in [`crate::format`].

pub mod fashion_mnist;

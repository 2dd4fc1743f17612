//! Dataset file formats (IDX, CIFAR-10 binary) and the loading of fixed data splits for
//! Peephole, in pure Rust so the readers can be tested and fuzzed without libtorch.
//!
//! Data flows `format` (bytes -> `u8` arrays) -> `dataset` (files on disk -> normalized split).
//! The split parameters themselves (which items, which mean and std) belong to the protocol
//! definitions elsewhere and are passed in.

#![warn(missing_docs)]

pub mod dataset;
pub mod error;
pub mod format;

pub use dataset::fashion_mnist::{
    DATA_DIR_ENV, FASHION_MNIST_CLASSES, FASHION_MNIST_FILES, FASHION_MNIST_SIDE, FashionMnistFile,
    FashionMnistFiles, ImageSplit, SYSTEM_DATA_DIR, SplitSpec, load_fashion_mnist_split,
    locate_fashion_mnist, locate_fashion_mnist_in, normalize_pixel, normalize_pixels, search_dirs,
};
pub use error::{DataError, IdxProblem, MEMORY_SOURCE};
pub use format::cifar::{
    CIFAR10_CHANNELS, CIFAR10_CLASSES, CIFAR10_IMAGE_LEN, CIFAR10_RECORD_LEN, CIFAR10_SIDE,
    CifarBatch, parse_cifar10, read_cifar10_batch,
};
pub use format::idx::{
    IDX_TYPE_U8, IdxArray, MAX_IDX_DIMS, parse_idx, parse_idx_limited, read_idx, read_idx_from,
    read_idx_limited,
};

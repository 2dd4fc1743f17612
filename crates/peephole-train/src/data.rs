//! Protocol data as tensors: loads a protocol's fixed splits once and keeps them on the
//! training device.

use peephole_data::{DataError, FashionMnistFile, ImageSplit, SplitSpec, load_fashion_mnist_split};
use peephole_ir::protocol::{Dataset, Protocol, SourceFile, Split};
use tch::{Device, Tensor};
use thiserror::Error;

/// Why a protocol's data cannot be loaded.
#[derive(Debug, Error)]
pub enum ProtocolDataError {
    /// The files are missing or malformed.
    #[error(transparent)]
    Data(#[from] DataError),
    /// This build has no loader for the protocol's dataset yet.
    #[error(
        "protocol {protocol}: loading {dataset:?} is not supported by this build (only Fashion-MNIST)"
    )]
    Unsupported {
        /// Protocol name.
        protocol: &'static str,
        /// Its dataset.
        dataset: Dataset,
    },
}

/// One split as tensors: images `N x C x H x W` (f32, normalised) and labels `N` (i64).
#[derive(Debug)]
pub struct TensorSplit {
    /// Images.
    pub images: Tensor,
    /// Labels.
    pub labels: Tensor,
}

impl TensorSplit {
    /// Number of images.
    pub fn len(&self) -> i64 {
        self.labels.size()[0]
    }

    /// True when the split holds no image.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Converts a loaded split to tensors on `device`.
    pub fn from_split(split: &ImageSplit, device: Device) -> Self {
        let shape = split.shape().map(|d| d as i64);
        let images = Tensor::from_slice(&split.images)
            .reshape(shape)
            .to_device(device);
        let labels: Vec<i64> = split.labels.iter().map(|&l| i64::from(l)).collect();
        TensorSplit {
            images,
            labels: Tensor::from_slice(&labels).to_device(device),
        }
    }

    /// A second handle to the same storage, for another thread (tensors are `Send`, not `Sync`).
    pub fn shallow_clone(&self) -> Self {
        TensorSplit {
            images: self.images.shallow_clone(),
            labels: self.labels.shallow_clone(),
        }
    }

    /// The first `count` images, for quick tests.
    pub fn head(&self, count: i64) -> TensorSplit {
        let count = count.min(self.len());
        TensorSplit {
            images: self.images.narrow(0, 0, count),
            labels: self.labels.narrow(0, 0, count),
        }
    }
}

fn spec(protocol: &Protocol, split: Split) -> SplitSpec {
    SplitSpec {
        file: match split.source {
            SourceFile::Train => FashionMnistFile::Train,
            SourceFile::Test => FashionMnistFile::Test,
        },
        first: split.count,
        mean: protocol.mean[0],
        std: protocol.std[0],
    }
}

/// Loads a protocol's training and validation splits onto `device`.
pub fn load_protocol_data(
    protocol: &Protocol,
    device: Device,
) -> Result<(TensorSplit, TensorSplit), ProtocolDataError> {
    if protocol.dataset != Dataset::FashionMnist {
        return Err(ProtocolDataError::Unsupported {
            protocol: protocol.name,
            dataset: protocol.dataset,
        });
    }
    let train = load_fashion_mnist_split(&spec(protocol, protocol.train))?;
    let validation = load_fashion_mnist_split(&spec(protocol, protocol.validation))?;
    Ok((
        TensorSplit::from_split(&train, device),
        TensorSplit::from_split(&validation, device),
    ))
}

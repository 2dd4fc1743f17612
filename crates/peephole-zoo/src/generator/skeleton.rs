//! Skeletons: the fixed frame (stem, stages, downsampling, head) a block is repeated in.

use serde::{Deserialize, Serialize};

use super::block::Block;
use peephole_ir::{Kernel, Layer, Network, Shape};

/// A named skeleton; the name is part of a protocol's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Skeleton {
    /// `fmnist-v1`: 1x28x28 input, stem to 16 channels at 14x14, three stages of widths 16,
    /// 32, 64 each followed by a stride-2 max pool, head to 10 classes.
    #[serde(rename = "fmnist-v1")]
    FmnistV1,
}

impl Skeleton {
    /// The name used in records, cards and on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            Skeleton::FmnistV1 => "fmnist-v1",
        }
    }

    /// Looks a skeleton up by name.
    pub fn from_name(name: &str) -> Option<Self> {
        (name == "fmnist-v1").then_some(Skeleton::FmnistV1)
    }

    /// The skeleton `protocol` generates its zoo networks in, `None` for a protocol without
    /// one (or naming one this build does not know).
    pub fn of_protocol(protocol: &peephole_ir::protocol::Protocol) -> Option<Self> {
        protocol.skeleton.and_then(Skeleton::from_name)
    }

    /// Shape of one input image.
    pub const fn input(self) -> Shape {
        match self {
            Skeleton::FmnistV1 => Shape::new(1, 28, 28),
        }
    }

    /// Number of classes of the head.
    pub const fn classes(self) -> u32 {
        match self {
            Skeleton::FmnistV1 => 10,
        }
    }

    /// Nominal width of each stage.
    pub const fn stage_widths(self) -> &'static [u32] {
        match self {
            Skeleton::FmnistV1 => &[16, 32, 64],
        }
    }

    /// The stem's layers.
    pub fn stem(self) -> Vec<Layer> {
        match self {
            Skeleton::FmnistV1 => vec![
                Layer::conv(Kernel::square(3), 16, 1),
                Layer::BatchNorm,
                Layer::Relu,
                Layer::max_pool(Kernel::square(2), 2),
            ],
        }
    }

    /// Builds the whole network for a block: stem, then per stage the block, a 1x1
    /// adaptation conv when the block's width differs from the stage's, and a stride-2 pool.
    pub fn assemble(self, block: &Block) -> Network {
        let mut layers = self.stem();
        let mut width = self.stem_width();
        for &stage_width in self.stage_widths() {
            let (block_layers, block_width) = block.instantiate(width);
            layers.extend(block_layers);
            if block_width != stage_width {
                layers.push(Layer::conv(Kernel::square(1), stage_width, 1));
            }
            layers.push(Layer::max_pool(Kernel::square(2), 2));
            width = stage_width;
        }
        Network {
            input: self.input(),
            layers,
            classes: self.classes(),
        }
    }

    fn stem_width(self) -> u32 {
        match self {
            Skeleton::FmnistV1 => 16,
        }
    }
}

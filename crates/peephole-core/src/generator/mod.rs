//! Generator v1: random networks for the zoo, a block from the Markov chain placed in a
//! skeleton, thrown back when it is too expensive.

mod block;
mod skeleton;

pub use block::{
    BATCH_NORM_PROBABILITY, Block, BlockLayer, CONV_KERNELS, ChannelRatio, DRAW_ORDER, Draw,
    GENERATOR_VERSION, MAX_BLOCK_CONVS, MAX_BLOCK_LAYERS, POOL_KERNELS, TRANSITIONS, sample_block,
    transition_row,
};
pub use skeleton::Skeleton;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::ir::Network;

/// Most multiply-accumulates per image a generated network may need.
pub const MAX_MACS: u64 = 25_000_000;
/// Widest layer a generated network may have.
pub const MAX_CHANNELS: u32 = 256;

/// A sampled network with the block it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// The block design.
    pub block: Block,
    /// The assembled network.
    pub network: Network,
    /// Multiply-accumulates per image.
    pub macs: u64,
    /// Parameters.
    pub params: u64,
    /// How many blocks the compute filter threw away before this one.
    pub rejected: u32,
}

/// Why the compute filter refuses a network, or `None` when it passes.
pub fn compute_filter(network: &Network) -> Option<String> {
    match network.analyze() {
        Err(error) => Some(format!("invalid network: {error}")),
        Ok(analysis) if analysis.macs > MAX_MACS => Some(format!(
            "{} MACs per image is over {MAX_MACS}",
            analysis.macs
        )),
        Ok(analysis) if analysis.max_channels() > MAX_CHANNELS => Some(format!(
            "a layer has {} channels, over {MAX_CHANNELS}",
            analysis.max_channels()
        )),
        Ok(_) => None,
    }
}

/// Draws blocks until one passes the compute filter in `skeleton`.
pub fn sample_network<R: rand::Rng + ?Sized>(skeleton: Skeleton, rng: &mut R) -> Generated {
    let mut rejected = 0;
    loop {
        let block = sample_block(rng);
        let network = skeleton.assemble(&block);
        if compute_filter(&network).is_none()
            && let Ok(analysis) = network.analyze()
        {
            return Generated {
                block,
                network,
                macs: analysis.macs,
                params: analysis.params,
                rejected,
            };
        }
        rejected += 1;
    }
}

/// The `index`-th network of the stream named by `seed`: each index has its own RNG stream,
/// so sharding and resuming draw exactly the same networks whatever ran before.
pub fn network_at(skeleton: Skeleton, seed: u64, index: u64) -> Generated {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index);
    sample_network(skeleton, &mut rng)
}

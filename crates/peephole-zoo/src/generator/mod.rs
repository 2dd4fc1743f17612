//! The zoo's network generators: v1 (a block from a Markov chain placed in a skeleton) and
//! v2 (free-form networks in hand-written styles), both thrown back when too expensive, and
//! the one interface a zoo run draws through ([`GeneratorChoice`], [`draw`], [`record_id`]).

mod block;
pub mod free_form;
mod skeleton;

pub use block::{
    BATCH_NORM_PROBABILITY, Block, BlockLayer, CONV_KERNELS, ChannelRatio, DRAW_ORDER, Draw,
    GENERATOR_VERSION, MAX_BLOCK_CONVS, MAX_BLOCK_LAYERS, POOL_KERNELS, TRANSITIONS, parse_block,
    sample_block, transition_row,
};
pub use skeleton::Skeleton;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use peephole_ir::Network;

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

/// Which generator drew a network; the name is stored in every zoo record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// `generator-v1` (`shared/spec/generator.md`).
    V1,
    /// `generator-v2` (`shared/spec/generator-v2.md`).
    V2,
}

impl Family {
    /// The name written in records.
    pub const fn name(self) -> &'static str {
        match self {
            Family::V1 => GENERATOR_VERSION,
            Family::V2 => free_form::GENERATOR_V2,
        }
    }

    /// The family a record's `generator` field names.
    pub fn from_name(name: &str) -> Option<Self> {
        [Family::V1, Family::V2]
            .into_iter()
            .find(|family| family.name() == name)
    }
}

/// What a zoo run draws from: one generator, or a mix with a share of v2.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GeneratorChoice {
    /// Every network from this generator.
    Only(Family),
    /// Each index draws v2 with probability `v2_share`, v1 otherwise.
    Mix {
        /// Share of v2 networks, in [0, 1].
        v2_share: f64,
    },
}

/// Why a `--generator` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "generator `{given}`: {reason} (expected v1, v2 or mix:P with P the share of v2 in [0, 1])"
)]
pub struct GeneratorChoiceError {
    /// The value given.
    pub given: String,
    /// What is wrong with it.
    pub reason: String,
}

impl std::str::FromStr for GeneratorChoice {
    type Err = GeneratorChoiceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let error = |reason: &str| GeneratorChoiceError {
            given: s.to_string(),
            reason: reason.to_string(),
        };
        match s.trim() {
            "v1" | GENERATOR_VERSION => Ok(GeneratorChoice::Only(Family::V1)),
            "v2" | free_form::GENERATOR_V2 => Ok(GeneratorChoice::Only(Family::V2)),
            other => {
                let share = other
                    .strip_prefix("mix:")
                    .ok_or_else(|| error("unknown generator"))?;
                let v2_share: f64 = share
                    .parse()
                    .map_err(|_| error("the share after `mix:` is not a number"))?;
                if !(0.0..=1.0).contains(&v2_share) {
                    return Err(error("the share after `mix:` is outside [0, 1]"));
                }
                Ok(GeneratorChoice::Mix { v2_share })
            }
        }
    }
}

impl std::fmt::Display for GeneratorChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GeneratorChoice::Only(Family::V1) => write!(f, "v1"),
            GeneratorChoice::Only(Family::V2) => write!(f, "v2"),
            GeneratorChoice::Mix { v2_share } => write!(f, "mix:{v2_share}"),
        }
    }
}

/// Keeps the mix's coin apart from the generators' own streams.
const MIX_STREAM_KEY: u64 = 0x6d69_785f_7632_0001;

impl GeneratorChoice {
    /// The generator of index `index` of stream `seed`: fixed per (seed, index, share), so a
    /// resumed or sharded mixed run draws the same networks, and a mixed zoo's v2 networks
    /// are exactly the pure v2 zoo's networks at the same indices.
    pub fn family_at(self, seed: u64, index: u64) -> Family {
        match self {
            GeneratorChoice::Only(family) => family,
            GeneratorChoice::Mix { v2_share } => {
                let mut rng = ChaCha8Rng::seed_from_u64(seed ^ MIX_STREAM_KEY);
                rng.set_stream(index);
                if rand::Rng::random_bool(&mut rng, v2_share) {
                    Family::V2
                } else {
                    Family::V1
                }
            }
        }
    }
}

/// A drawn network of either generator, in the form a zoo record needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drawn {
    /// The generator.
    pub family: Family,
    /// The random design in text: v1's block, v2's style summary.
    pub design: String,
    /// The assembled network.
    pub network: Network,
    /// Multiply-accumulates per image.
    pub macs: u64,
    /// Parameters.
    pub params: u64,
    /// Designs the compute filter threw away first.
    pub rejected: u32,
}

/// The `index`-th network of `family`'s stream `seed` (v1 inside `skeleton`; v2 ignores it,
/// its frame is fixed by its spec).
pub fn draw(family: Family, skeleton: Skeleton, seed: u64, index: u64) -> Drawn {
    match family {
        Family::V1 => {
            let generated = network_at(skeleton, seed, index);
            Drawn {
                family,
                design: generated.block.to_string(),
                network: generated.network,
                macs: generated.macs,
                params: generated.params,
                rejected: generated.rejected,
            }
        }
        Family::V2 => {
            let generated = free_form::network_at_v2(seed, index);
            Drawn {
                family,
                design: generated.design.to_string(),
                network: generated.network,
                macs: generated.macs,
                params: generated.params,
                rejected: generated.rejected,
            }
        }
    }
}

/// The id of network `index` of `family`'s stream `seed`: the same network in every zoo
/// that uses it (`s1-000042` for v1, as every committed record; `v2s1-000042` for v2).
pub fn record_id(family: Family, seed: u64, index: u64) -> String {
    match family {
        Family::V1 => format!("s{seed}-{index:06}"),
        Family::V2 => format!("v2s{seed}-{index:06}"),
    }
}

/// A generated network named by its record id: which stream and which index drew it, so a
/// list of ids (a random sample of a zoo to retrain with a second seed) draws exactly the
/// networks those records hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DrawnId {
    /// The generator.
    pub family: Family,
    /// Its stream seed.
    pub seed: u64,
    /// The index in that stream.
    pub index: u64,
}

impl std::str::FromStr for DrawnId {
    type Err = String;

    /// Reads `s1-000042` (v1) or `v2s1-000042` (v2), the inverse of [`record_id`].
    fn from_str(id: &str) -> Result<Self, Self::Err> {
        let (family, rest) = match id.strip_prefix("v2s") {
            Some(rest) => (Family::V2, rest),
            None => match id.strip_prefix('s') {
                Some(rest) => (Family::V1, rest),
                None => {
                    return Err(format!(
                        "`{id}` is no generated network's id (expected s<seed>-<index> or v2s<seed>-<index>)"
                    ));
                }
            },
        };
        let (seed, index) = rest
            .split_once('-')
            .ok_or_else(|| format!("`{id}`: expected a `-` between seed and index"))?;
        let number = |part: &str, what: &str| {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("`{id}`: the {what} `{part}` is not a number"));
            }
            part.parse::<u64>()
                .map_err(|_| format!("`{id}`: the {what} `{part}` is too large"))
        };
        let drawn = DrawnId {
            family,
            seed: number(seed, "seed")?,
            index: number(index, "index")?,
        };
        if drawn.record_id() != id {
            return Err(format!(
                "`{id}` is not written as records write it (`{}`)",
                drawn.record_id()
            ));
        }
        Ok(drawn)
    }
}

impl DrawnId {
    /// The record id this names.
    pub fn record_id(&self) -> String {
        record_id(self.family, self.seed, self.index)
    }
}

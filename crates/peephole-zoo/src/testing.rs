//! Records for tests: real generated networks with chosen accuracy curves.

use crate::ZooRecord;
use crate::generator::{Skeleton, network_at};
use peephole_ir::ulc;

/// A record of generator v1's network number `index` (stream 5) under `id` and `generator`,
/// with a linear 8-epoch curve ending at 0.5 + 0.4 * (index % 10) / 10.
pub fn record(id: &str, generator: &str, index: u64) -> ZooRecord {
    let last = 0.5 + 0.4 * (index % 10) as f64 / 10.0;
    record_with_final(id, generator, index, last)
}

/// As [`record`], ending at `last`.
pub fn record_with_final(id: &str, generator: &str, index: u64, last: f64) -> ZooRecord {
    let curve = (0..8)
        .map(|e| 0.1 + (last - 0.1) * f64::from(e + 1) / 8.0)
        .collect();
    record_with_curve(id, generator, 5, index, curve)
}

/// A record of generator v1's network number `index` of stream `stream` under `id` and
/// `generator`, with `curve` as its validation curve (one training loss of 1.0 per point).
pub fn record_with_curve(
    id: &str,
    generator: &str,
    stream: u64,
    index: u64,
    curve: Vec<f64>,
) -> ZooRecord {
    let generated = network_at(Skeleton::FmnistV1, stream, index);
    let codes = ulc::encode(&generated.network)
        .expect("generated networks encode")
        .codes;
    let train_loss = vec![Some(1.0); curve.len()];
    ZooRecord {
        id: id.into(),
        protocol: "fmnist-budget-v1".into(),
        ulc_version: ulc::ULC_VERSION.into(),
        generator: generator.into(),
        skeleton: "fmnist-v1".into(),
        block: generated.block.to_string(),
        text: generated.network.to_string(),
        network: generated.network,
        ulc: codes,
        ulc_clamps: Vec::new(),
        seed: index,
        curve,
        train_loss,
        params: generated.params,
        macs: generated.macs,
        wall_seconds: 1.0,
        device: "cpu".into(),
        diverged: false,
        tool_version: "test".into(),
    }
}

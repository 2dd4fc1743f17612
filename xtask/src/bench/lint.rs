//! `cargo xtask bench lint`: the predictor's share of `peephole_check!`'s build time, in
//! process and per network, on the networks `bench compile` declares. `bench compile` says how
//! much a build grows; this says where inside the lint that time goes (loading the model, one
//! prediction, the edit search of a poor network), without cargo's noise around it.

use std::time::Instant;

use anyhow::ensure;
use peephole_predictor::Predictor;
use peephole_predictor::edits::rank_edits;
use peephole_predictor::verdict::{Threshold, verdict};

use super::compile::networks;
use super::timing::{self, median};

/// Options of `bench lint`.
#[derive(clap::Args)]
pub struct Args {
    /// Networks (generator v1's first N of the seed), as in `bench compile`.
    #[arg(long, default_value_t = 20)]
    networks: u64,
    /// Generator v1 seed of the networks, as in `bench compile`.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Timed repeats per network and of the model load; the table shows medians.
    #[arg(long, default_value_t = 9)]
    repeats: usize,
}

/// Milliseconds since `start`.
fn ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1e3
}

/// Entry point of `cargo xtask bench lint`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    if !timing::optimized() {
        return timing::rerun_optimized();
    }
    ensure!(
        args.repeats > 0 && args.networks > 0,
        "--repeats and --networks must be positive"
    );
    let mut loads = Vec::with_capacity(args.repeats);
    let mut predictor = None;
    for _ in 0..args.repeats {
        let start = Instant::now();
        predictor = Some(Predictor::embedded()?);
        loads.push(ms(start));
    }
    let predictor = predictor.expect("at least one repeat");
    let threshold = Threshold::default();
    println!(
        "predictor's share of peephole_check! per network (embedded model, default threshold {:.1}%, {} repeats, medians)\n",
        threshold.accuracy(&predictor) * 100.0,
        args.repeats
    );
    println!(
        "| network | layers | predicted | poor | edits scored | prediction (ms) | verdict (ms) |"
    );
    println!("|---|---:|---:|---|---:|---:|---:|");
    let mut total = 0.0;
    let mut poor_total = (0usize, 0.0);
    for (index, network) in networks(args.seed, args.networks).iter().enumerate() {
        let mut predict_times = Vec::with_capacity(args.repeats);
        let mut verdict_times = Vec::with_capacity(args.repeats);
        let mut last = None;
        for _ in 0..args.repeats {
            let start = Instant::now();
            predictor.predict_final_fast(network)?;
            predict_times.push(ms(start));
            let start = Instant::now();
            last = Some(verdict(&predictor, network, threshold)?);
            verdict_times.push(ms(start));
        }
        let checked = last.expect("at least one repeat");
        // The edits the verdict's search scored (counted outside the timed calls).
        let edits = if checked.is_poor() {
            rank_edits(&predictor, network, checked.prediction.mean)?.len()
        } else {
            0
        };
        let time = median(&verdict_times);
        total += time;
        if checked.is_poor() {
            poor_total.0 += 1;
            poor_total.1 += time;
        }
        println!(
            "| Net{index} | {} | {:.1}% | {} | {edits} | {:.2} | {:.2} |",
            network.layers.len(),
            checked.prediction.mean * 100.0,
            if checked.is_poor() { "yes" } else { "no" },
            median(&predict_times),
            time
        );
    }
    let count = args.networks as f64;
    println!(
        "\nmodel load {:.1} ms; verdicts {:.1} ms in all, {:.2} ms per network ({} poor: {:.2} ms each; {} others: {:.2} ms each)",
        median(&loads),
        total,
        total / count,
        poor_total.0,
        if poor_total.0 > 0 {
            poor_total.1 / poor_total.0 as f64
        } else {
            0.0
        },
        args.networks as usize - poor_total.0,
        if (args.networks as usize) > poor_total.0 {
            (total - poor_total.1) / (count - poor_total.0 as f64)
        } else {
            0.0
        },
    );
    println!(
        "build-time budget for this crate: 100 ms + 5 ms per checked network = {:.0} ms (the lint's in-process share: {:.0} ms)",
        100.0 + 5.0 * count,
        median(&loads) + total
    );
    Ok(())
}

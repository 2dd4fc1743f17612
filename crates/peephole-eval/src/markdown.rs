//! An evaluation report as markdown: the per-slice tables `cargo xtask eval` prints, and
//! Peephole's row of every slice in one table for the pages that have room for one (README,
//! the book's summary).

use std::fmt::Write as _;

use peephole_baselines::Scale;

use crate::report::{Difference, Estimate, PEEPHOLE_ID, Report, SliceReport, ThresholdReport};

/// The per-slice tables as markdown, with what each row needed and what the baselines chose.
pub fn markdown(report: &Report) -> String {
    let mut out = String::new();
    let b = &report.baselines;
    let _ = writeln!(
        out,
        "Model card `{}` ({}, accuracy after epoch {}). Split: `{}`. Baselines fitted on the {} train-side networks; the trees chose their setting on the {} validation-side networks.",
        report.card_name, report.protocol, report.epochs, report.split_file, b.train, b.validation
    );
    let _ = writeln!(
        out,
        "The model saw {} networks ({} architectures) of its card's zoo files; scored networks with those architectures are excluded from every row. The card predates this split unless it names it: its own held-out ids decided nothing here.",
        report.model_saw_networks, report.model_saw_architectures
    );
    let _ = writeln!(
        out,
        "Intervals: 95% percentile bootstrap over networks, {} resamples, seed {}; every method on the same resamples.",
        report.bootstrap.resamples, report.bootstrap.seed
    );
    for slice in &report.slices {
        slice_markdown(&mut out, slice);
    }
    baselines_markdown(&mut out, report);
    out
}

/// An estimate with its interval at `digits` decimals; `n/a` where a rank-only method has no
/// such metric, `undefined` where the metric is undefined on the slice.
fn estimate_cell(estimate: Option<Estimate>, digits: usize, scale: Scale) -> String {
    let d = digits;
    match (estimate, scale) {
        (Some(e), _) => match e.interval {
            Some(i) => format!("{:.d$} [{:.d$}, {:.d$}]", e.value, i.low, i.high),
            None => format!("{:.d$}", e.value),
        },
        (None, Scale::RankOnly) => "n/a".into(),
        (None, Scale::Accuracy) => "undefined".into(),
    }
}

/// One slice: its table, the seed-to-seed agreement, the threshold as a classifier and
/// Peephole's tau minus the best baselines'.
fn slice_markdown(out: &mut String, slice: &SliceReport) {
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "### {} (n = {}, {} excluded: the model saw their architecture)",
        slice.label, slice.n, slice.excluded_seen
    );
    let _ = writeln!(out);
    if slice.n == 0 {
        let _ = writeln!(out, "No networks to score.");
        return;
    }
    let _ = writeln!(
        out,
        "| method | MSE | Kendall tau | Spearman | R^2 | tau vs mean of 2 runs | n |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|");
    let pairs = slice.seed_agreement.as_ref().map_or(0, |s| s.n);
    for m in &slice.methods {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            m.label,
            estimate_cell(m.mse, 5, m.scale),
            estimate_cell(m.kendall_tau, 3, Scale::Accuracy),
            estimate_cell(m.spearman, 3, Scale::Accuracy),
            estimate_cell(m.r2, 3, m.scale),
            m.kendall_tau_vs_mean_of_runs
                .map_or("-".into(), |t| format!("{t:.3} (n {pairs})")),
            m.n
        );
    }
    match &slice.seed_agreement {
        Some(s) => {
            let _ = writeln!(
                out,
                "\nSeed-to-seed agreement (tau between two training runs of the same networks): {} on {} network(s).",
                s.kendall_tau
                    .map_or("undefined".into(), |t| format!("{t:.3}")),
                s.n
            );
        }
        None => {
            let _ = writeln!(out, "\nNo second training run covers this slice.");
        }
    }
    if let Some(t) = &slice.threshold {
        threshold_markdown(out, t, slice.n);
    }
    for (what, d) in [
        (
            "best architecture-only baseline",
            &slice.peephole_minus_best_architecture_only,
        ),
        ("best baseline of all", &slice.peephole_minus_best_any),
    ] {
        if let Some(d) = d {
            let _ = writeln!(
                out,
                "Peephole's tau minus the {what} ({}): {}: {}.",
                d.baseline,
                difference_cell(d),
                Standing::of(d).sentence()
            );
        }
    }
}

/// A difference of taus with its interval, signed: `+0.058 [-0.012, +0.125]`.
fn difference_cell(d: &Difference) -> String {
    format!(
        "{:+.3} {}",
        d.value,
        d.interval.map_or("(no interval)".into(), |i| format!(
            "[{:+.3}, {:+.3}]",
            i.low, i.high
        ))
    )
}

/// Where Peephole stands against a baseline: only an interval that excludes 0 says one side is
/// ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    Ahead,
    Behind,
    Tie,
}

impl Standing {
    /// The standing a difference of taus (Peephole minus a baseline) gives.
    fn of(d: &Difference) -> Standing {
        match d.interval {
            Some(i) if i.low > 0.0 => Standing::Ahead,
            Some(i) if i.high < 0.0 => Standing::Behind,
            _ => Standing::Tie,
        }
    }

    /// As a sentence's end.
    fn sentence(self) -> &'static str {
        match self {
            Standing::Ahead => "Peephole ahead",
            Standing::Behind => "Peephole behind",
            Standing::Tie => "a tie (the interval contains 0)",
        }
    }

    /// In a table cell.
    fn short(self) -> &'static str {
        match self {
            Standing::Ahead => "ahead",
            Standing::Behind => "behind",
            Standing::Tie => "a tie",
        }
    }
}

/// Peephole's row of every slice in one table, for a page that has room for one table (README,
/// the book's summary): its tau, Spearman and R^2 with intervals, its tau against the best
/// architecture-only baseline and the best of all, and the lint's threshold as a classifier.
pub fn summary_markdown(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Model `{}` ({}, accuracy after epoch {}) on the test side of `{}` and the reference set; 95% bootstrap intervals over networks ({} resamples, seed {}).",
        report.card_name,
        report.protocol,
        report.epochs,
        report.split_file,
        report.bootstrap.resamples,
        report.bootstrap.seed
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| slice | n | Kendall tau | Spearman | R^2 | tau minus the best architecture-only baseline | tau minus the best baseline of all | the lint's warning: recall, false alarms |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---|---|---|");
    let against = |d: &Option<Difference>| {
        d.as_ref().map_or("-".into(), |d| {
            format!(
                "{} ({}): {}",
                difference_cell(d),
                d.baseline,
                Standing::of(d).short()
            )
        })
    };
    for slice in &report.slices {
        let Some(m) = slice.methods.iter().find(|m| m.id == PEEPHOLE_ID) else {
            continue;
        };
        let warning = slice.threshold.as_ref().map_or("-".into(), |t| {
            let share =
                |e: Option<Estimate>| e.map_or("undefined".into(), |e| format!("{:.2}", e.value));
            format!("{}, {}", share(t.recall), share(t.false_alarm_rate))
        });
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {warning} |",
            slice.label,
            slice.n,
            estimate_cell(m.kendall_tau, 3, Scale::Accuracy),
            estimate_cell(m.spearman, 3, Scale::Accuracy),
            estimate_cell(m.r2, 3, m.scale),
            against(&slice.peephole_minus_best_architecture_only),
            against(&slice.peephole_minus_best_any),
        );
    }
    out
}

/// The lint's default threshold as a classifier on a slice of `n` networks.
fn threshold_markdown(out: &mut String, t: &ThresholdReport, n: usize) {
    let share = |e: Option<Estimate>| match e {
        Some(e) => match e.interval {
            Some(i) => format!("{:.2} [{:.2}, {:.2}]", e.value, i.low, i.high),
            None => format!("{:.2}", e.value),
        },
        None => "undefined".into(),
    };
    let _ = writeln!(
        out,
        "The lint's default threshold (zoo percentile {:.0}, accuracy {:.3}) as a classifier: {} of {} networks truly below it, {} flagged; recall {}, false-alarm rate {}{}.",
        t.percentile,
        t.accuracy,
        t.truly_poor,
        n,
        t.flagged,
        share(t.recall),
        share(t.false_alarm_rate),
        t.wrong_warnings.map_or(String::new(), |w| format!(
            ", {:.0}% of its warnings wrong",
            w * 100.0
        ))
    );
}

/// What the baselines read and chose, and how many scored networks lie outside the model's
/// training ranges.
fn baselines_markdown(out: &mut String, report: &Report) {
    let b = &report.baselines;
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "nu-SVR and last seen read epochs 1-{} of {} of each scored network's own training; the other rows read the architecture only.",
        b.prefix_epochs, report.epochs
    );
    let _ = writeln!(
        out,
        "nu-SVR: C = {}, nu = {}, gamma = {:.4} ({}-fold CV MSE {:.5}). Ridge: lambda = {} (CV MSE {:.5}). Trees: {} rounds, learning rate {}, depth {}, min leaf weight {} (validation MSE {:.5} on {} networks, best of {} settings).",
        b.svr.params.c,
        b.svr.params.nu,
        b.svr.params.gamma,
        b.folds,
        b.svr.cv_mse,
        b.ridge.lambda,
        b.ridge.cv_mse,
        b.gbt.params.iterations,
        b.gbt.params.learning_rate,
        b.gbt.params.max_depth,
        b.gbt.params.min_leaf_weight,
        b.gbt.validation_mse,
        b.gbt.validation,
        b.gbt.tried
    );
    let outside = report
        .networks
        .iter()
        .filter(|n| !n.peephole_notes.is_empty())
        .count();
    if outside > 0 {
        let _ = writeln!(
            out,
            "Peephole: {outside} of {} scored networks have layers or lengths outside its training ranges (see peephole_notes in eval.json).",
            report.networks.len()
        );
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use peephole_metrics::bootstrap::Interval;

    use super::*;
    use crate::inputs::Seen;
    use crate::report::Difference;
    use crate::testing::{run_on, zoo};

    #[test]
    fn a_difference_whose_interval_holds_zero_is_called_a_tie() {
        let records = zoo();
        let (_, mut evaluation) = run_on(&records, &Seen::default(), &HashMap::new());
        let slice = &mut evaluation.report.slices[0];
        slice.peephole_minus_best_architecture_only = Some(Difference {
            baseline: "gbt".into(),
            value: 0.02,
            interval: Some(Interval {
                low: -0.05,
                high: 0.09,
                defined: 200,
            }),
        });
        let table = markdown(&evaluation.report);
        assert!(
            table.contains("best architecture-only baseline (gbt): +0.020 [-0.050, +0.090]: a tie (the interval contains 0)."),
            "{table}"
        );
        let summary = summary_markdown(&evaluation.report);
        assert!(
            summary.contains("| +0.020 [-0.050, +0.090] (gbt): a tie |"),
            "{summary}"
        );
    }
}

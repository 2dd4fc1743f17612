//! "Will this network train at all?", measured: per slice, how well each method separates the
//! runs that stay at chance ([`Protocol::stays_at_chance`]) from those that train, as AUC and
//! Brier score with bootstrap intervals and a reliability table.
//!
//! The baselines see what a before-training predictor sees, the architecture's hand features,
//! and are fitted on the same split: logistic regression (penalty by cross-validation on the
//! train side) and gradient-boosted trees (setting by validation Brier score); a constant at
//! the train side's base rate is the floor every Brier score is read against. Every training
//! run is a label of its own, so a network trained with two seeds counts twice, each run with
//! its own outcome. A regression predictor's predicted accuracy can be scored too, as a
//! ranking only (AUC of the negated accuracy): it answers no probability.

use std::collections::HashMap;

use peephole_baselines::gbt::{self, fit_gbt_classifier};
use peephole_baselines::logistic::{DEFAULT_PENALTIES, fit_logistic_cv};
use peephole_baselines::{BaselineError, features};
use peephole_ir::protocol::Protocol;
use peephole_metrics::bootstrap::{Bootstrap, Interval, interval};
use peephole_metrics::classification::{ReliabilityBin, auc, brier, reliability};
use peephole_zoo::ZooRecord;
use serde::{Deserialize, Serialize};

use crate::slices::Slice;
use crate::split::Side;

/// Bins of the reliability tables.
pub const RELIABILITY_BINS: usize = 10;

/// The slices the chance question is reported on (the trainable slice holds no run at chance
/// by construction).
pub const CHANCE_SLICES: [Slice; 3] = [Slice::GeneratorV1, Slice::GeneratorV2, Slice::Reference];

/// One training run with its side of the split.
#[derive(Debug, Clone, Copy)]
pub struct Run<'a> {
    /// The record (first or second seed).
    pub record: &'a ZooRecord,
    /// The side its architecture is on.
    pub side: Side,
}

/// A number with its bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// On the slice's runs.
    pub value: f64,
    /// Over resamples of them.
    pub interval: Option<Interval>,
}

/// One method on one slice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChanceMethod {
    /// Its name.
    pub method: String,
    /// Area under the ROC curve (`None` when the slice has one outcome only).
    pub auc: Option<Estimate>,
    /// Brier score (`None` for a method that answers no probability).
    pub brier: Option<Estimate>,
    /// Reliability table (empty for a method that answers no probability).
    pub reliability: Vec<ReliabilityBin>,
}

/// One slice's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChanceSlice {
    /// The slice.
    pub slice: Slice,
    /// Runs scored.
    pub runs: usize,
    /// Of those, runs that stayed at chance.
    pub at_chance: usize,
    /// Every method, in [`ChanceReport::methods`]'s order.
    pub methods: Vec<ChanceMethod>,
}

/// The whole chance/trains evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChanceReport {
    /// The protocol whose chance level defines the outcome.
    pub protocol: String,
    /// Runs the baselines were fitted on (train side), and of those at chance.
    pub fitted_on: (usize, usize),
    /// The logistic regression's penalty, chosen by cross-validation.
    pub logistic_penalty: f64,
    /// The trees' setting, chosen on validation.
    pub trees: gbt::GbtParams,
    /// Method names in table order.
    pub methods: Vec<String>,
    /// Per slice.
    pub slices: Vec<ChanceSlice>,
}

/// What the chance evaluation takes besides the runs.
#[derive(Debug, Clone, Copy)]
pub struct ChanceOptions {
    /// Epochs of the protocol (the final accuracy is the curve's last).
    pub epochs: usize,
    /// Cross-validation folds of the logistic regression.
    pub folds: usize,
    /// Seed of the folds and the trees.
    pub seed: u64,
    /// Resampling of each slice's runs.
    pub bootstrap: Bootstrap,
}

/// Why the chance evaluation could not run.
#[derive(Debug, thiserror::Error)]
pub enum ChanceError {
    /// A run's curve or features are unusable.
    #[error("network {id}: {source}")]
    Run {
        /// The record's id.
        id: String,
        /// Why.
        source: BaselineError,
    },
    /// A baseline could not be fitted.
    #[error("fitting the {method} on the train side: {source}")]
    Fit {
        /// Which baseline.
        method: &'static str,
        /// Why.
        source: BaselineError,
    },
}

struct Labeled<'a> {
    run: Run<'a>,
    features: Vec<f64>,
    final_accuracy: f64,
    at_chance: bool,
}

fn label<'a>(
    runs: &[Run<'a>],
    protocol: &Protocol,
    epochs: usize,
) -> Result<Vec<Labeled<'a>>, ChanceError> {
    runs.iter()
        .map(|&run| {
            let error = |source| ChanceError::Run {
                id: run.record.id.clone(),
                source,
            };
            let final_accuracy = features::final_accuracy(run.record, epochs).map_err(error)?;
            Ok(Labeled {
                run,
                features: gbt::architecture_features(run.record).map_err(error)?,
                final_accuracy,
                at_chance: protocol.stays_at_chance(final_accuracy),
            })
        })
        .collect()
}

/// Fits the baselines on the train side (the trees choose on validation) and scores every
/// method on each of [`CHANCE_SLICES`]. `predicted_accuracy`, by record id, adds a regression
/// predictor's ranking as a method named `ranker_name`.
///
/// # Errors
///
/// [`ChanceError`] naming the run or the baseline that failed.
pub fn evaluate_chance(
    runs: &[Run<'_>],
    protocol: &Protocol,
    predicted_accuracy: Option<(&str, &HashMap<String, f64>)>,
    options: ChanceOptions,
) -> Result<ChanceReport, ChanceError> {
    let labeled = label(runs, protocol, options.epochs)?;
    let side = |side: Side| -> (Vec<Vec<f64>>, Vec<bool>) {
        labeled
            .iter()
            .filter(|l| l.run.side == side)
            .map(|l| (l.features.clone(), l.at_chance))
            .unzip()
    };
    let (train_x, train_y) = side(Side::Train);
    let (validation_x, validation_y) = side(Side::Validation);
    let base_rate = train_y.iter().filter(|&&o| o).count() as f64 / train_y.len().max(1) as f64;
    let (logistic, logistic_selection) = fit_logistic_cv(
        &train_x,
        &train_y,
        &DEFAULT_PENALTIES,
        options.folds,
        options.seed,
    )
    .map_err(|source| ChanceError::Fit {
        method: "logistic regression",
        source,
    })?;
    let (trees, trees_selection) = fit_gbt_classifier(
        (&train_x, &train_y),
        (&validation_x, &validation_y),
        &gbt::default_grid(),
        options.seed,
    )
    .map_err(|source| ChanceError::Fit {
        method: "gradient-boosted trees",
        source,
    })?;
    let mut methods = vec![
        "base rate (constant)".to_string(),
        "logistic regression (hand features)".to_string(),
        "gradient-boosted trees (hand features)".to_string(),
    ];
    if let Some((name, _)) = predicted_accuracy {
        methods.push(format!("{name} (predicted accuracy, ranking only)"));
    }
    let mut slices = Vec::new();
    for slice in CHANCE_SLICES {
        let members: Vec<&Labeled> = labeled
            .iter()
            .filter(|l| slice.contains(&l.run.record.generator, l.run.side, l.final_accuracy))
            .collect();
        let outcomes: Vec<bool> = members.iter().map(|l| l.at_chance).collect();
        let rows: Vec<Vec<f64>> = members.iter().map(|l| l.features.clone()).collect();
        let logistic_p = rows
            .iter()
            .map(|row| logistic.probability(row))
            .collect::<Result<Vec<f64>, _>>()
            .map_err(|source| ChanceError::Fit {
                method: "logistic regression",
                source,
            })?;
        let trees_p = trees
            .probabilities(&rows)
            .map_err(|source| ChanceError::Fit {
                method: "gradient-boosted trees",
                source,
            })?;
        let draws = options.bootstrap.draws(members.len());
        let mut scored = vec![
            probability_method(
                &methods[0],
                &vec![base_rate; members.len()],
                &outcomes,
                &draws,
            ),
            probability_method(&methods[1], &logistic_p, &outcomes, &draws),
            probability_method(&methods[2], &trees_p, &outcomes, &draws),
        ];
        if let Some((_, predicted)) = predicted_accuracy {
            // Lower predicted accuracy, higher rank for "stays at chance".
            let scores: Vec<f64> = members
                .iter()
                .map(|l| -predicted.get(&l.run.record.id).copied().unwrap_or(f64::NAN))
                .collect();
            scored.push(ranking_method(&methods[3], &scores, &outcomes, &draws));
        }
        slices.push(ChanceSlice {
            slice,
            runs: members.len(),
            at_chance: outcomes.iter().filter(|&&o| o).count(),
            methods: scored,
        });
    }
    Ok(ChanceReport {
        protocol: protocol.name.to_string(),
        fitted_on: (train_y.len(), train_y.iter().filter(|&&o| o).count()),
        logistic_penalty: logistic_selection.penalty,
        trees: trees_selection.params,
        methods,
        slices,
    })
}

fn estimate(
    value: Option<f64>,
    draws: &[Vec<usize>],
    statistic: impl Fn(&[usize]) -> Option<f64>,
) -> Option<Estimate> {
    value.map(|value| Estimate {
        value,
        interval: interval(draws, statistic),
    })
}

fn probability_method(
    name: &str,
    probabilities: &[f64],
    outcomes: &[bool],
    draws: &[Vec<usize>],
) -> ChanceMethod {
    let pick = |draw: &[usize]| -> (Vec<f64>, Vec<bool>) {
        draw.iter()
            .map(|&i| (probabilities[i], outcomes[i]))
            .unzip()
    };
    ChanceMethod {
        method: name.to_string(),
        auc: estimate(auc(probabilities, outcomes).ok(), draws, |d| {
            let (p, o) = pick(d);
            auc(&p, &o).ok()
        }),
        brier: estimate(brier(probabilities, outcomes).ok(), draws, |d| {
            let (p, o) = pick(d);
            brier(&p, &o).ok()
        }),
        reliability: reliability(probabilities, outcomes, RELIABILITY_BINS).unwrap_or_default(),
    }
}

fn ranking_method(
    name: &str,
    scores: &[f64],
    outcomes: &[bool],
    draws: &[Vec<usize>],
) -> ChanceMethod {
    // AUC depends on the order alone, so any monotone map into [0, 1] of the scores serves.
    let (low, high) = scores
        .iter()
        .filter(|s| s.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &s| {
            (l.min(s), h.max(s))
        });
    let span = (high - low).max(f64::MIN_POSITIVE);
    let ranks: Vec<f64> = scores.iter().map(|s| (s - low) / span).collect();
    let pick = |draw: &[usize]| -> (Vec<f64>, Vec<bool>) {
        draw.iter().map(|&i| (ranks[i], outcomes[i])).unzip()
    };
    ChanceMethod {
        method: name.to_string(),
        auc: estimate(auc(&ranks, outcomes).ok(), draws, |d| {
            let (p, o) = pick(d);
            auc(&p, &o).ok()
        }),
        brier: None,
        reliability: Vec::new(),
    }
}

/// The report as Markdown: one table per slice (AUC and Brier with intervals), then the
/// reliability of the probability methods on the generated slices pooled by bin.
pub fn chance_markdown(report: &ChanceReport) -> String {
    let mut out = format!(
        "## Will it train at all? (stays at chance under {}: final accuracy within 3 points of 1/classes)\n\n\
         Baselines fitted on the train side ({} runs, {} at chance); logistic penalty {} (cross-validated), \
         trees {} rounds, depth {} (validation). Brier is read against the base rate's.\n",
        report.protocol,
        report.fitted_on.0,
        report.fitted_on.1,
        report.logistic_penalty,
        report.trees.iterations,
        report.trees.max_depth,
    );
    for slice in &report.slices {
        out.push_str(&format!(
            "\n### {} ({} runs, {} at chance)\n\n| method | AUC [95%] | Brier [95%] |\n|---|---|---|\n",
            slice.slice.label(),
            slice.runs,
            slice.at_chance
        ));
        for method in &slice.methods {
            out.push_str(&format!(
                "| {} | {} | {} |\n",
                method.method,
                cell(method.auc, 3),
                cell(method.brier, 4)
            ));
        }
    }
    out
}

fn cell(estimate: Option<Estimate>, digits: usize) -> String {
    match estimate {
        None => "n/a".into(),
        Some(Estimate {
            value,
            interval: Some(i),
        }) => format!("{value:.digits$} [{:.digits$}, {:.digits$}]", i.low, i.high),
        Some(Estimate { value, .. }) => format!("{value:.digits$}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use peephole_ir::protocol::FMNIST_BUDGET_V1;
    use peephole_zoo::testing::record_with_final;

    /// Generated runs spread over the sides by index (six of ten fit, two validate, two are
    /// scored); every third one stays at chance.
    fn runs(records: &[ZooRecord]) -> Vec<Run<'_>> {
        records
            .iter()
            .enumerate()
            .map(|(i, record)| Run {
                record,
                side: match i % 10 {
                    0..=5 => Side::Train,
                    6 | 7 => Side::Validation,
                    _ => Side::Test,
                },
            })
            .collect()
    }

    #[test]
    fn the_report_scores_every_method_on_the_slices_with_runs_and_says_what_it_fitted() {
        let records: Vec<ZooRecord> = (0..120)
            .map(|i| {
                let last = if i % 3 == 0 { 0.1 } else { 0.8 };
                record_with_final(&format!("s5-{i:06}"), "generator-v1", i, last)
            })
            .collect();
        let runs = runs(&records);
        let predicted: HashMap<String, f64> =
            records.iter().map(|r| (r.id.clone(), r.curve[7])).collect();
        let options = ChanceOptions {
            epochs: 8,
            folds: 3,
            seed: 0,
            bootstrap: Bootstrap {
                resamples: 50,
                seed: 0,
            },
        };
        let report = evaluate_chance(
            &runs,
            &FMNIST_BUDGET_V1,
            Some(("oracle", &predicted)),
            options,
        )
        .unwrap();
        assert_eq!(report.fitted_on, (72, 24));
        assert_eq!(report.methods.len(), 4);
        let v1 = &report.slices[0];
        assert_eq!(
            (v1.slice, v1.runs, v1.at_chance),
            (Slice::GeneratorV1, 24, 8)
        );
        // The oracle ranks perfectly; the constant does not rank at all.
        assert_eq!(v1.methods[3].auc.unwrap().value, 1.0);
        assert_eq!(v1.methods[0].auc.unwrap().value, 0.5);
        assert!(v1.methods[3].brier.is_none());
        assert_eq!(v1.methods[1].reliability.len(), RELIABILITY_BINS);
        // No v2 or reference run: nothing to score, said as n/a.
        assert_eq!(report.slices[1].runs, 0);
        assert!(report.slices[1].methods.iter().all(|m| m.auc.is_none()));
        let table = chance_markdown(&report);
        assert!(
            table.contains("| oracle (predicted accuracy, ranking only) | 1.000"),
            "{table}"
        );
    }
}

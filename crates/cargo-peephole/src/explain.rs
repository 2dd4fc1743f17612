//! `cargo peephole explain`: which layers matter, by the predicted effect of every
//! single-layer edit the lint's local search tries (`peephole_predictor::edits`).

use std::fmt::Write as _;

use peephole_ir::Network;
use peephole_lint::lints::{Lint, LintScope, LintSource};
use peephole_predictor::edits::{DEFAULT_SEARCH_BUDGET, ScoredEdit, search_edits};
use peephole_predictor::verdict::{percent, zoo_percentile};
use peephole_predictor::{Prediction, Predictor, PredictorError};

/// What `explain --lint NAME` prints: the lint's declaration from its module, as a user reads
/// it (what it looks for, why, where it is reported, and a declaration that fires it beside one
/// that does not).
pub fn lint_text(lint: Lint) -> String {
    let doc = lint.doc();
    let scope = match doc.scope {
        LintScope::Layer => "points at a layer",
        LintScope::Network => "is about the whole network",
    };
    let reported_by = match doc.source {
        LintSource::Rule => "network!, peephole_check! and cargo peephole check",
        LintSource::Declaration => {
            "the declaration syntax: network!, peephole_check! and cargo peephole check"
        }
        LintSource::Predictor => "peephole_check! and cargo peephole check (the predictor)",
    };
    format!(
        "{name}: {summary}\n\n{explanation}\n\nReported by {reported_by}; a finding {scope}.\n\
         Opt out with #[peephole(allow({name}))] on the network{on_layer}.\n\n\
         Fires on:\n    {bad}\n\nDoes not fire on:\n    {good}\n",
        name = doc.name,
        summary = doc.summary,
        explanation = doc.explanation,
        on_layer = if doc.scope == LintScope::Layer {
            " or on the layer"
        } else {
            ""
        },
        bad = doc.bad,
        good = doc.good,
    )
}

/// A network's prediction and every valid edit, best first.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// The network as given.
    pub network: Network,
    /// Its predicted final accuracy.
    pub base: Prediction,
    /// Percent of the zoo's networks below that prediction.
    pub zoo_percentile: f64,
    /// The protocol and its epochs, for the headline.
    pub protocol: String,
    /// Epochs of the protocol.
    pub epochs: u32,
    /// Every edit that keeps the network valid and was scored, highest predicted accuracy
    /// first.
    pub edits: Vec<ScoredEdit>,
    /// Why the list is empty or short: the network is outside what the model saw (no search),
    /// or the search budget ran out (how far it got).
    pub search_note: Option<String>,
}

/// Scores `network` and every candidate edit of it.
pub fn explain(predictor: &Predictor, network: &Network) -> Result<Explanation, PredictorError> {
    let base = predictor.predict_final(network)?;
    // Out of range, the model cannot rank edits, and a very long network would cost minutes
    // (a 510-layer one took 287 s): no search then, and a budget always.
    let (edits, search_note) = if base.notes.is_empty() {
        let search = search_edits(predictor, network, base.mean, DEFAULT_SEARCH_BUDGET)?;
        let note = search.stopped_note();
        (search.ranked, note)
    } else {
        let notes: Vec<String> = base.notes.iter().map(ToString::to_string).collect();
        (
            Vec::new(),
            Some(format!(
                "no edit search: the network is outside what the model saw in training ({})",
                notes.join("; ")
            )),
        )
    };
    Ok(Explanation {
        network: network.clone(),
        zoo_percentile: zoo_percentile(predictor, base.mean),
        protocol: predictor.card().protocol.clone(),
        epochs: predictor.card().epochs,
        base,
        edits,
        search_note,
    })
}

impl Explanation {
    /// The headline and a table of edits, best first.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}", self.network);
        let _ = writeln!(
            out,
            "  would rank above {:.0}% of the zoo's trained networks: predicted {} ± {} validation accuracy after {} epochs of {}",
            self.zoo_percentile,
            percent(self.base.mean),
            percent(self.base.spread),
            self.epochs,
            peephole_io::shown(&self.protocol),
        );
        if let Some(protocol) = peephole_ir::protocol::Protocol::by_name(&self.protocol) {
            let _ = writeln!(out, "  note: {}", protocol.in_plain_words());
        }
        if let Some(note) = &self.search_note {
            let _ = writeln!(out, "  note: {note}");
        }
        if self.edits.is_empty() {
            if self.search_note.is_none() {
                let _ = writeln!(out, "  no single-layer edit keeps this network valid");
            }
            return out;
        }
        let rows: Vec<[String; 4]> = self
            .edits
            .iter()
            .enumerate()
            .map(|(rank, scored)| {
                [
                    (rank + 1).to_string(),
                    scored.edit.describe(&self.network),
                    format!(
                        "{} ± {}",
                        percent(scored.prediction.mean),
                        percent(scored.prediction.spread)
                    ),
                    format!("{:+.1}", scored.gain * 100.0),
                ]
            })
            .collect();
        let header = ["rank", "edit", "predicted", "change (points)"].map(String::from);
        let width = |column: usize| {
            rows.iter()
                .chain([&header])
                .map(|row| row[column].chars().count())
                .max()
                .unwrap_or(0)
        };
        let widths = [width(0), width(1), width(2), width(3)];
        let _ = writeln!(out);
        for row in [&header].into_iter().chain(&rows) {
            let _ = writeln!(
                out,
                "  {:>w0$}  {:<w1$}  {:>w2$}  {:>w3$}",
                row[0],
                row[1],
                row[2],
                row[3],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2],
                w3 = widths[3]
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use peephole_ir::text::parse_network;

    #[test]
    fn the_table_lists_every_ranked_edit_best_first_with_its_change() {
        let predictor =
            peephole_lint::predict::load(&peephole_lint::predict::ModelSource::Embedded)
                .expect("embedded model");
        let network = parse_network(
            "[1x28x28] conv3x3:16 sigmoid maxpool2x2/2 conv3x3:32 bn relu conv3x3:32 sigmoid maxpool2x2/2 conv3x3:64 bn relu -> 10",
        )
        .unwrap();
        let explanation = explain(&predictor, &network).expect("scores");
        assert!(!explanation.edits.is_empty());
        assert!(
            explanation.edits.windows(2).all(|w| w[0].gain >= w[1].gain),
            "best first"
        );
        let text = explanation.text();
        let lines: Vec<&str> = text.lines().collect();
        // The network, the headline, the protocol in plain words, a blank line, the table.
        assert!(
            lines[2].starts_with("  note: fmnist-budget-v1 means trained from scratch"),
            "{text}"
        );
        assert!(lines[4].trim_start().starts_with("rank  edit"), "{text}");
        let best = &explanation.edits[0];
        assert!(lines[5].contains(&best.edit.describe(&network)), "{text}");
        assert!(
            lines[5]
                .trim_end()
                .ends_with(&format!("{:+.1}", best.gain * 100.0)),
            "{text}"
        );
        assert_eq!(lines.len(), 5 + explanation.edits.len(), "{text}");
    }

    // `explain` on a 510-layer network ran 287 s (1,530 edits).
    #[test]
    fn a_510_layer_network_gets_no_edit_search_and_answers_at_once() {
        let predictor =
            peephole_lint::predict::load(&peephole_lint::predict::ModelSource::Embedded)
                .expect("embedded model");
        let text = format!("[1x28x28] {}-> 10", "conv3x3:16 bn relu ".repeat(170));
        let network = parse_network(&text).unwrap();
        assert_eq!(network.layers.len(), 510);
        let started = std::time::Instant::now();
        let explanation = explain(&predictor, &network).expect("scores");
        assert!(explanation.edits.is_empty());
        let shown = explanation.text();
        assert!(
            shown.contains("note: no edit search: the network is outside what the model saw in training (510 layers is outside"),
            "{shown}"
        );
        assert!(started.elapsed().as_secs() < 20, "{:?}", started.elapsed());
    }
}

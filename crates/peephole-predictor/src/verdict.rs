//! What the predictor says about one network, in the terms a person acts on, assembled in this
//! one place: the prediction with its spread, where it falls among the zoo's networks (from
//! the card), whether it is below the threshold, and, for a poor network, the single-layer
//! edit that raises the prediction most (from [`crate::edits`]).
//!
//! The `peephole_check!` lint and `cargo peephole` both call [`verdict`], so the build-time
//! warning and the command line never disagree about a network.

use std::fmt;

use crate::edits::{DEFAULT_SEARCH_BUDGET, ScoredEdit, makes_sense, search_edits};
use crate::runtime::{Prediction, Predictor, PredictorError};
use peephole_ir::Network;
use peephole_ir::protocol::Protocol;

/// The zoo percentile used as the default threshold: a network predicted to land in the
/// bottom quarter of the zoo is worth a second look before training.
pub const DEFAULT_THRESHOLD_PERCENTILE: f64 = 25.0;

/// Where the threshold a network is checked against comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Threshold {
    /// An accuracy the user gave (`min_accuracy = 0.85`).
    Accuracy(f64),
    /// A percentile of the training zoo's final accuracies, read from the model card.
    ZooPercentile(f64),
}

impl Default for Threshold {
    fn default() -> Self {
        Threshold::ZooPercentile(DEFAULT_THRESHOLD_PERCENTILE)
    }
}

impl Threshold {
    /// The accuracy this threshold stands for under `predictor`'s card.
    pub fn accuracy(self, predictor: &Predictor) -> f64 {
        match self {
            Threshold::Accuracy(accuracy) => accuracy,
            Threshold::ZooPercentile(percentile) => predictor.card().ranges.accuracy_at(percentile),
        }
    }
}

/// The predictor's verdict on one network.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Predicted final accuracy, with the ensemble's spread and any range notes.
    pub prediction: Prediction,
    /// Percent of the training zoo's networks that finished below the prediction.
    pub zoo_percentile: f64,
    /// The threshold, as an accuracy.
    pub threshold: f64,
    /// How the threshold was chosen.
    pub threshold_source: Threshold,
    /// The best single-layer edit, when the prediction is below the threshold and some
    /// sensible edit raises it by more than the prediction's spread.
    pub best_edit: Option<ScoredEdit>,
    /// Why the edit search did not run or did not finish, when it did not: the network is
    /// outside what the model saw, or the budget ran out.
    pub search_note: Option<String>,
    /// The protocol the prediction is for.
    pub protocol: String,
    /// Epochs of that protocol.
    pub epochs: u32,
}

impl Verdict {
    /// True when the prediction is below the threshold: the case the lint warns about.
    pub fn is_poor(&self) -> bool {
        self.prediction.mean < self.threshold
    }
}

/// Predicts `network`'s final accuracy and, when it falls below `threshold`, searches for the
/// single-layer edit that raises it most (the search only runs for poor networks, so checking
/// a good network costs one prediction). A network outside what the model saw gets no search:
/// the model cannot rank edits of a design it cannot vouch for, and a very long one would cost
/// minutes. Advice is kept only when its gain exceeds the prediction's spread (smaller gains
/// are noise between the ensemble's members) and the edited network still makes sense.
pub fn verdict(
    predictor: &Predictor,
    network: &Network,
    threshold: Threshold,
) -> Result<Verdict, PredictorError> {
    let prediction = predictor.predict_final_fast(network)?;
    let threshold_accuracy = threshold.accuracy(predictor);
    let mut search_note = None;
    let best_edit = if prediction.mean >= threshold_accuracy {
        None
    } else if !prediction.notes.is_empty() {
        search_note = Some(
            "no edit search: the model cannot rank edits of a network outside what it saw"
                .to_string(),
        );
        None
    } else {
        let search = search_edits(predictor, network, prediction.mean, DEFAULT_SEARCH_BUDGET)?;
        search_note = search.stopped_note();
        search
            .ranked
            .into_iter()
            .filter(|best| makes_sense(network, &best.edit.apply(network)))
            .find(|best| best.gain > prediction.spread)
    };
    Ok(Verdict {
        zoo_percentile: zoo_percentile(predictor, prediction.mean),
        prediction,
        threshold: threshold_accuracy,
        threshold_source: threshold,
        best_edit,
        search_note,
        protocol: predictor.card().protocol.clone(),
        epochs: predictor.card().epochs,
    })
}

/// Accuracy as a percentage with one decimal (`81.3%`).
pub fn percent(accuracy: f64) -> String {
    format!("{:.1}%", accuracy * 100.0)
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Threshold::Accuracy(a) => write!(f, "min_accuracy {}", percent(*a)),
            Threshold::ZooPercentile(p) => write!(f, "the zoo's {p:.0}th percentile"),
        }
    }
}

impl Verdict {
    /// The warning's sentence. It leads with the zoo percentile (where the network would rank
    /// among the networks the model learned from: the part that does not depend on knowing
    /// the protocol), then the prediction with its spread and the threshold, then range notes.
    /// A network above the threshold only warns for its range notes, and says so.
    pub fn message(&self) -> String {
        let rank = format!(
            "would rank above {:.0}% of the zoo's trained networks",
            self.zoo_percentile
        );
        let prediction = format!(
            "predicted {} ± {} validation accuracy after {} epochs of {}",
            percent(self.prediction.mean),
            percent(self.prediction.spread),
            self.epochs,
            self.protocol
        );
        let comparison = if self.is_poor() {
            "below"
        } else {
            "at or above"
        };
        let mut text = format!(
            "{rank}: {prediction}, {comparison} the threshold {} ({})",
            percent(self.threshold),
            self.threshold_source
        );
        if !self.prediction.notes.is_empty() {
            let notes: Vec<String> = self
                .prediction
                .notes
                .iter()
                .map(ToString::to_string)
                .collect();
            text.push_str(&format!(
                "\nnote: outside what the model saw in training, so trust it less: {}",
                notes.join("; ")
            ));
        }
        if let Some(note) = &self.search_note {
            text.push_str(&format!("\nnote: {note}"));
        }
        text
    }

    /// What the protocol's name means, in plain words (`None` for a protocol this build does
    /// not know, whose card still names it). Tools print it once per crate or run, beside the
    /// first verdict, so that "42%" is not read as "my network gets 42% on my data".
    pub fn protocol_in_plain_words(&self) -> Option<String> {
        Protocol::by_name(&self.protocol).map(|protocol| protocol.in_plain_words())
    }

    /// The warning's help line: the best edit and its predicted gain.
    pub fn help(&self, network: &Network) -> Option<String> {
        self.best_edit.as_ref().map(|best| {
            format!(
                "{} (predicted {}, {:+.1} points)",
                best.edit.describe(network),
                percent(best.prediction.mean),
                best.gain * 100.0
            )
        })
    }
}

/// Where a predicted accuracy falls among the training zoo's networks (percent), from the
/// final accuracies the card summarizes.
pub fn zoo_percentile(predictor: &Predictor, accuracy: f64) -> f64 {
    predictor.card().ranges.percentile_of(accuracy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edits::fixtures::{in_range, network};
    use crate::edits::rank_edits;
    use peephole_ir::Shape;

    #[test]
    fn the_verdict_is_consistent_with_its_own_threshold() {
        let predictor = Predictor::embedded().expect("embedded model");
        let n = in_range();
        let high = verdict(&predictor, &n, Threshold::Accuracy(2.0)).unwrap();
        assert!(high.is_poor());
        assert!(
            high.prediction.notes.is_empty(),
            "{:?}",
            high.prediction.notes
        );
        let ranked = rank_edits(&predictor, &n, high.prediction.mean).unwrap();
        assert!(ranked.windows(2).all(|w| w[0].gain >= w[1].gain));
        let sensible = ranked
            .iter()
            .find(|e| makes_sense(&n, &e.edit.apply(&n)))
            .expect("some edit");
        match &high.best_edit {
            Some(best) => {
                assert_eq!(
                    best.edit, sensible.edit,
                    "the verdict's edit is the top sensible one of the ranking"
                );
                assert!(best.gain > high.prediction.spread);
            }
            None => assert!(
                sensible.gain <= high.prediction.spread,
                "advice is dropped only inside the spread"
            ),
        }
        let low = verdict(&predictor, &n, Threshold::Accuracy(0.0)).unwrap();
        assert!(!low.is_poor());
        assert!(low.best_edit.is_none(), "no search for networks that pass");
        assert!(high.message().contains("below the threshold 200.0%"));
    }

    // `explain` on a 510-layer network ran 287 s; out of range, it gets no search.
    #[test]
    fn a_network_outside_what_the_model_saw_gets_no_edit_search_and_says_why() {
        let predictor = Predictor::embedded().expect("embedded model");
        // Images of another shape than the protocol's: outside what the model saw.
        let mut other_images = network();
        other_images.input = Shape::new(3, 32, 32);
        let poor = verdict(&predictor, &other_images, Threshold::Accuracy(2.0)).unwrap();
        assert!(!poor.prediction.notes.is_empty());
        assert!(poor.best_edit.is_none());
        assert!(
            poor.message().contains("no edit search"),
            "{}",
            poor.message()
        );
    }
}

//! What the predictor says about one network, in the terms a person acts on: the prediction
//! with its spread, where it falls among the zoo's networks, whether it is below a threshold,
//! and which single-layer edit raises the prediction most.
//!
//! The `peephole_check!` lint and `cargo peephole explain` both call this module, so the
//! build-time warning and the command line never disagree about a network. Both score on the
//! native fast scorer where the model allows ([`Predictor::predict_batch_fast`]): the edit
//! search meets many sequence lengths, and tract would compile a plan for each.

use std::fmt;
use std::time::{Duration, Instant};

use super::runtime::{Prediction, Predictor, PredictorError};
use peephole_ir::protocol::Protocol;
use peephole_ir::text::layer_text;
use peephole_ir::ulc::{UlcCode, encode};
use peephole_ir::{Kernel, Layer, LayerKind, Network};

/// The zoo percentile used as the default threshold: a network predicted to land in the
/// bottom quarter of the zoo is worth a second look before training.
pub const DEFAULT_THRESHOLD_PERCENTILE: f64 = 25.0;

/// One single-layer change to a network, as the local search proposes it.
#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    /// Drop layer `index`.
    Remove {
        /// Layer index in the original network.
        index: usize,
    },
    /// Put `layer` in place of layer `index`.
    Replace {
        /// Layer index in the original network.
        index: usize,
        /// The new layer.
        layer: Layer,
    },
    /// Insert `layer` right after layer `index`.
    InsertAfter {
        /// Layer index in the original network.
        index: usize,
        /// The new layer.
        layer: Layer,
    },
}

impl Edit {
    /// The layer of the original network the edit is about (for spans and line numbers).
    pub fn layer(&self) -> usize {
        match *self {
            Edit::Remove { index }
            | Edit::Replace { index, .. }
            | Edit::InsertAfter { index, .. } => index,
        }
    }

    /// The network with the edit applied (not checked for validity).
    pub fn apply(&self, network: &Network) -> Network {
        let mut layers = network.layers.clone();
        match self {
            Edit::Remove { index } => {
                layers.remove(*index);
            }
            Edit::Replace { index, layer } => layers[*index] = *layer,
            Edit::InsertAfter { index, layer } => layers.insert(index + 1, *layer),
        }
        Network {
            input: network.input,
            layers,
            classes: network.classes,
        }
    }

    /// `replace layer 3 (sigmoid) with relu`, in the original network's terms.
    pub fn describe(&self, network: &Network) -> String {
        let at = |index: usize| format!("layer {index} ({})", layer_text(&network.layers[index]));
        match self {
            Edit::Remove { index } => format!("remove {}", at(*index)),
            Edit::Replace { index, layer } => {
                format!("replace {} with `{}`", at(*index), layer_text(layer))
            }
            Edit::InsertAfter { index, layer } => {
                format!("insert `{}` after {}", layer_text(layer), at(*index))
            }
        }
    }
}

/// Every single-layer edit the local search tries, valid or not: remove any layer; swap an
/// activation for another; swap max and average pooling; a conv's kernel to 1, 3 or 5 (square)
/// and its channels halved or doubled; a BatchNorm after a conv that lacks one. These are the
/// moves a person makes by hand, and each keeps the network recognisably the same design.
pub fn candidate_edits(network: &Network) -> Vec<Edit> {
    let mut edits = Vec::new();
    let layers = &network.layers;
    for (index, layer) in layers.iter().enumerate() {
        if layers.len() > 1 {
            edits.push(Edit::Remove { index });
        }
        let mut replace = |new: Layer| {
            if new != *layer {
                edits.push(Edit::Replace { index, layer: new });
            }
        };
        match *layer {
            Layer::Relu | Layer::Sigmoid | Layer::Tanh => {
                for new in [Layer::Relu, Layer::Sigmoid, Layer::Tanh] {
                    replace(new);
                }
            }
            Layer::MaxPool {
                kernel,
                stride,
                padding,
            } => replace(Layer::AvgPool {
                kernel,
                stride,
                padding,
            }),
            Layer::AvgPool {
                kernel,
                stride,
                padding,
            } => replace(Layer::MaxPool {
                kernel,
                stride,
                padding,
            }),
            Layer::Conv {
                kernel,
                out_channels,
                stride,
                padding,
            } => {
                for size in [1, 3, 5] {
                    replace(Layer::Conv {
                        kernel: Kernel::square(size),
                        out_channels,
                        stride,
                        padding,
                    });
                }
                for channels in [out_channels / 2, out_channels.saturating_mul(2)] {
                    if channels > 0 {
                        replace(Layer::Conv {
                            kernel,
                            out_channels: channels,
                            stride,
                            padding,
                        });
                    }
                }
                if layers.get(index + 1).map(Layer::kind) != Some(LayerKind::BatchNorm) {
                    edits.push(Edit::InsertAfter {
                        index,
                        layer: Layer::BatchNorm,
                    });
                }
            }
            Layer::BatchNorm => {}
        }
    }
    edits
}

/// An edit with the prediction for the edited network.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredEdit {
    /// The change.
    pub edit: Edit,
    /// The edited network's predicted final accuracy.
    pub prediction: Prediction,
    /// Predicted final accuracy of the edited network minus the original's.
    pub gain: f64,
}

/// How much work one edit search may do: a 510-layer network has 1,530 candidate edits and
/// took minutes of a build, so the search stops at whichever limit it meets first and says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchBudget {
    /// Most candidate edits scored.
    pub candidates: usize,
    /// Most wall-clock time spent scoring (checked between batches of candidates).
    pub time: Duration,
}

/// The budget of the lint and of `explain`: every edit of a network the model has seen (at
/// most 40 layers, about 280 candidates) fits it, in well under a second optimized.
pub const DEFAULT_SEARCH_BUDGET: SearchBudget = SearchBudget {
    candidates: 400,
    time: Duration::from_secs(2),
};

/// Candidates scored per batch between two looks at the clock.
const SEARCH_BATCH: usize = 32;

/// Why a search scored fewer candidates than there were.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoppedEarly {
    /// The candidate limit was reached.
    Candidates {
        /// The limit.
        limit: usize,
    },
    /// The time limit was reached.
    Time {
        /// The limit.
        limit: Duration,
    },
}

impl fmt::Display for StoppedEarly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoppedEarly::Candidates { limit } => {
                write!(f, "the budget of {limit} candidate edits")
            }
            StoppedEarly::Time { limit } => {
                write!(f, "the time budget of {:.1} s", limit.as_secs_f64())
            }
        }
    }
}

/// What one edit search did: the edits it scored, best first, and how far it got.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    /// Scored edits, highest predicted accuracy first.
    pub ranked: Vec<ScoredEdit>,
    /// Valid candidate edits there were.
    pub candidates: usize,
    /// Of those, how many were scored before the budget ran out.
    pub scored: usize,
    /// Set when the budget stopped the search before every candidate was scored.
    pub stopped_early: Option<StoppedEarly>,
}

impl Search {
    /// `stopped after 128 of 1530 candidate edits (the time budget of 2.0 s)`, when it did.
    pub fn stopped_note(&self) -> Option<String> {
        self.stopped_early.map(|reason| {
            format!(
                "the edit search stopped after {} of {} candidate edits ({reason})",
                self.scored, self.candidates
            )
        })
    }
}

/// Scores every valid candidate edit at the protocol's final epoch, best first. Edits that
/// make the network invalid (a feature map shrinking to nothing) are skipped, not errors.
/// Unbounded: for a network the model has seen; see [`search_edits`] for a budget.
pub fn rank_edits(
    predictor: &Predictor,
    network: &Network,
    base: f64,
) -> Result<Vec<ScoredEdit>, PredictorError> {
    let unlimited = SearchBudget {
        candidates: usize::MAX,
        time: Duration::MAX,
    };
    Ok(search_edits(predictor, network, base, unlimited)?.ranked)
}

/// [`rank_edits`] within `budget`: candidates are scored in batches, in the order
/// [`candidate_edits`] proposes them, until the candidates or the time run out.
pub fn search_edits(
    predictor: &Predictor,
    network: &Network,
    base: f64,
    budget: SearchBudget,
) -> Result<Search, PredictorError> {
    let started = Instant::now();
    let epochs = predictor.card().epochs;
    let mut edits = Vec::new();
    let mut sequences: Vec<Vec<UlcCode>> = Vec::new();
    // A model that reads layer features (format v2) scores whole networks, not codes.
    let mut edited_networks: Vec<Network> = Vec::new();
    for edit in candidate_edits(network) {
        let edited = edit.apply(network);
        if edited.analyze().is_err() {
            continue;
        }
        if let Ok(encoding) = encode(&edited) {
            edits.push(edit);
            sequences.push(encoding.codes);
            if predictor.reads_layer_features() {
                edited_networks.push(edited);
            }
        }
    }
    let candidates = edits.len();
    let mut stopped_early = None;
    let mut predictions = Vec::new();
    for (batch, chunk) in sequences.chunks(SEARCH_BATCH).enumerate() {
        if batch > 0 && started.elapsed() >= budget.time {
            stopped_early = Some(StoppedEarly::Time { limit: budget.time });
            break;
        }
        let room = budget.candidates.saturating_sub(predictions.len());
        if room == 0 {
            stopped_early = Some(StoppedEarly::Candidates {
                limit: budget.candidates,
            });
            break;
        }
        if predictor.reads_layer_features() {
            let start = batch * SEARCH_BATCH;
            let items: Vec<(&Network, u32)> = edited_networks[start..start + chunk.len()]
                .iter()
                .take(room)
                .map(|edited| (edited, epochs))
                .collect();
            predictions.extend(predictor.predict_networks_fast(&items)?);
            continue;
        }
        let items: Vec<(&[UlcCode], u32)> = chunk
            .iter()
            .take(room)
            .map(|codes| (codes.as_slice(), epochs))
            .collect();
        predictions.extend(predictor.predict_batch_fast(&items)?);
    }
    let scored = predictions.len();
    if stopped_early.is_none() && scored < candidates {
        stopped_early = Some(StoppedEarly::Candidates {
            limit: budget.candidates,
        });
    }
    let mut ranked: Vec<ScoredEdit> = edits
        .into_iter()
        .zip(predictions)
        .map(|(edit, prediction)| ScoredEdit {
            gain: prediction.mean - base,
            edit,
            prediction,
        })
        .collect();
    ranked.sort_by(|a, b| b.gain.total_cmp(&a.gain));
    Ok(Search {
        ranked,
        candidates,
        scored,
        stopped_early,
    })
}

/// Whether an edited network still makes sense as advice: it keeps a conv if the original
/// had one and an activation if the original had one ("remove the only conv" may score
/// higher, but nobody would act on it).
fn makes_sense(original: &Network, edited: &Network) -> bool {
    let has = |network: &Network, kind: fn(&Layer) -> bool| network.layers.iter().any(kind);
    let conv = |layer: &Layer| layer.kind() == LayerKind::Conv;
    let activation = |layer: &Layer| matches!(layer, Layer::Relu | Layer::Sigmoid | Layer::Tanh);
    (!has(original, conv) || has(edited, conv))
        && (!has(original, activation) || has(edited, activation))
}

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
        zoo_percentile: predictor.zoo_percentile(prediction.mean),
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

#[cfg(test)]
mod tests {
    use super::*;
    use peephole_ir::Shape;

    fn network() -> Network {
        Network {
            input: Shape::new(1, 28, 28),
            layers: vec![
                Layer::conv(Kernel::square(3), 16, 1),
                Layer::Sigmoid,
                Layer::max_pool(Kernel::square(2), 2),
                Layer::conv(Kernel::square(3), 32, 1),
                Layer::BatchNorm,
                Layer::Relu,
            ],
            classes: 10,
        }
    }

    #[test]
    fn candidate_edits_cover_each_kind_of_move_and_never_repeat_the_original() {
        let n = network();
        let edits = candidate_edits(&n);
        assert!(edits.contains(&Edit::Replace {
            index: 1,
            layer: Layer::Relu
        }));
        assert!(edits.contains(&Edit::InsertAfter {
            index: 0,
            layer: Layer::BatchNorm
        }));
        assert!(
            !edits.contains(&Edit::InsertAfter {
                index: 3,
                layer: Layer::BatchNorm
            }),
            "conv 3 has a bn already"
        );
        assert!(edits.contains(&Edit::Remove { index: 5 }));
        assert!(
            !edits
                .iter()
                .any(|e| matches!(e, Edit::Replace { index, layer } if n.layers[*index] == *layer))
        );
        let applied = Edit::InsertAfter {
            index: 0,
            layer: Layer::BatchNorm,
        }
        .apply(&n);
        assert_eq!(applied.layers.len(), n.layers.len() + 1);
        assert_eq!(applied.layers[1], Layer::BatchNorm);
    }

    #[test]
    fn edits_describe_themselves_in_the_original_networks_terms() {
        let n = network();
        assert_eq!(
            Edit::Replace {
                index: 1,
                layer: Layer::Relu
            }
            .describe(&n),
            "replace layer 1 (sigmoid) with `relu`"
        );
        assert_eq!(
            Edit::Remove { index: 4 }.describe(&n),
            "remove layer 4 (bn)"
        );
    }

    /// A network the model has seen: 12 layers, every code in its training range.
    fn in_range() -> Network {
        peephole_ir::text::parse_network(
            "[1x28x28] conv3x3:16 sigmoid maxpool2x2/2 conv3x3:32 bn relu conv3x3:32 sigmoid maxpool2x2/2 conv3x3:64 bn relu -> 10",
        )
        .unwrap()
    }

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

    // Issue 19: `explain` on a 510-layer network ran 287 s; out of range, it gets no search.
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

    #[test]
    fn the_search_stops_at_its_candidate_or_time_budget_and_says_so() {
        let predictor = Predictor::embedded().expect("embedded model");
        let n = in_range();
        let base = predictor.predict_final(&n).unwrap().mean;
        let ten = SearchBudget {
            candidates: 10,
            time: Duration::from_secs(60),
        };
        let search = search_edits(&predictor, &n, base, ten).unwrap();
        assert_eq!((search.scored, search.ranked.len()), (10, 10));
        assert!(search.candidates > 10);
        assert_eq!(
            search.stopped_early,
            Some(StoppedEarly::Candidates { limit: 10 })
        );
        let note = search.stopped_note().expect("a note");
        assert!(
            note.starts_with(&format!(
                "the edit search stopped after 10 of {} candidate edits",
                search.candidates
            )),
            "{note}"
        );
        let no_time = SearchBudget {
            candidates: 1000,
            time: Duration::ZERO,
        };
        let search = search_edits(&predictor, &n, base, no_time).unwrap();
        assert_eq!(
            search.scored,
            SEARCH_BATCH.min(search.candidates),
            "one batch, then the clock"
        );
        assert_eq!(
            search.stopped_early,
            Some(StoppedEarly::Time {
                limit: Duration::ZERO
            })
        );
        let whole = search_edits(&predictor, &n, base, DEFAULT_SEARCH_BUDGET).unwrap();
        assert_eq!(
            (whole.scored, whole.stopped_early),
            (whole.candidates, None)
        );
    }

    #[test]
    fn advice_never_removes_the_only_conv_or_the_only_activation() {
        let n = peephole_ir::text::parse_network("[1x28x28] conv3x3:16 relu bn -> 10").unwrap();
        assert!(!makes_sense(&n, &Edit::Remove { index: 0 }.apply(&n)));
        assert!(!makes_sense(&n, &Edit::Remove { index: 1 }.apply(&n)));
        assert!(makes_sense(&n, &Edit::Remove { index: 2 }.apply(&n)));
    }
}

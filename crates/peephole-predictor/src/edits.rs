//! The edit search behind a verdict's advice: every single-layer change to a network (remove,
//! replace, insert), scored in batches on the native fast scorer within a budget, best first.
//!
//! A search meets many sequence lengths, and tract would compile a plan for each, so it
//! scores on [`Predictor::predict_batch_fast`] where the model allows.

use std::fmt;
use std::time::{Duration, Instant};

use crate::runtime::{Prediction, Predictor, PredictorError};
use peephole_ir::text::layer_text;
use peephole_ir::ulc::{UlcCode, encode};
use peephole_ir::{Kernel, Layer, LayerKind, Network};

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
pub(crate) fn makes_sense(original: &Network, edited: &Network) -> bool {
    let has = |network: &Network, kind: fn(&Layer) -> bool| network.layers.iter().any(kind);
    let conv = |layer: &Layer| layer.kind() == LayerKind::Conv;
    let activation = |layer: &Layer| matches!(layer, Layer::Relu | Layer::Sigmoid | Layer::Tanh);
    (!has(original, conv) || has(edited, conv))
        && (!has(original, activation) || has(edited, activation))
}

/// Networks the tests of the edit search and of the verdict share.
#[cfg(test)]
pub(crate) mod fixtures {
    use peephole_ir::{Kernel, Layer, Network, Shape};

    pub fn network() -> Network {
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

    /// A network the model has seen: 12 layers, every code in its training range.
    pub fn in_range() -> Network {
        peephole_ir::text::parse_network(
            "[1x28x28] conv3x3:16 sigmoid maxpool2x2/2 conv3x3:32 bn relu conv3x3:32 sigmoid maxpool2x2/2 conv3x3:64 bn relu -> 10",
        )
        .unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{in_range, network};
    use super::*;

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

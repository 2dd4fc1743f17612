//! What the predictor says about one network, in the terms a person acts on: the prediction
//! with its spread, where it falls among the zoo's networks, whether it is below a threshold,
//! and which single-layer edit raises the prediction most.
//!
//! The `peephole_check!` lint and `cargo peephole explain` both call this module, so the
//! build-time warning and the command line never disagree about a network. Both score on the
//! native fast scorer where the model allows ([`Predictor::predict_batch_fast`]): the edit
//! search meets many sequence lengths, and tract would compile a plan for each.

use std::fmt;

use super::runtime::{Prediction, Predictor, PredictorError};
use crate::ir::{Kernel, Layer, LayerKind, Network};
use crate::text::layer_text;
use crate::ulc::{UlcCode, encode};

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
            Edit::Remove { index } | Edit::Replace { index, .. } | Edit::InsertAfter { index, .. } => index,
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
        Network { input: network.input, layers, classes: network.classes }
    }

    /// `replace layer 3 (sigmoid) with relu`, in the original network's terms.
    pub fn describe(&self, network: &Network) -> String {
        let at = |index: usize| format!("layer {index} ({})", layer_text(&network.layers[index]));
        match self {
            Edit::Remove { index } => format!("remove {}", at(*index)),
            Edit::Replace { index, layer } => format!("replace {} with `{}`", at(*index), layer_text(layer)),
            Edit::InsertAfter { index, layer } => format!("insert `{}` after {}", layer_text(layer), at(*index)),
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
            Layer::MaxPool { kernel, stride, padding } => replace(Layer::AvgPool { kernel, stride, padding }),
            Layer::AvgPool { kernel, stride, padding } => replace(Layer::MaxPool { kernel, stride, padding }),
            Layer::Conv { kernel, out_channels, stride, padding } => {
                for size in [1, 3, 5] {
                    replace(Layer::Conv { kernel: Kernel::square(size), out_channels, stride, padding });
                }
                for channels in [out_channels / 2, out_channels.saturating_mul(2)] {
                    if channels > 0 {
                        replace(Layer::Conv { kernel, out_channels: channels, stride, padding });
                    }
                }
                if layers.get(index + 1).map(Layer::kind) != Some(LayerKind::BatchNorm) {
                    edits.push(Edit::InsertAfter { index, layer: Layer::BatchNorm });
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

/// Scores every valid candidate edit at the protocol's final epoch, best first. Edits that
/// make the network invalid (a feature map shrinking to nothing) are skipped, not errors.
pub fn rank_edits(predictor: &Predictor, network: &Network, base: f64) -> Result<Vec<ScoredEdit>, PredictorError> {
    let epochs = predictor.card().epochs;
    let mut edits = Vec::new();
    let mut sequences: Vec<Vec<UlcCode>> = Vec::new();
    for edit in candidate_edits(network) {
        let edited = edit.apply(network);
        if edited.analyze().is_err() {
            continue;
        }
        if let Ok(encoding) = encode(&edited) {
            edits.push(edit);
            sequences.push(encoding.codes);
        }
    }
    let items: Vec<(&[UlcCode], u32)> = sequences.iter().map(|codes| (codes.as_slice(), epochs)).collect();
    let predictions = predictor.predict_batch_fast(&items)?;
    let mut scored: Vec<ScoredEdit> = edits
        .into_iter()
        .zip(predictions)
        .map(|(edit, prediction)| ScoredEdit { gain: prediction.mean - base, edit, prediction })
        .collect();
    scored.sort_by(|a, b| b.gain.total_cmp(&a.gain));
    Ok(scored)
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
    /// The best single-layer edit, when the prediction is below the threshold and some edit
    /// raises it.
    pub best_edit: Option<ScoredEdit>,
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
/// a good network costs one prediction).
pub fn verdict(predictor: &Predictor, network: &Network, threshold: Threshold) -> Result<Verdict, PredictorError> {
    let prediction = predictor.predict_final_fast(network)?;
    let threshold_accuracy = threshold.accuracy(predictor);
    let best_edit = if prediction.mean < threshold_accuracy {
        rank_edits(predictor, network, prediction.mean)?.into_iter().next().filter(|best| best.gain > 0.0)
    } else {
        None
    };
    Ok(Verdict {
        zoo_percentile: predictor.zoo_percentile(prediction.mean),
        prediction,
        threshold: threshold_accuracy,
        threshold_source: threshold,
        best_edit,
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
    /// The warning's sentence: prediction with spread, threshold, zoo position, range notes.
    /// A network above the threshold only warns for its range notes, and says so.
    pub fn message(&self) -> String {
        let prediction = format!(
            "predicted {} ± {} accuracy after {} epochs of {}",
            percent(self.prediction.mean),
            percent(self.prediction.spread),
            self.epochs,
            self.protocol
        );
        let mut text = if self.is_poor() {
            format!(
                "{prediction}, below the threshold {} ({}); that is better than only {:.0}% of the zoo's trained networks",
                percent(self.threshold),
                self.threshold_source,
                self.zoo_percentile
            )
        } else {
            format!(
                "{prediction}, at or above the threshold {} ({})",
                percent(self.threshold),
                self.threshold_source
            )
        };
        if !self.prediction.notes.is_empty() {
            let notes: Vec<String> = self.prediction.notes.iter().map(ToString::to_string).collect();
            text.push_str(&format!(
                "\nnote: outside what the model saw in training, so trust it less: {}",
                notes.join("; ")
            ));
        }
        text
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
    use crate::ir::Shape;

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
        assert!(edits.contains(&Edit::Replace { index: 1, layer: Layer::Relu }));
        assert!(edits.contains(&Edit::InsertAfter { index: 0, layer: Layer::BatchNorm }));
        assert!(!edits.contains(&Edit::InsertAfter { index: 3, layer: Layer::BatchNorm }), "conv 3 has a bn already");
        assert!(edits.contains(&Edit::Remove { index: 5 }));
        assert!(!edits.iter().any(|e| matches!(e, Edit::Replace { index, layer } if n.layers[*index] == *layer)));
        let applied = Edit::InsertAfter { index: 0, layer: Layer::BatchNorm }.apply(&n);
        assert_eq!(applied.layers.len(), n.layers.len() + 1);
        assert_eq!(applied.layers[1], Layer::BatchNorm);
    }

    #[test]
    fn edits_describe_themselves_in_the_original_networks_terms() {
        let n = network();
        assert_eq!(
            Edit::Replace { index: 1, layer: Layer::Relu }.describe(&n),
            "replace layer 1 (sigmoid) with `relu`"
        );
        assert_eq!(Edit::Remove { index: 4 }.describe(&n), "remove layer 4 (bn)");
    }

    #[test]
    fn the_verdict_is_consistent_with_its_own_threshold() {
        let predictor = Predictor::embedded().expect("embedded model");
        let n = network();
        let high = verdict(&predictor, &n, Threshold::Accuracy(2.0)).unwrap();
        assert!(high.is_poor());
        let best = high.best_edit.as_ref().expect("some edit helps when the bar is unreachable");
        assert!(best.gain > 0.0);
        let ranked = rank_edits(&predictor, &n, high.prediction.mean).unwrap();
        assert_eq!(ranked[0].edit, best.edit, "the verdict's edit is the top of the ranking");
        assert!(ranked.windows(2).all(|w| w[0].gain >= w[1].gain));
        let low = verdict(&predictor, &n, Threshold::Accuracy(0.0)).unwrap();
        assert!(!low.is_poor());
        assert!(low.best_edit.is_none(), "no search for networks that pass");
        assert!(high.message().contains("below the threshold 200.0%"));
    }
}

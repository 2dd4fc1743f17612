//! Predictor inference on the exported ONNX model: what the lint, the command line and search
//! call. Two engines answer: the native scorer (always; the lint's) and, with the `tract`
//! feature, tract (pure Rust), which also runs graphs the native scorer cannot read. Hostile
//! or mismatched model files give typed errors.

#[cfg(feature = "tract")]
use std::collections::HashMap;
use std::path::Path;
#[cfg(feature = "tract")]
use std::sync::{Arc, Mutex};

use peephole_onnx_proto::ModelProto;
use prost::Message;
use thiserror::Error;
#[cfg(feature = "tract")]
use tract_onnx::prelude::*;

use super::card::ModelCard;
use super::fast::FastScorer;
use super::format::{
    MAX_MODEL_BYTES, MAX_SEQUENCE, META_CARD, META_FORMAT, META_LAYER_FEATURES, PREDICTOR_FORMAT,
    PREDICTOR_FORMAT_V2, format_of, reads_layer_features,
};
#[cfg(feature = "tract")]
use super::length_batch::length_batches;
use super::screen::{GraphError, screen};
use super::weights::PredictorWeights;
#[cfg(feature = "tract")]
use peephole_ir::layer_features::FEATURE_COUNT;
use peephole_ir::layer_features::{FeatureRow, LAYER_FEATURES_V1, layer_features_analyzed};
use peephole_ir::protocol::Protocol;
use peephole_ir::ulc::{ULC_VERSION, UlcCode, UlcDecodeError, encode_analyzed, validate};
use peephole_ir::{Network, Shape, ShapeError};

/// Why a predictor could not be loaded or could not answer.
#[derive(Debug, Error)]
pub enum PredictorError {
    /// The model file could not be read: missing, not a regular file (a device or a FIFO
    /// would never end or never start), or larger than [`MAX_MODEL_BYTES`].
    #[error("predictor model {0}")]
    Io(#[source] peephole_io::ReadError),
    /// The bytes are not an ONNX model.
    #[error("predictor model {source_name}: not an ONNX model ({reason})")]
    NotOnnx {
        /// Where the bytes came from.
        source_name: String,
        /// Decoder's message.
        reason: String,
    },
    /// An ONNX model, but not a Peephole predictor of a format this build reads.
    #[error("predictor model {source_name}: {reason}")]
    NotPredictor {
        /// Where the bytes came from.
        source_name: String,
        /// What is missing or different.
        reason: String,
    },
    /// A predictor for another ULC version.
    #[error(
        "predictor model {source_name} reads {found}, this build encodes networks with {expected}"
    )]
    UlcVersion {
        /// Where the bytes came from.
        source_name: String,
        /// The model's version.
        found: String,
        /// This build's version.
        expected: &'static str,
    },
    /// The graph is not one a Peephole predictor can be: an operator the exporter never
    /// writes, or shapes that would make tract allocate or compute out of all proportion.
    #[error("predictor model {source_name}: {source}")]
    Graph {
        /// Where the bytes came from.
        source_name: String,
        /// What the screen found.
        source: GraphError,
    },
    /// tract could not build or run the model, or (without the `tract` feature) the native
    /// scorer cannot read its weights and no other engine is compiled in.
    #[error("predictor model {source_name}: inference failed: {reason}")]
    Inference {
        /// Where the bytes came from.
        source_name: String,
        /// tract's message.
        reason: String,
    },
    /// Bare ULC codes were given to a model that also reads each layer's features (format
    /// v2): the codes alone do not say what it was fitted to see, so it scores networks only.
    #[error(
        "predictor model {source_name} reads layer features ({PREDICTOR_FORMAT_V2}): give it networks (`predict`, `predict_networks`), not bare ULC codes"
    )]
    NeedsNetworks {
        /// Where the model came from.
        source_name: String,
    },
    /// The network is invalid.
    #[error("the network cannot be encoded: {0}")]
    Network(#[from] ShapeError),
    /// The codes are not valid ULC v1.
    #[error("invalid ULC sequence: {0}")]
    Codes(#[from] UlcDecodeError),
    /// Empty or overlong sequence.
    #[error("a ULC sequence of {length} layers is outside 1..={MAX_SEQUENCE}")]
    Length {
        /// Its length.
        length: usize,
    },
    /// Epoch outside the protocol's range.
    #[error("epoch {epoch} is outside the model's range 1..={epochs} (protocol {protocol})")]
    Epoch {
        /// Requested epoch.
        epoch: u32,
        /// The protocol's epochs.
        epochs: u32,
        /// The protocol.
        protocol: String,
    },
    /// The model answered with a non-finite number.
    #[error("the predictor returned a non-finite value for this input")]
    NotFinite,
    /// The model answered with something that is not an accuracy: a mean outside [0, 1] or
    /// a negative spread. A graph whose output was shifted would otherwise print "997.6%"
    /// as if it were a verdict.
    #[error(
        "predictor model {source_name} answered {mean} ± {spread}, which is not an accuracy in [0, 1]"
    )]
    NotAccuracy {
        /// Where the model came from.
        source_name: String,
        /// The mean it answered.
        mean: f64,
        /// The spread it answered.
        spread: f64,
    },
}

/// Something about an input the model did not see in training; the prediction stands but is
/// less trustworthy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeNote {
    /// The sequence is shorter or longer than every training network's.
    Length {
        /// Its length.
        length: usize,
        /// Training range.
        seen: (usize, usize),
    },
    /// A field value never seen in training.
    UnseenCode {
        /// Layer index.
        layer: usize,
        /// Field name.
        field: &'static str,
        /// The value.
        value: u8,
    },
    /// The network takes other images, or has another class count, than the networks the
    /// model was trained on. The predictor reads only the layer sequence, so its answer is
    /// for these layers trained under its protocol, on its dataset.
    Input {
        /// The network's input shape.
        input: Shape,
        /// The network's classes.
        classes: u32,
        /// The input shape of the protocol's networks.
        trained_input: Shape,
        /// Their classes.
        trained_classes: u32,
        /// The protocol's name.
        protocol: &'static str,
    },
}

impl std::fmt::Display for RangeNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RangeNote::Length { length, seen } => write!(
                f,
                "{length} layers is outside the {}..={} layers of the networks the model was trained on",
                seen.0, seen.1
            ),
            RangeNote::UnseenCode {
                layer,
                field,
                value,
            } => {
                write!(
                    f,
                    "layer {layer}: {field} = {value} never occurs in the model's training networks"
                )
            }
            RangeNote::Input {
                input,
                classes,
                trained_input,
                trained_classes,
                protocol,
            } => write!(
                f,
                "the model was trained on {trained_input} inputs and {trained_classes} classes ({protocol}), \
                 this network takes {input} inputs and {classes} classes; the prediction is for its layers \
                 trained under {protocol}"
            ),
        }
    }
}

/// One prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// Mean predicted accuracy of the ensemble.
    pub mean: f64,
    /// Standard deviation across members: how much the members disagree.
    pub spread: f64,
    /// Notes on inputs outside the training ranges.
    pub notes: Vec<RangeNote>,
}

#[cfg(feature = "tract")]
type Plan = Arc<TypedRunnableModel>;

/// Which engine scores a call.
#[derive(Debug, Clone, Copy)]
enum Engine {
    /// The ONNX graph in tract when compiled in (the second engine, which checks the native
    /// scorer); the native scorer otherwise. [`Predictor::predict_batch`]'s engine.
    Graph,
    /// The native fast scorer where the model's weights fit it, tract otherwise: the lint's
    /// engine ([`Predictor::predict_batch_fast`]).
    Native,
}

/// A loaded predictor: the ONNX model, its card, and compiled plans per input shape.
pub struct Predictor {
    source_name: String,
    #[cfg(feature = "tract")]
    model: InferenceModel,
    card: ModelCard,
    #[cfg(feature = "tract")]
    plans: Mutex<HashMap<(usize, usize), Plan>>,
    /// The same weights on the native scorer, when they fit it (every format-v1 model the
    /// trainer exports does; a hand-made graph may not, and then only tract answers).
    fast: Option<FastScorer>,
    /// Whether the model reads each layer's feature rows (format v2): it is then scored from
    /// networks only (the rows come from the network, not from its codes), and its weights
    /// always fit the native scorer.
    reads_features: bool,
}

impl std::fmt::Debug for Predictor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Predictor")
            .field("source", &self.source_name)
            .field("card", &self.card.name)
            .finish()
    }
}

/// The epochs the graph's epoch tables can embed (their rows less the unused row 0; the
/// smallest over the ensemble), or `None` when the graph has no table the exporter names
/// `*.epoch_embedding` (a hand-made graph; then the card's own limits hold alone).
fn epoch_rows(proto: &ModelProto) -> Option<u64> {
    let graph = proto.graph.as_ref()?;
    graph
        .initializer
        .iter()
        .filter(|tensor| tensor.name.ends_with(".epoch_embedding"))
        .map(|tensor| {
            tensor.dims.first().map_or(0, |&rows| {
                u64::try_from(rows).unwrap_or(0).saturating_sub(1)
            })
        })
        .min()
}

/// Reads the graph into tract. tract may panic on adversarial graphs; a lint must never take
/// the build down, so a panic is an error here.
#[cfg(feature = "tract")]
fn tract_model(bytes: &[u8], name: &str) -> Result<InferenceModel, PredictorError> {
    let inference = |reason: String| PredictorError::Inference {
        source_name: name.to_string(),
        reason,
    };
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let proto = tract_onnx::pb::ModelProto::decode(bytes)?;
        tract_onnx::onnx().model_for_proto_model(&proto)
    }))
    .map_err(|_| inference("tract panicked while reading the graph".into()))?
    .map_err(|e| inference(format!("{e:#}")))
}

/// The default model, trained on the committed zoo; embedded so the lint works offline with
/// zero configuration.
pub static EMBEDDED_MODEL: &[u8] = include_bytes!("../models/default.onnx");

impl Predictor {
    /// The embedded default predictor.
    pub fn embedded() -> Result<Self, PredictorError> {
        Self::from_bytes(EMBEDDED_MODEL, "<embedded default>")
    }

    /// Loads a model file.
    pub fn from_path(path: &Path) -> Result<Self, PredictorError> {
        let bytes = peephole_io::read_bytes(path, MAX_MODEL_BYTES as u64, "predictor model")
            .map_err(PredictorError::Io)?;
        // Every later error names the model by this: escaped once here for the terminal.
        Self::from_bytes(&bytes, &peephole_io::escape(&path.display().to_string()))
    }

    /// Loads a model from bytes; `source_name` names them in errors. Everything that can be
    /// checked without running the graph is checked here (format, card, ULC version, the
    /// graph's shapes, whether the weights fit the fast scorer); tract's plan is compiled here
    /// too only when the fast scorer cannot be built, otherwise at the first tract-backed call.
    pub fn from_bytes(bytes: &[u8], source_name: &str) -> Result<Self, PredictorError> {
        let name = source_name.to_string();
        if bytes.len() > MAX_MODEL_BYTES {
            return Err(PredictorError::NotPredictor {
                source_name: name,
                reason: format!("{} bytes is larger than any predictor", bytes.len()),
            });
        }
        let proto = ModelProto::decode(bytes).map_err(|e| PredictorError::NotOnnx {
            source_name: name.clone(),
            reason: e.to_string(),
        })?;
        let meta = |key: &str| {
            proto
                .metadata_props
                .iter()
                .find(|p| p.key == key)
                .map(|p| p.value.clone())
        };
        let not_predictor = |reason: String| PredictorError::NotPredictor {
            source_name: name.clone(),
            reason,
        };
        let format = meta(META_FORMAT).ok_or_else(|| {
            not_predictor(format!(
                "no `{META_FORMAT}` metadata: not a Peephole predictor"
            ))
        })?;
        let reads_features = reads_layer_features(&format).ok_or_else(|| {
            not_predictor(format!(
                "format {}, this build reads {PREDICTOR_FORMAT} and {PREDICTOR_FORMAT_V2}",
                peephole_io::shown(&format)
            ))
        })?;
        let card_json =
            meta(META_CARD).ok_or_else(|| not_predictor(format!("no `{META_CARD}` metadata")))?;
        let card: ModelCard = serde_json::from_str(&card_json)
            .map_err(|e| not_predictor(format!("its model card is malformed: {e}")))?;
        // The features a v2 model reads must be the ones this build computes, and the card
        // must say what the format says: a runtime never feeds rows of another definition.
        let (_, expected_set) = format_of(reads_features);
        let graph_set = meta(META_LAYER_FEATURES);
        if graph_set.as_deref() != expected_set || card.layer_features.as_deref() != expected_set {
            return Err(not_predictor(format!(
                "format {} with layer features {} in its metadata and {} in its card; this build reads {PREDICTOR_FORMAT} without them and {PREDICTOR_FORMAT_V2} with {LAYER_FEATURES_V1}",
                peephole_io::shown(&format),
                graph_set
                    .as_deref()
                    .map_or("none".into(), peephole_io::shown),
                card.layer_features
                    .as_deref()
                    .map_or("none".into(), peephole_io::shown),
            )));
        }
        if card.ulc_version != ULC_VERSION {
            return Err(PredictorError::UlcVersion {
                source_name: name,
                found: peephole_io::shown(&card.ulc_version),
                expected: ULC_VERSION,
            });
        }
        card.check()
            .map_err(|problem| not_predictor(format!("its model card {problem}")))?;
        // The card's epochs are what every consumer asks for (the last one is the verdict):
        // an epoch the graph's table has no row for made tract panic inside a gather.
        if let Some(rows) = epoch_rows(&proto)
            && u64::from(card.epochs) > rows
        {
            return Err(not_predictor(format!(
                "its model card says {} epochs, its epoch embedding has rows for epochs 1..={rows} only",
                card.epochs
            )));
        }
        // tract allocates what constant shapes claim while it analyses a graph, and an abort
        // on a failed allocation cannot be caught: shapes are checked before it sees them.
        screen(&proto).map_err(|source| PredictorError::Graph {
            source_name: name.clone(),
            source,
        })?;
        let weights = PredictorWeights::from_model_proto(&proto, &name);
        let fast = if reads_features {
            // A v2 model's weights must fit the native scorer: the lint scores on nothing else.
            let weights = weights.map_err(|e| {
                not_predictor(format!("its layer-feature weights cannot be read: {e}"))
            })?;
            if !weights.reads_layer_features() {
                return Err(not_predictor(format!(
                    "format {PREDICTOR_FORMAT_V2} but its members read no layer features"
                )));
            }
            Some(FastScorer::new(&weights).map_err(|e| {
                not_predictor(format!(
                    "its layer-feature weights do not fit together: {e}"
                ))
            })?)
        } else {
            weights.ok().and_then(|w| FastScorer::new(&w).ok())
        };
        #[cfg(not(feature = "tract"))]
        if fast.is_none() {
            return Err(PredictorError::Inference {
                source_name: name,
                reason: "its weights do not fit the native scorer, and this build has no tract \
                         runtime to run the graph (peephole-predictor's `tract` feature)"
                    .into(),
            });
        }
        #[cfg(feature = "tract")]
        let model = tract_model(bytes, &name)?;
        let predictor = Predictor {
            source_name: name,
            #[cfg(feature = "tract")]
            model,
            card,
            #[cfg(feature = "tract")]
            plans: Mutex::new(HashMap::new()),
            fast,
            reads_features,
        };
        // Without the fast scorer tract is the only way to answer: build one plan now, so a
        // broken graph fails at load time rather than at first use. With it, that plan would be
        // most of the load (about 47 of 57 ms, optimized) and the lint, which scores on the fast
        // scorer only, would pay it once per crate; tract-backed calls then compile their plan
        // on first use and report a broken graph there, as the same typed error.
        #[cfg(feature = "tract")]
        if predictor.fast.is_none() {
            predictor.plan(1, 1)?;
        }
        Ok(predictor)
    }

    /// The model card: protocol, ranges, metrics.
    pub fn card(&self) -> &ModelCard {
        &self.card
    }

    /// Whether the model reads each layer's `layer-features-v1` row beside its ULC code
    /// (format v2): such a model scores networks ([`Predictor::predict_networks`]), never bare
    /// codes.
    pub fn reads_layer_features(&self) -> bool {
        self.reads_features
    }

    #[cfg(feature = "tract")]
    fn plan(&self, batch: usize, length: usize) -> Result<Plan, PredictorError> {
        if let Some(plan) = self
            .plans
            .lock()
            .ok()
            .and_then(|p| p.get(&(batch, length)).cloned())
        {
            return Ok(plan);
        }
        let inference = |reason: String| PredictorError::Inference {
            source_name: self.source_name.clone(),
            reason,
        };
        let model = self.model.clone();
        // The graph's inputs are codes, epoch (format v1) or codes, layer features, epoch (v2).
        let reads_features = self.reads_features;
        let epoch_input = if reads_features { 2 } else { 1 };
        // The model is a private clone, so nothing observes it after a panic.
        let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(
            move || -> TractResult<Plan> {
                let plan = model
                    .with_input_fact(
                        0,
                        InferenceFact::dt_shape(i64::datum_type(), tvec![batch, length, 4]),
                    )?
                    .with_input_fact(
                        epoch_input,
                        InferenceFact::dt_shape(i64::datum_type(), tvec![batch]),
                    )?;
                let plan = if reads_features {
                    plan.with_input_fact(
                        1,
                        InferenceFact::dt_shape(
                            f32::datum_type(),
                            tvec![batch, length, FEATURE_COUNT],
                        ),
                    )?
                } else {
                    plan
                };
                let plan = plan.into_optimized()?.into_runnable()?;
                Ok(plan)
            },
        ))
        .map_err(|_| inference("tract panicked while compiling the graph".into()))?
        .map_err(|e| inference(format!("{e:#}")))?;
        if let Ok(mut plans) = self.plans.lock() {
            plans.insert((batch, length), built.clone());
        }
        Ok(built)
    }

    fn check_epoch(&self, epoch: u32) -> Result<(), PredictorError> {
        if epoch == 0 || epoch > self.card.epochs {
            return Err(PredictorError::Epoch {
                epoch,
                epochs: self.card.epochs,
                protocol: self.card.protocol.clone(),
            });
        }
        Ok(())
    }

    /// Notes for an input outside what the model saw.
    pub fn range_notes(&self, codes: &[UlcCode]) -> Vec<RangeNote> {
        let ranges = &self.card.ranges;
        let mut notes = Vec::new();
        let (low, high) = ranges.sequence_length;
        if codes.len() < low || codes.len() > high {
            notes.push(RangeNote::Length {
                length: codes.len(),
                seen: ranges.sequence_length,
            });
        }
        for (layer, code) in codes.iter().enumerate() {
            for ((field, value), seen) in ["TY", "KW", "KH", "CH"]
                .into_iter()
                .zip(code.fields())
                .zip(&ranges.codes_seen)
            {
                if !seen.contains(&value) {
                    notes.push(RangeNote::UnseenCode {
                        layer,
                        field,
                        value,
                    });
                }
            }
        }
        notes
    }

    /// A note when `network`'s images or classes differ from those of the networks the model
    /// was trained on (its protocol's dataset); `None` when they match or the protocol is
    /// not one this build knows.
    pub fn input_note(&self, network: &Network) -> Option<RangeNote> {
        let protocol = Protocol::by_name(&self.card.protocol)?;
        let ([channels, height, width], trained_classes) = protocol.dataset.image_and_classes();
        let trained_input = Shape::new(channels, height, width);
        (network.input != trained_input || network.classes != trained_classes).then_some(
            RangeNote::Input {
                input: network.input,
                classes: network.classes,
                trained_input,
                trained_classes,
                protocol: protocol.name,
            },
        )
    }

    /// Predicts the accuracy of a network after `epoch` (1-based), with notes on its codes
    /// and on its input outside what the model saw.
    pub fn predict(&self, network: &Network, epoch: u32) -> Result<Prediction, PredictorError> {
        self.predict_network(network, epoch, Engine::Graph)
    }

    /// [`Predictor::predict_final`] on the native scorer where the model allows (see
    /// [`Predictor::predict_batch_fast`]).
    pub fn predict_final_fast(&self, network: &Network) -> Result<Prediction, PredictorError> {
        self.predict_network(network, self.card.epochs, Engine::Native)
    }

    /// One network through one engine, with the notes on its input.
    fn predict_network(
        &self,
        network: &Network,
        epoch: u32,
        engine: Engine,
    ) -> Result<Prediction, PredictorError> {
        self.networks_through(&[(network, epoch)], engine)?
            .pop()
            .ok_or(PredictorError::NotFinite)
    }

    /// Networks through one engine, with their layer-feature rows when the model reads them
    /// (format v2), and the notes [`Predictor::predict`] gives.
    fn networks_through(
        &self,
        items: &[(&Network, u32)],
        engine: Engine,
    ) -> Result<Vec<Prediction>, PredictorError> {
        // One shape analysis per network feeds both its codes and its feature rows.
        let analyses = items
            .iter()
            .map(|(network, _)| network.analyze())
            .collect::<Result<Vec<_>, _>>()?;
        let encodings: Vec<_> = items
            .iter()
            .zip(&analyses)
            .map(|((network, _), analysis)| encode_analyzed(network, analysis))
            .collect();
        let coded: Vec<(&[UlcCode], u32)> = encodings
            .iter()
            .zip(items)
            .map(|(encoding, &(_, epoch))| (encoding.codes.as_slice(), epoch))
            .collect();
        let rows = self.reads_features.then(|| {
            items
                .iter()
                .zip(&analyses)
                .map(|((network, _), analysis)| layer_features_analyzed(network, analysis))
                .collect::<Vec<_>>()
        });
        let row_slices: Option<Vec<&[FeatureRow]>> = rows
            .as_ref()
            .map(|rows| rows.iter().map(Vec::as_slice).collect());
        let mut predictions = self.score(&coded, row_slices.as_deref(), engine)?;
        for (prediction, (network, _)) in predictions.iter_mut().zip(items) {
            prediction.notes.extend(self.input_note(network));
        }
        Ok(predictions)
    }

    /// Predicts many networks at once (the accuracy after each one's epoch), in input
    /// order, with the notes [`Predictor::predict`] gives; every model format answers here.
    /// The engine is [`Predictor::predict_batch`]'s: tract when compiled in, the native
    /// scorer otherwise; a format-v2 model gets each network's layer features.
    pub fn predict_networks(
        &self,
        items: &[(&Network, u32)],
    ) -> Result<Vec<Prediction>, PredictorError> {
        self.networks_through(items, Engine::Graph)
    }

    /// [`Predictor::predict_networks`] on the native scorer where the model allows (see
    /// [`Predictor::predict_batch_fast`]): what the edit search scores its candidates with.
    pub fn predict_networks_fast(
        &self,
        items: &[(&Network, u32)],
    ) -> Result<Vec<Prediction>, PredictorError> {
        self.networks_through(items, Engine::Native)
    }

    /// Refuses bare codes for a model that reads layer features.
    fn codes_suffice(&self) -> Result<(), PredictorError> {
        if self.reads_features {
            return Err(PredictorError::NeedsNetworks {
                source_name: self.source_name.clone(),
            });
        }
        Ok(())
    }

    /// A backend's raw answer for `codes` as a prediction: refused when not finite, with the
    /// range notes of the codes.
    fn prediction(
        &self,
        mean: f64,
        spread: f64,
        codes: &[UlcCode],
    ) -> Result<Prediction, PredictorError> {
        if !mean.is_finite() || !spread.is_finite() {
            return Err(PredictorError::NotFinite);
        }
        if !(0.0..=1.0).contains(&mean) || spread < 0.0 {
            return Err(PredictorError::NotAccuracy {
                source_name: self.source_name.clone(),
                mean,
                spread,
            });
        }
        Ok(Prediction {
            mean,
            spread,
            notes: self.range_notes(codes),
        })
    }

    /// [`Predictor::predict_batch`] on the native fast scorer when the model's weights fit it
    /// (tests/fast.rs holds it to the ONNX graph within 1e-5), through tract otherwise. The
    /// build-time lint scores this way: tract compiles a plan for every (batch, length) it
    /// meets, and at build time that compilation costs far more than the scoring.
    pub fn predict_batch_fast(
        &self,
        items: &[(&[UlcCode], u32)],
    ) -> Result<Vec<Prediction>, PredictorError> {
        self.codes_suffice()?;
        self.score(items, None, Engine::Native)
    }

    /// The one scoring path: checks the items, then runs them on `engine`. `rows` holds each
    /// item's layer-feature rows, required exactly when the model reads them.
    fn score(
        &self,
        items: &[(&[UlcCode], u32)],
        rows: Option<&[&[FeatureRow]]>,
        engine: Engine,
    ) -> Result<Vec<Prediction>, PredictorError> {
        self.check_items(items)?;
        let inference = |reason: String| PredictorError::Inference {
            source_name: self.source_name.clone(),
            reason,
        };
        match rows {
            None if self.reads_features => {
                return Err(PredictorError::NeedsNetworks {
                    source_name: self.source_name.clone(),
                });
            }
            Some(_) if !self.reads_features => {
                return Err(inference(format!(
                    "the model ({PREDICTOR_FORMAT}) reads no layer features, and rows were given"
                )));
            }
            Some(rows) if rows.len() != items.len() => {
                return Err(inference(format!(
                    "{} items but layer-feature rows for {}",
                    items.len(),
                    rows.len()
                )));
            }
            Some(rows) => {
                if let Some((item, _)) = rows
                    .iter()
                    .zip(items)
                    .enumerate()
                    .find(|(_, (rows, (codes, _)))| rows.len() != codes.len())
                {
                    return Err(inference(format!(
                        "item {item} has {} layers but {} layer-feature rows",
                        items[item].0.len(),
                        rows[item].len()
                    )));
                }
            }
            None => {}
        }
        let fast = match (engine, &self.fast) {
            (Engine::Native, Some(fast)) => fast,
            #[cfg(not(feature = "tract"))]
            (Engine::Graph, Some(fast)) => fast,
            // tract is the graph engine, and the only one for a model the fast scorer cannot read.
            #[cfg(feature = "tract")]
            _ => return self.predict_batch_tract(items, rows),
            #[cfg(not(feature = "tract"))]
            (_, None) => return Err(inference("no engine can run this model".into())),
        };
        let scores = match rows {
            None => fast.score(items),
            Some(rows) => {
                let with_rows: Vec<(&[UlcCode], &[FeatureRow], u32)> = items
                    .iter()
                    .zip(rows)
                    .map(|(&(codes, epoch), &rows)| (codes, rows, epoch))
                    .collect();
                fast.score_with_features(&with_rows)
            }
        }
        .map_err(|e| inference(e.to_string()))?;
        scores
            .into_iter()
            .zip(items)
            .map(|(score, (codes, _))| self.prediction(score.mean, score.spread, codes))
            .collect()
    }

    /// What both backends require of their input: lengths, valid codes, epochs in range.
    fn check_items(&self, items: &[(&[UlcCode], u32)]) -> Result<(), PredictorError> {
        for (codes, epoch) in items {
            if codes.is_empty() || codes.len() > MAX_SEQUENCE {
                return Err(PredictorError::Length {
                    length: codes.len(),
                });
            }
            validate(codes)?;
            self.check_epoch(*epoch)?;
        }
        Ok(())
    }

    /// Predicts the final-epoch accuracy of a network.
    pub fn predict_final(&self, network: &Network) -> Result<Prediction, PredictorError> {
        self.predict(network, self.card.epochs)
    }

    /// Predicts from a ULC sequence.
    pub fn predict_codes(
        &self,
        codes: &[UlcCode],
        epoch: u32,
    ) -> Result<Prediction, PredictorError> {
        let mut out = self.predict_batch(&[(codes, epoch)])?;
        out.pop().ok_or(PredictorError::NotFinite)
    }

    /// [`Predictor::predict_batch`] for a model that reads layer features, on inputs already
    /// computed: each item's codes, its `layer-features-v1` rows (one per layer) and its
    /// epoch. For callers that time the engines apart from encoding (`cargo xtask bench
    /// predict`); everyone else scores networks ([`Predictor::predict_networks`]).
    pub fn predict_batch_with_features(
        &self,
        items: &[(&[UlcCode], &[FeatureRow], u32)],
    ) -> Result<Vec<Prediction>, PredictorError> {
        let codes: Vec<(&[UlcCode], u32)> = items.iter().map(|&(c, _, e)| (c, e)).collect();
        let rows: Vec<&[FeatureRow]> = items.iter().map(|&(_, r, _)| r).collect();
        self.score(&codes, Some(&rows), Engine::Graph)
    }

    /// Predicts many sequences at once; results are in input order. With the `tract` feature
    /// the ONNX graph runs in tract (the second engine, which checks the native scorer and
    /// runs graphs it cannot read); without it, on the native scorer
    /// ([`Predictor::predict_batch_fast`]), which answers the same within 1e-5.
    pub fn predict_batch(
        &self,
        items: &[(&[UlcCode], u32)],
    ) -> Result<Vec<Prediction>, PredictorError> {
        self.codes_suffice()?;
        self.score(items, None, Engine::Graph)
    }

    /// Items through tract, grouped by length (the graph takes unpadded sequences), with
    /// their layer-feature rows as the graph's `layer_features` input when the model reads
    /// them.
    #[cfg(feature = "tract")]
    fn predict_batch_tract(
        &self,
        items: &[(&[UlcCode], u32)],
        rows: Option<&[&[FeatureRow]]>,
    ) -> Result<Vec<Prediction>, PredictorError> {
        let mut results: Vec<Option<Prediction>> = vec![None; items.len()];
        let inference = |reason: String| PredictorError::Inference {
            source_name: self.source_name.clone(),
            reason,
        };
        for batch in length_batches(items) {
            let (length, members) = (batch.length, &batch.members);
            let plan = self.plan(members.len(), length)?;
            let codes = tract_ndarray::Array3::from_shape_vec(
                (members.len(), length, 4),
                batch.codes(items),
            )
            .map_err(|e| inference(e.to_string()))?;
            let epochs = tract_ndarray::Array1::from_vec(batch.epochs(items));
            let mut inputs: TVec<TValue> = tvec![Tensor::from(codes).into()];
            if let Some(rows) = rows {
                let features = tract_ndarray::Array3::from_shape_vec(
                    (members.len(), length, FEATURE_COUNT),
                    batch.features(rows),
                )
                .map_err(|e| inference(e.to_string()))?;
                inputs.push(Tensor::from(features).into());
            }
            inputs.push(Tensor::from(epochs).into());
            // A screened graph can still meet a tract bug at run time; a lint must not panic.
            let outputs =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| plan.run(inputs)))
                    .map_err(|_| inference("tract panicked while running the graph".into()))?
                    .map_err(|e| inference(format!("{e:#}")))?;
            // A graph edited by hand can return fewer outputs or other shapes than the exporter
            // writes; indexing them blindly would panic.
            let column = |index: usize, what: &str| -> Result<Vec<f32>, PredictorError> {
                let output = outputs
                    .get(index)
                    .ok_or_else(|| inference(format!("the model has no {what} output")))?;
                let view = output
                    .to_plain_array_view::<f32>()
                    .map_err(|e| inference(format!("{what} output: {e}")))?;
                if view.shape() != [members.len()] {
                    return Err(inference(format!(
                        "{what} output has shape {:?}, expected [{}]",
                        view.shape(),
                        members.len()
                    )));
                }
                Ok(view.iter().copied().collect())
            };
            let (mean, spread) = (column(0, "mean")?, column(1, "spread")?);
            for (k, &i) in members.iter().enumerate() {
                results[i] =
                    Some(self.prediction(f64::from(mean[k]), f64::from(spread[k]), items[i].0)?);
            }
        }
        results
            .into_iter()
            .map(|r| r.ok_or(PredictorError::NotFinite))
            .collect()
    }
}

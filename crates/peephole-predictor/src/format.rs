//! The names and limits that make an ONNX file a Peephole predictor: the format name, the
//! metadata keys, the size limit. A leaf module, so the card, the weights reader, the runtime
//! and the exporter (`peephole-onnx`) all import one definition instead of each other.

use peephole_ir::layer_features::LAYER_FEATURES_V1;

/// Format name of the predictor models of the paper's input, the ULC codes alone (metadata
/// [`META_FORMAT`]).
pub const PREDICTOR_FORMAT: &str = "peephole-predictor-v1";
/// Format name of the models whose LSTM also reads a `layer-features-v1` row per layer: v1's
/// graph plus the float input [`INPUT_LAYER_FEATURES`] and the metadata
/// [`META_LAYER_FEATURES`]. A new name, so a reader of v1 refuses such a model by name rather
/// than run it without the rows it was fitted to see.
pub const PREDICTOR_FORMAT_V2: &str = "peephole-predictor-v2";
/// Metadata key naming the layer-feature set a v2 model reads (`layer-features-v1`).
pub const META_LAYER_FEATURES: &str = "peephole.layer_features";
/// Graph input of a v2 model: `[batch, length, 7]` float rows, one per layer.
pub const INPUT_LAYER_FEATURES: &str = "layer_features";
/// The format name and layer-feature set of a model that does (`true`) or does not read
/// layer features: the one mapping the trainer's card, the exporter and the readers share.
pub const fn format_of(reads_layer_features: bool) -> (&'static str, Option<&'static str>) {
    if reads_layer_features {
        (PREDICTOR_FORMAT_V2, Some(LAYER_FEATURES_V1))
    } else {
        (PREDICTOR_FORMAT, None)
    }
}

/// Whether a model of format `format` reads layer features; `None` for a format this build
/// does not read.
pub fn reads_layer_features(format: &str) -> Option<bool> {
    match format {
        PREDICTOR_FORMAT => Some(false),
        PREDICTOR_FORMAT_V2 => Some(true),
        _ => None,
    }
}

/// Where the workspace keeps the paper's model (format v1: ULC codes only, fitted on
/// generators v1 and v2), relative to the workspace root. It is not embedded (the default also
/// reads layer features), but it stays selectable for the paper's Table 3 and is what the
/// tests, benchmarks and fuzzing of the codes-only interface load: one path for all of them.
pub const ULC_ONLY_MODEL_PATH: &str = "data/models/ulc-v1v2.onnx";

/// Metadata key of the format name.
pub const META_FORMAT: &str = "peephole.format";
/// Metadata key of the protocol name.
pub const META_PROTOCOL: &str = "peephole.protocol";
/// Metadata key of the ULC version.
pub const META_ULC_VERSION: &str = "peephole.ulc_version";
/// Metadata key of the protocol's epoch count.
pub const META_EPOCHS: &str = "peephole.epochs";
/// Metadata key of the model card JSON.
pub const META_CARD: &str = "peephole.card";
/// Longest ULC sequence accepted; generated networks have at most 46 layers.
pub const MAX_SEQUENCE: usize = 512;

/// Largest model file accepted; the default model is a few MB, so anything far larger is
/// not a predictor and is refused before parsing.
pub const MAX_MODEL_BYTES: usize = 256 << 20;

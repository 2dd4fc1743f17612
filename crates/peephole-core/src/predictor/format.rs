//! The names and limits that make an ONNX file a Peephole predictor: the format name, the
//! metadata keys, the size limit. A leaf module, so the card, the weights reader, the runtime
//! and the exporter (`peephole-onnx`) all import one definition instead of each other.

/// Format name of the predictor models this build reads and writes (metadata
/// [`META_FORMAT`]).
pub const PREDICTOR_FORMAT: &str = "peephole-predictor-v1";
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
/// Largest model file accepted; the default model is a few MB, so anything far larger is
/// not a predictor and is refused before parsing.
pub const MAX_MODEL_BYTES: usize = 256 << 20;

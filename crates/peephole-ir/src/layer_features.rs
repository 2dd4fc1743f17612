//! Layer features, version 1 (`layer-features-v1`): what ULC v1 cannot say about a layer, as
//! a few real numbers per layer that the predictor may read beside the ULC codes.
//!
//! ULC v1 is the paper's code and stays exactly that: a conv is its kernel clamped to 1..5 and
//! the ratio of its output to input channels clamped to 0.25..3. So a 7x7 stem, a stride-2
//! conv, a conv from 16 down to 2 channels, the absolute width and the size of the feature map
//! are invisible to it, and those are what separate many hand-written networks. These features
//! carry them, on scales near 1 so that they sit beside the embeddings (whose entries are
//! about unit size) without a learned normalisation.
//!
//! The definition is a contract between the trainer and every runtime that scores a model
//! fitted with it: a change is a new version, never an edit of this one.

use crate::{Analysis, Network, ShapeError};

/// Name of this feature set, stored in model cards and models so that a runtime never feeds a
/// model features of another definition.
pub const LAYER_FEATURES_V1: &str = "layer-features-v1";

/// Features per layer in [`LAYER_FEATURES_V1`].
pub const FEATURE_COUNT: usize = 7;

/// One layer's features, in the order [`FEATURE_NAMES`] lists.
pub type FeatureRow = [f32; FEATURE_COUNT];

/// What each entry of a [`FeatureRow`] is, for docs, cards and error messages.
pub const FEATURE_NAMES: [&str; FEATURE_COUNT] = [
    "kernel width / 4 (0 without a window)",
    "kernel height / 4 (0 without a window)",
    "stride / 2 (0 without a window)",
    "log2(input channels) / 4",
    "log2(output channels) / 4",
    "log2(input feature map side) / 4, the side being sqrt(height * width)",
    "share of the network's multiply-accumulates (head included)",
];

/// The features of every body layer of `network`, one row per layer in order; fails only
/// when the network itself is invalid (the features need shape inference).
pub fn layer_features(network: &Network) -> Result<Vec<FeatureRow>, ShapeError> {
    Ok(layer_features_analyzed(network, &network.analyze()?))
}

/// [`layer_features`] from the network's shape analysis, for callers that also encode the
/// network (see [`crate::ulc::encode_analyzed`]) and so run the analysis once.
pub fn layer_features_analyzed(network: &Network, analysis: &Analysis) -> Vec<FeatureRow> {
    // `analyze` counts the head's multiply-accumulates too, so the total is never 0 and a
    // network whose compute is all in its head gives every layer a share of 0.
    let total_macs = analysis.macs.max(1) as f64;
    let log2 = |value: u32| f64::from(value.max(1)).log2();
    network
        .layers
        .iter()
        .zip(&analysis.layers)
        .map(|(layer, shape)| {
            let (kernel_width, kernel_height, stride) = match layer.window() {
                Some((kernel, stride, _)) => (
                    f64::from(kernel.width) / 4.0,
                    f64::from(kernel.height) / 4.0,
                    f64::from(stride) / 2.0,
                ),
                None => (0.0, 0.0, 0.0),
            };
            let side = 0.5 * (log2(shape.input.height) + log2(shape.input.width));
            [
                kernel_width,
                kernel_height,
                stride,
                log2(shape.input.channels) / 4.0,
                log2(shape.output.channels) / 4.0,
                side / 4.0,
                shape.macs as f64 / total_macs,
            ]
            .map(|value| value as f32)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::parse_network;

    fn features(text: &str) -> Vec<FeatureRow> {
        layer_features(&parse_network(text).expect("valid network")).expect("valid shapes")
    }

    #[test]
    fn a_conv_row_holds_its_kernel_stride_widths_map_side_and_compute_share() {
        // 1x28x28 -> conv 7x7 stride 2 (valid padding, the text form's default with a
        // stride) to 16 channels: output 16x11x11.
        let rows = features("[1x28x28] conv7x7:16/2 relu -> 10");
        let conv = rows[0];
        assert_eq!(conv[0], 7.0 / 4.0);
        assert_eq!(conv[1], 7.0 / 4.0);
        assert_eq!(conv[2], 1.0);
        assert_eq!(conv[3], 0.0, "one input channel: log2 1 = 0");
        assert_eq!(conv[4], 1.0, "log2 16 / 4");
        assert!((conv[5] - (28f32.log2() / 4.0)).abs() < 1e-6);
        // conv: 7*7*1*16 weights at 11*11 positions; head: 16*10.
        let conv_macs = 7.0 * 7.0 * 16.0 * 121.0;
        let share = conv_macs / (conv_macs + 160.0);
        assert!((f64::from(conv[6]) - share).abs() < 1e-6);
    }

    #[test]
    fn a_pointwise_row_has_no_window_and_no_compute() {
        let rows = features("[1x28x28] conv3x3:8 relu bn -> 10");
        for row in &rows[1..] {
            assert_eq!(&row[..3], &[0.0, 0.0, 0.0]);
            assert_eq!(row[3], row[4], "channels pass through");
            assert_eq!(row[6], 0.0);
        }
    }

    #[test]
    fn a_bottleneck_and_the_map_shrinking_are_visible() {
        // ULC codes 16 -> 2 as the clamped ratio 0.25; the features keep both widths.
        let rows = features("[1x28x28] conv3x3:16 maxpool2x2/2 conv3x3:2 -> 10");
        assert_eq!(rows[2][3], 1.0, "log2 16 / 4");
        assert_eq!(rows[2][4], 0.25, "log2 2 / 4");
        assert!(
            (rows[2][5] - 14f32.log2() / 4.0).abs() < 1e-6,
            "after the pool"
        );
        let shares: f32 = rows.iter().map(|r| r[6]).sum();
        assert!(
            shares < 1.0 && shares > 0.99,
            "the head takes the rest: {shares}"
        );
    }

    #[test]
    fn an_invalid_network_is_its_shape_error() {
        let network = parse_network("[1x4x4] conv5x5:8@valid -> 10").expect("valid syntax");
        assert!(matches!(
            layer_features(&network),
            Err(ShapeError::KernelLargerThanInput { layer: 0, .. })
        ));
    }
}

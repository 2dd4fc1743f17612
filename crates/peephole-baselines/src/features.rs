//! What each baseline sees of a zoo record: a prefix of the learning curve, coarse
//! architecture statistics, or counts of ULC field values. Kept apart from the learners so the
//! learners can be tested on synthetic matrices and the features on real records.

use peephole_ir::LayerKind;
use peephole_ir::ulc::{self, CHANNEL_VOCAB, KERNEL_VOCAB, TYPE_VOCAB};
use peephole_zoo::ZooRecord;

use crate::BaselineError;

/// Fraction of the learning curve the curve-based baselines may look at; the Peephole paper
/// gives Baker et al.'s nu-SVR the first 25% of training.
pub const PREFIX_FRACTION: f64 = 0.25;

/// Epochs in the visible prefix: `fraction` of `epochs`, rounded up (a baseline that sees no
/// epoch at all is not a curve baseline), and never more than `epochs`.
///
/// For `fmnist-budget-v1` (8 epochs) and 25%: 2.
pub fn prefix_epochs(epochs: usize, fraction: f64) -> usize {
    // The small slack keeps a product like `10 * 0.3 = 3.0000000000000004` from rounding up
    // to 4; no real fraction of a few epochs lands within 1e-9 above an integer.
    let count = (epochs as f64 * fraction - 1e-9).ceil().max(0.0) as usize;
    count.clamp(1, epochs.max(1))
}

/// The visible part of a record's learning curve.
///
/// # Errors
///
/// [`BaselineError::CurveLength`] unless the curve has exactly `epochs` points: records of
/// another protocol (or a truncated one) would put a different epoch at the same position.
pub fn curve_prefix(
    record: &ZooRecord,
    epochs: usize,
    prefix: usize,
) -> Result<&[f64], BaselineError> {
    if record.curve.len() != epochs {
        return Err(BaselineError::CurveLength {
            id: record.id.clone(),
            length: record.curve.len(),
            expected: epochs,
        });
    }
    Ok(&record.curve[..prefix.min(epochs)])
}

/// The target every accuracy-scale baseline predicts: the last point of the curve.
///
/// # Errors
///
/// [`BaselineError::CurveLength`] as [`curve_prefix`].
pub fn final_accuracy(record: &ZooRecord, epochs: usize) -> Result<f64, BaselineError> {
    let curve = curve_prefix(record, epochs, epochs)?;
    curve.last().copied().ok_or(BaselineError::CurveLength {
        id: record.id.clone(),
        length: 0,
        expected: epochs,
    })
}

/// Architecture statistics of Baker et al.'s feature set, adapted to what a zoo record holds:
/// log parameter count, log MACs, number of layers, and the count of each layer kind (in ULC
/// type order). Logs because both counts span orders of magnitude; `ln(1 + x)` so a zero
/// never becomes `-inf`.
pub fn architecture_features(record: &ZooRecord) -> Vec<f64> {
    let mut features = vec![
        (record.params as f64).ln_1p(),
        (record.macs as f64).ln_1p(),
        record.network.layers.len() as f64,
    ];
    features.extend(LayerKind::ALL.iter().map(|&kind| {
        record
            .network
            .layers
            .iter()
            .filter(|layer| layer.kind() == kind)
            .count() as f64
    }));
    features
}

/// Names of [`architecture_features`], in order, for reports.
pub fn architecture_feature_names() -> Vec<String> {
    let mut names = vec!["ln_params".to_string(), "ln_macs".into(), "layers".into()];
    names.extend(
        LayerKind::ALL
            .iter()
            .map(|kind| format!("count_{}", kind.word())),
    );
    names
}

/// Baker et al.'s nu-SVR input: the visible curve values, their first and second differences
/// (the curve's slope and bend, which the paper found as useful as the values), then
/// [`architecture_features`].
///
/// # Errors
///
/// [`BaselineError::CurveLength`] as [`curve_prefix`].
pub fn svr_features(
    record: &ZooRecord,
    epochs: usize,
    prefix: usize,
) -> Result<Vec<f64>, BaselineError> {
    let curve = curve_prefix(record, epochs, prefix)?;
    let first: Vec<f64> = curve.windows(2).map(|w| w[1] - w[0]).collect();
    let second = first.windows(2).map(|w| w[1] - w[0]);
    let mut features: Vec<f64> = curve.to_vec();
    features.extend(&first);
    features.extend(second);
    features.extend(architecture_features(record));
    Ok(features)
}

/// Names of [`svr_features`] for a prefix of `prefix` epochs.
pub fn svr_feature_names(prefix: usize) -> Vec<String> {
    let mut names: Vec<String> = (1..=prefix).map(|e| format!("acc_epoch_{e}")).collect();
    names.extend((2..=prefix).map(|e| format!("diff1_epoch_{e}")));
    names.extend((3..=prefix).map(|e| format!("diff2_epoch_{e}")));
    names.extend(architecture_feature_names());
    names
}

/// Per-field value counts of the ULC sequence: how many layers have TY = 1, ..., 7, KW =
/// 1, ..., 5, KH = 1, ..., 5 and CH = 1, ..., 8 (25 numbers; the padding index 0 never occurs
/// in a real sequence). A bag of whole `(TY, KW, KH, CH)` tuples would have hundreds of mostly
/// empty columns for a zoo of tens of networks; per-field counts keep the ridge well posed.
///
/// # Errors
///
/// [`BaselineError::Codes`] when the sequence is not valid ULC v1, so a hostile record cannot
/// index past the count table.
pub fn ulc_field_counts(record: &ZooRecord) -> Result<Vec<f64>, BaselineError> {
    ulc::validate(&record.ulc).map_err(|source| BaselineError::Codes {
        id: record.id.clone(),
        source,
    })?;
    let widths = field_widths();
    let offsets = [
        0,
        widths[0],
        widths[0] + widths[1],
        widths[0] + widths[1] + widths[2],
    ];
    let mut counts = vec![0.0; widths.iter().sum()];
    for code in &record.ulc {
        for (field, value) in code.fields().into_iter().enumerate() {
            // Validated: 1 <= value <= width of the field.
            counts[offsets[field] + usize::from(value) - 1] += 1.0;
        }
    }
    Ok(counts)
}

/// Names of [`ulc_field_counts`], in order.
pub fn ulc_feature_names() -> Vec<String> {
    let widths = field_widths();
    ["ty", "kw", "kh", "ch"]
        .iter()
        .zip(widths)
        .flat_map(|(field, width)| (1..=width).map(move |v| format!("{field}={v}")))
        .collect()
}

/// Non-padding values per field, from the embedding vocabularies (one source of truth).
fn field_widths() -> [usize; 4] {
    [
        TYPE_VOCAB - 1,
        KERNEL_VOCAB - 1,
        KERNEL_VOCAB - 1,
        CHANNEL_VOCAB - 1,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use peephole_ir::ulc::UlcCode;

    fn record() -> ZooRecord {
        peephole_zoo::testing::record_with_curve(
            "s11-0",
            "generator-v1/fmnist-v1",
            11,
            0,
            vec![0.5, 0.6, 0.7, 0.75, 0.8, 0.82, 0.85, 0.86],
        )
    }

    #[test]
    fn prefix_is_a_quarter_rounded_up_and_never_empty() {
        assert_eq!(prefix_epochs(8, PREFIX_FRACTION), 2);
        assert_eq!(prefix_epochs(9, PREFIX_FRACTION), 3);
        assert_eq!(prefix_epochs(5, PREFIX_FRACTION), 2);
        assert_eq!(prefix_epochs(4, PREFIX_FRACTION), 1);
        assert_eq!(prefix_epochs(1, PREFIX_FRACTION), 1);
        assert_eq!(prefix_epochs(20, PREFIX_FRACTION), 5);
        assert_eq!(prefix_epochs(10, 0.3), 3);
        assert_eq!(prefix_epochs(8, 1.0), 8);
    }

    #[test]
    fn svr_features_hold_prefix_differences_and_architecture() {
        let r = record();
        let f = svr_features(&r, 8, 3).unwrap();
        assert_eq!(f.len(), svr_feature_names(3).len());
        assert_eq!(&f[..3], &[0.5, 0.6, 0.7]);
        assert!((f[3] - 0.1).abs() < 1e-12 && (f[4] - 0.1).abs() < 1e-12);
        assert!(f[5].abs() < 1e-12, "second difference {}", f[5]);
        assert_eq!(&f[6..], architecture_features(&r).as_slice());
        // With two epochs there is no second difference.
        assert_eq!(svr_features(&r, 8, 2).unwrap().len(), 3 + 10);
    }

    #[test]
    fn architecture_counts_add_up_to_the_layer_count() {
        let r = record();
        let f = architecture_features(&r);
        assert_eq!(f.len(), architecture_feature_names().len());
        assert_eq!(f[2], r.network.layers.len() as f64);
        assert_eq!(f[3..].iter().sum::<f64>(), f[2]);
        assert!((f[0] - (r.params as f64 + 1.0).ln()).abs() < 1e-12);
        // The fmnist-v1 stem alone has a conv, a batch norm, a relu and a max pool.
        assert!(
            f[3] >= 1.0 && f[4] >= 1.0 && f[6] >= 1.0 && f[9] >= 1.0,
            "{f:?}"
        );
    }

    #[test]
    fn ulc_counts_have_one_count_per_field_per_layer() {
        let r = record();
        let counts = ulc_field_counts(&r).unwrap();
        assert_eq!(counts.len(), 25);
        assert_eq!(ulc_feature_names().len(), 25);
        let layers = r.ulc.len() as f64;
        assert_eq!(counts[..7].iter().sum::<f64>(), layers);
        assert_eq!(counts[7..12].iter().sum::<f64>(), layers);
        assert_eq!(counts[12..17].iter().sum::<f64>(), layers);
        assert_eq!(counts[17..].iter().sum::<f64>(), layers);
        let convs = r.ulc.iter().filter(|c| c.ty == 1).count() as f64;
        assert_eq!(counts[0], convs);
        assert_eq!(ulc_feature_names()[17], "ch=1");
    }

    #[test]
    fn invalid_codes_and_wrong_curve_lengths_are_errors_naming_the_record() {
        let mut r = record();
        r.ulc[0] = UlcCode {
            ty: 9,
            kw: 1,
            kh: 1,
            ch: 4,
        };
        match ulc_field_counts(&r) {
            Err(BaselineError::Codes { id, .. }) => assert_eq!(id, "s11-0"),
            other => panic!("{other:?}"),
        }
        r.curve.pop();
        match svr_features(&r, 8, 2) {
            Err(BaselineError::CurveLength {
                id,
                length: 7,
                expected: 8,
            }) => {
                assert_eq!(id, "s11-0")
            }
            other => panic!("{other:?}"),
        }
    }
}

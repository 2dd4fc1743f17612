//! Reads the CIFAR-10 binary format: fixed records of one label byte followed by a 3x32x32
//! image stored channel-major (all red, then all green, then all blue).

use std::path::Path;

use crate::error::{DataError, memory_source};

/// Colour channels of a CIFAR-10 image.
pub const CIFAR10_CHANNELS: usize = 3;
/// Height and width of a CIFAR-10 image.
pub const CIFAR10_SIDE: usize = 32;
/// Pixel bytes in one image (3 x 32 x 32).
pub const CIFAR10_IMAGE_LEN: usize = CIFAR10_CHANNELS * CIFAR10_SIDE * CIFAR10_SIDE;
/// Bytes in one record: the label byte, then the image.
pub const CIFAR10_RECORD_LEN: usize = 1 + CIFAR10_IMAGE_LEN;
/// Number of classes; labels are `0..CIFAR10_CLASSES`.
pub const CIFAR10_CLASSES: u8 = 10;

/// The records of one CIFAR-10 batch file, split into labels and pixels so pixels can be handed
/// to a tensor constructor as one contiguous N x 3 x 32 x 32 block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CifarBatch {
    /// One label per record, each in `0..CIFAR10_CLASSES`.
    pub labels: Vec<u8>,
    /// All images back to back, `labels.len() * CIFAR10_IMAGE_LEN` bytes, channel-major.
    pub pixels: Vec<u8>,
}

impl CifarBatch {
    /// Number of records.
    pub fn count(&self) -> usize {
        self.labels.len()
    }

    /// The `CIFAR10_IMAGE_LEN` pixel bytes of record `index`, or `None` when out of range.
    pub fn image(&self, index: usize) -> Option<&[u8]> {
        let start = index.checked_mul(CIFAR10_IMAGE_LEN)?;
        self.pixels
            .get(start..start.checked_add(CIFAR10_IMAGE_LEN)?)
    }
}

/// Largest CIFAR-10 batch file read: the real ones hold 10,000 records (30.7 MB); a device or
/// a huge wrong file stops here instead of filling memory.
pub const MAX_CIFAR_BATCH_BYTES: u64 = 64 << 20;

/// Reads one CIFAR-10 binary batch file (e.g. `data_batch_1.bin`).
///
/// Read through the bounded reader (regular files only, at most [`MAX_CIFAR_BATCH_BYTES`]), so
/// pointing this at a device or a FIFO fails at once instead of reading without end.
pub fn read_cifar10_batch(path: impl AsRef<Path>) -> Result<CifarBatch, DataError> {
    let path = path.as_ref();
    let bytes = peephole_io::read_bytes(path, MAX_CIFAR_BATCH_BYTES, "CIFAR-10 batch")
        .map_err(|e| DataError::io(path, e.into_io()))?;
    check_record_length(bytes.len() as u64, path)?;
    parse_cifar10_from(&bytes, path)
}

/// Parses a CIFAR-10 batch held in memory; never panics, for fuzzing.
pub fn parse_cifar10(bytes: &[u8]) -> Result<CifarBatch, DataError> {
    parse_cifar10_from(bytes, memory_source())
}

/// Parses records, naming `source` in errors.
fn parse_cifar10_from(bytes: &[u8], source: &Path) -> Result<CifarBatch, DataError> {
    check_record_length(bytes.len() as u64, source)?;
    let count = bytes.len() / CIFAR10_RECORD_LEN;
    let mut labels = Vec::with_capacity(count);
    let mut pixels = Vec::with_capacity(count * CIFAR10_IMAGE_LEN);
    for (index, record) in bytes.chunks_exact(CIFAR10_RECORD_LEN).enumerate() {
        let (&label, image) = record.split_first().ok_or_else(|| DataError::Truncated {
            path: source.to_path_buf(),
            what: "CIFAR-10 record",
            expected: CIFAR10_RECORD_LEN,
            got: 0,
        })?;
        if label >= CIFAR10_CLASSES {
            return Err(DataError::BadLabel {
                path: source.to_path_buf(),
                index,
                label,
                max: CIFAR10_CLASSES - 1,
            });
        }
        labels.push(label);
        pixels.extend_from_slice(image);
    }
    Ok(CifarBatch { labels, pixels })
}

/// Rejects a length that does not end on a record boundary, saying how many bytes are left over.
fn check_record_length(len: u64, source: &Path) -> Result<(), DataError> {
    let trailing = len % CIFAR10_RECORD_LEN as u64;
    if trailing != 0 {
        return Err(DataError::BadRecordLength {
            path: source.to_path_buf(),
            len,
            record_len: CIFAR10_RECORD_LEN,
            trailing,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// `labels.len()` records; record `r` has label `labels[r]` and pixel `i` equal to `(r + i) % 256`.
    fn cifar_bytes(labels: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for (r, &label) in labels.iter().enumerate() {
            out.push(label);
            out.extend((0..CIFAR10_IMAGE_LEN).map(|i| ((r + i) % 256) as u8));
        }
        out
    }

    #[test]
    fn three_record_file_parses_labels_and_pixels() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data_batch_1.bin");
        std::fs::write(&path, cifar_bytes(&[3, 0, 9])).unwrap();

        let batch = read_cifar10_batch(&path).unwrap();
        assert_eq!(batch.count(), 3);
        assert_eq!(batch.labels, vec![3, 0, 9]);
        assert_eq!(batch.pixels.len(), 3 * CIFAR10_IMAGE_LEN);
        let second = batch.image(1).unwrap();
        assert_eq!(second[0], 1);
        // First blue-channel pixel of record 1 sits at 2 * 1024 in channel-major order.
        assert_eq!(second[2 * 1024], ((1 + 2 * 1024) % 256) as u8);
        assert_eq!(
            second[CIFAR10_IMAGE_LEN - 1],
            ((1 + CIFAR10_IMAGE_LEN - 1) % 256) as u8
        );
        assert_eq!(batch.image(3), None);
    }

    #[test]
    fn length_not_a_multiple_of_the_record_names_file_and_trailing_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.bin");
        let mut bytes = cifar_bytes(&[1, 2]);
        bytes.extend_from_slice(&[0; 5]);
        std::fs::write(&path, &bytes).unwrap();

        let err = read_cifar10_batch(&path).unwrap_err();
        assert!(
            matches!(&err, DataError::BadRecordLength { trailing: 5, len, .. } if *len == bytes.len() as u64)
        );
        let msg = err.to_string();
        assert!(
            msg.contains("bad.bin") && msg.contains("5 trailing bytes"),
            "{msg}"
        );

        let err = parse_cifar10(&bytes[..100]).unwrap_err();
        assert!(
            matches!(err, DataError::BadRecordLength { trailing: 100, .. }),
            "{err}"
        );
    }

    #[test]
    fn label_above_nine_names_the_record() {
        let err = parse_cifar10(&cifar_bytes(&[0, 1, 10])).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::BadLabel {
                    index: 2,
                    label: 10,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("item 2"), "{err}");
    }

    #[test]
    fn empty_input_is_an_empty_batch() {
        assert_eq!(parse_cifar10(&[]).unwrap().count(), 0);
    }

    proptest! {
        #[test]
        fn random_bytes_parse_exactly_when_they_are_whole_records_with_valid_labels(
            bytes in proptest::collection::vec(any::<u8>(), 0..8000),
        ) {
            let whole = bytes.len() % CIFAR10_RECORD_LEN == 0;
            let labels_valid = bytes
                .chunks(CIFAR10_RECORD_LEN)
                .all(|record| record[0] < CIFAR10_CLASSES);
            match parse_cifar10(&bytes) {
                Ok(batch) => {
                    prop_assert!(whole && labels_valid);
                    prop_assert_eq!(batch.count(), bytes.len() / CIFAR10_RECORD_LEN);
                    prop_assert_eq!(batch.pixels.len(), batch.count() * CIFAR10_IMAGE_LEN);
                    let labels: Vec<u8> = bytes.chunks(CIFAR10_RECORD_LEN).map(|r| r[0]).collect();
                    prop_assert_eq!(batch.labels, labels);
                }
                Err(_) => prop_assert!(!(whole && labels_valid)),
            }
        }

        #[test]
        fn parse_cifar10_accepts_any_whole_records_with_valid_labels(labels in proptest::collection::vec(0u8..10, 0..4)) {
            let batch = parse_cifar10(&cifar_bytes(&labels)).unwrap();
            prop_assert_eq!(batch.labels, labels);
        }
    }
}

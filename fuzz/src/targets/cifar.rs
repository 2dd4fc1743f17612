//! CIFAR-10 binary batches: fixed records of a label byte and 3072 pixel bytes.

use std::time::Duration;

use peephole_data::{
    CIFAR10_CLASSES, CIFAR10_IMAGE_LEN, CIFAR10_RECORD_LEN, DataError, parse_cifar10,
};

use super::{MIB, Target};

/// See the module documentation.
pub const TARGET: Target = Target {
    name: "cifar",
    about: "CIFAR-10 reader: never panics, labels in 0..10, one image per label",
    run,
    seeds,
    mutate: None,
    dictionary: &[&[10], &[9], &[0xff]],
    max_len: 3 * CIFAR10_RECORD_LEN + 8,
    timeout: Duration::from_secs(5),
    allocation_limit: 16 * MIB,
};

fn seeds() -> Vec<Vec<u8>> {
    let mut two = Vec::new();
    for label in [3u8, 9] {
        two.push(label);
        two.extend((0..CIFAR10_IMAGE_LEN).map(|i| (i % 251) as u8));
    }
    vec![two, Vec::new()]
}

fn run(data: &[u8]) -> String {
    match parse_cifar10(data) {
        Ok(batch) => {
            assert_eq!(batch.count() * CIFAR10_RECORD_LEN, data.len());
            assert_eq!(batch.pixels.len(), batch.count() * CIFAR10_IMAGE_LEN);
            assert!(batch.labels.iter().all(|&l| l < CIFAR10_CLASSES));
            assert!(batch.image(batch.count()).is_none());
            format!("ok {}", batch.count().min(2))
        }
        Err(DataError::BadRecordLength { .. }) => "length".into(),
        Err(DataError::BadLabel { .. }) => "label".into(),
        Err(other) => format!("other {other}"),
    }
}

//! IDX files (the MNIST family), raw and gzipped, whole and by prefix: headers that claim
//! billions of items must cost nothing until the bytes are there.

use std::io::Write;
use std::time::Duration;

use flate2::Compression;
use flate2::write::GzEncoder;
use peephole_data::{DataError, parse_idx_limited};

use super::{MIB, Target, class};

/// See the module documentation.
pub const TARGET: Target = Target {
    name: "idx",
    about: "IDX reader (raw and gzip, limited and whole): never panics, never allocates what a header claims, what it returns matches its dims",
    run,
    seeds,
    mutate: None,
    dictionary: &[
        &[0, 0, 8, 1],
        &[0, 0, 8, 3],
        &[0, 0, 8, 4],
        &[0xff, 0xff, 0xff, 0xff],
        &[0x1f, 0x8b],
    ],
    max_len: 4096,
    timeout: Duration::from_secs(5),
    // The streaming reader may reserve 1 MiB up front; a claim of gigabytes is far above this.
    allocation_limit: 16 * MIB,
};

fn idx(dims: &[u32], body: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(body);
    out
}

fn seeds() -> Vec<Vec<u8>> {
    // The first byte picks the mode (see `run`); the rest is the file.
    let mut seeds = Vec::new();
    for (mode, file) in [
        (0u8, idx(&[3, 2, 3], &(0..18).collect::<Vec<u8>>())),
        (1, idx(&[3, 2, 3], &(0..18).collect::<Vec<u8>>())),
        (2, idx(&[u32::MAX, 28, 28], &[7; 32])),
        (5, idx(&[4], &[1, 2, 3, 4])),
    ] {
        let mut seed = vec![mode];
        seed.extend(file);
        seeds.push(seed);
    }
    seeds
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(bytes).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

fn run(data: &[u8]) -> String {
    let (mode, file) = data.split_first().map_or((0, data), |(m, f)| (*m, f));
    // Bit 0 gzips the file so the streaming reader sees well-formed compressed data.
    let bytes = if mode & 1 == 1 {
        gzip(file)
    } else {
        file.to_vec()
    };
    let limit = match (mode >> 1) % 5 {
        0 => None,
        1 => Some(0),
        2 => Some(1),
        3 => Some(6_000),
        _ => Some(usize::MAX),
    };
    match parse_idx_limited(&bytes, limit) {
        Ok(array) => {
            let len = array.dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
            assert_eq!(
                len,
                Some(array.data.len()),
                "dims {:?} for {} bytes",
                array.dims,
                array.data.len()
            );
            assert!(array.item_count() <= array.file_items);
            if let Some(limit) = limit {
                assert!(array.item_count() <= limit);
            }
            for index in [0, array.item_count().saturating_sub(1)] {
                if index < array.item_count() {
                    assert_eq!(array.item(index).map(<[u8]>::len), Some(array.item_len()));
                }
            }
            assert!(array.item(array.item_count()).is_none() || array.item_len() == 0);
            format!("ok dims={}", array.dims.len())
        }
        Err(error) => {
            let kind = match &error {
                DataError::Io { .. } => "io",
                DataError::NotIdx { .. } => "not-idx",
                DataError::Truncated { .. } => "truncated",
                DataError::TrailingBytes { .. } => "trailing",
                DataError::TooLarge { .. } => "too-large",
                _ => "other",
            };
            assert!(
                error.to_string().contains(peephole_data::MEMORY_SOURCE),
                "{error} does not name its input"
            );
            format!(
                "{kind} {}",
                class(&format!("{error}"))
                    .chars()
                    .take(24)
                    .collect::<String>()
            )
        }
    }
}

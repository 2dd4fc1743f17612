//! Reads IDX files (the MNIST family's container: a 4-byte magic, big-endian u32 dimensions, then
//! the raw items), gzipped or not, from disk or memory, optionally only the first N items.
//!
//! A header is never trusted for an allocation: the dimensions are multiplied with `checked_mul`,
//! compared with the bytes actually present (memory), or read incrementally under a hard cap
//! (streams), so a header that claims four billion items costs nothing until the bytes arrive.

use std::io::{self, BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::error::{DataError, IdxProblem, memory_source};

/// The IDX element type this crate reads: unsigned bytes, the only type the image datasets use.
pub const IDX_TYPE_U8: u8 = 0x08;

/// Most dimensions accepted in a header; image datasets need 3 (N x H x W), 4 leaves room for
/// N x C x H x W, and a small cap keeps a hostile header from costing anything.
pub const MAX_IDX_DIMS: usize = 4;

/// The two bytes every gzip stream starts with; lets one reader accept `.gz` and raw files alike.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Largest buffer reserved up front while streaming; anything larger grows only as bytes arrive,
/// so a lying header cannot make us reserve gigabytes.
const MAX_INITIAL_RESERVE: usize = 1 << 20;

/// The decoded contents of an IDX file of unsigned bytes.
///
/// Kept as raw bytes plus shape so callers decide how to convert (normalized `f32` pixels,
/// `u8` labels) without this crate guessing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// Shape of what was read; `dims[0]` is the number of items read, which is at most the
    /// limit the caller gave.
    pub dims: Vec<usize>,
    /// The items, row-major, `dims.iter().product()` bytes.
    pub data: Vec<u8>,
    /// Number of items the file's header declares, which exceeds `dims[0]` when a limit was
    /// given; lets callers check that an images file and a labels file agree without reading
    /// both in full.
    pub file_items: usize,
}

impl IdxArray {
    /// Number of items read (the first dimension), 0 for a malformed hand-built value.
    pub fn item_count(&self) -> usize {
        self.dims.first().copied().unwrap_or(0)
    }

    /// Shape of one item (all dimensions but the first), e.g. `[28, 28]` for an image file.
    pub fn item_shape(&self) -> &[usize] {
        self.dims.get(1..).unwrap_or(&[])
    }

    /// Bytes in one item; saturates instead of overflowing for a hand-built value.
    pub fn item_len(&self) -> usize {
        self.item_shape()
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .unwrap_or(usize::MAX)
    }

    /// The bytes of item `index`, or `None` when out of range.
    pub fn item(&self, index: usize) -> Option<&[u8]> {
        let len = self.item_len();
        let start = index.checked_mul(len)?;
        let end = start.checked_add(len)?;
        self.data.get(start..end)
    }
}

/// A parsed and checked IDX header: what the file declares, before any data is read.
#[derive(Debug, Clone, PartialEq, Eq)]
struct IdxHeader {
    /// Dimensions as declared; `dims[0]` is the item count.
    dims: Vec<usize>,
    /// Bytes per item, already checked not to overflow.
    item_len: usize,
    /// Bytes in the header itself (4 + 4 * dims).
    header_len: usize,
}

impl IdxHeader {
    /// Shape and byte count of the first `max_items` items (all of them when `None`).
    fn prefix(&self, max_items: Option<usize>) -> (Vec<usize>, usize) {
        let file_items = self.dims[0];
        let items = max_items.map_or(file_items, |m| m.min(file_items));
        let mut dims = self.dims.clone();
        dims[0] = items;
        // Cannot overflow: items <= file_items and file_items * item_len was checked.
        (dims, items * self.item_len)
    }
}

/// Reads a whole IDX file, gzipped or not.
pub fn read_idx(path: impl AsRef<Path>) -> Result<IdxArray, DataError> {
    read_idx_limited(path, None)
}

/// Largest IDX file read (compressed or not): Fashion-MNIST's training images are 47 MB raw;
/// a device or a FIFO given by path is refused, a runaway file stops here.
pub const MAX_IDX_FILE_BYTES: u64 = 256 << 20;

/// Reads the first `max_items` items of an IDX file (all when `None`), gzipped or not.
///
/// Only the needed bytes are decompressed, which is why the protocols' small splits (the first
/// few thousand images) load in milliseconds from the full 26 MB archives.
pub fn read_idx_limited(
    path: impl AsRef<Path>,
    max_items: Option<usize>,
) -> Result<IdxArray, DataError> {
    let path = path.as_ref();
    let mut file = peephole_io::open(path, MAX_IDX_FILE_BYTES, "IDX file")
        .map_err(|e| DataError::io(path, e.into_io()))?;
    // Sniff the gzip magic without a seek, then put the sniffed bytes back in front.
    let mut sniff = [0u8; 2];
    let sniffed = read_up_to(&mut file, &mut sniff).map_err(|e| DataError::io(path, e))?;
    let stream = (&sniff[..sniffed]).chain(BufReader::new(file));
    if sniff[..sniffed] == GZIP_MAGIC {
        read_idx_from(MultiGzDecoder::new(stream), path, max_items)
    } else {
        read_idx_from(stream, path, max_items)
    }
}

/// Parses a whole IDX file held in memory, gzipped or not; never panics, for fuzzing.
pub fn parse_idx(bytes: &[u8]) -> Result<IdxArray, DataError> {
    parse_idx_limited(bytes, None)
}

/// Parses the first `max_items` items (all when `None`) of an IDX file held in memory.
pub fn parse_idx_limited(bytes: &[u8], max_items: Option<usize>) -> Result<IdxArray, DataError> {
    let source = memory_source();
    if bytes.starts_with(&GZIP_MAGIC) {
        return read_idx_from(MultiGzDecoder::new(bytes), source, max_items);
    }
    let mut cursor = bytes;
    let header = read_header(&mut cursor, source)?;
    let (dims, needed) = header.prefix(max_items);
    let body = &bytes[header.header_len..];
    if body.len() < needed {
        return Err(DataError::Truncated {
            path: source.to_path_buf(),
            what: "IDX data",
            expected: needed,
            got: body.len(),
        });
    }
    if dims[0] == header.dims[0] && body.len() > needed {
        return Err(DataError::TrailingBytes {
            path: source.to_path_buf(),
            what: "IDX data",
            trailing: (body.len() - needed) as u64,
        });
    }
    Ok(IdxArray {
        dims,
        data: body[..needed].to_vec(),
        file_items: header.dims[0],
    })
}

/// Reads an IDX file from any (already decompressed) stream; `source` names it in errors.
///
/// The data buffer grows only as bytes arrive and never past what the header declares, so the
/// cost of a lying header is bounded by the bytes really present.
pub fn read_idx_from<R: Read>(
    mut reader: R,
    source: &Path,
    max_items: Option<usize>,
) -> Result<IdxArray, DataError> {
    let header = read_header(&mut reader, source)?;
    let (dims, needed) = header.prefix(max_items);
    let mut data = Vec::with_capacity(needed.min(MAX_INITIAL_RESERVE));
    let limit = u64::try_from(needed).map_err(|_| DataError::TooLarge {
        path: source.to_path_buf(),
        dims: dims.iter().map(|&d| d as u64).collect(),
    })?;
    (&mut reader)
        .take(limit)
        .read_to_end(&mut data)
        .map_err(|e| DataError::io(source, e))?;
    if data.len() < needed {
        return Err(DataError::Truncated {
            path: source.to_path_buf(),
            what: "IDX data",
            expected: needed,
            got: data.len(),
        });
    }
    // A full read must end exactly where the header says; a prefix read stops early on purpose.
    if dims[0] == header.dims[0] {
        let trailing =
            io::copy(&mut reader, &mut io::sink()).map_err(|e| DataError::io(source, e))?;
        if trailing > 0 {
            return Err(DataError::TrailingBytes {
                path: source.to_path_buf(),
                what: "IDX data",
                trailing,
            });
        }
    }
    Ok(IdxArray {
        dims,
        data,
        file_items: header.dims[0],
    })
}

/// Reads and checks the magic and dimensions, rejecting anything this crate cannot serve.
fn read_header<R: Read>(reader: &mut R, source: &Path) -> Result<IdxHeader, DataError> {
    let not_idx = |reason| DataError::NotIdx {
        path: source.to_path_buf(),
        reason,
    };
    let truncated = |expected, got| DataError::Truncated {
        path: source.to_path_buf(),
        what: "IDX header",
        expected,
        got,
    };

    let mut magic = [0u8; 4];
    let got = read_up_to(reader, &mut magic).map_err(|e| DataError::io(source, e))?;
    // Judge the magic as soon as two bytes are in, so a text file says "not IDX", not "truncated".
    if got >= 2 && magic[..2] != [0, 0] {
        return Err(not_idx(IdxProblem::BadMagic {
            found: [magic[0], magic[1]],
        }));
    }
    if got < magic.len() {
        return Err(truncated(magic.len(), got));
    }
    let [_, _, type_byte, count] = magic;
    if type_byte != IDX_TYPE_U8 {
        return Err(not_idx(IdxProblem::UnsupportedType { type_byte }));
    }
    let ndims = usize::from(count);
    if ndims == 0 {
        return Err(not_idx(IdxProblem::NoDims));
    }
    if ndims > MAX_IDX_DIMS {
        return Err(not_idx(IdxProblem::TooManyDims {
            count,
            max: MAX_IDX_DIMS,
        }));
    }

    let mut raw = [0u8; 4 * MAX_IDX_DIMS];
    let raw = &mut raw[..4 * ndims];
    let got = read_up_to(reader, raw).map_err(|e| DataError::io(source, e))?;
    if got < raw.len() {
        return Err(truncated(4 + raw.len(), 4 + got));
    }
    let declared: Vec<u32> = raw
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let too_large = || DataError::TooLarge {
        path: source.to_path_buf(),
        dims: declared.iter().map(|&d| u64::from(d)).collect(),
    };
    let dims = declared
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| too_large()))
        .collect::<Result<Vec<usize>, _>>()?;
    // Items of no bytes are no data (and a zero would hide sizes whose product overflows).
    if let Some(dim) = dims.iter().skip(1).position(|&d| d == 0) {
        return Err(not_idx(IdxProblem::EmptyItems { dim: dim + 1 }));
    }
    // The whole body must be addressable, even when only a prefix will be read, so that
    // `IdxHeader::prefix` can multiply without checks.
    let item_len = dims[1..]
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(too_large)?;
    dims[0].checked_mul(item_len).ok_or_else(too_large)?;
    Ok(IdxHeader {
        dims,
        item_len,
        header_len: 4 + 4 * ndims,
    })
}

/// Fills `buf` as far as the stream allows and returns how many bytes arrived; unlike
/// `read_exact` it reports the count, which the `Truncated` error needs.
fn read_up_to<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;
    use proptest::prelude::*;

    use super::*;

    /// An IDX u8 file as bytes: header for `dims`, then `data`.
    fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut out = vec![0, 0, IDX_TYPE_U8, dims.len() as u8];
        for d in dims {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out.extend_from_slice(data);
        out
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(bytes).expect("writing to a Vec cannot fail");
        enc.finish().expect("writing to a Vec cannot fail")
    }

    /// Three 2x3 "images" whose bytes are 0..18, so every byte's position is checkable.
    fn three_images() -> (Vec<u32>, Vec<u8>) {
        (vec![3, 2, 3], (0..18).collect())
    }

    #[test]
    fn raw_idx_file_round_trips() {
        let (dims, data) = three_images();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("images-idx3-ubyte");
        std::fs::write(&path, idx_bytes(&dims, &data)).unwrap();

        let array = read_idx(&path).unwrap();
        assert_eq!(array.dims, vec![3, 2, 3]);
        assert_eq!(array.data, data);
        assert_eq!(array.file_items, 3);
        assert_eq!(array.item(1), Some(&data[6..12]));
        assert_eq!(array.item(3), None);
    }

    #[test]
    fn gzipped_idx_file_round_trips() {
        let (dims, data) = three_images();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("images-idx3-ubyte.gz");
        std::fs::write(&path, gzip(&idx_bytes(&dims, &data))).unwrap();

        let array = read_idx(&path).unwrap();
        assert_eq!(array.dims, vec![3, 2, 3]);
        assert_eq!(array.data, data);
    }

    #[test]
    fn gzipped_and_raw_bytes_parse_identically_from_memory() {
        let (dims, data) = three_images();
        let raw = idx_bytes(&dims, &data);
        assert_eq!(parse_idx(&raw).unwrap(), parse_idx(&gzip(&raw)).unwrap());
    }

    #[test]
    fn limit_reads_only_the_first_n_items() {
        let (dims, data) = three_images();
        let raw = idx_bytes(&dims, &data);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("images.gz");
        std::fs::write(&path, gzip(&raw)).unwrap();

        for array in [
            parse_idx_limited(&raw, Some(2)).unwrap(),
            parse_idx_limited(&gzip(&raw), Some(2)).unwrap(),
            read_idx_limited(&path, Some(2)).unwrap(),
        ] {
            assert_eq!(array.dims, vec![2, 2, 3]);
            assert_eq!(array.data, data[..12]);
            assert_eq!(array.file_items, 3);
        }
    }

    #[test]
    fn limit_above_the_item_count_reads_everything() {
        let (dims, data) = three_images();
        let array = parse_idx_limited(&idx_bytes(&dims, &data), Some(10)).unwrap();
        assert_eq!(array.dims, vec![3, 2, 3]);
        assert_eq!(array.data, data);
    }

    #[test]
    fn limited_read_ignores_a_body_truncated_after_the_needed_items() {
        // Only the first item is asked for, so a missing last byte must not matter.
        let (dims, data) = three_images();
        let raw = idx_bytes(&dims, &data[..17]);
        assert!(parse_idx_limited(&raw, Some(1)).is_ok());
        assert!(parse_idx_limited(&gzip(&raw), Some(1)).is_ok());
    }

    #[test]
    fn header_claiming_four_billion_items_errors_at_once() {
        // 8-byte header + 12 bytes of body: 20 bytes that claim u32::MAX one-byte items.
        let raw = idx_bytes(&[u32::MAX], &[7; 12]);
        assert_eq!(raw.len(), 20);
        let start = std::time::Instant::now();
        for err in [
            parse_idx(&raw).unwrap_err(),
            parse_idx(&gzip(&raw)).unwrap_err(),
        ] {
            match err {
                DataError::Truncated { expected, got, .. } => {
                    assert_eq!(expected, u32::MAX as usize);
                    assert_eq!(got, 12);
                }
                other => panic!("expected Truncated, got {other}"),
            }
        }
        assert!(start.elapsed().as_secs() < 1, "took {:?}", start.elapsed());
    }

    #[test]
    fn dims_whose_product_overflows_are_too_large() {
        let raw = idx_bytes(&[u32::MAX; 4], &[]);
        assert!(
            matches!(parse_idx(&raw), Err(DataError::TooLarge { dims, .. }) if dims == vec![u64::from(u32::MAX); 4])
        );
        assert!(matches!(
            parse_idx(&gzip(&raw)),
            Err(DataError::TooLarge { .. })
        ));
    }

    #[test]
    fn truncated_body_reports_expected_and_received_bytes() {
        let (dims, data) = three_images();
        let raw = idx_bytes(&dims, &data[..10]);
        for err in [
            parse_idx(&raw).unwrap_err(),
            parse_idx(&gzip(&raw)).unwrap_err(),
        ] {
            assert!(
                matches!(
                    err,
                    DataError::Truncated {
                        what: "IDX data",
                        expected: 18,
                        got: 10,
                        ..
                    }
                ),
                "{err}"
            );
        }
    }

    #[test]
    fn truncated_header_is_reported_as_truncated() {
        let raw = idx_bytes(&[3, 2, 3], &[]);
        let err = parse_idx(&raw[..9]).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::Truncated {
                    what: "IDX header",
                    expected: 16,
                    got: 9,
                    ..
                }
            ),
            "{err}"
        );
        let err = parse_idx(&[0, 0, 8]).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::Truncated {
                    what: "IDX header",
                    expected: 4,
                    got: 3,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn trailing_bytes_after_a_full_read_are_rejected() {
        let (dims, mut data) = three_images();
        data.push(99);
        let raw = idx_bytes(&dims, &data);
        for err in [
            parse_idx(&raw).unwrap_err(),
            parse_idx(&gzip(&raw)).unwrap_err(),
        ] {
            assert!(
                matches!(err, DataError::TrailingBytes { trailing: 1, .. }),
                "{err}"
            );
        }
    }

    #[test]
    fn wrong_magic_is_not_idx() {
        let err = parse_idx(b"hello, world").unwrap_err();
        assert!(
            matches!(
                err,
                DataError::NotIdx {
                    reason: IdxProblem::BadMagic {
                        found: [b'h', b'e']
                    },
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn non_byte_element_type_is_unsupported() {
        let mut raw = idx_bytes(&[1], &[0, 0, 0, 0]);
        raw[2] = 0x0D; // f32
        let err = parse_idx(&raw).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::NotIdx {
                    reason: IdxProblem::UnsupportedType { type_byte: 0x0D },
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn a_zero_dimension_after_the_first_is_rejected_and_an_empty_file_is_not() {
        // Found by libFuzzer and the driver (the `idx` target): dims whose product overflows
        // in order but is 0 because the last one is 0 were accepted as 16,777,215 empty items.
        let raw = idx_bytes(&[16_777_215, 4_281_696_045, 858_980_096, 0], &[]);
        let err = parse_idx(&raw).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::NotIdx {
                    reason: IdxProblem::EmptyItems { dim: 3 },
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("dimension 3 is 0"), "{err}");
        // No items at all is a valid (empty) file.
        let empty = parse_idx(&idx_bytes(&[0, 28, 28], &[])).unwrap();
        assert_eq!((empty.item_count(), empty.item_len()), (0, 784));
    }

    #[test]
    fn zero_or_too_many_dims_are_rejected() {
        let err = parse_idx(&[0, 0, 8, 0]).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::NotIdx {
                    reason: IdxProblem::NoDims,
                    ..
                }
            ),
            "{err}"
        );
        let err = parse_idx(&idx_bytes(&[1; 5], &[0])).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::NotIdx {
                    reason: IdxProblem::TooManyDims { count: 5, .. },
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn missing_file_is_an_io_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope.gz");
        let err = read_idx(&path).unwrap_err();
        assert!(matches!(&err, DataError::Io { path: p, .. } if *p == path));
        assert!(err.to_string().contains("nope.gz"), "{err}");
    }

    #[test]
    fn corrupt_gzip_is_an_error_not_a_panic() {
        let (dims, data) = three_images();
        let mut gz = gzip(&idx_bytes(&dims, &data));
        let mid = gz.len() / 2;
        gz[mid] ^= 0xff;
        gz.truncate(gz.len() - 4);
        assert!(parse_idx(&gz).is_err());
    }

    proptest! {
        #[test]
        fn parse_idx_never_panics_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256),
                                                  limit in proptest::option::of(0usize..8)) {
            // Whatever the bytes, an answer is a consistent array no larger than its input
            // allows (plain bytes: one byte per item) and within the item limit.
            if let Ok(array) = parse_idx_limited(&bytes, limit) {
                prop_assert!(!array.dims.is_empty());
                prop_assert_eq!(array.data.len(), array.dims.iter().product::<usize>());
                if !bytes.starts_with(&GZIP_MAGIC) {
                    prop_assert!(array.data.len() <= bytes.len());
                }
                if let Some(limit) = limit {
                    prop_assert!(array.dims[0] <= limit);
                }
            }
        }

        #[test]
        fn parse_idx_never_panics_on_a_valid_header_with_random_body(
            dims in proptest::collection::vec(any::<u32>(), 1..=4),
            body in proptest::collection::vec(any::<u8>(), 0..64),
            gzipped in any::<bool>(),
        ) {
            let raw = idx_bytes(&dims, &body);
            let bytes = if gzipped { gzip(&raw) } else { raw };
            // A valid header with a body that holds its items parses to exactly those bytes;
            // anything else (too short a body, an empty later dimension) is an error.
            let needed = dims.iter().try_fold(1u64, |n, &d| n.checked_mul(u64::from(d)));
            let fits = needed.is_some_and(|n| n <= body.len() as u64)
                && dims.iter().skip(1).all(|&d| d > 0);
            match parse_idx(&bytes) {
                Ok(array) => {
                    prop_assert!(fits, "{:?} with {} body bytes parsed", dims, body.len());
                    prop_assert_eq!(array.dims, dims.iter().map(|&d| d as usize).collect::<Vec<_>>());
                    let n = array.data.len();
                    prop_assert_eq!(&array.data[..], &body[..n]);
                }
                Err(_) => prop_assert!(!fits, "{:?} with {} body bytes refused", dims, body.len()),
            }
        }

        #[test]
        fn parse_idx_round_trips_any_small_array(
            // Any item count, 0 included; the item's dimensions at least 1 (a 0 there is refused).
            dims in (0u32..5, proptest::collection::vec(1u32..5, 0..=3))
                .prop_map(|(items, shape)| std::iter::once(items).chain(shape).collect::<Vec<_>>()),
            seed in any::<u8>(),
        ) {
            let len: u32 = dims.iter().product();
            let data: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_add(seed)).collect();
            let array = parse_idx(&idx_bytes(&dims, &data)).unwrap();
            prop_assert_eq!(array.dims, dims.iter().map(|&d| d as usize).collect::<Vec<_>>());
            prop_assert_eq!(array.data, data);
        }
    }
}

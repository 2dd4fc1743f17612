//! Finds the four Fashion-MNIST IDX files on disk and loads one split of them as normalized
//! N x 1 x 28 x 28 pixels plus labels.
//!
//! Which items form a split and how pixels are normalized is the protocol's business (defined
//! once, elsewhere); this module only takes those numbers as a [`SplitSpec`] and applies them.

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::error::DataError;
use crate::format::idx::{IdxArray, read_idx_limited};

/// Environment variable naming a directory with the Fashion-MNIST files; searched first so a
/// user without root (or with a private copy) can point the tools at it.
pub const DATA_DIR_ENV: &str = "PEEPHOLE_DATA_DIR";

/// Where Debian's `dataset-fashion-mnist` package installs the files; searched second.
pub const SYSTEM_DATA_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// Side length of a Fashion-MNIST image in pixels.
pub const FASHION_MNIST_SIDE: usize = 28;

/// Number of classes; labels are `0..FASHION_MNIST_CLASSES`.
pub const FASHION_MNIST_CLASSES: u8 = 10;

/// Base names (without `.gz`) of the four files, in the order train images, train labels,
/// test images, test labels.
pub const FASHION_MNIST_FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// What a user can do when the files are missing, shown verbatim in the error.
const FIXES: &[&str] = &[
    "cargo xtask setup",
    "sudo apt-get install dataset-fashion-mnist",
    "export PEEPHOLE_DATA_DIR=/path/to/a/directory/with/the/four/files",
];

/// Which of the two Fashion-MNIST files a split is drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FashionMnistFile {
    /// The 60,000-image training file (`train-*`).
    Train,
    /// The 10,000-image test file (`t10k-*`).
    Test,
}

/// The parameters that define a split: which file, how many leading items, and the
/// normalization. Plain numbers, so the protocol definition stays the one source of truth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SplitSpec {
    /// The file the split is drawn from.
    pub file: FashionMnistFile,
    /// The split is the first `first` items of the file, in file order.
    pub first: usize,
    /// Subtracted from each pixel after scaling to `[0, 1]`.
    pub mean: f32,
    /// Divides each pixel after subtracting `mean`; must be finite and positive.
    pub std: f32,
}

/// One loaded split, ready to become an N x C x H x W `f32` tensor and an N label tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSplit {
    /// `count * channels * height * width` normalized pixels, image after image, row-major.
    pub images: Vec<f32>,
    /// One class per image in `0..10`; kept as `u8` so the widening to the trainer's `i64`
    /// happens once, where the tensor is built.
    pub labels: Vec<u8>,
    /// Number of images (N).
    pub count: usize,
    /// Channels per image (C), 1 for Fashion-MNIST.
    pub channels: usize,
    /// Rows per image (H).
    pub height: usize,
    /// Columns per image (W).
    pub width: usize,
}

impl ImageSplit {
    /// Pixels in one image (C x H x W).
    pub fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// The normalized pixels of image `index`, or `None` when out of range.
    pub fn image(&self, index: usize) -> Option<&[f32]> {
        let len = self.image_len();
        let start = index.checked_mul(len)?;
        self.images.get(start..start.checked_add(len)?)
    }

    /// The shape `[N, C, H, W]` a tensor built from `images` should have.
    pub fn shape(&self) -> [usize; 4] {
        [self.count, self.channels, self.height, self.width]
    }
}

/// Paths of the four files found in one directory (each may be gzipped or not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FashionMnistFiles {
    /// The directory they were found in.
    pub dir: PathBuf,
    /// `train-images-idx3-ubyte[.gz]`.
    pub train_images: PathBuf,
    /// `train-labels-idx1-ubyte[.gz]`.
    pub train_labels: PathBuf,
    /// `t10k-images-idx3-ubyte[.gz]`.
    pub test_images: PathBuf,
    /// `t10k-labels-idx1-ubyte[.gz]`.
    pub test_labels: PathBuf,
}

impl FashionMnistFiles {
    /// The four files in `dir`, or `None` unless all four are present. The gzipped name is
    /// preferred because it is what the protocol and the Debian package name.
    pub fn in_dir(dir: impl AsRef<Path>) -> Option<Self> {
        let dir = dir.as_ref();
        let find = |base: &str| {
            [format!("{base}.gz"), base.to_owned()]
                .into_iter()
                .map(|name| dir.join(name))
                .find(|p| p.is_file())
        };
        let [train_images, train_labels, test_images, test_labels] = FASHION_MNIST_FILES;
        Some(FashionMnistFiles {
            dir: dir.to_path_buf(),
            train_images: find(train_images)?,
            train_labels: find(train_labels)?,
            test_images: find(test_images)?,
            test_labels: find(test_labels)?,
        })
    }

    /// The images and labels files of `file`.
    pub fn pair(&self, file: FashionMnistFile) -> (&Path, &Path) {
        match file {
            FashionMnistFile::Train => (&self.train_images, &self.train_labels),
            FashionMnistFile::Test => (&self.test_images, &self.test_labels),
        }
    }

    /// Loads the split `spec` describes from these files, checking that images and labels
    /// agree on their count, that images are 28x28 and that labels are in `0..=9`.
    pub fn load_split(&self, spec: &SplitSpec) -> Result<ImageSplit, DataError> {
        check_spec(spec)?;
        let (images_path, labels_path) = self.pair(spec.file);

        let labels = read_idx_limited(labels_path, Some(spec.first))?;
        if labels.dims.len() != 1 {
            return Err(DataError::BadShape {
                path: labels_path.to_path_buf(),
                expected: vec![labels.file_items],
                found: with_file_items(&labels),
            });
        }
        check_enough(&labels, labels_path, spec.first)?;
        check_labels(&labels.data, labels_path)?;

        let images = read_idx_limited(images_path, Some(spec.first))?;
        if images.item_shape() != [FASHION_MNIST_SIDE, FASHION_MNIST_SIDE] {
            return Err(DataError::BadShape {
                path: images_path.to_path_buf(),
                expected: vec![images.file_items, FASHION_MNIST_SIDE, FASHION_MNIST_SIDE],
                found: with_file_items(&images),
            });
        }
        if images.file_items != labels.file_items {
            return Err(DataError::CountMismatch {
                images: images_path.to_path_buf(),
                images_count: images.file_items,
                labels: labels_path.to_path_buf(),
                labels_count: labels.file_items,
            });
        }
        check_enough(&images, images_path, spec.first)?;

        Ok(ImageSplit {
            images: normalize_pixels(&images.data, spec.mean, spec.std),
            labels: labels.data,
            count: spec.first,
            channels: 1,
            height: FASHION_MNIST_SIDE,
            width: FASHION_MNIST_SIDE,
        })
    }
}

/// Directories searched for the files, in order: `$PEEPHOLE_DATA_DIR` (when set and non-empty),
/// then [`SYSTEM_DATA_DIR`].
pub fn search_dirs() -> Vec<PathBuf> {
    search_dirs_from(env::var_os(DATA_DIR_ENV))
}

/// [`search_dirs`] for a given value of the environment variable; separate so it can be tested
/// without mutating the process environment.
fn search_dirs_from(env_value: Option<OsString>) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = env_value
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .into_iter()
        .collect();
    dirs.push(PathBuf::from(SYSTEM_DATA_DIR));
    dirs
}

/// Finds the files in the standard places (see [`search_dirs`]).
pub fn locate_fashion_mnist() -> Result<FashionMnistFiles, DataError> {
    locate_fashion_mnist_in(&search_dirs())
}

/// Finds the files in the first of `dirs` that holds all four; the error lists every directory
/// tried and how to install the dataset.
pub fn locate_fashion_mnist_in(dirs: &[PathBuf]) -> Result<FashionMnistFiles, DataError> {
    dirs.iter()
        .find_map(FashionMnistFiles::in_dir)
        .ok_or_else(|| DataError::DatasetNotFound {
            dataset: "Fashion-MNIST",
            files: &FASHION_MNIST_FILES,
            searched: dirs.to_vec(),
            fixes: FIXES,
        })
}

/// Locates the dataset in the standard places and loads the split `spec` describes; the one
/// call a trainer needs.
pub fn load_fashion_mnist_split(spec: &SplitSpec) -> Result<ImageSplit, DataError> {
    locate_fashion_mnist()?.load_split(spec)
}

/// Scales a pixel byte to `[0, 1]`, then standardizes it; the same f32 operations, in the same
/// order, as torchvision's `ToTensor` followed by `Normalize`, so inputs match bit for bit.
pub fn normalize_pixel(byte: u8, mean: f32, std: f32) -> f32 {
    (f32::from(byte) / 255.0 - mean) / std
}

/// Applies [`normalize_pixel`] to every byte.
pub fn normalize_pixels(bytes: &[u8], mean: f32, std: f32) -> Vec<f32> {
    bytes
        .iter()
        .map(|&b| normalize_pixel(b, mean, std))
        .collect()
}

/// Rejects parameters that would silently fill the tensors with infinities or NaNs.
fn check_spec(spec: &SplitSpec) -> Result<(), DataError> {
    if !spec.mean.is_finite() {
        return Err(DataError::BadSplitSpec {
            reason: format!("mean {} is not finite", spec.mean),
        });
    }
    if !(spec.std.is_finite() && spec.std > 0.0) {
        return Err(DataError::BadSplitSpec {
            reason: format!("std {} is not finite and positive", spec.std),
        });
    }
    Ok(())
}

/// Fails unless the file holds at least `wanted` items; a split is never silently shorter.
fn check_enough(array: &IdxArray, path: &Path, wanted: usize) -> Result<(), DataError> {
    if array.item_count() < wanted {
        return Err(DataError::TooFewItems {
            path: path.to_path_buf(),
            wanted,
            available: array.file_items,
        });
    }
    Ok(())
}

/// Fails on the first label outside `0..FASHION_MNIST_CLASSES`, naming its index.
fn check_labels(labels: &[u8], path: &Path) -> Result<(), DataError> {
    match labels.iter().position(|&l| l >= FASHION_MNIST_CLASSES) {
        Some(index) => Err(DataError::BadLabel {
            path: path.to_path_buf(),
            index,
            label: labels[index],
            max: FASHION_MNIST_CLASSES - 1,
        }),
        None => Ok(()),
    }
}

/// The file's full shape (header item count, not the prefix read), for shape errors.
fn with_file_items(array: &IdxArray) -> Vec<usize> {
    let mut dims = array.dims.clone();
    if let Some(first) = dims.first_mut() {
        *first = array.file_items;
    }
    dims
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    const MEAN: f32 = 0.2860;
    const STD: f32 = 0.3530;

    fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut out = vec![0, 0, 0x08, dims.len() as u8];
        for d in dims {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out.extend_from_slice(data);
        out
    }

    fn write_gz(path: &Path, bytes: &[u8]) {
        let mut enc = GzEncoder::new(std::fs::File::create(path).unwrap(), Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap();
    }

    /// A fake dataset directory: `n_train` / `n_test` 28x28 images whose pixels all equal the
    /// item index, and labels `index % 10`; train files gzipped, test files raw.
    fn fake_dataset(n_train: u32, n_test: u32) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let images = |n: u32| {
            let data: Vec<u8> = (0..n).flat_map(|i| [i as u8; 28 * 28]).collect();
            idx_bytes(&[n, 28, 28], &data)
        };
        let labels = |n: u32| idx_bytes(&[n], &(0..n).map(|i| (i % 10) as u8).collect::<Vec<_>>());
        write_gz(
            &dir.path().join("train-images-idx3-ubyte.gz"),
            &images(n_train),
        );
        write_gz(
            &dir.path().join("train-labels-idx1-ubyte.gz"),
            &labels(n_train),
        );
        std::fs::write(dir.path().join("t10k-images-idx3-ubyte"), images(n_test)).unwrap();
        std::fs::write(dir.path().join("t10k-labels-idx1-ubyte"), labels(n_test)).unwrap();
        dir
    }

    fn spec(file: FashionMnistFile, first: usize) -> SplitSpec {
        SplitSpec {
            file,
            first,
            mean: MEAN,
            std: STD,
        }
    }

    #[test]
    fn normalization_matches_the_protocol_formula_on_known_bytes() {
        // 255 -> (1 - 0.2860) / 0.3530 = 2.0226...; 0 -> -0.2860 / 0.3530 = -0.8101...
        assert!((normalize_pixel(255, MEAN, STD) - 2.022_662_9).abs() < 1e-6);
        assert!((normalize_pixel(0, MEAN, STD) + 0.810_198_3).abs() < 1e-6);
        // Bit-exact with the torchvision operation order: divide by 255 first, in f32.
        let x = 128.0f32 / 255.0;
        assert_eq!(
            normalize_pixel(128, MEAN, STD).to_bits(),
            ((x - MEAN) / STD).to_bits()
        );
    }

    #[test]
    fn split_loads_the_first_n_items_of_gzipped_and_raw_files() {
        let dir = fake_dataset(12, 7);
        let files = locate_fashion_mnist_in(&[dir.path().to_path_buf()]).unwrap();
        assert!(files.train_images.ends_with("train-images-idx3-ubyte.gz"));
        assert!(files.test_images.ends_with("t10k-images-idx3-ubyte"));

        let train = files
            .load_split(&spec(FashionMnistFile::Train, 11))
            .unwrap();
        assert_eq!(train.shape(), [11, 1, 28, 28]);
        assert_eq!(train.images.len(), 11 * 28 * 28);
        assert_eq!(train.labels, vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0]);
        assert!(
            train
                .image(10)
                .unwrap()
                .iter()
                .all(|&p| p == normalize_pixel(10, MEAN, STD))
        );

        let test = files.load_split(&spec(FashionMnistFile::Test, 4)).unwrap();
        assert_eq!(test.count, 4);
        assert_eq!(test.labels, vec![0, 1, 2, 3]);
        assert!(
            test.image(3)
                .unwrap()
                .iter()
                .all(|&p| p == normalize_pixel(3, MEAN, STD))
        );
    }

    #[test]
    fn split_larger_than_the_file_is_too_few_items() {
        let dir = fake_dataset(5, 3);
        let files = FashionMnistFiles::in_dir(dir.path()).unwrap();
        let err = files
            .load_split(&spec(FashionMnistFile::Test, 4))
            .unwrap_err();
        assert!(
            matches!(
                err,
                DataError::TooFewItems {
                    wanted: 4,
                    available: 3,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn images_and_labels_disagreeing_on_count_is_a_mismatch() {
        let dir = fake_dataset(5, 3);
        let labels = idx_bytes(&[4], &[0, 1, 2, 3]);
        std::fs::write(dir.path().join("t10k-labels-idx1-ubyte"), labels).unwrap();
        let files = FashionMnistFiles::in_dir(dir.path()).unwrap();
        let err = files
            .load_split(&spec(FashionMnistFile::Test, 2))
            .unwrap_err();
        assert!(
            matches!(
                err,
                DataError::CountMismatch {
                    images_count: 3,
                    labels_count: 4,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn label_outside_zero_to_nine_names_its_index() {
        let dir = fake_dataset(5, 3);
        std::fs::write(
            dir.path().join("t10k-labels-idx1-ubyte"),
            idx_bytes(&[3], &[0, 10, 2]),
        )
        .unwrap();
        let files = FashionMnistFiles::in_dir(dir.path()).unwrap();
        let err = files
            .load_split(&spec(FashionMnistFile::Test, 3))
            .unwrap_err();
        assert!(
            matches!(
                err,
                DataError::BadLabel {
                    index: 1,
                    label: 10,
                    max: 9,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn images_that_are_not_28_by_28_are_a_bad_shape() {
        let dir = fake_dataset(5, 3);
        std::fs::write(
            dir.path().join("t10k-images-idx3-ubyte"),
            idx_bytes(&[3, 32, 32], &[0; 3 * 32 * 32]),
        )
        .unwrap();
        let files = FashionMnistFiles::in_dir(dir.path()).unwrap();
        let err = files
            .load_split(&spec(FashionMnistFile::Test, 3))
            .unwrap_err();
        assert!(
            matches!(&err, DataError::BadShape { found, .. } if *found == vec![3, 32, 32]),
            "{err}"
        );
    }

    #[test]
    fn zero_or_non_finite_std_is_rejected_before_reading() {
        let dir = fake_dataset(5, 3);
        let files = FashionMnistFiles::in_dir(dir.path()).unwrap();
        for std in [0.0, -1.0, f32::NAN, f32::INFINITY] {
            let err = files
                .load_split(&SplitSpec {
                    std,
                    ..spec(FashionMnistFile::Test, 1)
                })
                .unwrap_err();
            assert!(matches!(err, DataError::BadSplitSpec { .. }), "{err}");
        }
    }

    #[test]
    fn directory_missing_one_file_is_not_a_dataset() {
        let dir = fake_dataset(5, 3);
        std::fs::remove_file(dir.path().join("t10k-labels-idx1-ubyte")).unwrap();
        assert_eq!(FashionMnistFiles::in_dir(dir.path()), None);
    }

    #[test]
    fn not_found_error_lists_searched_dirs_and_how_to_install() {
        let empty = tempfile::tempdir().unwrap();
        let dirs = vec![
            empty.path().to_path_buf(),
            PathBuf::from("/definitely/not/here"),
        ];
        let err = locate_fashion_mnist_in(&dirs).unwrap_err();
        assert!(matches!(&err, DataError::DatasetNotFound { searched, .. } if *searched == dirs));
        let msg = err.to_string();
        for needle in [
            &*empty.path().display().to_string(),
            "/definitely/not/here",
            "train-images-idx3-ubyte",
            "t10k-labels-idx1-ubyte",
            "cargo xtask setup",
            "apt-get install dataset-fashion-mnist",
            "PEEPHOLE_DATA_DIR",
        ] {
            assert!(msg.contains(needle), "message lacks {needle:?}:\n{msg}");
        }
    }

    #[test]
    fn env_dir_is_searched_before_the_system_dir_and_empty_is_ignored() {
        assert_eq!(
            search_dirs_from(Some("/my/data".into())),
            vec![PathBuf::from("/my/data"), PathBuf::from(SYSTEM_DATA_DIR)]
        );
        assert_eq!(
            search_dirs_from(Some("".into())),
            vec![PathBuf::from(SYSTEM_DATA_DIR)]
        );
        assert_eq!(search_dirs_from(None), vec![PathBuf::from(SYSTEM_DATA_DIR)]);
    }

    #[test]
    fn first_directory_holding_the_dataset_wins() {
        let empty = tempfile::tempdir().unwrap();
        let full = fake_dataset(1, 1);
        let files =
            locate_fashion_mnist_in(&[empty.path().to_path_buf(), full.path().to_path_buf()])
                .unwrap();
        assert_eq!(files.dir, full.path());
    }

    /// Needs the real files (CI installs `dataset-fashion-mnist`); uses the protocol's sizes.
    #[test]
    fn system_fashion_mnist_loads_the_first_6000_train_and_4000_test_images() {
        let Some(files) = FashionMnistFiles::in_dir(SYSTEM_DATA_DIR) else {
            eprintln!("skipped: Fashion-MNIST not installed in {SYSTEM_DATA_DIR}");
            return;
        };
        let train = files
            .load_split(&spec(FashionMnistFile::Train, 6_000))
            .unwrap();
        assert_eq!(train.shape(), [6_000, 1, 28, 28]);
        assert_eq!(train.images.len(), 6_000 * 28 * 28);
        assert!(train.labels.iter().all(|&l| l <= 9));
        // Every class appears in 6,000 shuffled images.
        assert!((0..10).all(|c| train.labels.contains(&c)));
        let lo = normalize_pixel(0, MEAN, STD);
        let hi = normalize_pixel(255, MEAN, STD);
        assert!(train.images.iter().all(|&p| (lo..=hi).contains(&p)));

        let test = files
            .load_split(&spec(FashionMnistFile::Test, 4_000))
            .unwrap();
        assert_eq!(test.count, 4_000);
        assert!(test.labels.iter().all(|&l| l <= 9));
    }
}

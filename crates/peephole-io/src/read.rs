//! The bounded reader: regular files only, never more than a cap, a typed error naming the
//! file otherwise.
//!
//! Why not `std::fs::read`: a device (`/dev/zero`) reports a size of 0 and never ends, a FIFO
//! blocks the opener until a writer comes, and `/proc` files are "regular" with a size of 0.
//! So the file is opened without blocking, its type checked on the open handle (no race with
//! a path swapped after a check), and the read itself counts bytes against the cap instead of
//! trusting the size the file system claims.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::show::escape;

/// Why a file could not be read; every variant names the file.
#[derive(Debug, Error)]
pub enum ReadError {
    /// The operating system refused (missing file, no permission, a read failed).
    #[error("{}: {source}", escape(&path.display().to_string()))]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Not a regular file: a directory, a device, a FIFO or a socket, which could be endless
    /// or block forever.
    #[error("{}: is a {kind}, not a regular file", escape(&path.display().to_string()))]
    NotRegular {
        /// The file.
        path: PathBuf,
        /// What it is instead (`directory`, `character device`, `FIFO`, ...).
        kind: &'static str,
    },
    /// More bytes than any file of this kind can have.
    #[error("{}: larger than {limit} bytes, more than any {what} can be", escape(&path.display().to_string()))]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The cap.
        limit: u64,
        /// What the file was expected to be (`predictor model`, `Rust source`).
        what: &'static str,
    },
    /// Text was expected and the bytes are not UTF-8.
    #[error("{}: not UTF-8 text (invalid byte at offset {offset})", escape(&path.display().to_string()))]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// Byte offset of the first invalid sequence.
        offset: usize,
    },
}

impl ReadError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ReadError::Io { path, .. }
            | ReadError::NotRegular { path, .. }
            | ReadError::TooLarge { path, .. }
            | ReadError::NotUtf8 { path, .. } => path,
        }
    }

    /// What is wrong, without the path: for an outer error that names the file itself.
    pub fn reason(&self) -> String {
        match self {
            ReadError::Io { source, .. } => source.to_string(),
            ReadError::NotRegular { kind, .. } => format!("is a {kind}, not a regular file"),
            ReadError::TooLarge { limit, what, .. } => {
                format!("larger than {limit} bytes, more than any {what} can be")
            }
            ReadError::NotUtf8 { offset, .. } => {
                format!("not UTF-8 text (invalid byte at offset {offset})")
            }
        }
    }

    /// The error as an `std::io::Error` carrying [`ReadError::reason`], for readers whose
    /// error types hold one beside the path.
    pub fn into_io(self) -> std::io::Error {
        match self {
            ReadError::Io { source, .. } => source,
            other => {
                let kind = match other {
                    ReadError::NotUtf8 { .. } | ReadError::TooLarge { .. } => {
                        std::io::ErrorKind::InvalidData
                    }
                    _ => std::io::ErrorKind::InvalidInput,
                };
                std::io::Error::new(kind, other.reason())
            }
        }
    }
}

/// An open regular file that fails a read once more than its cap has come out of it, so
/// streaming readers (zoo files, gzipped datasets) are bounded as whole reads are.
#[derive(Debug)]
pub struct BoundedFile {
    file: File,
    path: PathBuf,
    limit: u64,
    read: u64,
    what: &'static str,
}

impl BoundedFile {
    /// The error a read past the cap gives, as a typed error.
    fn too_large(&self) -> ReadError {
        ReadError::TooLarge {
            path: self.path.clone(),
            limit: self.limit,
            what: self.what,
        }
    }
}

impl Read for BoundedFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // Allow one byte past the cap, so a file of exactly `limit` bytes reads whole and one
        // byte more is detected.
        let room = (self.limit + 1).saturating_sub(self.read);
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let got = self.file.read(&mut buf[..want])?;
        self.read += got as u64;
        if self.read > self.limit {
            return Err(self.too_large().into_io());
        }
        Ok(got)
    }
}

/// What a non-regular file is, for the error message.
fn kind_of(file_type: std::fs::FileType) -> &'static str {
    if file_type.is_dir() {
        return "directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "FIFO";
        }
        if file_type.is_char_device() {
            return "character device";
        }
        if file_type.is_block_device() {
            return "block device";
        }
        if file_type.is_socket() {
            return "socket";
        }
    }
    "special file"
}

/// Opens `path` for reading at most `limit` bytes: a regular file (symbolic links followed),
/// opened without blocking so a FIFO cannot hang the caller; anything else is
/// [`ReadError::NotRegular`]. `what` names the kind of file in a too-large error.
pub fn open(path: &Path, limit: u64, what: &'static str) -> Result<BoundedFile, ReadError> {
    let io = |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    #[cfg(not(unix))]
    {
        // No non-blocking open here: refuse what is visibly not a file before opening it.
        let metadata = std::fs::metadata(path).map_err(io)?;
        if !metadata.is_file() {
            return Err(ReadError::NotRegular {
                path: path.to_path_buf(),
                kind: kind_of(metadata.file_type()),
            });
        }
    }
    let file = options.open(path).map_err(io)?;
    // The type of what was opened, not of what the path names now: no check-then-open race.
    let metadata = file.metadata().map_err(io)?;
    if !metadata.is_file() {
        return Err(ReadError::NotRegular {
            path: path.to_path_buf(),
            kind: kind_of(metadata.file_type()),
        });
    }
    Ok(BoundedFile {
        file,
        path: path.to_path_buf(),
        limit,
        read: 0,
        what,
    })
}

/// The bytes of a regular file of at most `limit` bytes (see [`open`]).
pub fn read_bytes(path: &Path, limit: u64, what: &'static str) -> Result<Vec<u8>, ReadError> {
    let mut file = open(path, limit, what)?;
    let mut bytes = Vec::new();
    if let Err(source) = file.read_to_end(&mut bytes) {
        if file.read > file.limit {
            return Err(file.too_large());
        }
        return Err(ReadError::Io {
            path: path.to_path_buf(),
            source,
        });
    }
    Ok(bytes)
}

/// The text of a regular file of at most `limit` bytes; bytes that are not UTF-8 are
/// [`ReadError::NotUtf8`] with the offset of the first bad one.
pub fn read_text(path: &Path, limit: u64, what: &'static str) -> Result<String, ReadError> {
    String::from_utf8(read_bytes(path, limit, what)?).map_err(|error| ReadError::NotUtf8 {
        path: path.to_path_buf(),
        offset: error.utf8_error().valid_up_to(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_of_exactly_the_cap_reads_whole_and_one_byte_more_is_too_large() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("f");
        std::fs::write(&path, [7u8; 100]).expect("write");
        assert_eq!(
            read_bytes(&path, 100, "test file").expect("fits").len(),
            100
        );
        let error = read_bytes(&path, 99, "test file").expect_err("one byte too many");
        assert!(
            matches!(error, ReadError::TooLarge { limit: 99, .. }),
            "{error}"
        );
        assert!(error.to_string().contains("more than any test file can be"));
    }

    #[cfg(unix)]
    #[test]
    fn dev_zero_is_refused_as_a_device_without_reading_it() {
        let error = read_bytes(Path::new("/dev/zero"), 1 << 30, "model").expect_err("device");
        assert!(
            matches!(
                error,
                ReadError::NotRegular {
                    kind: "character device",
                    ..
                }
            ),
            "{error}"
        );
        assert_eq!(
            error.to_string(),
            "/dev/zero: is a character device, not a regular file"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_at_once_instead_of_waiting_for_a_writer() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("x.rs");
        let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).expect("path");
        // SAFETY: a valid NUL-terminated path; mkfifo only creates a file system entry.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let error = read_text(&path, 1024, "Rust source").expect_err("FIFO");
        assert!(
            matches!(error, ReadError::NotRegular { kind: "FIFO", .. }),
            "{error}"
        );
    }

    #[test]
    fn a_directory_is_not_a_regular_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let error = read_bytes(dir.path(), 1024, "model").expect_err("directory");
        assert!(
            matches!(
                error,
                ReadError::NotRegular {
                    kind: "directory",
                    ..
                }
            ),
            "{error}"
        );
    }

    #[test]
    fn bytes_that_are_not_utf8_name_their_offset() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("latin1.rs");
        std::fs::write(&path, b"fn main() {} // caf\xe9").expect("write");
        let error = read_text(&path, 1024, "Rust source").expect_err("not UTF-8");
        assert!(
            matches!(error, ReadError::NotUtf8 { offset: 19, .. }),
            "{error}"
        );
    }

    #[test]
    fn a_streamed_read_fails_past_the_cap_saying_what_the_cap_is() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("zoo.jsonl");
        std::fs::write(&path, vec![b'x'; 5000]).expect("write");
        let mut file = open(&path, 4096, "zoo file").expect("opens");
        let mut sink = Vec::new();
        let error = file.read_to_end(&mut sink).expect_err("past the cap");
        assert_eq!(
            error.to_string(),
            "larger than 4096 bytes, more than any zoo file can be"
        );
        assert!(sink.len() <= 4097);
    }

    #[test]
    fn a_missing_file_is_an_io_error_naming_it() {
        let error = read_bytes(Path::new("/no/such/file.onnx"), 10, "model").expect_err("missing");
        assert!(
            error.to_string().starts_with("/no/such/file.onnx: "),
            "{error}"
        );
    }
}

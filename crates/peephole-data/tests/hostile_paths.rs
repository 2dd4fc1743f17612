//! Dataset files given by path go through the bounded reader: a device or a FIFO is a typed
//! error naming the path at once, never an endless read or a hang.

#![cfg(unix)]

use std::path::Path;

use peephole_data::{read_cifar10_batch, read_idx};

#[test]
fn dev_zero_as_an_idx_file_is_refused_without_reading_it() {
    let error = read_idx(Path::new("/dev/zero")).expect_err("a device");
    assert_eq!(
        error.to_string(),
        "cannot read /dev/zero: is a character device, not a regular file"
    );
}

#[test]
fn dev_zero_as_a_cifar_batch_is_refused_without_reading_it() {
    let error = read_cifar10_batch(Path::new("/dev/zero")).expect_err("a device");
    assert_eq!(
        error.to_string(),
        "cannot read /dev/zero: is a character device, not a regular file"
    );
}

#[test]
fn a_fifo_as_an_idx_file_is_refused_instead_of_waiting_for_a_writer() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("train-images-idx3-ubyte.gz");
    let status = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
    let error = read_idx(&path).expect_err("a FIFO");
    assert!(
        error.to_string().ends_with("is a FIFO, not a regular file"),
        "{error}"
    );
}
